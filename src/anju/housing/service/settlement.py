"""Housing service part: the settlement of a household's chosen flats (选房结算，多退少补).

When a household finishes choosing (:func:`anju.housing.service.selection.finish_household`) its
swap is settled against every flat it holds, from its agreement's FROZEN snapshot: the facts, the
group facts and the policy version it signed under, at the snapshot's date, never today's policy
(:func:`anju.policy.swap.settle_swap`). The balance feeds the agreement's money:

* the household is refunded (balance < 0): an instalment of kind ``settlement`` (选房结算退还差额)
  due on the day the selection is finished: the office owes it from the moment the flats are
  confirmed, and the family should not wait for the keys to get money back;
* the household pays (balance > 0): a receivable (应收款, kind ``settlement``) due the same day,
  shown on the household's agreement tab, on its settlement page and on finance's page, where the
  receipt is recorded (see :mod:`anju.agreement.service.receivables` for why not an instalment);
* balance 0: nothing is written but the audit record.

Finishing again after more flats were chosen (a later event) replaces the untouched settlement
record. Undoing a selection (:func:`void_settlement`) cancels the untouched record; once money was
paid, committed to a batch or received, the undo is refused with a message naming the record.
Every write is audited (entity ``settlement`` plus the instalment / receivable's own records).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.audit import service as audit_service
from anju.compensation import service as compensation_service
from anju.core.actor import Actor
from anju.core.money import format_yuan
from anju.errors import Conflict, DomainError
from anju.household import service as household_service
from anju.housing.models import Flat, FlatType
from anju.housing.service.delivery import household_events
from anju.housing.service.flat_facts import flat_facts
from anju.i18n import N_, msg
from anju.identity import service as identity_service
from anju.policy import swap as swap_engine
from anju.policy.errors import EvaluationError

__all__ = [
    "SettlementView",
    "balance_text",
    "household_settlement",
    "settle_household",
    "settlement_records",
    "void_settlement",
]

EVERYTHING = identity_service.DataScope.everything()
KIND = "settlement"
LIVE_AGREEMENT = frozenset({"pending", "effective"})


@dataclass(slots=True)
class SettlementView:
    """A household's settlement as shown: its live swap agreement, the flats it holds, the
    settlement computed from the frozen snapshot (or why it cannot be), and what was recorded."""

    household_id: int
    agreement: Any = None  # the live swap agreement (anju.agreement's row, read through its service)
    policy_version: int | None = None
    as_of: date | None = None
    flats: list[Flat] = field(default_factory=list)
    settlement: swap_engine.SwapSettlement | None = None
    error: str = ""
    instalment: Any = None  # the refund instalment written when it finished choosing
    receivable: Any = None  # or the receivable (it pays)


def _engine_flats(session: Session, flats: list[Flat]) -> list[swap_engine.Flat]:
    type_ids = {f.flat_type_id for f in flats if f.flat_type_id is not None}
    types = {
        t.id: (t.code, t.name)
        for t in (session.scalars(select(FlatType).where(FlatType.id.in_(type_ids))) if type_ids else [])
    }
    out = []
    for f in flats:
        code, name = types.get(f.flat_type_id or 0, ("", ""))
        out.append(swap_engine.Flat(f.code, f.gross_area, code, f.market_unit_price_fen, name))
    return out


def _live_swap_agreement(session: Session, household_id: int) -> Any:
    a = agreement_service.agreement_for_household(session, scope=EVERYTHING, household_id=household_id)
    if a is None or a.option != "swap" or a.status not in LIVE_AGREEMENT:
        return None
    return a


def _held_flats(session: Session, household_id: int) -> list[Flat]:
    from anju.housing.service.selection import household_selections

    return [f for _, f in household_selections(session, household_id=household_id)]


def _compute(
    session: Session, agreement: Any, flats: list[Flat]
) -> tuple[swap_engine.SwapSettlement, int, date]:
    """Settle ``flats`` under the agreement's frozen snapshot; raises :class:`Conflict`
    ``settlement_failed`` (naming the reason) when the policy cannot settle them."""
    snap = agreement_service.get_snapshot(session, agreement)
    pv = compensation_service.get_version(session, agreement.project_id, snap.policy_version)
    # The frozen facts with the dates known now: the agreement's effective date, the delivery of
    # the estates of the flats chosen and the move-back (a plan may price the balance by them),
    # and the flats being settled (formulas over ``flats`` see this selection).
    ev = household_events(
        session, project_id=agreement.project_id, household_ids=[agreement.household_id]
    ).get(agreement.household_id)
    frozen = replace(
        agreement_service.snapshot_facts(snap),
        agreement_effective_on=agreement.effective_on,
        delivery_planned_on=ev.delivery_planned_on if ev else None,
        delivery_actual_on=ev.delivery_actual_on if ev else None,
        move_back_on=ev.move_back_on if ev else None,
        flats=flat_facts(session, flats),
    )
    try:
        s = swap_engine.settle_swap(
            compensation_service.checked_version(pv),
            frozen,
            _engine_flats(session, flats),
            snap.as_of,
            agreement_service.snapshot_group(snap),
        )
    except EvaluationError as exc:
        raise Conflict(
            f"无法结算所选房源：{exc.message_zh}",
            f"the settlement cannot be computed: {exc.message_en}",
            code="settlement_failed",
            details=[{"field": exc.code, "message": exc.message_zh}],
        ) from exc
    return s, snap.policy_version, snap.as_of


def settlement_records(session: Session, *, agreement_id: int) -> tuple[Any, Any]:
    """The agreement's live settlement records: the refund instalment (not cancelled) and the
    receivable (not cancelled); at most one of them exists."""
    inst = next(
        (
            i
            for i in agreement_service.instalments(session, agreement_id)
            if i.kind == KIND and i.status != "cancelled"
        ),
        None,
    )
    rec = next(
        (
            r.receivable
            for r in agreement_service.receivables_of_agreement(session, agreement_id)
            if r.receivable.kind == KIND and r.receivable.status != "cancelled"
        ),
        None,
    )
    return inst, rec


def _cancel_records(session: Session, *, actor: Actor, agreement_id: int, reason: str, what: str) -> None:
    inst, rec = settlement_records(session, agreement_id=agreement_id)
    if inst is not None:
        agreement_service.cancel_instalment(session, actor=actor, instalment=inst, reason=reason, what=what)
    if rec is not None:
        agreement_service.cancel_receivable(session, actor=actor, receivable=rec, reason=reason, what=what)


def _lines(s: swap_engine.SwapSettlement) -> list[dict[str, Any]]:
    return [
        {"label": x.label, "area": str(x.area), "unit_price": str(x.unit_price), "amount_fen": x.amount_fen}
        for x in s.lines
    ]


def settle_household(
    session: Session, *, actor: Actor, household_id: int, on: date
) -> swap_engine.SwapSettlement | None:
    """Settle the household's chosen flats (多退少补) into its agreement's money, as of ``on`` (the
    day the selection is finished). Returns the settlement; ``None`` when the household holds no
    live swap agreement or no flat (nothing to settle). Replaces an untouched earlier settlement
    record with a different balance; the same balance changes nothing. Audited ``settle``."""
    agreement = _live_swap_agreement(session, household_id)
    flats = _held_flats(session, household_id)
    if agreement is None or not flats:
        return None
    s, version, _as_of = _compute(session, agreement, flats)
    inst, rec = settlement_records(session, agreement_id=agreement.id)
    recorded = -inst.amount_fen if inst is not None else (rec.amount_fen if rec is not None else 0)
    if (inst is not None or rec is not None) and recorded == s.balance_fen:
        return s
    codes = "、".join(f.code for f in flats)
    if inst is not None or rec is not None:
        _cancel_records(
            session,
            actor=actor,
            agreement_id=agreement.id,
            reason=f"重新结算：所选房源 {codes}",
            what="重新结算",
        )
    if s.balance_fen < 0:
        agreement_service.add_instalment(
            session,
            actor=actor,
            agreement=agreement,
            kind=KIND,
            amount_fen=-s.balance_fen,
            purpose=f"选房结算退还差额（{codes}）",
            due_on=on,
            reason="选房结算：应退还该户",
        )
    elif s.balance_fen > 0:
        agreement_service.add_receivable(
            session,
            actor=actor,
            agreement=agreement,
            kind=KIND,
            amount_fen=s.balance_fen,
            purpose=f"选房结算补交差价（{codes}）",
            due_on=on,
            reason="选房结算：该户应补交",
        )
    audit_service.record(
        session,
        actor=actor,
        action="settle",
        entity="settlement",
        entity_id=agreement.id,
        changes={
            "flats": [None, [f.code for f in flats]],
            "policy_version": [None, version],
            "entitled_area": [None, str(s.entitled_area)],
            "selected_area": [None, str(s.selected_area)],
            "lines": [None, _lines(s)],
            "credit_fen": [None, s.credit_fen],
            "refund_fen": [None, s.refund_fen],
            "balance_fen": [recorded or None, s.balance_fen],
        },
        project_id=agreement.project_id,
        household_id=household_id,
    )
    return s


def void_settlement(session: Session, *, actor: Actor, household_id: int, reason: str) -> None:
    """A selection of the household was undone: its settlement record is cancelled when nothing was
    paid, committed or received against it (409 ``instalment_paid`` / ``receivable_received``
    otherwise, naming the record, and the undo fails with it). The household settles again when it
    finishes choosing. No record: nothing happens."""
    agreement = _live_swap_agreement(session, household_id)
    if agreement is None:
        return
    _cancel_records(
        session, actor=actor, agreement_id=agreement.id, reason=f"撤销选房：{reason}", what="不能撤销选房"
    )


def household_settlement(
    session: Session, *, scope: identity_service.DataScope, household_id: int
) -> SettlementView:
    """The household's settlement view (404 outside ``scope``): computed now from the frozen snapshot
    and the flats it holds, with the records written when it finished choosing."""
    household_service.get_household(session, scope=scope, household_id=household_id)
    view = SettlementView(household_id)
    agreement = _live_swap_agreement(session, household_id)
    view.flats = _held_flats(session, household_id)
    if agreement is None:
        view.error = "该户没有有效的产权调换协议"
        return view
    view.agreement = agreement
    view.instalment, view.receivable = settlement_records(session, agreement_id=agreement.id)
    if not view.flats:
        view.error = "该户尚未选定房源"
        return view
    try:
        view.settlement, view.policy_version, view.as_of = _compute(session, agreement, view.flats)
    except DomainError as exc:
        view.error = exc.message_zh
    return view


def balance_text(balance_fen: int) -> str:
    """The balance in words: who pays whom how much (a message: Chinese, shown translated)."""
    if balance_fen > 0:
        return msg("该户应补交 {amount} 元", amount=format_yuan(balance_fen))
    if balance_fen < 0:
        return msg("应退还该户 {amount} 元", amount=format_yuan(-balance_fen))
    return N_("无差额")
