"""Running a selection event through the service on SQLite, PostgreSQL and MariaDB: open it, select
flats checked against the entitlement (a broken rule is refused and named, nothing written), a
taken flat refused, finish (whole selection checked) and skip (过号) move the call, undo only by a
supervisor with a reason (the role is checked by the routes: tests/api), the operator console lists what the household may still choose."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit.models import AuditRecord
from anju.errors import Conflict, ValidationFailed
from anju.housing import service as housing_service
from anju.housing.models import Flat, Selection, SelectionEvent, SelectionOrderEntry
from tests.integration.selection_world import OFFICER, SUPERVISOR, make_event

# One-person households under the rural policy: entitled 60 ㎡, at most 1 flat, 90 ㎡ in all, and
# rule small_household_flat (entitled <= 60 ㎡: every flat at most 75 ㎡).
FLATS = [
    ("1幢", 1, 1, "101", "A", 70, 60),
    ("1幢", 1, 2, "201", "A", 70, 60),
    ("1幢", 1, 3, "301", "B", 88, 75),
    ("1幢", 1, 4, "401", "A", 70, 60),
]


def _entry(db: Session, event_id: int, hid: int) -> SelectionOrderEntry:
    e = db.scalar(
        select(SelectionOrderEntry).where(
            SelectionOrderEntry.event_id == event_id, SelectionOrderEntry.household_id == hid
        )
    )
    assert e is not None
    return e


def _audits(db: Session, action: str) -> int:
    return int(
        db.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action == action)) or 0
    )


def test_open_select_finish_and_the_flat_status_and_audit_agree(db: Session) -> None:
    sw = make_event(db, households=3, flats=FLATS)
    event = db.get(SelectionEvent, sw.event_id)
    assert event is not None and (event.status, event.current_position) == ("open", 1)
    first, second, third = sw.order
    assert _entry(db, sw.event_id, first).status == "current"
    with pytest.raises(Conflict) as exc:  # not its turn
        housing_service.select_flat(
            db, actor=OFFICER, event_id=sw.event_id, household_id=second, flat_id=sw.flats["1-1-101"]
        )
    assert exc.value.code == "not_current"
    sel = housing_service.select_flat(
        db, actor=OFFICER, event_id=sw.event_id, household_id=first, flat_id=sw.flats["1-1-101"]
    )
    flat = db.get(Flat, sw.flats["1-1-101"])
    assert flat is not None
    assert (flat.status, flat.household_id, flat.selection_id) == ("selected", first, sel.id)
    assert (sel.status, sel.flat_lock, sel.position) == ("confirmed", flat.id, 1)
    assert _audits(db, "select") == 1
    housing_service.finish_household(db, actor=OFFICER, event_id=sw.event_id, household_id=first)
    assert [_entry(db, sw.event_id, h).status for h in sw.order] == ["done", "current", "waiting"]
    # The next household cannot take the flat already chosen: 409 naming it, nothing written.
    with pytest.raises(Conflict) as exc:
        housing_service.select_flat(
            db, actor=OFFICER, event_id=sw.event_id, household_id=second, flat_id=sw.flats["1-1-101"]
        )
    assert (exc.value.code, exc.value.message_zh) == ("flat_taken", "该房源已被选定：1-1-101")
    assert db.scalar(select(func.count()).select_from(Selection)) == 1
    assert third in sw.order


def test_a_selection_breaking_an_entitlement_rule_is_refused_with_the_rule_named(db: Session) -> None:
    sw = make_event(db, households=1, flats=FLATS)
    (hid,) = sw.order
    before = _audits(db, "select")
    with pytest.raises(Conflict) as exc:
        housing_service.select_flat(
            db, actor=OFFICER, event_id=sw.event_id, household_id=hid, flat_id=sw.flats["1-1-301"]
        )
    assert exc.value.code == "selection_rule"
    assert exc.value.message_zh == (
        "户 H0001 不符合选房规则“应安置面积60㎡及以下的，所选房源每套不超过75㎡”：1-1-301 的面积超过 75.00㎡（每套房源不超过 75.00㎡）"
    )
    flat = db.get(Flat, sw.flats["1-1-301"])
    assert flat is not None and (flat.status, flat.household_id) == ("available", None)
    assert db.scalar(select(func.count()).select_from(Selection)) == 0
    assert _audits(db, "select") == before
    # One flat is the most a one-person household may choose: the second is refused (max_flats).
    housing_service.select_flat(
        db, actor=OFFICER, event_id=sw.event_id, household_id=hid, flat_id=sw.flats["1-1-101"]
    )
    with pytest.raises(Conflict) as exc:
        housing_service.select_flat(
            db, actor=OFFICER, event_id=sw.event_id, household_id=hid, flat_id=sw.flats["1-1-201"]
        )
    assert exc.value.code == "selection_rule"
    assert exc.value.message_zh == "户 H0001 不符合选房规则“最多可选套数”：最多可选 1 套房源，所选为 2 套"


def test_skip_moves_the_household_behind_the_last_and_calls_the_next(db: Session) -> None:
    sw = make_event(db, households=3, flats=FLATS)
    first, second, third = sw.order
    with pytest.raises(Conflict) as exc:
        housing_service.finish_household(db, actor=OFFICER, event_id=sw.event_id, household_id=first)
    assert exc.value.code == "nothing_selected"
    housing_service.skip_household(db, actor=OFFICER, event_id=sw.event_id, household_id=first)
    e1 = _entry(db, sw.event_id, first)
    assert (e1.status, e1.call_order, e1.position) == ("skipped", 4, 1)
    assert _entry(db, sw.event_id, second).status == "current"
    assert _audits(db, "skip") == 1
    housing_service.skip_household(db, actor=OFFICER, event_id=sw.event_id, household_id=second)
    assert _entry(db, sw.event_id, third).status == "current"
    housing_service.select_flat(
        db, actor=OFFICER, event_id=sw.event_id, household_id=third, flat_id=sw.flats["1-1-201"]
    )
    housing_service.finish_household(db, actor=OFFICER, event_id=sw.event_id, household_id=third)
    # The skipped households are called again, in the order they were skipped.
    assert _entry(db, sw.event_id, first).status == "current"
    event = db.get(SelectionEvent, sw.event_id)
    assert event is not None and event.current_position == 1
    console = housing_service.selection_console(db, event_id=sw.event_id)
    assert console.current is not None and console.current.household_id == first
    assert [c.row.flat.code for c in console.allowed] == ["1-1-101", "1-1-401"]
    assert [(c.row.flat.code, [v.rule_id for v in c.broken]) for c in console.candidates if c.broken] == [
        ("1-1-301", ["small_household_flat"])
    ]
    assert [e.household_id for e, _, _ in console.upcoming] == [second]
    assert (console.done, console.total) == (1, 3)


def test_undo_needs_a_reason_keeps_the_row_and_frees_the_flat(db: Session) -> None:
    sw = make_event(db, households=2, flats=FLATS)
    first = sw.order[0]
    sel = housing_service.select_flat(
        db, actor=OFFICER, event_id=sw.event_id, household_id=first, flat_id=sw.flats["1-1-101"]
    )
    with pytest.raises(ValidationFailed):
        housing_service.undo_selection(db, actor=SUPERVISOR, selection_id=sel.id, reason="  ")
    flat = db.get(Flat, sw.flats["1-1-101"])
    assert flat is not None and flat.status == "selected" and sel.status == "confirmed"
    assert _audits(db, "undo") == 0
    housing_service.undo_selection(db, actor=SUPERVISOR, selection_id=sel.id, reason="户主改选")
    assert (sel.status, sel.flat_lock, sel.undo_reason) == ("undone", None, "户主改选")
    assert (flat.status, flat.household_id, flat.selection_id) == ("available", None, None)
    assert _audits(db, "undo") == 1
    with pytest.raises(Conflict) as exc:
        housing_service.undo_selection(db, actor=SUPERVISOR, selection_id=sel.id, reason="再撤")
    assert exc.value.code == "already_undone"
    # The flat can be chosen again; the undone row is kept.
    again = housing_service.select_flat(
        db, actor=OFFICER, event_id=sw.event_id, household_id=first, flat_id=sw.flats["1-1-101"]
    )
    assert again.id != sel.id
    assert db.scalar(select(func.count()).select_from(Selection)) == 2


def test_a_planned_event_refuses_selections_and_opens_once(db: Session) -> None:
    sw = make_event(db, households=1, flats=FLATS, open_it=False)
    with pytest.raises(Conflict) as exc:
        housing_service.select_flat(
            db, actor=OFFICER, event_id=sw.event_id, household_id=sw.order[0], flat_id=sw.flats["1-1-101"]
        )
    assert exc.value.code == "event_not_open"
    housing_service.open_event(db, actor=OFFICER, event_id=sw.event_id)
    with pytest.raises(Conflict) as exc:
        housing_service.open_event(db, actor=OFFICER, event_id=sw.event_id)
    assert exc.value.code == "illegal_transition"
