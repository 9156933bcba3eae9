"""Collective rewards (集体奖励): money a household earns when its whole block or project reaches a
sign or vacate rate, e.g. 整区域腾房奖励 "every household of the block gets 10,000 元 when the block
is 100% vacated by the deadline".

An agreement freezes the group facts of its signing day, so such an item is 0 in the snapshot of
every household that signed before the block reached the rate; the money becomes owed later, when
the others sign or vacate. :func:`check_collective_rewards` finds it: for each live agreement it
evaluates the frozen facts (with the household's live vacating date, as the vacating reward does)
twice under the snapshot's own policy version and as-of date, once with the frozen group facts and
once with today's, and every item that grows only because of the group adds a ``collective``
instalment of its own (one per item, so a later check knows what was added already). The snapshot
is never edited.

Run by each server worker next to the conditions check (hourly), by ``anju agreement
check-rewards`` and after the demo's campaign. Idempotent: increases already scheduled (instalments
of kind ``collective`` not cancelled) are subtracted. A group measure that falls again (an agreement
cancelled, a vacating voided) never takes a reward back by itself: the run reports it instead, for
an amendment by a leader.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.agreement import rules
from anju.agreement.models import Agreement, Instalment, VacateRecord
from anju.agreement.service import schedule
from anju.agreement.service.signing import get_snapshot, snapshot_facts, snapshot_group
from anju.compensation import service as compensation_service
from anju.core.actor import Actor
from anju.core.dates import today_shanghai
from anju.policy import facts
from anju.project import service as project_service

__all__ = ["CollectiveRun", "check_collective_rewards", "projects_with_live_agreements"]


@dataclass(slots=True)
class CollectiveRun:
    """What :func:`check_collective_rewards` did: instalments added, and items that fell below what
    was added already (agreement id, item id, fen too much)."""

    on: date
    checked: int = 0
    added: list[Instalment] = field(default_factory=list)
    fallen: list[tuple[int, str, int]] = field(default_factory=list)


def projects_with_live_agreements(session: Session) -> list[int]:
    """Ids of projects with at least one effective or pending agreement."""
    return list(
        session.scalars(
            select(Agreement.project_id)
            .where(Agreement.status.in_(("effective", "pending")))
            .distinct()
            .order_by(Agreement.project_id)
        )
    )


def _already_added(session: Session, agreement_ids: list[int]) -> dict[tuple[int, str], int]:
    """(agreement id, item id) -> fen of collective instalments not cancelled."""
    out: dict[tuple[int, str], int] = defaultdict(int)
    if not agreement_ids:
        return out
    rows = session.execute(
        select(Instalment.agreement_id, Instalment.item_ids, Instalment.amount_fen).where(
            Instalment.agreement_id.in_(agreement_ids),
            Instalment.kind == "collective",
            Instalment.status != "cancelled",
        )
    )
    for agreement_id, item_ids, amount in rows:
        out[(agreement_id, item_ids)] += amount
    return out


def _vacate_dates(session: Session, agreement_ids: list[int]) -> dict[int, date]:
    if not agreement_ids:
        return {}
    rows = session.execute(
        select(VacateRecord.agreement_id, VacateRecord.vacated_on).where(
            VacateRecord.agreement_id.in_(agreement_ids), VacateRecord.voided_at.is_(None)
        )
    )
    return {int(a): d for a, d in rows if a is not None}


def check_collective_rewards(
    session: Session, *, actor: Actor, project_id: int, today: date | None = None
) -> CollectiveRun:
    """Add the collective rewards the project's live agreements earned since they were signed.

    Each new ``collective`` instalment is due today for an effective agreement and scheduled for a
    pending one (released when its condition is met). Agreements are locked in id order, so two
    runs at once add each reward once. Audited through the schedule (``create`` of the instalment).
    """
    project_service.get_project(session, project_id)  # 404 for no such project
    today = today or today_shanghai()
    run = CollectiveRun(today)
    agreements = list(
        session.scalars(
            select(Agreement)
            .where(Agreement.project_id == project_id, Agreement.status.in_(("effective", "pending")))
            .order_by(Agreement.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    if not agreements:
        return run
    ids = [a.id for a in agreements]
    added = _already_added(session, ids)
    vacated = _vacate_dates(session, ids)
    group = compensation_service.group_facts(session, project_id)
    versions: dict[int, Any] = {}
    for a in agreements:
        run.checked += 1
        snap = get_snapshot(session, a)
        hf: facts.Household = replace(snapshot_facts(snap), vacate_on=vacated.get(a.id))
        if snap.policy_version not in versions:
            versions[snap.policy_version] = compensation_service.get_version(
                session, project_id, snap.policy_version
            )
        pv = versions[snap.policy_version]
        now = compensation_service.evaluate_frozen(pv, hf, a.option, as_of=snap.as_of, group=group).amounts()
        then = compensation_service.evaluate_frozen(
            pv, hf, a.option, as_of=snap.as_of, group=snapshot_group(snap)
        )
        labels = {i.id: i.label for i in then.items}
        increases = rules.item_increases(then.amounts(), now)
        earlier = {item: fen for (aid, item), fen in added.items() if aid == a.id}
        for item_id in [*increases, *(k for k in earlier if k not in increases)]:
            due = increases.get(item_id, 0) - earlier.get(item_id, 0)
            if due > 0:
                run.added.append(
                    schedule.add_instalment(
                        session,
                        actor=actor,
                        agreement=a,
                        kind="collective",
                        amount_fen=due,
                        purpose=f"{a.agreement_no} {labels.get(item_id, item_id)}",
                        item_ids=[item_id],
                        due_on=today,
                        reason=f"集体奖励条件成就（{today.isoformat()} 核查）",
                    )
                )
            elif due < 0:
                run.fallen.append((a.id, item_id, -due))
    return run
