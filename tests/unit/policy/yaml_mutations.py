"""Random mutations of YAML files for the "never crashes" property tests of the policy checker
(test_checker_fuzz) and of cases files (test_cases_fuzz): at the level of the text (lines deleted,
duplicated, swapped, truncated, junk inserted, indentation changed, numbers replaced) and of the
YAML tree (nodes replaced, dropped, renamed, junk in strings)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import yaml
from hypothesis import strategies as st

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


class Dumper(yaml.SafeDumper):
    """Writes a mutated tree back as YAML (exact decimals as plain numbers)."""


Dumper.add_representer(Decimal, lambda d, v: d.represent_scalar("tag:yaml.org,2002:float", str(v)))


def dump(tree: Any) -> str:
    """A (mutated) tree as YAML text."""
    return yaml.dump(tree, Dumper=Dumper, allow_unicode=True, sort_keys=False)


# --------------------------------------------------------------------------- text level

TEXT_OPS = ["delete", "duplicate", "swap", "truncate", "junk", "indent", "dedent", "number", "cut"]


def mutate_text(
    text: str, op: str, a: int, b: int, junk: str, numbers: list[str] = NUMBER_REPLACEMENTS
) -> str:
    """``text`` changed by one operation of :data:`TEXT_OPS` (``a``, ``b`` pick the places)."""
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
            return text[: m.start()] + numbers[b % len(numbers)] + text[m.end() :]
    else:  # cut a few characters out of a line
        s = lines[i]
        k = b % (len(s) + 1)
        lines[i] = s[:k] + s[k + 1 + a % 4 :]
    return "\n".join(lines)


def text_ops(junk: list[str] = JUNK) -> st.SearchStrategy[tuple[str, int, int, str]]:
    """One text operation with its places and junk."""
    return st.tuples(
        st.sampled_from(TEXT_OPS), st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from(junk)
    )


# --------------------------------------------------------------------------- YAML-tree level

SCALAR_TEXTS = ["", "x", "abc def", "1.5", "50%", "2024-13-45", "元/㎡", "sum(", "a.b.c", "cash", "砖混"]


def scalars(texts: list[str] = SCALAR_TEXTS) -> st.SearchStrategy[Any]:
    """Any scalar a YAML file may hold."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**20), 10**20),
        st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**6), max_value=10**6),
        st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31)),
        st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 12, 31)),
        st.sampled_from(texts),
        st.text(max_size=8),
    )


def values(key_names: list[str], texts: list[str] = SCALAR_TEXTS) -> st.SearchStrategy[Any]:
    """Scalars, lists and mappings (keys from ``key_names``) nested a little."""
    return st.recursive(
        scalars(texts),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(key_names), inner, max_size=3)
        ),
        max_leaves=6,
    )


TREE_OPS = ["replace", "drop", "rename", "junk"]


def tree_ops(
    key_names: list[str], ops: list[str] = TREE_OPS
) -> st.SearchStrategy[tuple[str, int, Any, str, str]]:
    """One tree operation: which, where, a new value, a key name and junk."""
    return st.tuples(
        st.sampled_from(ops),
        st.integers(0, 10**6),
        values(key_names),
        st.sampled_from(key_names),
        st.sampled_from(JUNK),
    )


def paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path of a tree (keys and indexes), the root first."""
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*path, i))
    return out


def mutate_tree(tree: Any, op: str, at: int, value: Any, key: str, junk: str) -> Any:
    """``tree`` changed in place by one operation of :data:`TREE_OPS` (or ``duplicate``, ``nest``,
    ``unwrap``, ``typo``); returns the tree (a new root when the root itself is replaced)."""
    all_paths = paths(tree)
    path = all_paths[at % len(all_paths)]
    if not path:
        return value
    parent = tree
    for k in path[:-1]:
        parent = parent[k]
    last = path[-1]
    node = parent[last]
    if op == "junk" and isinstance(node, str):
        parent[last] = node[: at % (len(node) + 1)] + junk + node[at % (len(node) + 1) :]
    elif op == "drop" and isinstance(parent, dict):
        del parent[last]
    elif op == "drop" and isinstance(parent, list):
        parent.pop(last)
    elif op == "rename" and isinstance(parent, dict):
        parent[key] = parent.pop(last)
    elif op == "typo" and isinstance(parent, dict) and isinstance(last, str) and len(last) > 1:
        k = at % (len(last) - 1)
        parent[last[:k] + last[k + 1] + last[k] + last[k + 2 :]] = parent.pop(last)
    elif op == "duplicate" and isinstance(parent, list):
        parent.insert(last, node)
    elif op == "nest":
        parent[last] = [node] if at % 2 else {key: node}
    elif op == "unwrap" and isinstance(node, list | dict) and node:
        parent[last] = node[0] if isinstance(node, list) else next(iter(node.values()))
    else:
        parent[last] = value
    return tree
