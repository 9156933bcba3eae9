"""Names of payment batches for histories and the audit log (``支付批次 第 3 批``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.payment.models import PaymentBatch

__all__ = ["batch_numbers"]


def batch_numbers(session: Session, *, batch_ids: Sequence[int]) -> dict[int, int]:
    """``batch id -> batch number within its project`` of a few batches."""
    out: dict[int, int] = {}
    wanted = sorted(set(batch_ids))
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(PaymentBatch.id, PaymentBatch.batch_no).where(
                PaymentBatch.id.in_(wanted[start : start + 500])
            )
        )
        out.update({int(i): int(n) for i, n in rows})
    return out
