"""JSON routes of the key handover (交钥匙) of a chosen flat and of a household's key dates
(关键日期: signing, agreement effective, vacating, delivery of the resettlement flats, move-back)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from anju.core.dates import today_shanghai
from anju.errors import NotFound
from anju.housing import service as housing_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import READ_ERRORS, WRITE_ERRORS, IdPath, error_responses

router = APIRouter(tags=["housing"], responses=error_responses(*READ_ERRORS))

EventKey = Literal[
    "sign_on",
    "agreement_effective_on",
    "vacate_on",
    "delivery_planned_on",
    "delivery_actual_on",
    "move_back_on",
]
Source = Literal["household", "agreement", "estate", "handover"]


class HandoverUpdate(BaseModel):
    """The day the keys of the chosen flat were handed over; null clears it."""

    model_config = ConfigDict(extra="forbid")

    handed_over_on: date | None = Field(
        description="交钥匙日期：不晚于今天、不早于小区实际交房日期；null 为清除"
    )


class HandoverRead(BaseModel):
    """A chosen flat with its estate's delivery dates and its handover."""

    selection_id: int
    household_id: int
    flat_id: int
    flat_code: str
    estate_id: int
    estate_name: str
    planned_delivery_on: date | None
    actual_delivery_on: date | None
    handed_over_on: date | None


class EventDateRead(BaseModel):
    """One key date of a household; ``on`` and ``source`` are null while it is unknown."""

    key: EventKey
    label: str
    on: date | None
    source: Source | None = Field(
        description="household（一户一档）| agreement（协议）| estate（安置房）| handover（交钥匙）"
    )
    source_label: str | None


class EventDatesRead(BaseModel):
    """A household's key dates in the order they happen."""

    household_id: int
    dates: list[EventDateRead]


def handover_read(row: housing_service.HandoverRow) -> HandoverRead:
    """A handover row as the API shows it."""
    return HandoverRead(
        selection_id=row.selection_id,
        household_id=row.household_id,
        flat_id=row.flat_id,
        flat_code=row.flat_code,
        estate_id=row.estate_id,
        estate_name=row.estate_name,
        planned_delivery_on=row.planned_delivery_on,
        actual_delivery_on=row.actual_delivery_on,
        handed_over_on=row.handed_over_on,
    )


@router.post(
    "/selections/{selection_id}/handover",
    response_model=HandoverRead,
    responses=error_responses(*WRITE_ERRORS),
)
def record_handover(
    selection_id: IdPath,
    body: HandoverUpdate,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.HOUSING_MANAGE)),
    db: Session = Depends(get_db),
) -> HandoverRead:
    """Record (or clear) the key handover of a chosen flat (交钥匙): once every flat the household
    holds is handed over, the latest day is its move-back (policy fact ``household.move_back_on``).
    409 ``handover_date`` for an undone selection, a date after today, an estate not delivered yet
    or a date before its actual delivery. Audited."""
    if not housing_service.household_handovers(db, scope=user.scope, selection_id=selection_id):
        raise NotFound("没有这条选房记录", "no such selection")
    housing_service.record_handover(
        db,
        actor=user.actor(client_ip(request)),
        selection_id=selection_id,
        handed_over_on=body.handed_over_on,
        today=today_shanghai(),
    )
    (row,) = housing_service.household_handovers(db, scope=user.scope, selection_id=selection_id)
    return handover_read(row)


@router.get("/households/{household_id}/event-dates", response_model=EventDatesRead)
def get_event_dates(
    household_id: IdPath,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_READ)),
    db: Session = Depends(get_db),
) -> EventDatesRead:
    """The household's key dates: signing and vacating (一户一档), the agreement's effective date
    (协议), the planned and actual delivery of its resettlement flats (安置房: the latest of the
    estates of the flats it holds) and its move-back (交钥匙: the latest handover, once every flat
    is handed over); each null while unknown. The dates the compensation policy reads as facts."""
    dates = housing_service.household_event_dates(db, scope=user.scope, household_id=household_id)
    return EventDatesRead(
        household_id=household_id,
        dates=[
            EventDateRead.model_validate(
                {
                    "key": d.key,
                    "label": d.label,
                    "on": d.on,
                    "source": d.source,
                    "source_label": d.source_label,
                }
            )
            for d in dates
        ],
    )
