"""HTML pages of clearance: the vacating acceptance (交验空房 / 腾空验收) and demolition (拆除) forms of a
household, and the project's tenant clearance list (承租企业清退) with quick entry of many at once.

Forms post back and redirect (303) to the same page, which then shows the record; a refused
submission re-renders the form with the message and the refusal's status, keeping what was typed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from anju.agreement import rules
from anju.agreement import service as agreement_service
from anju.core.dates import today_shanghai
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.household import service as household_service
from anju.i18n import N_, msg
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath, parse_id
from anju.web.templating import render

router = APIRouter(include_in_schema=False)
WRITE = requires(Permission.CLEARANCE_WRITE)
READ = requires(Permission.HOUSEHOLD_READ)
# Refusals shown on the form itself (a named record that is gone is a NotFound too).
REFUSALS = (ValidationFailed, Conflict, NotFound)
FILTERS = {"all": N_("全部"), "open": N_("未清退"), "cleared": N_("已清退")}


def _one(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _date(value: str, label: str, field: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        message = (
            msg("{label}应为日期（YYYY-MM-DD）", label=label)
            if value.strip()
            else msg("{label}必填", label=label)
        )
        raise ValidationFailed(
            message, f"invalid {field}", details=[{"field": field, "message": message}]
        ) from None


def _int(value: str, label: str, field: str) -> int:
    value = value.strip() or "0"
    if not value.isascii() or not value.isdigit() or len(value) > 3:
        message = msg("{label}应为 0 至 99 的整数", label=label)
        raise ValidationFailed(message, f"invalid {field}", details=[{"field": field, "message": message}])
    return int(value)


async def _photos(form: FormData) -> list[agreement_service.Photo]:
    """The photos chosen in the form (an empty file input sends one empty part: skipped)."""
    out = []
    for item in form.getlist("photos"):
        if isinstance(item, UploadFile) and (item.filename or item.size):
            content = await item.read()
            if content:
                out.append(
                    # not page text (a file name, a check or the terminal)
                    agreement_service.Photo(item.filename or "现场照片", item.content_type or "", content)
                )
    return out


def _checked(form: FormData, known: dict[str, str]) -> dict[str, Any]:
    return {k: _one(form, f"check_{k}") == "on" for k in known}


def _errors(exc: Exception) -> dict[str, str]:
    out: dict[str, str] = {}
    for d in getattr(exc, "details", None) or []:
        if isinstance(d, dict) and d.get("field"):
            out.setdefault(str(d["field"]), str(d.get("message", "")))
    return out


def _household_context(db: Session, user: CurrentUser, household_id: int) -> dict[str, Any]:
    f = agreement_service.clearance_file(db, scope=user.scope, household_id=household_id)
    h = household_service.get_household(db, scope=user.scope, household_id=household_id)
    return {
        "h": h,
        "f": f,
        "project": project_service.get_project(db, h.project_id),
        "active": "households",
        "today": today_shanghai(),
        "stage_labels": household_service.stage_labels(),
        "STATUSES": rules.STATUSES,
        "INSTALMENT_KINDS": rules.INSTALMENT_KINDS,
        "INSTALMENT_STATUSES": rules.INSTALMENT_STATUSES,
        "VACATE_CHECKLIST": rules.VACATE_CHECKLIST,
        "checklist_of": agreement_service.checklist_of,
        "photo_ids_of": agreement_service.photo_ids_of,
    }


# ---------------------------------------------------------------- vacating and demolition


@dataclass(frozen=True, slots=True)
class _RecordForm:
    """One household record form (vacating or demolition): its URL part, template and blank values;
    ``extra`` adds what only its page shows."""

    slug: str
    template: str
    blank: Callable[[dict[str, Any], CurrentUser], dict[str, Any]]
    extra: Callable[[dict[str, Any]], dict[str, Any]] = lambda ctx: {}


def _vacate_extra(ctx: dict[str, Any]) -> dict[str, Any]:
    v = ctx["f"].vacate
    reward = None
    if v is not None and v.reward_instalment_id:
        reward = next((i for i in ctx["f"].instalments if i.id == v.reward_instalment_id), None)
    return {"reward": reward}


VACATE = _RecordForm(
    "vacate",
    "agreement/vacate_form.html",
    lambda ctx, user: {
        "vacated_on": ctx["today"].isoformat(),
        "keys_handed": "",
        "inspector": user.display_name,
        "note": "",
        "checks": {k: False for k in rules.VACATE_CHECKLIST},
    },
    _vacate_extra,
)
DEMOLITION = _RecordForm(
    "demolition",
    "agreement/demolition_form.html",
    lambda ctx, user: {"demolished_on": ctx["today"].isoformat(), "contractor": "", "note": ""},
)


def _record_page(
    kind: _RecordForm,
    request: Request,
    db: Session,
    user: CurrentUser,
    household_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    message: str = "",
    status_code: int = 200,
) -> Response:
    ctx = _household_context(db, user, household_id)
    ctx.update(
        kind.extra(ctx),
        values=values or kind.blank(ctx, user),
        errors=errors or {},
        message=message,
        saved=request.query_params.get("saved") == "1",
        voided=request.query_params.get("voided") == "1",
    )
    return render(request, kind.template, ctx, status_code=status_code)


def _record_submit(
    kind: _RecordForm,
    request: Request,
    db: Session,
    user: CurrentUser,
    household_id: int,
    values: dict[str, Any],
    write: Callable[[], object],
) -> Response:
    """Run ``write``; a refusal re-renders the form with what was typed and the message."""
    try:
        write()
    except REFUSALS as exc:
        db.rollback()  # nothing of the refused write stays (the middleware would not commit a 4xx anyway)
        return _record_page(
            kind,
            request,
            db,
            user,
            household_id,
            values=values,
            errors=_errors(exc),
            message=exc.message_zh,
            status_code=exc.http_status,
        )
    return RedirectResponse(f"/households/{household_id}/{kind.slug}?saved=1", status_code=303)


async def _record_void(
    kind: _RecordForm,
    request: Request,
    db: Session,
    user: CurrentUser,
    household_id: int,
    void: Callable[..., object],
) -> Response:
    """Void the record with the reason typed; back to the form."""
    form = await request.form()
    try:
        void(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            household_id=household_id,
            reason=_one(form, "reason"),
        )
    except REFUSALS as exc:
        db.rollback()
        return _record_page(
            kind, request, db, user, household_id, message=exc.message_zh, status_code=exc.http_status
        )
    return RedirectResponse(f"/households/{household_id}/{kind.slug}?voided=1", status_code=303)


@router.get("/households/{household_id}/vacate")
def vacate_form(
    household_id: IdPath, request: Request, user: CurrentUser = Depends(WRITE), db: Session = Depends(get_db)
) -> Response:
    """The vacating acceptance of a household: the form (signed households), else the record."""
    return _record_page(VACATE, request, db, user, household_id)


@router.post("/households/{household_id}/vacate")
async def vacate_submit(
    household_id: IdPath, request: Request, user: CurrentUser = Depends(WRITE), db: Session = Depends(get_db)
) -> Response:
    """Accept the vacating; back to the page, which shows the record and the reward."""
    form = await request.form()
    values: dict[str, Any] = {
        "vacated_on": _one(form, "vacated_on"),
        "keys_handed": _one(form, "keys_handed"),
        "inspector": _one(form, "inspector"),
        "note": _one(form, "note"),
        "checks": _checked(form, rules.VACATE_CHECKLIST),
    }
    photos = await _photos(form)
    return _record_submit(
        VACATE,
        request,
        db,
        user,
        household_id,
        values,
        lambda: agreement_service.record_vacating(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            household_id=household_id,
            vacated_on=_date(values["vacated_on"], N_("腾空日期"), "vacated_on"),
            checklist=values["checks"],
            keys_handed=_int(values["keys_handed"], N_("交钥匙数"), "keys_handed"),
            inspector=values["inspector"],
            note=values["note"],
            photos=photos,
        ),
    )


@router.post("/households/{household_id}/vacate/void")
async def vacate_void(
    household_id: IdPath, request: Request, user: CurrentUser = Depends(WRITE), db: Session = Depends(get_db)
) -> Response:
    """Void the vacating acceptance (with the reason); back to the form."""
    return await _record_void(VACATE, request, db, user, household_id, agreement_service.void_vacating)


@router.get("/households/{household_id}/demolition")
def demolition_form(
    household_id: IdPath, request: Request, user: CurrentUser = Depends(WRITE), db: Session = Depends(get_db)
) -> Response:
    """The demolition record of a household: the form (vacated households), else the record."""
    return _record_page(DEMOLITION, request, db, user, household_id)


@router.post("/households/{household_id}/demolition")
async def demolition_submit(
    household_id: IdPath, request: Request, user: CurrentUser = Depends(WRITE), db: Session = Depends(get_db)
) -> Response:
    """Record the demolition; back to the page."""
    form = await request.form()
    values: dict[str, Any] = {
        "demolished_on": _one(form, "demolished_on"),
        "contractor": _one(form, "contractor"),
        "note": _one(form, "note"),
    }
    photos = await _photos(form)
    return _record_submit(
        DEMOLITION,
        request,
        db,
        user,
        household_id,
        values,
        lambda: agreement_service.record_demolition(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            household_id=household_id,
            demolished_on=_date(values["demolished_on"], N_("拆除日期"), "demolished_on"),
            contractor=values["contractor"],
            note=values["note"],
            photos=photos,
        ),
    )


@router.post("/households/{household_id}/demolition/void")
async def demolition_void(
    household_id: IdPath, request: Request, user: CurrentUser = Depends(WRITE), db: Session = Depends(get_db)
) -> Response:
    """Void the demolition record (with the reason); back to the form."""
    return await _record_void(DEMOLITION, request, db, user, household_id, agreement_service.void_demolition)


# ---------------------------------------------------------------- tenants


def _tenants_page(
    request: Request,
    db: Session,
    user: CurrentUser,
    project_id: int,
    *,
    values: dict[str, Any] | None = None,
    selected: set[int] | None = None,
    message: str = "",
    status_code: int = 200,
) -> Response:
    project = project_service.get_project(db, project_id)
    today = today_shanghai()
    lst = agreement_service.tenant_clearances(db, scope=user.scope, project_id=project_id, today=today)
    show = request.query_params.get("show", "open")
    show = show if show in FILTERS else "open"
    q = request.query_params.get("q", "").strip()[:64]
    rows = [
        r
        for r in lst.rows
        if (show == "all" or (show == "cleared") == (r.clearance is not None))
        and (not q or q in r.tenant.name or q in r.tenant.household_code or q in r.tenant.head_name)
    ]
    recent = lst.daily[-14:]
    ctx = {
        "project": project,
        "active": "tenants",
        "lst": lst,
        "rows": rows,
        "show": show,
        "q": q,
        "filters": FILTERS,
        "recent": recent,
        "peak": max((n for _d, n in recent), default=0),
        "today": today,
        "TENANT_CHECKLIST": rules.TENANT_CHECKLIST,
        "checklist_of": agreement_service.checklist_of,
        "values": values
        or {"cleared_on": today.isoformat(), "inspector": user.display_name, "note": "", "checks": {}},
        "selected": selected or set(),
        "message": message,
        "saved": parse_id(request.query_params.get("saved", "")),
        "can_write": user.can(Permission.CLEARANCE_WRITE),
        "kinds": {"person": N_("个人"), "enterprise": N_("企业")},
    }
    return render(request, "agreement/tenants.html", ctx, status_code=status_code)


@router.get("/projects/{project_id}/tenants")
def tenants(
    project_id: IdPath, request: Request, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """The project's tenants (承租人 / 承租企业) in the user's households with their clearance, counts
    (cleared / total, today, per day) and, for case officers, quick entry of many at once."""
    return _tenants_page(request, db, user, project_id)


@router.post("/projects/{project_id}/tenants/clearances")
async def tenants_clear(
    project_id: IdPath, request: Request, user: CurrentUser = Depends(WRITE), db: Session = Depends(get_db)
) -> Response:
    """Quick entry: the ticked tenants cleared on one date with one checklist and inspector."""
    form = await request.form()
    ids = [i for v in form.getlist("tenant_id") if isinstance(v, str) and (i := parse_id(v)) is not None]
    values: dict[str, Any] = {
        "cleared_on": _one(form, "cleared_on"),
        "inspector": _one(form, "inspector"),
        "note": _one(form, "note"),
        "checks": _checked(form, rules.TENANT_CHECKLIST),
    }
    try:
        done = agreement_service.record_tenant_clearances(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            project_id=project_id,
            tenant_ids=ids,
            cleared_on=_date(values["cleared_on"], N_("清退日期"), "cleared_on"),
            checklist=values["checks"],
            inspector=values["inspector"],
            note=values["note"],
        )
    except REFUSALS as exc:
        db.rollback()
        return _tenants_page(
            request,
            db,
            user,
            project_id,
            values=values,
            selected=set(ids),
            message=exc.message_zh,
            status_code=exc.http_status,
        )
    back = _one(form, "back")
    query = back if back.startswith("show=") and len(back) < 200 else "show=open"
    return RedirectResponse(f"/projects/{project_id}/tenants?{query}&saved={len(done)}", status_code=303)


@router.post("/tenants/{tenant_id}/clearance/void")
async def tenant_clearance_void(
    tenant_id: IdPath, request: Request, user: CurrentUser = Depends(WRITE), db: Session = Depends(get_db)
) -> Response:
    """Void a tenant's clearance (with the reason); back to the project's tenant list."""
    form = await request.form()
    _tenant, h = household_service.child_record(db, scope=user.scope, kind="tenant", child_id=tenant_id)
    try:
        agreement_service.void_tenant_clearance(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            tenant_id=tenant_id,
            reason=_one(form, "reason"),
        )
    except REFUSALS as exc:
        db.rollback()
        return _tenants_page(
            request, db, user, h.project_id, message=exc.message_zh, status_code=exc.http_status
        )
    return RedirectResponse(f"/projects/{h.project_id}/tenants?show=cleared", status_code=303)
