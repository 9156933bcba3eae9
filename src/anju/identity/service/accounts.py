"""Users, password login with throttling, sessions, CSRF and data scopes (:class:`DataScope`,
:class:`CurrentUser`)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, false, or_, select, true, update
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.config import get_settings
from anju.core import text
from anju.core.actor import Actor
from anju.core.dates import to_shanghai, utcnow
from anju.errors import (
    Conflict,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
    ValidationFailed,
)
from anju.identity import rules, throttle
from anju.identity.models import HouseholdAssignment, Team, User, UserSession
from anju.identity.rules import Permission, Role, ScopeKind

__all__ = [
    "CurrentUser",
    "DataScope",
    "authenticate",
    "check_throttle",
    "create_user",
    "csrf_ok",
    "display_name",
    "end_session",
    "get_user",
    "get_user_by_username",
    "hash_password",
    "list_users",
    "login",
    "record_login_failure",
    "require",
    "resolve_session",
    "set_active",
    "stale_version",
    "start_session",
    "user_names",
]


@lru_cache
def _hasher() -> PasswordHasher:
    # Tests use cheap parameters; every other environment uses argon2-cffi's RFC 9106 defaults.
    if get_settings().env == "test":
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()


@lru_cache
def _dummy_hash() -> str:
    # A real hash to verify against when the user does not exist, so timing does not reveal usernames.
    return _hasher().hash("anju-dummy-password")


@dataclass(frozen=True, slots=True)
class DataScope:
    """Which households a user may see; every household query goes through :meth:`household_clause`."""

    kind: ScopeKind
    user_id: int | None = None
    team_id: int | None = None

    def household_clause(self, household_id_col: Any) -> ColumnElement[bool]:
        """SQL condition on a household id column that keeps only households in scope."""
        if self.kind is ScopeKind.ALL:
            return true()
        if self.kind is ScopeKind.ASSIGNED and self.user_id is not None:
            sub = select(HouseholdAssignment.household_id).where(
                HouseholdAssignment.user_id == self.user_id, HouseholdAssignment.active.is_(True)
            )
            return household_id_col.in_(sub)  # type: ignore[no-any-return]
        if self.kind is ScopeKind.TEAM and self.team_id is not None:
            # A 大组 leader also sees the households of its 小组 (teams nest one level).
            teams = select(Team.id).where(or_(Team.id == self.team_id, Team.parent_id == self.team_id))
            sub = select(HouseholdAssignment.household_id).where(
                HouseholdAssignment.team_id.in_(teams), HouseholdAssignment.active.is_(True)
            )
            return household_id_col.in_(sub)  # type: ignore[no-any-return]
        return false()

    @property
    def whole(self) -> bool:
        """Whether the scope is every household (no per-household filter)."""
        return self.kind is ScopeKind.ALL

    @classmethod
    def everything(cls) -> DataScope:
        """Scope of CLI jobs and of roles that see all households."""
        return cls(kind=ScopeKind.ALL)


@dataclass(frozen=True, slots=True)
class CurrentUser:
    """The logged-in user as the web layer sees it."""

    id: int
    username: str
    display_name: str
    role: str
    team_id: int | None
    session_id: int
    csrf_token: str
    must_change_password: bool = False  # after an administrator's reset: only the password form opens

    def can(self, permission: Permission) -> bool:
        """Whether the user's role grants ``permission``."""
        return rules.has_permission(self.role, permission)

    @property
    def scope(self) -> DataScope:
        """The user's household data scope."""
        return DataScope(kind=rules.scope_kind(self.role), user_id=self.id, team_id=self.team_id)

    def actor(self, ip: str = "") -> Actor:
        """The audit actor for this user."""
        return Actor(
            user_id=self.id, username=self.username, display_name=self.display_name, role=self.role, ip=ip
        )


def require(user: CurrentUser, permission: Permission) -> None:
    """Raise :class:`PermissionDenied` unless the user holds ``permission``."""
    if not user.can(permission):
        raise PermissionDenied("您没有执行此操作的权限", f"permission {permission.value} required")


def hash_password(password: str) -> str:
    """Argon2id hash of a password."""
    return _hasher().hash(password)


def create_user(
    session: Session,
    *,
    actor: Actor,
    username: str,
    display_name: str,
    password: str,
    role: str,
    team_id: int | None = None,
    check_strength: bool = True,
) -> User:
    """Create a user; audited. Raises on unknown role, weak password or duplicate username."""
    errors = []
    try:
        Role(role)
    except ValueError:
        errors.append({"field": "role", "message": "未知角色：" + role})
    if not username.strip() or len(username) > 64:
        errors.append({"field": "username", "message": "用户名必填，最长64位"})
    for field, label, value in (("username", "用户名", username), ("display_name", "姓名", display_name)):
        # A NUL would reach the database (PostgreSQL refuses it with an error, not an answer).
        if found := text.text_problem(value, max_len=64):
            errors.append({"field": field, "message": label + found})
    problem = rules.password_problem(password) if check_strength else None
    if problem:
        errors.append({"field": "password", "message": problem})
    if errors:
        raise ValidationFailed(
            "用户信息有误：" + "；".join(e["message"] for e in errors), "invalid user", details=errors
        )
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"用户名“{username}”已存在", f"username {username} exists")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
        team_id=team_id,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="user",
        entity_id=user.id,
        changes={"username": [None, username], "role": [None, role], "team_id": [None, team_id]},
    )
    return user


def check_throttle(session: Session, *, username: str, ip: str) -> None:
    """Raise :class:`TooManyAttempts` (naming the wait) while a login limit is in force.

    The limits and the normalised account key are described in :mod:`anju.identity.throttle`.
    """
    throttle.check(session, username=username, ip=ip)


def record_login_failure(session: Session, *, username: str, ip: str) -> None:
    """Count a failed login. The caller commits this even though the request fails."""
    throttle.record(session, username=username, ip=ip, outcome=throttle.FAILURE)


def login(session: Session, *, username: str, password: str, ip: str) -> User:
    """Check throttling and credentials; every attempt is recorded (success, failure, throttled).

    Raises :class:`TooManyAttempts` or :class:`NotAuthenticated`; the caller must commit the
    recorded attempt even then (``request.state.commit_anyway``).
    """
    try:
        throttle.check(session, username=username, ip=ip)
    except TooManyAttempts:
        throttle.record(session, username=username, ip=ip, outcome=throttle.THROTTLED)
        raise
    try:
        user = authenticate(session, username=username.strip(), password=password)
    except NotAuthenticated:
        throttle.record(session, username=username, ip=ip, outcome=throttle.FAILURE)
        raise
    throttle.record(session, username=username, ip=ip, outcome=throttle.SUCCESS)
    return user


def authenticate(session: Session, *, username: str, password: str) -> User:
    """Check a username and password; raises :class:`NotAuthenticated` with one message for every failure."""
    user = session.scalar(select(User).where(User.username == username))
    try:
        _hasher().verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None or not user.is_active:
        raise NotAuthenticated("用户名或密码错误", "wrong username or password")
    return user


def start_session(session: Session, *, user: User, ip: str) -> tuple[str, UserSession]:
    """Open a login session; returns the raw cookie token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = UserSession(
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(24),
        created_at=now,
        expires_at=now + timedelta(hours=get_settings().session_hours),
        ip=ip[:64],
    )
    session.add(row)
    session.flush()
    return token, row


def resolve_session(session: Session, token: str) -> CurrentUser | None:
    """The user behind a cookie token, or ``None`` if unknown, expired, revoked or deactivated."""
    if not token:
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()
    # Plain columns, not ORM objects: this runs on every request.
    row = session.execute(
        select(
            UserSession.id,
            UserSession.revoked,
            UserSession.expires_at,
            UserSession.csrf_token,
            User.id,
            User.username,
            User.display_name,
            User.role,
            User.team_id,
            User.is_active,
            User.must_change_password,
        )
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == digest)
    ).first()
    if row is None:
        return None
    (
        session_id,
        revoked,
        expires_at,
        csrf_token,
        user_id,
        username,
        display_name,
        role,
        team_id,
        active,
        must,
    ) = row
    if revoked or expires_at < utcnow() or not active:
        return None
    return CurrentUser(
        id=user_id,
        username=username,
        display_name=display_name,
        role=role,
        team_id=team_id,
        session_id=session_id,
        csrf_token=csrf_token,
        must_change_password=bool(must),
    )


def end_session(session: Session, *, session_id: int) -> None:
    """Log out: revoke the session row."""
    session.execute(update(UserSession).where(UserSession.id == session_id).values(revoked=True))


def csrf_ok(user: CurrentUser, token: str | None) -> bool:
    """Constant-time check of a submitted CSRF token against the session's."""
    return bool(token) and hmac.compare_digest(user.csrf_token, token or "")


def get_user(session: Session, user_id: int) -> User:
    """A user by id."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在", "user not found")
    return user


def get_user_by_username(session: Session, username: str) -> User:
    """A user by username; raises :class:`NotFound` naming it."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise NotFound(f"用户“{username}”不存在", f"user {username} not found")
    return user


def list_users(session: Session) -> list[User]:
    """All users, by role then username."""
    return list(session.scalars(select(User).order_by(User.role, User.username)))


def set_active(
    session: Session, *, actor: Actor, user_id: int, active: bool, expected_version: int | None = None
) -> User:
    """Enable or disable a user account (disabling also ends their sessions); audited.

    The row is locked and re-read first; ``expected_version`` (the version the admin saw)
    refuses the change with a 409 when someone changed the account meanwhile.
    """
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
    if actor.user_id == user_id and not active:
        raise Conflict("不能停用自己的账号", "cannot deactivate yourself")
    if not active and user.is_active and user.role == Role.ADMIN.value:
        # Locks the other administrators' rows: two admins disabling each other cannot both pass.
        others = session.scalars(
            select(User.id)
            .where(User.role == Role.ADMIN.value, User.is_active.is_(True), User.id != user_id)
            .with_for_update()
        ).all()
        if not others:
            raise Conflict(
                f"“{user.display_name}”是唯一启用的系统管理员，不能停用：请先指定另一位系统管理员",
                "the last active administrator cannot be deactivated",
                code="last_admin",
            )
    if user.is_active != active:
        user.is_active = active
        user.version += 1
        if not active:
            session.execute(update(UserSession).where(UserSession.user_id == user_id).values(revoked=True))
        audit_service.record(
            session,
            actor=actor,
            action="update",
            entity="user",
            entity_id=user.id,
            changes={"is_active": [not active, active]},
        )
    return user


def display_name(session: Session, user_id: int | None, default: str) -> str:
    """A user's display name (``default`` for system jobs and unknown ids)."""
    if user_id is None:
        return default
    name = session.scalar(select(User.display_name).where(User.id == user_id))
    return str(name) if name else default


def stale_version(
    session: Session,
    *,
    what: str,
    current: int,
    household_id: int | None = None,
    entity: str = "",
    entity_id: int | str = "",
) -> Conflict:
    """The 409 for a write based on an old version of ``what`` (``current`` is the version now):
    names who changed the record last, and when (Asia/Shanghai), from the newest audit record of the
    entity (or of the household's file, ``household_id``)."""
    record = audit_service.last_change(session, household_id=household_id, entity=entity, entity_id=entity_id)
    detail: dict[str, Any] = {"field": "version", "current_version": current}
    if record is None:
        message = f"{what}已被他人修改，请刷新页面后重试"
        message_en = "changed by someone else meanwhile; reload and try again"
    else:
        who = display_name(session, record.actor_id, record.actor_name)
        when = to_shanghai(record.at)
        message = f"{what}已被 {who} 于 {when:%Y-%m-%d %H:%M} 修改，请刷新页面后重试"
        message_en = f"changed by {who} at {when:%Y-%m-%d %H:%M} meanwhile; reload and try again"
        detail.update(changed_by=who, changed_at=when.isoformat())
    detail["message"] = message
    return Conflict(message, message_en, code="stale_version", details=[detail])


def user_names(session: Session) -> dict[int, str]:
    """``user id -> display name`` of every user (for showing ids in histories)."""
    return {int(i): str(n) for i, n in session.execute(select(User.id, User.display_name))}
