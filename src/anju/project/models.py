"""Projects (征收项目), their nested blocks (片区/村/组) and parcels (宗地)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from anju.db.base import Area, Base, BigId, IdMixin, LongText, UTCDateTime, VersionMixin


class Project(IdMixin, VersionMixin, Base):
    """An expropriation project; ``kind`` is state_land, collective_land or shantytown."""

    __tablename__ = "project"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), default="survey")
    district: Mapped[str] = mapped_column(String(128), default="")
    description: Mapped[str] = mapped_column(String(2000), default="")
    decision_no: Mapped[str] = mapped_column(String(128), default="")  # 征收决定文号
    signing_start_on: Mapped[date | None] = mapped_column(Date)
    signing_end_on: Mapped[date | None] = mapped_column(Date)
    legal_basis: Mapped[str] = mapped_column(String(1000), default="", server_default="")  # 法律依据
    launched_on: Mapped[date | None] = mapped_column(Date)  # 启动日: campaign day 1
    deadline_on: Mapped[date | None] = mapped_column(Date)  # 签约截止 / 攻坚目标日
    target_sign_rate: Mapped[int] = mapped_column(Integer, default=100, server_default="100")  # percent
    target_households: Mapped[int | None] = mapped_column(Integer)  # households to sign (None: all)
    # Alerts: a household with no visit for this many days shows on its team's start page.
    alert_no_visit_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    # Bumped by every write to one of the project's household files; list caches key on it.
    households_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Block(IdMixin, VersionMixin, Base):
    """片区 / 区块 / 村 / 组: nested through ``parent_id``; ``level`` names the kind."""

    __tablename__ = "block"
    __table_args__ = (UniqueConstraint("project_id", "code"),)

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("block.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    level: Mapped[str] = mapped_column(String(16))  # area | village | group | block
    sort: Mapped[int] = mapped_column(Integer, default=0)
    geometry: Mapped[str | None] = mapped_column(LongText)  # GeoJSON


class Parcel(IdMixin, Base):
    """宗地: a land parcel with its GeoJSON geometry."""

    __tablename__ = "parcel"
    __table_args__ = (UniqueConstraint("project_id", "code"),)

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"), index=True)
    block_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("block.id"))
    code: Mapped[str] = mapped_column(String(64))
    land_area: Mapped[Decimal | None] = mapped_column(Area())
    geometry: Mapped[str | None] = mapped_column(LongText)  # GeoJSON
