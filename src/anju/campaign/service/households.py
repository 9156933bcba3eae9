"""Campaign service part: the household's campaign tab, its stages (see the package docstring);
the tab's summary is read in ``tab``, edited in ``plans``.

The stage is the household's status: :func:`move_stage` moves it through the household service
(which checks the transition table and records the signing, vacating and demolition dates) and
keeps the timeline (:class:`StageChange`). The rest of the tab is this domain's own rows: the
campaign summary (attitude, difficulty, 包案领导), the 一户一策 plan and its steps.

Who may do what (the routes check the permission, the rules here the rest):
- moving a stage: VISIT_WRITE within the data scope, up to 协商中. 已签约 / 已腾空 / 已拆除 are set only
  by their records (signing, vacating acceptance, demolition: internal callers with ``manage=True``);
  the stage form and API pass ``manual=True`` and are refused those stages (409 ``recorded_stage``);
- difficulty and escalation: CAMPAIGN_MANAGE only. Declaring a 难点户 and naming the leader it is
  escalated to is a command decision; a team leader proposes it through the plan and the visits;
- plan and steps: VISIT_WRITE within the data scope (the team keeps its own strategy).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.campaign import rules
from anju.campaign.models import StageChange
from anju.core import text
from anju.core.actor import Actor
from anju.core.dates import today_shanghai, utcnow
from anju.db import events
from anju.errors import Conflict, PermissionDenied, ValidationFailed
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.identity.service import DataScope

__all__ = [
    "LEADER_ROLES",
    "OWNER_ROLES",
    "NextStage",
    "StageBarItem",
    "StageTimeline",
    "move_stage",
    "revert_stage",
    "stage_label",
    "stage_timeline",
]


# 包案领导: a leader of the office (a user of these roles) or a name typed in (a leader without an account).
LEADER_ROLES = ("commander", "case_officer")
# Who can own a plan or a step.
OWNER_ROLES = ("commander", "case_officer", "team_leader", "team_member")


def stage_label(stage: str) -> str:
    """The Chinese name of a stage (未入户 ... 已拆除)."""
    return household_service.STAGES.get(stage, stage)


def _fail(field_name: str, label: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{label}{message}",
        f"invalid {field_name}",
        details=[{"field": field_name, "label": label, "message": message}],
    )


def _text(value: Any, field_name: str, label: str, max_len: int, *, multiline: bool = False) -> str:
    if not isinstance(value, str):
        raise _fail(field_name, label, "应为文本")
    problem = text.text_problem(value, max_len=max_len, multiline=multiline)
    if problem:
        raise _fail(field_name, label, problem)
    return value.strip()


def _names(session: Session) -> dict[int, str]:
    return identity_service.user_names(session)


# ---------------------------------------------------------------- stages


@dataclass(frozen=True, slots=True)
class StageBarItem:
    """One of the seven stages on the stage bar: reached or not, and the date it was reached."""

    stage: str
    label: str
    state: str  # done | current | todo
    reached_on: date | None


@dataclass(frozen=True, slots=True)
class NextStage:
    """A stage the household may move to next; ``dated``: the move needs its date; ``allowed``: this
    user may record it by hand; ``recorded_in``: where it is recorded instead (签约台, 腾空验收, 拆除登记)."""

    stage: str
    label: str
    dated: bool
    allowed: bool
    recorded_in: str = ""


@dataclass
class StageTimeline:
    """The household's stage, the stage bar, the recorded moves (oldest first) and the next moves."""

    household_id: int
    stage: str
    label: str
    bar: list[StageBarItem]
    changes: list[StageChange]
    next: list[NextStage]


def _changes(session: Session, household_id: int) -> list[StageChange]:
    return list(
        session.scalars(
            select(StageChange)
            .where(StageChange.household_id == household_id)
            .order_by(StageChange.at, StageChange.id)
        )
    )


def _file_dates(h: Any) -> dict[str, date | None]:
    return {stage: getattr(h, col) for stage, col in household_service.STAGE_DATE_FIELDS.items()}


def _timeline(h: Any, changes: list[StageChange], *, manage: bool) -> StageTimeline:
    reached: dict[str, date | None] = {}
    for c in changes:  # oldest first: the newest move to a stage wins
        reached[c.to_stage] = c.reached_on
    for stage, on in _file_dates(h).items():
        if on is not None:
            reached[stage] = on  # the household file's date is the legal one
    current = h.status
    order = rules.STAGES
    pos = order.index(current) if current in order else len(order)
    bar = []
    for i, stage in enumerate(order):
        state = "done" if i < pos else ("current" if i == pos else "todo")
        bar.append(
            StageBarItem(stage, stage_label(stage), state, reached.get(stage) if state != "todo" else None)
        )
    nxt = [
        NextStage(
            s,
            stage_label(s),
            s in rules.DATED_STAGES,
            s not in rules.RECORDED_STAGES and rules.stage_move_refusal(s, "", manage=manage) is None,
            rules.RECORDED_STAGES.get(s, ""),
        )
        for s in order
        if s in household_service.next_stages(current)
    ]
    return StageTimeline(h.id, current, stage_label(current), bar, changes, nxt)


def stage_timeline(
    session: Session, *, scope: DataScope, household_id: int, manage: bool = False
) -> StageTimeline:
    """The stage bar and timeline of one household within ``scope``.

    ``manage``: the viewer holds CAMPAIGN_MANAGE (marks which next moves they may record).
    """
    h = household_service.get_household(session, scope=scope, household_id=household_id)
    return _timeline(h, _changes(session, h.id), manage=manage)


def _previous_date(h: Any, changes: list[StageChange]) -> tuple[date | None, str]:
    """The date the current stage was reached (from the timeline, else the household file), and its name."""
    current = h.status
    on: date | None = None
    for c in changes:
        if c.to_stage == current:
            on = c.reached_on
    file_on = _file_dates(h).get(current)
    if file_on is not None:
        on = file_on
    return on, stage_label(current)


def _record_move(
    session: Session,
    actor: Actor,
    h: Any,
    *,
    action: str,
    from_stage: str,
    to_stage: str,
    reached_on: date,
    recorded_at: datetime | None,
    note: str,
    audited: dict[str, Any] | None = None,
) -> StageChange:
    """Add a move to ``h``'s timeline (after the household service moved its stage), audit it
    (``action`` create or revert; ``audited``: more audited values) and queue the ``stage`` event."""
    change = StageChange(
        project_id=h.project_id,
        household_id=h.id,
        from_stage=from_stage,
        to_stage=to_stage,
        reached_on=reached_on,
        at=recorded_at or utcnow(),  # a backfilled history (the demo's) keeps the moment it happened
        by_user_id=actor.user_id,
        by_name=actor.display_name[:64],
        note=note,
    )
    session.add(change)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action=action,
        entity="stage_change",
        entity_id=change.id,
        project_id=h.project_id,
        household_id=h.id,
        changes={"from_stage": [None, from_stage], "to_stage": [None, to_stage], **(audited or {})},
        reason=note,
    )
    events.notify(
        session,
        topic=events.project_topic(h.project_id),
        kind="stage",
        data={"household_id": h.id, "from": from_stage, "to": to_stage, "on": reached_on.isoformat()},
    )
    return change


def move_stage(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    to_stage: str,
    on: date | None,
    note: str = "",
    manage: bool = False,
    manual: bool = False,
    today: date | None = None,
    recorded_at: datetime | None = None,
) -> StageChange:
    """Move a household to ``to_stage`` (reached ``on``, an office date), keeping the timeline.

    The transition must be in the household's transition table (409 ``illegal_transition`` naming
    both stages otherwise, nothing written). 已签约 / 已腾空 / 已拆除 need ``on`` and ``manage``
    (CAMPAIGN_MANAGE; 403 otherwise); other stages default to today. ``on`` may not lie after today
    nor before the date the current stage was reached (409 ``stage_date``). The household's status and date change
    through the household service (audited there); the :class:`StageChange` is audited too and a
    ``stage`` event is queued for live pages.

    ``manual``: a person moves the stage by hand (the stage form and API). 已签约 / 已腾空 / 已拆除
    are then refused (409 ``recorded_stage`` naming where they are recorded): only signing and the
    clearance records (and the demo's backfilled history) move a household there.

    Moving to the stage the household is already in changes nothing (a retried request): the
    answer is an unsaved :class:`StageChange` whose ``from_stage`` equals ``to_stage``.
    """
    if to_stage not in rules.STAGES:
        raise _fail(
            "to_stage", "目标阶段", "不存在（应为 " + " / ".join(stage_label(s) for s in rules.STAGES) + "）"
        )
    note = _text(note, "note", "备注", text.MAX_REASON, multiline=True)
    today = today or today_shanghai()
    h = household_service.get_household(session, scope=scope, household_id=household_id)
    if manual:
        recorded = rules.manual_move_refusal(to_stage, stage_label(to_stage))
        if recorded:
            raise Conflict(
                recorded,
                f"{to_stage} is recorded by its own record, not by a stage move",
                code="recorded_stage",
                details=[
                    {"field": "to_stage", "message": recorded, "recorded_in": rules.RECORDED_STAGES[to_stage]}
                ],
            )
    current = h.status
    if to_stage == current:
        return StageChange(
            project_id=h.project_id,
            household_id=h.id,
            from_stage=current,
            to_stage=current,
            reached_on=_previous_date(h, _changes(session, h.id))[0] or today,
            at=utcnow(),
            by_user_id=actor.user_id,
            by_name=actor.display_name,
            note="",
        )
    allowed = [s for s in rules.STAGES if s in household_service.next_stages(current)]
    if to_stage not in allowed:
        hint = (
            "，当前可变为：" + "、".join(f"“{stage_label(s)}”" for s in allowed)
            if allowed
            else "，该阶段之后不能再变更"
        )
        raise Conflict(
            f"该户阶段不能从“{stage_label(current)}”变为“{stage_label(to_stage)}”{hint}",
            f"illegal stage transition {current} -> {to_stage}",
            code="illegal_transition",
            details=[{"field": "to_stage", "from_stage": current, "to_stage": to_stage, "allowed": allowed}],
        )
    refusal = rules.stage_move_refusal(to_stage, stage_label(to_stage), manage=manage)
    if refusal:
        raise PermissionDenied(refusal, f"recording {to_stage} needs campaign.manage")
    if on is None:
        if to_stage in rules.DATED_STAGES:
            raise _fail("on", f"{stage_label(to_stage)}日期", "必填")
        on = today
    changes = _changes(session, h.id)
    previous_on, previous_label = _previous_date(h, changes)
    problem = rules.stage_date_problem(
        on, today=today, previous_on=previous_on, previous_label=previous_label
    )
    if problem:
        # The date conflicts with the timeline (or the calendar), not with the form of the request: 409.
        label = f"{stage_label(to_stage)}日期"
        raise Conflict(
            f"{label}{problem}",
            "the stage date conflicts with the timeline",
            code="stage_date",
            details=[{"field": "on", "label": label, "message": problem}],
        )
    household_service.set_stage(
        session,
        actor=actor,
        scope=scope,
        household_id=h.id,
        stage=to_stage,
        on=on if to_stage in rules.DATED_STAGES else None,
        reason=note,
    )
    return _record_move(
        session,
        actor,
        h,
        action="create",
        from_stage=current,
        to_stage=to_stage,
        reached_on=on,
        recorded_at=recorded_at,
        note=note,
        audited={"reached_on": [None, on.isoformat()]},
    )


def revert_stage(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    from_stage: str,
    note: str,
    recorded_at: datetime | None = None,
) -> StageChange:
    """Take a household back from a recorded stage (已腾空 → 已签约, 已拆除 → 已腾空) because the
    record that set it was voided; ``note`` says why (kept on the timeline and in the audit).

    Only the voiding of that record calls this (never a stage form): the household service checks
    the household is in ``from_stage`` (409 otherwise) and clears the stage's date in the file. The
    timeline gets a move back whose ``reached_on`` is the date of the stage returned to (as the
    file has it), so the stage bar keeps showing when that stage was reached.
    """
    note = _text(note, "note", "备注", text.MAX_REASON, multiline=True)
    h = household_service.revert_stage(
        session, actor=actor, scope=scope, household_id=household_id, stage=from_stage, reason=note
    )
    back = h.status
    reached_on, _label = _previous_date(h, _changes(session, h.id))
    return _record_move(
        session,
        actor,
        h,
        action="revert",
        from_stage=from_stage,
        to_stage=back,
        reached_on=reached_on or today_shanghai(),
        recorded_at=recorded_at,
        note=note,
    )
