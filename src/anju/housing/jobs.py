"""Background work of resettlement that every server worker runs: the hourly scheduling of monthly
transition fees (过渡费).

Each worker brings every project's transition instalments up to today once an hour (the first run
an hour after start), one transaction per project, like the conditions check of signing
(:mod:`anju.agreement.jobs`). Several workers, or a cron job running ``anju housing
transition-fees``, may run at once: each household is locked through its agreement row and what is
already scheduled is subtracted, so a second run adds nothing. A failure is logged and retried at
the next interval; it never stops the server.
"""

from __future__ import annotations

import logging
from datetime import date

import anyio

from anju.core.actor import Actor
from anju.core.dates import today_shanghai
from anju.db.session import unit_of_work
from anju.housing import service as housing_service

log = logging.getLogger("anju")

#: Minutes between two runs in a running server.
TRANSITION_MINUTES = 60
ACTOR = Actor.system("transition")


def schedule_all_transition_fees(on: date | None = None) -> dict[int, housing_service.TransitionRun]:
    """Schedule the transition fees due by ``on`` (default today) of every project with estates."""
    when = on or today_shanghai()
    with unit_of_work(write=False) as db:
        projects = housing_service.transition_projects(db)
    out = {}
    for project_id in projects:
        with unit_of_work() as db:
            out[project_id] = housing_service.schedule_transition_fees(
                db, actor=ACTOR, as_of=when, project_id=project_id
            )
    return out


async def periodic_transition_fees(minutes: float = TRANSITION_MINUTES) -> None:
    """Run :func:`schedule_all_transition_fees` every ``minutes`` while the server runs."""
    limiter = anyio.CapacityLimiter(1)  # not the request threads' limiter
    while True:
        await anyio.sleep(minutes * 60)
        try:
            runs = await anyio.to_thread.run_sync(schedule_all_transition_fees, limiter=limiter)
            for project_id, run in runs.items():
                if run.added or run.cancelled or run.overpaid:
                    log.info(
                        "transition fees of project %s: %d added, %d cancelled, %d overpaid",
                        project_id,
                        len(run.added),
                        len(run.cancelled),
                        len(run.overpaid),
                    )
        except Exception:
            log.exception("transition fees not scheduled")
