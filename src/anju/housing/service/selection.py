"""Housing service part: running a selection event (选房大会): open it, call households in order,
select flats, finish a household, skip an absent one to the end (过号) and undo a selection (a
supervisor, with a reason).

Every selection is checked against the household's entitlement (安置资格): for a household with a
live swap agreement the facts frozen in its agreement rule (the policy version and date it was
signed under), so a later edit of the household file changes nothing on selection day.

Concurrency: a selection locks the household's order entry, then the flat (always in that order;
an undo does the same), so one household's selections are judged one after another and a flat is
judged by one writer at a time. The unique ``selection.flat_lock`` is the last line: a second live
selection of one flat cannot be written on any database, whatever happens above it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.audit import service as audit_service
from anju.compensation import service as compensation_service
from anju.core.actor import Actor
from anju.core.dates import today_shanghai, utcnow
from anju.db import events
from anju.db.session import begin_write
from anju.db.versions import bump_version
from anju.errors import Conflict, DomainError, NotFound, ValidationFailed
from anju.household import service as household_service
from anju.housing import rules
from anju.housing.models import (
    Flat,
    FlatType,
    Selection,
    SelectionEvent,
    SelectionEventEstate,
    SelectionOrderEntry,
)
from anju.housing.service.order import LIVE_AGREEMENT, event_estates, get_event
from anju.housing.service.settlement import settle_household, void_settlement
from anju.housing.service.stock import FlatRow, flat_rows
from anju.identity import service as identity_service
from anju.policy import swap as swap_engine

__all__ = [
    "Console",
    "ConsoleCandidate",
    "DoneHousehold",
    "close_event",
    "finish_household",
    "household_entitlement",
    "household_selections",
    "open_event",
    "select_flat",
    "selection_console",
    "skip_household",
    "undo_selection",
]

EVERYTHING = identity_service.DataScope.everything()
MAX_UNDO_REASON = 500
# Entry statuses a household may select in when the operator explicitly allows it out of turn.
SELECTABLE_OUT_OF_TURN = frozenset({"current", "waiting", "skipped"})


# --------------------------------------------------------------------------- helpers


def _lock_event(session: Session, event_id: int) -> SelectionEvent:
    begin_write(session)
    event = session.scalars(
        select(SelectionEvent)
        .where(SelectionEvent.id == event_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if event is None:
        raise NotFound("选房活动不存在", "selection event not found")
    return event


def _lock_entry(session: Session, event_id: int, household_id: int) -> SelectionOrderEntry:
    entry = session.scalars(
        select(SelectionOrderEntry)
        .where(SelectionOrderEntry.event_id == event_id, SelectionOrderEntry.household_id == household_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if entry is None:
        household_service.get_household(session, scope=EVERYTHING, household_id=household_id)  # 404 if none
        raise Conflict(
            f"户（编号 {household_id}）不在本次选房活动的选房顺序中",
            "the household is not in the event's order",
            code="not_in_order",
            details=[{"field": "household_id", "message": "该户不在本次选房顺序中"}],
        )
    return entry


def _lock_flat(session: Session, flat_id: int) -> Flat:
    flat = session.scalars(
        select(Flat).where(Flat.id == flat_id).with_for_update().execution_options(populate_existing=True)
    ).first()
    if flat is None:
        raise NotFound(
            f"房源（编号 {flat_id}）不存在",
            "flat not found",
            details=[{"field": "flat_id", "message": "房源不存在"}],
        )
    return flat


def _check_open(event: SelectionEvent) -> None:
    if event.status != "open":
        raise Conflict(
            f"选房活动“{event.name}”{rules.EVENT_STATUSES.get(event.status, event.status)}，不能选房",
            "the event is not open",
            code="event_not_open",
        )


def _label(session: Session, household_id: int) -> str:
    code, _head = household_service.household_labels(session, household_ids=[household_id]).get(
        household_id, (f"#{household_id}", "")
    )
    return code


def _live_swap_agreement(session: Session, household_id: int) -> int:
    a = agreement_service.agreement_for_household(session, scope=EVERYTHING, household_id=household_id)
    if a is None or a.option != "swap" or a.status not in LIVE_AGREEMENT:
        raise Conflict(
            f"户 {_label(session, household_id)} 没有有效的产权调换协议，不能选房",
            "the household holds no live swap agreement",
            code="no_swap_agreement",
            details=[{"field": "household_id", "message": "该户没有有效的产权调换协议"}],
        )
    return int(a.id)


def household_entitlement(session: Session, *, household_id: int) -> swap_engine.Entitlement:
    """The household's entitlement (安置资格) for selection: from the facts, policy version and
    date frozen in its live swap agreement when it has one, else from its file under the latest
    policy. Raises :class:`NotFound` (no policy) or ``EntitlementUnavailable`` (409)."""
    a = agreement_service.agreement_for_household(session, scope=EVERYTHING, household_id=household_id)
    if a is None or a.option != "swap":
        return compensation_service.entitlement(
            session, scope=EVERYTHING, household_id=household_id
        ).entitlement
    snap = agreement_service.get_snapshot(session, a)
    pv = compensation_service.get_version(session, a.project_id, snap.policy_version)
    return compensation_service.entitlement_for_facts(
        pv,
        agreement_service.snapshot_facts(snap),
        as_of=snap.as_of,
        group=agreement_service.snapshot_group(snap),
    )


def _engine_flats(session: Session, flats: list[Flat]) -> list[swap_engine.Flat]:
    type_ids = {f.flat_type_id for f in flats if f.flat_type_id is not None}
    types = {
        t.id: (t.code, t.name)
        for t in (session.scalars(select(FlatType).where(FlatType.id.in_(type_ids))) if type_ids else [])
    }
    out = []
    for f in flats:
        code, name = types.get(f.flat_type_id or 0, ("", ""))
        out.append(swap_engine.Flat(f.code, f.gross_area, code, f.market_unit_price_fen, name))
    return out


def _row_flat(r: FlatRow) -> swap_engine.Flat:
    f = r.flat
    return swap_engine.Flat(f.code, f.gross_area, r.flat_type, f.market_unit_price_fen, r.flat_type_name)


def household_selections(
    session: Session, *, household_id: int, event_id: int | None = None, lock: bool = False
) -> list[tuple[Selection, Flat]]:
    """The household's live (confirmed) selections with their flats, in the order made (of one
    event, or of every event: the entitlement covers all the flats a household holds). ``lock``
    reads them with a lock: on MariaDB (repeatable read) only a locking read is sure to see a
    selection committed while this transaction waited for the household's entry."""
    q = (
        select(Selection, Flat)
        .join(Flat, Flat.id == Selection.flat_id)
        .where(Selection.household_id == household_id, Selection.status == "confirmed")
        .order_by(Selection.id)
    )
    if event_id is not None:
        q = q.where(Selection.event_id == event_id)
    if lock:
        q = q.with_for_update().execution_options(populate_existing=True)
    return [(s, f) for s, f in session.execute(q)]


def _refuse_rules(household: str, broken: list[swap_engine.Violation]) -> Conflict:
    first = broken[0]
    return Conflict(
        f"户 {household} 不符合选房规则“{first.label}”：{first.message_zh}",
        f"selection rule {first.rule_id} broken: {first.message_en}",
        code="selection_rule",
        details=[
            {"field": "flat_id", "message": f"{v.label}（{v.rule_id}）：{v.message_zh}"} for v in broken
        ],
    )


def _call_next(session: Session, event: SelectionEvent) -> SelectionOrderEntry | None:
    """Make the next household (lowest call order among waiting and skipped) current."""
    nxt = session.scalars(
        select(SelectionOrderEntry)
        .where(
            SelectionOrderEntry.event_id == event.id, SelectionOrderEntry.status.in_(("waiting", "skipped"))
        )
        .order_by(SelectionOrderEntry.call_order, SelectionOrderEntry.position)
        .limit(1)
        .with_for_update()
    ).first()
    if nxt is None:
        event.current_position = None
        return None
    rules.check_entry_transition(nxt.status, "current")
    bump_version(session, nxt)
    nxt.status = "current"
    event.current_position = nxt.position
    return nxt


def _notify(session: Session, event: SelectionEvent, **data: object) -> None:
    payload = {"event_id": event.id, "current_position": event.current_position, **data}
    events.notify(session, topic=events.project_topic(event.project_id), kind="selection", data=payload)
    # The event's own topic: its big screens follow only this event, not the whole project.
    events.notify(session, topic=events.selection_event_topic(event.id), kind="selection", data=payload)


def _current_entry(session: Session, event: SelectionEvent, household_id: int) -> SelectionOrderEntry:
    entry = _lock_entry(session, event.id, household_id)
    if entry.status != "current":
        raise Conflict(
            f"户 {_label(session, household_id)} 不是正在选房的户（状态：{rules.ENTRY_STATUSES.get(entry.status, entry.status)}）",
            "the household is not the current one",
            code="not_current",
            details=[{"field": "household_id", "message": "该户不是正在选房的户"}],
        )
    return entry


# --------------------------------------------------------------------------- use cases


def open_event(
    session: Session, *, actor: Actor, event_id: int, expected_version: int | None = None
) -> SelectionEvent:
    """Open a selection event (筹备中 -> 进行中) once its order is fixed; the first household in
    call order becomes current. Audited; big screens are told."""
    event = _lock_event(session, event_id)
    if expected_version is not None and event.version != expected_version:
        raise identity_service.stale_version(
            session, what="选房活动", current=event.version, entity="selection_event", entity_id=event.id
        )
    if event.order_fixed_at is None:
        raise Conflict("请先确定选房顺序，再开始选房", "fix the order first", code="order_not_fixed")
    rules.check_event_transition(event.status, "open")
    bump_version(session, event)
    event.status = "open"
    first = _call_next(session, event)
    audit_service.record(
        session,
        actor=actor,
        action="open",
        entity="selection_event",
        entity_id=event.id,
        changes={"status": ["planned", "open"], "current_position": [None, event.current_position]},
        project_id=event.project_id,
        household_id=first.household_id if first else None,
    )
    _notify(session, event, opened=True)
    return event


def select_flat(
    session: Session,
    *,
    actor: Actor,
    event_id: int,
    household_id: int,
    flat_id: int,
    out_of_turn: bool = False,
) -> Selection:
    """Select a flat for a household at an open event (选房确认).

    The household must be the one being served (``out_of_turn`` explicitly allows a waiting or
    skipped one) and hold a live swap agreement; the flat must be one of the event's estates' and
    available; the household's flats chosen so far plus this one must keep the policy's selection
    rules (409 ``selection_rule`` naming the rule). A flat already taken is a 409 ``flat_taken``
    naming it. Audited; big screens are told."""
    begin_write(session)
    event = get_event(session, event_id=event_id)
    _check_open(event)
    entry = _lock_entry(session, event_id, household_id)
    allowed = SELECTABLE_OUT_OF_TURN if out_of_turn else frozenset({"current"})
    label = _label(session, household_id)
    if entry.status not in allowed:
        raise Conflict(
            f"户 {label} 不是正在选房的户（状态：{rules.ENTRY_STATUSES.get(entry.status, entry.status)}）",
            "the household is not the current one",
            code="not_current",
            details=[{"field": "household_id", "message": "该户不是正在选房的户"}],
        )
    agreement_id = _live_swap_agreement(session, household_id)
    flat = _lock_flat(session, flat_id)
    offered = session.scalar(
        select(func.count())
        .select_from(SelectionEventEstate)
        .where(SelectionEventEstate.event_id == event_id, SelectionEventEstate.estate_id == flat.estate_id)
    )
    if not offered:
        raise Conflict(
            f"房源 {flat.code} 不属于本次选房活动的安置小区",
            "the flat is not offered by this event",
            code="flat_not_offered",
            details=[{"field": "flat_id", "message": f"房源 {flat.code} 不在本次选房范围内"}],
        )
    if flat.status != "available":
        raise _taken(flat)
    chosen = [f for _, f in household_selections(session, household_id=household_id, lock=True)]
    ent = household_entitlement(session, household_id=household_id)
    broken = swap_engine.violations(ent, _engine_flats(session, [*chosen, flat]), complete=False)
    if broken:
        raise _refuse_rules(label, broken)
    now = utcnow()
    sel = Selection(
        event_id=event_id,
        household_id=household_id,
        flat_id=flat.id,
        flat_lock=flat.id,
        agreement_id=agreement_id,
        position=entry.position,
        selected_at=now,
        operator_id=actor.user_id,
        status="confirmed",
        undo_reason="",
    )
    try:
        with session.begin_nested():
            session.add(sel)
            session.flush()
    except IntegrityError:
        raise _taken(flat) from None
    rules.check_flat_transition(flat.status, "selected", manual=False)
    bump_version(session, flat)
    flat.status, flat.household_id, flat.selection_id = "selected", household_id, sel.id
    flat.status_reason, flat.status_changed_at = "", now
    audit_service.record(
        session,
        actor=actor,
        action="select",
        entity="selection",
        entity_id=sel.id,
        changes={
            "flat": [None, flat.code],
            "flat_id": [None, flat.id],
            "flat_status": ["available", "selected"],
            "household": [None, label],
            "position": [None, entry.position],
            "out_of_turn": [None, entry.status != "current"],
        },
        project_id=event.project_id,
        household_id=household_id,
    )
    _notify(session, event, selected=flat.id, flat_code=flat.code, household_id=household_id)
    return sel


def _taken(flat: Flat) -> Conflict:
    if flat.status in ("available", "selected", "delivered"):
        msg = f"该房源已被选定：{flat.code}"
    else:
        msg = f"房源 {flat.code} 当前状态为“{rules.FLAT_STATUSES.get(flat.status, flat.status)}”，不可选"
    return Conflict(
        msg,
        f"flat {flat.code} is not available",
        code="flat_taken",
        details=[{"field": "flat_id", "message": msg}],
    )


def finish_household(
    session: Session, *, actor: Actor, event_id: int, household_id: int
) -> SelectionOrderEntry:
    """The current household has chosen all its flats: its whole selection is checked against the
    rules (complete; 409 ``selection_rule`` naming the rule), it is marked done, its flats are
    settled into its agreement's money (:func:`anju.housing.service.settlement.settle_household`;
    409 ``settlement_failed`` when the policy cannot settle them) and the next household in call
    order becomes current."""
    event = _lock_event(session, event_id)
    _check_open(event)
    entry = _current_entry(session, event, household_id)
    label = _label(session, household_id)
    if not household_selections(session, household_id=household_id, event_id=event_id):
        raise Conflict(
            f"户 {label} 尚未选定房源，不能完成选房（未到场请过号）",
            "no flat selected",
            code="nothing_selected",
        )
    chosen = [f for _, f in household_selections(session, household_id=household_id, lock=True)]
    broken = swap_engine.violations(
        household_entitlement(session, household_id=household_id),
        _engine_flats(session, chosen),
        complete=True,
    )
    if broken:
        raise _refuse_rules(label, broken)
    rules.check_entry_transition(entry.status, "done")
    bump_version(session, entry)
    entry.status = "done"
    # 多退少补: the chosen flats settled from the agreement's frozen snapshot into its money.
    settle_household(session, actor=actor, household_id=household_id, on=today_shanghai())
    bump_version(session, event)
    nxt = _call_next(session, event)
    audit_service.record(
        session,
        actor=actor,
        action="finish_selection",
        entity="selection_event",
        entity_id=event.id,
        changes={
            "household": [None, label],
            "flats": [None, [f.code for f in chosen]],
            "current_position": [entry.position, event.current_position],
        },
        project_id=event.project_id,
        household_id=household_id,
    )
    _notify(session, event, finished=household_id, next_household_id=nxt.household_id if nxt else None)
    return entry


def skip_household(
    session: Session, *, actor: Actor, event_id: int, household_id: int
) -> SelectionOrderEntry:
    """Skip the current household (过号): it is called again after the last one (its call order
    becomes the highest plus one) and the next household becomes current. A household that has
    already chosen a flat cannot be skipped (finish it, or undo its selections first)."""
    event = _lock_event(session, event_id)
    _check_open(event)
    entry = _current_entry(session, event, household_id)
    label = _label(session, household_id)
    if household_selections(session, household_id=household_id, event_id=event_id):
        raise Conflict(
            f"户 {label} 已选定房源，不能过号；请完成选房或先撤销其选房",
            "the household has selected flats",
            code="has_selections",
        )
    last = session.scalar(
        select(func.max(SelectionOrderEntry.call_order)).where(SelectionOrderEntry.event_id == event.id)
    )
    before = entry.call_order
    rules.check_entry_transition(entry.status, "skipped")
    bump_version(session, entry)
    entry.status, entry.call_order = "skipped", int(last or 0) + 1
    bump_version(session, event)
    nxt = _call_next(session, event)
    audit_service.record(
        session,
        actor=actor,
        action="skip",
        entity="selection_event",
        entity_id=event.id,
        changes={"household": [None, label], "call_order": [before, entry.call_order]},
        project_id=event.project_id,
        household_id=household_id,
    )
    _notify(session, event, skipped=household_id, next_household_id=nxt.household_id if nxt else None)
    return entry


def undo_selection(session: Session, *, actor: Actor, selection_id: int, reason: str) -> Selection:
    """Undo a confirmed selection (撤销选房), with a reason; the routes let only a supervisor
    (``selection.undo``) call it. The row is kept (undone, who, when, why); the flat becomes
    available again. Audited.

    Re-calling: a household that had finished (done) goes back into the order so that it chooses
    again. It is called **next after the household being served now**: it takes the current
    household's call number (several re-called households follow in order position), so it comes
    before everyone still waiting or skipped; when nobody is being served it becomes current at
    once. A household still being served (or waiting) keeps its place. On a closed event the
    household only goes back to waiting (unserved).

    The household's settlement record is cancelled (409 when money was already paid, committed or
    received against it: nothing changes); it is settled again when the household finishes again."""
    why = (reason or "").strip()
    if not why or len(why) > MAX_UNDO_REASON:
        raise ValidationFailed(
            f"请填写撤销原因（最多 {MAX_UNDO_REASON} 字）",
            "reason required",
            details=[{"field": "reason", "message": "撤销原因不能为空"}],
        )
    begin_write(session)
    sel = session.get(Selection, selection_id)
    if sel is None:
        raise NotFound("选房记录不存在", "selection not found")
    event = _lock_event(session, sel.event_id)
    entry = _lock_entry(session, sel.event_id, sel.household_id)
    current = _current_locked(session, event.id) if entry.status == "done" else None
    flat = _lock_flat(session, sel.flat_id)
    session.refresh(sel, with_for_update=True)
    if sel.status != "confirmed":
        raise Conflict(
            f"该选房记录已于 {_when(sel.undone_at)} 撤销",
            "the selection is already undone",
            code="already_undone",
        )
    # The settlement of the flats held so far is taken back first: refused (nothing changed) once
    # money was paid, committed or received against it.
    void_settlement(session, actor=actor, household_id=sel.household_id, reason=why)
    now = utcnow()
    sel.status, sel.flat_lock, sel.undone_by, sel.undone_at, sel.undo_reason = (
        "undone",
        None,
        actor.user_id,
        now,
        why,
    )
    rules.check_flat_transition(flat.status, "available", manual=False)
    bump_version(session, flat)
    flat.status, flat.household_id, flat.selection_id, flat.status_changed_at = "available", None, None, now
    label = _label(session, sel.household_id)
    recall = _recall(session, event, entry, current)
    audit_service.record(
        session,
        actor=actor,
        action="undo",
        entity="selection",
        entity_id=sel.id,
        changes={
            "status": ["confirmed", "undone"],
            "flat": [flat.code, flat.code],
            "flat_status": ["selected", "available"],
            "household": [label, label],
            **recall,
        },
        reason=why,
        project_id=event.project_id,
        household_id=sel.household_id,
    )
    _notify(session, event, undone=sel.id, flat_code=flat.code, household_id=sel.household_id)
    return sel


def _current_locked(session: Session, event_id: int) -> SelectionOrderEntry | None:
    return session.scalars(
        select(SelectionOrderEntry)
        .where(SelectionOrderEntry.event_id == event_id, SelectionOrderEntry.status == "current")
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def _recall(
    session: Session, event: SelectionEvent, entry: SelectionOrderEntry, current: SelectionOrderEntry | None
) -> dict[str, list[object]]:
    """Put a finished household whose selection was undone back into the order (see
    :func:`undo_selection`); the audit's changes. ``current`` is the household being served,
    locked by the caller before the flat (locks go event, order entries, flat)."""
    if entry.status != "done":
        return {}
    before = (entry.status, entry.call_order, event.current_position)
    rules.check_entry_transition(entry.status, "waiting")
    bump_version(session, entry)
    entry.status = "waiting"
    if event.status == "open":
        if current is not None:
            entry.call_order = current.call_order
        else:
            rules.check_entry_transition(entry.status, "current")
            entry.status = "current"
            bump_version(session, event)
            event.current_position = entry.position
    return {
        "entry_status": [before[0], entry.status],
        "call_order": [before[1], entry.call_order],
        "current_position": [before[2], event.current_position],
    }


def close_event(
    session: Session, *, actor: Actor, event_id: int, reason: str = "", expected_version: int | None = None
) -> SelectionEvent:
    """Close a selection event (结束选房, 进行中 -> 已结束). Allowed when every household is done;
    with households still waiting, skipped, or called without a flat, only with a reason: they
    stay unserved (a called one goes back to waiting). A called household that has chosen flats
    but is not finished blocks it (409 ``current_not_finished``). Audited with the unserved
    households and the reason; big screens are told."""
    event = _lock_event(session, event_id)
    if expected_version is not None and event.version != expected_version:
        raise identity_service.stale_version(
            session, what="选房活动", current=event.version, entity="selection_event", entity_id=event.id
        )
    rules.check_event_transition(event.status, "closed")
    pending = list(
        session.scalars(
            select(SelectionOrderEntry)
            .where(
                SelectionOrderEntry.event_id == event.id,
                SelectionOrderEntry.status.in_(("current", "waiting", "skipped")),
            )
            .order_by(SelectionOrderEntry.id)
            .with_for_update()
        )
    )
    current = next((e for e in pending if e.status == "current"), None)
    has_flats = current is not None and bool(
        household_selections(session, household_id=current.household_id, event_id=event.id, lock=True)
    )
    why = rules.check_close(unserved=len(pending), current_has_flats=has_flats, reason=reason)
    if current is not None:
        rules.check_entry_transition(current.status, "waiting")
        bump_version(session, current)
        current.status = "waiting"
    labels = household_service.household_labels(session, household_ids=[e.household_id for e in pending])
    unserved = [labels.get(e.household_id, (f"#{e.household_id}", ""))[0] for e in pending]
    before = event.current_position
    bump_version(session, event)
    event.status, event.current_position = "closed", None
    audit_service.record(
        session,
        actor=actor,
        action="close",
        entity="selection_event",
        entity_id=event.id,
        changes={
            "status": ["open", "closed"],
            "current_position": [before, None],
            "unserved": [None, sorted(unserved)],
        },
        reason=why,
        project_id=event.project_id,
    )
    _notify(session, event, closed=True, unserved=len(unserved))
    return event


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC" if at else "此前"


# --------------------------------------------------------------------------- the operator console


@dataclass(frozen=True, slots=True)
class ConsoleCandidate:
    """A flat of the event still available, with what choosing it would break (empty: allowed)."""

    row: FlatRow
    broken: list[swap_engine.Violation]


@dataclass(frozen=True, slots=True)
class DoneHousehold:
    """A household that finished choosing: its order entry, code, head name and flat codes."""

    entry: SelectionOrderEntry
    code: str
    name: str
    flats: list[str]


@dataclass(slots=True)
class Console:
    """What the operator sees: the event, the current household (code, name, entitlement or why
    it cannot be computed), its flats so far, the flats it may still choose, the next households."""

    event: SelectionEvent
    current: SelectionOrderEntry | None = None
    current_code: str = ""
    current_name: str = ""
    entitlement: swap_engine.Entitlement | None = None
    entitlement_error: str = ""
    chosen: list[tuple[Selection, Flat]] = field(default_factory=list)
    candidates: list[ConsoleCandidate] = field(default_factory=list)
    upcoming: list[tuple[SelectionOrderEntry, str, str]] = field(default_factory=list)
    finished: list[DoneHousehold] = field(default_factory=list)
    done: int = 0
    total: int = 0
    unserved: int = 0

    @property
    def allowed(self) -> list[ConsoleCandidate]:
        """The flats the current household may still choose."""
        return [c for c in self.candidates if not c.broken]


def selection_console(session: Session, *, event_id: int, upcoming: int = 8) -> Console:
    """The operator console's data for an event (404 for no such event)."""
    event = get_event(session, event_id=event_id)
    entries = list(
        session.scalars(
            select(SelectionOrderEntry)
            .where(SelectionOrderEntry.event_id == event_id)
            .order_by(SelectionOrderEntry.call_order, SelectionOrderEntry.position)
        )
    )
    console = Console(event, total=len(entries), done=sum(1 for e in entries if e.status == "done"))
    pending = [e for e in entries if e.status in ("waiting", "skipped")]
    console.unserved = len(pending)
    waiting = pending[:upcoming]
    current = next((e for e in entries if e.status == "current"), None)
    # Finished households, the latest first (the one just finished is where the operator looks).
    finished = [e for e in entries if e.status == "done"]
    ids = [e.household_id for e in [*waiting, *finished]] + ([current.household_id] if current else [])
    labels = household_service.household_labels(session, household_ids=ids)
    console.upcoming = [(e, *labels.get(e.household_id, ("", ""))) for e in waiting]
    flats: dict[int, list[str]] = {}
    last: dict[int, int] = {}
    for sid, hid, code in session.execute(
        select(Selection.id, Selection.household_id, Flat.code)
        .join(Flat, Flat.id == Selection.flat_id)
        .where(Selection.event_id == event_id, Selection.status == "confirmed")
        .order_by(Selection.id)
    ):
        flats.setdefault(int(hid), []).append(str(code))
        last[int(hid)] = int(sid)
    finished.sort(key=lambda e: -last.get(e.household_id, 0))
    console.finished = [
        DoneHousehold(e, *labels.get(e.household_id, ("", "")), flats.get(e.household_id, []))
        for e in finished
    ]
    if current is None:
        return console
    console.current = current
    console.current_code, console.current_name = labels.get(current.household_id, ("", ""))
    console.chosen = household_selections(session, household_id=current.household_id)
    try:
        console.entitlement = household_entitlement(session, household_id=current.household_id)
    except DomainError as exc:
        console.entitlement_error = exc.message_zh
        return console
    rows = flat_rows(
        session, estate_ids=[e.id for e in event_estates(session, event_id=event_id)], status="available"
    )
    chosen = _engine_flats(session, [f for _, f in console.chosen])
    ent = console.entitlement
    # Per row rather than screen_candidates' by-code map: two estates may use the same flat code.
    console.candidates = [
        ConsoleCandidate(r, swap_engine.violations(ent, [*chosen, _row_flat(r)], complete=False))
        for r in rows
    ]
    return console
