"""Household service part: linking households to parcels (宗地) (see the package docstring)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.errors import NotFound
from anju.household.models import (
    Household,
)
from anju.household.service.base import _bump, _check_reason
from anju.project import service as project_service

__all__ = [
    "household_ids_by_code",
    "link_parcels",
]


def household_ids_by_code(session: Session, *, project_id: int, codes: Sequence[str]) -> dict[str, int]:
    """``code -> id`` of the project's live households among ``codes`` (all scopes: the parcel
    import of the project's set-up links households it names by code)."""
    out: dict[str, int] = {}
    wanted = sorted(set(codes))
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(Household.code, Household.id).where(
                Household.project_id == project_id,
                Household.code.in_(wanted[start : start + 500]),
                Household.voided_at.is_(None),
            )
        )
        out.update({str(c): int(i) for c, i in rows})
    return out


def link_parcels(
    session: Session, *, actor: Actor, project_id: int, parcel_of: Mapping[int, int | None], reason: str = ""
) -> int:
    """Set ``household id -> parcel id`` (None unlinks) for households of the project; returns how
    many changed. Each change raises the household's version and is audited on its file."""
    _check_reason(reason)
    ids = sorted(parcel_of)
    if not ids:
        return 0
    households = list(
        session.scalars(
            select(Household)
            .where(Household.id.in_(ids), Household.project_id == project_id, Household.voided_at.is_(None))
            .order_by(Household.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    if len(households) != len(ids):
        raise NotFound("该户不存在", "household not found")
    entries = []
    now = utcnow()
    for h in households:
        target = parcel_of[h.id]
        if h.parcel_id == target:
            continue
        entries.append(
            audit_service.AuditEntry(
                action="update",
                entity="household",
                entity_id=str(h.id),
                changes={"parcel_id": [h.parcel_id, target]},
                reason=reason,
                project_id=project_id,
                household_id=h.id,
            )
        )
        h.parcel_id = target
        h.updated_at = now
        _bump(session, h)
    if entries:
        project_service.bump_households_version(session, project_id)
        audit_service.record_many(session, actor=actor, entries=entries)
    return len(entries)
