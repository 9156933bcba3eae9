"""Group facts counted from a table's columns (#12 speed: ``HouseholdTable.group_facts`` without a
Python date per household) equal the per-household path: the blocks, the parents and every rate of
the vectorised index, by household, certificate and area; and the evaluators agree with them."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_helpers import policy

from anju.policy import group_columns
from anju.policy.bulk import BulkEvaluator, HouseholdTable, evaluate_bulk
from anju.policy.facts import BlockGroup, Building, GroupFacts, Household, MeasureValue, group_to_dict
from anju.policy.scalar import evaluate
from anju.policy.table import GroupIndex, group_index


def old_group_facts(t: HouseholdTable) -> GroupFacts:
    """The per-household path this replaced (the test oracle): a Python date and a weight tuple
    per household and event, blocks built one by one."""
    n = t.n
    b = t.buildings
    hh = np.repeat(np.arange(n, dtype=np.int64), b.count)
    area = np.zeros(n, dtype=np.int64)
    certs = np.zeros(n, dtype=np.int64)
    if b.size:
        np.add.at(area, hh, b.cols["legal_area"])
        if t.certificate_nos:
            nos = [c.strip() for c in t.certificate_nos]
            named = np.fromiter((bool(c) for c in nos), dtype=bool, count=len(nos))
            np.add.at(certs, hh[named], 1)
            for i in np.flatnonzero(certs > 1).tolist():
                start = int(b.start[i])
                certs[i] = len({c for c in nos[start : start + int(b.count[i])] if c})
    blocks: dict[str, BlockGroup] = {}
    parents: dict[str, str] = {}
    for event in ("sign", "vacate"):
        ords = t.sign_on if event == "sign" else t.vacate_on
        order = np.lexsort((area, certs, ords, t.block_idx))
        cuts = np.searchsorted(t.block_idx[order], np.arange(len(t.blocks) + 1))
        for bi, code in enumerate(t.blocks):
            rows = order[cuts[bi] : cuts[bi + 1]]
            g = blocks.get(code) or BlockGroup(
                len(rows), (), (), int(certs[rows].sum()), int(area[rows].sum()), (), (), True
            )
            rows = rows[ords[rows] > 0]
            days = tuple(date.fromordinal(int(o)) for o in ords[rows].tolist())
            weights = tuple(zip(certs[rows].tolist(), area[rows].tolist(), strict=True))
            if event == "sign":
                g = dataclasses.replace(g, sign_dates=days, sign_weights=weights)
            else:
                g = dataclasses.replace(g, vacate_dates=days, vacate_weights=weights)
            blocks[code] = g
    for bi, code in enumerate(t.blocks):
        if not blocks[code].total_households:
            del blocks[code]
            continue
        path = t.block_paths[bi]
        for child, parent in zip(path[1:], path[:-1], strict=True):
            parents[child] = parent
    return GroupFacts(blocks=blocks, parents=parents)


START = date(2025, 3, 1)
# Blocks of a three-level tree; most get one or two households, so one-household blocks are common.
PATHS = [("P1", "V1", f"G{k}") for k in range(4)] + [
    ("P1", "V2", "G4"),
    ("P2", "V3", "G5"),
    ("P2", "V3", "G6"),
]


@st.composite
def households(draw: Any) -> list[Household]:
    n = draw(st.integers(1, 14))
    far = draw(st.booleans())  # dates decades apart: the sorting path instead of one bincount
    out = []
    for i in range(n):
        path = draw(st.sampled_from(PATHS))
        blds = tuple(
            Building(
                draw(st.sampled_from(["", " ", f"C{i}-{k}", f"C{i}-0", f" C{i}-0 "])),
                legal_area=Decimal(draw(st.sampled_from([0, 0, 1, 5000, 29999]))).scaleb(-2),
            )
            for k in range(draw(st.integers(0, 3)))
        )
        day = st.integers(0, 40_000 if far else 90).map(lambda d: START + timedelta(days=d))
        sign = draw(st.one_of(st.none(), day))
        vac = draw(st.one_of(st.none(), day))
        out.append(Household(f"H{i}", path[-1], path[:-1], sign_on=sign, vacate_on=vac, buildings=blds))
    return out


def _variants(hs: list[Household]) -> list[HouseholdTable]:
    """The table of ``hs``; the same without certificate numbers (a synthetic table: no certificate
    counts, as before); and with a block that has no household."""
    t = HouseholdTable.from_households(hs)
    empty = dataclasses.replace(
        t, blocks=[*t.blocks, "G9"], block_paths=[*t.block_paths, ("P3", "G9")], certificate_nos=[]
    )
    return [t, dataclasses.replace(t, certificate_nos=[]), empty]


def _days(hs: list[Household]) -> list[date]:
    seen = {d for h in hs for d in (h.sign_on, h.vacate_on) if d is not None}
    near = {d + timedelta(days=k) for d in seen for k in (-1, 0, 1)}
    return sorted(near | {START - timedelta(days=1), date(2200, 1, 1)})


def _assert_same(t: HouseholdTable, hs: list[Household]) -> None:
    new, old = t.group_facts(), old_group_facts(t)
    assert new.columns is not None and old.columns is None
    assert new.parents == old.parents
    assert set(new.blocks) == set(old.blocks) and len(new.blocks) == len(old.blocks)
    assert new.blocks == old.blocks
    assert {c: new.blocks[c] for c in new.blocks} == dict(old.blocks)
    assert new == old
    fresh, reference = GroupIndex(new), GroupIndex(old)
    scopes: list[str | None] = [None, *sorted({c for p in PATHS for c in p}), "G9", "nowhere"]
    for scope in scopes:
        for event in ("sign", "vacate"):
            for basis in ("household", "certificate", "area"):
                for day in _days(hs):
                    o = day.toordinal()
                    got = fresh.rate_ppm(scope, o, event, basis)
                    assert got == reference.rate_ppm(scope, o, event, basis), (scope, event, basis, day)
                    assert got == old.rate_ppm(scope, day, event, basis), (scope, event, basis, day)
                assert fresh.rate_ppm(scope, 0, event, basis) == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hs=households())
def test_property_columnar_group_facts_equal_the_per_household_path(hs: list[Household]) -> None:
    tables = _variants(hs)
    for t in tables:
        _assert_same(t, hs)
    # and the table's own households, counted one by one (certificate numbers as written)
    assert tables[0].group_facts() == GroupFacts.from_households(hs)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hs=households())
def test_property_sorting_path_equals_the_bincount_path(hs: list[Household]) -> None:
    t = HouseholdTable.from_households(hs)
    binned = [t.group_facts().columns.day_rows(e) for e in ("sign", "vacate")]
    saved = group_columns._MAX_BINS
    group_columns._MAX_BINS = 0  # the (block, day) pairs sorted instead of counted in bins
    try:
        cols = group_columns.GroupColumns(t)
        cols_days = [cols.day_rows(e) for e in ("sign", "vacate")]
    finally:
        group_columns._MAX_BINS = saved
    for a, b in zip(binned, cols_days, strict=True):
        for x, y in zip(a, b, strict=True):
            assert np.array_equal(x, y)


def test_blocks_are_built_on_demand_and_kept() -> None:
    hs = [
        Household("H1", "G1", ("P1",), sign_on=START, buildings=(Building("C1", legal_area=Decimal("10")),)),
        Household("H2", "G2", ("P1",), vacate_on=START),
    ]
    g = HouseholdTable.from_households(hs).group_facts()
    blocks: Any = g.blocks
    assert isinstance(blocks, group_columns.TableBlocks)
    assert "G1" in blocks and "G3" not in blocks and len(blocks) == 2 and list(blocks) == ["G1", "G2"]
    assert group_index(g).rate_ppm("P1", START.toordinal(), "sign", "area") == 1_000_000
    assert not blocks._built  # the index read the columns, not the blocks
    assert blocks["G1"] is blocks["G1"]
    assert blocks["G1"] == BlockGroup(1, (START,), (), 1, 1000, ((1, 1000),), (), True)
    with pytest.raises(KeyError):
        blocks["G3"]
    # measures keep the columns; the facts still serialise block by block
    m = g.with_measures({"m": {"": (MeasureValue(START, Decimal("1")),)}})
    assert m.columns is g.columns
    assert group_to_dict(m)["blocks"]["G2"]["vacate_dates"] == [START.isoformat()]


RATES = """
items:
  - id: by_household
    label: 按户
    options: [cash]
    formula: "sign_rate('project', date('2025-04-15')) * 10000元"
  - id: by_certificate
    label: 按证
    options: [cash]
    formula: "sign_rate('片区', date('2025-05-01'), basis='证') * 10000元"
  - id: by_area
    label: 按面积
    options: [cash]
    formula: "if vacate_rate('地块', date('2025-05-20'), basis='area') >= 30% then 1000元 else 7元"
"""


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hs=households())
def test_property_bulk_and_kernel_on_table_group_facts_equal_scalar(hs: list[Household]) -> None:
    c = policy(RATES)
    two_level = [dataclasses.replace(h, block_chain=h.block_chain[:1]) for h in hs]
    table = HouseholdTable.from_households(two_level)
    reference = GroupFacts.from_households(two_level)
    scalar = [evaluate(c, h, "cash", None, reference, trace=False).amounts() for h in two_level]
    g = table.group_facts()
    assert [BulkEvaluator(c, table, None, g).evaluate("cash").row(i) for i in range(len(hs))] == scalar
    kernel = evaluate_bulk(c, table, "cash", None, g, jit=True)
    assert [kernel.row(i) for i in range(len(hs))] == scalar
    # with no group facts given, the evaluators count them from the table itself
    assert [evaluate_bulk(c, table, "cash").row(i) for i in range(len(hs))] == scalar
