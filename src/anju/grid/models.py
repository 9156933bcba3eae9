"""Communities (社区) and grids (网格): the map every resident request, mediation and volunteer
activity is placed on.

A grid has a boundary (a GeoJSON Polygon/MultiPolygon in WGS-84, kept as text so that every backend
stores it the same way) and its centroid for quick map placement; point-in-grid lookups are done in
Python over the grid's bounding box first (``min_lng``..``max_lat``), which is indexed.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from anju.db.base import Base, BigId, IdMixin, LongText, UTCDateTime, VersionMixin

#: Degrees with 6 decimals (about 0.1 m): enough for a lamp post, exact on every backend.
Coordinate = Numeric(10, 6)


class Community(IdMixin, VersionMixin, Base):
    """A community (社区) of the subdistrict, e.g. 东埠社区; its grids divide it."""

    __tablename__ = "community"
    __table_args__ = (UniqueConstraint("code"),)

    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    sort: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Grid(IdMixin, VersionMixin, Base):
    """A grid (网格) of a community with its boundary, its grid worker (网格员, a user) and the
    public contact card residents see (``public_phone``, ``public_note``)."""

    __tablename__ = "grid"
    __table_args__ = (
        UniqueConstraint("code"),
        Index("ix_grid_community", "community_id"),
        Index("ix_grid_bbox", "min_lng", "min_lat"),
    )

    community_id: Mapped[int] = mapped_column(BigId, ForeignKey("community.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    boundary: Mapped[str] = mapped_column(LongText, default="")  # GeoJSON geometry, WGS-84
    centroid_lng: Mapped[Decimal | None] = mapped_column(Coordinate)
    centroid_lat: Mapped[Decimal | None] = mapped_column(Coordinate)
    min_lng: Mapped[Decimal | None] = mapped_column(Coordinate)
    min_lat: Mapped[Decimal | None] = mapped_column(Coordinate)
    max_lng: Mapped[Decimal | None] = mapped_column(Coordinate)
    max_lat: Mapped[Decimal | None] = mapped_column(Coordinate)
    worker_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    public_phone: Mapped[str] = mapped_column(String(32), default="")
    public_note: Mapped[str] = mapped_column(String(500), default="")
    households: Mapped[int] = mapped_column(Integer, default=0)  # resident households in the grid
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GridBuilding(IdMixin, VersionMixin, Base):
    """A residential building (楼栋) of a grid with its building leader (楼栋长), marked when a party
    member (党员): the 红色网格's people on the ground."""

    __tablename__ = "grid_building"
    __table_args__ = (UniqueConstraint("grid_id", "name"),)

    grid_id: Mapped[int] = mapped_column(BigId, ForeignKey("grid.id"))
    name: Mapped[str] = mapped_column(String(64))  # e.g. 幸福里 3 幢
    address: Mapped[str] = mapped_column(String(200), default="")
    households: Mapped[int] = mapped_column(Integer, default=0)
    leader_name: Mapped[str] = mapped_column(String(64), default="")
    leader_phone: Mapped[str] = mapped_column(String(32), default="")
    leader_party_member: Mapped[bool] = mapped_column(Boolean, default=False)


# --------------------------------------------------------------------------- mediation (矛盾调解)


class MediationCase(IdMixin, VersionMixin, Base):
    """A dispute mediation case (矛盾调解) in a grid, optionally about households of the household
    files and arising from a service request; its status and, once closed, its outcome."""

    __tablename__ = "mediation_case"
    __table_args__ = (UniqueConstraint("code"), Index("ix_mediation_case_grid", "grid_id", "status"))

    code: Mapped[str] = mapped_column(String(32))  # TJ-2026-0001
    grid_id: Mapped[int] = mapped_column(BigId, ForeignKey("grid.id"))
    title: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # rules.MEDIATION_KINDS
    summary: Mapped[str] = mapped_column(String(2000), default="")
    service_request_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("service_request.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open / closed
    outcome: Mapped[str] = mapped_column(String(16), default="")  # rules.MEDIATION_OUTCOMES
    outcome_note: Mapped[str] = mapped_column(String(2000), default="")
    opened_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MediationHousehold(IdMixin, Base):
    """A household (of the household files) a mediation case is about."""

    __tablename__ = "mediation_household"
    __table_args__ = (UniqueConstraint("case_id", "household_id"),)

    case_id: Mapped[int] = mapped_column(BigId, ForeignKey("mediation_case.id"))
    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"))


class MediationParty(IdMixin, Base):
    """A party of a case (当事人): name, role (申请人 / 被申请人 / 第三人 …) and phone (masked when
    shown)."""

    __tablename__ = "mediation_party"
    __table_args__ = (Index("ix_mediation_party_case", "case_id"),)

    case_id: Mapped[int] = mapped_column(BigId, ForeignKey("mediation_case.id"))
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # rules.PARTY_ROLES
    phone: Mapped[str] = mapped_column(String(32), default="")


class MediationSession(IdMixin, Base):
    """One mediation session (调解会): when, where, who mediated, what was said."""

    __tablename__ = "mediation_session"
    __table_args__ = (Index("ix_mediation_session_case", "case_id"),)

    case_id: Mapped[int] = mapped_column(BigId, ForeignKey("mediation_case.id"))
    held_on: Mapped[date] = mapped_column(Date)
    place: Mapped[str] = mapped_column(String(128), default="")
    mediator: Mapped[str] = mapped_column(String(64))
    notes: Mapped[str] = mapped_column(String(4000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
