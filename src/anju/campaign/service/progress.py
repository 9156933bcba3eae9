"""Campaign service part: progress (see the package docstring).

Progress "as of a date D" for a project, its blocks (rolled up the block tree) and its teams (大组 roll
up their 小组): households, and the cumulative stage counts surveyed ⊇ valued ⊇ negotiating ⊇ signed ⊇
vacated ⊇ demolished (已签约 includes 已腾空 and 已拆除), plus paid, with rates (Decimal, 4 places).

When a household reached a stage: signed / vacated / demolished from the household file's dates
(``sign_on``, ``vacate_on``, ``demolish_on``), surveyed / valued / negotiating from the stage timeline
(:class:`StageChange`, the first time reached); a stage counts from the earliest date of it or of any
later stage (a household signed on the 5th was negotiating by the 5th at the latest). A household
whose current stage is at or beyond a stage with no date for it counts from the day its file was
created (office date). Paid counts from ``paid_on``. The denominator is every live household of the
project now (in scope): a household registered later is still one the campaign must sign. The time
of a signature (records, the big screen) is the timeline record's time (``StageChange.at``, office
time) when it was recorded on the signing date; a signing entered on a later day has no time.

Speed: the household facts are read in one query (``household_service.campaign_facts``), the stage
timeline in one grouped query, the assignments in one (``identity_service.assignment_map``) and the
concern tags in one grouped query; everything else is numpy over those arrays. The arrays are cached
per worker process on the project's household-data version (bumped by every household, stage, team
and assignment write) and the highest stage-change id; concern counts on the highest visit id; the
computed result per (those keys, date, scope). See bench/RESULTS.md "Campaign progress" for what the
caches are worth.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.campaign import rules
from anju.campaign.models import StageChange, Visit, VisitConcern
from anju.core.dates import SHANGHAI, to_shanghai
from anju.core.masking import mask_name
from anju.household import service as household_service
from anju.identity import service as identity_service
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
    "big_screen",
    "clear_progress_caches",
    "competition_ranks",
    "concern_counts",
    "daily_series",
    "progress",
    "rankings",
    "rate",
    "reverse_schedule",
]

T = TypeVar("T")

STAGE_KEYS = ("surveyed", "valued", "negotiating", "signed", "vacated", "demolished")
STAGE_LABELS = {
    "surveyed": "已调查",
    "valued": "已评估",
    "negotiating": "协商中",
    "signed": "已签约",
    "vacated": "已腾空",
    "demolished": "已拆除",
    "paid": "已付款",
}
SURVEYED, VALUED, NEGOTIATING, SIGNED, VACATED, DEMOLISHED = range(6)
# Rank of the current status: how many of STAGE_KEYS it has passed (archived follows demolished).
_RANK = {
    "pending": 0,
    "surveyed": 1,
    "valued": 2,
    "negotiating": 3,
    "signed": 4,
    "vacated": 5,
    "demolished": 6,
    "archived": 6,
}
NEVER = 10**8  # an ordinal after every real date
_KEY = 1e10
_MAX_ORD = date.max.toordinal()
SPEED_DAYS = 7  # "speed" and the actual pace of the reverse schedule: signings in the last 7 days
_Q4 = Decimal("0.0001")
_Q2 = Decimal("0.01")
_EPOCH_ORD = date(1970, 1, 1).toordinal()
_OFFICE_OFFSET = 8 * 3600  # Asia/Shanghai has kept UTC+8 without daylight saving since 1991


def rate(part: int, whole: int) -> Decimal:
    """``part / whole`` as a Decimal with 4 places (half up); 0 when there is nothing to count."""
    if whole <= 0:
        return Decimal("0.0000")
    return (Decimal(part) / Decimal(whole)).quantize(_Q4, rounding=ROUND_HALF_UP)


def competition_ranks(values: list[Any]) -> list[int]:
    """Rank numbers, highest value first, ties sharing a rank and the next rank skipped (1, 1, 3)."""
    return [1 + sum(1 for w in values if w > v) for v in values]


# ------------------------------------------------------------------ caches


class _LRU:
    """A small thread-safe LRU of computed results; concurrent misses of one key compute it once."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self.lock = threading.Lock()
        self.busy: dict[tuple[Any, ...], threading.Lock] = {}

    def get(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        with self.lock:
            if key in self.data:
                self.data.move_to_end(key)
                hit: T = self.data[key]
                return hit
            gate = self.busy.setdefault(key, threading.Lock())
        with gate:
            with self.lock:
                if key in self.data:
                    done: T = self.data[key]
                    return done
            value = compute()
            with self.lock:
                self.data[key] = value
                self.busy.pop(key, None)
                while len(self.data) > self.size:
                    self.data.popitem(last=False)
        return value

    def clear(self) -> None:
        with self.lock:
            self.data.clear()


_facts_cache = _LRU(16)
_concern_cache = _LRU(256)
_result_cache = _LRU(256)
# Set to False to measure the uncached cost (bench/campaign_bench.py --no-cache).
CACHE_ENABLED = True


def clear_progress_caches() -> None:
    """Forget every cached result (tests that roll back and reuse ids)."""
    for c in (_facts_cache, _concern_cache, _result_cache):
        c.clear()


def _cached(cache: _LRU, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    return cache.get(key, compute) if CACHE_ENABLED else compute()


def _scope_key(scope: DataScope) -> tuple[Any, ...]:
    return ("all",) if scope.whole else (scope.kind.value, scope.user_id, scope.team_id)


# ------------------------------------------------------------------ facts


@dataclass(frozen=True, slots=True)
class TeamInfo:
    """A team as progress shows it."""

    id: int
    name: str
    kind: str
    parent_id: int | None
    sort: int


@dataclass(frozen=True, slots=True)
class Facts:
    """The project's households (in a scope) as arrays, one entry per household, by id."""

    key: tuple[Any, ...]
    ids: np.ndarray  # int64
    block_idx: np.ndarray  # index into ``blocks``; -1 without a (known) block
    team_idx: np.ndarray  # index into ``teams``; -1 when not assigned
    reach: np.ndarray  # (6, n) ordinal of the day each cumulative stage was reached; NEVER if not
    paid: np.ndarray  # ordinal of paid_on or NEVER
    signed_at: np.ndarray  # UTC epoch seconds of the signing's timeline record, NaN if none
    blocks: tuple[project_service.BlockInfo, ...]
    teams: tuple[TeamInfo, ...]

    @property
    def n(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, slots=True)
class ProjectPlan:
    """The project's campaign settings (read on every call: they are not part of the data version)."""

    id: int
    name: str
    launched_on: date | None
    deadline_on: date | None
    target_sign_rate: int
    target_households: int | None


def project_plan(session: Session, project_id: int) -> ProjectPlan:
    """The campaign settings of a project; raises NotFound."""
    p = project_service.get_project(session, project_id)
    return ProjectPlan(
        p.id, p.name, p.launched_on, p.deadline_on, int(p.target_sign_rate or 100), p.target_households
    )


def _data_key(session: Session, project_id: int, scope: DataScope) -> tuple[Any, ...]:
    version = project_service.households_version(session, project_id)
    last_change = session.scalar(select(func.max(StageChange.id)))
    return (str(session.get_bind().engine.url), project_id, version, last_change, _scope_key(scope))


def _ordinals(values: list[Any]) -> np.ndarray:
    return np.fromiter((d.toordinal() if d is not None else NEVER for d in values), np.int64, len(values))


def _office_ordinals(values: list[Any]) -> np.ndarray:
    def one(at: datetime) -> int:
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return int(at.timestamp() + _OFFICE_OFFSET) // 86400 + _EPOCH_ORD

    return np.fromiter((one(v) for v in values), np.int64, len(values))


def _read_facts(session: Session, project_id: int, scope: DataScope, key: tuple[Any, ...]) -> Facts:
    rows = household_service.campaign_facts(session, project_id=project_id, scope=scope)
    n = len(rows)
    cols: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in range(8)]
    ids = np.fromiter(cols[0], np.int64, n)
    position = {int(h): i for i, h in enumerate(cols[0])}
    blocks = tuple(project_service.blocks(session, project_id))
    block_pos = {b.id: i for i, b in enumerate(blocks)}
    block_idx = np.fromiter((block_pos.get(b, -1) if b is not None else -1 for b in cols[1]), np.int32, n)
    rank = np.fromiter((_RANK.get(s, 0) for s in cols[2]), np.int64, n)
    known = np.full((6, n), NEVER, np.int64)
    known[SIGNED] = _ordinals(list(cols[3]))
    known[VACATED] = _ordinals(list(cols[4]))
    known[DEMOLISHED] = _ordinals(list(cols[5]))
    paid = _ordinals(list(cols[6]))
    created = _office_ordinals(list(cols[7]))
    signed_at = np.full(n, np.nan)
    stage_row = {k: i for i, k in enumerate(STAGE_KEYS)}
    timeline = session.execute(
        select(
            StageChange.household_id,
            StageChange.to_stage,
            func.min(StageChange.reached_on),
            func.max(StageChange.at),
        )
        .where(StageChange.project_id == project_id)
        .group_by(StageChange.household_id, StageChange.to_stage)
    )
    for hid, stage, reached, at in timeline:
        i = position.get(int(hid))
        k = stage_row.get(stage)
        if i is None or k is None:
            continue
        if reached is not None and known[k, i] == NEVER:
            known[k, i] = reached.toordinal()
        if k == SIGNED and at is not None:
            signed_at[i] = (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
    # Without a timeline record for 已调查 the household was registered at that stage or beyond it.
    known[SURVEYED] = np.where((known[SURVEYED] == NEVER) & (rank >= 1), created, known[SURVEYED])
    # A stage is reached by the earliest date of it or of any later stage.
    reach = np.minimum.accumulate(known[::-1], axis=0)[::-1].copy()
    passed = rank[None, :] >= np.arange(1, 7)[:, None]
    reach = np.where((reach == NEVER) & passed, created[None, :], reach)
    reach = np.where(passed, reach, NEVER)
    # A signature's time of day is known only when it was recorded on its signing date (office time);
    # a signing entered later (backdated) has a date but no time.
    with np.errstate(invalid="ignore"):
        at_day = np.floor((signed_at + _OFFICE_OFFSET) / 86400) + _EPOCH_ORD
    signed_at = np.where(at_day == reach[SIGNED], signed_at, np.nan)
    teams = tuple(
        TeamInfo(t.id, t.name, t.kind, t.parent_id, t.sort)
        for t in identity_service.list_teams(session, project_id=project_id)
    )
    team_pos = {t.id: i for i, t in enumerate(teams)}
    assigned = identity_service.assignment_map(session, project_id=project_id)
    team_idx = np.fromiter(
        (team_pos.get(assigned.get(int(h), (None, None))[0] or 0, -1) for h in cols[0]), np.int32, n
    )
    return Facts(key, ids, block_idx, team_idx, reach, paid, signed_at, blocks, teams)


def load_facts(session: Session, *, project_id: int, scope: DataScope) -> Facts:
    """The project's household facts (in ``scope``) as arrays, cached on the project's data version."""
    key = _data_key(session, project_id, scope)
    return _cached(_facts_cache, key, lambda: _read_facts(session, project_id, scope, key))


def block_members(session: Session, project_id: int, facts: Facts) -> Iterator[tuple[Any, np.ndarray]]:
    """Each block (tree order) with the boolean mask of its households, sub-blocks included."""
    children: dict[int | None, list[int]] = {}
    for i, b in enumerate(facts.blocks):
        children.setdefault(b.parent_id, []).append(i)
    for i, b in enumerate(facts.blocks):
        sub, stack = [], [i]
        while stack:
            j = stack.pop()
            sub.append(j)
            stack.extend(children.get(facts.blocks[j].id, []))
        yield b, np.isin(facts.block_idx, sub)


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


def _metric_rows(facts: Facts, on_ord: int) -> np.ndarray:
    """(n, len(_METRICS)) 0/1 matrix of each household's metrics as of ``on_ord``."""
    n = facts.n
    m = np.zeros((n, len(_METRICS)), np.int64)
    m[:, 0] = 1
    m[:, 1:7] = (facts.reach <= on_ord).T
    m[:, 7] = facts.paid <= on_ord
    sign = facts.reach[SIGNED]
    m[:, 8] = sign == on_ord
    m[:, 9] = sign == on_ord - 1
    m[:, 10] = (sign <= on_ord) & (sign > on_ord - SPEED_DAYS)
    return m


def _group_sum(rows: np.ndarray, idx: np.ndarray, groups: int) -> np.ndarray:
    """Per-group sums of ``rows`` (households with idx -1 left out): (groups, metrics)."""
    keep = idx >= 0
    out = np.zeros((groups, rows.shape[1]), np.int64)
    if groups and np.any(keep):
        np.add.at(out, idx[keep], rows[keep])
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
    session: Session, facts: Facts, plan: ProjectPlan, on: date, scope: DataScope, concern_from: date | None
) -> Progress:
    on_ord = on.toordinal()
    rows = _metric_rows(facts, on_ord)
    totals = Counts.of(rows.sum(axis=0) if facts.n else np.zeros(len(_METRICS), np.int64))
    nb = len(facts.blocks)
    per_block = _group_sum(rows, facts.block_idx, nb)
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
    paths = project_service.block_paths(session, plan.id) if nb else {}
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
    unblocked = Counts.of(rows[facts.block_idx < 0].sum(axis=0)) if facts.n else Counts()
    nt = len(facts.teams)
    per_team = _group_sum(rows, facts.team_idx, nt)
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
    unassigned = Counts.of(rows[facts.team_idx < 0].sum(axis=0)) if facts.n else Counts()
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
    concerns = concern_counts(session, project_id=plan.id, scope=scope, until=on, since=concern_from)
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
    return _cached(_result_cache, key, lambda: _compute(session, facts, plan, on, scope, concern_from))


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

    def compute() -> DailySeries:
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
        signed = series["signed"]
        first_before = int(np.count_nonzero(facts.reach[SIGNED] < s_ord))
        per_day = [signed[0] - first_before] + [signed[i] - signed[i - 1] for i in range(1, width)]
        target = _target(plan, facts.n, scope.whole)
        days = [start + timedelta(days=i) for i in range(width)]
        return DailySeries(
            project_id,
            start,
            until,
            days,
            series,
            per_day,
            [_planned(plan, target, d) for d in days],
            target,
            facts.n,
        )

    return _cached(_result_cache, key, compute)


# ------------------------------------------------------------------ big screen


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
        from anju.campaign.service.forecast import forecast

        p = progress(session, scope=scope, project_id=project_id, on=on)
        on_ord = on.toordinal()
        sign = facts.reach[SIGNED]
        done = np.flatnonzero(sign <= on_ord)
        order = done[np.lexsort((np.nan_to_num(facts.signed_at[done], nan=0.0), sign[done]))][::-1][:10]
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
