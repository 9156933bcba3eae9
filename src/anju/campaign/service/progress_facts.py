"""Campaign service part: the facts progress, the big screen and the forecast are computed from (see
the package docstring and :mod:`anju.campaign.service.progress`).

A project's households (in a scope) as arrays, one entry per household by id: its block and team,
and the day it reached each cumulative stage surveyed ⊇ valued ⊇ negotiating ⊇ signed ⊇ vacated ⊇
demolished, the day it was paid, and the time of its signature.

When a household reached a stage: signed / vacated / demolished from the household file's dates
(``sign_on``, ``vacate_on``, ``demolish_on``), surveyed / valued / negotiating from the stage timeline
(:class:`StageChange`, the first time reached); a stage counts from the earliest date of it or of any
later stage (a household signed on the 5th was negotiating by the 5th at the latest). A household
whose current stage is at or beyond a stage with no date for it counts from the day its file was
created (office date). Paid counts from ``paid_on``. The time of a signature is the timeline
record's time (``StageChange.at``) when it was recorded on the signing date (office time); a
signing entered on a later day has no time.

Speed (bench/RESULTS.md "Campaign progress"): three queries whose values the database computes as
integers (:mod:`anju.db.columns`: day numbers, epoch microseconds, status and stage codes) read
straight into int64 arrays: the households (``household_service.household_columns``), the stage
timeline and the active assignments (``identity_service.assignment_columns``); everything else is
numpy (grouped minima with ``ufunc.at``, positions with ``searchsorted``), with no Python loop over
households. The facts are cached per worker process on the project's household-data version (bumped
by every household, stage, team and assignment write) and the highest stage-change id.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from anju.campaign.models import StageChange
from anju.db.columns import (
    day_number,
    equals_most,
    fetch_rows,
    int_columns,
    microseconds_of,
    paused_gc,
    utc_microseconds,
)
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.identity.service import DataScope
from anju.project import service as project_service

__all__ = ["STAGE_KEYS", "clear_progress_caches"]

T = TypeVar("T")

STAGE_KEYS = ("surveyed", "valued", "negotiating", "signed", "vacated", "demolished")
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
EPOCH_ORD = date(1970, 1, 1).toordinal()
OFFICE_OFFSET = 8 * 3600  # Asia/Shanghai has kept UTC+8 without daylight saving since 1991


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


@dataclass(frozen=True, slots=True, eq=False)
class Timeline:
    """Stage-timeline rows of a project: household id, stage (index into STAGE_KEYS), the day it was
    reached (ordinal) and the time it was recorded (UTC microseconds since 1970)."""

    household_ids: np.ndarray
    stages: np.ndarray
    reached: np.ndarray
    at_us: np.ndarray


def _positions(sorted_ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Index of each of ``wanted`` in ``sorted_ids`` (ascending, unique); -1 where absent."""
    if len(sorted_ids) == 0:
        return np.full(len(wanted), -1, np.int64)
    pos = np.minimum(np.searchsorted(sorted_ids, wanted), len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == wanted, pos, -1)


def build_facts(
    key: tuple[Any, ...],
    households: household_service.HouseholdColumns,
    timeline: Timeline,
    assigned: tuple[np.ndarray, np.ndarray],
    blocks: tuple[project_service.BlockInfo, ...],
    teams: tuple[TeamInfo, ...],
) -> Facts:
    """The facts from the columns read (pure; see the module docstring for the rules)."""
    n = len(households)
    ids = households.ids
    block_ids = np.array(sorted(b.id for b in blocks), np.int64)
    block_at = {b.id: i for i, b in enumerate(blocks)}
    block_order = np.array([block_at[int(b)] for b in block_ids], np.int64)
    block_idx = np.full(n, -1, np.int32)
    if len(block_ids):
        found = _positions(block_ids, households.block_ids)
        block_idx[found >= 0] = block_order[found[found >= 0]]
    rank_of = np.array([_RANK.get(s, 0) for s in households.statuses] + [0], np.int64)
    rank = rank_of[households.status]  # -1 (an unknown status) picks the trailing 0

    def dated(ordinals: np.ndarray) -> np.ndarray:
        return np.where(ordinals > 0, ordinals, NEVER)

    known = np.full((6, n), NEVER, np.int64)
    known[SIGNED] = dated(households.sign_on)
    known[VACATED] = dated(households.vacate_on)
    known[DEMOLISHED] = dated(households.demolish_on)
    paid = dated(households.paid_on)
    created = households.created_on
    # The timeline: the first day each stage was reached, where the file has no date for it, and the
    # time of the latest record of the signing.
    pos = _positions(ids, timeline.household_ids)
    ok = (pos >= 0) & (timeline.stages >= 0) & (timeline.stages < 6)
    first = np.full((6, n), NEVER, np.int64)
    np.minimum.at(first, (timeline.stages[ok], pos[ok]), timeline.reached[ok])
    known = np.where(known == NEVER, first, known)
    signing = ok & (timeline.stages == SIGNED)
    last_at = np.full(n, -(2**62), np.int64)
    np.maximum.at(last_at, pos[signing], timeline.at_us[signing])
    signed_at = np.where(last_at > -(2**62), last_at / 1e6, np.nan)
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
        at_day = np.floor((signed_at + OFFICE_OFFSET) / 86400) + EPOCH_ORD
    signed_at = np.where(at_day == reach[SIGNED], signed_at, np.nan)
    team_ids = np.array([t.id for t in teams], np.int64)
    by_team = np.argsort(team_ids, kind="stable")
    team_idx = np.full(n, -1, np.int32)
    a_house, a_team = assigned
    where = _positions(ids, a_house)
    found_team = _positions(team_ids[by_team], a_team) if len(teams) else np.full(len(a_team), -1)
    hit = (where >= 0) & (found_team >= 0)
    team_idx[where[hit]] = by_team[found_team[hit]]
    return Facts(key, ids, block_idx, team_idx, reach, paid, signed_at, blocks, teams)


def _read_timeline(session: Session, project_id: int) -> Timeline:
    stage = case({k: i for i, k in enumerate(STAGE_KEYS)}, value=StageChange.to_stage, else_=-1)
    rows = fetch_rows(
        session,
        select(
            StageChange.household_id,
            stage,
            day_number(StageChange.reached_on),
            utc_microseconds(session, StageChange.at),
        ).where(
            equals_most(session, StageChange.project_id, project_id), StageChange.to_stage.in_(STAGE_KEYS)
        ),
    )
    ids, stages, reached = int_columns([r[:3] for r in rows], 3)
    at_us = microseconds_of([r[3] for r in rows])
    return Timeline(ids, stages, reached, at_us)


def _read_facts(session: Session, project_id: int, scope: DataScope, key: tuple[Any, ...]) -> Facts:
    with paused_gc():  # the rows read are many small tuples: no collection walk while they exist
        return _read_facts_now(session, project_id, scope, key)


def _read_facts_now(session: Session, project_id: int, scope: DataScope, key: tuple[Any, ...]) -> Facts:
    households = household_service.household_columns(session, project_id=project_id, scope=scope)
    teams = tuple(
        TeamInfo(t.id, t.name, t.kind, t.parent_id, t.sort)
        for t in identity_service.list_teams(session, project_id=project_id)
    )
    return build_facts(
        key,
        households,
        _read_timeline(session, project_id),
        identity_service.assignment_columns(session, project_id=project_id),
        tuple(project_service.blocks(session, project_id)),
        teams,
    )


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
