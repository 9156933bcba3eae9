"""What the payment domain may read and change in the payment schedule (付款计划).

Instalments belong to the agreement domain; payments (``anju.payment``) reach them only through
these functions, so the direction stays payment -> agreement. The amounts move in three steps:

- ``commit_payments``: an approved batch commits amounts against instalments. The rows are
  locked in id order (``SELECT ... FOR UPDATE``; SQLite's write lock serialises writers anyway)
  and re-read under the lock, so two approvals racing for the same instalment see each other:
  ``committed + paid + amount`` may never exceed the instalment's amount, and a refusal changes
  nothing;
- ``settle_payments``: the bank paid: the amount moves from committed to paid, and an instalment
  paid in full becomes ``paid``;
- ``release_payments``: the bank failed: the committed amount is released, the instalment stays
  due and can go into a later batch.

Every change is audited (entity ``instalment``) in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.agreement import rules
from anju.agreement.models import Agreement, Instalment
from anju.agreement.service.schedule import lock_instalments
from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.core.money import format_yuan
from anju.errors import Conflict

__all__ = [
    "HouseholdFunds",
    "PayableInstalment",
    "agreement_fully_paid",
    "commit_payments",
    "household_funds",
    "payable_instalments",
    "release_payments",
    "settle_payments",
]


@dataclass(frozen=True, slots=True)
class PayableInstalment:
    """An instalment as the payment domain sees it: amounts, the agreement and its payee."""

    instalment_id: int
    agreement_id: int
    agreement_no: str
    sign_no: int
    sign_on: date
    agreement_status: str
    project_id: int
    household_id: int
    kind: str
    purpose: str
    status: str
    amount_fen: int
    committed_fen: int
    paid_fen: int
    due_on: date | None
    payee_name: str
    payee_bank: str
    payee_account: str

    @property
    def kind_label(self) -> str:
        """The instalment kind in Chinese (签约后支付, 腾空验收后支付...)."""
        return rules.INSTALMENT_KINDS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        """The instalment status in Chinese."""
        return rules.INSTALMENT_STATUSES.get(self.status, self.status)

    @property
    def remainder_fen(self) -> int:
        """What may still be approved: the amount less what is paid and what approved batches hold."""
        return self.amount_fen - self.committed_fen - self.paid_fen


def _payable(i: Instalment, a: Agreement) -> PayableInstalment:
    return PayableInstalment(
        instalment_id=i.id,
        agreement_id=a.id,
        agreement_no=a.agreement_no,
        sign_no=a.sign_no,
        sign_on=a.sign_on,
        agreement_status=a.status,
        project_id=i.project_id,
        household_id=i.household_id,
        kind=i.kind,
        purpose=i.purpose,
        status=i.status,
        amount_fen=i.amount_fen,
        committed_fen=i.committed_fen,
        paid_fen=i.paid_fen,
        due_on=i.due_on,
        payee_name=a.payee_name,
        payee_bank=a.payee_bank,
        payee_account=a.payee_account,
    )


def payable_instalments(
    session: Session, *, project_id: int, instalment_ids: Sequence[int] | None = None
) -> list[PayableInstalment]:
    """A project's instalments for the payment domain, in sign order then schedule order.

    Without ``instalment_ids``: the due ones (应付) with something left to pay. With them: exactly
    those of the project, whatever their status, so that the caller can say why one cannot be paid.
    """
    q = (
        select(Instalment, Agreement)
        .join(Agreement, Agreement.id == Instalment.agreement_id)
        .where(Instalment.project_id == project_id)
        .order_by(Agreement.sign_no, Instalment.sort, Instalment.id)
    )
    if instalment_ids is None:
        q = q.where(
            Instalment.status == "due",
            Instalment.amount_fen > Instalment.committed_fen + Instalment.paid_fen,
        )
    else:
        wanted = sorted(set(instalment_ids))
        if not wanted:
            return []
        q = q.where(Instalment.id.in_(wanted))
    return [_payable(i, a) for i, a in session.execute(q).all()]


def _lock(session: Session, ids: Sequence[int]) -> dict[int, Instalment]:
    """The instalments locked in id order and read again under the lock (the schedule's one lock
    order): an earlier read in this session must not hide a concurrent approval's amount."""
    return {i.id: i for i in lock_instalments(session, ids)}


def _agreement_numbers(session: Session, agreement_ids: Sequence[int]) -> dict[int, str]:
    if not agreement_ids:
        return {}
    rows = session.execute(
        select(Agreement.id, Agreement.agreement_no).where(Agreement.id.in_(sorted(set(agreement_ids))))
    )
    return {int(i): str(n) for i, n in rows}


def _sums(charges: Sequence[tuple[int, int]]) -> dict[int, int]:
    out: dict[int, int] = {}
    for instalment_id, amount in charges:
        out[instalment_id] = out.get(instalment_id, 0) + amount
    return out


def _bump(i: Instalment) -> None:
    i.version = int(i.version or 1) + 1


def _audit(
    session: Session, actor: Actor, action: str, i: Instalment, changes: dict[str, list[object]], reason: str
) -> None:
    audit_service.record(
        session,
        actor=actor,
        action=action,
        entity="instalment",
        entity_id=i.id,
        changes=changes,
        reason=reason,
        project_id=i.project_id,
        household_id=i.household_id,
    )


def commit_payments(
    session: Session, *, actor: Actor, project_id: int, charges: Sequence[tuple[int, int]], reason: str
) -> None:
    """Commit ``(instalment id, amount fen)`` pairs of an approved batch (the overpay guard).

    Every instalment must belong to ``project_id``, be due, and keep ``committed + paid`` within
    its amount after the charge. Otherwise :class:`Conflict` (``overpay`` or ``not_payable``)
    names each agreement with its amounts, and nothing changes.
    """
    sums = _sums(charges)
    rows = _lock(session, list(sums))
    numbers = _agreement_numbers(session, [i.agreement_id for i in rows.values()])
    problems: list[dict[str, object]] = []
    overpay = False
    for instalment_id, add in sorted(sums.items()):
        i = rows.get(instalment_id)
        if i is None or i.project_id != project_id:
            problems.append({"instalment_id": instalment_id, "message": f"付款计划 {instalment_id} 不存在"})
            continue
        no = numbers.get(i.agreement_id, str(i.agreement_id))
        label = rules.INSTALMENT_KINDS.get(i.kind, i.kind)
        if i.status != "due":
            status = rules.INSTALMENT_STATUSES.get(i.status, i.status)
            problems.append(
                {
                    "instalment_id": i.id,
                    "agreement_no": no,
                    "message": f"协议 {no} 的“{label}”当前为“{status}”，不能支付",
                }
            )
            continue
        if add <= 0 or i.committed_fen + i.paid_fen + add > i.amount_fen:
            overpay = True
            over = i.committed_fen + i.paid_fen + add - i.amount_fen
            problems.append(
                {
                    "instalment_id": i.id,
                    "agreement_no": no,
                    "amount_fen": i.amount_fen,
                    "paid_fen": i.paid_fen,
                    "committed_fen": i.committed_fen,
                    "requested_fen": add,
                    "message": (
                        f"协议 {no} 的“{label}”应付 {format_yuan(i.amount_fen)} 元，"
                        f"已付 {format_yuan(i.paid_fen)} 元，已审批待付 {format_yuan(i.committed_fen)} 元，"
                        f"本批次 {format_yuan(add)} 元，超出应付 {format_yuan(over)} 元"
                    ),
                }
            )
    if problems:
        first = "；".join(str(p["message"]) for p in problems[:3]) + ("……" if len(problems) > 3 else "")
        raise Conflict(
            ("支付金额超过应付金额，未作任何更改：" if overpay else "有不能支付的款项，未作任何更改：")
            + first,
            "the batch would pay more than is due" if overpay else "an instalment cannot be paid",
            code="overpay" if overpay else "not_payable",
            details=problems,
        )
    for instalment_id, add in sorted(sums.items()):
        i = rows[instalment_id]
        before = i.committed_fen
        i.committed_fen = before + add
        _bump(i)
        _audit(session, actor, "payment_commit", i, {"committed_fen": [before, i.committed_fen]}, reason)
    session.flush()


def release_payments(
    session: Session, *, actor: Actor, charges: Sequence[tuple[int, int]], reason: str
) -> None:
    """Release committed amounts the bank did not pay (failed payments); the instalments stay due."""
    sums = _sums(charges)
    rows = _lock(session, list(sums))
    for instalment_id, amount in sorted(sums.items()):
        i = rows.get(instalment_id)
        if i is None or i.committed_fen < amount:
            raise Conflict(
                "付款计划的已审批金额与支付记录不符，未作任何更改",
                f"instalment {instalment_id}: committed amount below the released amount",
                code="committed_mismatch",
            )
    for instalment_id, amount in sorted(sums.items()):
        i = rows[instalment_id]
        before = i.committed_fen
        i.committed_fen = before - amount
        _bump(i)
        _audit(session, actor, "payment_release", i, {"committed_fen": [before, i.committed_fen]}, reason)
    session.flush()


def settle_payments(
    session: Session, *, actor: Actor, charges: Sequence[tuple[int, int]], paid_on: date, reason: str
) -> list[int]:
    """Record amounts the bank paid: committed -> paid; an instalment paid in full becomes 已付清.

    Returns the ids of the agreements among them whose every payable instalment is now paid
    (see :func:`agreement_fully_paid`).
    """
    sums = _sums(charges)
    rows = _lock(session, list(sums))
    for instalment_id, amount in sorted(sums.items()):
        i = rows.get(instalment_id)
        if i is None or i.committed_fen < amount:
            raise Conflict(
                "付款计划的已审批金额与支付记录不符，未作任何更改",
                f"instalment {instalment_id}: committed amount below the paid amount",
                code="committed_mismatch",
            )
    agreements: set[int] = set()
    for instalment_id, amount in sorted(sums.items()):
        i = rows[instalment_id]
        changes: dict[str, list[object]] = {
            "committed_fen": [i.committed_fen, i.committed_fen - amount],
            "paid_fen": [i.paid_fen, i.paid_fen + amount],
        }
        i.committed_fen -= amount
        i.paid_fen += amount
        if i.status == "due" and i.paid_fen >= i.amount_fen:
            rules.check_instalment_transition(i.status, "paid")
            changes["status"] = [i.status, "paid"]
            i.status = "paid"
        _bump(i)
        _audit(session, actor, "payment_paid", i, changes, f"{reason}（到账日期 {paid_on.isoformat()}）")
        agreements.add(i.agreement_id)
    session.flush()
    return [a for a in sorted(agreements) if agreement_fully_paid(session, agreement_id=a)]


def agreement_fully_paid(session: Session, *, agreement_id: int) -> bool:
    """Whether every instalment of the agreement that pays the family (amount above zero, not
    cancelled) is paid in full, and there is at least one. A negative instalment (the family owes
    a difference) is settled outside the bank batches and does not hold this up."""
    rows = session.execute(
        select(Instalment.status, Instalment.amount_fen, Instalment.paid_fen).where(
            Instalment.agreement_id == agreement_id,
            Instalment.status != "cancelled",
            Instalment.amount_fen > 0,
        )
    ).all()
    return bool(rows) and all(status == "paid" or paid >= amount for status, amount, paid in rows)


@dataclass(frozen=True, slots=True)
class HouseholdFunds:
    """One household's money in a project (fen): signed total of live agreements, and its schedule."""

    household_id: int
    signed_fen: int = 0  # totals of live (pending or effective) agreements
    paid_fen: int = 0  # paid on any instalment (cancelled agreements included: money paid is paid)
    committed_fen: int = 0  # in approved batches, waiting for the bank
    due_fen: int = 0  # due instalments, not yet paid (committed included)
    scheduled_fen: int = 0  # instalments waiting for their event (vacating, a condition)


def household_funds(session: Session, *, project_id: int) -> list[HouseholdFunds]:
    """Per household of the project: signed, paid, committed, due-unpaid and scheduled amounts."""
    signed = {
        int(hid): int(total or 0)
        for hid, total in session.execute(
            select(Agreement.household_id, func.sum(Agreement.total_fen))
            .where(Agreement.project_id == project_id, Agreement.status.in_(rules.LIVE_STATUSES))
            .group_by(Agreement.household_id)
        ).all()
    }
    rows = session.execute(
        select(
            Instalment.household_id,
            Instalment.status,
            func.sum(Instalment.amount_fen),
            func.sum(Instalment.paid_fen),
            func.sum(Instalment.committed_fen),
        )
        .where(Instalment.project_id == project_id)
        .group_by(Instalment.household_id, Instalment.status)
    ).all()
    acc: dict[int, list[int]] = {}
    for hid, status, amount, paid, committed in rows:
        a = acc.setdefault(int(hid), [0, 0, 0, 0])
        a[0] += int(paid or 0)
        a[1] += int(committed or 0)
        if status == "due":
            a[2] += int(amount or 0) - int(paid or 0)
        elif status == "scheduled":
            a[3] += int(amount or 0)
    out = []
    for hid in sorted(set(acc) | set(signed)):
        paid, committed, due, scheduled = acc.get(hid, [0, 0, 0, 0])
        out.append(
            HouseholdFunds(
                household_id=hid,
                signed_fen=signed.get(hid, 0),
                paid_fen=paid,
                committed_fen=committed,
                due_fen=due,
                scheduled_fen=scheduled,
            )
        )
    return out
