"""Resettlement flats (安置房): estates, buildings, flat types, the flat stock (房源), selection
events (选房大会) with their verifiable order, and the selections made there.

A selection is legal evidence: it is never deleted, an undo keeps the row (``status`` undone, who,
when, why). "One live selection per flat" is enforced by the database on every backend through
:attr:`Selection.flat_lock` (the flat's id while the selection is live, NULL once undone; NULLs do
not collide in a unique index on SQLite, PostgreSQL or MariaDB).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from anju.db.base import Area, Base, BigId, Fen, IdMixin, LongText, UTCDateTime, VersionMixin


class Estate(IdMixin, VersionMixin, Base):
    """A resettlement estate (安置小区) of a project, with its planned and actual delivery dates
    (交房): transition fees run until delivery plus the policy's grace months."""

    __tablename__ = "estate"
    __table_args__ = (UniqueConstraint("project_id", "code"),)

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    address: Mapped[str] = mapped_column(String(200), default="")
    planned_delivery_on: Mapped[date | None] = mapped_column(Date)
    actual_delivery_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HousingBuilding(IdMixin, Base):
    """A building (楼栋) of an estate, e.g. ``3幢``; ``floors`` and ``units`` are the highest floor
    and unit number its flats have (the flat grid's size); ``rise`` its 楼型 (多层 / 高层) as set by
    the office, ``None`` = by the floors count (10 and more: 高层, see ``building_rise``)."""

    __tablename__ = "housing_building"
    __table_args__ = (UniqueConstraint("estate_id", "code"),)

    estate_id: Mapped[int] = mapped_column(BigId, ForeignKey("estate.id"))
    code: Mapped[str] = mapped_column(String(32))
    floors: Mapped[int] = mapped_column(Integer, default=0)
    units: Mapped[int] = mapped_column(Integer, default=0)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    rise: Mapped[str | None] = mapped_column(String(8))


class FlatType(IdMixin, Base):
    """A flat type (户型) of an estate, e.g. ``A`` 三室两厅, with its plan image (an upload kept by
    its SHA-256 like household attachments) and its nominal areas."""

    __tablename__ = "flat_type"
    __table_args__ = (UniqueConstraint("estate_id", "code"),)

    estate_id: Mapped[int] = mapped_column(BigId, ForeignKey("estate.id"))
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64), default="")
    plan_sha256: Mapped[str | None] = mapped_column(String(64))
    plan_filename: Mapped[str | None] = mapped_column(String(200))
    gross_area: Mapped[Decimal | None] = mapped_column(Area())
    inner_area: Mapped[Decimal | None] = mapped_column(Area())


class Flat(IdMixin, VersionMixin, Base):
    """A resettlement flat (安置房 / 房源).

    ``code`` is unique per estate: building, unit and number, e.g. ``3-1-502``. ``status``:
    available -> frozen | reserved (by hand, with a reason) -> available; available -> selected
    (a selection) -> available (undone) | delivered. ``price_tier`` is the key the policy prices
    the flat by (``standard``, ``extra`` ...); ``market_unit_price_fen`` an optional market price
    per ㎡ for this flat (the policy's market price otherwise). ``household_id`` and
    ``selection_id`` name who selected it while it is selected or delivered.
    """

    __tablename__ = "flat"
    __table_args__ = (
        UniqueConstraint("estate_id", "code"),
        Index("ix_flat_estate_status", "estate_id", "status"),
        Index("ix_flat_building", "building_id"),
        Index("ix_flat_household", "household_id"),
    )

    estate_id: Mapped[int] = mapped_column(BigId, ForeignKey("estate.id"))
    building_id: Mapped[int] = mapped_column(BigId, ForeignKey("housing_building.id"))
    flat_type_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("flat_type.id"))
    code: Mapped[str] = mapped_column(String(48))
    unit: Mapped[int] = mapped_column(Integer)
    floor: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(16))  # 房号 as the developer writes it, e.g. 502
    gross_area: Mapped[Decimal] = mapped_column(Area())  # 建筑面积
    inner_area: Mapped[Decimal] = mapped_column(Area())  # 套内面积
    shared_area: Mapped[Decimal] = mapped_column(Area())  # 公摊面积
    orientation: Mapped[str] = mapped_column(String(16), default="")  # 朝向
    price_tier: Mapped[str] = mapped_column(String(32), default="standard")
    market_unit_price_fen: Mapped[int | None] = mapped_column(Fen)
    status: Mapped[str] = mapped_column(String(16), default="available")
    status_reason: Mapped[str] = mapped_column(String(200), default="")
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    household_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("household.id"))
    # No foreign key: flat and selection point at each other, and a cycle of foreign keys cannot be
    # created portably; the selection service writes both in one transaction.
    selection_id: Mapped[int | None] = mapped_column(BigId)


class SelectionEvent(IdMixin, VersionMixin, Base):
    """A flat selection event (选房大会) of a project over one or more estates.

    ``order_kind`` sign_order (by sign order number) | lottery. For a lottery the commitment is
    published before the draw: ``seed_committed_hash`` = sha256 of the seed (or only a
    ``seed_source`` naming a future public value, e.g. a lottery draw), together with the roster
    (the households taking part, ``roster`` JSON, ``roster_hash``); the seed itself is recorded
    when the order is fixed and must match the commitment. ``status`` planned -> open -> closed;
    ``current_position`` is the order position being served.
    """

    __tablename__ = "selection_event"
    __table_args__ = (Index("ix_selection_event_project", "project_id"),)

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    name: Mapped[str] = mapped_column(String(128))
    held_on: Mapped[date | None] = mapped_column(Date)
    order_kind: Mapped[str] = mapped_column(String(16))  # sign_order | lottery
    seed: Mapped[str | None] = mapped_column(String(500))
    seed_source: Mapped[str] = mapped_column(String(500), default="")
    seed_committed_hash: Mapped[str | None] = mapped_column(String(64))
    seed_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    roster: Mapped[str] = mapped_column(LongText, default="")  # JSON [{household_id, code, sign_no}]
    roster_hash: Mapped[str] = mapped_column(String(64), default="")
    order_fixed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="planned")
    current_position: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SelectionEventEstate(Base):
    """The estates whose flats a selection event offers."""

    __tablename__ = "selection_event_estate"

    event_id: Mapped[int] = mapped_column(BigId, ForeignKey("selection_event.id"), primary_key=True)
    estate_id: Mapped[int] = mapped_column(BigId, ForeignKey("estate.id"), primary_key=True)


class SelectionOrderEntry(IdMixin, VersionMixin, Base):
    """A household's place in a selection event's order (选房顺序).

    ``position`` is the fixed order (1, 2, ...) and never changes; ``call_order`` is when the
    household is called: equal to ``position`` until it is skipped (过号), then moved behind the
    last. ``draw_key`` is the lottery key (hex sha256), empty for sign order. ``status`` waiting |
    current | done | skipped | absent.
    """

    __tablename__ = "selection_order_entry"
    __table_args__ = (
        UniqueConstraint("event_id", "position"),
        UniqueConstraint("event_id", "household_id"),
        Index("ix_selection_order_entry_call", "event_id", "call_order"),
    )

    event_id: Mapped[int] = mapped_column(BigId, ForeignKey("selection_event.id"))
    position: Mapped[int] = mapped_column(Integer)
    call_order: Mapped[int] = mapped_column(Integer)
    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"))
    sign_no: Mapped[int | None] = mapped_column(Integer)
    draw_key: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="waiting")


class Selection(IdMixin, Base):
    """A flat chosen by a household at a selection event (选房确认).

    ``status`` confirmed | undone; an undo (a supervisor, with a reason) keeps the row. ``flat_lock``
    equals ``flat_id`` while the selection is confirmed and is NULL once undone: its unique index
    makes a second live selection of one flat impossible on every database.
    """

    __tablename__ = "selection"
    __table_args__ = (
        UniqueConstraint("flat_lock"),
        Index("ix_selection_event_household", "event_id", "household_id"),
        Index("ix_selection_flat", "flat_id"),
    )

    event_id: Mapped[int] = mapped_column(BigId, ForeignKey("selection_event.id"))
    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"))
    flat_id: Mapped[int] = mapped_column(BigId, ForeignKey("flat.id"))
    flat_lock: Mapped[int | None] = mapped_column(BigId)
    # The household's live swap agreement when it selected (settlement 多退少补 feeds its schedule).
    agreement_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("agreement.id"))
    position: Mapped[int] = mapped_column(Integer)  # the household's order position
    selected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    operator_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    status: Mapped[str] = mapped_column(String(16), default="confirmed")
    undone_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    undo_reason: Mapped[str] = mapped_column(String(500), default="")
    # The keys handed over (交钥匙 / 回迁), recorded by housing_service.record_handover: the
    # household's move-back date (policy fact household.move_back_on) once every flat it holds has it.
    handed_over_on: Mapped[date | None] = mapped_column(Date)
