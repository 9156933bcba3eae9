"""一户一档: the household file and the facts the policy engine computes from.

Nothing here is ever hard-deleted: rows with legal weight are voided with a reason.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from anju.db.base import Area, Base, BigId, Fen, IdMixin, UTCDateTime, VersionMixin


class VoidMixin:
    """Voiding instead of deleting: who/why is in the audit record."""

    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str] = mapped_column(String(500), default="")


class Household(IdMixin, VoidMixin, Base):
    """被征收户: one household of a project, identified by ``code`` inside the project."""

    __tablename__ = "household"
    __table_args__ = (
        UniqueConstraint("project_id", "code"),
        Index("ix_household_project_block", "project_id", "block_id", "code"),
        Index("ix_household_project_status", "project_id", "status", "code"),
        # Covers the list counts (project, live, block, status) without touching table rows.
        Index("ix_household_list_count", "project_id", "voided_at", "block_id", "status"),
        # Households changed since a moment (the list's search text is refreshed from them).
        Index("ix_household_project_updated", "project_id", "updated_at"),
    )

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    block_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("block.id"))
    parcel_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("parcel.id"))
    code: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(255), default="")
    head_name: Mapped[str] = mapped_column(String(64))
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(32), default="surveyed")
    sign_on: Mapped[date | None] = mapped_column(Date)
    vacate_on: Mapped[date | None] = mapped_column(Date)
    demolish_on: Mapped[date | None] = mapped_column(Date)
    # The day the agreed compensation was paid in full (recorded by the payments of the signing issue).
    paid_on: Mapped[date | None] = mapped_column(Date)
    remark: Mapped[str] = mapped_column(String(1000), default="")
    # Lower-cased code, head, members and address: one indexed-free LIKE target for search.
    search_text: Mapped[str] = mapped_column(String(1000), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HouseholdFact(IdMixin, VersionMixin, Base):
    """A fact the project's policy declares (``facts:`` block, :mod:`anju.policy.declared`) for one
    household, or for one of its buildings or members (``level: building`` / ``member``), e.g. its
    count of air conditioners: stored as text and typed by the declaration, so
    that a new policy version needs no new column. Cleared by setting ``value`` to ``None`` (the row
    and its audit trail stay)."""

    __tablename__ = "household_fact"
    # ``subject`` says whose fact it is: ``h`` (the household), ``b:<building id>`` or
    # ``m:<member id>`` (a building- or member-level fact). A non-null key rather than the nullable
    # building/member ids, because NULLs compare unequal in unique constraints on every database.
    __table_args__ = (UniqueConstraint("household_id", "fact_id", "subject"),)

    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"))
    fact_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(32), default="h", server_default="h")
    building_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("building.id"))
    member_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("member.id"))
    value: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Member(IdMixin, VersionMixin, VoidMixin, Base):
    """家庭成员, with special groups (特殊群体) and the resettlement-population decision."""

    __tablename__ = "member"

    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    relation: Mapped[str] = mapped_column(String(16))  # 户主 / 配偶 / 子女 ...
    gender: Mapped[str] = mapped_column(String(8), default="")
    birth_on: Mapped[date | None] = mapped_column(Date)
    id_number_cipher: Mapped[str] = mapped_column(String(255), default="")
    id_number_digest: Mapped[str] = mapped_column(String(64), default="", index=True)
    id_number_masked: Mapped[str] = mapped_column(String(32), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    dibao: Mapped[bool] = mapped_column(Boolean, default=False)  # 低保
    disability_grade: Mapped[int | None] = mapped_column(Integer)  # 残疾等级 1-4
    serious_illness: Mapped[bool] = mapped_column(Boolean, default=False)  # 大病
    martyr_family: Mapped[bool] = mapped_column(Boolean, default=False)  # 烈属
    shidu: Mapped[bool] = mapped_column(Boolean, default=False)  # 失独
    only_child: Mapped[bool] = mapped_column(Boolean, default=False)  # 独生子女
    youfu: Mapped[bool] = mapped_column(Boolean, default=False)  # 优抚
    resettlement_counted: Mapped[bool | None] = mapped_column(Boolean)  # 安置人口; None = not yet determined
    resettlement_reason: Mapped[str] = mapped_column(String(255), default="")
    sort: Mapped[int] = mapped_column(Integer, default=0)


class Building(IdMixin, VersionMixin, VoidMixin, Base):
    """房屋 / 证: one certified building (or an uncertified one) of the household."""

    __tablename__ = "building"

    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"), index=True)
    certificate_no: Mapped[str] = mapped_column(String(64), default="")
    structure: Mapped[str] = mapped_column(
        String(32)
    )  # brick_concrete | brick_wood | simple | steel_concrete
    use: Mapped[str] = mapped_column(String(32))  # residential | non_residential | business
    floors: Mapped[int | None] = mapped_column(Integer)
    built_year: Mapped[int | None] = mapped_column(Integer)
    legal_area: Mapped[Decimal] = mapped_column(Area(), default=Decimal("0.00"))
    unregistered_area: Mapped[Decimal] = mapped_column(Area(), default=Decimal("0.00"))
    # legal | temporary | illegal | pending (合法 / 临建 / 违建 / 待认定)
    unregistered_determination: Mapped[str] = mapped_column(String(16), default="pending")
    location: Mapped[str] = mapped_column(String(255), default="")
    sort: Mapped[int] = mapped_column(Integer, default=0)


class Valuation(IdMixin, VoidMixin, Base):
    """评估结果 of one building from the valuation firm; the newest non-voided one counts."""

    __tablename__ = "valuation"

    building_id: Mapped[int] = mapped_column(BigId, ForeignKey("building.id"), index=True)
    firm: Mapped[str] = mapped_column(String(128), default="")
    report_no: Mapped[str] = mapped_column(String(64), default="")
    valued_on: Mapped[date | None] = mapped_column(Date)
    assessed_unit_price_fen: Mapped[int] = mapped_column(Fen)  # 元/㎡ in fen
    assessed_value_fen: Mapped[int] = mapped_column(Fen)
    decoration_fen: Mapped[int] = mapped_column(Fen, default=0)
    fixtures_fen: Mapped[int] = mapped_column(Fen, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Tenant(IdMixin, VersionMixin, VoidMixin, Base):
    """承租人 / 承租企业 renting (part of) the household's buildings."""

    __tablename__ = "tenant"

    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # person | enterprise
    credential_masked: Mapped[str] = mapped_column(String(32), default="")  # masked ID or credit code
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    business: Mapped[str] = mapped_column(String(128), default="")
    area: Mapped[Decimal] = mapped_column(Area(), default=Decimal("0.00"))
    monthly_rent_fen: Mapped[int] = mapped_column(Fen, default=0)
    lease_start_on: Mapped[date | None] = mapped_column(Date)
    lease_end_on: Mapped[date | None] = mapped_column(Date)


class Homestead(IdMixin, VersionMixin, VoidMixin, Base):
    """宅基地 of a collective-land household."""

    __tablename__ = "homestead"
    __table_args__ = (UniqueConstraint("household_id"),)

    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"))
    area: Mapped[Decimal] = mapped_column(Area())
    approved_year: Mapped[int | None] = mapped_column(Integer)
    certificate_no: Mapped[str] = mapped_column(String(64), default="")


class Attachment(IdMixin, VoidMixin, Base):
    """A photo or scan of the household file, stored under the data folder by checksum."""

    __tablename__ = "attachment"

    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32), default="other")
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
