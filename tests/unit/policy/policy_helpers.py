"""Helpers for policy tests: a tiny policy builder and evaluation of both evaluators."""

from __future__ import annotations

from datetime import date

from anju.policy.bulk import HouseholdTable, evaluate_bulk
from anju.policy.check import Checked, load_policy
from anju.policy.facts import GroupFacts, Household
from anju.policy.scalar import evaluate

HEAD = """
policy:
  name: t
  effective_on: 2025-04-01
  rounding: {mode: half_up, unit: fen}
  block_levels: [片区, 地块]
"""


def policy(body: str) -> Checked:
    """Load a policy made of the standard header and ``body``."""
    return load_policy(HEAD + body, "t.yaml")


def amounts(
    c: Checked,
    hs: list[Household],
    option: str = "cash",
    as_of: date | None = None,
    group: GroupFacts | None = None,
) -> list[dict[str, int]]:
    """Scalar amounts of every household, after asserting the bulk evaluator agrees."""
    g = group or GroupFacts.from_households(hs)
    bulk = evaluate_bulk(c, HouseholdTable.from_households(hs), option, as_of, g)
    out = []
    for i, h in enumerate(hs):
        a = evaluate(c, h, option, as_of, g).amounts()
        assert bulk.row(i) == a
        out.append(a)
    return out
