"""Household file (一户一档) use cases: browse and search, read the file, edit facts with audit.

Every read takes the caller's :class:`~anju.identity.service.DataScope`; a household outside the
scope is reported as not found, so its existence is not revealed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, false, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from anju import uploads as upload_policy
from anju.audit import service as audit_service
from anju.audit.service import field_diff
from anju.config import get_settings
from anju.core import secrets, text
from anju.core import uploads as core_uploads
from anju.core.actor import Actor
from anju.core.dates import to_shanghai, utcnow
from anju.core.ids import birth_date, gender, is_valid_id_number, normalize_id_number
from anju.core.masking import mask_id_number
from anju.core.money import yuan_to_fen
from anju.core.pagination import Page, PageRequest
from anju.db import text as db_text
from anju.errors import Conflict, NotFound, ValidationFailed
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
from anju.identity import service as identity_service
from anju.identity.service import DataScope
from anju.project import service as project_service

SORTS = {
    "code": Household.code,
    "head_name": Household.head_name,
    "status": Household.status,
    "updated_at": Household.updated_at,
}

M = TypeVar("M")

# Audit entity names of the versioned child records.
_ENTITY_OF: dict[type[Any], str] = {
    Member: "member",
    Building: "building",
    Tenant: "tenant",
    Homestead: "homestead",
}


def _fail(errors: Sequence[rules.FieldError], what: str) -> ValidationFailed:
    return ValidationFailed(
        f"{what}信息有误：" + "；".join(e.text() for e in errors),
        f"invalid {what}",
        details=[{"field": e.field, "label": e.label, "message": e.message} for e in errors],
    )


def _clean_or_raise(
    fields: tuple[rules.Field, ...], raw: Mapping[str, Any], what: str, *, partial: bool = False
) -> dict[str, Any]:
    values, errors = rules.clean(fields, raw, partial=partial)
    if errors:
        raise _fail(errors, what)
    return values


def _snapshot(obj: Any, names: Sequence[str]) -> dict[str, Any]:
    return {n: getattr(obj, n) for n in names}


def _apply(obj: Any, values: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Set attributes and return the field-level diff."""
    before = _snapshot(obj, list(values))
    for k, v in values.items():
        setattr(obj, k, v)
    return field_diff(before, dict(values))


# ---------------------------------------------------------------- reading


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


def _load(session: Session, scope: DataScope, household_id: int) -> Household:
    household = session.scalar(
        select(Household).where(
            Household.id == household_id, Household.voided_at.is_(None), scope.household_clause(Household.id)
        )
    )
    if household is None:
        raise NotFound("该户不存在或不在您的权限范围内", "household not found")
    return household


def get_household(session: Session, *, scope: DataScope, household_id: int) -> Household:
    """One live household within the caller's scope (404 otherwise), without the rest of its file."""
    return _load(session, scope, household_id)


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
    cond = [Household.project_id == project_id, Household.voided_at.is_(None), scope.household_clause(Household.id)]
    if within is not None:
        cond.append(within.household_clause(Household.id))
    if block_ids is not None:
        cond.append(Household.block_id.in_(list(block_ids)))
    rows = session.execute(
        select(
            Household.id, Household.code, Household.head_name, Household.status, Household.block_id,
            Household.parcel_id,
        )
        .where(*cond)
        .order_by(Household.code)
    )
    return [PlacedHousehold(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]


def stage_labels() -> dict[str, str]:
    """``stage code -> 中文`` of the household stages (its status), in campaign order."""
    return dict(rules.STATUSES)


# ---------------------------------------------------------------- loading for writing
#
# Lock order on every write path (no deadlocks between them): the household row, then the child
# row being changed, then the project row (households_version), then the audit head. A write
# loads its rows with SELECT ... FOR UPDATE (on SQLite the request's BEGIN IMMEDIATE already
# excludes other writers) and re-reads them, so the audit's "before" values are the committed
# ones; the version bump is an UPDATE guarded by the version read, so even a path that forgot
# the lock cannot overwrite a concurrent change unnoticed.


def _in_scope(session: Session, scope: DataScope, household_id: int) -> bool:
    if scope.whole:
        return True
    hit = session.scalar(
        select(Household.id).where(Household.id == household_id, scope.household_clause(Household.id))
    )
    return hit is not None


def _lock(session: Session, scope: DataScope, household_id: int) -> Household:
    """A live household within scope, its row locked for this transaction and freshly read."""
    household = session.scalar(
        select(Household)
        .where(Household.id == household_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if household is None or household.voided_at is not None or not _in_scope(session, scope, household_id):
        raise NotFound("该户不存在或不在您的权限范围内", "household not found")
    return household


def _lock_child(
    session: Session, scope: DataScope, model: type[M], child_id: int, label: str
) -> tuple[M, Household]:
    """A live member, building, tenant ... and its household, both rows locked (household first)."""
    table: Any = model
    household_id = session.scalar(select(table.household_id).where(table.id == child_id))
    if household_id is None:
        raise NotFound(f"{label}不存在", f"{label} not found")
    h = _lock(session, scope, int(household_id))
    obj = session.scalar(
        select(model).where(table.id == child_id).with_for_update().execution_options(populate_existing=True)
    )
    if obj is None or getattr(obj, "voided_at", None) is not None:
        raise NotFound(f"{label}不存在", f"{label} not found")
    return obj, h


def stale_version(
    session: Session,
    *,
    what: str,
    current: int,
    household_id: int | None = None,
    entity: str = "",
    entity_id: int | str = "",
) -> Conflict:
    """The 409 for a write based on an old version: names who changed the record last, and when
    (Asia/Shanghai), from the newest audit record of the entity (or of the household's file)."""
    record = audit_service.last_change(session, household_id=household_id, entity=entity, entity_id=entity_id)
    detail: dict[str, Any] = {"field": "version", "current_version": current}
    if record is None:
        message = f"{what}已被他人修改，请刷新页面后重试"
        message_en = "changed by someone else meanwhile; reload and try again"
    else:
        who = identity_service.display_name(session, record.actor_id, record.actor_name)
        when = to_shanghai(record.at)
        message = f"{what}已被 {who} 于 {when:%Y-%m-%d %H:%M} 修改，请刷新页面后重试"
        message_en = f"changed by {who} at {when:%Y-%m-%d %H:%M} meanwhile; reload and try again"
        detail.update(changed_by=who, changed_at=when.isoformat())
    detail["message"] = message
    return Conflict(message, message_en, code="stale_version", details=[detail])


def _check_version(session: Session, obj: Any, expected: int | None, *, what: str, h: Household) -> None:
    if expected is None or obj.version == expected:
        return
    if obj is h:
        raise stale_version(session, what=what, current=h.version, household_id=h.id)
    raise stale_version(
        session, what=what, current=obj.version, entity=_ENTITY_OF[type(obj)], entity_id=obj.id
    )


def _bump(session: Session, obj: Any) -> None:
    """Raise ``obj``'s version by one, guarded by the version this transaction read."""
    model = type(obj)
    old = int(obj.version)
    result: Any = session.execute(
        update(model)
        .where(model.id == obj.id, model.version == old)
        .values(version=old + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(
            "该记录已被他人修改，请刷新页面后重试", "changed by someone else meanwhile", code="stale_version"
        )
    set_committed_value(obj, "version", old + 1)


_VERSIONED: dict[str, type[Any]] = {
    "household": Household,
    "member": Member,
    "building": Building,
    "tenant": Tenant,
    "homestead": Homestead,
}


def version_of(session: Session, *, kind: str, record_id: int) -> int:
    """The current version of a record this transaction read or wrote (household, member ...)."""
    obj = session.get(_VERSIONED[kind], record_id)
    if obj is None:
        raise NotFound("记录不存在", "record not found")
    return int(obj.version)


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


def reveal_id_number(member: Member) -> str:
    """Decrypt a member's identity number (callers check the ``pii.read`` permission first)."""
    if not member.id_number_cipher:
        return ""
    return secrets.decrypt(get_settings().secret_key, member.id_number_cipher)


def reveal_member_id_number(session: Session, *, actor: Actor, scope: DataScope, member_id: int) -> str:
    """A member's full identity number within the caller's scope; every reveal is audited.

    Callers check the ``pii.read`` permission first.
    """
    m, h = _load_member(session, scope, member_id)
    value = reveal_id_number(m)
    audit_service.record(
        session,
        actor=actor,
        action="reveal",
        entity="member",
        entity_id=m.id,
        project_id=h.project_id,
        household_id=h.id,
        changes={"field": "id_number"},
    )
    return value


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


# ---------------------------------------------------------------- writing


def _refresh_search_text(session: Session, h: Household) -> None:
    names = list(
        session.scalars(select(Member.name).where(Member.household_id == h.id, Member.voided_at.is_(None)))
    )
    h.search_text = rules.search_text(h.code, h.head_name, h.address, [n for n in names if n != h.head_name])


def _touch(session: Session, h: Household) -> None:
    h.updated_at = utcnow()
    _bump(session, h)  # after any pending change of the row is flushed: household, then project
    project_service.bump_households_version(session, h.project_id)


def _audit(
    session: Session,
    actor: Actor,
    *,
    action: str,
    entity: str,
    entity_id: int,
    h: Household,
    changes: dict[str, Any],
    reason: str,
) -> None:
    _check_reason(reason)
    audit_service.record(
        session,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        project_id=h.project_id,
        household_id=h.id,
        changes=changes,
        reason=reason,
    )


def _changed(
    session: Session,
    actor: Actor,
    h: Household,
    *,
    action: str,
    entity: str,
    entity_id: int,
    changes: dict[str, Any],
    reason: str,
) -> None:
    """A change to ``h``'s file: the household's version moves and the change is audited."""
    _touch(session, h)
    _audit(
        session, actor, action=action, entity=entity, entity_id=entity_id, h=h, changes=changes, reason=reason
    )


def _created(
    session: Session,
    actor: Actor,
    h: Household,
    obj: Any,
    *,
    entity: str,
    changes: dict[str, Any],
    reason: str,
) -> None:
    """Insert ``obj``, a new record of ``h``'s file, and audit its creation."""
    session.add(obj)
    session.flush()
    _changed(
        session, actor, h, action="create", entity=entity, entity_id=obj.id, changes=changes, reason=reason
    )


def _block_id_of(value: Any) -> int | None:
    """A block id from a form or JSON value; blank is none, anything but a valid id is a field error."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    n = value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 19:
        n = int(value.strip())
    if n is None or not 1 <= n <= text.MAX_ID:
        raise ValidationFailed(
            "所属区块不合法", "invalid block", details=[{"field": "block_id", "label": "所属区块", "message": "不合法"}]
        )
    return n


def _check_block(session: Session, project_id: int, block_id: int | None) -> None:
    if block_id is None:
        return
    blocks = {b.id for b in project_service.blocks(session, project_id)}
    if block_id not in blocks:
        # A well-formed id naming no block of this project: a record that is not there (404), as for a
        # parent block, not a malformed value.
        raise NotFound(
            "所属区块不存在或不属于本项目",
            "block not in project",
            details=[{"field": "block_id", "message": "所属区块：不存在或不属于本项目"}],
        )


def _check_reason(reason: str) -> None:
    """Refuse a reason the audit record cannot keep whole (over 500 characters) or with control characters."""
    problem = text.text_problem(reason, max_len=text.MAX_REASON, multiline=True)
    if problem:
        raise ValidationFailed(
            f"理由{problem}", "invalid reason", details=[{"field": "reason", "label": "理由", "message": problem}]
        )


def _require_reason(reason: str, what: str = "作废") -> None:
    _check_reason(reason)
    if not reason.strip():
        raise ValidationFailed(
            f"{what}必须填写理由", "a reason is required", details=[{"field": "reason", "message": "必填"}]
        )


def _void(
    session: Session,
    actor: Actor,
    *,
    h: Household,
    obj: Any,
    entity: str,
    reason: str,
    changes: dict[str, Any] | None = None,
) -> None:
    """Void a record of the file (never delete it) and audit why."""
    obj.voided_at = utcnow()
    obj.void_reason = reason
    if obj is not h and hasattr(obj, "version"):
        _bump(session, obj)
    _changed(
        session,
        actor,
        h,
        action="void",
        entity=entity,
        entity_id=obj.id,
        changes=changes or {},
        reason=reason,
    )


def create_household(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    data: Mapping[str, Any],
    block_id: int | None = None,
    reason: str = "",
) -> Household:
    """Register a new household in a project; audited with a snapshot of its facts."""
    values = _clean_or_raise(rules.HOUSEHOLD_FIELDS, data, "户")
    project_service.get_project(session, project_id)
    _check_block(session, project_id, block_id)
    if session.scalar(
        select(Household.id).where(Household.project_id == project_id, Household.code == values["code"])
    ):
        raise Conflict(
            f"户号“{values['code']}”在本项目中已存在", "household code exists", code="duplicate_household"
        )
    now = utcnow()
    h = Household(
        project_id=project_id, block_id=block_id, status="surveyed", created_at=now, updated_at=now, **values
    )
    h.search_text = rules.search_text(h.code, h.head_name, h.address, [])
    session.add(h)
    try:
        session.flush()
    except IntegrityError as exc:  # the same code registered by a concurrent request
        raise Conflict(
            f"户号“{values['code']}”在本项目中已存在", "household code exists", code="duplicate_household"
        ) from exc
    project_service.bump_households_version(session, project_id)
    _audit(
        session,
        actor,
        action="create",
        entity="household",
        entity_id=h.id,
        h=h,
        changes=field_diff({}, {**values, "block_id": block_id, "status": "surveyed"}),
        reason=reason,
    )
    return h


def update_household(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    data: Mapping[str, Any],
    reason: str = "",
    expected_version: int | None = None,
) -> dict[str, list[Any]]:
    """Change a household's basic facts; returns the field-level diff (empty when nothing changed).

    ``expected_version`` (the version the editor saw) refuses the change with a 409 naming who
    changed the household meanwhile; the row is locked and re-read before it is compared.
    """
    _check_reason(reason)  # refused even when nothing changes (and so nothing is audited)
    h = _lock(session, scope, household_id)
    _check_version(session, h, expected_version, what="该户信息", h=h)
    values = _clean_or_raise(rules.HOUSEHOLD_FIELDS, data, "户", partial=True)
    if "block_id" in data:
        block_id = _block_id_of(data["block_id"])
        _check_block(session, h.project_id, block_id)
        values["block_id"] = block_id
    if "code" in values and values["code"] != h.code:
        clash = session.scalar(
            select(Household.id).where(Household.project_id == h.project_id, Household.code == values["code"])
        )
        if clash:
            raise Conflict(
                f"户号“{values['code']}”在本项目中已存在", "household code exists", code="duplicate_household"
            )
    changes = _apply(h, values)
    if not changes:
        return {}
    _refresh_search_text(session, h)
    _changed(
        session,
        actor,
        h,
        action="update",
        entity="household",
        entity_id=h.id,
        changes=changes,
        reason=reason,
    )
    return changes


def change_status(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    status: str,
    reason: str = "",
    expected_version: int | None = None,
) -> None:
    """Move a household along :data:`rules.STATUS_TRANSITIONS`; audited (409 on a stale version)."""
    h = _lock(session, scope, household_id)
    _check_version(session, h, expected_version, what="该户信息", h=h)
    rules.check_transition(h.status, status)
    changes = _apply(h, {"status": status})
    _changed(
        session,
        actor,
        h,
        action="status",
        entity="household",
        entity_id=h.id,
        changes=changes,
        reason=reason,
    )


# The campaign stage (阶段) is the status; anju.campaign moves it through set_stage and keeps its timeline.
STAGES = rules.STATUSES
# The household's date of each stage that has one (signing, vacating, demolition).
STAGE_DATE_FIELDS = {"signed": "sign_on", "vacated": "vacate_on", "demolished": "demolish_on"}


def next_stages(stage: str) -> frozenset[str]:
    """The stages a household in ``stage`` may move to (:data:`rules.STATUS_TRANSITIONS`)."""
    return rules.STATUS_TRANSITIONS.get(stage, frozenset())


def set_stage(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    stage: str,
    on: date | None,
    reason: str = "",
) -> Household:
    """Move a household to ``stage`` like :func:`change_status` and record the stage's date
    (``sign_on`` / ``vacate_on`` / ``demolish_on`` for signed / vacated / demolished, required); audited."""
    h = _lock(session, scope, household_id)
    rules.check_transition(h.status, stage)
    values: dict[str, Any] = {"status": stage}
    date_field = STAGE_DATE_FIELDS.get(stage)
    if date_field is not None:
        if on is None:
            raise ValidationFailed(
                f"{STAGES[stage]}须填写日期", "the stage's date is required", details=[{"field": "on", "message": "必填"}]
            )
        values[date_field] = on
    changes = _apply(h, values)
    _changed(
        session, actor, h, action="status", entity="household", entity_id=h.id, changes=changes, reason=reason
    )
    return h


def record_paid(session: Session, *, actor: Actor, household_id: int, paid_on: date, reason: str = "") -> Household:
    """Record the day a signed household's compensation was paid in full (``paid_on``); audited.

    Progress counts payment rates from this date. The payments of the signing issue will call it
    when an agreement's last scheduled payment is made; until then it is the demo's and the CLI's.
    """
    h = _lock(session, DataScope.everything(), household_id)
    if h.sign_on is None:
        raise Conflict("未签约的户不能登记付清补偿款", "the household has not signed", code="not_signed")
    if paid_on < h.sign_on:
        raise ValidationFailed(
            "付清日期不能早于签约日期",
            "paid_on before sign_on",
            details=[{"field": "paid_on", "message": "不能早于签约日期"}],
        )
    changes = _apply(h, {"paid_on": paid_on})
    _changed(session, actor, h, action="update", entity="household", entity_id=h.id, changes=changes, reason=reason)
    return h


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
        .where(Household.project_id == project_id, Household.voided_at.is_(None), scope.household_clause(Household.id))
        .subquery("live_household")
    )


def void_household(
    session: Session, *, actor: Actor, scope: DataScope, household_id: int, reason: str
) -> None:
    """Void (never delete) a household registered by mistake; a reason is required."""
    _require_reason(reason)
    h = _lock(session, scope, household_id)
    _void(session, actor, h=h, obj=h, entity="household", reason=reason)


# members -------------------------------------------------------------

MEMBER_AUDIT_FIELDS = [f.name for f in rules.MEMBER_FIELDS if f.name != "id_number"] + ["id_number_masked"]


def member_identity(id_number: str) -> dict[str, Any]:
    """Encrypted, indexed and masked forms of an identity number plus what it encodes."""
    secret = get_settings().secret_key
    return {
        "id_number_cipher": secrets.encrypt(secret, id_number),
        "id_number_digest": secrets.blind_index(secret, id_number),
        "id_number_masked": mask_id_number(id_number),
        "birth_on": birth_date(id_number),
        "gender": gender(id_number),
    }


def member_identities(id_numbers: Sequence[str]) -> dict[str, list[Any]]:
    """:func:`member_identity` of many valid, normalised identity numbers, column by column
    (the census import stores them in bulk)."""
    secret = get_settings().secret_key
    blind_index = secrets.blind_index
    return {
        "id_number_cipher": secrets.encrypt_many(secret, id_numbers),
        "id_number_digest": [blind_index(secret, v) for v in id_numbers],
        "id_number_masked": list(map(mask_id_number, id_numbers)),
        "birth_on": list(map(birth_date, id_numbers)),
        "gender": list(map(gender, id_numbers)),
    }


def _check_member_unique(session: Session, project_id: int, digest: str, exclude_member: int | None) -> None:
    stmt = (
        select(Household.code, Member.name)
        .join(Household, Household.id == Member.household_id)
        .where(
            Member.id_number_digest == digest,
            Member.voided_at.is_(None),
            Household.project_id == project_id,
            Household.voided_at.is_(None),
        )
    )
    if exclude_member is not None:
        stmt = stmt.where(Member.id != exclude_member)
    clash = session.execute(stmt).first()
    if clash:
        raise Conflict(
            f"该身份证号已登记在户“{clash[0]}”（{clash[1]}）",
            "identity number already registered in this project",
            code="duplicate_member",
            details=[{"field": "id_number", "message": f"已登记在户 {clash[0]}"}],
        )


def _member_values(
    session: Session, h: Household, raw: Mapping[str, Any], member_id: int | None, partial: bool
) -> dict[str, Any]:
    values = _clean_or_raise(rules.MEMBER_FIELDS, raw, "家庭成员", partial=partial)
    id_number = values.pop("id_number", None)
    if id_number:
        ident = member_identity(id_number)
        _check_member_unique(session, h.project_id, ident["id_number_digest"], member_id)
        values.update(ident)
    return values


def _load_member(session: Session, scope: DataScope, member_id: int) -> tuple[Member, Household]:
    m = session.get(Member, member_id)
    if m is None or m.voided_at is not None:
        raise NotFound("家庭成员不存在", "member not found")
    return m, _load(session, scope, m.household_id)


def add_member(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    data: Mapping[str, Any],
    reason: str = "",
) -> Member:
    """Add a family member to a household; audited (identity number only masked in the log)."""
    h = _lock(session, scope, household_id)
    values = _member_values(session, h, data, None, partial=False)
    sort = int(session.scalar(select(func.count()).where(Member.household_id == h.id)) or 0)
    m = Member(household_id=h.id, sort=sort, **values)
    session.add(m)
    session.flush()
    _refresh_search_text(session, h)
    _changed(
        session,
        actor,
        h,
        action="create",
        entity="member",
        entity_id=m.id,
        changes=field_diff({}, _snapshot(m, MEMBER_AUDIT_FIELDS)),
        reason=reason,
    )
    return m


def update_member(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    member_id: int,
    data: Mapping[str, Any],
    reason: str = "",
    expected_version: int | None = None,
) -> dict[str, list[Any]]:
    """Change a member's facts; returns the audited diff (409 when ``expected_version`` is stale)."""
    _check_reason(reason)  # refused even when nothing changes (and so nothing is audited)
    m, h = _lock_child(session, scope, Member, member_id, "家庭成员")
    _check_version(session, m, expected_version, what="该家庭成员信息", h=h)
    values = _member_values(session, h, data, m.id, partial=True)
    before = _snapshot(m, MEMBER_AUDIT_FIELDS)
    for k, v in values.items():
        setattr(m, k, v)
    changes = field_diff(before, _snapshot(m, MEMBER_AUDIT_FIELDS))
    if "id_number_digest" in values and values["id_number_digest"] != before.get("id_number_digest"):
        changes.setdefault("id_number_masked", [before["id_number_masked"], m.id_number_masked])
    if not changes:
        return {}
    _refresh_search_text(session, h)
    _bump(session, m)
    _changed(
        session, actor, h, action="update", entity="member", entity_id=m.id, changes=changes, reason=reason
    )
    return changes


def void_member(session: Session, *, actor: Actor, scope: DataScope, member_id: int, reason: str) -> None:
    """Void a member registered by mistake (deceased members stay, with a remark); reason required."""
    _require_reason(reason, "删除成员")
    m, h = _lock_child(session, scope, Member, member_id, "家庭成员")
    m.voided_at = utcnow()  # set before the search text is rebuilt from the live members
    _refresh_search_text(session, h)
    _void(session, actor, h=h, obj=m, entity="member", reason=reason, changes={"name": [m.name, None]})


# buildings, valuations, tenants, homestead ----------------------------

BUILDING_AUDIT_FIELDS = [f.name for f in rules.BUILDING_FIELDS]
TENANT_AUDIT_FIELDS = [f.name for f in rules.TENANT_FIELDS if f.name != "credential"] + ["credential_masked"]


CHILD_KINDS: dict[str, tuple[type[Any], str]] = {
    "member": (Member, "家庭成员"),
    "building": (Building, "房屋"),
    "tenant": (Tenant, "承租人"),
    "attachment": (Attachment, "附件"),
}


def _load_child(
    session: Session, scope: DataScope, model: type[M], child_id: int, label: str
) -> tuple[M, Household]:
    obj = session.get(model, child_id)
    if obj is None or getattr(obj, "voided_at", None) is not None:
        raise NotFound(f"{label}不存在", f"{label} not found")
    return obj, _load(session, scope, obj.household_id)  # type: ignore[attr-defined]


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


# attachments ----------------------------------------------------------

ALLOWED_ATTACHMENT_TYPES = {  # by sniffed content (anju.core.uploads.ATTACHMENT_TYPES)
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}
ATTACHMENT_KINDS = {
    "photo": "现场照片",
    "certificate": "权证扫描件",
    "id_card": "身份证件",
    "survey": "调查表",
    "other": "其他",
}


def attachment_path(sha256: str) -> Path:
    """Where an attachment's bytes live: ``<data>/attachments/ab/abcdef...``."""
    return get_settings().attachment_dir / sha256[:2] / sha256


def add_attachment(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    filename: str,
    content_type: str,
    content: bytes,
    kind: str = "other",
) -> Attachment:
    """Store a photo, scan or document for a household (content-addressed, checksum kept); audited.

    The type is taken from the content (:func:`anju.core.uploads.inspect_attachment`): PNG, JPEG,
    GIF and WebP images within the pixel limits, PDF, .docx and .xlsx; a declared ``content_type``
    that disagrees with the content is refused, and so is anything else (HTML, SVG, programs).
    The sniffed type is stored and served.
    """
    h = _load(session, scope, household_id)
    if kind not in ATTACHMENT_KINDS:
        raise ValidationFailed(
            "附件有误：附件类别无效", "invalid attachment kind", details=[{"field": "kind", "message": "附件类别无效"}]
        )
    filename = core_uploads.safe_filename(filename)
    content_type = upload_policy.inspect_attachment(content, filename, content_type).content_type
    digest = hashlib.sha256(content).hexdigest()
    path = attachment_path(digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(content)
        tmp.replace(path)  # content-addressed: a rolled-back request leaves only an unreferenced file
    a = Attachment(
        household_id=h.id,
        kind=kind,
        filename=filename[:255],
        content_type=content_type,
        size=len(content),
        sha256=digest,
        uploaded_by=actor.username,
        uploaded_at=utcnow(),
    )
    _created(
        session,
        actor,
        h,
        a,
        entity="attachment",
        changes={
            "filename": [None, a.filename],
            "sha256": [None, digest],
            "size": [None, a.size],
            "kind": [None, kind],
        },
        reason="",
    )
    return a


def get_attachment(session: Session, *, scope: DataScope, attachment_id: int) -> tuple[Attachment, bytes]:
    """An attachment and its bytes, checksum verified."""
    a, _h = _load_child(session, scope, Attachment, attachment_id, "附件")
    data = attachment_path(a.sha256).read_bytes()
    if hashlib.sha256(data).hexdigest() != a.sha256:
        raise Conflict(
            "附件文件校验失败，可能已被篡改", "attachment checksum mismatch", code="checksum_mismatch"
        )
    return a, data


def void_attachment(
    session: Session, *, actor: Actor, scope: DataScope, attachment_id: int, reason: str
) -> None:
    """Void an attachment (the file is kept); reason required."""
    _require_reason(reason)
    a, h = _load_child(session, scope, Attachment, attachment_id, "附件")
    _void(session, actor, h=h, obj=a, entity="attachment", reason=reason)


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


# ---------------------------------------------------------------- parcels (宗地) of households


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


# ---------------------------------------------------------------- campaign progress facts

CampaignFact = tuple[int, int | None, str, date | None, date | None, date | None, date | None, Any]


def campaign_facts(session: Session, *, project_id: int, scope: DataScope | None = None) -> list[CampaignFact]:
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
