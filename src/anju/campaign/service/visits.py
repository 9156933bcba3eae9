"""Campaign service part: visits (走访), logged idempotently and listed (see the package docstring).

A visit is often typed on a phone without signal and sent later, maybe more than once (a retry
after a timeout, two tabs syncing their queues at the same moment). The device gives every visit an
idempotency key; the first request with a key stores the visit, every later one with the same key
and the same content gets the stored visit back (``created`` False), and a different content under
a used key is refused (409 ``idempotency_key_reused``). Two requests racing with one key meet at the
unique constraint on ``visit.idempotency_key``: the loser's insert is undone inside a SAVEPOINT and
it returns the winner's row.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.campaign import rules
from anju.campaign.models import HouseholdCampaign, Visit, VisitConcern, VisitPersuader
from anju.campaign.schemas import PersuaderIn, VisitCreate
from anju.core import text as core_text
from anju.core.actor import Actor
from anju.db import events
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.identity.service import DataScope

__all__ = [
    "EARLIEST_VISIT",
    "FUTURE_TOLERANCE",
    "IDEMPOTENCY_KEY_PATTERN",
    "PersuaderIn",  # the input shapes record_visit takes, for callers in other domains
    "PersuaderView",
    "VisitCreate",
    "VisitView",
    "check_idempotency_key",
    "get_visit",
    "list_visits",
    "parse_visit_time",
    "record_visit",
    "void_visit",
]

# A phone's clock may run a little ahead of the server's.
FUTURE_TOLERANCE = timedelta(minutes=10)
EARLIEST_VISIT = datetime(2000, 1, 1, tzinfo=UTC)
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_\-:.]{1,64}$"
_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


@dataclass(frozen=True, slots=True)
class PersuaderView:
    """A persuader of a visit, as shown."""

    name: str
    relation: str
    relation_label: str
    note: str


@dataclass(frozen=True, slots=True)
class VisitView:
    """A stored visit with what the timeline shows (names instead of ids, labels of codes)."""

    id: int
    household_id: int
    project_id: int
    team_id: int | None
    team_name: str
    recorded_by: int | None
    recorder_name: str
    idempotency_key: str
    visited_at: datetime
    off_hours: bool
    off_hours_kind: str
    duration_min: int
    place: str
    staff: str
    persuaders: list[PersuaderView]
    concern_tags: list[str]
    concern_labels: list[str]
    concern_text: str
    attitude: str
    attitude_label: str
    outcome: str
    next_step: str
    next_due_on: date | None
    created_at: datetime
    voided_at: datetime | None
    void_reason: str

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for the JSON schema)."""
        return asdict(self)


# ---------------------------------------------------------------- validation


@dataclass
class _Clean:
    """A visit's content after validation: what is stored, and what identical retries must repeat."""

    visited_at: datetime
    duration_min: int
    place: str
    staff: str
    persuaders: list[tuple[str, str, str]]
    tags: list[str]
    concern_text: str
    attitude: str
    outcome: str
    next_step: str
    next_due_on: date | None
    errors: list[dict[str, str]] = field(default_factory=list)

    def content(self) -> tuple[Any, ...]:
        return (
            self.visited_at,
            self.duration_min,
            self.place,
            self.staff,
            tuple(self.persuaders),
            tuple(self.tags),
            self.concern_text,
            self.attitude,
            self.outcome,
            self.next_step,
            self.next_due_on,
        )


def _code(value: str, options: dict[str, str]) -> str | None:
    """The code of ``value`` given as a code or as its Chinese label."""
    value = value.strip()
    if value in options:
        return value
    for code, label in options.items():
        if value == label:
            return code
    return None


def parse_visit_time(value: str) -> datetime | None:
    """An ISO 8601 date-time as UTC (seconds); without an offset it is office time. ``None`` if unreadable."""
    text = value.strip()
    if not text or len(text) > 40:
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        at = datetime.fromisoformat(text)
        if at.tzinfo is None:
            at = at.replace(tzinfo=rules.OFFICE_TZ)
        return at.astimezone(UTC).replace(microsecond=0)
    except (ValueError, OverflowError):
        return None


def check_idempotency_key(key: str) -> str:
    """The key if it is 1-64 characters of ``A-Z a-z 0-9 _ - : .``; else a Chinese 422."""
    if not _KEY.match(key or ""):
        message = "幂等键（Idempotency-Key）应为 1 至 64 位字母、数字或 _ - : . 字符"
        raise ValidationFailed(
            message,
            "Idempotency-Key must be 1-64 characters of A-Z a-z 0-9 _ - : .",
            details=[{"field": "Idempotency-Key", "message": message}],
        )
    return key


def _clean(data: VisitCreate, now: datetime) -> _Clean:
    errors: list[dict[str, str]] = []

    def err(name: str, message: str) -> None:
        errors.append({"field": name, "message": message})

    at = parse_visit_time(data.visited_at)
    if at is None:
        err("visited_at", "走访时间应为日期和时间（如 2026-12-05T19:30）")
    elif at > now + FUTURE_TOLERANCE:
        err("visited_at", "走访时间不能晚于当前时间")
    elif at < EARLIEST_VISIT:
        err("visited_at", "走访时间不能早于 2000 年")
    if not 1 <= data.duration_min <= rules.MAX_VISIT_MINUTES:
        err("duration_min", f"走访时长应为 1 至 {rules.MAX_VISIT_MINUTES} 分钟")
    if len(data.persuaders) > rules.MAX_PERSUADERS:
        err("persuaders", f"外请说客至多 {rules.MAX_PERSUADERS} 位（现有 {len(data.persuaders)} 位）")
    persuaders: list[tuple[str, str, str]] = []
    for i, p in enumerate(data.persuaders[: rules.MAX_PERSUADERS], start=1):
        name = p.name.strip()
        relation = _code(p.relation, rules.PERSUADER_RELATIONS)
        if not name:
            err(f"persuaders.{i}.name", f"第 {i} 位外请说客：请填写姓名")
        if relation is None:
            options = "、".join(rules.PERSUADER_RELATIONS.values())
            err(f"persuaders.{i}.relation", f"第 {i} 位外请说客：关系应为 {options} 之一")
        persuaders.append((name, relation or "", p.note.strip()))
    tags: set[str] = set()
    for raw in data.concern_tags:
        tag = _code(raw, rules.CONCERN_TAGS)
        if tag is None:
            err(
                "concern_tags",
                f"诉求标签“{raw[:20]}”不在可选范围内（{'、'.join(rules.CONCERN_TAGS.values())}）",
            )
        else:
            tags.add(tag)
    attitude = _code(data.attitude, rules.ATTITUDES)
    if attitude is None:
        err("attitude", "请选择态度：支持、观望 或 抵触")
    if data.next_due_on is not None and at is not None and data.next_due_on < rules.office_time(at).date():
        err("next_due_on", "下一步期限不能早于走访当天")
    return _Clean(
        visited_at=at or now,
        duration_min=data.duration_min,
        place=data.place.strip(),
        staff=data.staff.strip(),
        persuaders=persuaders,
        tags=[t for t in rules.CONCERN_TAGS if t in tags],
        concern_text=data.concern_text.strip(),
        attitude=attitude or "",
        outcome=data.outcome.strip(),
        next_step=data.next_step.strip(),
        next_due_on=data.next_due_on,
        errors=errors,
    )


# ---------------------------------------------------------------- reading


def _persuaders_of(session: Session, visit_ids: list[int]) -> dict[int, list[VisitPersuader]]:
    out: dict[int, list[VisitPersuader]] = {}
    if visit_ids:
        for p in session.scalars(
            select(VisitPersuader)
            .where(VisitPersuader.visit_id.in_(visit_ids))
            .order_by(VisitPersuader.visit_id, VisitPersuader.sort, VisitPersuader.id)
        ):
            out.setdefault(p.visit_id, []).append(p)
    return out


def _tags_of(session: Session, visit_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, set[str]] = {}
    if visit_ids:
        for vid, tag in session.execute(
            select(VisitConcern.visit_id, VisitConcern.tag).where(VisitConcern.visit_id.in_(visit_ids))
        ):
            found.setdefault(int(vid), set()).add(str(tag))
    order = list(rules.CONCERN_TAGS)
    return {
        vid: sorted(tags, key=lambda t: order.index(t) if t in order else len(order))
        for vid, tags in found.items()
    }


def _stored_content(session: Session, visit: Visit) -> tuple[Any, ...]:
    persuaders = _persuaders_of(session, [visit.id]).get(visit.id, [])
    return (
        visit.visited_at.replace(microsecond=0),
        visit.duration_min,
        visit.place,
        visit.staff,
        tuple((p.name, p.relation, p.note) for p in persuaders),
        tuple(_tags_of(session, [visit.id]).get(visit.id, [])),
        visit.concern_text,
        visit.attitude,
        visit.outcome,
        visit.next_step,
        visit.next_due_on,
    )


def _views(session: Session, visits: list[Visit]) -> list[VisitView]:
    ids = [v.id for v in visits]
    persuaders = _persuaders_of(session, ids)
    tags = _tags_of(session, ids)
    teams: dict[int, str] = {}
    for project_id in {v.project_id for v in visits}:
        teams.update(identity_service.team_names(session, project_id))
    users = identity_service.user_names(session) if visits else {}
    return [
        VisitView(
            id=v.id,
            household_id=v.household_id,
            project_id=v.project_id,
            team_id=v.team_id,
            team_name=teams.get(v.team_id, "") if v.team_id else "",
            recorded_by=v.recorded_by,
            recorder_name=users.get(v.recorded_by, "") if v.recorded_by else "",
            idempotency_key=v.idempotency_key,
            visited_at=v.visited_at,
            off_hours=v.off_hours,
            off_hours_kind=rules.off_hours_kind(v.visited_at),
            duration_min=v.duration_min,
            place=v.place,
            staff=v.staff,
            persuaders=[
                PersuaderView(
                    p.name, p.relation, rules.PERSUADER_RELATIONS.get(p.relation, p.relation), p.note
                )
                for p in persuaders.get(v.id, [])
            ],
            concern_tags=tags.get(v.id, []),
            concern_labels=[rules.CONCERN_TAGS.get(t, t) for t in tags.get(v.id, [])],
            concern_text=v.concern_text,
            attitude=v.attitude,
            attitude_label=rules.ATTITUDES.get(v.attitude, v.attitude),
            outcome=v.outcome,
            next_step=v.next_step,
            next_due_on=v.next_due_on,
            created_at=v.created_at,
            voided_at=v.voided_at,
            void_reason=v.void_reason,
        )
        for v in visits
    ]


def list_visits(
    session: Session, *, scope: DataScope, household_id: int, include_voided: bool = False
) -> list[VisitView]:
    """The visits of one household in the caller's scope, newest first (404 outside the scope)."""
    household_service.get_household(session, scope=scope, household_id=household_id)
    q = select(Visit).where(Visit.household_id == household_id)
    if not include_voided:
        q = q.where(Visit.voided_at.is_(None))
    visits = list(session.scalars(q.order_by(Visit.visited_at.desc(), Visit.id.desc())))
    return _views(session, visits)


def get_visit(session: Session, *, scope: DataScope, visit_id: int) -> VisitView:
    """One visit (voided ones too) of a household in the caller's scope; 404 otherwise."""
    visit = session.scalar(select(Visit).where(Visit.id == visit_id))
    if visit is None:
        raise NotFound("走访记录不存在或不在您的权限范围内", "visit not found")
    try:
        household_service.get_household(session, scope=scope, household_id=visit.household_id)
    except NotFound:
        raise NotFound("走访记录不存在或不在您的权限范围内", "visit not found") from None
    return _views(session, [visit])[0]


# ---------------------------------------------------------------- writing


def _by_key(session: Session, key: str, *, lock: bool = False) -> Visit | None:
    q = select(Visit).where(Visit.idempotency_key == key)
    if lock:
        # A locking read sees the latest committed row (the racing writer's), not a snapshot.
        q = q.with_for_update().execution_options(populate_existing=True)
    return session.scalar(q)


def _replay(session: Session, stored: Visit, household_id: int, clean: _Clean) -> Visit:
    """The stored visit when a retry repeats it; a 409 when the key was used for something else."""
    if stored.household_id != household_id or _stored_content(session, stored) != clean.content():
        message = "该幂等键（Idempotency-Key）已用于另一条走访记录，请为新记录生成新的键"
        raise Conflict(
            message,
            "the Idempotency-Key was used for a different visit",
            code="idempotency_key_reused",
            details=[{"field": "Idempotency-Key", "message": message}],
        )
    return stored


def _campaign_row(session: Session, household_id: int, project_id: int, now: datetime) -> HouseholdCampaign:
    """The household's campaign row, locked; created on first need (a racing creator's row is reused)."""
    q = (
        select(HouseholdCampaign)
        .where(HouseholdCampaign.household_id == household_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = session.scalar(q)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = HouseholdCampaign(
                household_id=household_id,
                project_id=project_id,
                attitude="",
                previous_attitude="",
                visit_count=0,
                difficulty=0,
                next_step="",
                updated_at=now,
                version=1,
            )
            session.add(row)
            session.flush()
        return row
    except IntegrityError:
        again = session.scalar(q)
        if again is None:  # pragma: no cover - the unique row vanished between two statements
            raise
        return again


def _apply_to_campaign(
    session: Session, *, household_id: int, project_id: int, clean: _Clean, now: datetime
) -> dict[str, list[Any]]:
    """Keep the campaign tab's summary: count, last visit, and (from the newest visit) attitude and next step."""
    return _apply_visit(_campaign_row(session, household_id, project_id, now), clean, now)


def _apply_visit(row: HouseholdCampaign, clean: _Clean, now: datetime) -> dict[str, list[Any]]:
    """One visit's change to the household's (locked) campaign row; returns the audited differences."""
    before = {
        "attitude": row.attitude,
        "last_visit_at": row.last_visit_at,
        "visit_count": row.visit_count,
        "next_step": row.next_step,
        "next_due_on": row.next_due_on,
    }
    row.visit_count = (row.visit_count or 0) + 1
    newest = row.last_visit_at is None or clean.visited_at >= row.last_visit_at
    if newest:
        # A visit synced late that happened before the last one adds to the count, not to the state.
        row.last_visit_at = clean.visited_at
        if clean.attitude != row.attitude:
            row.previous_attitude = row.attitude
            row.attitude = clean.attitude
            row.attitude_changed_at = clean.visited_at
        row.next_step = clean.next_step
        row.next_due_on = clean.next_due_on
    row.version = (row.version or 1) + 1
    row.updated_at = now
    after = {
        "attitude": row.attitude,
        "last_visit_at": row.last_visit_at,
        "visit_count": row.visit_count,
        "next_step": row.next_step,
        "next_due_on": row.next_due_on,
    }
    return {k: [_plain(before[k]), _plain(after[k])] for k in before if before[k] != after[k]}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def record_visit(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    data: VisitCreate,
    idempotency_key: str,
    now: datetime,
) -> tuple[Visit, bool]:
    """Log a visit to a household in the caller's scope; returns ``(visit, created)``.

    - outside the scope (or a voided household): 404, nothing written;
    - a field wrong: 422 naming every wrong field in Chinese, nothing written;
    - ``idempotency_key`` used before with the same household and content: the stored visit and
      ``created`` False, nothing written; with other content: 409 ``idempotency_key_reused``.

    A new visit gets its off-hours flag (evening / weekend, office time) and the team of the
    household's active assignment, updates the household's campaign row (attitude with the previous
    one, last visit, count, next step), is audited, and queues a ``visit`` event for live pages.
    """
    household = household_service.get_household(session, scope=scope, household_id=household_id)
    check_idempotency_key(idempotency_key)
    clean = _clean(data, now)
    if clean.errors:
        raise ValidationFailed(
            "走访记录有误：" + "；".join(e["message"] for e in clean.errors),
            "invalid visit",
            details=clean.errors,
        )
    stored = _by_key(session, idempotency_key)
    if stored is not None:
        return _replay(session, stored, household_id, clean), False
    team_id, _user_id = identity_service.active_assignments(session, [household_id]).get(
        household_id, (None, None)
    )
    visit = Visit(
        project_id=household.project_id,
        household_id=household_id,
        team_id=team_id,
        recorded_by=actor.user_id,
        idempotency_key=idempotency_key,
        visited_at=clean.visited_at,
        off_hours=rules.is_off_hours(clean.visited_at),
        duration_min=clean.duration_min,
        place=clean.place,
        staff=clean.staff,
        concern_text=clean.concern_text,
        attitude=clean.attitude,
        outcome=clean.outcome,
        next_step=clean.next_step,
        next_due_on=clean.next_due_on,
        created_at=now,
        void_reason="",
    )
    try:
        with session.begin_nested():
            session.add(visit)
            session.flush()
    except IntegrityError:
        # Another request with the same key committed first (two syncs racing); the savepoint's
        # rollback took our row out of the session again.
        stored = _by_key(session, idempotency_key, lock=True)
        if stored is None:
            raise
        return _replay(session, stored, household_id, clean), False
    session.add_all(
        VisitPersuader(visit_id=visit.id, name=name, relation=relation, note=note, sort=i)
        for i, (name, relation, note) in enumerate(clean.persuaders)
    )
    session.add_all(
        VisitConcern(visit_id=visit.id, project_id=household.project_id, tag=t) for t in clean.tags
    )
    campaign_changes = _apply_to_campaign(
        session, household_id=household_id, project_id=household.project_id, clean=clean, now=now
    )
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="visit",
        entity_id=visit.id,
        project_id=household.project_id,
        household_id=household_id,
        changes=_audited(visit, clean, campaign_changes),
    )
    events.notify(
        session,
        topic=events.project_topic(household.project_id),
        kind="visit",
        data=_event_data(visit),
    )
    return visit, True


def _audited(visit: Visit, clean: _Clean, campaign_changes: dict[str, list[Any]]) -> dict[str, Any]:
    """The audited values of a new visit."""
    return {
        "visited_at": [None, clean.visited_at.isoformat()],
        "off_hours": [None, visit.off_hours],
        "duration_min": [None, clean.duration_min],
        "place": [None, clean.place],
        "staff": [None, clean.staff],
        "persuaders": [
            None,
            [f"{n}（{rules.PERSUADER_RELATIONS.get(r, r)}）" for n, r, _ in clean.persuaders],
        ],
        "concern_tags": [None, [rules.CONCERN_TAGS[t] for t in clean.tags]],
        "concern_text": [None, clean.concern_text],
        "attitude": [None, clean.attitude],
        "outcome": [None, clean.outcome],
        "next_step": [None, clean.next_step],
        "next_due_on": [None, _plain(clean.next_due_on)],
        "team_id": [None, visit.team_id],
        "idempotency_key": [None, visit.idempotency_key],
        **{f"campaign.{k}": v for k, v in campaign_changes.items()},
    }


def _event_data(visit: Visit) -> dict[str, Any]:
    """The ``visit`` event of a new visit (live pages)."""
    return {
        "household_id": visit.household_id,
        "visit_id": visit.id,
        "team_id": visit.team_id,
        "attitude": visit.attitude,
        "off_hours": visit.off_hours,
    }


def void_visit(
    session: Session, *, actor: Actor, scope: DataScope, visit_id: int, reason: str, now: datetime
) -> Visit:
    """Void a visit logged by mistake (never deleted); a reason is required; audited.

    The household's visit count goes down by one; its attitude and next step stay as they are (a
    later visit sets them again). Voiding a voided visit is a 409.
    """
    visit = session.scalar(
        select(Visit).where(Visit.id == visit_id).with_for_update().execution_options(populate_existing=True)
    )
    if visit is None:
        raise NotFound("走访记录不存在或不在您的权限范围内", "visit not found")
    try:
        household_service.get_household(session, scope=scope, household_id=visit.household_id)
    except NotFound:
        raise NotFound("走访记录不存在或不在您的权限范围内", "visit not found") from None
    reason = reason.strip()
    problem = (
        "须填写"
        if not reason
        else core_text.text_problem(reason, max_len=core_text.MAX_REASON, multiline=True)
    )
    if problem:
        message = f"作废走访记录的理由{problem}"
        raise ValidationFailed(message, "invalid reason", details=[{"field": "reason", "message": message}])
    if visit.voided_at is not None:
        raise Conflict("该走访记录已作废", "the visit is already void", code="already_void")
    visit.voided_at = now
    visit.void_reason = reason
    row = session.scalar(
        select(HouseholdCampaign)
        .where(HouseholdCampaign.household_id == visit.household_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is not None and row.visit_count > 0:
        row.visit_count -= 1
        row.version = (row.version or 1) + 1
        row.updated_at = now
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="void",
        entity="visit",
        entity_id=visit.id,
        project_id=visit.project_id,
        household_id=visit.household_id,
        changes={"voided_at": [None, now.isoformat()]},
        reason=reason,
    )
    events.notify(
        session,
        topic=events.project_topic(visit.project_id),
        kind="visit",
        data={"household_id": visit.household_id, "visit_id": visit.id, "voided": True},
    )
    return visit
