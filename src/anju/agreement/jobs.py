"""Background work of signing that every server worker runs: the hourly check of conditional agreements,
then of collective rewards (集体奖励, :mod:`anju.agreement.service.collective`).

A condition (附生效条件) is decided by signings and by its deadline passing; nobody has to press a
button for it. Each worker of the server checks every hour (the first check an hour after start):
every project with pending agreements, one transaction each. Several workers (or a cron job running
``anju agreement check-conditions``) may check at the same time: the check locks the pending
agreements in id order and decides only those still pending after the lock, so a second run finds
nothing left to do. A failure is logged and retried at the next interval; it never stops the server.
"""

from __future__ import annotations

import logging
from datetime import date

import anyio

from anju.agreement import service as agreement_service
from anju.core.actor import Actor
from anju.db.session import unit_of_work

log = logging.getLogger("anju")

#: Minutes between two checks in a running server.
CONDITION_CHECK_MINUTES = 60
ACTOR = Actor.system("conditions")
REWARD_ACTOR = Actor.system("collective_rewards")


def check_all_conditions(on: date | None = None) -> dict[int, agreement_service.ConditionRun]:
    """Decide the pending conditional agreements of every project (one transaction per project)."""
    with unit_of_work(write=False) as db:
        projects = agreement_service.projects_with_pending(db)
    out = {}
    for project_id in projects:
        with unit_of_work() as db:
            out[project_id] = agreement_service.evaluate_conditions(
                db, actor=ACTOR, project_id=project_id, on=on
            )
    return out


def check_all_collective_rewards(on: date | None = None) -> dict[int, agreement_service.CollectiveRun]:
    """Add the collective rewards earned in every project with live agreements (one transaction each)."""
    with unit_of_work(write=False) as db:
        projects = agreement_service.projects_with_live_agreements(db)
    out = {}
    for project_id in projects:
        with unit_of_work() as db:
            out[project_id] = agreement_service.check_collective_rewards(
                db, actor=REWARD_ACTOR, project_id=project_id, today=on
            )
    return out


async def periodic_condition_checks(minutes: float = CONDITION_CHECK_MINUTES) -> None:
    """Run :func:`check_all_conditions` every ``minutes`` while the server runs."""
    limiter = anyio.CapacityLimiter(1)  # not the request threads' limiter
    while True:
        await anyio.sleep(minutes * 60)
        try:
            runs = await anyio.to_thread.run_sync(check_all_conditions, limiter=limiter)
            for project_id, run in runs.items():
                if run.effective or run.void:
                    log.info(
                        "conditions of project %s: %d effective, %d void, %d waiting",
                        project_id,
                        len(run.effective),
                        len(run.void),
                        run.waiting,
                    )
        except Exception:
            log.exception("conditional agreements not checked")
        try:
            rewards = await anyio.to_thread.run_sync(check_all_collective_rewards, limiter=limiter)
            for project_id, r in rewards.items():
                if r.added or r.fallen:
                    log.info(
                        "collective rewards of project %s: %d added, %d fallen below what was added",
                        project_id,
                        len(r.added),
                        len(r.fallen),
                    )
        except Exception:
            log.exception("collective rewards not checked")
