"""Published compensation policies (补偿安置方案), immutable and content-hashed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from anju.db.base import Base, BigId, IdMixin, LongText, UTCDateTime


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
