"""Household service part: reading the file (一户一档): the searchable list, one household's whole
file, its history and counts by status and block (see the package docstring).

Every read takes the caller's :class:`~anju.identity.service.DataScope`; a household outside the
scope is reported as not found, so its existence is not revealed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, false, func, select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.config import get_settings
from anju.core import secrets
from anju.core.ids import is_valid_id_number, normalize_id_number
from anju.core.pagination import Page, PageRequest
from anju.db import text as db_text
from anju.household import listing, rules
from anju.household.models import (
    Attachment,
    Building,
    Homestead,
    Household,
    Member,
    Tenant,
    Valuation,
)
from anju.household.service.base import CHILD_KINDS, _load, _load_child
from anju.identity.service import DataScope
from anju.project import service as project_service

__all__ = [
    "SORTS",
    "BuildingFile",
    "HouseholdFile",
    "HouseholdRow",
    "child_record",
    "counts_by_block",
    "counts_by_status",
    "counts_reached",
    "get_household",
    "get_household_file",
    "history",
    "list_households",
    "looks_like_id_number",
]

SORTS = {
    "code": Household.code,
    "head_name": Household.head_name,
    "status": Household.status,
    "updated_at": Household.updated_at,
}


@dataclass(frozen=True, slots=True)
class HouseholdRow:
    """One line of the household list."""

    id: int
    code: str
    head_name: str
    address: str
    status: str
    block_id: int | None
    block_path: str
    contact_phone: str
    member_count: int
    legal_area: Decimal
    updated_at: Any


def get_household(session: Session, *, scope: DataScope, household_id: int) -> Household:
    """One live household within the caller's scope (404 otherwise), without the rest of its file."""
    return _load(session, scope, household_id)


def looks_like_id_number(q: str) -> bool:
    """Whether a search text is a full, valid identity number (searched by blind index)."""
    return len(q) == 18 and is_valid_id_number(q)


# The household list's columns: the row itself, its live members and its live legal area.
_LIST_COLUMNS = (
    Household.id,
    Household.code,
    Household.head_name,
    Household.address,
    Household.status,
    Household.block_id,
    Household.contact_phone,
    Household.updated_at,
    select(func.count())
    .where(Member.household_id == Household.id, Member.voided_at.is_(None))
    .correlate(Household)
    .scalar_subquery(),
    select(func.sum(Building.legal_area))
    .where(Building.household_id == Household.id, Building.voided_at.is_(None))
    .correlate(Household)
    .scalar_subquery(),
)


def list_households(
    session: Session,
    *,
    scope: DataScope,
    project_id: int,
    q: str = "",
    block_id: int | None = None,
    status: str = "",
    sort: str = "code",
    descending: bool = False,
    page: PageRequest | None = None,
) -> Page[HouseholdRow]:
    """Search and page a project's households within the caller's scope.

    ``q`` matches part of the code, head or member name, or address; a complete identity number
    matches the member holding it exactly (identity numbers are stored encrypted).
    """
    page = page or PageRequest()
    cond: list[ColumnElement[bool]] = [
        Household.project_id == project_id,
        Household.voided_at.is_(None),
        scope.household_clause(Household.id),
    ]
    # Whole-project lists (the common case) take counts and search matches from per-version
    # caches; scoped lists (a team's few hundred households) are counted directly.
    whole = scope.whole
    key = listing.data_key(session, project_id) if whole else ()
    blocks = set(project_service.descendant_block_ids(session, block_id, project_id)) if block_id else None
    if blocks is not None:
        cond.append(Household.block_id.in_(blocks))
    if status:
        cond.append(Household.status == status)
    total: int | None = None
    matched: list[int] | None = None  # search matches, when few enough to order in Python
    q = q.strip()
    if q and looks_like_id_number(normalize_id_number(q)):
        digest = secrets.blind_index(get_settings().secret_key, normalize_id_number(q))
        cond.append(
            Household.id.in_(
                select(Member.household_id).where(
                    Member.id_number_digest == digest, Member.voided_at.is_(None)
                )
            )
        )
    elif q:
        needle = q.lower()
        if whole:
            found = listing.search(session, project_id, needle, key)
            if found.ids is not None:
                matched = found.ids
                cond.append(Household.id.in_(found.ids) if found.ids else false())
            else:
                cond.append(db_text.contains(session, Household.search_text, needle))
            if blocks is None and not status:
                total = found.total
        else:
            cond.append(db_text.contains(session, Household.search_text, needle))
    elif whole:
        counts = listing.grouped_counts(session, project_id, key)
        total = sum(
            n
            for (b, s), n in counts.items()
            if (blocks is None or b in blocks) and (not status or s == status)
        )
    order = SORTS.get(sort, Household.code)
    if matched is not None:
        # A short list of search matches: fetch their sort keys by primary key and order them
        # here. Ordered in SQL, the database walks the whole (project, code) index instead.
        # Only the id list in the WHERE clause, so the database looks the rows up by primary key;
        # the block and status filters are applied here.
        rows = session.execute(
            select(Household.id, order, Household.block_id, Household.status).where(Household.id.in_(matched))
        ).all()
        keyed = [
            (r[0], r[1])
            for r in rows
            if (blocks is None or r[2] in blocks) and (not status or r[3] == status)
        ]
        keyed.sort(key=lambda r: (r[1] is None, r[1], r[0]), reverse=descending)
        total = len(keyed)
        page_ids = [r[0] for r in keyed[page.offset : page.offset + page.size]]
        position = {hid: k for k, hid in enumerate(page_ids)}
        lines = sorted(
            session.execute(select(*_LIST_COLUMNS).where(Household.id.in_(page_ids))).all()
            if page_ids
            else [],
            key=lambda r: position[r[0]],
        )
    else:
        if total is None:
            total = int(session.scalar(select(func.count()).select_from(Household).where(*cond)) or 0)
        # One statement for the page: plain columns (no ORM objects to build) and the member
        # count and legal area as correlated subqueries, evaluated only for the 20 rows shown.
        lines = list(
            session.execute(
                select(*_LIST_COLUMNS)
                .where(*cond)
                .order_by(order.desc() if descending else order, Household.id)
                .offset(page.offset)
                .limit(page.size)
            )
        )
    paths = project_service.block_paths(session, project_id) if lines else {}
    cent = Decimal("0.01")
    items = [
        HouseholdRow(
            id=hid,
            code=code,
            head_name=head_name,
            address=address,
            status=st,
            block_id=bid,
            block_path=paths.get(bid, "") if bid else "",
            contact_phone=phone,
            member_count=int(n or 0),
            legal_area=Decimal(area or 0).quantize(cent),
            updated_at=updated_at,
        )
        for hid, code, head_name, address, st, bid, phone, updated_at, n, area in lines
    ]
    return Page(items=items, total=total, page=page.page, size=page.size)


@dataclass
class BuildingFile:
    """A building with its current valuation."""

    building: Building
    valuation: Valuation | None


@dataclass
class HouseholdFile:
    """Everything in one household's file, as the detail page shows it."""

    household: Household
    block_path: str
    members: list[Member]
    buildings: list[BuildingFile]
    tenants: list[Tenant]
    homestead: Homestead | None
    attachments: list[Attachment]
    totals: dict[str, Any] = field(default_factory=dict)


def get_household_file(session: Session, *, scope: DataScope, household_id: int) -> HouseholdFile:
    """The whole file of one household within the caller's scope."""
    h = _load(session, scope, household_id)
    members = list(
        session.scalars(
            select(Member)
            .where(Member.household_id == h.id, Member.voided_at.is_(None))
            .order_by(Member.sort, Member.id)
        )
    )
    buildings = list(
        session.scalars(
            select(Building)
            .where(Building.household_id == h.id, Building.voided_at.is_(None))
            .order_by(Building.sort, Building.id)
        )
    )
    valuations: dict[int, Valuation] = {}
    if buildings:
        for v in session.scalars(
            select(Valuation)
            .where(Valuation.building_id.in_([b.id for b in buildings]), Valuation.voided_at.is_(None))
            .order_by(Valuation.id)
        ):
            valuations[v.building_id] = v  # newest wins
    tenants = list(
        session.scalars(
            select(Tenant).where(Tenant.household_id == h.id, Tenant.voided_at.is_(None)).order_by(Tenant.id)
        )
    )
    homestead = session.scalar(
        select(Homestead).where(Homestead.household_id == h.id, Homestead.voided_at.is_(None))
    )
    attachments = list(
        session.scalars(
            select(Attachment)
            .where(Attachment.household_id == h.id, Attachment.voided_at.is_(None))
            .order_by(Attachment.id.desc())
        )
    )
    paths = project_service.block_paths(session, h.project_id)
    totals = {
        "legal_area": sum((b.legal_area for b in buildings), Decimal("0.00")),
        "unregistered_area": sum((b.unregistered_area for b in buildings), Decimal("0.00")),
        "assessed_value_fen": sum(v.assessed_value_fen for v in valuations.values()),
        "members": len(members),
        "resettlement_members": sum(1 for m in members if m.resettlement_counted),
    }
    return HouseholdFile(
        household=h,
        block_path=paths.get(h.block_id, "") if h.block_id else "",
        members=members,
        buildings=[BuildingFile(b, valuations.get(b.id)) for b in buildings],
        tenants=tenants,
        homestead=homestead,
        attachments=attachments,
        totals=totals,
    )


def child_record(session: Session, *, scope: DataScope, kind: str, child_id: int) -> tuple[Any, Household]:
    """A member, building, tenant or attachment (``kind``) within the caller's scope, with its household.

    Voided records and records of households outside the scope are reported as not found.
    """
    model, label = CHILD_KINDS[kind]
    return _load_child(session, scope, model, child_id, label)


def history(session: Session, *, scope: DataScope, household_id: int, limit: int = 200) -> list[Any]:
    """Audit records of one household, newest first."""
    _load(session, scope, household_id)
    return audit_service.history(session, household_id=household_id, limit=limit)


def counts_by_status(session: Session, *, scope: DataScope, project_id: int) -> dict[str, int]:
    """Number of households per status in a project, within scope."""
    rows = session.execute(
        select(Household.status, func.count())
        .where(
            Household.project_id == project_id,
            Household.voided_at.is_(None),
            scope.household_clause(Household.id),
        )
        .group_by(Household.status)
    ).all()
    return {str(s): int(n) for s, n in rows}


def counts_reached(session: Session, *, scope: DataScope, project_id: int) -> dict[str, int]:
    """Cumulative stage counts (see :func:`anju.household.rules.reached_counts`): 已调查 counts every
    household surveyed so far, those at any later stage included."""
    return rules.reached_counts(counts_by_status(session, scope=scope, project_id=project_id))


def counts_by_block(
    session: Session, *, scope: DataScope, project_id: int
) -> dict[int | None, dict[str, int]]:
    """``block_id -> {status: count}`` within scope (leaf blocks; the page rolls them up)."""
    rows = session.execute(
        select(Household.block_id, Household.status, func.count())
        .where(
            Household.project_id == project_id,
            Household.voided_at.is_(None),
            scope.household_clause(Household.id),
        )
        .group_by(Household.block_id, Household.status)
    ).all()
    out: dict[int | None, dict[str, int]] = {}
    for bid, status, n in rows:
        out.setdefault(bid, {})[str(status)] = int(n)
    return out
