"""Signing (签约): agreements with their frozen snapshots, sign order numbers, payment schedules,
amendments and cancellations, and the clearance records (交验空房, 拆除, 承租企业清退).

An agreement is legal evidence: its amounts never change behind the family's back. What was
signed lives in an :class:`AgreementSnapshot` (facts, policy version and hash, every item with
its trace, the total); an approved amendment adds a snapshot, it never edits one. Nothing here
is hard-deleted: cancelled and void agreements keep their rows.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from anju.db.base import Base, BigId, Fen, IdMixin, LongBlob, LongText, UTCDateTime, VersionMixin


class SignCounter(Base):
    """The last sign order number (签约顺序号) issued in a project.

    Allocation bumps ``last_no`` with one UPDATE inside the signing transaction: the row lock
    (SQLite's write lock) serialises signers, and a rolled-back signing gives its number back,
    so numbers are gapless and monotonic on every database.
    """

    __tablename__ = "sign_counter"

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"), primary_key=True)
    last_no: Mapped[int] = mapped_column(Integer, default=0)


class SigningTerms(IdMixin, VersionMixin, Base):
    """A project's signing settings: payment terms and the default effectiveness condition.

    ``on_sign_share_bp`` is the share of the (non-reward) total paid on signing, in basis points
    (7000 = 70%); the rest falls due after vacating. A condition (附生效条件) makes new agreements
    pending until it is decided: ``condition_kind`` none | block_rate | project_rate | all_signed,
    ``condition_rate_bp`` the sign rate needed (8000 = 80%) by ``condition_deadline_on``.
    """

    __tablename__ = "signing_terms"
    __table_args__ = (UniqueConstraint("project_id"),)

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    agreement_prefix: Mapped[str] = mapped_column(String(32), default="")
    on_sign_share_bp: Mapped[int] = mapped_column(Integer, default=7000)
    condition_kind: Mapped[str] = mapped_column(String(16), default="none")
    condition_rate_bp: Mapped[int] = mapped_column(Integer, default=0)
    condition_deadline_on: Mapped[date | None] = mapped_column(Date)
    updated_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Agreement(IdMixin, VersionMixin, Base):
    """A signed agreement (补偿协议) of one household: cash (货币补偿) or swap (产权调换).

    ``status``: pending (conditional, not yet decided) | effective | void (condition failed) |
    cancelled (approved cancellation). ``snapshot_id`` points at the current snapshot (the first
    at signing, a later one after each approved amendment). ``sign_no`` is unique per project and
    kept by amendments; a cancelled household that signs again gets a new number.
    """

    __tablename__ = "agreement"
    __table_args__ = (
        UniqueConstraint("project_id", "sign_no"),
        UniqueConstraint("agreement_no"),
        Index("ix_agreement_household", "household_id"),
        Index("ix_agreement_project_status", "project_id", "status"),
    )

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"))
    agreement_no: Mapped[str] = mapped_column(String(64))  # printed number, e.g. DP-QH-0001
    sign_no: Mapped[int] = mapped_column(Integer)
    sign_no_issued_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    sign_no_issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    option: Mapped[str] = mapped_column(String(16))  # cash | swap
    sign_on: Mapped[date] = mapped_column(Date)
    signed_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    status: Mapped[str] = mapped_column(String(16), default="effective")
    # No foreign key: agreement and snapshot point at each other, and a cycle of foreign keys
    # cannot be created portably; the service writes both in one transaction.
    snapshot_id: Mapped[int | None] = mapped_column(BigId)
    total_fen: Mapped[int] = mapped_column(Fen, default=0)  # of the current snapshot
    # Payee (收款人) for the bank export; the account number is personal data (masked on screens).
    payee_name: Mapped[str] = mapped_column(String(64), default="")
    payee_bank: Mapped[str] = mapped_column(String(128), default="")
    payee_account: Mapped[str] = mapped_column(String(64), default="")
    # 附生效条件, copied from the project's terms at signing so later changes do not reach it.
    condition_kind: Mapped[str] = mapped_column(String(16), default="none")
    condition_rate_bp: Mapped[int] = mapped_column(Integer, default=0)
    condition_block_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("block.id"))
    condition_deadline_on: Mapped[date | None] = mapped_column(Date)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    effective_on: Mapped[date | None] = mapped_column(Date)
    # "An amendment may be needed": the current facts or policy would give a different total.
    amendment_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    amendment_diff_fen: Mapped[int] = mapped_column(Fen, default=0)
    amendment_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str] = mapped_column(String(500), default="")


class AgreementSnapshot(IdMixin, Base):
    """What an agreement says, frozen: household facts (JSON), policy version and content hash,
    every item with its trace (JSON), the total. Revision 1 is the signing; later ones come from
    approved amendments. Rows are written once and never updated."""

    __tablename__ = "agreement_snapshot"
    __table_args__ = (UniqueConstraint("agreement_id", "revision"),)

    agreement_id: Mapped[int] = mapped_column(BigId, ForeignKey("agreement.id"))
    revision: Mapped[int] = mapped_column(Integer)
    policy_version_id: Mapped[int] = mapped_column(BigId, ForeignKey("policy_version.id"))
    policy_version: Mapped[int] = mapped_column(Integer)
    policy_hash: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[date] = mapped_column(Date)
    facts: Mapped[str] = mapped_column(LongText)  # engine facts of the household, JSON
    facts_sha256: Mapped[str] = mapped_column(String(64))
    group: Mapped[str] = mapped_column(LongText, default="")  # group facts used (collective items), JSON
    items: Mapped[str] = mapped_column(LongText)  # every item with amount, formula, steps, JSON
    swap: Mapped[str] = mapped_column(LongText, default="")  # swap settlement (flats, difference), JSON
    total_fen: Mapped[int] = mapped_column(Fen)
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AgreementChange(IdMixin, VersionMixin, Base):
    """A request to amend (变更) or cancel (解除) an agreement; a leader approves or rejects it.

    ``status`` requested -> approved | rejected. Approval of an amendment writes a new snapshot
    (``snapshot_id``); approval of a cancellation ends the agreement. The approver is never the
    requester.
    """

    __tablename__ = "agreement_change"
    __table_args__ = (Index("ix_agreement_change_status", "status", "agreement_id"),)

    agreement_id: Mapped[int] = mapped_column(BigId, ForeignKey("agreement.id"))
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    kind: Mapped[str] = mapped_column(String(16))  # amend | cancel
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="requested")
    requested_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str] = mapped_column(String(500), default="")
    snapshot_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("agreement_snapshot.id"))


class Instalment(IdMixin, VersionMixin, Base):
    """One line of an agreement's payment schedule (付款计划).

    ``kind`` on_sign | after_vacate | reward | adjustment | collective. ``status`` scheduled (waiting for its
    event) | due | paid | cancelled. ``paid_fen`` grows as bank results come back; the payment
    domain never lets the sum paid or approved exceed ``amount_fen``.
    """

    __tablename__ = "instalment"
    __table_args__ = (
        Index("ix_instalment_agreement", "agreement_id"),
        Index("ix_instalment_project_status", "project_id", "status"),
    )

    agreement_id: Mapped[int] = mapped_column(BigId, ForeignKey("agreement.id"))
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"))
    kind: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(128))  # printed on the bank file (用途)
    item_ids: Mapped[str] = mapped_column(String(500), default="")  # policy items it pays, comma-separated
    amount_fen: Mapped[int] = mapped_column(Fen)
    committed_fen: Mapped[int] = mapped_column(Fen, default=0)  # in approved batches, not yet failed
    paid_fen: Mapped[int] = mapped_column(Fen, default=0)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    due_on: Mapped[date | None] = mapped_column(Date)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Receivable(IdMixin, VersionMixin, Base):
    """Money a household owes the office under its agreement (应收款): the difference it pays for
    its chosen flats (选房结算补交差价). The payment domain only pays out, so what comes in is kept
    here: finance records each receipt (``received_fen`` grows; ``status`` open -> received when
    all is in); an untouched receivable is cancelled (with a reason) when its cause is undone."""

    __tablename__ = "receivable"
    __table_args__ = (
        Index("ix_receivable_household", "household_id"),
        Index("ix_receivable_project", "project_id"),
    )

    agreement_id: Mapped[int] = mapped_column(BigId, ForeignKey("agreement.id"))
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"))
    kind: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(128))
    amount_fen: Mapped[int] = mapped_column(Fen)
    received_fen: Mapped[int] = mapped_column(Fen, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")
    due_on: Mapped[date | None] = mapped_column(Date)
    received_on: Mapped[date | None] = mapped_column(Date)  # of the last receipt
    receipt_ref: Mapped[str] = mapped_column(String(200), default="")  # bank slip / receipt numbers
    received_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")


class VacateRecord(IdMixin, Base):
    """交验空房 / 腾空验收 of a household: the vacating date feeds the policy's vacate-date clock."""

    __tablename__ = "vacate_record"
    __table_args__ = (Index("ix_vacate_record_household", "household_id"),)

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"))
    agreement_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("agreement.id"))
    vacated_on: Mapped[date] = mapped_column(Date)
    checklist: Mapped[str] = mapped_column(LongText, default="")  # JSON {item key: true/false}
    keys_handed: Mapped[int] = mapped_column(Integer, default=0)  # number of keys handed over
    inspector: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(1000), default="")
    photo_ids: Mapped[str] = mapped_column(String(500), default="")  # attachment ids, comma-separated
    # The reward instalment this vacating added (items that grew with the vacating date), so voiding
    # the record cancels exactly it. No foreign key: the column came after the tables' order was set.
    reward_instalment_id: Mapped[int | None] = mapped_column(BigId)
    recorded_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str] = mapped_column(String(500), default="")


class DemolitionRecord(IdMixin, Base):
    """拆除 of a household's buildings: date, contractor, photos."""

    __tablename__ = "demolition_record"
    __table_args__ = (Index("ix_demolition_record_household", "household_id"),)

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"))
    demolished_on: Mapped[date] = mapped_column(Date)
    contractor: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(String(1000), default="")
    photo_ids: Mapped[str] = mapped_column(String(500), default="")
    recorded_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str] = mapped_column(String(500), default="")


class TenantClearance(IdMixin, Base):
    """承租企业 / 承租人清退: a tenant of a household cleared (same checklist as vacating)."""

    __tablename__ = "tenant_clearance"
    __table_args__ = (Index("ix_tenant_clearance_project_on", "project_id", "cleared_on"),)

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"))
    tenant_id: Mapped[int] = mapped_column(BigId, ForeignKey("tenant.id"))
    cleared_on: Mapped[date] = mapped_column(Date)
    checklist: Mapped[str] = mapped_column(LongText, default="")
    inspector: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(1000), default="")
    photo_ids: Mapped[str] = mapped_column(String(500), default="")
    recorded_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str] = mapped_column(String(500), default="")


class AgreementTemplate(IdMixin, Base):
    """An uploaded DOCX template (docxtpl) of a project for one option; the newest active one is used.

    Built-in defaults are generated in code; an office downloads one, edits it in WPS or Word and
    uploads it back. Uploads are validated: placeholders outside the documented set are refused.
    """

    __tablename__ = "agreement_template"
    __table_args__ = (Index("ix_agreement_template_project_option", "project_id", "option"),)

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    option: Mapped[str] = mapped_column(String(16))  # cash | swap
    file_name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LongBlob)
    uploaded_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
