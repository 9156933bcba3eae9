"""Housing service part: estates' delivery dates (交房) and the monthly transition fees (过渡费)
they drive, fed into the agreements' payment schedules.

Transition fees come from the policy's ``transition`` block (:mod:`anju.policy.transition`), under
the policy version frozen in the household's swap agreement, evaluated at the snapshot's date.
Which delivery counts for a household: the estates of the flats it holds; before it has chosen,
the estates of its project (it waits for all of them). The latest planned date of those estates
applies, and the flat is delivered when all of them are (the latest actual date).

Feeding the schedule (:func:`schedule_transition_fees`): the fees due by ``as_of`` (months begun,
or whole months, as the policy says) are compared with what the agreement's live ``transition``
instalments already hold; the difference is added as one instalment, due on ``as_of``. Overdue
months enter it month by month like the others (at the block's ``late_monthly`` or multiplier); a
block whose ``when`` does not hold schedules nothing. Run every
hour by each server worker and by ``anju housing transition-fees``, a month is thus scheduled on
the day it begins (paid month by month, in advance under ``months: started``). Idempotent: a
second run on the same day finds nothing to add. When delivery dates change (fewer late months,
an earlier delivery), untouched transition instalments are cancelled, newest first, until the
schedule no longer exceeds what is due; money already paid is never taken back (the excess is
reported). Each household is locked through its agreement row, so two runs never add the same
months twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.audit import service as audit_service
from anju.compensation import service as compensation_service
from anju.core.actor import Actor
from anju.core.money import format_yuan
from anju.db.session import begin_write
from anju.db.versions import bump_version
from anju.errors import Conflict, NotFound
from anju.household import service as household_service
from anju.housing.models import Estate, Flat, Selection, SelectionEvent
from anju.housing.service.flat_facts import chosen_flat_facts
from anju.housing.service.stock import get_estate
from anju.identity import service as identity_service
from anju.policy import transition as transition_engine
from anju.policy.errors import EvaluationError

__all__ = [
    "HouseholdEvents",
    "HouseholdTransition",
    "TransitionRun",
    "household_events",
    "household_transition",
    "record_handover",
    "schedule_transition_fees",
    "transition_projects",
    "update_estate_delivery",
]

EVERYTHING = identity_service.DataScope.everything()
KIND = "transition"
LIVE_AGREEMENT = frozenset({"pending", "effective"})
EARLIEST = date(2000, 1, 1)


@dataclass(slots=True)
class HouseholdTransition:
    """A household's transition fees by a date: the delivery that applies, the engine's months (or
    why they cannot be computed) and the agreement's transition instalments."""

    household_id: int
    agreement: Any  # the live swap agreement (anju.agreement's row, read through its service)
    estates: list[Estate]
    planned_delivery_on: date | None = None
    actual_delivery_on: date | None = None
    fees: transition_engine.TransitionFees | None = None
    error: str = ""
    instalments: list[Any] = field(default_factory=list)  # the agreement's transition instalments

    @property
    def scheduled_fen(self) -> int:
        """What the live transition instalments hold."""
        return sum(i.amount_fen for i in self.instalments if i.status != "cancelled")


@dataclass(slots=True)
class TransitionRun:
    """What one scheduling run did: households looked at, instalments added and cancelled, households
    whose fees could not be computed (id -> reason) and households paid beyond what is due (id -> fen)."""

    households: int = 0
    added: list[Any] = field(default_factory=list)  # instalments
    cancelled: list[Any] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)
    overpaid: dict[int, int] = field(default_factory=dict)

    @property
    def added_fen(self) -> int:
        """The sum of the instalments added."""
        return sum(i.amount_fen for i in self.added)


# --------------------------------------------------------------------------- delivery dates


def update_estate_delivery(
    session: Session,
    *,
    actor: Actor,
    estate_id: int,
    expected_version: int,
    changes: dict[str, date | None],
    today: date,
) -> tuple[Estate, TransitionRun]:
    """Change an estate's planned and/or actual delivery date (``changes`` holds
    ``planned_delivery_on`` / ``actual_delivery_on``; ``None`` clears one). A stale
    ``expected_version`` is a 409 ``stale_version`` naming who changed the estate; an actual
    delivery after ``today`` or a date before 2000 is a 409 ``delivery_date``. Audited; then the transition fees of
    the households waiting for this estate are recomputed as of ``today``."""
    bad = [k for k in changes if k not in ("planned_delivery_on", "actual_delivery_on")]
    if bad:
        raise ValueError(f"unknown fields {bad}")
    begin_write(session)
    estate = session.scalars(
        select(Estate)
        .where(Estate.id == estate_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if estate is None:
        get_estate(session, estate_id=estate_id)  # the 404
        raise AssertionError("unreachable")
    if estate.version != expected_version:
        raise identity_service.stale_version(
            session,
            what=f"安置小区“{estate.name}”",
            current=estate.version,
            entity="estate",
            entity_id=estate.id,
        )
    problems = []
    for key, label in (("planned_delivery_on", "计划交房日期"), ("actual_delivery_on", "实际交房日期")):
        v = changes.get(key)
        if v is not None and v < EARLIEST:
            problems.append({"field": key, "message": f"{label}不能早于 {EARLIEST.isoformat()}"})
    actual = changes.get("actual_delivery_on")
    if actual is not None and actual > today:
        problems.append(
            {"field": "actual_delivery_on", "message": f"实际交房日期不能晚于今天（{today.isoformat()}）"}
        )
    if problems:
        # 409 like the other dates of a timeline (e.g. a vacating date in the future)
        raise Conflict(
            "；".join(p["message"] for p in problems),
            "invalid delivery dates",
            code="delivery_date",
            details=problems,
        )
    diff: dict[str, list[object]] = {}
    for key, value in changes.items():
        before = getattr(estate, key)
        if before != value:
            diff[key] = [before.isoformat() if before else None, value.isoformat() if value else None]
            setattr(estate, key, value)
    run = TransitionRun()
    if not diff:
        return estate, run
    bump_version(session, estate)
    audit_service.record(
        session,
        actor=actor,
        action="delivery",
        entity="estate",
        entity_id=estate.id,
        changes=diff,
        project_id=estate.project_id,
    )
    run = schedule_transition_fees(session, actor=actor, as_of=today, project_id=estate.project_id)
    return estate, run


# --------------------------------------------------------------------------- handover, event dates


@dataclass(frozen=True, slots=True)
class HouseholdEvents:
    """A household's resettlement dates for the policy facts: the planned and actual delivery of the
    estates of the flats it chose (the latest of them; ``None`` while any estate lacks one) and its
    move-back (the latest handover, once every flat it holds is handed over)."""

    delivery_planned_on: date | None
    delivery_actual_on: date | None
    move_back_on: date | None


def household_events(
    session: Session, *, project_id: int, household_ids: list[int] | None = None
) -> dict[int, HouseholdEvents]:
    """:class:`HouseholdEvents` of the households of ``project_id`` (or only ``household_ids``) that
    hold a chosen flat (confirmed selections); households without one are left out (unknown dates)."""
    q = (
        select(
            Selection.household_id,
            Estate.planned_delivery_on,
            Estate.actual_delivery_on,
            Selection.handed_over_on,
        )
        .join(Flat, Flat.id == Selection.flat_id)
        .join(Estate, Estate.id == Flat.estate_id)
        .join(SelectionEvent, SelectionEvent.id == Selection.event_id)
        .where(SelectionEvent.project_id == project_id, Selection.status == "confirmed")
    )
    if household_ids is not None:
        if not household_ids:
            return {}
        q = q.where(Selection.household_id.in_(household_ids))
    rows: dict[int, list[tuple[date | None, date | None, date | None]]] = {}
    for hid, planned, actual, handed in session.execute(q):
        rows.setdefault(int(hid), []).append((planned, actual, handed))

    def latest(values: list[date | None]) -> date | None:
        return None if any(v is None for v in values) else max(v for v in values if v is not None)

    return {
        hid: HouseholdEvents(
            latest([r[0] for r in rs]), latest([r[1] for r in rs]), latest([r[2] for r in rs])
        )
        for hid, rs in rows.items()
    }


def record_handover(
    session: Session, *, actor: Actor, selection_id: int, handed_over_on: date | None, today: date
) -> Selection:
    """Record (or clear, with ``None``) the day the keys of a chosen flat were handed over (交钥匙):
    the household's move-back date once all its flats are handed over. Audited. 404 for an unknown
    selection; 409 ``handover_date`` for an undone selection, a date after ``today``, or a date
    before the estate's actual delivery (or an estate not delivered yet)."""
    begin_write(session)
    sel = session.scalars(
        select(Selection)
        .where(Selection.id == selection_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if sel is None:
        raise NotFound("没有这条选房记录", "no such selection")
    flat = session.get(Flat, sel.flat_id)
    estate = session.get(Estate, flat.estate_id) if flat is not None else None
    # keys are handed over to a household that has signed: never before its signing date
    signed_on = household_service.get_household(
        session, scope=EVERYTHING, household_id=sel.household_id
    ).sign_on
    problem = problem_en = ""
    if sel.status != "confirmed":
        problem = "选房已撤销，不能登记交钥匙"
        problem_en = "the selection was undone: no key handover can be recorded"
    elif handed_over_on is not None and handed_over_on > today:
        problem = f"交钥匙日期不能晚于今天（{today.isoformat()}）"
        problem_en = f"the key handover date cannot be after today ({today.isoformat()})"
    elif handed_over_on is not None and (estate is None or estate.actual_delivery_on is None):
        problem = "安置小区尚未交房，不能登记交钥匙"
        problem_en = "the estate has not been delivered yet: no key handover can be recorded"
    elif (
        handed_over_on is not None
        and estate is not None
        and estate.actual_delivery_on is not None
        and handed_over_on < estate.actual_delivery_on
    ):
        problem = f"交钥匙日期不能早于小区实际交房日期（{estate.actual_delivery_on.isoformat()}）"
        problem_en = f"the key handover date cannot be before the estate's actual delivery ({estate.actual_delivery_on.isoformat()})"
    elif handed_over_on is not None and signed_on is not None and handed_over_on < signed_on:
        problem = f"交钥匙日期不能早于该户签约日期（{signed_on.isoformat()}）"
        problem_en = f"the key handover date cannot be before the household signed ({signed_on.isoformat()})"
    if problem:
        raise Conflict(
            problem,
            problem_en,
            code="handover_date",
            details=[{"field": "handed_over_on", "message": problem}],
        )
    before = sel.handed_over_on
    if before == handed_over_on:
        return sel
    sel.handed_over_on = handed_over_on
    event = session.get(SelectionEvent, sel.event_id)
    audit_service.record(
        session,
        actor=actor,
        action="handover",
        entity="selection",
        entity_id=sel.id,
        changes={
            "handed_over_on": [
                before.isoformat() if before else None,
                handed_over_on.isoformat() if handed_over_on else None,
            ]
        },
        project_id=event.project_id if event is not None else None,
        household_id=sel.household_id,
    )
    return sel


# --------------------------------------------------------------------------- transition fees


def _held_estates(session: Session, household_ids: list[int]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    if not household_ids:
        return out
    rows = session.execute(
        select(Selection.household_id, Flat.estate_id)
        .join(Flat, Flat.id == Selection.flat_id)
        .where(Selection.household_id.in_(household_ids), Selection.status == "confirmed")
    )
    for hid, eid in rows:
        out.setdefault(int(hid), set()).add(int(eid))
    return out


def _delivery(estates: list[Estate]) -> tuple[date | None, date | None, str]:
    """(planned, actual, error) for a household waiting for ``estates``."""
    if not estates:
        return None, None, "本项目尚无安置小区"
    missing = [e.name for e in estates if e.planned_delivery_on is None]
    if missing:
        return None, None, f"安置小区“{'、'.join(missing)}”未设定计划交房日期"
    planned = max(e.planned_delivery_on for e in estates if e.planned_delivery_on is not None)
    actuals = [e.actual_delivery_on for e in estates]
    actual = None if any(a is None for a in actuals) else max(a for a in actuals if a is not None)
    return planned, actual, ""


def _compute(session: Session, ht: HouseholdTransition, as_of: date) -> None:
    a = ht.agreement
    snap = agreement_service.get_snapshot(session, a)
    pv = compensation_service.get_version(session, a.project_id, snap.policy_version)
    checked = compensation_service.checked_version(pv)
    rules = checked.policy.transition
    # the delivery dates are shown whether or not the policy pays transition fees by the month
    ht.planned_delivery_on, ht.actual_delivery_on, ht.error = _delivery(ht.estates)
    if rules is None or "swap" not in rules.options:
        ht.error = "补偿方案未规定按月支付过渡费"
        return
    if ht.planned_delivery_on is None:
        return
    facts = agreement_service.snapshot_facts(snap)
    start: date | None
    if rules.start == "sign_on":
        start = a.sign_on
    else:
        v = agreement_service.vacate_of_household(session, scope=EVERYTHING, household_id=ht.household_id)
        start = v.vacated_on if v is not None else None
        if start is None:
            ht.error = "尚未腾空验收：过渡费自腾空之日起算"
            return
    try:
        ht.fees = transition_engine.transition_fees(
            checked,
            facts,
            planned_delivery=ht.planned_delivery_on,
            actual_delivery=ht.actual_delivery_on,
            as_of=as_of,
            start_on=start,
            group=agreement_service.snapshot_group(snap),
            option="swap",
            evaluated_on=snap.as_of,
            # the flats it holds now: the frozen facts may predate the selection (flat.rise in due:)
            flats=chosen_flat_facts(session, [ht.household_id]).get(ht.household_id),
        )
    except EvaluationError as exc:
        ht.error = f"无法计算过渡费：{exc.message_zh}"


def household_transition(session: Session, *, household_id: int, as_of: date) -> HouseholdTransition | None:
    """The household's transition fees by ``as_of`` under its live swap agreement (``None`` without
    one); ``error`` says why they cannot be computed (no planned delivery, not vacated, a policy
    without a ``transition`` block ...)."""
    a = agreement_service.agreement_for_household(session, scope=EVERYTHING, household_id=household_id)
    if a is None or a.option != "swap" or a.status not in LIVE_AGREEMENT:
        return None
    held = _held_estates(session, [household_id]).get(household_id)
    if held:
        estates = [get_estate(session, estate_id=e) for e in sorted(held)]
    else:
        estates = list(
            session.scalars(select(Estate).where(Estate.project_id == a.project_id).order_by(Estate.id))
        )
    ht = HouseholdTransition(household_id, a, estates)
    ht.instalments = [i for i in agreement_service.instalments(session, a.id) if i.kind == KIND]
    _compute(session, ht, as_of)
    return ht


def transition_projects(session: Session) -> list[int]:
    """Projects that have estates (whose swap households may be owed transition fees)."""
    return sorted({int(p) for p in session.scalars(select(Estate.project_id).distinct())})


def _months_label(fees: transition_engine.TransitionFees, covered_fen: int) -> tuple[str, bool]:
    """'第a-b月' for the months beyond those ``covered_fen`` pays for, and whether earlier months
    were re-rated (their sum no longer matches what was scheduled)."""
    total = 0
    n = 0
    for m in fees.months:
        if total + m.amount_fen > covered_fen:
            break
        total += m.amount_fen
        n += 1
    first, last = n + 1, len(fees.months)
    if first > last:
        return "调整", True
    span = f"第{first}月" if first == last else f"第{first}-{last}月"
    m1, m2 = fees.months[first - 1], fees.months[last - 1]
    return f"{span}（{m1.first_day.isoformat()}至{m2.last_day.isoformat()}）", total != covered_fen


def schedule_transition_fees(
    session: Session,
    *,
    actor: Actor,
    as_of: date,
    project_id: int,
    household_ids: list[int] | None = None,
) -> TransitionRun:
    """Bring the transition instalments of a project's swap households (or only ``household_ids``)
    up to the fees due by ``as_of``: add the difference as one instalment per household, due on
    ``as_of``; cancel untouched ones, newest first, when more is scheduled than is due. Idempotent.
    Audited through the instalments' own records."""
    begin_write(session)
    run = TransitionRun()
    agreements = [
        a
        for a in agreement_service.list_agreements(session, scope=EVERYTHING, project_id=project_id)
        if a.option == "swap"
        and a.status in LIVE_AGREEMENT
        and (household_ids is None or a.household_id in household_ids)
    ]
    for a in sorted(agreements, key=lambda x: x.id):  # lock order: agreement ids ascending
        if agreement_service.lock_agreement(session, a.id) is None:
            continue
        ht = household_transition(session, household_id=a.household_id, as_of=as_of)
        if ht is None or ht.agreement.id != a.id:
            continue
        run.households += 1
        if ht.fees is None:
            run.skipped[a.household_id] = ht.error
            continue
        due = ht.fees.total_fen
        live = [i for i in ht.instalments if i.status != "cancelled"]
        scheduled = sum(i.amount_fen for i in live)
        if scheduled > due:
            for i in sorted(live, key=lambda x: x.id, reverse=True):
                if scheduled <= due:
                    break
                if i.paid_fen or i.committed_fen:
                    continue
                agreement_service.cancel_instalment(
                    session,
                    actor=actor,
                    instalment=i,
                    reason=f"交房日期变更，过渡费重算（计至 {as_of.isoformat()} 应付 {format_yuan(due)} 元）",
                    what="重算过渡费",
                )
                scheduled -= i.amount_fen
                run.cancelled.append(i)
            if scheduled > due:
                run.overpaid[a.household_id] = scheduled - due
                continue
        if due > scheduled:
            label, adjusted = _months_label(ht.fees, scheduled)
            purpose = f"{ht.fees.label} {label}" + ("（含逾期/交房日期调整）" if adjusted else "")
            run.added.append(
                agreement_service.add_instalment(
                    session,
                    actor=actor,
                    agreement=a,
                    kind=KIND,
                    amount_fen=due - scheduled,
                    purpose=purpose,
                    due_on=as_of,
                    reason=f"过渡费按月计至 {as_of.isoformat()}：{ht.fees.trace[-1] if ht.fees.trace else ''}"[
                        :500
                    ],
                )
            )
    return run
