"""The signing desk (签约台): which households are ready to sign and the day's signings in sign
order. Reads only; signing itself is :func:`anju.agreement.service.signing.sign`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from anju.agreement import rules
from anju.agreement.models import Agreement
from anju.core.dates import SHANGHAI
from anju.household import service as household_service
from anju.identity.service import DataScope

__all__ = [
    "READY_STAGES",
    "DeskHousehold",
    "DeskQueue",
    "DeskSigning",
    "signing_queue",
    "signings_on_day",
]

# Stages from which a household may sign (the household transition table leads from each to 已签约).
READY_STAGES = ("surveyed", "valued", "negotiating")
QUEUE_LIMIT = 50


@dataclass(frozen=True, slots=True)
class DeskHousehold:
    """One household in the desk's list: ``ready`` when its stage may sign."""

    id: int
    code: str
    head_name: str
    stage: str
    stage_label: str
    ready: bool


@dataclass(frozen=True, slots=True)
class DeskQueue:
    """The desk's list: households ready to sign (or those matching a search), capped at ``limit``."""

    items: list[DeskHousehold]
    total: int
    limit: int
    q: str


@dataclass(frozen=True, slots=True)
class DeskSigning:
    """One signing of the day, in sign order."""

    agreement_id: int
    agreement_no: str
    sign_no: int
    household_id: int
    code: str
    head_name: str
    option: str
    option_label: str
    total_fen: int
    status: str
    status_label: str
    issued_at: datetime


def signing_queue(
    session: Session, *, scope: DataScope, project_id: int, q: str = "", limit: int = QUEUE_LIMIT
) -> DeskQueue:
    """Households of ``project_id`` in ``scope`` for the desk.

    Without ``q``: those ready to sign (已调查 / 已评估 / 协商中), 协商中 first, then by code. With
    ``q``: every live household whose code or head's name contains it (ready ones first), so a
    signed household can be found too. At most ``limit`` lines; ``total`` counts them all.
    """
    hh = household_service.live_households(scope=scope, project_id=project_id)
    q = q.strip()[:64]
    cond = []
    if q:
        needle = q.lower()
        cond.append(
            or_(
                func.lower(hh.c.code).contains(needle, autoescape=True),
                func.lower(hh.c.head_name).contains(needle, autoescape=True),
            )
        )
    else:
        cond.append(hh.c.status.in_(READY_STAGES))
    total = int(session.scalar(select(func.count()).select_from(hh).where(*cond)) or 0)
    order = case(
        (hh.c.status == "negotiating", 0),
        (hh.c.status == "valued", 1),
        (hh.c.status == "surveyed", 2),
        else_=3,
    )
    rows = session.execute(
        select(hh.c.id, hh.c.code, hh.c.head_name, hh.c.status)
        .where(*cond)
        .order_by(order, hh.c.code, hh.c.id)
        .limit(limit)
    ).all()
    labels = household_service.stage_labels()
    items = [
        DeskHousehold(int(i), code, head, status, labels.get(status, status), status in READY_STAGES)
        for i, code, head, status in rows
    ]
    return DeskQueue(items=items, total=total, limit=limit, q=q)


def signings_on_day(session: Session, *, scope: DataScope, project_id: int, on: date) -> list[DeskSigning]:
    """The agreements whose sign order number was issued on office day ``on`` (Asia/Shanghai), in
    sign order, for households in ``scope`` (cancelled and void ones included, with their status)."""
    start = datetime.combine(on, time.min, tzinfo=SHANGHAI)
    end = start + timedelta(days=1)
    hh = household_service.live_households(scope=scope, project_id=project_id)
    rows = session.execute(
        select(Agreement, hh.c.code, hh.c.head_name)
        .join(hh, hh.c.id == Agreement.household_id)
        .where(
            Agreement.project_id == project_id,
            Agreement.sign_no_issued_at >= start,
            Agreement.sign_no_issued_at < end,
        )
        .order_by(Agreement.sign_no)
    ).all()
    return [
        DeskSigning(
            agreement_id=a.id,
            agreement_no=a.agreement_no,
            sign_no=a.sign_no,
            household_id=a.household_id,
            code=code,
            head_name=head,
            option=a.option,
            option_label=rules.OPTIONS.get(a.option, a.option),
            total_fen=a.total_fen,
            status=a.status,
            status_label=rules.STATUSES.get(a.status, a.status),
            issued_at=a.sign_no_issued_at,
        )
        for a, code, head in rows
    ]
