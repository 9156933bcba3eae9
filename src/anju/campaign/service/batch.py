"""Campaign service part: many visits or stage moves at once (a backfilled history such as the
demo's, an import; see the package docstring).

:func:`record_visits` and :func:`move_stages` check every item as :func:`record_visit` and
:func:`move_stage` do, store the same rows, audit the same entries and queue the same events, but
write them together: one query per kind of row instead of one per item, and one append to the
audit chain (``audit_service.record_many``). A batch is all or nothing: the first problem is raised
naming the item (``第 3 条走访：...``) and nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.campaign import rules
from anju.campaign.models import HouseholdCampaign, StageChange, Visit, VisitConcern, VisitPersuader
from anju.campaign.schemas import VisitCreate
from anju.campaign.service.households import _fail, _previous_date, _text, stage_label
from anju.campaign.service.visits import (
    _KEY,
    _apply_visit,
    _audited,
    _Clean,
    _clean,
    _event_data,
    _replay,
    record_visit,
)
from anju.core import text
from anju.core.actor import Actor
from anju.core.dates import today_shanghai, utcnow
from anju.db import events
from anju.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.identity.service import DataScope

__all__ = ["StageMove", "VisitInput", "move_stages", "record_visits"]

T = TypeVar("T")
_CHUNK = 500  # ids per IN (...) list


def _chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _numbered(i: int, exc: DomainError, what: str) -> DomainError:
    """``exc`` with its message and details naming item ``i`` (1-based) of the batch."""
    exc.message_zh = f"第 {i} 条{what}：{exc.message_zh}"
    if isinstance(exc.details, list):
        for d in exc.details:
            if isinstance(d, dict):
                d["item"] = i
    return exc


# ---------------------------------------------------------------- visits


@dataclass(frozen=True, slots=True)
class VisitInput:
    """One visit of a batch: what :func:`record_visit` takes for it."""

    household_id: int
    data: VisitCreate
    idempotency_key: str


def _in_scope(session: Session, scope: DataScope, project_id: int, household_ids: list[int]) -> set[int]:
    live = household_service.live_households(scope=scope, project_id=project_id)
    found: set[int] = set()
    for chunk in _chunks(household_ids):
        found.update(int(h) for h in session.scalars(select(live.c.id).where(live.c.id.in_(chunk))))
    return found


def record_visits(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    project_id: int,
    visits: Sequence[VisitInput],
    now: datetime,
) -> list[tuple[Visit, bool]]:
    """Log many visits to households of one project, each as :func:`record_visit` would (the same
    checks, stored rows, campaign summary, audit entry and ``visit`` event); returns ``(visit,
    created)`` per item, in order.

    All or nothing: a household outside the scope or the project (404), a wrong field (422) or an
    idempotency key used for other content (409) is raised naming the item, and nothing is written.
    A key repeated with the same content (stored before, or earlier in the batch) gives the stored
    visit and ``created`` False, as a retried request does.
    """
    if not visits:
        return []
    households = sorted({v.household_id for v in visits})
    reachable = _in_scope(session, scope, project_id, households)
    cleans: list[_Clean] = []
    for i, v in enumerate(visits, start=1):
        if v.household_id not in reachable:
            raise _numbered(i, NotFound("该户不存在或不在您的权限范围内", "household not found"), "走访")
        if not _KEY.match(v.idempotency_key or ""):
            message = "幂等键（Idempotency-Key）应为 1 至 64 位字母、数字或 _ - : . 字符"
            raise _numbered(
                i,
                ValidationFailed(
                    message,
                    "Idempotency-Key must be 1-64 characters of A-Z a-z 0-9 _ - : .",
                    details=[{"field": "Idempotency-Key", "message": message}],
                ),
                "走访",
            )
        clean = _clean(v.data, now)
        if clean.errors:
            raise _numbered(
                i,
                ValidationFailed(
                    "走访记录有误：" + "；".join(e["message"] for e in clean.errors),
                    "invalid visit",
                    details=clean.errors,
                ),
                "走访",
            )
        cleans.append(clean)
    keys = sorted({v.idempotency_key for v in visits})
    stored: dict[str, Visit] = {}
    for key_part in _chunks(keys):
        stored.update(
            (s.idempotency_key, s)
            for s in session.scalars(select(Visit).where(Visit.idempotency_key.in_(key_part)))
        )
    # Each item is new, a replay of a stored visit, or a replay of an earlier item of the batch.
    first_of: dict[str, int] = {}
    fresh: list[int] = []
    for i, (v, clean) in enumerate(zip(visits, cleans, strict=True)):
        if v.idempotency_key in stored:
            try:
                _replay(session, stored[v.idempotency_key], v.household_id, clean)
            except Conflict as exc:
                raise _numbered(i + 1, exc, "走访") from None
        elif v.idempotency_key in first_of:
            j = first_of[v.idempotency_key]
            if visits[j].household_id != v.household_id or cleans[j].content() != clean.content():
                message = "该幂等键（Idempotency-Key）已用于另一条走访记录，请为新记录生成新的键"
                raise _numbered(
                    i + 1,
                    Conflict(
                        message,
                        "the Idempotency-Key was used for a different visit",
                        code="idempotency_key_reused",
                        details=[{"field": "Idempotency-Key", "message": message}],
                    ),
                    "走访",
                )
        else:
            first_of[v.idempotency_key] = i
            fresh.append(i)
    teams: dict[int, tuple[int | None, int | None]] = {}
    for part in _chunks(households):
        teams.update(identity_service.active_assignments(session, list(part)))
    rows = [
        Visit(
            project_id=project_id,
            household_id=visits[i].household_id,
            team_id=teams.get(visits[i].household_id, (None, None))[0],
            recorded_by=actor.user_id,
            idempotency_key=visits[i].idempotency_key,
            visited_at=cleans[i].visited_at,
            off_hours=rules.is_off_hours(cleans[i].visited_at),
            duration_min=cleans[i].duration_min,
            place=cleans[i].place,
            staff=cleans[i].staff,
            concern_text=cleans[i].concern_text,
            attitude=cleans[i].attitude,
            outcome=cleans[i].outcome,
            next_step=cleans[i].next_step,
            next_due_on=cleans[i].next_due_on,
            created_at=now,
            void_reason="",
        )
        for i in fresh
    ]
    try:
        with session.begin_nested():
            session.add_all(rows)
            session.flush()
    except IntegrityError:
        # A key stored by a concurrent request after our look-up: the one-at-a-time path settles
        # every item (stored, replayed or refused) as it does for racing syncs.
        return [
            record_visit(
                session,
                actor=actor,
                scope=scope,
                household_id=v.household_id,
                data=v.data,
                idempotency_key=v.idempotency_key,
                now=now,
            )
            for v in visits
        ]
    new_by_item = dict(zip(fresh, rows, strict=True))
    persuaders = [
        {"visit_id": row.id, "name": name, "relation": relation, "note": note, "sort": k}
        for i, row in new_by_item.items()
        for k, (name, relation, note) in enumerate(cleans[i].persuaders)
    ]
    concerns = [
        {"visit_id": row.id, "project_id": project_id, "tag": tag}
        for i, row in new_by_item.items()
        for tag in cleans[i].tags
    ]
    if persuaders:
        session.execute(insert(VisitPersuader), persuaders)
    if concerns:
        session.execute(insert(VisitConcern), concerns)
    summary = _campaign_rows(session, sorted({r.household_id for r in rows}), project_id, now)
    entries = []
    for i, row in new_by_item.items():
        changes = _apply_visit(summary[row.household_id], cleans[i], now)
        entries.append(
            audit_service.AuditEntry(
                action="create",
                entity="visit",
                entity_id=str(row.id),
                changes=_audited(row, cleans[i], changes),
                project_id=project_id,
                household_id=row.household_id,
            )
        )
        events.notify(session, topic=events.project_topic(project_id), kind="visit", data=_event_data(row))
    session.flush()
    audit_service.record_many(session, actor=actor, entries=entries)
    out: list[tuple[Visit, bool]] = []
    for i, v in enumerate(visits):
        if i in new_by_item:
            out.append((new_by_item[i], True))
        elif v.idempotency_key in stored:
            out.append((stored[v.idempotency_key], False))
        else:
            out.append((new_by_item[first_of[v.idempotency_key]], False))
    return out


def _campaign_rows(
    session: Session, household_ids: list[int], project_id: int, now: datetime
) -> dict[int, HouseholdCampaign]:
    """The households' campaign rows, locked (in id order); the missing ones created (a racing
    creator's rows are reused)."""

    def read() -> dict[int, HouseholdCampaign]:
        found: dict[int, HouseholdCampaign] = {}
        for chunk in _chunks(household_ids):
            q = (
                select(HouseholdCampaign)
                .where(HouseholdCampaign.household_id.in_(chunk))
                .order_by(HouseholdCampaign.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            found.update((r.household_id, r) for r in session.scalars(q))
        return found

    found = read()
    missing = [
        HouseholdCampaign(
            household_id=h,
            project_id=project_id,
            attitude="",
            previous_attitude="",
            visit_count=0,
            difficulty=0,
            next_step="",
            updated_at=now,
            version=1,
        )
        for h in household_ids
        if h not in found
    ]
    if missing:
        try:
            with session.begin_nested():
                session.add_all(missing)
                session.flush()
            found.update((r.household_id, r) for r in missing)
        except IntegrityError:
            found = read()
            for row in missing:  # pragma: no cover - created by a racing request, one by one
                if row.household_id not in found:
                    session.add(row)
                    session.flush()
                    found[row.household_id] = row
    return found


# ---------------------------------------------------------------- stage moves


@dataclass(frozen=True, slots=True)
class StageMove:
    """One stage move of a batch: what :func:`move_stage` takes for it."""

    household_id: int
    to_stage: str
    on: date | None
    note: str = ""
    recorded_at: datetime | None = None


def move_stages(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    moves: Sequence[StageMove],
    manage: bool = False,
    manual: bool = False,
    today: date | None = None,
) -> list[StageChange]:
    """Move households' stages in order, each as :func:`move_stage` would (a household may move
    several times; each move is checked against the stage and timeline its earlier moves left);
    returns the timeline records in order.

    The household file changes through ``household_service.set_stage`` (audited there, move by
    move); the timeline records are inserted, audited and announced together. All or nothing: the
    first refusal is raised naming the move and nothing of the batch is kept (the caller's
    transaction is rolled back with it, as for any service error).
    """
    if not moves:
        return []
    today = today or today_shanghai()
    households: dict[int, Any] = {}
    timelines: dict[int, list[StageChange]] = {}
    ids = sorted({m.household_id for m in moves})
    for chunk in _chunks(ids):
        for c in session.scalars(
            select(StageChange)
            .where(StageChange.household_id.in_(chunk))
            .order_by(StageChange.at, StageChange.id)
        ):
            timelines.setdefault(c.household_id, []).append(c)
    done: list[StageChange] = []
    entries = []
    for i, m in enumerate(moves, start=1):
        try:
            h = households.get(m.household_id)
            if h is None:
                h = households[m.household_id] = household_service.get_household(
                    session, scope=scope, household_id=m.household_id
                )
            change = _move(session, actor, scope, h, timelines.setdefault(h.id, []), m, manage, manual, today)
        except DomainError as exc:
            raise _numbered(i, exc, "阶段变更") from None
        done.append(change)
    fresh = [c for c in done if c.from_stage != c.to_stage]
    session.add_all(fresh)
    session.flush()
    for c in fresh:
        entries.append(
            audit_service.AuditEntry(
                action="create",
                entity="stage_change",
                entity_id=str(c.id),
                changes={
                    "from_stage": [None, c.from_stage],
                    "to_stage": [None, c.to_stage],
                    "reached_on": [None, c.reached_on.isoformat()],
                },
                reason=c.note,
                project_id=c.project_id,
                household_id=c.household_id,
            )
        )
        events.notify(
            session,
            topic=events.project_topic(c.project_id),
            kind="stage",
            data={
                "household_id": c.household_id,
                "from": c.from_stage,
                "to": c.to_stage,
                "on": c.reached_on.isoformat(),
            },
        )
    audit_service.record_many(session, actor=actor, entries=entries)
    return done


def _move(
    session: Session,
    actor: Actor,
    scope: DataScope,
    h: Any,
    changes: list[StageChange],
    m: StageMove,
    manage: bool,
    manual: bool,
    today: date,
) -> StageChange:
    """One move of :func:`move_stages`: the checks of :func:`move_stage`, the household service's
    change, and the timeline record (appended to ``changes``, not yet stored)."""
    to_stage = m.to_stage
    if to_stage not in rules.STAGES:
        raise _fail(
            "to_stage", "目标阶段", "不存在（应为 " + " / ".join(stage_label(s) for s in rules.STAGES) + "）"
        )
    note = _text(m.note, "note", "备注", text.MAX_REASON, multiline=True)
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
    if to_stage == h.status:  # a repeated move changes nothing: an unsaved record, as move_stage answers
        return StageChange(
            project_id=h.project_id,
            household_id=h.id,
            from_stage=h.status,
            to_stage=h.status,
            reached_on=_previous_date(h, changes)[0] or today,
            at=utcnow(),
            by_user_id=actor.user_id,
            by_name=actor.display_name,
            note="",
        )
    current = h.status
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
    on = m.on
    if on is None:
        if to_stage in rules.DATED_STAGES:
            raise _fail("on", f"{stage_label(to_stage)}日期", "必填")
        on = today
    previous_on, previous_label = _previous_date(h, changes)
    problem = rules.stage_date_problem(
        on, today=today, previous_on=previous_on, previous_label=previous_label
    )
    if problem:
        label = f"{stage_label(to_stage)}日期"
        raise Conflict(
            f"{label}{problem}",
            "the stage date conflicts with the timeline",
            code="stage_date",
            details=[{"field": "on", "label": label, "message": problem}],
        )
    h = household_service.set_stage(
        session,
        actor=actor,
        scope=scope,
        household_id=h.id,
        stage=to_stage,
        on=on if to_stage in rules.DATED_STAGES else None,
        reason=note,
    )
    change = StageChange(
        project_id=h.project_id,
        household_id=h.id,
        from_stage=current,
        to_stage=to_stage,
        reached_on=on,
        at=m.recorded_at or utcnow(),
        by_user_id=actor.user_id,
        by_name=actor.display_name[:64],
        note=note,
    )
    changes.append(change)
    changes.sort(key=lambda c: (c.at, c.id if c.id is not None else float("inf")))  # as _changes reads them
    return change
