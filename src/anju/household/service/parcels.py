"""Household service part: linking households to parcels (宗地) (see the package docstring)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
    "ParcelLinks",
    "household_ids_by_code",
    "link_parcels",
    "parcel_links",
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


def parcel_links(session: Session, *, project_id: int) -> dict[int, int]:
    """``household id -> parcel id`` of every household of the project on a parcel, voided ones
    included (a parcel that goes away must let go of them too)."""
    rows = session.execute(
        select(Household.id, Household.parcel_id).where(
            Household.project_id == project_id, Household.parcel_id.is_not(None)
        )
    )
    return {int(h): int(p) for h, p in rows if p is not None}


@dataclass(frozen=True, slots=True)
class ParcelLinks:
    """What :func:`link_parcels` changed: households put on a parcel that had none (``linked``),
    moved from one parcel to another (``relinked``), taken off their parcel (``unlinked``)."""

    linked: int = 0
    relinked: int = 0
    unlinked: int = 0

    @property
    def changed(self) -> int:
        """Households whose parcel changed."""
        return self.linked + self.relinked + self.unlinked


def link_parcels(
    session: Session, *, actor: Actor, project_id: int, parcel_of: Mapping[int, int | None], reason: str = ""
) -> ParcelLinks:
    """Set ``household id -> parcel id`` (None unlinks) for households of the project; returns what
    changed. Each change raises the household's version and is audited on its file.

    A voided household may only be unlinked (its parcel may be removed by a new parcel file); a
    household of another project, or a voided one given a parcel, is a :class:`NotFound`.
    """
    _check_reason(reason)
    ids = sorted(parcel_of)
    if not ids:
        return ParcelLinks()
    households = list(
        session.scalars(
            select(Household)
            .where(Household.id.in_(ids), Household.project_id == project_id)
            .order_by(Household.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    if len(households) != len(ids) or any(
        h.voided_at is not None and parcel_of[h.id] is not None for h in households
    ):
        raise NotFound("该户不存在", "household not found")
    entries = []
    linked = relinked = unlinked = 0
    now = utcnow()
    for h in households:
        target = parcel_of[h.id]
        if h.parcel_id == target:
            continue
        if target is None:
            unlinked += 1
        elif h.parcel_id is None:
            linked += 1
        else:
            relinked += 1
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
    return ParcelLinks(linked=linked, relinked=relinked, unlinked=unlinked)
