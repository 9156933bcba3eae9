"""Housing service part: the selection big screen's snapshot (选房大屏).

One read for the wall of the selection hall: the event, the household being served (its name
masked: the screen is public), the next ones, the counts, every flat of the event's estates with
its status (for the coloured grid), what is left per building and per flat type, and the latest
selections. One query per kind of data, whatever the size of the event (2,000 households and
2,000 flats stay one round of a handful of queries); the screen refetches it on every change of
the event's stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.core.masking import mask_name
from anju.errors import DomainError
from anju.household import service as household_service
from anju.housing import rules
from anju.housing.models import (
    Flat,
    FlatType,
    HousingBuilding,
    Selection,
    SelectionEventEstate,
    SelectionOrderEntry,
)
from anju.housing.service.order import event_estates, get_event
from anju.housing.service.selection import household_entitlement

__all__ = [
    "ScreenBuilding",
    "ScreenFlat",
    "ScreenFlatType",
    "ScreenHousehold",
    "ScreenSelection",
    "SelectionScreen",
    "selection_screen",
    "selection_screen_version",
]

#: Entry statuses still to be called, in call order (a skipped household comes again at the end).
_TO_CALL = ("waiting", "skipped")


@dataclass(frozen=True, slots=True)
class ScreenHousehold:
    """A household as the wall shows it: code, masked head name, order position, sign number."""

    household_id: int
    code: str
    name_masked: str
    position: int
    sign_no: int | None
    status: str
    entitled_area: Decimal | None = None
    max_area: Decimal | None = None
    max_flats: int | None = None


@dataclass(frozen=True, slots=True)
class ScreenFlat:
    """One flat of the grid: where it is and its status."""

    id: int
    code: str
    unit: int
    floor: int
    number: str
    flat_type: str
    gross_area: Decimal
    status: str


@dataclass(slots=True)
class ScreenBuilding:
    """A building of one of the event's estates, its flats (by unit, floor top down) and counts."""

    id: int
    estate_id: int
    estate_name: str
    code: str
    floors: int
    units: int
    flats: list[ScreenFlat] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScreenFlatType:
    """A flat type of an estate: flats in all and still available."""

    estate_id: int
    code: str
    name: str
    gross_area: Decimal | None
    total: int
    available: int


@dataclass(frozen=True, slots=True)
class ScreenSelection:
    """A recent selection: which household took which flat, when."""

    household_code: str
    flat_code: str
    building: str
    selected_at: datetime


@dataclass(slots=True)
class SelectionScreen:
    """The big screen's snapshot of a selection event (see the module text)."""

    event_id: int
    project_id: int
    name: str
    status: str
    order_kind: str
    seed: str | None
    seed_source: str
    seed_committed_hash: str | None
    current_position: int | None
    current: ScreenHousehold | None
    upcoming: list[ScreenHousehold]
    entry_counts: dict[str, int]
    flat_counts: dict[str, int]
    buildings: list[ScreenBuilding]
    flat_types: list[ScreenFlatType]
    recent: list[ScreenSelection]
    estates: list[tuple[int, str, str]]  # id, code, name


def _natural(code: str) -> tuple[int, str]:
    m = re.match(r"\d+", code)
    return (int(m.group()) if m else 10**6, code)


def _entry_counts(session: Session, event_id: int) -> dict[str, int]:
    out = dict.fromkeys(rules.ENTRY_STATUSES, 0)
    rows = session.execute(
        select(SelectionOrderEntry.status, func.count())
        .where(SelectionOrderEntry.event_id == event_id)
        .group_by(SelectionOrderEntry.status)
    )
    for status, n in rows:
        out[str(status)] = int(n)
    return out


def selection_screen_version(session: Session, *, event_id: int) -> tuple[object, ...]:
    """A cheap fingerprint of everything the snapshot shows but the household labels: it changes
    with every open, call, finish, skip (the event's version), every selection, undo, freeze or
    import (the flats' count and versions, which only grow) and every new selection. Two queries;
    404 for no such event. The web layer keeps a rendered snapshot per fingerprint, so 20 screens
    refetching after one change cost one snapshot."""
    event = get_event(session, event_id=event_id)
    offered = select(SelectionEventEstate.estate_id).where(SelectionEventEstate.event_id == event_id)
    flats, versions, last = session.execute(
        select(
            func.count(Flat.id),
            func.coalesce(func.sum(Flat.version), 0),
            select(func.max(Selection.id)).where(Selection.event_id == event_id).scalar_subquery(),
        ).where(Flat.estate_id.in_(offered))
    ).one()
    return (event.id, event.version, event.status, event.current_position, int(flats), int(versions), last)


def selection_screen(
    session: Session, *, event_id: int, upcoming: int = 8, recent: int = 10
) -> SelectionScreen:
    """The big screen's snapshot of a selection event (404 for no such event).

    Head names are masked (``张**``): the wall is seen by the whole hall. The current household's
    entitlement is left empty when it cannot be computed (no policy); the screen shows a dash.
    """
    event = get_event(session, event_id=event_id)
    estates = event_estates(session, event_id=event_id)
    estate_ids = [e.id for e in estates]
    names = {e.id: e.name for e in estates}

    # The household being served and the next ones: one query (call order), one for their labels.
    called = list(
        session.scalars(
            select(SelectionOrderEntry)
            .where(
                SelectionOrderEntry.event_id == event_id,
                SelectionOrderEntry.status.in_(("current", *_TO_CALL)),
            )
            .order_by(SelectionOrderEntry.call_order, SelectionOrderEntry.position)
            .limit(upcoming + 1)
        )
    )
    current_entry = next((e for e in called if e.status == "current"), None)
    nexts = [e for e in called if e.status in _TO_CALL][:upcoming]

    # The latest selections (confirmed, of this event) with their flats.
    latest = session.execute(
        select(Selection.household_id, Selection.selected_at, Flat.code, HousingBuilding.code)
        .join(Flat, Flat.id == Selection.flat_id)
        .join(HousingBuilding, HousingBuilding.id == Flat.building_id)
        .where(Selection.event_id == event_id, Selection.status == "confirmed")
        .order_by(Selection.selected_at.desc(), Selection.id.desc())
        .limit(recent)
    ).all()

    wanted = [e.household_id for e in called] + [int(r[0]) for r in latest]
    labels = household_service.household_labels(session, household_ids=wanted) if wanted else {}

    def household(entry: SelectionOrderEntry) -> ScreenHousehold:
        code, head = labels.get(entry.household_id, (f"#{entry.household_id}", ""))
        return ScreenHousehold(
            entry.household_id, code, mask_name(head), entry.position, entry.sign_no, entry.status
        )

    current = household(current_entry) if current_entry else None
    if current is not None and current_entry is not None:
        try:
            ent = household_entitlement(session, household_id=current_entry.household_id)
        except DomainError:
            pass  # no policy or facts: the wall shows a dash, the console says why
        else:
            current = ScreenHousehold(
                current.household_id,
                current.code,
                current.name_masked,
                current.position,
                current.sign_no,
                current.status,
                ent.entitled_area,
                ent.max_area,
                ent.max_flats,
            )

    buildings: dict[int, ScreenBuilding] = {}
    types: dict[int, FlatType] = {}
    flat_counts = rules.counts_by_status([])
    per_type: dict[int | None, list[int]] = {}  # flat type id -> [total, available]
    if estate_ids:
        for hb in session.scalars(select(HousingBuilding).where(HousingBuilding.estate_id.in_(estate_ids))):
            buildings[hb.id] = ScreenBuilding(
                hb.id, hb.estate_id, names.get(hb.estate_id, ""), hb.code, hb.floors, hb.units
            )
        types = {t.id: t for t in session.scalars(select(FlatType).where(FlatType.estate_id.in_(estate_ids)))}
        # Columns only: 2,000 flats as ORM objects would cost more than the rest of the snapshot.
        rows = session.execute(
            select(
                Flat.id,
                Flat.code,
                Flat.building_id,
                Flat.unit,
                Flat.floor,
                Flat.number,
                Flat.flat_type_id,
                Flat.gross_area,
                Flat.status,
            ).where(Flat.estate_id.in_(estate_ids))
        )
        for fid, code, bid, unit, floor, number, tid, area, status in rows:
            t = types.get(tid) if tid is not None else None
            flat = ScreenFlat(
                int(fid),
                str(code),
                int(unit),
                int(floor),
                str(number),
                t.code if t else "",
                area,
                str(status),
            )
            b = buildings.get(int(bid))
            if b is not None:
                b.flats.append(flat)
            flat_counts[flat.status] = flat_counts.get(flat.status, 0) + 1
            tally = per_type.setdefault(tid, [0, 0])
            tally[0] += 1
            tally[1] += flat.status == "available"
    estate_order = {e.id: i for i, e in enumerate(estates)}
    ordered = sorted(buildings.values(), key=lambda b: (estate_order.get(b.estate_id, 0), _natural(b.code)))
    for b in ordered:
        b.flats.sort(key=lambda f: (f.unit, -f.floor, _natural(f.number)))
        b.counts = rules.counts_by_status(f.status for f in b.flats)
    flat_types = sorted(
        (
            ScreenFlatType(t.estate_id, t.code, t.name, t.gross_area, *per_type.get(tid, [0, 0]))
            for tid, t in types.items()
        ),
        key=lambda t: (estate_order.get(t.estate_id, 0), t.code),
    )
    return SelectionScreen(
        event_id=event.id,
        project_id=event.project_id,
        name=event.name,
        status=event.status,
        order_kind=event.order_kind,
        seed=event.seed,
        seed_source=event.seed_source,
        seed_committed_hash=event.seed_committed_hash,
        current_position=event.current_position,
        current=current,
        upcoming=[household(e) for e in nexts],
        entry_counts=_entry_counts(session, event_id),
        flat_counts=flat_counts,
        buildings=ordered,
        flat_types=flat_types,
        recent=[
            ScreenSelection(labels.get(int(hid), (f"#{hid}", ""))[0], str(fc), str(bc), at)
            for hid, at, fc, bc in latest
        ],
        estates=[(e.id, e.code, e.name) for e in estates],
    )
