"""Published compensation policies (补偿安置方案), immutable and content-hashed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
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
