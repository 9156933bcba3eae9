"""Payments (补偿款支付): batches prepared by finance, approved by a second person, exported for
the bank, and closed by the bank's result file.

Every yuan paid traces back to an :class:`anju.agreement.models.Instalment` (agreement, policy
items, purpose) and to the two people who prepared and approved it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from anju.db.base import Base, BigId, Fen, IdMixin, UTCDateTime, VersionMixin


class PaymentBatch(IdMixin, VersionMixin, Base):
    """A payment batch (支付批次) of one project.

    ``status``: draft -> submitted -> approved -> exported -> closed; submitted -> rejected
    (back to the preparer); draft | submitted -> cancelled. ``prepared_by`` and ``approved_by``
    are always two different users (enforced by the service, checked again by a constraint test).
    """

    __tablename__ = "payment_batch"
    __table_args__ = (UniqueConstraint("project_id", "batch_no"), Index("ix_payment_batch_status", "status"))

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    batch_no: Mapped[int] = mapped_column(Integer)  # per project, 1, 2, ...
    title: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="draft")
    total_fen: Mapped[int] = mapped_column(Fen, default=0)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    prepared_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    prepared_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    exported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(String(500), default="")


class Payment(IdMixin, VersionMixin, Base):
    """One payment of a batch: an amount against one instalment of one agreement.

    ``status``: pending (in a draft or submitted batch) -> approved -> paid | failed; a failed
    payment releases its amount so it can be paid in a later batch.
    """

    __tablename__ = "payment"
    __table_args__ = (
        Index("ix_payment_batch", "batch_id"),
        Index("ix_payment_instalment", "instalment_id"),
        Index("ix_payment_agreement", "agreement_id"),
    )

    batch_id: Mapped[int] = mapped_column(BigId, ForeignKey("payment_batch.id"))
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    agreement_id: Mapped[int] = mapped_column(BigId, ForeignKey("agreement.id"))
    instalment_id: Mapped[int] = mapped_column(BigId, ForeignKey("instalment.id"))
    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"))
    line_no: Mapped[int] = mapped_column(Integer)  # row number in the bank file
    payee_name: Mapped[str] = mapped_column(String(64))
    payee_bank: Mapped[str] = mapped_column(String(128))
    payee_account: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(Fen)
    purpose: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    bank_ref: Mapped[str] = mapped_column(String(64), default="")
    failure_reason: Mapped[str] = mapped_column(String(200), default="")
    result_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
