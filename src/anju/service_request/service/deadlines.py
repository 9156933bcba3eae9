"""The clock of the five orders: requests past their step's deadline are flagged overdue once
(``overdue_at``) and escalate one level per further day (督办); published requests whose
verification window passed are closed by the office. Run hourly by every server worker
(:mod:`anju.service_request.jobs`) and by ``anju requests escalate``; several runs at once are safe:
each request is locked and re-checked before it is changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.core.dates import utcnow
from anju.service_request import rules
from anju.service_request.models import ServiceRequest
from anju.service_request.service._common import SYSTEM, Acting, load, transition
from anju.service_request.service.verify import auto_close

#: States whose deadline makes a request overdue (published has the verification window instead).
HANDLING = ("submitted", "dispatched", "in_progress")


@dataclass(slots=True)
class EscalationRun:
    """What one run did: ids newly overdue, ids raised a level, ids closed by the office."""

    overdue: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)


def due_ids(db: Session, *, now: datetime) -> tuple[list[int], list[int]]:
    """Ids of handling requests past their deadline, and of published ones past their window."""
    late = list(
        db.scalars(
            select(ServiceRequest.id)
            .where(ServiceRequest.status.in_(HANDLING), ServiceRequest.due_at < now)
            .order_by(ServiceRequest.id)
        )
    )
    window = list(
        db.scalars(
            select(ServiceRequest.id)
            .where(ServiceRequest.status == "published", ServiceRequest.due_at <= now)
            .order_by(ServiceRequest.id)
        )
    )
    return late, window


def escalate_one(db: Session, *, request_id: int, now: datetime, run: EscalationRun) -> None:
    """Flag one late request overdue (once) and raise its escalation level as the clock says; a
    history row (not public) records each change."""
    req = load(db, request_id, lock=True)
    if req.status not in HANDLING or req.due_at is None or req.due_at >= now:
        return
    level = rules.escalation_level(req.due_at, now, req.escalation_level)
    first = req.overdue_at is None
    if not first and level == req.escalation_level:
        return
    before = req.escalation_level
    if first:
        req.overdue_at = now
        run.overdue.append(req.id)
    if level > before:
        req.escalation_level = level
        run.escalated.append(req.id)
    transition(
        db,
        req=req,
        action="escalate" if not first else "overdue",
        who=Acting("system", label="系统"),
        actor=SYSTEM,
        now=now,
        reason=rules.ESCALATION_LEVELS[level],
        data={"due_at": req.due_at.isoformat(), "level": level, "from_level": before},
        to_status=req.status,
        public=False,
    )


def escalate(db: Session, *, now: datetime | None = None) -> EscalationRun:
    """One run of the clock over every request, in this transaction (the CLI and the tests); the
    job uses :func:`due_ids` and one transaction per request instead."""
    now = now or utcnow()
    run = EscalationRun()
    late, window = due_ids(db, now=now)
    for rid in late:
        escalate_one(db, request_id=rid, now=now, run=run)
    for rid in window:
        if auto_close(db, request_id=rid, now=now) is not None:
            run.closed.append(rid)
    return run
