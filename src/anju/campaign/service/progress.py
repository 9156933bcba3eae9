"""Campaign service part: progress (see the package docstring).

Progress "as of a date D" for a project, its blocks (rolled up the block tree) and its teams (大组 roll
up their 小组): households, and the cumulative stage counts surveyed ⊇ valued ⊇ negotiating ⊇ signed ⊇
vacated ⊇ demolished (已签约 includes 已腾空 and 已拆除), plus paid, with rates (Decimal, 4 places).
When a household reached each stage, and the time of its signature, are the facts of
:mod:`anju.campaign.service.progress_facts` (the rules are there). The denominator is every live
household of the project now (in scope): a household registered later is still one the campaign must
sign. The big screen's numbers are in :mod:`anju.campaign.service.progress_bigscreen`.

Speed: the facts are int64 arrays read in three queries and cached per worker process on the
project's data version; counting them as of a date is a few boolean masks and a ``bincount`` per
metric and grouping (blocks, teams), and a cumulative sum per day for the daily series: no Python
loop over households. The concern tags are one grouped query, cached on the highest visit id; the
computed result per (those keys, date, scope). See bench/RESULTS.md "Campaign progress".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.campaign import rules
from anju.campaign.models import Visit, VisitConcern
from anju.campaign.service.progress_facts import (
    NEVER,
    SIGNED,
    STAGE_KEYS,
    Facts,
    ProjectPlan,
    _cached,
    _concern_cache,
    _result_cache,
    _scope_key,
    clear_progress_caches,
    load_facts,
    project_plan,
)
from anju.core.dates import SHANGHAI, to_shanghai
from anju.identity.service import DataScope
from anju.project import service as project_service

__all__ = [
    "STAGE_KEYS",
    "BlockProgress",
    "ConcernCount",
    "Counts",
    "DailySeries",
    "Progress",
    "Schedule",
    "TeamProgress",
    "clear_progress_caches",
    "competition_ranks",
    "concern_counts",
    "daily_series",
    "progress",
    "rankings",
    "rate",
    "reverse_schedule",
]

STAGE_LABELS = {
    "surveyed": "已调查",
    "valued": "已评估",
    "negotiating": "协商中",
    "signed": "已签约",
    "vacated": "已腾空",
    "demolished": "已拆除",
    "paid": "已付款",
}
_KEY = 1e10
_MAX_ORD = date.max.toordinal()
SPEED_DAYS = 7  # "speed" and the actual pace of the reverse schedule: signings in the last 7 days
_Q4 = Decimal("0.0001")
_Q2 = Decimal("0.01")


def rate(part: int, whole: int) -> Decimal:
    """``part / whole`` as a Decimal with 4 places (half up); 0 when there is nothing to count."""
    if whole <= 0:
        return Decimal("0.0000")
    return (Decimal(part) / Decimal(whole)).quantize(_Q4, rounding=ROUND_HALF_UP)


def competition_ranks(values: list[Any]) -> list[int]:
    """Rank numbers, highest value first, ties sharing a rank and the next rank skipped (1, 1, 3)."""
    return [1 + sum(1 for w in values if w > v) for v in values]


# ------------------------------------------------------------------ counting

_METRICS = (
    "households",
    *STAGE_KEYS,
    "paid",
    "signed_on_day",
    "signed_day_before",
    "signed_last7",
)


@dataclass(frozen=True, slots=True)
class Counts:
    """Households and cumulative stage counts as of a date, with rates over ``households``."""

    households: int = 0
    surveyed: int = 0
    valued: int = 0
    negotiating: int = 0
    signed: int = 0
    vacated: int = 0
    demolished: int = 0
    paid: int = 0
    signed_on_day: int = 0  # signatures dated D
    signed_day_before: int = 0  # signatures dated D - 1
    signed_last7: int = 0  # signatures dated D - 6 .. D

    @classmethod
    def of(cls, row: np.ndarray) -> Counts:
        return cls(*(int(v) for v in row))

    def rate(self, stage: str) -> Decimal:
        """The rate of one stage (or ``paid``) over the households."""
        return rate(int(getattr(self, stage)), self.households)

    @property
    def change(self) -> int:
        """Signatures on D minus those on the day before."""
        return self.signed_on_day - self.signed_day_before

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {m: int(getattr(self, m)) for m in _METRICS}
        out["change"] = self.change
        out["rates"] = {s: str(self.rate(s)) for s in (*STAGE_KEYS, "paid")}
        return out


def _metric_masks(facts: Facts, on_ord: int) -> list[np.ndarray]:
    """Each metric of ``_METRICS`` but the first (households) as a boolean mask over the households,
    as of ``on_ord``."""
    sign = facts.reach[SIGNED]
    return [
        *(facts.reach[k] <= on_ord for k in range(len(STAGE_KEYS))),
        facts.paid <= on_ord,
        sign == on_ord,
        sign == on_ord - 1,
        (sign <= on_ord) & (sign > on_ord - SPEED_DAYS),
    ]


def _group_counts(masks: list[np.ndarray], idx: np.ndarray, groups: int) -> np.ndarray:
    """(groups, metrics): the households of each group (idx -1 left out) and those of each mask."""
    out = np.zeros((groups, len(_METRICS)), np.int64)
    if groups:
        keep = idx >= 0
        out[:, 0] = np.bincount(idx[keep], minlength=groups)
        for j, mask in enumerate(masks, start=1):
            out[:, j] = np.bincount(idx[keep & mask], minlength=groups)
    return out


def _group_max(values: np.ndarray, idx: np.ndarray, groups: int, fill: float) -> np.ndarray:
    out = np.full(groups, fill, dtype=float)
    keep = idx >= 0
    if groups and np.any(keep):
        np.maximum.at(out, idx[keep], values[keep])
    return out


# ------------------------------------------------------------------ results


@dataclass(frozen=True, slots=True)
class BlockProgress:
    """One block's numbers (sub-blocks included) and its record: the day it reached 100%."""

    id: int
    parent_id: int | None
    code: str
    name: str
    level: str
    depth: int
    path: str
    counts: Counts
    completed_on: date | None  # the day its last household signed, when all have by D
    days_to_complete: int | None  # campaign day of completed_on (launch day = day 1)
    last_signed_at: datetime | None  # office time of its last signature's timeline record

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parent_id": self.parent_id,
            "code": self.code,
            "name": self.name,
            "level": self.level,
            "depth": self.depth,
            "path": self.path,
            **self.counts.to_dict(),
            "completed_on": self.completed_on.isoformat() if self.completed_on else None,
            "days_to_complete": self.days_to_complete,
            "last_signed_at": self.last_signed_at.isoformat() if self.last_signed_at else None,
        }


@dataclass(frozen=True, slots=True)
class TeamProgress:
    """One team's numbers (a 大组 includes its 小组) with its rank among teams of its level."""

    id: int | None  # None: households not assigned to any team
    name: str
    kind: str
    parent_id: int | None
    counts: Counts
    rank_signed: int = 0
    rank_rate: int = 0
    rank_speed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "parent_id": self.parent_id,
            **self.counts.to_dict(),
            "rank_signed": self.rank_signed,
            "rank_rate": self.rank_rate,
            "rank_speed": self.rank_speed,
        }


@dataclass(frozen=True, slots=True)
class Schedule:
    """倒排计划: signings needed per day to reach the target by the deadline, against the actual pace.

    Convention: counts "as of D" include D's signatures; ``days_left`` counts the days after D up to
    and including ``deadline_on`` (0 on the deadline itself and after it). ``required_per_day`` is
    ``remaining / days_left`` (None when no days are left or no deadline is set); the actual pace is
    the signatures of D-6..D divided by 7. ``planned`` is where a straight line from 0 on the launch
    day to the target on the deadline stands at the end of D.
    """

    target: int
    signed: int
    remaining: int
    deadline_on: date | None
    days_left: int | None
    required_per_day: Decimal | None
    actual_per_day: Decimal
    on_track: bool | None
    planned: int | None
    overdue: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "signed": self.signed,
            "remaining": self.remaining,
            "deadline_on": self.deadline_on.isoformat() if self.deadline_on else None,
            "days_left": self.days_left,
            "required_per_day": str(self.required_per_day) if self.required_per_day is not None else None,
            "required_per_day_whole": math.ceil(self.required_per_day)
            if self.required_per_day is not None
            else None,
            "actual_per_day": str(self.actual_per_day),
            "on_track": self.on_track,
            "planned": self.planned,
            "gap_to_plan": self.signed - self.planned if self.planned is not None else None,
            "overdue": self.overdue,
        }


def _target(plan: ProjectPlan, households: int, whole: bool) -> int:
    if whole and plan.target_households is not None:
        return min(int(plan.target_households), households) if households else int(plan.target_households)
    return math.ceil(households * plan.target_sign_rate / 100)


def _planned(plan: ProjectPlan, target: int, on: date) -> int | None:
    if plan.launched_on is None or plan.deadline_on is None or plan.deadline_on < plan.launched_on:
        return None
    total = (plan.deadline_on - plan.launched_on).days + 1
    done = min(max((on - plan.launched_on).days + 1, 0), total)
    return math.floor(target * done / total)


def reverse_schedule(
    *,
    target: int,
    signed: int,
    signed_last7: int,
    on: date,
    deadline_on: date | None,
    planned: int | None = None,
) -> Schedule:
    """The reverse schedule as of ``on`` (see :class:`Schedule` for the conventions)."""
    remaining = max(0, target - signed)
    actual = (Decimal(signed_last7) / SPEED_DAYS).quantize(_Q2, rounding=ROUND_HALF_UP)
    days_left: int | None = None
    required: Decimal | None = None
    if deadline_on is not None:
        days_left = max(0, (deadline_on - on).days)
        if days_left > 0:
            required = (Decimal(remaining) / days_left).quantize(_Q2, rounding=ROUND_HALF_UP)
    on_track = None if required is None else actual >= required
    if deadline_on is not None and remaining == 0:
        on_track = True
    overdue = deadline_on is not None and remaining > 0 and days_left == 0
    return Schedule(
        target, signed, remaining, deadline_on, days_left, required, actual, on_track, planned, overdue
    )


@dataclass(frozen=True, slots=True)
class ConcernCount:
    """One concern tag: visits that raised it and distinct households."""

    tag: str
    label: str
    visits: int
    households: int

    def to_dict(self) -> dict[str, Any]:
        return {"tag": self.tag, "label": self.label, "visits": self.visits, "households": self.households}


@dataclass(frozen=True, slots=True)
class Progress:
    """The campaign's numbers as of ``on`` (see the module docstring)."""

    project_id: int
    on: date
    launched_on: date | None
    deadline_on: date | None
    days_since_launch: int | None  # campaign day of ``on`` (launch day = day 1); 0 before the launch
    totals: Counts
    blocks: list[BlockProgress]
    unblocked: Counts  # households without a block
    teams: list[TeamProgress]
    unassigned: Counts  # households without a team
    schedule: Schedule
    last_signed_at: datetime | None  # office time of the last signature recorded by D
    completed_blocks: list[BlockProgress]  # records: blocks at 100%, fastest first
    rankings: dict[str, list[TeamProgress]]  # "groups" (大组) and "squads" (小组 / teams without level)
    concerns: list[ConcernCount]
    scope: str = "all"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: dates ISO, rates as strings with 4 places."""
        return {
            "project_id": self.project_id,
            "on": self.on.isoformat(),
            "scope": self.scope,
            "launched_on": self.launched_on.isoformat() if self.launched_on else None,
            "deadline_on": self.deadline_on.isoformat() if self.deadline_on else None,
            "days_since_launch": self.days_since_launch,
            "totals": self.totals.to_dict(),
            "blocks": [b.to_dict() for b in self.blocks],
            "unblocked": self.unblocked.to_dict(),
            "teams": [t.to_dict() for t in self.teams],
            "unassigned": self.unassigned.to_dict(),
            "schedule": self.schedule.to_dict(),
            "records": {
                "last_signed_at": self.last_signed_at.isoformat() if self.last_signed_at else None,
                "completed_blocks": [
                    {
                        "id": b.id,
                        "name": b.name,
                        "path": b.path,
                        "households": b.counts.households,
                        "completed_on": b.completed_on.isoformat() if b.completed_on else None,
                        "days_to_complete": b.days_to_complete,
                        "last_signed_at": b.last_signed_at.isoformat() if b.last_signed_at else None,
                    }
                    for b in self.completed_blocks
                ],
            },
            "rankings": {k: [t.to_dict() for t in v] for k, v in self.rankings.items()},
            "concerns": [c.to_dict() for c in self.concerns],
        }


def _office_time(epoch: float) -> datetime | None:
    if epoch != epoch or epoch <= 0:  # NaN: no timeline record
        return None
    return to_shanghai(datetime.fromtimestamp(epoch, UTC))


def _campaign_day(origin: date | None, on: date | None) -> int | None:
    if origin is None or on is None:
        return None
    return max(0, (on - origin).days + 1)


def rankings(teams: list[TeamProgress]) -> dict[str, list[TeamProgress]]:
    """Teams ranked within their level (大组 among 大组, the others among themselves) by households
    signed, sign rate and speed (signatures in the last 7 days); ties share a rank. Ordered by the
    signed rank, then the rate rank, then name."""
    out: dict[str, list[TeamProgress]] = {}
    for level, members in (
        ("groups", [t for t in teams if t.id is not None and t.kind == "group"]),
        ("squads", [t for t in teams if t.id is not None and t.kind != "group"]),
    ):
        if not members:
            continue
        signed = competition_ranks([t.counts.signed for t in members])
        rates = competition_ranks(
            [
                Fraction(t.counts.signed, t.counts.households) if t.counts.households else Fraction(0)
                for t in members
            ]
        )
        speed = competition_ranks([t.counts.signed_last7 for t in members])
        ranked = [
            TeamProgress(t.id, t.name, t.kind, t.parent_id, t.counts, a, b, c)
            for t, a, b, c in zip(members, signed, rates, speed, strict=True)
        ]
        out[level] = sorted(ranked, key=lambda t: (t.rank_signed, t.rank_rate, t.name))
    return out


def _compute(
    facts: Facts,
    plan: ProjectPlan,
    on: date,
    scope: DataScope,
    *,
    paths: dict[int, str],
    concerns: list[ConcernCount],
) -> Progress:
    """The progress of ``facts`` as of ``on`` (pure: ``paths`` are the blocks' display paths,
    ``concerns`` the concern counts)."""
    on_ord = on.toordinal()
    masks = _metric_masks(facts, on_ord)
    total_row = np.array([facts.n, *(np.count_nonzero(m) for m in masks)], np.int64)
    totals = Counts.of(total_row)
    nb = len(facts.blocks)
    per_block = _group_counts(masks, facts.block_idx, nb)
    unblocked = Counts.of(total_row - per_block.sum(axis=0))  # before the roll-up below
    # The last signature: the latest signing date, then the latest timeline time on that date, as one
    # exact float key (ordinal * 1e10 + whole UTC seconds < 2^53).
    done = facts.reach[SIGNED] <= on_ord
    seconds = np.floor(np.nan_to_num(facts.signed_at, nan=0.0))
    last_key = np.where(done, facts.reach[SIGNED] * _KEY + seconds, -1.0)
    block_last = _group_max(last_key, facts.block_idx, nb, -1.0)
    pos = {b.id: i for i, b in enumerate(facts.blocks)}
    depth = [0] * nb
    for i, b in enumerate(facts.blocks):  # parents come before children
        if b.parent_id in pos:
            depth[i] = depth[pos[b.parent_id]] + 1
    for i in range(nb - 1, -1, -1):  # children after parents: roll up from the leaves
        parent = facts.blocks[i].parent_id
        if parent in pos:
            j = pos[parent]
            per_block[j] += per_block[i]
            block_last[j] = max(block_last[j], block_last[i])
    last_sign = np.where(block_last > 0, np.floor(block_last / _KEY), -1.0)
    last_at = np.where(block_last > 0, block_last - last_sign * _KEY, -1.0)
    blocks: list[BlockProgress] = []
    for i, b in enumerate(facts.blocks):
        c = Counts.of(per_block[i])
        complete = c.households > 0 and c.signed == c.households
        completed_on = date.fromordinal(int(last_sign[i])) if complete and last_sign[i] > 0 else None
        blocks.append(
            BlockProgress(
                b.id,
                b.parent_id,
                b.code,
                b.name,
                b.level,
                depth[i],
                paths.get(b.id, b.name),
                c,
                completed_on,
                _campaign_day(plan.launched_on, completed_on) if completed_on else None,
                _office_time(float(last_at[i])),
            )
        )
    nt = len(facts.teams)
    per_team = _group_counts(masks, facts.team_idx, nt)
    unassigned = Counts.of(total_row - per_team.sum(axis=0))
    tpos = {t.id: i for i, t in enumerate(facts.teams)}
    rolled = per_team.copy()
    for i, t in enumerate(facts.teams):  # teams nest one level: a 大组 adds its 小组
        if t.parent_id in tpos:
            rolled[tpos[t.parent_id]] += per_team[i]
    teams = [
        TeamProgress(t.id, t.name, t.kind, t.parent_id, Counts.of(rolled[i]))
        for i, t in enumerate(facts.teams)
    ]
    ranked = rankings(teams)
    rank_of = {t.id: t for level in ranked.values() for t in level}
    teams = [rank_of.get(t.id, t) for t in teams]
    target = _target(plan, totals.households, scope.whole)
    schedule = reverse_schedule(
        target=target,
        signed=totals.signed,
        signed_last7=totals.signed_last7,
        on=on,
        deadline_on=plan.deadline_on,
        planned=_planned(plan, target, on),
    )
    top = float(np.max(last_key)) if facts.n else -1.0
    last_at_all = top - math.floor(top / _KEY) * _KEY if top > 0 else -1.0
    completed = sorted(
        (b for b in blocks if b.completed_on is not None),
        key=lambda b: (
            b.days_to_complete if b.days_to_complete is not None else 10**9,
            b.completed_on,
            b.path,
        ),
    )
    return Progress(
        project_id=plan.id,
        on=on,
        launched_on=plan.launched_on,
        deadline_on=plan.deadline_on,
        days_since_launch=_campaign_day(plan.launched_on, on),
        totals=totals,
        blocks=blocks,
        unblocked=unblocked,
        teams=teams,
        unassigned=unassigned,
        schedule=schedule,
        last_signed_at=_office_time(last_at_all),
        completed_blocks=completed,
        rankings=ranked,
        concerns=concerns,
        scope="all" if scope.whole else scope.kind.value,
    )


def _office_midnight(d: date) -> datetime:
    # Visits lie far inside these bounds; they keep any date the API accepts from overflowing.
    d = min(max(d, date(1000, 1, 1)), date(9000, 1, 1))
    return datetime.combine(d, time(0), tzinfo=SHANGHAI).astimezone(UTC)


def concern_counts(
    session: Session,
    *,
    project_id: int,
    scope: DataScope,
    until: date | None = None,
    since: date | None = None,
) -> list[ConcernCount]:
    """Concern tags of the project's visits (not voided, households in scope) between ``since`` and
    ``until`` (office dates, both included; open when None), every tag listed, most frequent first."""
    last_visit = session.scalar(select(func.max(Visit.id)))
    key = (str(session.get_bind().engine.url), project_id, last_visit, _scope_key(scope), until, since)

    def compute() -> list[ConcernCount]:
        q = (
            select(VisitConcern.tag, func.count(), func.count(func.distinct(Visit.household_id)))
            .join(Visit, Visit.id == VisitConcern.visit_id)
            .where(VisitConcern.project_id == project_id, Visit.voided_at.is_(None))
            .group_by(VisitConcern.tag)
        )
        if not scope.whole:
            q = q.where(scope.household_clause(Visit.household_id))
        if until is not None:
            q = q.where(
                Visit.visited_at < _office_midnight(date.fromordinal(min(until.toordinal() + 1, _MAX_ORD)))
            )
        if since is not None:
            q = q.where(Visit.visited_at >= _office_midnight(since))
        found = {str(t): (int(v), int(h)) for t, v, h in session.execute(q)}
        tags = list(rules.CONCERN_TAGS) + sorted(t for t in found if t not in rules.CONCERN_TAGS)
        out = [ConcernCount(t, rules.CONCERN_TAGS.get(t, t), *found.get(t, (0, 0))) for t in tags]
        return sorted(out, key=lambda c: (-c.visits, tags.index(c.tag)))

    return _cached(_concern_cache, key, compute)


def progress(
    session: Session, *, scope: DataScope, project_id: int, on: date, concern_from: date | None = None
) -> Progress:
    """The project's progress as of the end of ``on`` (office date) over the households in ``scope``:
    totals, blocks (tree, rolled up), teams, reverse schedule, records, rankings and concern tags
    (visits up to ``on``, from ``concern_from`` when given). Raises NotFound for an unknown project."""
    plan = project_plan(session, project_id)
    facts = load_facts(session, project_id=project_id, scope=scope)
    last_visit = session.scalar(select(func.max(Visit.id)))
    key = ("progress", facts.key, last_visit, plan, on, concern_from)

    def compute() -> Progress:
        paths = project_service.block_paths(session, plan.id) if facts.blocks else {}
        concerns = concern_counts(session, project_id=plan.id, scope=scope, until=on, since=concern_from)
        return _compute(facts, plan, on, scope, paths=paths, concerns=concerns)

    return _cached(_result_cache, key, compute)


# ------------------------------------------------------------------ daily series

MAX_SERIES_DAYS = 1000


@dataclass(frozen=True, slots=True)
class DailySeries:
    """Cumulative counts at the end of each day from ``start`` to ``until`` (the burn-up chart), the
    signatures of each day, and the plan line (see :class:`Schedule`)."""

    project_id: int
    start: date
    until: date
    days: list[date]
    series: dict[str, list[int]]
    signed_per_day: list[int]
    plan: list[int | None]
    target: int
    households: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "start": self.start.isoformat(),
            "until": self.until.isoformat(),
            "households": self.households,
            "target": self.target,
            "days": [d.isoformat() for d in self.days],
            "series": self.series,
            "signed_per_day": self.signed_per_day,
            "plan": self.plan,
        }


def daily_series(session: Session, *, scope: DataScope, project_id: int, until: date) -> DailySeries:
    """Per-day cumulative surveyed ... demolished and paid counts from the launch (or the first signing,
    or ``until`` when neither is known) to ``until``, at most :data:`MAX_SERIES_DAYS` days."""
    plan = project_plan(session, project_id)
    facts = load_facts(session, project_id=project_id, scope=scope)
    key = ("daily", facts.key, plan, until)

    return _cached(_result_cache, key, lambda: _daily(facts, plan, until, scope.whole))


def _daily(facts: Facts, plan: ProjectPlan, until: date, whole: bool) -> DailySeries:
    """The daily series of ``facts`` up to ``until`` (pure; see :func:`daily_series`)."""
    start = plan.launched_on
    if start is None:
        signed = facts.reach[SIGNED]
        first = int(signed.min()) if facts.n else NEVER
        start = date.fromordinal(first) if first < NEVER else until
    start = min(start, until)
    start = date.fromordinal(max(start.toordinal(), until.toordinal() - (MAX_SERIES_DAYS - 1), 1))
    s_ord, u_ord = start.toordinal(), until.toordinal()
    width = u_ord - s_ord + 1

    def cumulative(ords: np.ndarray) -> list[int]:
        before = int(np.count_nonzero(ords < s_ord))
        inside = ords[(ords >= s_ord) & (ords <= u_ord)] - s_ord
        per_day = np.bincount(inside, minlength=width)[:width]
        return [int(v) for v in np.cumsum(per_day) + before]

    series = {k: cumulative(facts.reach[i]) for i, k in enumerate(STAGE_KEYS)}
    series["paid"] = cumulative(facts.paid)
    signed_series = series["signed"]
    first_before = int(np.count_nonzero(facts.reach[SIGNED] < s_ord))
    per_day = [signed_series[0] - first_before] + [
        signed_series[i] - signed_series[i - 1] for i in range(1, width)
    ]
    target = _target(plan, facts.n, whole)
    days = [start + timedelta(days=i) for i in range(width)]
    return DailySeries(
        plan.id,
        start,
        until,
        days,
        series,
        per_day,
        [_planned(plan, target, d) for d in days],
        target,
        facts.n,
    )
