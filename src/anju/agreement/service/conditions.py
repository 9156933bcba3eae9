"""Conditional agreements (附生效条件): pending agreements decided effective or void.

An agreement signed under a condition (the project's signing terms at the time, copied onto the
agreement) is pending until the condition is decided: met as soon as the households of its area
(the household's block, or the whole project) that signed reach the rate, failed once the deadline
has passed without it (:func:`anju.agreement.rules.condition_met`). "Signed" counts households with
a live (pending or effective) agreement signed on or before the day looked at, and never after the
deadline; cancelled and void agreements do not count.

:func:`evaluate_conditions` decides them: effective (from the day the rate was reached; the
on-signing share and positive adjustments fall due, and what vacating already owes) or void (the
records stay; unpaid instalments cancelled, a waiting change request closed, the household back to
协商中 on the campaign timeline). It is idempotent and locks the pending agreements in id order, so
the CLI (``anju agreement check-conditions``), the API and the hourly check in every server worker
(:mod:`anju.agreement.jobs`) may run it at the same time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.agreement import rules
from anju.agreement.models import Agreement
from anju.agreement.service import schedule
from anju.agreement.service.amendments import close_open_change
from anju.audit import service as audit_service
from anju.campaign import service as campaign_service
from anju.core import text
from anju.core.actor import Actor
from anju.core.dates import today_shanghai, utcnow
from anju.db import events
from anju.errors import Conflict
from anju.household import service as household_service
from anju.identity.service import DataScope
from anju.project import service as project_service

__all__ = [
    "ConditionBoard",
    "ConditionGroup",
    "ConditionProgress",
    "ConditionRun",
    "condition_board",
    "condition_progress",
    "effective_dates",
    "evaluate_conditions",
    "projects_with_pending",
]


@dataclass(frozen=True, slots=True)
class ConditionProgress:
    """How far an agreement's condition is on a day: ``signed`` of ``total`` households of its area,
    ``needed`` of them to meet it; ``decided`` True (met) / False (failed) / None (waiting)."""

    kind: str
    label: str
    rate_bp: int
    block_id: int | None
    area_name: str
    deadline_on: date | None
    signed: int
    total: int
    needed: int
    decided: bool | None
    met_on: date | None  # the day the rate was reached (the needed-th signing), when met


@dataclass(frozen=True, slots=True)
class ConditionRun:
    """What :func:`evaluate_conditions` decided: agreement ids made effective and void, and how many wait."""

    on: date
    effective: list[int]
    void: list[int]
    waiting: int


@dataclass(frozen=True, slots=True)
class ConditionGroup:
    """Pending agreements sharing one condition (kind, area, rate, deadline), for the dashboard."""

    progress: ConditionProgress
    pending: int
    days_left: int | None  # to the deadline (negative once passed), None without one


@dataclass
class ConditionBoard:
    """A project's conditional agreements on a day: the waiting groups and the counts by status."""

    on: date
    groups: list[ConditionGroup] = field(default_factory=list)
    pending: int = 0
    effective: int = 0
    void: int = 0


class _Area:
    """Who signed when, per block and in the whole project (live households, all scopes)."""

    def __init__(self, session: Session, project_id: int) -> None:
        rows = household_service.campaign_facts(session, project_id=project_id)
        self.block_of = {int(r[0]): r[1] for r in rows}
        self.totals: dict[int | None, int] = defaultdict(int)
        for bid in self.block_of.values():
            self.totals[bid] += 1
        # one live agreement per household at most (signing refuses a second one)
        self.signed_on: dict[int, date] = {}
        for hid, on in session.execute(
            select(Agreement.household_id, Agreement.sign_on).where(
                Agreement.project_id == project_id, Agreement.status.in_(rules.LIVE_STATUSES)
            )
        ):
            if int(hid) in self.block_of:
                prev = self.signed_on.get(int(hid))
                self.signed_on[int(hid)] = on if prev is None else min(prev, on)
        self.names = {b.id: b.name for b in project_service.blocks(session, project_id)}

    def progress(
        self, kind: str, *, rate_bp: int, block_id: int | None, deadline_on: date | None, on: date
    ) -> ConditionProgress:
        cutoff = min(on, deadline_on) if deadline_on is not None else on
        if kind == "block_rate":
            members = [h for h, b in self.block_of.items() if b == block_id]
            area = self.names.get(block_id or 0, "所在片区")
        else:
            members = list(self.block_of)
            area = "全项目"
        dates = sorted(d for h in members if (d := self.signed_on.get(h)) is not None and d <= cutoff)
        total = len(members)
        needed_bp = 10000 if kind == "all_signed" else rate_bp
        needed = (needed_bp * total + 9999) // 10000 if total else 0
        decided = rules.condition_met(
            kind, rate_bp=rate_bp, signed=len(dates), total=total, deadline_on=deadline_on, on=on
        )
        met_on = dates[needed - 1] if decided and 0 < needed <= len(dates) else None
        return ConditionProgress(
            kind=kind,
            label=rules.CONDITION_KINDS.get(kind, kind),
            rate_bp=needed_bp,
            block_id=block_id,
            area_name=area,
            deadline_on=deadline_on,
            signed=len(dates),
            total=total,
            needed=needed,
            decided=decided,
            met_on=met_on,
        )


def condition_progress(
    session: Session, *, agreement: Agreement, on: date | None = None
) -> ConditionProgress | None:
    """Where the agreement's condition stands on ``on`` (today), or ``None`` without a condition."""
    if agreement.condition_kind == "none":
        return None
    area = _Area(session, agreement.project_id)
    return area.progress(
        agreement.condition_kind,
        rate_bp=agreement.condition_rate_bp,
        block_id=agreement.condition_block_id,
        deadline_on=agreement.condition_deadline_on,
        on=on or today_shanghai(),
    )


def projects_with_pending(session: Session) -> list[int]:
    """Ids of the projects that have pending (conditional, undecided) agreements."""
    return [
        int(p)
        for p in session.scalars(
            select(Agreement.project_id)
            .where(Agreement.status == "pending")
            .distinct()
            .order_by(Agreement.project_id)
        )
    ]


def evaluate_conditions(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    on: date | None = None,
    today: date | None = None,
    recorded_at: datetime | None = None,
) -> ConditionRun:
    """Decide the project's pending agreements whose condition is decided on ``on`` (today).

    Met: effective from the day the rate was reached (never before its own signing); the on-signing
    share and positive adjustments fall due that day, the after-vacating share and rewards too when
    the household's vacating was accepted already. Failed (deadline passed): void, with the reason;
    unpaid instalments cancelled, a waiting change request closed, the household back to 协商中 when
    it is still 已签约 (with a timeline note). Audited; idempotent. ``on`` after ``today``: 409
    ``check_date`` (a condition is decided by signings that happened).
    """
    project_service.get_project(session, project_id)  # 404 for no such project
    today = today or today_shanghai()
    on = on or today
    if on > today:
        raise Conflict(
            f"检查日期不能晚于今天（{today.isoformat()}）：条件是否成就只能按已发生的签约判断",
            "the check date lies in the future",
            code="check_date",
            details=[{"field": "on", "message": "不能晚于今天"}],
        )
    now = recorded_at or utcnow()
    ids = list(
        session.scalars(
            select(Agreement.id)
            .where(Agreement.project_id == project_id, Agreement.status == "pending")
            .order_by(Agreement.id)
        )
    )
    if not ids:
        return ConditionRun(on, [], [], 0)
    # Lock in id order and read again: a concurrent run may have decided some meanwhile.
    pending = [
        a
        for a in session.scalars(
            select(Agreement)
            .where(Agreement.id.in_(ids))
            .order_by(Agreement.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if a.status == "pending"
    ]
    area = _Area(session, project_id)
    # Every decision is taken on the same counts (a void one does not undo another's rate).
    decisions = [
        (
            a,
            area.progress(
                a.condition_kind,
                rate_bp=a.condition_rate_bp,
                block_id=a.condition_block_id,
                deadline_on=a.condition_deadline_on,
                on=on,
            ),
        )
        for a in pending
    ]
    effective: list[int] = []
    void: list[int] = []
    waiting = 0
    for a, p in decisions:
        if p.decided is None:
            waiting += 1
        elif p.decided:
            _make_effective(session, actor=actor, a=a, p=p, on=on, now=now)
            effective.append(a.id)
        else:
            _make_void(session, actor=actor, a=a, p=p, on=on, now=now)
            void.append(a.id)
    if effective or void:
        events.notify(
            session,
            topic=events.project_topic(project_id),
            kind="agreement",
            data={"effective": len(effective), "void": len(void)},
        )
    return ConditionRun(on, effective, void, waiting)


def _describe(p: ConditionProgress) -> str:
    rate = f"{p.rate_bp / 100:g}%"
    deadline = f"，截止 {p.deadline_on.isoformat()}" if p.deadline_on else ""
    return f"{p.area_name}签约率须达 {rate}{deadline}（已签约 {p.signed}/{p.total} 户，须 {p.needed} 户）"


def _make_effective(
    session: Session, *, actor: Actor, a: Agreement, p: ConditionProgress, on: date, now: datetime
) -> None:
    rules.check_transition(a.status, "effective")
    effective_on = max(a.sign_on, p.met_on or on)
    a.status = "effective"
    a.decided_at = now
    a.effective_on = effective_on
    a.version += 1
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="effective",
        entity="agreement",
        entity_id=a.id,
        changes={"status": ["pending", "effective"], "effective_on": [None, effective_on.isoformat()]},
        reason=f"附生效条件成就：{_describe(p)}"[: text.MAX_REASON],
        project_id=a.project_id,
        household_id=a.household_id,
    )
    schedule.release_instalments(session, actor=actor, agreement=a, on=effective_on)
    for i in schedule.instalments(session, a.id):
        # An amendment approved while the agreement was pending left its extra money scheduled.
        if i.kind == "adjustment" and i.status == "scheduled" and i.amount_fen > 0:
            schedule.make_due(session, actor=actor, instalment=i, due_on=effective_on, reason="协议生效")


def _make_void(
    session: Session, *, actor: Actor, a: Agreement, p: ConditionProgress, on: date, now: datetime
) -> None:
    rules.check_transition(a.status, "void")
    reason = f"附生效条件未成就：{_describe(p)}"[: text.MAX_REASON]
    for i in schedule.lock_instalments(session, [i.id for i in schedule.instalments(session, a.id)]):
        if i.status in ("scheduled", "due") and not (i.paid_fen or i.committed_fen):
            schedule.cancel_instalment(session, actor=actor, instalment=i, reason=reason, what="协议未生效")
    a.status = "void"
    a.decided_at = now
    a.ended_at = now
    a.end_reason = reason
    a.amendment_flag = False
    a.amendment_diff_fen = 0
    a.version += 1
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="void",
        entity="agreement",
        entity_id=a.id,
        changes={"status": ["pending", "void"], "decided_on": [None, on.isoformat()]},
        reason=reason,
        project_id=a.project_id,
        household_id=a.household_id,
    )
    close_open_change(session, actor=actor, a=a, note="协议未生效（附生效条件未成就），申请自动关闭")
    h = household_service.get_household(session, scope=DataScope.everything(), household_id=a.household_id)
    if h.status == "signed":
        campaign_service.revert_stage(
            session,
            actor=actor,
            scope=DataScope.everything(),
            household_id=a.household_id,
            from_stage="signed",
            note=f"协议 {a.agreement_no} 未生效：{reason}"[: text.MAX_REASON],
            recorded_at=now,
        )


def condition_board(session: Session, *, project_id: int, on: date | None = None) -> ConditionBoard:
    """The project's conditional agreements for the dashboard: groups of pending agreements sharing
    a condition, with the area's progress and days to the deadline, and counts by status. Only
    counts leave here (no household), so every role that sees the dashboard may see it."""
    project_service.get_project(session, project_id)  # 404 for no such project
    on = on or today_shanghai()
    board = ConditionBoard(on=on)
    rows = list(
        session.execute(
            select(
                Agreement.status,
                Agreement.condition_kind,
                Agreement.condition_rate_bp,
                Agreement.condition_block_id,
                Agreement.condition_deadline_on,
            ).where(Agreement.project_id == project_id, Agreement.condition_kind != "none")
        )
    )
    if not rows:
        return board
    groups: dict[tuple[str, int, int | None, date | None], int] = defaultdict(int)
    for status, kind, rate, block_id, deadline in rows:
        if status == "pending":
            board.pending += 1
            groups[(str(kind), int(rate), block_id, deadline)] += 1
        elif status == "effective":
            board.effective += 1
        elif status == "void":
            board.void += 1
    area = _Area(session, project_id) if groups else None
    for (kind, rate, block_id, deadline), n in sorted(
        groups.items(), key=lambda g: (g[0][3] or date.max, g[0][0], g[0][2] or 0)
    ):
        assert area is not None
        p = area.progress(kind, rate_bp=rate, block_id=block_id, deadline_on=deadline, on=on)
        board.groups.append(
            ConditionGroup(progress=p, pending=n, days_left=(deadline - on).days if deadline else None)
        )
    return board


def effective_dates(
    session: Session, *, project_id: int, household_ids: list[int] | None = None
) -> dict[int, date]:
    """household id -> the effective date (协议生效) of its live agreement, for the households of
    ``project_id`` (or only ``household_ids``) whose agreement has taken effect: the policy fact
    ``household.agreement_effective_on`` (a pending agreement has none yet)."""
    q = select(Agreement.household_id, Agreement.effective_on).where(
        Agreement.project_id == project_id,
        Agreement.status.in_(rules.LIVE_STATUSES),
        Agreement.effective_on.is_not(None),
    )
    if household_ids is not None:
        if not household_ids:
            return {}
        q = q.where(Agreement.household_id.in_(household_ids))
    return {int(hid): on for hid, on in session.execute(q) if on is not None}
