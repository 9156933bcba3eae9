"""The clock of the five orders in every server worker: each hour, requests past their deadline are
flagged overdue and escalated, and published requests past their verification window are closed
(:mod:`anju.service_request.service.deadlines`). One transaction per request, each request locked
and re-checked, so several workers (or ``anju requests escalate`` from cron) may run at once. A
failure is logged and retried at the next interval; it never stops the server."""

from __future__ import annotations

import logging
from datetime import datetime

import anyio

from anju.core.dates import utcnow
from anju.db.session import unit_of_work
from anju.service_request import service as request_service

log = logging.getLogger("anju")

#: Minutes between two runs in a running server.
ESCALATION_MINUTES = 60


def run_clock(now: datetime | None = None) -> request_service.EscalationRun:
    """One run over every due request, one transaction per request."""
    now = now or utcnow()
    run = request_service.EscalationRun()
    with unit_of_work(write=False) as db:
        late, window = request_service.due_ids(db, now=now)
    for rid in late:
        with unit_of_work() as db:
            request_service.escalate_one(db, request_id=rid, now=now, run=run)
    for rid in window:
        with unit_of_work() as db:
            if request_service.auto_close(db, request_id=rid, now=now) is not None:
                run.closed.append(rid)
    return run


async def periodic_escalation(minutes: float = ESCALATION_MINUTES) -> None:
    """Run :func:`run_clock` every ``minutes`` while the server runs."""
    limiter = anyio.CapacityLimiter(1)
    while True:
        await anyio.sleep(minutes * 60)
        try:
            run = await anyio.to_thread.run_sync(run_clock, limiter=limiter)
            if run.overdue or run.escalated or run.closed:
                log.info(
                    "service requests: %d newly overdue, %d escalated, %d closed unverified",
                    len(run.overdue),
                    len(run.escalated),
                    len(run.closed),
                )
        except Exception:
            log.exception("service request deadlines not checked")
