"""User administration: reset a password, change a role or team (the data scope), and every user's
own password change. Every change is audited; the last active administrator can never be removed.
"""

from __future__ import annotations

import secrets
import string

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.identity import rules
from anju.identity.models import Team, User, UserSession
from anju.identity.rules import Role
from anju.identity.service.accounts import _hasher, hash_password

__all__ = [
    "active_admin_count",
    "change_own_password",
    "guard_last_admin",
    "one_time_password",
    "reset_password",
    "set_role",
    "set_team",
    "team_choices",
]

# No look-alikes (0/O, 1/l/I) in a password read out over the phone.
_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")


def _locked(session: Session, user_id: int, expected_version: int | None) -> User:
    """The user row, locked and re-read; a stale ``expected_version`` is a 409 naming the account."""
    user = session.scalar(
        select(User).where(User.id == user_id).with_for_update().execution_options(populate_existing=True)
    )
    if user is None:
        raise NotFound("用户不存在", "user not found")
    if expected_version is not None and user.version != expected_version:
        raise Conflict(
            f"账号“{user.username}”已被他人修改，请刷新后重试",
            "the account was changed by someone else; reload and try again",
            code="stale_version",
            details=[{"field": "version", "message": "已被他人修改", "current_version": user.version}],
        )
    return user


def _other_active_admins(session: Session, user_id: int) -> int:
    # Locks the administrators' rows: two admins demoting each other at once cannot both pass.
    ids = session.scalars(
        select(User.id)
        .where(User.role == Role.ADMIN.value, User.is_active.is_(True), User.id != user_id)
        .with_for_update()
    ).all()
    return len(ids)


def guard_last_admin(session: Session, user: User, *, what: str) -> None:
    """Refuse (409) a change that would leave no active administrator."""
    if user.role == Role.ADMIN.value and user.is_active and _other_active_admins(session, user.id) == 0:
        raise Conflict(
            f"“{user.display_name}”是唯一启用的系统管理员，不能{what}：请先指定另一位系统管理员",
            "the last active administrator cannot be removed",
            code="last_admin",
        )


def _revoke_sessions(session: Session, user_id: int, keep: int | None = None) -> None:
    stmt = update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked.is_(False))
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep)
    session.execute(stmt.values(revoked=True))


def one_time_password() -> str:
    """A random password that meets :func:`anju.identity.rules.password_problem` (12 characters)."""
    while True:
        candidate = (
            "".join(secrets.choice(_ALPHABET) for _ in range(10))
            + secrets.choice("@#%+")
            + secrets.choice("23456789")
        )
        if rules.password_problem(candidate) is None:
            return candidate


def reset_password(
    session: Session, *, actor: Actor, user_id: int, reason: str = "", expected_version: int | None = None
) -> str:
    """Give a user a new random password; returns it (shown once to the administrator, never stored
    in clear). Ends the user's sessions; audited without the password."""
    user = _locked(session, user_id, expected_version)
    password = one_time_password()
    user.password_hash = hash_password(password)
    before = user.must_change_password
    user.must_change_password = True
    user.version += 1
    _revoke_sessions(session, user.id)
    audit_service.record(
        session,
        actor=actor,
        action="password_reset",
        entity="user",
        entity_id=user.id,
        changes={"password": ["（旧密码）", "（一次性密码）"], "must_change_password": [before, True]},
        reason=reason or "管理员重置密码",
    )
    return password


def change_own_password(
    session: Session, *, actor: Actor, user_id: int, session_id: int, old_password: str, new_password: str
) -> None:
    """A user changes their own password: the old one is required, the new one must be strong and
    different. Other sessions of the user end; this one stays. Audited without the passwords."""
    user = _locked(session, user_id, None)
    errors = []
    try:
        _hasher().verify(user.password_hash, old_password)
    except (VerificationError, InvalidHashError):
        errors.append({"field": "old_password", "message": "原密码不正确"})
    problem = rules.password_problem(new_password)
    if problem:
        errors.append({"field": "new_password", "message": problem})
    elif new_password == old_password:
        errors.append({"field": "new_password", "message": "新密码不能与原密码相同"})
    if errors:
        raise ValidationFailed(
            "；".join(e["message"] for e in errors), "password not changed", details=errors
        )
    user.password_hash = hash_password(new_password)
    before = user.must_change_password
    user.must_change_password = False
    user.version += 1
    _revoke_sessions(session, user.id, keep=session_id)
    audit_service.record(
        session,
        actor=actor,
        action="password_change",
        entity="user",
        entity_id=user.id,
        changes={"password": ["（旧密码）", "（新密码）"], "must_change_password": [before, False]},
    )


def set_role(
    session: Session, *, actor: Actor, user_id: int, role: str, expected_version: int | None = None
) -> User:
    """Change a user's role (and with it the permissions and data-scope kind); audited.

    Refuses an unknown role and taking the role away from the last active administrator.
    """
    try:
        Role(role)
    except ValueError:
        raise ValidationFailed(
            f"未知角色：{role[:32]}", "unknown role", details=[{"field": "role", "message": "未知角色"}]
        ) from None
    user = _locked(session, user_id, expected_version)
    if user.role == role:
        return user
    if role != Role.ADMIN.value:
        guard_last_admin(session, user, what="改为其他角色")
    before = user.role
    user.role = role
    user.version += 1
    audit_service.record(
        session,
        actor=actor,
        action="update",
        entity="user",
        entity_id=user.id,
        changes={"role": [before, role]},
    )
    return user


def set_team(
    session: Session, *, actor: Actor, user_id: int, team_id: int | None, expected_version: int | None = None
) -> User:
    """Put a user in a team (专班) or take them out (``None``): a team leader then sees the team's
    households, a member those assigned to them within it. Audited."""
    user = _locked(session, user_id, expected_version)
    if team_id is not None and session.get(Team, team_id) is None:
        raise ValidationFailed(
            "专班不存在", "team not found", details=[{"field": "team_id", "message": "专班不存在"}]
        )
    if user.team_id == team_id:
        return user
    before = user.team_id
    user.team_id = team_id
    user.version += 1
    audit_service.record(
        session,
        actor=actor,
        action="update",
        entity="user",
        entity_id=user.id,
        changes={"team_id": [before, team_id]},
    )
    return user


def team_choices(session: Session) -> list[tuple[int, str]]:
    """Every team as ``(id, name)`` (groups and squads), by project then order."""
    rows = session.execute(
        select(Team.id, Team.name, Team.project_id).order_by(Team.project_id, Team.sort, Team.id)
    )
    return [(int(i), str(n)) for i, n, _p in rows]


def active_admin_count(session: Session) -> int:
    """How many active administrators there are."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN.value, User.is_active.is_(True))
        )
        or 0
    )
