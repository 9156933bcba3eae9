"""Household service part: registering, changing and voiding a household and its members,
identity numbers encrypted and revealed with audit (see the package docstring).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.audit.service import field_diff
from anju.config import get_settings
from anju.core import secrets
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.core.ids import birth_date, gender
from anju.core.masking import mask_id_number
from anju.errors import Conflict, NotFound
from anju.household import rules
from anju.household.models import (
    Household,
    Member,
)
from anju.household.service.base import (
    _apply,
    _audit,
    _block_id_of,
    _bump,
    _changed,
    _check_block,
    _check_reason,
    _check_version,
    _clean_or_raise,
    _load,
    _lock,
    _lock_child,
    _refresh_search_text,
    _require_reason,
    _snapshot,
    _void,
)
from anju.identity.service import DataScope
from anju.project import service as project_service

__all__ = [
    "MEMBER_AUDIT_FIELDS",
    "add_member",
    "create_household",
    "member_identities",
    "member_identity",
    "reveal_id_number",
    "reveal_member_id_number",
    "update_household",
    "update_member",
    "void_household",
    "void_member",
]


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
