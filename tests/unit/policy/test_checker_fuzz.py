"""The checker never crashes, whatever the file holds (#12 item 7).

Random mutations of the shipped policies, at the level of the text (lines deleted, duplicated,
swapped, truncated, junk inserted, indentation changed, numbers replaced by strings, lists or null)
and of the YAML tree (any node replaced by a scalar, list or mapping, keys dropped or renamed),
must either load or be refused with problems that each name the file, a line and a column of the
text, and say what is wrong in Chinese. Deterministic (``derandomize``) and bounded to a few seconds.
"""

from __future__ import annotations

import copy
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_helpers import HEAD

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
CJK = re.compile(r"[\u4e00-\u9fff]")
NUMBER = re.compile(r"\d+(\.\d+)?")

JUNK = [
    "{",
    "}",
    "[",
    "]",
    ":",
    "- ",
    "'",
    '"',
    "#",
    "&a ",
    "*a",
    "!!str ",
    "\t",
    "%",
    "|",
    ">",
    "? ",
    "@",
    "`",
    "，",
    "㎡",
    "㎡㎡",
    "\\",
    "1e400",
    "~",
    "null",
    "<<: *a",
    "9" * 30,
    "(" * 60,
    "sum(members",
    "a.b.c",
    "/3",
    "x[",
    " if ",
    " else ",
    "0.000000000000001",
    "where=",
    "'x'",
    "==",
    " and ",
    "date('2024-02-30')",
    "points_above(",
    "flag(1)",
    "known(1)",
    "sign_rate('x', 1)",
    "\u00a0",
    "\ufeff",
    "元/元",
]
NUMBER_REPLACEMENTS = [
    "'x'",
    "[1, 2]",
    "null",
    "{a: 1}",
    "abc",
    "-",
    "1e999",
    "~",
    "true",
    "2024-02-30",
    "''",
]
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


class _Dumper(yaml.SafeDumper):
    """Writes the mutated tree back as YAML (exact decimals as plain numbers)."""


_Dumper.add_representer(Decimal, lambda d, v: d.represent_scalar("tag:yaml.org,2002:float", str(v)))


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

TEXT_OPS = ["delete", "duplicate", "swap", "truncate", "junk", "indent", "dedent", "number", "cut"]


def _mutate_text(text: str, op: str, a: int, b: int, junk: str) -> str:
    lines = text.split("\n")
    i, j = a % len(lines), b % len(lines)
    if op == "delete":
        del lines[i]
    elif op == "duplicate":
        lines.insert(i, lines[j])
    elif op == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "truncate":
        return text[: a % (len(text) + 1)]
    elif op == "junk":
        s = lines[i]
        k = b % (len(s) + 1)
        lines[i] = s[:k] + junk + s[k:]
    elif op == "indent":
        lines[i] = " " * (b % 7) + lines[i]
    elif op == "dedent":
        lines[i] = lines[i][b % 4 :] if b % 2 else lines[i].lstrip()
    elif op == "number":
        found = list(NUMBER.finditer(text))
        if found:
            m = found[a % len(found)]
            return text[: m.start()] + NUMBER_REPLACEMENTS[b % len(NUMBER_REPLACEMENTS)] + text[m.end() :]
    else:  # cut a few characters out of a line
        s = lines[i]
        k = b % (len(s) + 1)
        lines[i] = s[:k] + s[k + 1 + a % 4 :]
    return "\n".join(lines)


text_ops = st.tuples(
    st.sampled_from(TEXT_OPS), st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from(JUNK)
)


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(name=st.sampled_from(sorted(TEXTS)), ops=st.lists(text_ops, min_size=1, max_size=3))
def test_text_mutations_are_reported_with_their_place(
    name: str, ops: list[tuple[str, int, int, str]]
) -> None:
    text = TEXTS[name]
    for op in ops:
        text = _mutate_text(text, *op)
    _problems_are_placed(text, name)


# --------------------------------------------------------------------------- YAML-tree level

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**6), max_value=10**6),
    st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31)),
    st.sampled_from(
        ["", "x", "abc def", "1.5", "50%", "2024-13-45", "元/㎡", "sum(", "a.b.c", "cash", "砖混"]
    ),
    st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEY_NAMES), inner, max_size=3)
    ),
    max_leaves=6,
)
TREE_OPS = ["replace", "drop", "rename", "junk"]
tree_ops = st.tuples(
    st.sampled_from(TREE_OPS),
    st.integers(0, 10**6),
    values,
    st.sampled_from(KEY_NAMES),
    st.sampled_from(JUNK),
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


def _mutate_tree(tree: Any, op: str, at: int, value: Any, key: str, junk: str) -> Any:
    paths = _paths(tree)
    path = paths[at % len(paths)]
    if not path:
        return value
    parent = tree
    for k in path[:-1]:
        parent = parent[k]
    last = path[-1]
    if op == "junk" and isinstance(parent[last], str):
        s = parent[last]
        parent[last] = s[: at % (len(s) + 1)] + junk + s[at % (len(s) + 1) :]
    elif op == "drop" and isinstance(parent, dict):
        del parent[last]
    elif op == "rename" and isinstance(parent, dict):
        parent[key] = parent.pop(last)
    else:
        parent[last] = value
    return tree


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(name=st.sampled_from(sorted(TREES)), ops=st.lists(tree_ops, min_size=1, max_size=3))
def test_tree_mutations_are_reported_with_their_place(
    name: str, ops: list[tuple[str, int, Any, str, str]]
) -> None:
    tree = copy.deepcopy(TREES[name])
    for op in ops:
        tree = _mutate_tree(tree, *op)
    text = yaml.dump(tree, Dumper=_Dumper, allow_unicode=True, sort_keys=False)
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
