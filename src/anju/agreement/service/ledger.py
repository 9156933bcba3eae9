"""The signing columns of the household ledger (台账): agreement number, option, total, sign order
number, paid, due and unpaid. The household domain writes the ledger and knows nothing of
agreements; the ledger's route and command pass these columns in (see
:func:`anju.household.ledger.export_ledger`'s ``extra``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from anju.agreement import rules
from anju.agreement.models import Agreement, Instalment
from anju.identity.service import DataScope

__all__ = ["LEDGER_COLUMNS", "LedgerColumns", "ledger_columns"]

# (label, width, kind, total): kind text | money (fen, written as yuan) | int; total "" | sum | count.
LEDGER_COLUMNS: tuple[tuple[str, float, str, str], ...] = (
    ("协议编号", 14, "text", "count"),
    ("安置方式", 10, "text", ""),
    ("协议金额(元)", 16, "money", "sum"),
    ("签约顺序号", 10, "int", ""),
    ("已付(元)", 16, "money", "sum"),
    ("应付未付(元)", 16, "money", "sum"),
)


@dataclass(frozen=True, slots=True)
class LedgerColumns:
    """Columns for the ledger's households sheet and one row of values per signed household."""

    columns: Sequence[tuple[str, float, str, str]]
    values: Mapping[int, Sequence[str | int | None]]


def ledger_columns(session: Session, *, scope: DataScope, project_id: int) -> LedgerColumns:
    """The signing columns of ``project_id``'s ledger, for households in ``scope``.

    One row per household with a live (pending or effective) agreement: its number, option, total
    (fen), sign order number, the sum paid on its instalments and what is due and not yet paid
    (instalments in status due). Households without a live agreement get no row (blank cells).
    """
    paid = func.coalesce(func.sum(Instalment.paid_fen), 0)
    due = func.coalesce(
        func.sum(case((Instalment.status == "due", Instalment.amount_fen - Instalment.paid_fen), else_=0)), 0
    )
    money = (
        select(Instalment.agreement_id, paid.label("paid"), due.label("due"))
        .where(Instalment.project_id == project_id)
        .group_by(Instalment.agreement_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Agreement.household_id,
            Agreement.agreement_no,
            Agreement.option,
            Agreement.total_fen,
            Agreement.sign_no,
            money.c.paid,
            money.c.due,
        )
        .outerjoin(money, money.c.agreement_id == Agreement.id)
        .where(
            Agreement.project_id == project_id,
            Agreement.status.in_(rules.LIVE_STATUSES),
            scope.household_clause(Agreement.household_id),
        )
    ).all()
    values: dict[int, Sequence[str | int | None]] = {
        int(hid): (no, rules.OPTIONS.get(option, option), int(total), int(sign_no), int(p or 0), int(d or 0))
        for hid, no, option, total, sign_no, p, d in rows
    }
    return LedgerColumns(columns=LEDGER_COLUMNS, values=values)
