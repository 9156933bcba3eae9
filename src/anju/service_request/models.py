"""Departments, request categories with their time limits, resident requests, their history and
photos, and the API keys of Open311 clients.

The state of a request is :attr:`ServiceRequest.status` (see :mod:`anju.service_request.rules` for
the five orders and their GB/T 30428 steps); every change is a :class:`RequestEvent` row, and every
indicator (结案率, 按期结案率, 返工率 ...) is derived from those rows, never typed in. Overdue is a flag
beside the state (``overdue_at``), not a state.

Personal data: the reporter's name and phone are never public (the public board and Open311 show
neither); residents follow their request with its ``code`` and a secret whose hash is kept
(``follow_hash``), without an account.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from anju.db.base import Base, BigId, IdMixin, LongBlob, LongText, UTCDateTime, VersionMixin

Coordinate = Numeric(10, 6)


class Department(IdMixin, VersionMixin, Base):
    """A department (部门) that takes requests: 城管, 住建, 市场监管, 物业办 ..."""

    __tablename__ = "department"
    __table_args__ = (UniqueConstraint("code"),)

    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DepartmentMember(IdMixin, Base):
    """A user who acts for a department (takes, sends back and publishes its requests)."""

    __tablename__ = "department_member"
    __table_args__ = (UniqueConstraint("department_id", "user_id"),)

    department_id: Mapped[int] = mapped_column(BigId, ForeignKey("department.id"))
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("user.id"))


class ServiceCategory(IdMixin, VersionMixin, Base):
    """A request category (Open311 "service"): ``code`` is the Open311 service_code; ``kind`` is
    部件 (component: a lamp, a manhole) or 事件 (event: a dispute, a stall); ``attributes`` the Open311
    service definition's extra questions (JSON list)."""

    __tablename__ = "service_category"
    __table_args__ = (UniqueConstraint("code"),)

    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    group: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(16), default="event")  # component | event
    description: Mapped[str] = mapped_column(String(500), default="")
    keywords: Mapped[str] = mapped_column(String(200), default="")
    department_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("department.id"))
    attributes: Mapped[str] = mapped_column(LongText, default="[]")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)


class ServiceTimeLimit(IdMixin, Base):
    """How long a step may take for a category and priority, on its own calendar: ``step`` accept
    (定单) | take (接单) | handle (处置, up to 晒单) | verify (验单 window before the office closes it);
    ``calendar`` calendar_days | working_days | working_hours."""

    __tablename__ = "service_time_limit"
    __table_args__ = (UniqueConstraint("category_id", "priority", "step"),)

    category_id: Mapped[int] = mapped_column(BigId, ForeignKey("service_category.id"))
    priority: Mapped[str] = mapped_column(String(16))  # urgent | routine
    step: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Integer)  # in the calendar's unit (days or hours)
    calendar: Mapped[str] = mapped_column(String(16), default="working_days")


class ServiceRequest(IdMixin, VersionMixin, Base):
    """A resident request (居民点单) and where it stands in the five orders."""

    __tablename__ = "service_request"
    __table_args__ = (
        UniqueConstraint("code"),
        Index("ix_service_request_status", "status", "submitted_at"),
        Index("ix_service_request_grid", "grid_id", "submitted_at"),
        Index("ix_service_request_department", "department_id", "status"),
        Index("ix_service_request_category", "category_id", "submitted_at"),
        Index("ix_service_request_submitted", "submitted_at"),
        Index("ix_service_request_updated", "updated_at"),
        # indicators (due, closed in a month) and the public board (newest result first), migration 0018
        Index("ix_service_request_close_due", "close_due_at"),
        Index("ix_service_request_closed", "closed_at"),
        Index("ix_service_request_published", "published_at"),
        Index("ix_service_request_open_grid", "status", "grid_id"),  # the map of open requests
        Index("ix_service_request_submit_address", "submit_address", "submitted_at"),  # rate limit, 0022
    )

    code: Mapped[str] = mapped_column(
        String(32)
    )  # public id, e.g. 20261205-0007 (Open311 service_request_id)
    follow_hash: Mapped[str] = mapped_column(String(64), default="")  # SHA-256 of the resident's follow code
    category_id: Mapped[int] = mapped_column(BigId, ForeignKey("service_category.id"))
    description: Mapped[str] = mapped_column(String(2000), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    lng: Mapped[Decimal | None] = mapped_column(Coordinate)
    lat: Mapped[Decimal | None] = mapped_column(Coordinate)
    grid_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("grid.id"))
    community_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("community.id"))
    attributes: Mapped[str] = mapped_column(LongText, default="{}")  # Open311 attribute[code] answers
    reporter_name: Mapped[str] = mapped_column(String(64), default="")  # never public
    reporter_phone: Mapped[str] = mapped_column(String(32), default="")  # never public
    channel: Mapped[str] = mapped_column(String(16), default="public")  # public | grid_worker | open311
    # salted digest of the public form's network address (rate limit), never the address itself
    submit_address: Mapped[str] = mapped_column(String(64), default="")
    submitted_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))  # a grid worker
    api_key_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("service_api_key.id"))
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    priority: Mapped[str] = mapped_column(String(16), default="routine")  # urgent | routine
    department_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("department.id"))
    status_note: Mapped[str] = mapped_column(String(500), default="")  # public: a rejection's reason ...
    result: Mapped[str] = mapped_column(String(2000), default="")  # 晒单: what was done (public)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # deadline of the current step
    close_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # deadline to close (按期结案)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when it first ran late
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[int | None] = mapped_column(Integer)  # 1..5
    resolution: Mapped[str] = mapped_column(String(16), default="")  # solved | partly | unsolved
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    sendback_count: Mapped[int] = mapped_column(Integer, default=0)
    postpone_count: Mapped[int] = mapped_column(Integer, default=0)
    postpone_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    merged_into_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("service_request.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RequestEvent(IdMixin, Base):
    """One step of a request's history: the action, the states before and after, the GB/T 30428
    step it stands for, who (a user, the resident, the system) and why. Append-only."""

    __tablename__ = "request_event"
    __table_args__ = (
        Index("ix_request_event_request", "request_id", "at"),
        Index("ix_request_event_action_at", "action", "at"),
    )

    request_id: Mapped[int] = mapped_column(BigId, ForeignKey("service_request.id"))
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str] = mapped_column(String(16), default="")
    to_status: Mapped[str] = mapped_column(String(16))
    gb_step: Mapped[str] = mapped_column(String(16), default="")
    actor_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    actor_label: Mapped[str] = mapped_column(String(64), default="")  # 居民 / 系统 / a department's name
    department_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("department.id"))
    reason: Mapped[str] = mapped_column(String(500), default="")
    data: Mapped[str] = mapped_column(LongText, default="{}")
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class RequestPhoto(IdMixin, Base):
    """A photo of a request: taken by the resident (``stage`` submit) or of the result (publish)."""

    __tablename__ = "request_photo"
    __table_args__ = (Index("ix_request_photo_request", "request_id"),)

    request_id: Mapped[int] = mapped_column(BigId, ForeignKey("service_request.id"))
    stage: Mapped[str] = mapped_column(String(16), default="submit")  # submit | publish
    filename: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LongBlob)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ServiceApiKey(IdMixin, Base):
    """An Open311 client's API key (only POST /requests needs one); the key itself is shown once,
    its SHA-256 kept."""

    __tablename__ = "service_api_key"
    __table_args__ = (UniqueConstraint("key_hash"),)

    name: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WorkCalendarDay(IdMixin, Base):
    """A day that breaks the Monday-to-Friday rule: a public holiday (``kind`` holiday) or a make-up
    working day on a weekend (``kind`` workday, 调休). Deadlines on working days and hours count them."""

    __tablename__ = "work_calendar"
    __table_args__ = (UniqueConstraint("day"),)

    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))  # holiday | workday
    name: Mapped[str] = mapped_column(String(64), default="")
