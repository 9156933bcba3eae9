"""Office pages of the five-order loop: the request list (by state, overdue, category, grid; keyset
paging), a grid worker filing on a resident's behalf, and one request with the forms its reader may
use now: the community desk (组织定单: accept, reject, merge, decide postponements), the department
(部门接单 / 党员晒单: take, send back, ask to postpone, publish with photos) and verification on the
resident's behalf (群众验单 at the door or by phone). Every form posts to the same services as the
JSON API; a refused action shows its Chinese message on the request's page."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from anju import i18n
from anju.core.dates import SHANGHAI, utcnow
from anju.errors import DomainError, ValidationFailed
from anju.grid import service as grid_service
from anju.i18n import N_
from anju.identity.rules import Permission, has_permission
from anju.identity.service import CurrentUser
from anju.service_request import rules
from anju.service_request import service as request_service
from anju.service_request.api import request_detail
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import MAX_ID, IdPath, parse_id
from anju.web.templating import render

router = APIRouter(include_in_schema=False)
READ = requires(Permission.GRID_READ)
SUBMIT = requires(Permission.REQUEST_SUBMIT)
PAGE_SIZE = 30
#: The list's tabs: (status or "" for all open, label).
TABS: tuple[tuple[str, str], ...] = (
    ("open", N_("全部在办")),
    ("submitted", N_("待定单")),
    ("dispatched", N_("待接单")),
    ("in_progress", N_("办理中")),
    ("published", N_("待验单")),
    ("closed", N_("已办结")),
    ("rejected", N_("不予受理")),
    ("merged", N_("已合并")),
)
#: What the page says after a form succeeded.
ACTION_LABELS: dict[str, str] = {
    "accept": N_("组织定单"),
    "reject": N_("不予受理"),
    "merge": N_("合并重复"),
    "postpone-decision": N_("延期审批"),
    "take": N_("部门接单"),
    "send-back": N_("退回重派"),
    "postpone": N_("申请延期"),
    "publish": N_("党员晒单"),
    "verify": N_("验单结案"),
    "reopen": N_("重新办理"),
}
#: Which permission each form needs.
ACTION_PERMISSION: dict[str, Permission] = {
    "accept": Permission.REQUEST_ACCEPT,
    "reject": Permission.REQUEST_ACCEPT,
    "merge": Permission.REQUEST_ACCEPT,
    "postpone-decision": Permission.REQUEST_ACCEPT,
    "take": Permission.REQUEST_HANDLE,
    "send-back": Permission.REQUEST_HANDLE,
    "postpone": Permission.REQUEST_HANDLE,
    "publish": Permission.REQUEST_HANDLE,
    "verify": Permission.REQUEST_CONFIRM,
    "reopen": Permission.REQUEST_CONFIRM,
}


def _int(raw: Any, field: str, label: str) -> int:
    value = parse_id(str(raw or ""))
    if value is None:
        raise ValidationFailed(
            i18n.t("{label}须为正整数", label=label),
            f"{field} must be a positive integer",
            details=[{"field": field}],
        )
    return value


def _decimal(raw: Any, field: str, label: str) -> Decimal | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValidationFailed(
            i18n.t("{label}须为数字", label=label), f"{field} must be a number", details=[{"field": field}]
        ) from None


def _day_end(raw: Any) -> datetime:
    """A date typed in the form as 17:30 Beijing time of that day."""
    text = str(raw or "").strip()
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise ValidationFailed(
            i18n.t("请选择新的办结期限（日期）"),
            "new_due_at must be a date",
            details=[{"field": "new_due_at"}],
        ) from None
    return datetime.combine(day, time(17, 30), SHANGHAI)


async def photos_of(form: Any) -> list[request_service.Photo]:
    """The uploaded photos of a multipart form (empty file inputs skipped)."""
    out = []
    for f in form.getlist("photos"):
        if isinstance(f, UploadFile) and f.filename:
            out.append(request_service.Photo(await f.read(), f.filename, f.content_type or ""))
    return out


def _grid_names(db: Session) -> dict[int, str]:
    return {g.id: g.name for g in grid_service.list_grids(db)}


@router.get("/service-requests")
def request_list(
    request: Request,
    tab: str = Query("open", max_length=16),
    category_id: int | None = Query(None, ge=1, le=MAX_ID),
    grid_id: int | None = Query(None, ge=1, le=MAX_ID),
    overdue: str = Query("", max_length=5),
    cursor: str = Query("", max_length=40, pattern=request_service.CURSOR_PATTERN),
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> Response:
    """Requests newest first by tab (state), category, grid and overdue; a department member sees
    only their departments' requests."""
    if tab not in dict(TABS):
        tab = "open"
    flt = request_service.Filters(
        status=tab,
        category_id=category_id,
        grid_id=grid_id,
        overdue=True if overdue == "1" else None,
    )
    page = request_service.list_requests(db, actor=user.actor(), filters=flt, cursor=cursor, limit=PAGE_SIZE)
    items = page.items
    grids = _grid_names(db)
    rows = []
    now = utcnow()
    for r in items:
        cat, dep = request_service.names(db, r)
        rows.append(
            {
                "r": r,
                "category": cat,
                "department": dep,
                "grid": grids.get(r.grid_id or 0, ""),
                "status_label": rules.STATUSES.get(r.status, r.status),
                "late": r.overdue_at is not None
                or (r.due_at is not None and r.due_at < now and r.status in rules.OPEN),
            }
        )
    ctx = {
        "rows": rows,
        "tabs": TABS,
        "tab": tab,
        "categories": request_service.active_categories(db),
        "grids": sorted(grids.items(), key=lambda kv: kv[1]),
        "category_id": category_id,
        "grid_id": grid_id,
        "overdue": overdue,
        "next_cursor": page.next_cursor,
        "counts": request_service.status_counts(db),
        "can_submit": has_permission(user.role, Permission.REQUEST_SUBMIT),
        "active": "requests",
    }
    return render(request, "service_request/list.html", ctx)


def _new_page(
    request: Request, db: Session, values: dict[str, Any], error: str = "", status: int = 200
) -> Response:
    ctx = {
        "values": values,
        "error": error,
        "categories": request_service.active_categories(db),
        "grids": sorted(_grid_names(db).items(), key=lambda kv: kv[1]),
        "action": "/service-requests/new",
        "staff": True,
        "active": "requests",
    }
    return render(request, "service_request/new.html", ctx, status_code=status)


@router.get("/service-requests/new")
def new_request_form(
    request: Request, user: CurrentUser = Depends(SUBMIT), db: Session = Depends(get_db)
) -> Response:
    """居民点单 by a grid worker on a resident's behalf."""
    return _new_page(request, db, {})


async def submit_form(
    request: Request, db: Session, actor: Any, *, address: str = ""
) -> tuple[request_service.Submitted | None, dict[str, Any], DomainError | None]:
    """Read the submit form (fields, map point, photos) and file the request; returns the result
    or the form's values with the refusal."""
    form = await request.form()
    values = {
        k: str(form.get(k, ""))
        for k in (
            "category_id",
            "description",
            "address",
            "lng",
            "lat",
            "reporter_name",
            "reporter_phone",
            "grid_id",
        )
    }
    try:
        grid_id = (
            _int(values["grid_id"], "grid_id", N_("网格"))
            if values["grid_id"] and actor is not None
            else None
        )
        done = request_service.submit(
            db,
            actor=actor,
            category_id=_int(values["category_id"], "category_id", N_("诉求分类")),
            description=values["description"],
            location=request_service.Location(
                lng=_decimal(values["lng"], "lng", N_("经度")),
                lat=_decimal(values["lat"], "lat", N_("纬度")),
                address=values["address"],
                grid_id=grid_id,
            ),
            reporter_name=values["reporter_name"],
            reporter_phone=values["reporter_phone"],
            photos=await photos_of(form),
            client_address=address,
        )
    except DomainError as exc:
        return None, values, exc
    return done, values, None


@router.post("/service-requests/new")
async def new_request(
    request: Request, user: CurrentUser = Depends(SUBMIT), db: Session = Depends(get_db)
) -> Response:
    """File the request; the page shows its code and the resident's follow code (shown once)."""
    done, values, exc = await submit_form(request, db, user.actor(client_ip(request)))
    if exc is not None or done is None:
        return _new_page(request, db, values, exc.message_zh if exc else "", exc.http_status if exc else 422)
    ctx = {
        "code": done.request.code,
        "secret": done.secret,
        "follow": f"/public/requests/{done.request.code}?secret={done.secret}",
        "request_id": done.request.id,
        "staff": True,
        "active": "requests",
    }
    return render(request, "service_request/submitted.html", ctx, status_code=201)


def _detail_page(
    request: Request, user: CurrentUser, db: Session, request_id: int, error: str = "", status: int = 200
) -> Response:
    req = request_service.get(db, actor=user.actor(), request_id=request_id)
    detail = request_detail(db, req, user.role)
    may = {a: has_permission(user.role, p) for a, p in ACTION_PERMISSION.items()}
    st = req.status
    forms = {
        "accept": may["accept"] and st == "submitted",
        "reject": may["reject"] and st == "submitted",
        "merge": may["merge"] and st in ("submitted", "dispatched"),
        "postpone-decision": may["postpone-decision"] and req.postpone_pending,
        "take": may["take"] and st == "dispatched",
        "send-back": may["send-back"] and st in ("dispatched", "in_progress"),
        "postpone": may["postpone"] and st in ("dispatched", "in_progress") and not req.postpone_pending,
        "publish": may["publish"] and st == "in_progress",
        "verify": may["verify"] and st == "published",
        "reopen": may["reopen"] and st == "published",
    }
    ctx = {
        "d": detail,
        "grid": _grid_names(db).get(req.grid_id or 0, ""),
        "forms": forms,
        "orders": rules.ORDERS,
        "order_index": rules.order_index(st),
        "priorities": rules.PRIORITIES,
        "resolutions": {k: v for k, v in rules.RESOLUTIONS.items() if k != "unsolved"},
        "departments": request_service.departments(db),
        "categories": request_service.active_categories(db),
        "error": error,
        "done": request.query_params.get("done", ""),
        "action_labels": ACTION_LABELS,
        "active": "requests",
    }
    return render(request, "service_request/detail.html", ctx, status_code=status)


@router.get("/service-requests/calendar")
def calendar_page(
    request: Request,
    year: int | None = Query(None, ge=1949, le=2100),
    user: CurrentUser = Depends(requires(Permission.REQUEST_ACCEPT)),
    db: Session = Depends(get_db),
) -> Response:
    """The work calendar of a year: holidays and make-up working days the deadlines count, and the form
    that replaces the year's days (CSV lines 日期,类型,名称)."""
    year = year or utcnow().astimezone(SHANGHAI).year
    days = request_service.work_calendar.list_days(db, year=year)
    text = "\n".join(f"{d.day},{request_service.work_calendar.KINDS[d.kind]},{d.name}" for d in days)
    ctx = {
        "year": year,
        "days": days,
        "kinds": request_service.work_calendar.KINDS,
        "text": text,
        "error": "",
        "active": "requests",
    }
    return render(request, "service_request/calendar.html", ctx)


@router.post("/service-requests/calendar")
async def calendar_save(
    request: Request,
    user: CurrentUser = Depends(requires(Permission.REQUEST_ACCEPT)),
    db: Session = Depends(get_db),
) -> Response:
    """Replace one year's calendar (audited); every bad line is named and nothing is written."""
    form = await request.form()
    raw_year = str(form.get("year", "")).strip()
    text = str(form.get("days", ""))
    cal = request_service.work_calendar
    try:
        year = _int(raw_year, "year", N_("年份"))
        cal.set_days(db, actor=user.actor(client_ip(request)), days=cal.parse_days(text), year=year)
    except DomainError as exc:
        db.rollback()
        shown = int(raw_year) if raw_year.isdigit() else utcnow().astimezone(SHANGHAI).year
        ctx = {
            "year": shown,
            "days": cal.list_days(db, year=shown),
            "kinds": cal.KINDS,
            "text": text,
            "error": exc.message_zh,
            "active": "requests",
        }
        return render(request, "service_request/calendar.html", ctx, status_code=exc.http_status)
    return RedirectResponse(f"/service-requests/calendar?year={year}", status_code=303)


@router.get("/service-requests/{request_id}")
def request_page(
    request_id: IdPath, request: Request, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """One request: where it stands in the five orders, its deadlines, photos, history, and the
    forms the reader may use now."""
    return _detail_page(request, user, db, request_id)


async def _act(action: str, request: Request, user: CurrentUser, db: Session, request_id: int) -> None:
    form = await request.form()
    actor = user.actor(client_ip(request))
    version = _int(form.get("version"), "version", N_("版本"))
    reason = str(form.get("reason", ""))
    s = request_service
    if action == "accept":
        dep = str(form.get("department_id", "")).strip()
        cat = str(form.get("category_id", "")).strip()
        s.accept(
            db,
            actor=actor,
            request_id=request_id,
            version=version,
            priority=str(form.get("priority", "routine")),
            department_id=_int(dep, "department_id", N_("承办部门")) if dep else None,
            category_id=_int(cat, "category_id", N_("诉求分类")) if cat else None,
            note=str(form.get("note", "")),
        )
    elif action == "reject":
        s.reject(db, actor=actor, request_id=request_id, version=version, reason=reason)
    elif action == "merge":
        into_id = s.id_of_code(db, code=str(form.get("into_code", "")), field="into_code")
        s.merge(db, actor=actor, request_id=request_id, version=version, into_id=into_id, reason=reason)
    elif action == "postpone-decision":
        s.decide_postpone(
            db,
            actor=actor,
            request_id=request_id,
            version=version,
            approve=form.get("approve") == "1",
            reason=reason,
        )
    elif action == "take":
        s.take(db, actor=actor, request_id=request_id, version=version)
    elif action == "send-back":
        s.send_back(db, actor=actor, request_id=request_id, version=version, reason=reason)
    elif action == "postpone":
        s.request_postpone(
            db,
            actor=actor,
            request_id=request_id,
            version=version,
            new_due_at=_day_end(form.get("new_due_at")),
            reason=reason,
        )
    elif action == "publish":
        s.publish(
            db,
            actor=actor,
            request_id=request_id,
            version=version,
            result=str(form.get("result", "")),
            photos=await photos_of(form),
        )
    elif action == "verify":
        s.verify(
            db,
            actor=actor,
            request_id=request_id,
            version=version,
            rating=_int(form.get("rating"), "rating", N_("评分")),
            resolution=str(form.get("resolution", "solved")),
            comment=str(form.get("comment", "")),
        )
    elif action == "reopen":
        rating = str(form.get("rating", "")).strip()
        s.reopen(
            db,
            actor=actor,
            request_id=request_id,
            version=version,
            reason=reason,
            rating=_int(rating, "rating", N_("评分")) if rating else None,
        )


def _action_route(action: str, permission: Permission) -> None:
    """Register ``POST /service-requests/{id}/<action>``, guarded by the action's own permission."""

    async def handler(
        request_id: IdPath,
        request: Request,
        user: CurrentUser = Depends(requires(permission)),
        db: Session = Depends(get_db),
    ) -> Response:
        try:
            await _act(action, request, user, db, request_id)
        except DomainError as exc:
            # show the page as it was before the refused action (nothing of it is kept: >= 400 rolls back)
            db.rollback()
            return _detail_page(request, user, db, request_id, exc.message_zh, exc.http_status)
        return RedirectResponse(f"/service-requests/{request_id}?done={action}", status_code=303)

    handler.__name__ = "request_" + action.replace("-", "_")
    handler.__doc__ = f"The {action} form of a request's page (see the JSON twin under /api/v1)."
    router.add_api_route(f"/service-requests/{{request_id}}/{action}", handler, methods=["POST"])


for _action, _permission in ACTION_PERMISSION.items():
    _action_route(_action, _permission)
