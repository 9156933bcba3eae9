"""The array computation of campaign progress against a plain reference, on random data.

The reference below walks household by household through the rules of
``anju.campaign.service.progress_facts`` (its module docstring), written independently of the numpy
code: when each stage was reached, the signature's time, the team, and then the counts as of a date
per project, block (rolled up the tree) and team (a 大组 with its 小组), the records (the day a
block reached 100%, the time of its last signature), the daily series and the big screen's latest
signatures. Hypothesis draws projects with unknown blocks and teams, unknown statuses, timeline rows
of other households, duplicate assignments and signatures entered on a later day.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import anju.campaign.service  # noqa: F401  (loads the parts; the package's attributes are functions)
from anju.household.service import HouseholdColumns
from anju.identity.service import DataScope
from anju.project.service import BlockInfo

FACTS = sys.modules["anju.campaign.service.progress_facts"]
PROGRESS = sys.modules["anju.campaign.service.progress"]
BIG = sys.modules["anju.campaign.service.progress_bigscreen"]

STAGES = ("surveyed", "valued", "negotiating", "signed", "vacated", "demolished")
STATUSES = ("pending", "surveyed", "valued", "negotiating", "signed", "vacated", "demolished", "archived")
RANK = {s: i for i, s in enumerate(STATUSES[:7])} | {"archived": 6}
BASE = date(2026, 11, 1).toordinal()
SHANGHAI_OFFSET = timedelta(hours=8)


@dataclass
class World:
    blocks: list[BlockInfo]
    teams: list[FACTS.TeamInfo]
    households: list[dict]  # id, block_id, status (index, -1 unknown), dates (ordinal or 0), created_us
    timeline: list[tuple[int, int, int, int]]  # household id, stage index (-1 unknown), reached, at_us
    assignments: list[tuple[int, int, int]]  # assignment id, household id, team id
    extra: dict = field(default_factory=dict)


def office_day(us: int) -> int:
    """The Asia/Shanghai date (ordinal) of UTC microseconds since 1970."""
    return (
        (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us) + SHANGHAI_OFFSET).date().toordinal()
    )


@st.composite
def worlds(draw: st.DrawFn) -> World:
    blocks: list[BlockInfo] = []
    for i in range(draw(st.integers(0, 6))):
        parent = draw(st.sampled_from([None, *[b.id for b in blocks]]))
        blocks.append(BlockInfo(100 + i, 1, parent, f"B{i}", f"片{i}", "group", i))
    teams: list = []
    for i in range(draw(st.integers(0, 5))):
        groups = [t.id for t in teams if t.kind == "group"]
        kind = draw(st.sampled_from(["group", "squad"]))
        parent = draw(st.sampled_from([None, *groups])) if kind == "squad" else None
        teams.append(FACTS.TeamInfo(200 + i, f"组{i}", kind, parent, i))
    ids = sorted(draw(st.sets(st.integers(1, 400), max_size=30)))
    day = st.integers(BASE, BASE + 25)
    maybe_day = st.one_of(st.just(0), day)
    households = []
    for hid in ids:
        households.append(
            {
                "id": hid,
                "block_id": draw(st.sampled_from([0, 999, *[b.id for b in blocks]])),
                "status": draw(st.integers(-1, 7)),
                "sign_on": draw(maybe_day),
                "vacate_on": draw(maybe_day),
                "demolish_on": draw(maybe_day),
                "paid_on": draw(maybe_day),
                # registered between 10-30 and 11-03 at any time of day (UTC)
                "created_us": draw(st.integers(1_793_318_400, 1_793_664_000)) * 1_000_000
                + draw(st.integers(0, 999_999)),
            }
        )
    timeline = []
    some_ids = st.sampled_from([*ids, 401, 402]) if ids else st.just(401)
    for _ in range(draw(st.integers(0, 40))):
        reached = draw(day)
        # recorded on the day reached (office time) or up to two days later, at any time
        at = (
            (reached - date(1970, 1, 1).toordinal()) * 86400 - 8 * 3600 + draw(st.integers(0, 3 * 86400 - 1))
        ) * 1_000_000 + draw(st.integers(0, 999_999))
        timeline.append((draw(some_ids), draw(st.integers(-1, 5)), reached, at))
    assignments = []
    for k in range(draw(st.integers(0, 40))):
        team = draw(st.sampled_from([299, *[t.id for t in teams]]))
        assignments.append((k + 1, draw(some_ids), team))
    return World(blocks, teams, households, timeline, assignments)


# ------------------------------------------------------------------ the reference


def reference_household(w: World, h: dict) -> dict:
    """When one household reached each stage (ordinal or None), its signature's time (UTC seconds or
    None), block and team, by the written rules."""
    rank = RANK[STATUSES[h["status"]]] if h["status"] >= 0 else 0
    created = office_day(h["created_us"])
    rows = [r for r in w.timeline if r[0] == h["id"] and 0 <= r[1] < 6]
    known: list[int | None] = [None] * 6
    for k, col in ((3, "sign_on"), (4, "vacate_on"), (5, "demolish_on")):
        if h[col]:
            known[k] = h[col]
    for k in range(6):
        if known[k] is None:
            dates = [r[2] for r in rows if r[1] == k]
            known[k] = min(dates) if dates else None
    if known[0] is None and rank >= 1:
        known[0] = created
    reach: list[int | None] = []
    for k in range(6):
        if rank <= k:  # not passed: not reached, whatever the dates say
            reach.append(None)
            continue
        later = [d for d in known[k:] if d is not None]
        reach.append(min(later) if later else created)
    signed_times = [r[3] for r in rows if r[1] == 3]
    at = max(signed_times) / 1e6 if signed_times else None
    if at is not None and (reach[3] is None or office_day(max(signed_times)) != reach[3]):
        at = None
    block_ids = {b.id for b in w.blocks}
    team_ids = {t.id for t in w.teams}
    mine = [a for a in w.assignments if a[1] == h["id"]]
    newest = max(mine) if mine else None  # the newest assignment row
    return {
        "reach": reach,
        "paid": h["paid_on"] or None,
        "at": at,
        "block": h["block_id"] if h["block_id"] in block_ids else None,
        "team": newest[2] if newest is not None and newest[2] in team_ids else None,
    }


def reference_counts(people: list[dict], on: int) -> dict[str, int]:
    def reached(p: dict, k: int, day: int) -> bool:
        return p["reach"][k] is not None and p["reach"][k] <= day

    out = {"households": len(people)}
    for k, s in enumerate(STAGES):
        out[s] = sum(reached(p, k, on) for p in people)
    out["paid"] = sum(p["paid"] is not None and p["paid"] <= on for p in people)
    out["signed_on_day"] = sum(p["reach"][3] == on for p in people)
    out["signed_day_before"] = sum(p["reach"][3] == on - 1 for p in people)
    out["signed_last7"] = sum(p["reach"][3] is not None and on - 7 < p["reach"][3] <= on for p in people)
    return out


def reference_last(people: list[dict], on: int) -> tuple[int | None, int | None]:
    """(latest signing day by ``on``, latest whole UTC second of a signature that day or None)."""
    days = [p["reach"][3] for p in people if p["reach"][3] is not None and p["reach"][3] <= on]
    if not days:
        return None, None
    last = max(days)
    times = [math.floor(p["at"]) for p in people if p["reach"][3] == last and p["at"] is not None]
    return last, (max(times) if times and max(times) > 0 else None)


def below(w: World, block_id: int) -> set[int]:
    out, stack = set(), [block_id]
    while stack:
        b = stack.pop()
        out.add(b)
        stack.extend(c.id for c in w.blocks if c.parent_id == b)
    return out


# ------------------------------------------------------------------ the test


def facts_of(w: World) -> object:
    cols = [
        np.array([h[k] for h in w.households], np.int64)
        for k in ("id", "block_id", "status", "sign_on", "vacate_on", "demolish_on", "paid_on")
    ]
    cols.append(np.array([office_day(h["created_us"]) for h in w.households], np.int64))  # created_on
    timeline = FACTS.Timeline(*(np.array([r[i] for r in w.timeline], np.int64) for i in range(4)))
    # as identity_service.assignment_columns: one row per household, the newest
    newest_first = sorted(w.assignments, reverse=True)
    seen: dict[int, int] = {}
    for _aid, hid, team in newest_first:
        seen.setdefault(hid, team)
    assigned = (np.array(sorted(seen), np.int64), np.array([seen[h] for h in sorted(seen)], np.int64))
    return FACTS.build_facts(
        ("test",), HouseholdColumns(*cols), timeline, assigned, tuple(w.blocks), tuple(w.teams)
    )


@settings(max_examples=300, deadline=None)
@given(worlds(), st.integers(BASE - 3, BASE + 30))
def test_progress_equals_the_reference(w: World, on: int) -> None:
    facts = facts_of(w)
    people = [reference_household(w, h) for h in w.households]
    plan = FACTS.ProjectPlan(1, "P", date.fromordinal(BASE + 2), date.fromordinal(BASE + 30), 100, None)
    p = PROGRESS._compute(facts, plan, date.fromordinal(on), DataScope.everything(), paths={}, concerns=[])
    # the facts
    for i, person in enumerate(people):
        reach = [int(v) if v < FACTS.NEVER else None for v in facts.reach[:, i]]
        assert reach == person["reach"], (w.households[i], person)
        at = float(facts.signed_at[i])
        assert (None if math.isnan(at) else at) == person["at"]
    # totals, blocks (rolled up), teams (大组 with their 小组), and the rest
    assert p.totals.to_dict() == PROGRESS.Counts(**reference_counts(people, on)).to_dict()
    unblocked = [q for q in people if q["block"] is None]
    assert p.unblocked == PROGRESS.Counts(**reference_counts(unblocked, on))
    for b in p.blocks:
        inside = [q for q in people if q["block"] is not None and q["block"] in below(w, b.id)]
        assert b.counts == PROGRESS.Counts(**reference_counts(inside, on)), b.id
        last_day, last_second = reference_last(inside, on)
        complete = bool(inside) and all(q["reach"][3] is not None and q["reach"][3] <= on for q in inside)
        assert b.completed_on == (date.fromordinal(last_day) if complete and last_day else None)
        got = b.last_signed_at.timestamp() if b.last_signed_at else None
        assert got == last_second
    for t in p.teams:
        members = {t.id} | {c.id for c in w.teams if c.parent_id == t.id and t.kind == "group"}
        inside = [q for q in people if q["team"] in members]
        assert t.counts == PROGRESS.Counts(**reference_counts(inside, on)), t.id
    assert p.unassigned == PROGRESS.Counts(**reference_counts([q for q in people if q["team"] is None], on))
    _day, second = reference_last(people, on)
    assert (p.last_signed_at.timestamp() if p.last_signed_at else None) == second
    # the daily series: cumulative counts of every day from the launch
    series = PROGRESS._daily(facts, plan, date.fromordinal(on), True)
    for k, d in enumerate(series.days):
        want = reference_counts(people, d.toordinal())
        assert {s: series.series[s][k] for s in (*STAGES, "paid")} == {s: want[s] for s in (*STAGES, "paid")}
        assert series.signed_per_day[k] == want["signed_on_day"]
    # the big screen's latest signatures: by day, then time (none first), then position, latest first
    done = [i for i, q in enumerate(people) if q["reach"][3] is not None and q["reach"][3] <= on]
    want_order = sorted(done, key=lambda i: (people[i]["reach"][3], people[i]["at"] or 0.0, i), reverse=True)
    got_order = BIG._latest(facts.reach[FACTS.SIGNED], facts.signed_at, on)
    assert [int(i) for i in got_order] == want_order[: BIG.LATEST]
