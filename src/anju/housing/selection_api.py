"""JSON routes that run a selection event (选房大会): open it, select a flat for the household
being served, finish or skip (过号) a household, undo a selection (a supervisor, with a reason; the
household is called again), close the event, and a finished household's confirmation (选房确认单) PDF.

A flat already taken or a selection breaking an entitlement rule is a 409 whose Chinese message
names the flat or the rule (``flat_taken``, ``selection_rule``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.housing import rules
from anju.housing import schemas as s
from anju.housing import service as housing_service
from anju.housing.api import event_read
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath, error_responses

router = APIRouter(tags=["housing"], responses=error_responses(404, 409))
OPERATE = requires(Permission.SELECTION_OPERATE)
UNDO = requires(Permission.SELECTION_UNDO)


def selection_read(db: Session, sel: Any) -> s.SelectionRead:
    """A selection as the API shows it."""
    return s.SelectionRead(
        id=sel.id,
        event_id=sel.event_id,
        household_id=sel.household_id,
        flat_id=sel.flat_id,
        flat_code=housing_service.get_flat(db, flat_id=sel.flat_id).code,
        agreement_id=sel.agreement_id,
        position=sel.position,
        status=sel.status,
        selected_at=sel.selected_at,
        undone_at=sel.undone_at,
        undo_reason=sel.undo_reason,
    )


def _entry_read(db: Session, entry: Any) -> s.EntryRead:
    event = housing_service.get_event(db, event_id=entry.event_id)
    return s.EntryRead(
        event_id=entry.event_id,
        household_id=entry.household_id,
        position=entry.position,
        call_order=entry.call_order,
        status=entry.status,
        status_label=rules.ENTRY_STATUSES.get(entry.status, entry.status),
        current_position=event.current_position,
    )


@router.post("/selection-events/{event_id}/open", response_model=s.EventRead)
def open_event(
    event_id: IdPath, request: Request, user: CurrentUser = Depends(OPERATE), db: Session = Depends(get_db)
) -> s.EventRead:
    """Open the event (筹备中 -> 进行中) once its order is fixed (409 ``order_not_fixed``); the first
    household in the order is called."""
    housing_service.open_event(db, actor=user.actor(client_ip(request)), event_id=event_id)
    return event_read(housing_service.event_summary(db, event_id=event_id))


@router.post("/selection-events/{event_id}/selections", response_model=s.SelectionRead, status_code=201)
def select_flat(
    event_id: IdPath,
    body: s.SelectionCreate,
    request: Request,
    user: CurrentUser = Depends(OPERATE),
    db: Session = Depends(get_db),
) -> s.SelectionRead:
    """Select a flat for the household being served. 409: ``flat_taken`` (该房源已被选定, naming
    the flat), ``selection_rule`` (naming the broken rule), ``not_current``, ``event_not_open``,
    ``no_swap_agreement``, ``flat_not_offered``."""
    sel = housing_service.select_flat(
        db,
        actor=user.actor(client_ip(request)),
        event_id=event_id,
        household_id=body.household_id,
        flat_id=body.flat_id,
    )
    return selection_read(db, sel)


@router.post("/selection-events/{event_id}/finish", response_model=s.EntryRead)
def finish_household(
    event_id: IdPath,
    body: s.HouseholdCall,
    request: Request,
    user: CurrentUser = Depends(OPERATE),
    db: Session = Depends(get_db),
) -> s.EntryRead:
    """The household being served has chosen: its whole selection is checked (409
    ``selection_rule``) and the next household is called."""
    entry = housing_service.finish_household(
        db, actor=user.actor(client_ip(request)), event_id=event_id, household_id=body.household_id
    )
    return _entry_read(db, entry)


@router.post("/selection-events/{event_id}/skip", response_model=s.EntryRead)
def skip_household(
    event_id: IdPath,
    body: s.HouseholdCall,
    request: Request,
    user: CurrentUser = Depends(OPERATE),
    db: Session = Depends(get_db),
) -> s.EntryRead:
    """Skip the household being served (过号): it is called again after the last one."""
    entry = housing_service.skip_household(
        db, actor=user.actor(client_ip(request)), event_id=event_id, household_id=body.household_id
    )
    return _entry_read(db, entry)


@router.post("/selections/{selection_id}/undo", response_model=s.SelectionRead)
def undo_selection(
    selection_id: IdPath,
    body: s.SelectionUndo,
    request: Request,
    user: CurrentUser = Depends(UNDO),
    db: Session = Depends(get_db),
) -> s.SelectionRead:
    """Undo a confirmed selection (a supervisor, with a reason); the flat is available again
    (409 ``already_undone``)."""
    sel = housing_service.undo_selection(
        db, actor=user.actor(client_ip(request)), selection_id=selection_id, reason=body.reason
    )
    return selection_read(db, sel)


@router.post("/selection-events/{event_id}/close", response_model=s.EventRead)
def close_event(
    event_id: IdPath,
    body: s.EventClose,
    request: Request,
    user: CurrentUser = Depends(OPERATE),
    db: Session = Depends(get_db),
) -> s.EventRead:
    """Close the event (结束选房, 进行中 -> 已结束). With households still waiting or skipped a
    ``reason`` is required (422; they stay unserved); a household being served that has chosen
    flats but is not finished is a 409 ``current_not_finished``; a planned or closed event a 409
    ``illegal_transition``."""
    housing_service.close_event(
        db,
        actor=user.actor(client_ip(request)),
        event_id=event_id,
        reason=body.reason,
        expected_version=body.version,
    )
    return event_read(housing_service.event_summary(db, event_id=event_id))


def confirmation_response(db: Session, user: CurrentUser, event_id: int, household_id: int) -> Response:
    """The household's selection confirmation PDF, inline (for printing); a household outside the
    user's data scope is a 404."""
    content = housing_service.confirmation_pdf(
        db, scope=user.scope, event_id=event_id, household_id=household_id
    )
    name = housing_service.confirmation_file_name(db, event_id=event_id, household_id=household_id)
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}"},
    )


@router.get(
    "/selection-events/{event_id}/households/{household_id}/confirmation.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "选房确认单 PDF"}},
)
def confirmation_pdf(
    event_id: IdPath,
    household_id: IdPath,
    user: CurrentUser = Depends(OPERATE),
    db: Session = Depends(get_db),
) -> Response:
    """The selection confirmation (选房确认单) of a household that finished choosing: event,
    confirmation number, household, order position, entitlement, every chosen flat, total area
    against the entitled one, the time confirmed and the signature lines. 409 ``not_finished``
    for a household still choosing, waiting, skipped or whose selection was undone."""
    return confirmation_response(db, user, event_id, household_id)
