"""The operator console of a selection event (选房操作台): the household being served with its
entitlement, the flats it may still choose (screened by the policy's rules) with a confirm button
each, skip (过号) and finish; the households that follow; the finished ones with their
confirmation (选房确认单) to print; closing the event (结束选房). Forms post and come back (303)
with a short confirmation, or show the console again with the Chinese error and its status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju import i18n
from anju.errors import DomainError, ValidationFailed
from anju.housing import rules
from anju.housing import service as housing_service
from anju.housing.selection_api import confirmation_response
from anju.i18n import N_
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath, parse_id
from anju.web.templating import lang_of, render

router = APIRouter(include_in_schema=False)
OPERATE = requires(Permission.SELECTION_OPERATE)

OK_MESSAGES = {
    "opened": N_("选房已开始"),
    "selected": N_("房源已确认"),
    "finished": N_("该户选房完成，已叫下一户"),
    "skipped": N_("已过号，该户排到最后"),
    "closed": N_("选房已结束"),
}


def _context(db: Session, request: Request, event_id: int) -> dict[str, Any]:
    console = housing_service.selection_console(db, event_id=event_id)
    return {
        "project": project_service.get_project(db, console.event.project_id),
        "active": "housing",
        "c": console,
        "e": console.event,
        # Flat codes repeat across estates (1-1-102 in each): the console names the estate.
        "estate_names": {
            x.estate.id: x.estate.name
            for x in housing_service.list_estates(db, project_id=console.event.project_id)
        },
        "event_status": rules.EVENT_STATUSES.get(console.event.status, console.event.status),
        "entry_statuses": rules.ENTRY_STATUSES,
        "message_ok": i18n.t(OK_MESSAGES.get(request.query_params.get("ok", ""), ""), lang_of(request)),
        # The household just finished: its confirmation is offered for printing at once.
        "just_done": parse_id(request.query_params.get("done", "")),
        "message": "",
        "problems": [],
    }


@router.get("/selection-events/{event_id}/console")
def console_page(
    event_id: IdPath, request: Request, user: CurrentUser = Depends(OPERATE), db: Session = Depends(get_db)
) -> Response:
    """The operator console."""
    return render(request, "housing/console.html", _context(db, request, event_id))


def _failed(db: Session, request: Request, event_id: int, exc: DomainError) -> Response:
    db.rollback()
    ctx = _context(db, request, event_id)
    details = exc.details if isinstance(exc.details, list) else []
    problems = [str(d.get("message", "")) for d in details if isinstance(d, dict) and d.get("message")]
    ctx.update(message=exc.message_zh, problems=problems)
    return render(request, "housing/console.html", ctx, status_code=exc.http_status)


def _id(form: Any, name: str, label: str) -> int:
    value = parse_id(str(form.get(name, "")))
    if value is None:
        raise ValidationFailed(
            i18n.t("请选择{label}", label=label),
            f"{name} required",
            details=[{"field": name, "message": i18n.t("未选择{label}", label=label)}],
        )
    return value


@router.post("/selection-events/{event_id}/console")
async def console_action(
    event_id: IdPath, request: Request, user: CurrentUser = Depends(OPERATE), db: Session = Depends(get_db)
) -> Response:
    """One console action (``action`` = open | select | finish | skip | close)."""
    form = await request.form()
    action = str(form.get("action", ""))
    actor = user.actor(client_ip(request))
    hid: int | None = None
    try:
        if action == "open":
            housing_service.open_event(db, actor=actor, event_id=event_id)
            ok = "opened"
        elif action == "select":
            housing_service.select_flat(
                db,
                actor=actor,
                event_id=event_id,
                household_id=_id(form, "household_id", N_("户")),
                flat_id=_id(form, "flat_id", N_("房源")),
            )
            ok = "selected"
        elif action in ("finish", "skip"):
            hid = _id(form, "household_id", N_("户"))
            if action == "finish":
                housing_service.finish_household(db, actor=actor, event_id=event_id, household_id=hid)
                ok = "finished"
            else:
                housing_service.skip_household(db, actor=actor, event_id=event_id, household_id=hid)
                ok = "skipped"
        elif action == "close":
            housing_service.close_event(
                db, actor=actor, event_id=event_id, reason=str(form.get("reason", ""))
            )
            ok = "closed"
        else:
            raise ValidationFailed(
                i18n.t("未知的操作"),
                "unknown action",
                details=[{"field": "action", "message": i18n.t("未知的操作")}],
            )
    except DomainError as exc:
        return _failed(db, request, event_id, exc)
    done = f"&done={hid}" if ok == "finished" else ""
    return RedirectResponse(f"/selection-events/{event_id}/console?ok={ok}{done}", status_code=303)


@router.get("/selection-events/{event_id}/households/{household_id}/confirmation.pdf")
def confirmation_page(
    event_id: IdPath,
    household_id: IdPath,
    user: CurrentUser = Depends(OPERATE),
    db: Session = Depends(get_db),
) -> Response:
    """A finished household's selection confirmation (选房确认单) shown in the browser, to print on
    A4 and sign at the desk."""
    return confirmation_response(db, user, event_id, household_id)
