"""Append-only, keyed hash-chained audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from anju.db.base import Base, BigId, IdMixin, LongText, UTCDateTime


class AuditRecord(IdMixin, Base):
    """One audited change: who, when, which entity, field-level before/after, why.

    ``seq`` is gapless and ``hash`` is an HMAC-SHA256 (under the audit key ``key_id`` names, which
    is never stored here) of every column plus ``prev_hash``, so removing, altering or re-hashing a
    row behind the application's back breaks the chain at that row. ``key_id`` empty: a legacy
    record from before the chain was keyed (plain SHA-256), accepted only as the chain's anchored
    prefix. Anchors outside the database catch a rollback of the tail (see ``anju.audit.anchors``).
    """

    __tablename__ = "audit_record"
    __table_args__ = (
        Index("ix_audit_record_household", "household_id", "seq"),
        Index("ix_audit_record_entity", "entity", "entity_id"),
        # The audit page filters by person and by action, newest first, over millions of records.
        Index("ix_audit_record_actor", "actor_id", "seq"),
        Index("ix_audit_record_action", "action", "seq"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(BigId)
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[int | None] = mapped_column(BigId)
    household_id: Mapped[int | None] = mapped_column(BigId)
    changes: Mapped[str] = mapped_column(LongText)
    reason: Mapped[str] = mapped_column(String(500), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # Which audit key made ``hash`` (keys rotate; the keys themselves never enter the database).
    key_id: Mapped[str] = mapped_column(String(16), server_default="")


class AuditHead(Base):
    """Single row holding the chain's last ``seq`` and ``hash``; updating it serialises appends."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64), default="")
