"""Names of agreements for histories and the audit log (``协议 DP-QH-0001``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.agreement.models import Agreement

__all__ = ["agreement_numbers"]


def agreement_numbers(session: Session, *, agreement_ids: Sequence[int]) -> dict[int, str]:
    """``agreement id -> printed agreement number`` of a few agreements (callers pass ids they may show)."""
    out: dict[int, str] = {}
    wanted = sorted(set(agreement_ids))
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(Agreement.id, Agreement.agreement_no).where(Agreement.id.in_(wanted[start : start + 500]))
        )
        out.update({int(i): str(n) for i, n in rows})
    return out
