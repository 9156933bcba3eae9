"""Tenant clearance (承租人 / 承租企业清退): one tenant at a time from the household, or many at
once from the project's list (a campaign may clear hundreds of enterprises in days: one office
cleared 352 in 10 days). A tenant may be cleared before or after its household signs.

Shares its checks (text, checklist, dates, photos) with :mod:`.clearance`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.agreement import rules
from anju.agreement.models import TenantClearance
from anju.agreement.service.clearance import (
    Photo,
    _audit,
    _check_photos,
    _checklist,
    _date_conflict,
    _fail,
    _store_photos,
    _text,
)
from anju.core import text
from anju.core.actor import Actor
from anju.core.dates import today_shanghai, utcnow
from anju.db import events
from anju.errors import Conflict, NotFound
from anju.household import service as household_service
from anju.identity.service import DataScope
from anju.project import service as project_service

__all__ = [
    "MAX_BULK",
    "TenantClearanceList",
    "TenantClearanceRow",
    "live_tenant_clearances",
    "record_tenant_clearance",
    "record_tenant_clearances",
    "tenant_clearance_count",
    "tenant_clearances",
    "void_tenant_clearance",
]


def _live_tenant_clearance(session: Session, tenant_id: int) -> TenantClearance | None:
    return session.scalars(
        select(TenantClearance)
        .where(TenantClearance.tenant_id == tenant_id, TenantClearance.voided_at.is_(None))
        .order_by(TenantClearance.id)
    ).first()


def _new_tenant_clearance(
    session: Session,
    *,
    actor: Actor,
    tenant: Any,
    h: Any,
    cleared_on: date,
    checklist_json: str,
    inspector: str,
    note: str,
    photo_ids: str,
    recorded_at: datetime,
) -> TenantClearance:
    rec = TenantClearance(
        project_id=h.project_id,
        household_id=h.id,
        tenant_id=tenant.id,
        cleared_on=cleared_on,
        checklist=checklist_json,
        inspector=inspector,
        note=note,
        photo_ids=photo_ids,
        recorded_by=actor.user_id,
        recorded_at=recorded_at,
        void_reason="",
    )
    session.add(rec)
    session.flush()
    _audit(
        session,
        actor,
        action="clear",
        entity="tenant_clearance",
        entity_id=rec.id,
        project_id=h.project_id,
        household_id=h.id,
        changes={
            "tenant_id": [None, tenant.id],
            "tenant": [None, tenant.name],
            "cleared_on": [None, cleared_on.isoformat()],
            "checklist": [None, json.loads(checklist_json)],
            "inspector": [None, inspector],
            "photo_ids": [None, photo_ids],
        },
        reason=note,
    )
    return rec


def _cleared_already(names: list[str]) -> Conflict:
    shown = "、".join(f"“{n}”" for n in names[:10]) + (f"等{len(names)}个" if len(names) > 10 else "")
    return Conflict(
        f"承租人{shown}已登记清退，如需更正请先作废原记录",
        "the tenant is cleared already",
        code="already_cleared",
        details=[{"field": "tenant_id", "message": f"{n}已登记清退"} for n in names],
    )


def record_tenant_clearance(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    tenant_id: int,
    cleared_on: date,
    checklist: dict[str, Any],
    inspector: str,
    note: str = "",
    photo_ids: Sequence[int] = (),
    photos: Sequence[Photo] = (),
    today: date | None = None,
    recorded_at: datetime | None = None,
) -> TenantClearance:
    """Record that a tenant (承租人 / 承租企业) of a household was cleared (清退); audited.

    404 for a tenant that is voided or outside the scope; 409 ``already_cleared`` when cleared
    already (void the record to correct it), ``clearance_date`` for a date after today. A tenant may
    be cleared before or after the household signs (enterprises often leave first).
    """
    today = today or today_shanghai()
    inspector = _text(inspector, "inspector", "验收人", 64, required=True, multiline=False)
    note = _text(note, "note", "备注", 1000, required=False, multiline=True)
    checklist_json = _checklist(checklist, rules.TENANT_CHECKLIST)
    tenant, h = household_service.child_record(session, scope=scope, kind="tenant", child_id=tenant_id)
    if _live_tenant_clearance(session, tenant_id) is not None:
        raise _cleared_already([tenant.name])
    problem = rules.event_date_problem(cleared_on, today=today, after=None, after_label="")
    if problem:
        raise _date_conflict("cleared_on", "清退日期", problem, "clearance_date")
    ids = _check_photos(session, scope=scope, household_id=h.id, photo_ids=photo_ids, photos=photos)
    rec = _new_tenant_clearance(
        session,
        actor=actor,
        tenant=tenant,
        h=h,
        cleared_on=cleared_on,
        checklist_json=checklist_json,
        inspector=inspector,
        note=note,
        photo_ids=_store_photos(session, actor=actor, scope=scope, household_id=h.id, ids=ids, photos=photos),
        recorded_at=recorded_at or utcnow(),
    )
    events.notify(
        session,
        topic=events.project_topic(h.project_id),
        kind="clearance",
        data={"household_id": h.id, "what": "tenant", "on": cleared_on.isoformat()},
    )
    return rec


MAX_BULK = 500  # tenants cleared in one quick entry


def record_tenant_clearances(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    project_id: int,
    tenant_ids: Sequence[int],
    cleared_on: date,
    checklist: dict[str, Any],
    inspector: str,
    note: str = "",
    today: date | None = None,
    recorded_at: datetime | None = None,
) -> list[TenantClearance]:
    """Quick entry: clear several tenants of a project at once with one date, checklist and
    inspector (a campaign clears hundreds in days); all or nothing. A tenant that is not one of the
    project's (or outside the scope) is a 404; any already cleared makes it a 409 naming them."""
    today = today or today_shanghai()
    ids = list(dict.fromkeys(tenant_ids))
    if not ids:
        raise _fail("tenant_ids", "请选择要登记清退的承租人")
    if len(ids) > MAX_BULK:
        raise _fail("tenant_ids", f"一次最多登记{MAX_BULK}个承租人")
    inspector = _text(inspector, "inspector", "验收人", 64, required=True, multiline=False)
    note = _text(note, "note", "备注", 1000, required=False, multiline=True)
    checklist_json = _checklist(checklist, rules.TENANT_CHECKLIST)
    problem = rules.event_date_problem(cleared_on, today=today, after=None, after_label="")
    if problem:
        raise _date_conflict("cleared_on", "清退日期", problem, "clearance_date")
    pairs = []
    for tid in ids:
        tenant, h = household_service.child_record(session, scope=scope, kind="tenant", child_id=tid)
        if h.project_id != project_id:
            raise NotFound("承租人不存在或不在您的权限范围内", "tenant of another project")
        pairs.append((tenant, h))
    done = {
        c.tenant_id
        for c in session.scalars(
            select(TenantClearance).where(
                TenantClearance.tenant_id.in_(ids), TenantClearance.voided_at.is_(None)
            )
        )
    }
    if done:
        raise _cleared_already([t.name for t, _h in pairs if t.id in done])
    now = recorded_at or utcnow()
    out = [
        _new_tenant_clearance(
            session,
            actor=actor,
            tenant=t,
            h=h,
            cleared_on=cleared_on,
            checklist_json=checklist_json,
            inspector=inspector,
            note=note,
            photo_ids="",
            recorded_at=now,
        )
        for t, h in pairs
    ]
    events.notify(
        session,
        topic=events.project_topic(project_id),
        kind="clearance",
        data={"what": "tenant", "count": len(out), "on": cleared_on.isoformat()},
    )
    return out


def void_tenant_clearance(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    tenant_id: int,
    reason: str,
    recorded_at: datetime | None = None,
) -> TenantClearance:
    """Void a tenant's clearance record (a mistake); audited. 409 ``no_clearance`` when there is none."""
    reason = _text(reason, "reason", "作废理由", text.MAX_REASON, required=True, multiline=True)
    tenant, h = household_service.child_record(session, scope=scope, kind="tenant", child_id=tenant_id)
    rec = _live_tenant_clearance(session, tenant_id)
    if rec is None:
        raise Conflict(
            f"承租人“{tenant.name}”没有有效的清退记录可作废", "no clearance to void", code="no_clearance"
        )
    rec.voided_at = recorded_at or utcnow()
    rec.void_reason = reason
    session.flush()
    _audit(
        session,
        actor,
        action="void",
        entity="tenant_clearance",
        entity_id=rec.id,
        project_id=h.project_id,
        household_id=h.id,
        changes={"voided_at": [None, rec.voided_at.isoformat()]},
        reason=reason,
    )
    return rec


def live_tenant_clearances(session: Session, tenant_ids: Sequence[int]) -> dict[int, TenantClearance]:
    """tenant id -> its live clearance, for the given tenants (those cleared)."""
    ids = list(tenant_ids)
    out: dict[int, TenantClearance] = {}
    for start in range(0, len(ids), 500):
        for c in session.scalars(
            select(TenantClearance)
            .where(
                TenantClearance.tenant_id.in_(ids[start : start + 500]), TenantClearance.voided_at.is_(None)
            )
            .order_by(TenantClearance.id)
        ):
            out.setdefault(c.tenant_id, c)  # the first live record counts
    return out


@dataclass
class TenantClearanceRow:
    """A tenant of the project with its live clearance, if cleared."""

    tenant: Any  # household_service.ProjectTenant
    clearance: TenantClearance | None


@dataclass
class TenantClearanceList:
    """A project's tenants (within scope) with their clearance; counts and clearances per day."""

    project_id: int
    rows: list[TenantClearanceRow]
    total: int
    cleared: int
    cleared_today: int
    daily: list[tuple[date, int]] = field(default_factory=list)  # (day, clearances that day), oldest first

    @property
    def open(self) -> int:
        """Tenants not cleared yet."""
        return self.total - self.cleared


def tenant_clearances(
    session: Session, *, scope: DataScope, project_id: int, today: date | None = None
) -> TenantClearanceList:
    """The project's tenants within ``scope`` with their clearance, the counts (cleared / total) and
    the number cleared each day (the campaign's pace: one office cleared 352 in 10 days)."""
    today = today or today_shanghai()
    project_service.get_project(session, project_id)
    tenants = household_service.project_tenants(session, scope=scope, project_id=project_id)
    by_tenant = live_tenant_clearances(session, [t.id for t in tenants])
    rows = [TenantClearanceRow(t, by_tenant.get(t.id)) for t in tenants]
    per_day: dict[date, int] = {}
    for c in by_tenant.values():
        per_day[c.cleared_on] = per_day.get(c.cleared_on, 0) + 1
    return TenantClearanceList(
        project_id=project_id,
        rows=rows,
        total=len(rows),
        cleared=len(by_tenant),
        cleared_today=per_day.get(today, 0),
        daily=sorted(per_day.items()),
    )


def tenant_clearance_count(session: Session, *, project_id: int) -> int:
    """Number of tenants of a project with a live clearance (all scopes; a count only)."""
    return int(
        session.scalar(
            select(func.count(func.distinct(TenantClearance.tenant_id))).where(
                TenantClearance.project_id == project_id, TenantClearance.voided_at.is_(None)
            )
        )
        or 0
    )
