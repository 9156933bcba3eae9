"""Grid service part: mediation records (矛盾调解) — a case in a grid, the households it is about
and the service request it came from, its parties (phones masked when shown), its sessions and,
when closed, its outcome. Every write is audited; the case carries a version (409 when stale)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import column, func, select, table
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.core.dates import today_shanghai, utcnow
from anju.core.masking import mask_phone
from anju.db.versions import bump_version
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.grid import rules
from anju.grid.models import Grid, MediationCase, MediationHousehold, MediationParty, MediationSession
from anju.grid.service.grids import _check_version, _plain, _text, get_grid
from anju.household import service as household_service
from anju.identity import service as identity_service

MAX_PARTIES = 20
EVERYTHING = identity_service.DataScope.everything()
_REQUESTS = table("service_request", column("id"))


def _choice(values: Mapping[str, Any], field: str, label: str, options: Mapping[str, str]) -> str:
    raw = str(values.get(field, "") or "").strip()
    if raw in options:
        return raw
    for key, zh in options.items():
        if raw == zh:
            return key
    raise ValidationFailed(
        f"{label}应为：{'、'.join(options.values())}",
        field,
        details=[{"field": field, "message": f"{label}不正确"}],
    )


def _long(values: Mapping[str, Any], field: str, label: str, limit: int) -> str:
    """Multi-line text: line breaks and tabs allowed, other control characters not."""
    text = str(values.get(field, "") or "").strip().replace("\r\n", "\n")
    if len(text) > limit or any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
        raise ValidationFailed(
            f"{label}最多 {limit} 字，且不能含控制字符",
            field,
            details=[{"field": field, "message": f"{label}过长"}],
        )
    return text


def _date(values: Mapping[str, Any], field: str, label: str, default: date | None = None) -> date:
    raw = values.get(field)
    if isinstance(raw, date):
        return raw
    if not raw and default is not None:
        return default
    try:
        return date.fromisoformat(str(raw).strip())
    except ValueError as exc:
        raise ValidationFailed(
            f"{label}应为日期（如 2026-12-05）",
            field,
            details=[{"field": field, "message": f"{label}不正确"}],
        ) from exc


def _household_ids(session: Session, raw: Any) -> list[int]:
    if raw in (None, "", []):
        return []
    items = raw if isinstance(raw, list) else [p for p in str(raw).replace("，", ",").split(",") if p.strip()]
    ids: list[int] = []
    for item in items:
        try:
            ids.append(int(str(item).strip()))
        except ValueError as exc:
            raise ValidationFailed(
                f"户 id “{item}”不是数字",
                "household_ids",
                details=[{"field": "household_ids", "message": "户 id 不正确"}],
            ) from exc
    for hid in sorted(set(ids)):
        try:
            household_service.get_household(session, scope=EVERYTHING, household_id=hid)
        except NotFound as exc:
            raise NotFound(
                f"户 {hid} 不存在",
                "household not found",
                details=[{"field": "household_ids", "message": f"户 {hid} 不存在"}],
            ) from exc
    return sorted(set(ids))


def _request_id(session: Session, raw: Any) -> int | None:
    if raw in (None, "", 0):
        return None
    try:
        rid = int(str(raw).strip())
    except ValueError:
        rid = 0
    # The request domain has no lookup service yet; its table is asked directly (an id check only).
    found = session.scalar(select(_REQUESTS.c.id).where(_REQUESTS.c.id == rid)) if rid > 0 else None
    if found is None:
        raise NotFound(
            f"诉求 {raw} 不存在",
            "service request not found",
            details=[{"field": "service_request_id", "message": "诉求不存在"}],
        )
    return rid


def _parties(values: Mapping[str, Any]) -> list[dict[str, str]]:
    raw = values.get("parties") or []
    if not isinstance(raw, list) or len(raw) > MAX_PARTIES:
        raise ValidationFailed(
            f"当事人最多 {MAX_PARTIES} 人",
            "parties",
            details=[{"field": "parties", "message": "当事人列表不正确"}],
        )
    out = []
    for i, p in enumerate(raw, start=1):
        if not isinstance(p, Mapping):
            raise ValidationFailed(f"第 {i} 位当事人格式不正确", "parties")
        try:
            out.append(
                {
                    "name": _text(p, "name", f"第 {i} 位当事人姓名", 64, required=True),
                    "role": _choice(p, "role", f"第 {i} 位当事人身份", rules.PARTY_ROLES),
                    "phone": _text(p, "phone", f"第 {i} 位当事人电话", 32),
                }
            )
        except ValidationFailed as exc:
            raise ValidationFailed(
                exc.message_zh, details=[{"field": f"parties.{i}", "message": exc.message_zh}]
            ) from exc
    return out


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case with its grid, households, parties (phones masked) and sessions."""

    case: MediationCase
    grid: Grid
    household_ids: list[int]
    parties: list[dict[str, str]]
    sessions: list[MediationSession]

    @property
    def kind_label(self) -> str:
        """Chinese kind."""
        return rules.MEDIATION_KINDS.get(self.case.kind, self.case.kind)

    @property
    def status_label(self) -> str:
        """Chinese status."""
        return rules.MEDIATION_STATUSES.get(self.case.status, self.case.status)

    @property
    def outcome_label(self) -> str:
        """Chinese outcome ('' while open)."""
        return rules.MEDIATION_OUTCOMES.get(self.case.outcome, "")


def get_case(session: Session, case_id: int) -> MediationCase:
    """A case by id (404 when missing)."""
    c = session.get(MediationCase, case_id)
    if c is None:
        raise NotFound("调解案件不存在", "mediation case not found")
    return c


def case_view(session: Session, case_id: int) -> CaseView:
    """A case with everything its page shows; party phones are masked."""
    c = get_case(session, case_id)
    hids = list(
        session.scalars(
            select(MediationHousehold.household_id)
            .where(MediationHousehold.case_id == c.id)
            .order_by(MediationHousehold.household_id)
        )
    )
    parties = [
        {
            "name": p.name,
            "role": p.role,
            "role_label": rules.PARTY_ROLES.get(p.role, p.role),
            "phone": mask_phone(p.phone) if p.phone else "",
        }
        for p in session.scalars(
            select(MediationParty).where(MediationParty.case_id == c.id).order_by(MediationParty.id)
        )
    ]
    sessions = list(
        session.scalars(
            select(MediationSession)
            .where(MediationSession.case_id == c.id)
            .order_by(MediationSession.held_on, MediationSession.id)
        )
    )
    return CaseView(
        case=c, grid=get_grid(session, c.grid_id), household_ids=hids, parties=parties, sessions=sessions
    )


def list_cases(
    session: Session, *, grid_id: int | None = None, status: str | None = None
) -> list[MediationCase]:
    """Cases, newest first (of one grid / one status)."""
    q = select(MediationCase).order_by(MediationCase.opened_on.desc(), MediationCase.id.desc())
    if grid_id is not None:
        q = q.where(MediationCase.grid_id == grid_id)
    if status:
        q = q.where(MediationCase.status == status)
    return list(session.scalars(q))


def _next_code(session: Session, opened_on: date) -> str:
    prefix = f"TJ-{opened_on.year}-"
    n = (
        session.scalar(
            select(func.count()).select_from(MediationCase).where(MediationCase.code.like(prefix + "%"))
        )
        or 0
    )
    return f"{prefix}{int(n) + 1:04d}"


def open_case(session: Session, *, actor: Actor, values: Mapping[str, Any]) -> MediationCase:
    """Open a mediation case in a grid with its parties, households and service request (audited)."""
    try:
        grid_id = int(values.get("grid_id") or 0)
    except (TypeError, ValueError):
        grid_id = 0
    if grid_id <= 0:
        raise ValidationFailed(
            "请选择网格", "grid_id", details=[{"field": "grid_id", "message": "网格不能为空"}]
        )
    get_grid(session, grid_id)
    title = _text(values, "title", "案件名称", 128, required=True)
    kind = _choice(values, "kind", "纠纷类型", rules.MEDIATION_KINDS)
    summary = _long(values, "summary", "纠纷概况", 2000)
    opened_on = _date(values, "opened_on", "受理日期", today_shanghai())
    hids = _household_ids(session, values.get("household_ids"))
    rid = _request_id(session, values.get("service_request_id"))
    parties = _parties(values)
    c = MediationCase(
        code=_next_code(session, opened_on),
        grid_id=grid_id,
        title=title,
        kind=kind,
        summary=summary,
        service_request_id=rid,
        status="open",
        outcome="",
        outcome_note="",
        opened_on=opened_on,
        created_by=actor.user_id,
        created_at=utcnow(),
    )
    session.add(c)
    session.flush()
    session.add_all([MediationHousehold(case_id=c.id, household_id=h) for h in hids])
    session.add_all([MediationParty(case_id=c.id, **p) for p in parties])
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="mediation_case",
        entity_id=c.id,
        changes={
            "code": [None, c.code],
            "grid_id": [None, grid_id],
            "title": [None, title],
            "kind": [None, kind],
            "opened_on": [None, opened_on.isoformat()],
            "household_ids": [None, hids],
            "service_request_id": [None, rid],
            "parties": [None, [f"{p['name']}（{rules.PARTY_ROLES[p['role']]}）" for p in parties]],
        },
    )
    return c


def _lock_open(session: Session, case_id: int, expected_version: int | None) -> MediationCase:
    c = get_case(session, case_id)
    _check_version(session, c, expected_version, "调解案件", "mediation_case")
    if c.status != "open":
        raise Conflict("该调解案件已结案，不能再修改", "case closed", code="case_closed")
    return c


def add_session(
    session: Session, *, actor: Actor, case_id: int, values: Mapping[str, Any], expected_version: int | None
) -> MediationSession:
    """Record a mediation session of an open case (audited; the case's version goes up)."""
    c = _lock_open(session, case_id, expected_version)
    held_on = _date(values, "held_on", "调解日期")
    if held_on < c.opened_on:  # an order with stored data: a conflict, as dates out of order are elsewhere
        raise Conflict(
            "调解日期不能早于受理日期",
            "held before the case was opened",
            code="date_order",
            details=[{"field": "held_on", "message": "调解日期早于受理日期"}],
        )
    notes_raw = _long(values, "notes", "调解记录", 4000)
    s = MediationSession(
        case_id=c.id,
        held_on=held_on,
        place=_text(values, "place", "调解地点", 128),
        mediator=_text(values, "mediator", "调解员", 64, required=True),
        notes=notes_raw,
        created_at=utcnow(),
    )
    session.add(s)
    session.flush()
    bump_version(session, c)
    audit_service.record(
        session,
        actor=actor,
        action="session",
        entity="mediation_case",
        entity_id=c.id,
        changes={
            "session": [None, {"held_on": held_on.isoformat(), "place": s.place, "mediator": s.mediator}]
        },
    )
    return s


def close_case(
    session: Session, *, actor: Actor, case_id: int, values: Mapping[str, Any], expected_version: int | None
) -> MediationCase:
    """Close a case with its outcome (调解成功 / 部分成功 / 未成功 / 转交) and a note (audited)."""
    c = _lock_open(session, case_id, expected_version)
    outcome = _choice(values, "outcome", "调解结果", rules.MEDIATION_OUTCOMES)
    note = _long(values, "outcome_note", "结果说明", 2000)
    if outcome == "transferred" and not note:
        raise ValidationFailed(
            "转交时请写明转交去向",
            "outcome_note",
            details=[{"field": "outcome_note", "message": "请写明转交去向"}],
        )
    closed_on = _date(values, "closed_on", "结案日期", today_shanghai())
    if closed_on < c.opened_on:
        raise Conflict(
            "结案日期不能早于受理日期",
            "closed before the case was opened",
            code="date_order",
            details=[{"field": "closed_on", "message": "结案日期早于受理日期"}],
        )
    c.status, c.outcome, c.outcome_note, c.closed_on = "closed", outcome, note, closed_on
    bump_version(session, c)
    audit_service.record(
        session,
        actor=actor,
        action="close",
        entity="mediation_case",
        entity_id=c.id,
        changes={
            "status": ["open", "closed"],
            "outcome": ["", outcome],
            "outcome_note": ["", note],
            "closed_on": [None, _plain(closed_on.isoformat())],
        },
    )
    return c
