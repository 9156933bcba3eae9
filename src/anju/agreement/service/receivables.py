"""Receivables (应收款): money a household owes the office under its agreement, e.g. the difference
it pays for its chosen flats (选房结算补交差价).

Why a record of its own rather than a negative instalment or a deduction from unpaid instalments:
the payment domain pays out only (bank files, two-person approval), and every sum over the schedule
means "money to the family"; a negative row would flow into bank files and totals. Netting against
unpaid instalments fails as soon as everything was paid already (the usual case by selection day)
and would silently rewrite amounts the family signed for. So what the family owes is kept here,
shown beside the schedule on the household's agreement tab and on finance's page, and finance
records each receipt (partial receipts allowed, never more than is owed).

Writes are audited (entity ``receivable``) in the caller's transaction; services never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.agreement import rules
from anju.agreement.models import Agreement, Receivable
from anju.agreement.rules import INSTALMENT_STATUSES, RECEIVABLE_STATUSES
from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.core.money import format_yuan
from anju.db.session import begin_write
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.identity.service import DataScope, stale_version

__all__ = [
    "INSTALMENT_STATUSES",
    "RECEIVABLE_STATUSES",
    "ReceivableRow",
    "add_receivable",
    "cancel_receivable",
    "get_receivable",
    "lock_agreement",
    "open_receivables",
    "receivables_of_agreement",
    "receivables_of_household",
    "record_receipt",
]

MAX_RECEIPT_REF = 200


@dataclass(frozen=True, slots=True)
class ReceivableRow:
    """A receivable with what is left to receive and its labels."""

    receivable: Receivable

    @property
    def outstanding_fen(self) -> int:
        """What is still to be received (0 once received or cancelled)."""
        r = self.receivable
        return 0 if r.status == "cancelled" else r.amount_fen - r.received_fen

    @property
    def kind_label(self) -> str:
        """The kind in Chinese."""
        return rules.RECEIVABLE_KINDS.get(self.receivable.kind, self.receivable.kind)

    @property
    def status_label(self) -> str:
        """The status in Chinese."""
        return rules.RECEIVABLE_STATUSES.get(self.receivable.status, self.receivable.status)


def _audit(
    session: Session, actor: Actor, r: Receivable, action: str, changes: dict[str, list[object]], reason: str
) -> None:
    audit_service.record(
        session,
        actor=actor,
        action=action,
        entity="receivable",
        entity_id=r.id,
        changes=changes,
        reason=reason,
        project_id=r.project_id,
        household_id=r.household_id,
    )


def add_receivable(
    session: Session,
    *,
    actor: Actor,
    agreement: Agreement,
    kind: str,
    amount_fen: int,
    purpose: str,
    due_on: date | None,
    reason: str = "",
) -> Receivable:
    """Record that the household of ``agreement`` owes ``amount_fen`` (> 0); audited ``create``."""
    if kind not in rules.RECEIVABLE_KINDS:
        raise ValueError(f"unknown receivable kind {kind}")
    if amount_fen <= 0:
        raise ValueError("a receivable is a positive amount")
    r = Receivable(
        agreement_id=agreement.id,
        project_id=agreement.project_id,
        household_id=agreement.household_id,
        kind=kind,
        purpose=purpose[:128],
        amount_fen=amount_fen,
        received_fen=0,
        status="open",
        due_on=due_on,
        receipt_ref="",
        created_at=utcnow(),
        cancel_reason="",
    )
    session.add(r)
    session.flush()
    _audit(
        session,
        actor,
        r,
        "create",
        {
            "agreement_id": [None, agreement.id],
            "kind": [None, kind],
            "amount_fen": [None, amount_fen],
            "purpose": [None, r.purpose],
            "due_on": [None, due_on.isoformat() if due_on else None],
        },
        reason,
    )
    return r


def lock_agreement(session: Session, agreement_id: int) -> Agreement | None:
    """Lock an agreement row for update (``None`` when there is none): writers that add to one
    agreement's money from outside a request on it (the transition fee job) serialise on it."""
    return session.scalars(
        select(Agreement)
        .where(Agreement.id == agreement_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def get_receivable(session: Session, receivable_id: int, *, lock: bool = False) -> Receivable:
    """One receivable by id (404 when there is none); ``lock`` reads it for update."""
    q = select(Receivable).where(Receivable.id == receivable_id)
    if lock:
        q = q.with_for_update().execution_options(populate_existing=True)
    r = session.scalars(q).first()
    if r is None:
        raise NotFound("应收款不存在", "no such receivable")
    return r


def receivables_of_household(session: Session, household_id: int) -> list[ReceivableRow]:
    """Every receivable of a household (cancelled ones included), oldest first."""
    rows = session.scalars(
        select(Receivable).where(Receivable.household_id == household_id).order_by(Receivable.id)
    )
    return [ReceivableRow(r) for r in rows]


def receivables_of_agreement(session: Session, agreement_id: int) -> list[ReceivableRow]:
    """Every receivable of an agreement (cancelled ones included), oldest first."""
    rows = session.scalars(
        select(Receivable).where(Receivable.agreement_id == agreement_id).order_by(Receivable.id)
    )
    return [ReceivableRow(r) for r in rows]


def open_receivables(
    session: Session, project_id: int, *, scope: DataScope | None = None
) -> list[ReceivableRow]:
    """A project's receivables still open (what finance waits for), oldest first; only households in
    ``scope`` when given."""
    q = select(Receivable).where(Receivable.project_id == project_id, Receivable.status == "open")
    if scope is not None and not scope.whole:
        q = q.where(scope.household_clause(Receivable.household_id))
    return [ReceivableRow(r) for r in session.scalars(q.order_by(Receivable.id))]


def record_receipt(
    session: Session,
    *,
    actor: Actor,
    receivable_id: int,
    amount_fen: int,
    received_on: date,
    receipt_ref: str,
    expected_version: int | None = None,
) -> Receivable:
    """Finance records money received against a receivable (收款登记): ``amount_fen`` > 0 and not
    more than is outstanding, with the bank slip or receipt number. All in: status received.
    A stale ``expected_version`` is a 409 ``stale_version``; a cancelled or received one a 409."""
    ref = (receipt_ref or "").strip()
    if not ref or len(ref) > MAX_RECEIPT_REF:
        raise ValidationFailed(
            f"请填写收款凭证号（银行回单或收据编号，最多 {MAX_RECEIPT_REF} 字）",
            "receipt reference required",
            details=[{"field": "receipt_ref", "message": "收款凭证号不能为空"}],
        )
    begin_write(session)
    r = get_receivable(session, receivable_id, lock=True)
    if expected_version is not None and r.version != expected_version:
        raise stale_version(session, what="应收款", current=r.version, entity="receivable", entity_id=r.id)
    if r.status != "open":
        raise Conflict(
            f"该应收款{rules.RECEIVABLE_STATUSES.get(r.status, r.status)}，不能再登记收款",
            "the receivable is not open",
            code="receivable_closed",
        )
    left = r.amount_fen - r.received_fen
    if amount_fen <= 0 or amount_fen > left:
        raise ValidationFailed(
            f"收款金额应大于 0 且不超过待收金额 {format_yuan(left)} 元",
            "amount must be positive and at most what is outstanding",
            details=[{"field": "amount_fen", "message": f"待收 {format_yuan(left)} 元"}],
        )
    before = (r.received_fen, r.status)
    r.received_fen += amount_fen
    r.received_on = received_on
    r.receipt_ref = (ref if not r.receipt_ref else f"{r.receipt_ref}; {ref}")[:MAX_RECEIPT_REF]
    r.received_by = actor.user_id
    if r.received_fen == r.amount_fen:
        r.status = "received"
    r.version += 1
    session.flush()
    _audit(
        session,
        actor,
        r,
        "receipt",
        {
            "received_fen": [before[0], r.received_fen],
            "status": [before[1], r.status],
            "received_on": [None, received_on.isoformat()],
            "receipt_ref": [None, ref],
        },
        "",
    )
    return r


def cancel_receivable(
    session: Session, *, actor: Actor, receivable: Receivable, reason: str, what: str
) -> None:
    """Cancel an open receivable nothing was received against (its cause was undone); a receivable
    with money received is a 409 ``receivable_received`` (``what`` leads the message). Audited."""
    if receivable.status == "cancelled":
        return
    if receivable.received_fen:
        raise Conflict(
            f"{what}：该户已就“{receivable.purpose}”交款 {format_yuan(receivable.received_fen)} 元，"
            "不能撤回；请先办理退款或协议变更",
            "money was already received against the receivable",
            code="receivable_received",
            details=[
                {
                    "field": "receivable",
                    "receivable_id": receivable.id,
                    "received_fen": receivable.received_fen,
                }
            ],
        )
    before = receivable.status
    receivable.status = "cancelled"
    receivable.cancelled_at = utcnow()
    receivable.cancel_reason = reason[:500]
    receivable.version += 1
    session.flush()
    _audit(session, actor, receivable, "cancel", {"status": [before, "cancelled"]}, reason)
