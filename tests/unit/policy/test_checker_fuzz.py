"""The checker never crashes, whatever the file holds (#12 item 7).

Random mutations of the shipped policies, at the level of the text (lines deleted, duplicated,
swapped, truncated, junk inserted, indentation changed, numbers replaced by strings, lists or null)
and of the YAML tree (any node replaced by a scalar, list or mapping, keys dropped or renamed),
must either load or be refused with problems that each name the file, a line and a column of the
text, and say what is wrong in Chinese. Deterministic (``derandomize``) and bounded to a few seconds.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_helpers import HEAD
from yaml_mutations import CJK, dump, mutate_text, mutate_tree, text_ops, tree_ops

from anju.policy.check import load_policy
from anju.policy.errors import PolicyError
from anju.policy.model import load_yaml

ROOT = Path(__file__).resolve().parents[3] / "src" / "anju"
FILES = sorted(
    p
    for p in [*(ROOT / "policy" / "examples").glob("*.yaml"), *(ROOT / "demo" / "policies").glob("*.yaml")]
    if not p.name.endswith(".cases.yaml")
)
TEXTS = {p.name: p.read_text(encoding="utf-8") for p in FILES}
TREES = {name: load_yaml(text, name)[0] for name, text in TEXTS.items()}
KEY_NAMES = [
    "x",
    "value",
    "formula",
    "id",
    "label",
    "table",
    "dated",
    "bands",
    "overrides",
    "when",
    "unit",
    "from",
]


def _problems_are_placed(text: str, file: str) -> None:
    """Loading ``text`` gives a policy or problems with file, line, column and a Chinese message."""
    try:
        load_policy(text, file)
    except PolicyError as exc:
        assert exc.problems
        last_line = text.count("\n") + 2
        for p in exc.problems:
            assert p.location.file == file, p
            assert 1 <= p.location.line <= last_line, p
            assert p.location.column >= 1, p
            assert CJK.search(p.message_zh), p
            assert p.message_en, p


# --------------------------------------------------------------------------- text level


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(name=st.sampled_from(sorted(TEXTS)), ops=st.lists(text_ops(), min_size=1, max_size=3))
def test_text_mutations_are_reported_with_their_place(
    name: str, ops: list[tuple[str, int, int, str]]
) -> None:
    text = TEXTS[name]
    for op in ops:
        text = mutate_text(text, *op)
    _problems_are_placed(text, name)


# --------------------------------------------------------------------------- YAML-tree level


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(name=st.sampled_from(sorted(TREES)), ops=st.lists(tree_ops(KEY_NAMES), min_size=1, max_size=3))
def test_tree_mutations_are_reported_with_their_place(
    name: str, ops: list[tuple[str, int, Any, str, str]]
) -> None:
    tree = copy.deepcopy(TREES[name])
    for op in ops:
        tree = mutate_tree(tree, *op)
    text = dump(tree)
    _problems_are_placed(text, name)


def test_the_shipped_policies_load() -> None:
    """The starting points of the mutations are valid (else every mutation would be refused anyway)."""
    assert len(FILES) >= 5
    for name, text in TEXTS.items():
        load_policy(text, name)


KNOWN_CRASHES = {
    "band bound a mapping": "parameters:\n  p: {unit: 元, by: 人, bands: [{after: {a: 1}, upto: 2, value: 1}]}\n",
    "bands a number": "parameters:\n  p: {unit: 元, by: 人, bands: 3}\n",
    "table keys a number": "parameters:\n  p: {unit: 元, keys: 3, table: {a: 1}}\n",
    "override dated entries text": "parameters:\n  p: {value: 1, overrides: {东: {dated: [abc]}}}\n",
    "a huge number": "parameters:\n  p: {value: 1e999999}\n",
    "tier windows a mapping": "clocks: {c: 2025-04-01}\ntiers:\n  t: {clock: c, windows: {a: 1}}\n",
    "tier bound a date": "clocks: {c: 2025-04-01}\ntiers:\n  t: {clock: c, windows: [{upto: 2024-01-01, value: 1}]}\n",
    "block levels a number": "parameters:\n  p: 1\n",
    "flat types text": "swap_settlement: {entitled_area: 1㎡, credit: 1元, cost_price: 1元/㎡, extra_price: 1元/㎡, "
    "refund_price: 1元/㎡, flat_types: [abc]}\n",
    "derived with an error used twice": "derived:\n  d: nope * 2\nitems:\n  - {id: a, formula: d * 1元}\n"
    "  - {id: b, formula: d * 2元}\n",
    "a unit symbol written twice": "items:\n  - {id: a, formula: 5㎡㎡ * 1元}\n",
    "a circled digit in a formula": "items:\n  - {id: a, formula: 案例详解 实例一⑥}\n",
    # accepted by the checker, then "can't compare datetime.datetime to datetime.date" in evaluation
    "a clock date with a time of day": "clocks:\n  c: {date: 2025-04-01 10:00:00}\n",
    "a dated value from a time of day": "parameters:\n  p: {unit: 元, dated: [{from: 2025-01-01T08:00:00, value: 1}]}\n",
}


def test_known_crashes_are_problems_with_a_place() -> None:
    """Shapes that used to raise Python exceptions from the reader or the checker."""
    for what, body in KNOWN_CRASHES.items():
        head = (
            HEAD.replace("block_levels: [片区, 地块]", "block_levels: 3")
            if what == "block levels a number"
            else HEAD
        )
        text = head + body
        try:
            load_policy(text, "x.yaml")
        except PolicyError as exc:
            assert exc.problems, what
            _problems_are_placed(text, "x.yaml")
        else:
            raise AssertionError(f"{what}: accepted")
