"""Household service part: loading, locking, versions and the audit of writes to a household's file
(see the package docstring). Shared by the other parts; not for importers outside the package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.audit.service import field_diff
from anju.core import text
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.db.versions import bump_version
from anju.errors import NotFound, ValidationFailed
from anju.household import rules
from anju.household.models import (
    Attachment,
    Building,
    Homestead,
    Household,
    Member,
    Tenant,
)
from anju.identity.service import DataScope, stale_version
from anju.project import service as project_service

__all__ = [
    "CHILD_KINDS",
    "stale_version",
    "version_of",
]

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


def _load(session: Session, scope: DataScope, household_id: int) -> Household:
    household = session.scalar(
        select(Household).where(
            Household.id == household_id, Household.voided_at.is_(None), scope.household_clause(Household.id)
        )
    )
    if household is None:
        raise NotFound("该户不存在或不在您的权限范围内", "household not found")
    return household


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


def _check_version(session: Session, obj: Any, expected: int | None, *, what: str, h: Household) -> None:
    if expected is None or obj.version == expected:
        return
    if obj is h:
        raise stale_version(session, what=what, current=h.version, household_id=h.id)
    raise stale_version(
        session, what=what, current=obj.version, entity=_ENTITY_OF[type(obj)], entity_id=obj.id
    )


_bump = bump_version  # raise a record's version, guarded by the version read

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
    if (
        isinstance(value, str)
        and value.strip().isascii()
        and value.strip().isdigit()
        and len(value.strip()) <= 19
    ):
        n = int(value.strip())
    if n is None or not 1 <= n <= text.MAX_ID:
        raise ValidationFailed(
            "所属区块不合法",
            "invalid block",
            details=[{"field": "block_id", "label": "所属区块", "message": "不合法"}],
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
            f"理由{problem}",
            "invalid reason",
            details=[{"field": "reason", "label": "理由", "message": problem}],
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
