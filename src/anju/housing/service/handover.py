"""Housing service part: the key handover (交钥匙) of each chosen flat as the household's pages show
it, and a household's key dates (关键日期) in one place: signing and vacating (the household file),
the agreement's effective date (协议), the delivery of the resettlement flats (安置房) and the
move-back (交钥匙回迁). The dates are those the policy reads as facts (``policy.facts.EVENT_DATES``,
filled by ``compensation_service.project_facts``); the handover itself is written by
:func:`anju.housing.service.delivery.record_handover`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.household import service as household_service
from anju.housing.models import Estate, Flat, Selection
from anju.housing.service.delivery import household_events
from anju.identity import service as identity_service

__all__ = [
    "EVENT_DATE_LABELS",
    "EVENT_SOURCES",
    "EventDate",
    "HandoverRow",
    "household_event_dates",
    "household_handovers",
]

# The household's key dates in the order they happen, with the words the office uses.
EVENT_DATE_LABELS: dict[str, str] = {
    "sign_on": "签约",
    "agreement_effective_on": "协议生效",
    "vacate_on": "腾空",
    "delivery_planned_on": "安置房计划交付",
    "delivery_actual_on": "安置房实际交付",
    "move_back_on": "交钥匙回迁",
}
# Where each date comes from.
EVENT_SOURCES: dict[str, str] = {
    "household": "一户一档",
    "agreement": "协议",
    "estate": "安置房",
    "handover": "交钥匙",
}
_SOURCE_OF = {
    "sign_on": "household",
    "agreement_effective_on": "agreement",
    "vacate_on": "household",
    "delivery_planned_on": "estate",
    "delivery_actual_on": "estate",
    "move_back_on": "handover",
}


@dataclass(frozen=True, slots=True)
class EventDate:
    """One key date of a household: ``on`` is ``None`` while unknown (then ``source`` is too)."""

    key: str
    label: str
    on: date | None
    source: str | None
    source_label: str | None


@dataclass(frozen=True, slots=True)
class HandoverRow:
    """A flat the household holds (a confirmed selection) with its estate's delivery and its handover."""

    selection_id: int
    household_id: int
    flat_id: int
    flat_code: str
    estate_id: int
    estate_name: str
    planned_delivery_on: date | None
    actual_delivery_on: date | None
    handed_over_on: date | None


def household_handovers(
    session: Session,
    *,
    scope: identity_service.DataScope,
    household_id: int | None = None,
    selection_id: int | None = None,
) -> list[HandoverRow]:
    """The flats a household holds (or the one of ``selection_id``, confirmed or not) with their
    estates' delivery dates and handovers, in the order chosen. The household must be in
    ``scope`` (404 otherwise)."""
    q = (
        select(Selection, Flat, Estate)
        .join(Flat, Flat.id == Selection.flat_id)
        .join(Estate, Estate.id == Flat.estate_id)
        .order_by(Selection.id)
    )
    if selection_id is not None:
        q = q.where(Selection.id == selection_id)
    if household_id is not None:
        household_service.get_household(session, scope=scope, household_id=household_id)
        q = q.where(Selection.household_id == household_id)
        if selection_id is None:
            q = q.where(Selection.status == "confirmed")
    rows = session.execute(q).all()
    if household_id is None:
        for hid in sorted({int(sel.household_id) for sel, _, _ in rows}):
            household_service.get_household(session, scope=scope, household_id=hid)
    return [
        HandoverRow(
            selection_id=int(sel.id),
            household_id=int(sel.household_id),
            flat_id=int(flat.id),
            flat_code=flat.code,
            estate_id=int(estate.id),
            estate_name=estate.name,
            planned_delivery_on=estate.planned_delivery_on,
            actual_delivery_on=estate.actual_delivery_on,
            handed_over_on=sel.handed_over_on,
        )
        for sel, flat, estate in rows
    ]


def household_event_dates(
    session: Session, *, scope: identity_service.DataScope, household_id: int
) -> list[EventDate]:
    """The household's key dates (404 outside ``scope``), in the order of
    :data:`EVENT_DATE_LABELS`, each with its source; the same dates the policy reads as facts
    (the delivery: the latest of the estates of the flats it holds, known once every one has it;
    the move-back: the latest handover, once every flat it holds is handed over)."""
    h = household_service.get_household(session, scope=scope, household_id=household_id)
    known: dict[str, date | None] = {"sign_on": h.sign_on, "vacate_on": h.vacate_on}
    known["agreement_effective_on"] = agreement_service.effective_dates(
        session, project_id=h.project_id, household_ids=[household_id]
    ).get(household_id)
    ev = household_events(session, project_id=h.project_id, household_ids=[household_id]).get(household_id)
    known["delivery_planned_on"] = ev.delivery_planned_on if ev else None
    known["delivery_actual_on"] = ev.delivery_actual_on if ev else None
    known["move_back_on"] = ev.move_back_on if ev else None
    out = []
    for key, label in EVENT_DATE_LABELS.items():
        on = known[key]
        source = _SOURCE_OF[key] if on is not None else None
        out.append(EventDate(key, label, on, source, EVENT_SOURCES[source] if source else None))
    return out
