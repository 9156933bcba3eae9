"""Reports that are issued and then frozen: the daily dispatch report (每日调度通报)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from anju.db.base import Base, BigId, IdMixin, LongText, UTCDateTime, VersionMixin


class DispatchReport(IdMixin, VersionMixin, Base):
    """每日调度通报 of a project for one date.

    A draft is recomputed from live data each time it is shown; issuing stores the numbers as
    JSON (``numbers``) with a digest, and from then on the report, its DOCX and its PDF are
    rendered from that frozen snapshot only, whatever happens to the data later.
    """

    __tablename__ = "dispatch_report"
    __table_args__ = (UniqueConstraint("project_id", "report_on"),)

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    report_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | issued
    title: Mapped[str] = mapped_column(String(200), default="")
    commentary: Mapped[str] = mapped_column(LongText, default="")  # the commander's free text
    numbers: Mapped[str] = mapped_column(LongText, default="")  # frozen JSON snapshot once issued
    numbers_sha256: Mapped[str] = mapped_column(String(64), default="")
    pdf_sha256: Mapped[str] = mapped_column(String(64), default="")  # of the archived PDF
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
