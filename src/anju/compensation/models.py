"""Published compensation policies (补偿安置方案), immutable and content-hashed."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Date,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from anju.db.base import Base, BigId, IdMixin, LongText, UTCDateTime, VersionMixin


class PolicyVersion(IdMixin, Base):
    """One published version of a project's policy. Never updated: an amendment is a new version."""

    __tablename__ = "policy_version"
    __table_args__ = (UniqueConstraint("project_id", "version"),)

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    legal_ref: Mapped[str] = mapped_column(String(200), default="")  # 文号
    effective_on: Mapped[date | None] = mapped_column(Date)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(LongText)
    file_name: Mapped[str] = mapped_column(String(255), default="")
    published_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PolicyDraft(IdMixin, Base):
    """A draft of a project's next policy, numbered per project. Never updated: each save (from the
    form or the YAML editor) is a new draft, so every step of the editing stays readable."""

    __tablename__ = "policy_draft"
    __table_args__ = (UniqueConstraint("project_id", "number"),)

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 草稿序号, per project
    based_on: Mapped[int | None] = mapped_column(Integer)  # published version it started from
    parent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("policy_draft.id"))
    source: Mapped[str] = mapped_column(LongText)
    file_name: Mapped[str] = mapped_column(String(255), default="")
    note: Mapped[str] = mapped_column(String(200), default="")  # what changed, in words
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WhatIfScenario(IdMixin, VersionMixin, Base):
    """A named what-if (测算方案): changed parameter values over the project's published policy.

    Re-running it recomputes against the policy and households as they are now; archiving
    (never deleting) keeps it readable for the audit trail.
    """

    __tablename__ = "whatif_scenario"

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    option: Mapped[str] = mapped_column(String(32))
    overrides: Mapped[str] = mapped_column(LongText)  # JSON {knob key: value as typed}
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    archived_by: Mapped[str | None] = mapped_column(String(64))


class MeasureNumber(TypeDecorator[Decimal]):
    """A group measure's value with 4 decimals, handed back as an exact ``Decimal``."""

    impl = Numeric(16, 4, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value).quantize(Decimal("0.0001"))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value)).quantize(Decimal("0.0001"))


class GroupMeasureValue(IdMixin, Base):
    """A value the office recorded for a group measure the policy declares ``set_by: office``
    (e.g. 整片腾空率 of one 片区), in force from ``effective_on``. Never updated or deleted: a
    correction is a new record, and for one effective date the latest record counts."""

    __tablename__ = "group_measure_value"
    __table_args__ = (
        Index("ix_group_measure_value_lookup", "project_id", "measure_id", "block_id", "effective_on"),
    )

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    measure_id: Mapped[str] = mapped_column(String(64))
    block_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("block.id"))  # None: the whole project
    effective_on: Mapped[date] = mapped_column(Date)
    value: Mapped[Decimal] = mapped_column(MeasureNumber())
    policy_version: Mapped[int] = mapped_column(Integer)  # the published version that declared it
    reason: Mapped[str] = mapped_column(String(500))
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
