"""The payment schedule (付款计划): an agreement's instalments, read and changed here only.

Signing writes the first instalments (on_sign, after_vacate); vacating makes after_vacate due and
adds a reward; amendments add adjustments; the payment domain reads what is due and changes
``committed_fen`` / ``paid_fen`` on rows it locked through :func:`lock_instalments`. Other domains
never query :class:`Instalment` themselves (they go through the functions below), so the names
here are a contract: keep them stable.

Amounts are integer fen. Status moves follow :data:`anju.agreement.rules.INSTALMENT_TRANSITIONS`;
every change is audited (entity ``instalment``) in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.agreement import rules
from anju.agreement.models import Agreement, Instalment, VacateRecord
from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.errors import Conflict, NotFound
from anju.identity.service import DataScope

__all__ = [
    "add_instalment",
    "cancel_instalment",
    "check_untouched",
    "due_instalments",
    "get_instalment",
    "instalments",
    "instalments_of_household",
    "lock_instalments",
    "make_due",
    "release_instalments",
    "unschedule_instalment",
]


def instalments(session: Session, agreement_id: int) -> list[Instalment]:
    """Every instalment of an agreement in schedule order (``sort``, then id), cancelled ones included.

    No scope check: callers hold an agreement they already read within scope.
    """
    return list(
        session.scalars(
            select(Instalment)
            .where(Instalment.agreement_id == agreement_id)
            .order_by(Instalment.sort, Instalment.id)
        )
    )


def instalments_of_household(session: Session, household_id: int) -> list[Instalment]:
    """Every instalment of a household's agreements (cancelled and void ones included), by agreement
    then schedule order."""
    return list(
        session.scalars(
            select(Instalment)
            .where(Instalment.household_id == household_id)
            .order_by(Instalment.agreement_id, Instalment.sort, Instalment.id)
        )
    )


def due_instalments(
    session: Session,
    project_id: int,
    *,
    scope: DataScope | None = None,
    household_ids: Sequence[int] | None = None,
) -> list[Instalment]:
    """A project's instalments with status ``due`` (what may be put in a payment batch), by household,
    agreement and schedule order; only households in ``scope`` when given, only ``household_ids``
    when given. Whether part of one is already committed or paid is on the row (``committed_fen``,
    ``paid_fen``): the payment domain decides what is left to pay."""
    q = select(Instalment).where(Instalment.project_id == project_id, Instalment.status == "due")
    if scope is not None and not scope.whole:
        q = q.where(scope.household_clause(Instalment.household_id))
    if household_ids is not None:
        q = q.where(Instalment.household_id.in_(list(household_ids)))
    return list(
        session.scalars(
            q.order_by(Instalment.household_id, Instalment.agreement_id, Instalment.sort, Instalment.id)
        )
    )


def get_instalment(session: Session, instalment_id: int) -> Instalment:
    """One instalment by id (404 when there is none). No scope check: see :func:`instalments`."""
    i = session.get(Instalment, instalment_id)
    if i is None:
        raise NotFound("付款计划不存在", "no such instalment")
    return i


def lock_instalments(session: Session, instalment_ids: Sequence[int]) -> list[Instalment]:
    """Lock the given instalments for update, in id order (the one lock order of every writer, so
    two writers cannot deadlock), and return them in id order; a missing id is a 404.

    The payment domain changes ``committed_fen`` / ``paid_fen`` / ``status`` only on rows locked
    here, in the same transaction. On SQLite the write lock (BEGIN IMMEDIATE) serialises writers.
    """
    ids = sorted(set(instalment_ids))
    if not ids:
        return []
    rows = list(
        session.scalars(
            select(Instalment)
            .where(Instalment.id.in_(ids))
            .order_by(Instalment.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    if len(rows) != len(ids):
        raise NotFound("付款计划不存在", "no such instalment")
    return rows


def _audit(
    session: Session, actor: Actor, i: Instalment, action: str, changes: dict[str, list[object]], reason: str
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


def _move(i: Instalment, target: str) -> list[object]:
    rules.check_instalment_transition(i.status, target)
    before = i.status
    i.status = target
    i.version += 1
    return [before, target]


def make_due(
    session: Session, *, actor: Actor, instalment: Instalment, due_on: date, reason: str = ""
) -> None:
    """A scheduled instalment falls due on ``due_on`` (its event happened); audited ``due``.

    Already due: nothing changes (a retried event). Paid or cancelled: 409 ``illegal_transition``.
    """
    if instalment.status == "due":
        return
    changes: dict[str, list[object]] = {"status": _move(instalment, "due")}
    changes["due_on"] = [instalment.due_on.isoformat() if instalment.due_on else None, due_on.isoformat()]
    instalment.due_on = due_on
    session.flush()
    _audit(session, actor, instalment, "due", changes, reason)


def check_untouched(i: Instalment, what: str) -> None:
    """Refuse (409 ``instalment_paid``, ``what`` leading the message) to take back an instalment
    that money was already paid or committed against."""
    if i.paid_fen or i.committed_fen:
        raise Conflict(
            f"{what}：该笔款项（{i.purpose}）已有支付或已批准待付的金额，不能撤回；"
            "请先处理支付批次（退回或作废）",
            "money was already paid or committed against the instalment",
            code="instalment_paid",
            details=[
                {
                    "field": "instalment",
                    "instalment_id": i.id,
                    "paid_fen": i.paid_fen,
                    "committed_fen": i.committed_fen,
                }
            ],
        )


def unschedule_instalment(
    session: Session, *, actor: Actor, instalment: Instalment, reason: str, what: str = "撤回应付款项"
) -> None:
    """A due instalment goes back to scheduled (its event was voided, e.g. a vacating record);
    refused (409 ``instalment_paid``) when anything was paid or committed against it; audited."""
    if instalment.status == "scheduled":
        return
    check_untouched(instalment, what)
    changes: dict[str, list[object]] = {"status": _move(instalment, "scheduled")}
    changes["due_on"] = [instalment.due_on.isoformat() if instalment.due_on else None, None]
    instalment.due_on = None
    session.flush()
    _audit(session, actor, instalment, "unschedule", changes, reason)


def cancel_instalment(
    session: Session, *, actor: Actor, instalment: Instalment, reason: str, what: str = "取消应付款项"
) -> None:
    """Cancel an instalment that nothing was paid or committed against (409 ``instalment_paid``
    otherwise); the row stays, with status cancelled; audited ``cancel``."""
    if instalment.status == "cancelled":
        return
    check_untouched(instalment, what)
    changes: dict[str, list[object]] = {"status": _move(instalment, "cancelled")}
    session.flush()
    _audit(session, actor, instalment, "cancel", changes, reason)


def add_instalment(
    session: Session,
    *,
    actor: Actor,
    agreement: Agreement,
    kind: str,
    amount_fen: int,
    purpose: str,
    item_ids: Sequence[str] = (),
    due_on: date | None = None,
    reason: str = "",
) -> Instalment:
    """Add an instalment to an agreement's schedule, after the existing ones; audited ``create``.

    ``due_on`` given and the agreement effective: due on that day; otherwise scheduled (a pending
    agreement's money waits for its condition: :func:`release_instalments`).
    """
    if kind not in rules.INSTALMENT_KINDS:
        raise ValueError(f"unknown instalment kind {kind}")
    existing = instalments(session, agreement.id)
    due = due_on is not None and agreement.status == "effective"
    i = Instalment(
        agreement_id=agreement.id,
        project_id=agreement.project_id,
        household_id=agreement.household_id,
        kind=kind,
        purpose=purpose[:128],
        item_ids=",".join(item_ids)[:500],
        amount_fen=amount_fen,
        committed_fen=0,
        paid_fen=0,
        status="due" if due else "scheduled",
        due_on=due_on if due else None,
        sort=max((e.sort for e in existing), default=-1) + 1,
        created_at=utcnow(),
    )
    session.add(i)
    session.flush()
    _audit(
        session,
        actor,
        i,
        "create",
        {
            "agreement_id": [None, agreement.id],
            "kind": [None, kind],
            "amount_fen": [None, amount_fen],
            "purpose": [None, i.purpose],
            "item_ids": [None, i.item_ids],
            "status": [None, i.status],
            "due_on": [None, i.due_on.isoformat() if i.due_on else None],
        },
        reason,
    )
    return i


def release_instalments(
    session: Session, *, actor: Actor, agreement: Agreement, on: date
) -> list[Instalment]:
    """Make due what an agreement that just became effective owes by ``on``: the on-signing share,
    the collective rewards earned while it waited, and, when the household's vacating was accepted already, the after-vacating share and rewards
    (due on the later of the vacating date and ``on``). Returns the instalments made due.

    For the conditions part (a pending agreement decided effective); the agreement must already be
    effective. A settlement refund (选房结算) and transition months scheduled meanwhile fall due on
    ``on`` too. Scheduled instalments of other kinds (adjustments) are left to their own event.
    """
    if agreement.status != "effective":
        raise Conflict("协议尚未生效", "the agreement is not effective", code="not_effective")
    vacate = session.scalar(
        select(VacateRecord).where(
            VacateRecord.agreement_id == agreement.id, VacateRecord.voided_at.is_(None)
        )
    )
    made = []
    for i in instalments(session, agreement.id):
        if i.status != "scheduled":
            continue
        # The on-signing share; a collective reward (earned by the block's rate, not by this
        # household's vacating), a flat settlement refund or transition months recorded while the
        # agreement waited for its condition.
        if i.kind in ("on_sign", "collective", "settlement", "transition"):
            make_due(session, actor=actor, instalment=i, due_on=on, reason="协议生效")
        elif i.kind in ("after_vacate", "reward") and vacate is not None:
            make_due(
                session,
                actor=actor,
                instalment=i,
                due_on=max(vacate.vacated_on, on),
                reason="协议生效（已腾空验收）",
            )
        else:
            continue
        made.append(i)
    return made
