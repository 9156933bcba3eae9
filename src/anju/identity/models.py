"""Users, sessions, teams and the household assignments that data scopes read."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from anju.db.base import Base, BigId, IdMixin, UTCDateTime, VersionMixin


class User(IdMixin, VersionMixin, Base):
    """A person who logs in; ``role`` is one of :class:`anju.identity.rules.Role`."""

    __tablename__ = "user"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("team.id"))
    phone: Mapped[str] = mapped_column(String(32), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set by an administrator's password reset: the one-time password only opens the change form.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Team(IdMixin, VersionMixin, Base):
    """专班 / 攻坚小组: a field team of a project; members are users with ``team_id``.

    Teams nest one level: a 大组 (``kind`` "group") holds 小组 (``kind`` "squad") through
    ``parent_id``; a group leader's data scope covers the households of its squads.
    """

    __tablename__ = "team"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    parent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("team.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="squad", server_default="squad")
    name: Mapped[str] = mapped_column(String(64))
    leader_id: Mapped[int | None] = mapped_column(BigId)
    sort: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class HouseholdAssignment(IdMixin, Base):
    """包户到人: a household assigned to a team and (optionally) one member of it.

    Data scopes read the active rows; ending an assignment sets ``ended_on`` (kept for history).
    """

    __tablename__ = "household_assignment"
    __table_args__ = (
        Index("ix_household_assignment_user", "user_id", "household_id"),
        Index("ix_household_assignment_team", "team_id", "household_id"),
    )

    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("team.id"))
    user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    assigned_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Who assigned it and why (reassignments keep the history: the ended rows stay).
    assigned_by: Mapped[int | None] = mapped_column(BigId)
    reason: Mapped[str] = mapped_column(String(500), default="", server_default="")


class UserSession(IdMixin, Base):
    """A login session; the cookie carries the token, the database only its SHA-256."""

    __tablename__ = "user_session"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("user.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ip: Mapped[str] = mapped_column(String(64), default="")
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginAttempt(IdMixin, Base):
    """Every login attempt, counted per account key and per address to throttle guessing.

    ``username`` holds the throttling key (:func:`anju.identity.throttle.account_key`: the
    normalised name, or a digest of a name longer than the column), not the text as typed.
    ``outcome`` is ``success``, ``failure`` or ``throttled`` ('' on rows older than it: failures).
    """

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_user_at", "username", "at"),
        Index("ix_login_attempt_ip_at", "ip", "at"),
    )

    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
    failures_before: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(16), default="", server_default="")
