"""Identity use cases: users, password login with throttling, sessions, CSRF and data scopes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, and_, false, or_, select, true, update
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.config import get_settings
from anju.core import text
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.db import events
from anju.errors import (
    Conflict,
    DomainError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
    ValidationFailed,
)
from anju.identity import rules, throttle
from anju.identity.models import HouseholdAssignment, Team, User, UserSession
from anju.identity.rules import Permission, Role, ScopeKind
from anju.project import service as project_service


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
        )
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == digest)
    ).first()
    if row is None:
        return None
    session_id, revoked, expires_at, csrf_token, user_id, username, display_name, role, team_id, active = row
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


def list_users(session: Session) -> list[User]:
    """All users, by role then username."""
    return list(session.scalars(select(User).order_by(User.role, User.username)))


# ---------------------------------------------------------------- teams (专班) and assignments (包户到人)

TEAM_KINDS: dict[str, str] = {"group": "大组", "squad": "小组"}
"""Kinds of team: a 大组 (``group``) holds 小组 (``squad``); teams nest one level."""

TEAM_ROLES = frozenset({Role.TEAM_LEADER.value, Role.TEAM_MEMBER.value})
"""Roles whose users belong to a team (``User.team_id``) and carry households."""

MAX_TEAM_SORT = 1_000_000
_ASSIGN_CHUNK = 500  # household ids per IN (...) list of an UPDATE


@dataclass(frozen=True, slots=True)
class AssignmentFilter(DataScope):
    """A data scope narrowed further by the households' active assignments (包户).

    ``only_team_id``: households of that team (and of its 小组 unless ``exact_team``);
    ``only_user_id``: households the person carries; ``unassigned``: households without an
    active assignment; ``household_ids``: only these. Household listings take it as their
    ``scope``, so a filtered list reuses the household service's paging and search.
    """

    only_team_id: int | None = None
    exact_team: bool = False
    only_user_id: int | None = None
    unassigned: bool = False
    household_ids: tuple[int, ...] | None = None

    def household_clause(self, household_id_col: Any) -> ColumnElement[bool]:
        """The base scope's condition and the filters."""
        conds: list[ColumnElement[bool]] = [DataScope.household_clause(self, household_id_col)]
        active = HouseholdAssignment.active.is_(True)
        if self.only_team_id is not None:
            teams: Any = (
                [self.only_team_id]
                if self.exact_team
                else select(Team.id).where(
                    or_(Team.id == self.only_team_id, Team.parent_id == self.only_team_id)
                )
            )
            conds.append(
                household_id_col.in_(
                    select(HouseholdAssignment.household_id).where(
                        HouseholdAssignment.team_id.in_(teams), active
                    )
                )
            )
        if self.only_user_id is not None:
            conds.append(
                household_id_col.in_(
                    select(HouseholdAssignment.household_id).where(
                        HouseholdAssignment.user_id == self.only_user_id, active
                    )
                )
            )
        if self.unassigned:
            conds.append(household_id_col.not_in(select(HouseholdAssignment.household_id).where(active)))
        if self.household_ids is not None:
            conds.append(household_id_col.in_(list(self.household_ids)) if self.household_ids else false())
        return and_(*conds)

    @property
    def whole(self) -> bool:
        """Never every household: the filters narrow it."""
        return False


def narrowed(
    scope: DataScope,
    *,
    team_id: int | None = None,
    exact_team: bool = False,
    user_id: int | None = None,
    unassigned: bool = False,
    household_ids: Sequence[int] | None = None,
) -> AssignmentFilter:
    """``scope`` narrowed by assignment (see :class:`AssignmentFilter`)."""
    return AssignmentFilter(
        kind=scope.kind,
        user_id=scope.user_id,
        team_id=scope.team_id,
        only_team_id=team_id,
        exact_team=exact_team,
        only_user_id=user_id,
        unassigned=unassigned,
        household_ids=tuple(household_ids) if household_ids is not None else None,
    )


def get_team(session: Session, team_id: int) -> Team:
    """A team by id; raises :class:`NotFound`."""
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound("专班不存在", "team not found")
    return team


def list_teams(session: Session, *, project_id: int) -> list[Team]:
    """A project's teams by sort order, then creation."""
    return list(
        session.scalars(select(Team).where(Team.project_id == project_id).order_by(Team.sort, Team.id))
    )


def team_by_name(session: Session, *, project_id: int, name: str) -> Team:
    """A project's team by its name; raises :class:`NotFound` naming it."""
    team = session.scalar(select(Team).where(Team.project_id == project_id, Team.name == name.strip()))
    if team is None:
        raise NotFound(f"本项目没有名为“{name}”的专班", f"team {name} not found")
    return team


def get_user_by_username(session: Session, username: str) -> User:
    """A user by username; raises :class:`NotFound` naming it."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise NotFound(f"用户“{username}”不存在", f"user {username} not found")
    return user


def team_users(session: Session) -> list[User]:
    """Active users who can belong to a team (专班组长 and 专班成员), by display name."""
    return list(
        session.scalars(
            select(User)
            .where(User.role.in_(sorted(TEAM_ROLES)), User.is_active.is_(True))
            .order_by(User.display_name, User.username)
        )
    )


def _refuse(problems: list[dict[str, Any]], what_zh: str, what_en: str) -> DomainError:
    """One error for all ``problems``, each tagged ``kind``: ``input`` (wrong input), ``missing``
    (a record named does not exist) or ``state`` (conflicts with other records). 422 if any input is
    wrong, else 404 if a record is missing, else 409."""
    kinds = {p.pop("kind", "input") for p in problems}
    message = what_zh + "：" + "；".join(str(p["message"]) for p in problems)
    if "input" in kinds:
        return ValidationFailed(message, what_en, details=problems)
    if "missing" in kinds:
        return NotFound(message, what_en, details=problems)
    return Conflict(message, what_en, details=problems)


def _check_team(session: Session, *, project_id: int, team: Team | None, values: Mapping[str, Any]) -> None:
    """Refuse an invalid team, all problems at once (:func:`_refuse`), or a duplicate name (409)."""
    problems: list[dict[str, Any]] = []

    def problem(field: str, message: str, kind: str = "input") -> None:
        problems.append({"field": field, "message": message, "kind": kind})

    name, kind, parent_id = values["name"], values["kind"], values["parent_id"]
    leader_id, sort = values["leader_id"], values["sort"]
    if not isinstance(name, str) or not name.strip():
        problem("name", "专班名称必填")
    elif found := text.text_problem(name, max_len=64):
        problem("name", "专班名称" + found)
    if kind not in TEAM_KINDS:
        problem("kind", "专班类型应为“大组”（group）或“小组”（squad）")
    if parent_id is not None:
        parent = session.get(Team, parent_id)
        if kind == "group":
            problem("parent_id", "大组不能隶属于其他专班（专班只分大组、小组两级）", "state")
        elif parent is None or parent.project_id != project_id:
            problem("parent_id", "上级大组不存在或不属于本项目", "missing")
        elif team is not None and parent.id == team.id:
            problem("parent_id", "专班不能隶属于自己", "state")
        elif parent.kind != "group":
            problem("parent_id", f"上级专班“{parent.name}”不是大组", "state")
    if team is not None and kind != "group":
        child = session.scalar(select(Team.name).where(Team.parent_id == team.id).limit(1))
        if child is not None:
            problem("kind", f"“{team.name}”下还有小组“{child}”，不能改为小组", "state")
    if leader_id is not None:
        leader = session.get(User, leader_id)
        if leader is None:
            problem("leader_id", "组长不存在", "missing")
        elif leader.role != Role.TEAM_LEADER.value:
            problem("leader_id", f"组长须是“专班组长”角色的用户（“{leader.display_name}”不是）", "state")
        elif not leader.is_active:
            problem("leader_id", f"“{leader.display_name}”的账号已停用", "state")
    if not isinstance(sort, int) or not 0 <= sort <= MAX_TEAM_SORT:
        problem("sort", f"排序应为 0 至 {MAX_TEAM_SORT} 的整数")
    if problems:
        raise _refuse(problems, "专班信息有误", "invalid team")
    same = select(Team.id).where(Team.project_id == project_id, Team.name == name.strip())
    if team is not None:
        same = same.where(Team.id != team.id)
    if session.scalar(same) is not None:
        raise Conflict(
            f"本项目已有名为“{name.strip()}”的专班",
            f"team {name} exists",
            details=[{"field": "name", "message": "专班名称重复"}],
        )


def _move_user(session: Session, *, actor: Actor, user: User, team_id: int | None, project_id: int) -> bool:
    """Put ``user`` into team ``team_id`` (None: out of any team); audited. A leader who leaves
    a team stops leading it."""
    if user.team_id == team_id:
        return False
    old = user.team_id
    if old is not None:
        for led in session.scalars(select(Team).where(Team.id == old, Team.leader_id == user.id)):
            led.leader_id = None
            led.version += 1
            audit_service.record(
                session,
                actor=actor,
                action="update",
                entity="team",
                entity_id=led.id,
                project_id=led.project_id,
                changes={"leader_id": [user.id, None]},
                reason=f"组长“{user.display_name}”调离",
            )
    user.team_id = team_id
    user.version += 1
    audit_service.record(
        session,
        actor=actor,
        action="update",
        entity="user",
        entity_id=user.id,
        project_id=project_id,
        changes={"team_id": [old, team_id]},
    )
    return True


def _team_changed(session: Session, project_id: int, team_id: int) -> None:
    # Team names and members show in household lists and campaign pages of the project.
    project_service.bump_households_version(session, project_id)
    events.notify(session, topic=events.project_topic(project_id), kind="team", data={"team_id": team_id})


def create_team(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    name: str,
    kind: str = "squad",
    parent_id: int | None = None,
    leader_id: int | None = None,
    sort: int = 0,
) -> Team:
    """Create a team (专班 / 攻坚小组: a 大组 or a 小组 under one); audited.

    The leader (a 专班组长 user) joins the team. Raises :class:`ValidationFailed` listing every
    problem, :class:`Conflict` for a name the project already has.
    """
    project_service.get_project(session, project_id)
    values = {"name": name, "kind": kind, "parent_id": parent_id, "leader_id": leader_id, "sort": sort}
    _check_team(session, project_id=project_id, team=None, values=values)
    team = Team(
        project_id=project_id,
        name=name.strip(),
        kind=kind,
        parent_id=parent_id,
        leader_id=leader_id,
        sort=sort,
    )
    session.add(team)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="team",
        entity_id=team.id,
        project_id=project_id,
        changes={k: [None, team.name if k == "name" else v] for k, v in values.items()},
    )
    if leader_id is not None:
        _move_user(
            session, actor=actor, user=get_user(session, leader_id), team_id=team.id, project_id=project_id
        )
    _team_changed(session, project_id, team.id)
    return team


def _stale(what: str, current: int) -> Conflict:
    return Conflict(
        f"{what}已被他人修改，请刷新后重试",
        "the record was changed by someone else; reload and try again",
        code="stale_version",
        details=[{"field": "version", "message": "已被他人修改", "current_version": current}],
    )


def _lock_team(session: Session, team_id: int) -> Team:
    team = session.scalar(
        select(Team).where(Team.id == team_id).with_for_update().execution_options(populate_existing=True)
    )
    if team is None:
        raise NotFound("专班不存在", "team not found")
    return team


def update_team(
    session: Session,
    *,
    actor: Actor,
    team_id: int,
    values: Mapping[str, Any],
    expected_version: int | None = None,
) -> dict[str, list[Any]]:
    """Change a team's name, kind, parent, leader or sort (only the keys given); audited.

    ``expected_version`` (the version read) refuses a stale edit with a 409 ``stale_version``.
    A new leader joins the team. Returns the diff ``{field: [before, after]}``.
    """
    team = _lock_team(session, team_id)
    if expected_version is not None and team.version != expected_version:
        raise _stale(f"专班“{team.name}”", team.version)
    fields = ("name", "kind", "parent_id", "leader_id", "sort")
    unknown = set(values) - set(fields)
    if unknown:
        raise ValidationFailed("不认识的字段：" + "、".join(sorted(unknown)), "unknown team fields")
    before = {f: getattr(team, f) for f in fields}
    merged = {**before, **values}
    if isinstance(merged["name"], str):
        merged["name"] = merged["name"].strip()
    _check_team(session, project_id=team.project_id, team=team, values=merged)
    diff = {f: [before[f], merged[f]] for f in fields if before[f] != merged[f]}
    if not diff:
        return {}
    for f, (_old, new) in diff.items():
        setattr(team, f, new)
    team.version += 1
    audit_service.record(
        session,
        actor=actor,
        action="update",
        entity="team",
        entity_id=team.id,
        project_id=team.project_id,
        changes=diff,
    )
    if "leader_id" in diff and team.leader_id is not None:
        leader = get_user(session, team.leader_id)
        _move_user(session, actor=actor, user=leader, team_id=team.id, project_id=team.project_id)
        team.leader_id = leader.id  # _move_user clears the old team's leader, never this one
    _team_changed(session, team.project_id, team.id)
    return diff


def set_team_members(
    session: Session,
    *,
    actor: Actor,
    team_id: int,
    user_ids: Sequence[int],
    expected_version: int | None = None,
) -> dict[str, list[int]]:
    """Make ``user_ids`` the team's members (专班组长 / 专班成员 users; a user is in one team, so
    one coming from another team moves, audited). The leader must stay a member.

    Returns ``{"added": [...], "removed": [...]}``; every move is audited.
    """
    team = _lock_team(session, team_id)
    if expected_version is not None and team.version != expected_version:
        raise _stale(f"专班“{team.name}”", team.version)
    wanted = list(dict.fromkeys(user_ids))
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))} if wanted else {}
    problems: list[dict[str, Any]] = []
    for uid in wanted:
        u = users.get(uid)
        if u is None:
            problems.append(
                {
                    "field": "user_ids",
                    "user_id": uid,
                    "message": f"用户（编号 {uid}）不存在",
                    "kind": "missing",
                }
            )
        elif u.role not in TEAM_ROLES:
            message = f"“{u.display_name}”不是专班组长或专班成员，不能加入专班"
            problems.append({"field": "user_ids", "user_id": uid, "message": message, "kind": "state"})
        elif not u.is_active and u.team_id != team.id:
            message = f"“{u.display_name}”的账号已停用"
            problems.append({"field": "user_ids", "user_id": uid, "message": message, "kind": "state"})
    current = {u.id: u for u in session.scalars(select(User).where(User.team_id == team.id))}
    if team.leader_id is not None and team.leader_id in current and team.leader_id not in users:
        name = current[team.leader_id].display_name
        message = f"组长“{name}”须是本组成员（请先更换组长）"
        problems.append({"field": "user_ids", "message": message, "kind": "state"})
    if problems:
        raise _refuse(problems, "专班成员有误", "invalid members")
    added = [uid for uid in wanted if uid not in current]
    removed = [uid for uid in current if uid not in users]
    for uid in added:
        _move_user(session, actor=actor, user=users[uid], team_id=team.id, project_id=team.project_id)
    for uid in removed:
        _move_user(session, actor=actor, user=current[uid], team_id=None, project_id=team.project_id)
    if added or removed:
        team.version += 1
        _team_changed(session, team.project_id, team.id)
    return {"added": added, "removed": removed}


@dataclass(frozen=True, slots=True)
class TeamMember:
    """A member of a team as pages show it."""

    id: int
    username: str
    display_name: str
    role: str
    is_active: bool


@dataclass(slots=True)
class TeamNode:
    """A team with its members and (for a 大组) its 小组."""

    id: int
    name: str
    kind: str
    parent_id: int | None
    leader_id: int | None
    leader_name: str
    sort: int
    version: int
    members: list[TeamMember] = dataclass_field(default_factory=list)
    children: list[TeamNode] = dataclass_field(default_factory=list)

    def walk(self) -> list[TeamNode]:
        """This team and its 小组, depth first."""
        return [self, *(n for c in self.children for n in c.walk())]

    def ids(self) -> list[int]:
        """Ids of this team and its 小组."""
        return [n.id for n in self.walk()]


def team_tree(session: Session, *, project_id: int) -> list[TeamNode]:
    """A project's teams as a tree (大组 → 小组), by sort then creation, with members and leaders."""
    teams = list_teams(session, project_id=project_id)
    ids = [t.id for t in teams]
    members: dict[int, list[TeamMember]] = {}
    names: dict[int, str] = {}
    if ids:
        for u in session.scalars(
            select(User).where(User.team_id.in_(ids)).order_by(User.role, User.display_name, User.id)
        ):
            members.setdefault(int(u.team_id or 0), []).append(
                TeamMember(u.id, u.username, u.display_name, u.role, u.is_active)
            )
    leader_ids = [t.leader_id for t in teams if t.leader_id is not None]
    if leader_ids:
        names = {
            int(i): str(n)
            for i, n in session.execute(select(User.id, User.display_name).where(User.id.in_(leader_ids)))
        }
    nodes = {
        t.id: TeamNode(
            t.id,
            t.name,
            t.kind,
            t.parent_id,
            t.leader_id,
            names.get(t.leader_id or 0, ""),
            t.sort,
            t.version,
            members.get(t.id, []),
        )
        for t in teams
    }
    roots: list[TeamNode] = []
    for t in teams:
        node = nodes[t.id]
        parent = nodes.get(t.parent_id) if t.parent_id is not None else None
        (parent.children if parent is not None and parent.parent_id is None else roots).append(node)
    return roots


def assignment_map(session: Session, *, project_id: int) -> dict[int, tuple[int | None, int | None]]:
    """``household id -> (team id, user id)`` of every active assignment of the project's teams."""
    rows = session.execute(
        select(HouseholdAssignment.household_id, HouseholdAssignment.team_id, HouseholdAssignment.user_id)
        .join(Team, Team.id == HouseholdAssignment.team_id)
        .where(Team.project_id == project_id, HouseholdAssignment.active.is_(True))
    )
    return {int(h): (t, u) for h, t, u in rows}


def _assignee(
    session: Session, *, team_id: int | None, user_id: int | None, project_id: int | None
) -> tuple[int | None, int | None, int | None]:
    """Check the team and person of an assignment; returns (team id, user id, project id).

    An unknown team or person is a 404; a person who cannot carry the team's households a 409.
    """

    def refuse(field: str, message: str, kind: str) -> DomainError:
        return _refuse([{"field": field, "message": message, "kind": kind}], "无法包户", "cannot assign")

    team = None
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None:
            raise refuse("user_id", "包户责任人不存在", "missing")
        if user.role not in TEAM_ROLES or not user.is_active:
            raise refuse(
                "user_id", f"包户责任人须是在用的专班组长或专班成员（“{user.display_name}”不是）", "state"
            )
        if team_id is None:
            if user.team_id is None:
                raise refuse(
                    "user_id", f"“{user.display_name}”不属于任何专班，请先把他加入专班或指定专班", "state"
                )
            team_id = user.team_id
        team = session.get(Team, team_id)
        if team is not None and user.team_id != team.id and team.leader_id != user.id:
            raise refuse("user_id", f"“{user.display_name}”不是“{team.name}”的成员", "state")
    if team_id is not None:
        team = team or session.get(Team, team_id)
        if team is None or (project_id is not None and team.project_id != project_id):
            raise refuse("team_id", "专班不存在或不属于本项目", "missing")
        project_id = team.project_id
    return team_id, user_id, project_id


def assign_households(
    session: Session,
    *,
    actor: Actor,
    household_ids: Sequence[int],
    team_id: int | None,
    user_id: int | None,
    on: date,
    project_id: int | None = None,
    reason: str = "",
    audit: bool = True,
) -> int:
    """包户到人: assign households to a team and (optionally) a person of it; audited.

    The caller has checked that the households are live households of the project. A
    household's active assignment is ended (``ended_on``, kept for the history) and a new one
    records who assigned it and why; a household already assigned exactly so is left alone.
    No team and no person ends the assignments (a closed row keeps the "→ 未分配" step). The
    person's team is used when no team is given; the person must belong to the team (or lead
    it). Returns how many households changed; bumps the project's household-data version and
    queues an ``assignment`` change event.
    """
    if found := text.text_problem(reason, max_len=text.MAX_REASON, multiline=True):
        raise ValidationFailed(
            "理由" + found, "invalid reason", details=[{"field": "reason", "message": "理由" + found}]
        )
    team_id, user_id, project_id = _assignee(session, team_id=team_id, user_id=user_id, project_id=project_id)
    ids = list(dict.fromkeys(household_ids))
    if not ids:
        return 0
    if project_id is None:  # ending assignments without naming the project: the old teams' project
        current_teams = {t for t, _u in active_assignments(session, ids).values() if t is not None}
        project_id = (
            session.scalar(select(Team.project_id).where(Team.id.in_(current_teams)).limit(1))
            if current_teams
            else None
        )
    if project_id is not None:
        # First: the UPDATE of the project row serialises concurrent assignments of the project,
        # so the active rows read below are the committed ones.
        project_service.bump_households_version(session, project_id)
    current = active_assignments(session, ids)
    target = (team_id, user_id)
    changed = [h for h in ids if current.get(h, (None, None)) != target]
    if not changed:
        return 0
    for i in range(0, len(changed), _ASSIGN_CHUNK):
        session.execute(
            update(HouseholdAssignment)
            .where(
                HouseholdAssignment.household_id.in_(changed[i : i + _ASSIGN_CHUNK]),
                HouseholdAssignment.active.is_(True),
            )
            .values(active=False, ended_on=on)
        )
    ending = team_id is None and user_id is None
    session.add_all(
        HouseholdAssignment(
            household_id=h,
            team_id=team_id,
            user_id=user_id,
            assigned_on=on,
            active=not ending,
            ended_on=on if ending else None,
            assigned_by=actor.user_id,
            reason=reason,
        )
        for h in changed
    )
    session.flush()
    if audit:
        audit_service.record_many(
            session,
            actor=actor,
            entries=[
                audit_service.AuditEntry(
                    action="unassign" if ending else ("reassign" if h in current else "assign"),
                    entity="household_assignment",
                    entity_id=str(h),
                    household_id=h,
                    project_id=project_id,
                    reason=reason,
                    changes={
                        "team_id": [current.get(h, (None, None))[0], team_id],
                        "user_id": [current.get(h, (None, None))[1], user_id],
                    },
                )
                for h in changed
            ],
        )
    if project_id is not None:
        events.notify(
            session,
            topic=events.project_topic(project_id),
            kind="assignment",
            data={"households": len(changed), "team_id": team_id, "user_id": user_id},
        )
    return len(changed)


@dataclass(frozen=True, slots=True)
class AssignmentStep:
    """One step of a household's assignment history: from → to, by whom, when, why."""

    id: int
    household_id: int
    assigned_on: date
    ended_on: date | None
    active: bool
    team_id: int | None
    team_name: str
    user_id: int | None
    user_name: str
    from_team_id: int | None
    from_team_name: str
    from_user_id: int | None
    from_user_name: str
    assigned_by: int | None
    assigned_by_name: str
    reason: str


def assignment_steps(session: Session, *, household_id: int) -> list[AssignmentStep]:
    """Every assignment of a household, newest first, each with the one it replaced (no scope
    check here: callers check that the household is in the user's scope)."""
    rows = list(
        session.scalars(
            select(HouseholdAssignment)
            .where(HouseholdAssignment.household_id == household_id)
            .order_by(HouseholdAssignment.id)
        )
    )
    team_ids = {r.team_id for r in rows if r.team_id is not None}
    user_ids = {i for r in rows for i in (r.user_id, r.assigned_by) if i is not None}
    teams = (
        {int(i): str(n) for i, n in session.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids)))}
        if team_ids
        else {}
    )
    users = (
        {
            int(i): str(n)
            for i, n in session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids)))
        }
        if user_ids
        else {}
    )
    out: list[AssignmentStep] = []
    prev: HouseholdAssignment | None = None
    for r in rows:
        pt, pu = (prev.team_id, prev.user_id) if prev is not None else (None, None)
        out.append(
            AssignmentStep(
                id=r.id,
                household_id=r.household_id,
                assigned_on=r.assigned_on,
                ended_on=r.ended_on,
                active=r.active,
                team_id=r.team_id,
                team_name=teams.get(r.team_id, "") if r.team_id is not None else "",
                user_id=r.user_id,
                user_name=users.get(r.user_id, "") if r.user_id is not None else "",
                from_team_id=pt,
                from_team_name=teams.get(pt, "") if pt is not None else "",
                from_user_id=pu,
                from_user_name=users.get(pu, "") if pu is not None else "",
                assigned_by=r.assigned_by,
                assigned_by_name=users.get(r.assigned_by, "系统") if r.assigned_by is not None else "系统",
                reason=r.reason,
            )
        )
        prev = r
    out.reverse()
    return out


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


def team_names(session: Session, project_id: int) -> dict[int, str]:
    """``team id -> name`` of a project's teams (for showing ids in histories)."""
    return {t.id: t.name for t in session.scalars(select(Team).where(Team.project_id == project_id))}


def user_names(session: Session) -> dict[int, str]:
    """``user id -> display name`` of every user (for showing ids in histories)."""
    return {int(i): str(n) for i, n in session.execute(select(User.id, User.display_name))}


def active_assignments(session: Session, household_ids: list[int]) -> dict[int, tuple[int | None, int | None]]:
    """``household id -> (team id, user id)`` of the active 包户 assignments of ``household_ids``."""
    if not household_ids:
        return {}
    rows = session.execute(
        select(HouseholdAssignment.household_id, HouseholdAssignment.team_id, HouseholdAssignment.user_id)
        .where(HouseholdAssignment.household_id.in_(household_ids), HouseholdAssignment.active.is_(True))
        .order_by(HouseholdAssignment.id)
    )
    return {int(h): (t, u) for h, t, u in rows}  # the newest active row wins
