"""Household service part: buildings (房屋), their valuations (评估), tenants (承租人) and the
homestead (宅基地) of a household's file (see the package docstring).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit.service import field_diff
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.core.masking import mask_id_number
from anju.core.money import yuan_to_fen
from anju.household import rules
from anju.household.models import (
    Building,
    Homestead,
    Tenant,
    Valuation,
)
from anju.household.service.base import (
    _apply,
    _bump,
    _changed,
    _check_reason,
    _check_version,
    _clean_or_raise,
    _created,
    _lock,
    _lock_child,
    _require_reason,
    _void,
)
from anju.identity.service import DataScope

__all__ = [
    "BUILDING_AUDIT_FIELDS",
    "TENANT_AUDIT_FIELDS",
    "add_building",
    "add_tenant",
    "add_valuation",
    "set_homestead",
    "update_building",
    "void_building",
    "void_tenant",
]

BUILDING_AUDIT_FIELDS = [f.name for f in rules.BUILDING_FIELDS]
TENANT_AUDIT_FIELDS = [f.name for f in rules.TENANT_FIELDS if f.name != "credential"] + ["credential_masked"]


def add_building(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    data: Mapping[str, Any],
    reason: str = "",
) -> Building:
    """Register a building (证) of a household; audited."""
    h = _lock(session, scope, household_id)
    values = _clean_or_raise(rules.BUILDING_FIELDS, data, "房屋")
    sort = int(session.scalar(select(func.count()).where(Building.household_id == h.id)) or 0)
    b = Building(household_id=h.id, sort=sort, **values)
    _created(
        session,
        actor,
        h,
        b,
        entity="building",
        changes=field_diff({}, values),
        reason=reason,
    )
    return b


def update_building(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    building_id: int,
    data: Mapping[str, Any],
    reason: str = "",
    expected_version: int | None = None,
) -> dict[str, list[Any]]:
    """Change a building's facts (areas, structure, use ...); returns the audited diff (409 when
    ``expected_version`` is stale)."""
    _check_reason(reason)  # refused even when nothing changes (and so nothing is audited)
    b, h = _lock_child(session, scope, Building, building_id, "房屋")
    _check_version(session, b, expected_version, what="该房屋信息", h=h)
    values = _clean_or_raise(rules.BUILDING_FIELDS, data, "房屋", partial=True)
    changes = _apply(b, values)
    if changes:
        _bump(session, b)
        _changed(
            session,
            actor,
            h,
            action="update",
            entity="building",
            entity_id=b.id,
            changes=changes,
            reason=reason,
        )
    return changes


def void_building(session: Session, *, actor: Actor, scope: DataScope, building_id: int, reason: str) -> None:
    """Void a building registered by mistake; reason required."""
    _require_reason(reason)
    b, h = _lock_child(session, scope, Building, building_id, "房屋")
    _void(session, actor, h=h, obj=b, entity="building", reason=reason)


def add_valuation(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    building_id: int,
    data: Mapping[str, Any],
    reason: str = "",
) -> Valuation:
    """Record a valuation result (评估) of a building; the newest one counts. Audited."""
    b, h = _lock_child(session, scope, Building, building_id, "房屋")
    values = _clean_or_raise(rules.VALUATION_FIELDS, data, "评估")
    v = Valuation(
        building_id=b.id,
        firm=values["firm"],
        report_no=values["report_no"],
        valued_on=values["valued_on"],
        assessed_unit_price_fen=yuan_to_fen(values["assessed_unit_price"]),
        assessed_value_fen=yuan_to_fen(values["assessed_value"]),
        decoration_fen=yuan_to_fen(values["decoration"]),
        fixtures_fen=yuan_to_fen(values["fixtures"]),
        created_at=utcnow(),
    )
    _created(
        session,
        actor,
        h,
        v,
        entity="valuation",
        changes=field_diff({}, values),
        reason=reason,
    )
    return v


def add_tenant(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    data: Mapping[str, Any],
    reason: str = "",
) -> Tenant:
    """Register a tenant or tenant enterprise (承租人); audited."""
    h = _lock(session, scope, household_id)
    values = _clean_or_raise(rules.TENANT_FIELDS, data, "承租人")
    credential = values.pop("credential", "")
    values["credential_masked"] = mask_id_number(credential) if values["kind"] == "person" else credential
    t = Tenant(household_id=h.id, **values)
    _created(
        session,
        actor,
        h,
        t,
        entity="tenant",
        changes=field_diff({}, values),
        reason=reason,
    )
    return t


def void_tenant(session: Session, *, actor: Actor, scope: DataScope, tenant_id: int, reason: str) -> None:
    """Void a tenant record; reason required."""
    _require_reason(reason)
    t, h = _lock_child(session, scope, Tenant, tenant_id, "承租人")
    _void(session, actor, h=h, obj=t, entity="tenant", reason=reason)


def set_homestead(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    data: Mapping[str, Any],
    reason: str = "",
    expected_version: int | None = None,
) -> Homestead:
    """Create or change the homestead (宅基地) facts of a household; audited.

    ``expected_version`` is the homestead's version the editor saw (none when there was no
    homestead yet); a stale one is a 409.
    """
    _check_reason(reason)  # refused even when nothing changes (and so nothing is audited)
    h = _lock(session, scope, household_id)
    hs = session.scalar(
        select(Homestead)
        .where(Homestead.household_id == h.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if hs is not None:
        _check_version(session, hs, expected_version, what="宅基地信息", h=h)
    values = _clean_or_raise(rules.HOMESTEAD_FIELDS, data, "宅基地")
    if hs is None:
        hs = Homestead(household_id=h.id, **values)
        session.add(hs)
        session.flush()
        changes = field_diff({}, values)
    else:
        changes = _apply(hs, values)
        if hs.voided_at is not None:
            hs.voided_at = None
            changes["voided_at"] = ["voided", None]
        if changes:
            _bump(session, hs)
    if changes:
        _changed(
            session,
            actor,
            h,
            action="update",
            entity="homestead",
            entity_id=hs.id,
            changes=changes,
            reason=reason,
        )
    return hs
