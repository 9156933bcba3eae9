"""Campaign service part: the big screen's numbers (作战大屏; see the package docstring).

One compact dict from the progress of the day (:func:`~anju.campaign.service.progress.progress`), the
ten latest signatures with their time, and the project's forecast date, cached like progress (per data
version, highest visit id, plan, date and scope).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.campaign.models import Visit
from anju.campaign.service.forecast import forecast
from anju.campaign.service.progress import _office_time, progress
from anju.campaign.service.progress_facts import SIGNED, _cached, _result_cache, load_facts, project_plan
from anju.core.masking import mask_name
from anju.household import service as household_service
from anju.identity.service import DataScope

__all__ = ["big_screen"]

LATEST = 10


def big_screen(
    session: Session, *, project_id: int, on: date, scope: DataScope | None = None
) -> dict[str, Any]:
    """The big screen's numbers as one compact dict: totals and rates, top-level blocks, today's
    signatures, the top 5 teams, the last 10 signatures with their time, and the forecast date."""
    scope = scope or DataScope.everything()
    plan = project_plan(session, project_id)
    facts = load_facts(session, project_id=project_id, scope=scope)
    last_visit = session.scalar(select(func.max(Visit.id)))
    key = ("bigscreen", facts.key, last_visit, plan, on)

    def compute() -> dict[str, Any]:
        p = progress(session, scope=scope, project_id=project_id, on=on)
        sign = facts.reach[SIGNED]
        order = _latest(sign, facts.signed_at, on.toordinal())
        labels = household_service.household_labels(session, household_ids=[int(facts.ids[i]) for i in order])
        block_name = {b.id: b.name for b in facts.blocks}
        latest = []
        for i in order:
            hid = int(facts.ids[i])
            code, head = labels.get(hid, ("", ""))
            bi, ti = int(facts.block_idx[i]), int(facts.team_idx[i])
            at = _office_time(float(facts.signed_at[i]))
            latest.append(
                {
                    "household_id": hid,
                    "code": code,
                    "head_name": mask_name(head),
                    "block": block_name.get(facts.blocks[bi].id, "") if bi >= 0 else "",
                    "team": facts.teams[ti].name if ti >= 0 else "",
                    "signed_on": date.fromordinal(int(sign[i])).isoformat(),
                    "time": at.strftime("%H:%M") if at is not None else None,
                }
            )
        top = p.rankings.get("groups") or p.rankings.get("squads") or []
        f = forecast(session, project_id=project_id, on=on, scope=scope, blocks=False)
        return {
            "project_id": project_id,
            "name": plan.name,
            "on": on.isoformat(),
            "days_since_launch": p.days_since_launch,
            "totals": p.totals.to_dict(),
            "today": {
                "signed": p.totals.signed_on_day,
                "day_before": p.totals.signed_day_before,
                "change": p.totals.change,
            },
            "schedule": p.schedule.to_dict(),
            "blocks": [
                {
                    "id": b.id,
                    "name": b.name,
                    "households": b.counts.households,
                    "signed": b.counts.signed,
                    "sign_rate": str(b.counts.rate("signed")),
                    "vacated": b.counts.vacated,
                    "signed_on_day": b.counts.signed_on_day,
                    "completed_on": b.completed_on.isoformat() if b.completed_on else None,
                }
                for b in p.blocks
                if b.depth == 0
            ],
            "ranking": [
                {
                    "rank": t.rank_signed,
                    "team_id": t.id,
                    "name": t.name,
                    "households": t.counts.households,
                    "signed": t.counts.signed,
                    "sign_rate": str(t.counts.rate("signed")),
                    "signed_last7": t.counts.signed_last7,
                }
                for t in top[:5]
            ],
            "latest": latest,
            "last_signed_at": p.last_signed_at.isoformat() if p.last_signed_at else None,
            "forecast": {
                "date": f.project.expected.isoformat() if f.project.expected else None,
                "low": f.project.low.isoformat() if f.project.low else None,
                "high": f.project.high.isoformat() if f.project.high else None,
                "method": f.project.method,
                "note": f.project.note,
            },
        }

    return _cached(_result_cache, key, compute)


def _latest(sign: np.ndarray, signed_at: np.ndarray, on_ord: int) -> np.ndarray:
    """Indexes of the :data:`LATEST` latest signatures by ``on_ord``: by date, then time (none: 0),
    then position, latest first."""
    done = sign <= on_ord
    count = int(np.count_nonzero(done))
    if count > LATEST:
        # Only signatures on or after the LATEST-th latest signing date can be among the latest: sort
        # those (the same order as sorting all of them, as the sort is stable).
        done &= sign >= np.partition(sign[done], count - LATEST)[count - LATEST]
    idx = np.flatnonzero(done)
    order: np.ndarray = idx[np.lexsort((np.nan_to_num(signed_at[idx], nan=0.0), sign[idx]))][::-1][:LATEST]
    return order
