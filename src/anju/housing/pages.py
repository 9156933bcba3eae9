"""HTML pages of resettlement flats (安置房): a project's estates and selection events (with the
forms that add an estate, import a flat list and plan an event), an estate's flat grid per
building coloured by status (freeze / reserve / release a flat), and a selection event's order
with how anyone can check it (the lottery commitment and the order forms for the case officer).

Every form posts and comes back (303) with a short confirmation, or shows the page again with the
Chinese error (each bad row of a flat list with its row and column) and the error's status.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from anju import i18n
from anju.core.dates import today_shanghai
from anju.errors import DomainError, NotFound, ValidationFailed
from anju.housing import rules
from anju.housing import service as housing_service
from anju.i18n import N_
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath, parse_id
from anju.web.templating import lang_of, render

router = APIRouter(include_in_schema=False)
READ = requires(Permission.PROJECT_READ)
MANAGE = requires(Permission.HOUSING_MANAGE)

OK_MESSAGES = {
    "estate": N_("安置小区已添加，请导入房源表"),
    "imported": N_("房源已导入"),
    "checked": N_("房源表检查通过，可以导入"),
    "status": N_("房源状态已更改"),
    "event": N_("选房活动已创建"),
    "committed": N_("种子承诺已公布，参加户名单已固定"),
    "ordered": N_("选房顺序已确定"),
    "delivery": N_("交房日期已保存，过渡费已按新日期重算"),
    "flat_type": N_("户型已保存"),
    "rise": N_("楼型已保存"),
}


def _ok(request: Request) -> str:
    text = OK_MESSAGES.get(request.query_params.get("ok", ""), "")
    return i18n.t(text, lang_of(request)) if text else ""


def _problems(exc: DomainError) -> list[str]:
    details = exc.details if isinstance(exc.details, list) else []
    return [str(d.get("message", "")) for d in details if isinstance(d, dict) and d.get("message")]


def _version(form: Any) -> int | None:
    value = str(form.get("version", "")).strip()
    return int(value) if value.isascii() and value.isdigit() and 0 < len(value) < 10 else None


def _date(form: Any, field: str, label: str) -> date | None:
    value = str(form.get(field, "")).strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            i18n.t("{label}“{value}”应为 YYYY-MM-DD", label=label, value=value[:20]),
            f"bad {field}",
            details=[{"field": field, "message": i18n.t("{label}格式不正确", label=label)}],
        ) from None


# --------------------------------------------------------------------------- a project's housing


def _housing_context(db: Session, request: Request, project_id: int) -> dict[str, Any]:
    user: CurrentUser = request.state.user
    return {
        "project": project_service.get_project(db, project_id),
        "active": "housing",
        "estates": housing_service.list_estates(db, project_id=project_id),
        "events": housing_service.list_events(db, project_id=project_id),
        "statuses": rules.FLAT_STATUSES,
        "kinds": rules.ORDER_KINDS,
        "can_manage": user.can(Permission.HOUSING_MANAGE),
        "message_ok": _ok(request),
        "message": "",
        "problems": [],
        "form": {},
    }


@router.get("/projects/{project_id}/housing")
def housing_page(
    project_id: IdPath, request: Request, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """The project's estates with flat counts by status, its selection events, and the forms."""
    return render(request, "housing/project.html", _housing_context(db, request, project_id))


def _housing_failed(db: Session, request: Request, project_id: int, exc: DomainError, form: Any) -> Response:
    db.rollback()
    ctx = _housing_context(db, request, project_id)
    ctx.update(message=exc.message_zh, problems=_problems(exc), form=dict(form))
    return render(request, "housing/project.html", ctx, status_code=exc.http_status)


@router.post("/projects/{project_id}/estates")
async def create_estate(
    project_id: IdPath, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """Add an estate (code, name, address, planned delivery date)."""
    form = await request.form()
    try:
        housing_service.create_estate(
            db,
            actor=user.actor(client_ip(request)),
            project_id=project_id,
            code=str(form.get("code", "")),
            name=str(form.get("name", "")),
            address=str(form.get("address", "")),
            planned_delivery_on=_date(form, "planned_delivery_on", N_("计划交房日期")),
        )
    except DomainError as exc:
        return _housing_failed(db, request, project_id, exc, form)
    return RedirectResponse(f"/projects/{project_id}/housing?ok=estate", status_code=303)


@router.post("/projects/{project_id}/selection-events")
async def create_event(
    project_id: IdPath, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """Plan a selection event over the checked estates."""
    form = await request.form()
    try:
        estate_ids = [i for raw in form.getlist("estate_id") if (i := parse_id(str(raw))) is not None]
        event = housing_service.create_event(
            db,
            actor=user.actor(client_ip(request)),
            project_id=project_id,
            name=str(form.get("name", "")),
            order_kind=str(form.get("order_kind", "")),
            estate_ids=estate_ids,
            held_on=_date(form, "held_on", N_("选房日期")),
        )
    except DomainError as exc:
        return _housing_failed(db, request, project_id, exc, form)
    return RedirectResponse(f"/selection-events/{event.id}?ok=event", status_code=303)


# --------------------------------------------------------------------------- an estate


def _estate_context(db: Session, request: Request, estate_id: int) -> dict[str, Any]:
    user: CurrentUser = request.state.user
    view = housing_service.estate_view(db, estate_id=estate_id)
    return {
        "project": project_service.get_project(db, view.estate.project_id),
        "active": "housing",
        "v": view,
        "statuses": rules.FLAT_STATUSES,
        "manual": sorted(rules.MANUAL_FLAT_CHANGES),
        "can_manage": user.can(Permission.HOUSING_MANAGE),
        "rises": housing_service.RISES,
        "rise_of": housing_service.building_rise,
        "message_ok": _ok(request),
        "imported": request.query_params.get("n", ""),
        "message": "",
        "problems": [],
    }


@router.get("/estates/{estate_id}")
def estate_page(
    estate_id: IdPath, request: Request, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """An estate's buildings as flat grids (floors x units) coloured by status, and its flat types."""
    return render(request, "housing/estate.html", _estate_context(db, request, estate_id))


def estate_failed(db: Session, request: Request, estate_id: int, exc: DomainError) -> Response:
    """The estate page again with the refusal's message and problems (nothing of it written)."""
    db.rollback()
    ctx = _estate_context(db, request, estate_id)
    ctx.update(message=exc.message_zh, problems=_problems(exc))
    return render(request, "housing/estate.html", ctx, status_code=exc.http_status)


@router.post("/estates/{estate_id}/flats/import")
async def import_flats(
    estate_id: IdPath, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """Upload the developer's flat list: checked row by row, imported as a whole or not at all
    (``check`` only checks)."""
    form = await request.form()
    upload = form.get("file")
    actor = user.actor(client_ip(request))
    check_only = bool(form.get("check"))
    try:
        if not isinstance(upload, UploadFile):
            raise ValidationFailed(
                i18n.t("请选择房源表文件"),
                "no file",
                details=[{"field": "file", "message": i18n.t("未选择文件")}],
            )
        content = await upload.read()
        filename = upload.filename or "flats.xlsx"

        def work() -> int:
            rows = housing_service.read_flat_sheet(content, filename)
            if check_only:
                checked = housing_service.check_flat_rows(db, estate_id=estate_id, rows=rows)
                if checked.problems:
                    raise ValidationFailed(
                        i18n.t("房源表有 {n} 处问题", n=len(checked.problems)),
                        "problems",
                        details=[
                            {"message": p.message}
                            for p in checked.problems[: housing_service.MAX_LISTED_PROBLEMS]
                        ],
                    )
                return len(checked.flats)
            result = housing_service.import_flats(
                db,
                actor=actor,
                estate_id=estate_id,
                rows=rows,
                file_sha256=housing_service.file_digest(content),
            )
            return result.flats

        n = await run_in_threadpool(work)
    except DomainError as exc:
        return estate_failed(db, request, estate_id, exc)
    return RedirectResponse(
        f"/estates/{estate_id}?ok={'checked' if check_only else 'imported'}&n={n}", status_code=303
    )


@router.post("/flats/{flat_id}/status")
async def change_flat(
    flat_id: IdPath, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """Freeze, reserve or release a flat (with a reason)."""
    form = await request.form()
    flat = housing_service.get_flat(db, flat_id=flat_id)
    try:
        housing_service.change_flat_status(
            db,
            actor=user.actor(client_ip(request)),
            flat_id=flat_id,
            status=str(form.get("status", "")),
            reason=str(form.get("reason", "")),
            expected_version=_version(form),
        )
    except DomainError as exc:
        return estate_failed(db, request, flat.estate_id, exc)
    return RedirectResponse(f"/estates/{flat.estate_id}?ok=status#flat-{flat_id}", status_code=303)


@router.post("/estates/{estate_id}/buildings/{housing_building_id}/rise")
async def change_rise(
    estate_id: IdPath,
    housing_building_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    """Set a building's 楼型 (多层 / 高层; empty: by its floors count), read by ``flat.rise``."""
    form = await request.form()
    housing_service.get_estate(db, estate_id=estate_id)
    try:
        b = housing_service.set_building_rise(
            db,
            actor=user.actor(client_ip(request)),
            building_id=housing_building_id,
            rise=str(form.get("rise", "")),
        )
        if b.estate_id != estate_id:
            raise NotFound(i18n.t("楼栋不存在"), "no such building")
    except DomainError as exc:
        return estate_failed(db, request, estate_id, exc)
    return RedirectResponse(f"/estates/{estate_id}?ok=rise#building-{housing_building_id}", status_code=303)


@router.post("/estates/{estate_id}/delivery")
async def change_delivery(
    estate_id: IdPath, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """Save the estate's planned and actual delivery dates (empty clears one); transition fees are
    recomputed."""
    form = await request.form()
    housing_service.get_estate(db, estate_id=estate_id)
    try:
        changes = {
            "planned_delivery_on": _date(form, "planned_delivery_on", N_("计划交房日期")),
            "actual_delivery_on": _date(form, "actual_delivery_on", N_("实际交房日期")),
        }
        housing_service.update_estate_delivery(
            db,
            actor=user.actor(client_ip(request)),
            estate_id=estate_id,
            expected_version=_version(form) or 0,
            changes=changes,
            today=today_shanghai(),
        )
    except DomainError as exc:
        return estate_failed(db, request, estate_id, exc)
    return RedirectResponse(f"/estates/{estate_id}?ok=delivery#delivery", status_code=303)


# --------------------------------------------------------------------------- a selection event


def _event_context(db: Session, request: Request, event_id: int) -> dict[str, Any]:
    user: CurrentUser = request.state.user
    summary = housing_service.event_summary(db, event_id=event_id)
    view = housing_service.event_order(db, event_id=event_id)
    return {
        "project": project_service.get_project(db, summary.event.project_id),
        "active": "housing",
        "s": summary,
        "e": summary.event,
        "order": view,
        "formula": rules.FORMULA_ZH,
        "sign_order_formula": rules.SIGN_ORDER_ZH,
        "statuses": rules.FLAT_STATUSES,
        "can_manage": user.can(Permission.HOUSING_MANAGE),
        "message_ok": _ok(request),
        "message": "",
        "problems": [],
    }


@router.get("/selection-events/{event_id}")
def event_page(
    event_id: IdPath, request: Request, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """A selection event: its order (or the published roster), the seed and its commitment, and how
    to check the order (the formula, a Python snippet and ``anju housing verify-order``)."""
    return render(request, "housing/event.html", _event_context(db, request, event_id))


def _event_failed(db: Session, request: Request, event_id: int, exc: DomainError) -> Response:
    db.rollback()
    ctx = _event_context(db, request, event_id)
    ctx.update(message=exc.message_zh, problems=_problems(exc))
    return render(request, "housing/event.html", ctx, status_code=exc.http_status)


@router.post("/selection-events/{event_id}/commitment")
async def publish_commitment(
    event_id: IdPath, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """Publish the lottery's seed source and (optional) seed hash; freezes the roster."""
    form = await request.form()
    try:
        housing_service.publish_commitment(
            db,
            actor=user.actor(client_ip(request)),
            event_id=event_id,
            seed_source=str(form.get("seed_source", "")),
            seed_hash=str(form.get("seed_hash", "")).strip() or None,
            expected_version=_version(form),
        )
    except DomainError as exc:
        return _event_failed(db, request, event_id, exc)
    return RedirectResponse(f"/selection-events/{event_id}?ok=committed", status_code=303)


@router.post("/selection-events/{event_id}/order")
async def fix_order(
    event_id: IdPath, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """Fix the order (the lottery with its seed)."""
    form = await request.form()
    try:
        housing_service.fix_order(
            db,
            actor=user.actor(client_ip(request)),
            event_id=event_id,
            seed=str(form.get("seed", "")) or None,
            expected_version=_version(form),
        )
    except DomainError as exc:
        return _event_failed(db, request, event_id, exc)
    return RedirectResponse(f"/selection-events/{event_id}?ok=ordered", status_code=303)
