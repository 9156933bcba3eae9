"""Household service part: what other domains read of a whole project's households at once: the
files as plain rows, map placements, the campaign's facts, dates and labels (see the package docstring).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.household import listing
from anju.household.models import (
    Building,
    Homestead,
    Household,
    Member,
    Tenant,
    Valuation,
)
from anju.identity.service import DataScope

__all__ = [
    "CampaignFact",
    "GroupRow",
    "PlacedHousehold",
    "ProjectFiles",
    "ProjectTenant",
    "campaign_facts",
    "data_key",
    "event_dates",
    "group_rows",
    "household_labels",
    "household_versions",
    "live_households",
    "placed_households",
    "project_files",
    "project_tenants",
]


@dataclass(frozen=True, slots=True)
class PlacedHousehold:
    """A household as a map shows it: its parcel, block and stage (no other facts of its file)."""

    id: int
    code: str
    head_name: str
    status: str
    block_id: int | None
    parcel_id: int | None


def placed_households(
    session: Session,
    *,
    scope: DataScope,
    project_id: int,
    block_ids: Sequence[int] | None = None,
    within: DataScope | None = None,
) -> list[PlacedHousehold]:
    """Live households of a project within ``scope`` (and ``within``, e.g. one team's reach), by code;
    ``block_ids`` keeps only those blocks (pass a block and its descendants)."""
    cond = [
        Household.project_id == project_id,
        Household.voided_at.is_(None),
        scope.household_clause(Household.id),
    ]
    if within is not None:
        cond.append(within.household_clause(Household.id))
    if block_ids is not None:
        cond.append(Household.block_id.in_(list(block_ids)))
    rows = session.execute(
        select(
            Household.id,
            Household.code,
            Household.head_name,
            Household.status,
            Household.block_id,
            Household.parcel_id,
        )
        .where(*cond)
        .order_by(Household.code)
    )
    return [PlacedHousehold(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]


def live_households(*, scope: DataScope, project_id: int) -> Any:
    """A project's live households within ``scope`` as a subquery (``id, code, head_name, status, block_id,
    sign_on, vacate_on, demolish_on``) that other domains join their per-household rows to."""
    return (
        select(
            Household.id,
            Household.code,
            Household.head_name,
            Household.status,
            Household.block_id,
            Household.sign_on,
            Household.vacate_on,
            Household.demolish_on,
        )
        .where(
            Household.project_id == project_id,
            Household.voided_at.is_(None),
            scope.household_clause(Household.id),
        )
        .subquery("live_household")
    )


@dataclass
class ProjectFiles:
    """Every non-voided fact of a project's households, loaded in a handful of queries.

    Used where a whole project is computed at once (policy budgets, what-if). The entries are
    read-only rows with the models' column names as attributes (not ORM objects: building
    20,000 tracked instances would cost more than the computation they feed).
    """

    households: list[Any]
    members: dict[int, list[Any]]
    buildings: dict[int, list[Any]]
    valuations: dict[int, Any]  # building id -> newest valuation
    homesteads: dict[int, Any]
    tenants: dict[int, list[Any]]


def _rows(session: Session, model: Any, *where: Any, order: Sequence[Any] = ()) -> list[Any]:
    return list(session.execute(select(*model.__table__.c).where(*where).order_by(*order)))


def _by_household(rows: list[Any]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for r in rows:
        out.setdefault(r.household_id, []).append(r)
    return out


def project_files(
    session: Session, *, scope: DataScope, project_id: int, household_ids: Sequence[int] | None = None
) -> ProjectFiles:
    """Load the files of all (or the given) households of a project within scope, as plain rows."""
    cond = [
        Household.project_id == project_id,
        Household.voided_at.is_(None),
        scope.household_clause(Household.id),
    ]
    if household_ids is not None:
        cond.append(Household.id.in_(list(household_ids)))
    households = _rows(session, Household, *cond, order=(Household.code,))
    ids = select(Household.id).where(*cond)
    members = _by_household(
        _rows(
            session,
            Member,
            Member.household_id.in_(ids),
            Member.voided_at.is_(None),
            order=(Member.sort, Member.id),
        )
    )
    buildings = _by_household(
        _rows(
            session,
            Building,
            Building.household_id.in_(ids),
            Building.voided_at.is_(None),
            order=(Building.sort, Building.id),
        )
    )
    building_ids = select(Building.id).where(Building.household_id.in_(ids), Building.voided_at.is_(None))
    valuations = {
        v.building_id: v  # ordered by id: the newest wins
        for v in _rows(
            session,
            Valuation,
            Valuation.building_id.in_(building_ids),
            Valuation.voided_at.is_(None),
            order=(Valuation.id,),
        )
    }
    homesteads = {
        hs.household_id: hs
        for hs in _rows(session, Homestead, Homestead.household_id.in_(ids), Homestead.voided_at.is_(None))
    }
    tenants = _by_household(
        _rows(session, Tenant, Tenant.household_id.in_(ids), Tenant.voided_at.is_(None), order=(Tenant.id,))
    )
    return ProjectFiles(households, members, buildings, valuations, homesteads, tenants)


def data_key(session: Session, *, project_id: int) -> tuple[Any, ...]:
    """Identity of the project's current household data (changes with every household write or
    import); caches of whole-project results key on it."""
    return listing.data_key(session, project_id)


def event_dates(session: Session, *, project_id: int) -> list[tuple[int | None, date | None, date | None]]:
    """(block id, sign date, vacate date) of every live household of a project (all scopes:
    collective rewards depend on the whole block; only dates leave here)."""
    rows = session.execute(
        select(Household.block_id, Household.sign_on, Household.vacate_on).where(
            Household.project_id == project_id, Household.voided_at.is_(None)
        )
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


GroupRow = tuple[int, int | None, date | None, date | None, int, int]


def group_rows(
    session: Session, *, project_id: int, household_ids: Sequence[int] | None = None
) -> list[GroupRow]:
    """``(household id, block id, sign date, vacate date, certificates, legal area in hundredths of
    ㎡)`` of the project's live households (or of ``household_ids`` among them): what group rates
    by household, certificate and area count. Certificates are the distinct certificate numbers of
    the live buildings (a building without one counts on its own), as the engine facts count them."""
    cond = [Household.project_id == project_id, Household.voided_at.is_(None)]
    if household_ids is not None:
        if not household_ids:
            return []
        cond.append(Household.id.in_(list(household_ids)))
    heads = session.execute(
        select(Household.id, Household.block_id, Household.sign_on, Household.vacate_on).where(*cond)
    ).all()
    ids = select(Household.id).where(*cond)
    certs: dict[int, set[str]] = {}
    area: dict[int, int] = {}
    for bid, hid, cert, legal in session.execute(
        select(Building.id, Building.household_id, Building.certificate_no, Building.legal_area).where(
            Building.household_id.in_(ids), Building.voided_at.is_(None)
        )
    ):
        # A building without a number is a certificate of its own, as in the engine's facts
        # (``#<id>``, one per-certificate line each).
        certs.setdefault(hid, set()).add((cert or "").strip() or f"#{bid}")
        area[hid] = area.get(hid, 0) + int((legal or 0) * 100)
    return [(r[0], r[1], r[2], r[3], len(certs.get(r[0], ())), area.get(r[0], 0)) for r in heads]


def household_versions(session: Session, *, project_id: int) -> dict[int, int]:
    """household id -> version of the project's live households: a household's version moves with
    every change of its file, so comparing these finds what changed since a cached read."""
    rows = session.execute(
        select(Household.id, Household.version).where(
            Household.project_id == project_id, Household.voided_at.is_(None)
        )
    )
    return {int(r[0]): int(r[1]) for r in rows}


CampaignFact = tuple[int, int | None, str, date | None, date | None, date | None, date | None, Any]


def campaign_facts(
    session: Session, *, project_id: int, scope: DataScope | None = None
) -> list[CampaignFact]:
    """Compact rows ``(id, block_id, status, sign_on, vacate_on, demolish_on, paid_on, created_at)`` of
    the project's live households (within ``scope`` when given), by id: one query for the campaign's
    progress and forecast, which aggregate them in memory."""
    cond = [Household.project_id == project_id, Household.voided_at.is_(None)]
    if scope is not None and not scope.whole:
        cond.append(scope.household_clause(Household.id))
    rows = session.execute(
        select(
            Household.id,
            Household.block_id,
            Household.status,
            Household.sign_on,
            Household.vacate_on,
            Household.demolish_on,
            Household.paid_on,
            Household.created_at,
        )
        .where(*cond)
        .order_by(Household.id)
    ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def household_labels(session: Session, *, household_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """``id -> (code, head name)`` of a few households (all scopes: callers pass ids they may show)."""
    out: dict[int, tuple[str, str]] = {}
    wanted = sorted(set(household_ids))
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(Household.id, Household.code, Household.head_name).where(
                Household.id.in_(wanted[start : start + 500])
            )
        )
        out.update({int(i): (str(c), str(n)) for i, c, n in rows})
    return out


@dataclass(frozen=True, slots=True)
class ProjectTenant:
    """A tenant (承租人 / 承租企业) of a project's household, as a clearance list shows it."""

    id: int
    household_id: int
    household_code: str
    head_name: str
    household_status: str
    name: str
    kind: str
    business: str
    area: Any
    lease_end_on: date | None


def project_tenants(session: Session, *, scope: DataScope, project_id: int) -> list[ProjectTenant]:
    """The live tenants of a project's live households within ``scope``, by household code then
    tenant id: one query (a campaign may clear hundreds of enterprises)."""
    cond = [
        Household.project_id == project_id,
        Household.voided_at.is_(None),
        Tenant.voided_at.is_(None),
    ]
    if not scope.whole:
        cond.append(scope.household_clause(Household.id))
    rows = session.execute(
        select(
            Tenant.id,
            Tenant.household_id,
            Household.code,
            Household.head_name,
            Household.status,
            Tenant.name,
            Tenant.kind,
            Tenant.business,
            Tenant.area,
            Tenant.lease_end_on,
        )
        .join(Household, Household.id == Tenant.household_id)
        .where(*cond)
        .order_by(Household.code, Tenant.id)
    ).all()
    return [
        ProjectTenant(
            id=r[0],
            household_id=r[1],
            household_code=r[2],
            head_name=r[3],
            household_status=r[4],
            name=r[5],
            kind=r[6],
            business=r[7],
            area=r[8],
            lease_end_on=r[9],
        )
        for r in rows
    ]
