"""Reading and running cases files never crashes, whatever they hold (#12 item 7).

Every shipped cases file (``src/anju/policy/examples/*.cases.yaml``) is mutated at the level of
the text (lines deleted, duplicated, swapped, truncated, junk inserted, numbers replaced by text,
huge numbers, impossible dates) and of the YAML tree (keys renamed or misspelt, values of another
type, entries deleted or duplicated, wrong nesting, unicode, dates with a time), then read and run
as ``anju policy test`` does. The outcome is a report of passed and failed cases or problems that
each name the file, a line and a column and say what is wrong in Chinese; never an exception.

Deterministic and bounded to a few seconds; ``ANJU_FUZZ_EXAMPLES=2000`` runs it long.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yaml_mutations import (
    CJK,
    JUNK,
    NUMBER_REPLACEMENTS,
    dump,
    mutate_text,
    mutate_tree,
    paths,
    text_ops,
    values,
)

from anju.policy.cases import CasesReport, NoCasesError, run_cases
from anju.policy.check import Checked, load_policy_file
from anju.policy.errors import PolicyError
from anju.policy.model import load_yaml

EXAMPLES = Path(__file__).resolve().parents[3] / "src" / "anju" / "policy" / "examples"
CASES = sorted(EXAMPLES.glob("*.cases.yaml"))
TEXTS = {p.name: p.read_text(encoding="utf-8") for p in CASES}
TREES = {name: load_yaml(text, name)[0] for name, text in TEXTS.items()}
N = int(os.environ.get("ANJU_FUZZ_EXAMPLES", "0"))

# keys of cases files, hostile values and junk for them
KEY_NAMES = [
    "x",
    "code",
    "household",
    "expect",
    "legal_aera",
    "buildings",
    "members",
    "flats",
    "facts",
    "sign_on",
    "total",
    "option",
    "area",
    "blocks",
    "value",
]
CASE_JUNK = [
    *JUNK,
    "legal_aera",
    "2025-02-30",
    "-1",
    "-0.01",
    "1.005",
    "9" * 40,
    "\u202e",
    "𠀀",
    "2025-04-01 10:00",
]
CASE_NUMBERS = [
    *NUMBER_REPLACEMENTS,
    "-5",
    "1e400",
    "9" * 40,
    "0.001",
    "'2025-02-30'",
    "2025-04-01 10:00:00",
    "[[]]",
]
CASE_TEXTS = [
    "",
    "x",
    "砖头",
    "2025-02-30",
    "2025-13-01",
    "-1",
    "1e400",
    "9" * 30,
    "cahs",
    "是",
    "\u202e",
    "H001",
]
TREE_OPS = ["replace", "drop", "rename", "junk", "typo", "duplicate", "nest", "unwrap"]


def _fuzz(default: int) -> Any:
    return settings(
        max_examples=N or default,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped policies copied beside the mutated cases files (they name their policy)."""
    d = tmp_path_factory.mktemp("cases_fuzz")
    for p in EXAMPLES.glob("*.yaml"):
        if not p.name.endswith(".cases.yaml"):
            shutil.copy(p, d / p.name)
    return d


_CHECKED: dict[str, Checked] = {}


def _checked(name: str) -> Checked:
    """The policy of a shipped cases file, checked once."""
    if name not in _CHECKED:
        _CHECKED[name] = load_policy_file(EXAMPLES / name.replace(".cases.yaml", ".yaml"))
    return _CHECKED[name]


def outcome_is_placed(path: Path, checked: Checked | None) -> CasesReport | PolicyError | None:
    """Running ``path`` gives a report, "no cases" or problems with file, line, column and Chinese."""
    try:
        report = run_cases(path, checked)
    except NoCasesError:
        return None
    except PolicyError as exc:
        assert exc.problems
        last_line = path.read_text(encoding="utf-8", errors="replace").count("\n") + 2
        for p in exc.problems:
            assert p.location.file == str(path), p
            assert 1 <= p.location.line <= last_line, p
            assert p.location.column >= 1, p
            assert CJK.search(p.message_zh), p
            assert p.message_en, p
        return exc
    for o in report.outcomes:
        assert o.passed == (not o.mismatches)
        assert all(isinstance(m, str) and m for m in o.mismatches)
    return report


@_fuzz(30)
@given(
    name=st.sampled_from(sorted(TEXTS)),
    ops=st.lists(text_ops(CASE_JUNK), min_size=1, max_size=3),
)
def test_text_mutations_run_or_are_reported_with_their_place(
    workdir: Path, name: str, ops: list[tuple[str, int, int, str]]
) -> None:
    text = TEXTS[name]
    for op in ops:
        text = mutate_text(text, *op, numbers=CASE_NUMBERS)
    path = workdir / name
    path.write_text(text, encoding="utf-8")
    outcome_is_placed(path, _checked(name))


@_fuzz(30)
@given(
    name=st.sampled_from(sorted(TREES)),
    ops=st.lists(
        st.tuples(
            st.sampled_from(TREE_OPS),
            st.integers(0, 10**6),
            st.one_of(values(KEY_NAMES, CASE_TEXTS), st.datetimes(min_value=datetime(2000, 1, 1))),
            st.sampled_from(KEY_NAMES),
            st.sampled_from(CASE_JUNK),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_tree_mutations_run_or_are_reported_with_their_place(
    workdir: Path, name: str, ops: list[tuple[str, int, Any, str, str]]
) -> None:
    tree = copy.deepcopy(TREES[name])
    for op in ops:
        tree = mutate_tree(tree, *op)
    path = workdir / name
    path.write_text(dump(tree), encoding="utf-8")
    outcome_is_placed(path, _checked(name))


# --------------------------------------------------------------------------- odd but valid values

odd_values = st.one_of(
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
    st.sampled_from([date(1, 1, 1), date(9999, 12, 31), date(2024, 2, 29)]),
    st.decimals(min_value=0, max_value=10**7 - 1, places=2),
    st.sampled_from([Decimal(0), Decimal("0.01"), Decimal("9999999.99"), Decimal("99999999999.99")]),
    st.integers(0, 10**6),
    st.booleans(),
)


QUOTED = re.compile(r"^-?\d+(\.\d+)?$|^\d{4}-\d{2}-\d{2}$")  # numbers and dates written as text


def _leaves(tree: Any) -> list[tuple[Any, ...]]:
    """Paths of the dates, numbers and yes/no values of the cases."""
    out = []
    for p in paths(tree):
        node = tree
        for k in p:
            node = node[k]
        if p[:1] == ("cases",) and (
            isinstance(node, date | Decimal | int | bool) or (isinstance(node, str) and QUOTED.match(node))
        ):
            out.append(p)
    return out


@_fuzz(20)
@given(
    name=st.sampled_from(sorted(TREES)),
    changes=st.lists(st.tuples(st.integers(0, 10**6), odd_values), min_size=1, max_size=4),
)
def test_odd_but_valid_values_run_and_both_evaluators_agree(
    workdir: Path, name: str, changes: list[tuple[int, Any]]
) -> None:
    """Dates from the year 1 to 9999, areas and amounts up to the limits: the cases run (each passes
    or fails with its reasons) and the bulk evaluator agrees with the scalar one."""
    tree = copy.deepcopy(TREES[name])
    leaves = _leaves(tree)
    for at, value in changes:
        p = leaves[at % len(leaves)]
        parent = tree
        for k in p[:-1]:
            parent = parent[k]
        parent[p[-1]] = value
    path = workdir / name
    path.write_text(dump(tree), encoding="utf-8")
    got = outcome_is_placed(path, _checked(name))
    if isinstance(got, CasesReport):
        found = [m for o in got.outcomes for m in o.mismatches if "批量" in m]
        assert not found, found


# --------------------------------------------------------------------------- every key is known

# mappings whose keys are names of the file's own choosing (block codes), not fields
FREE = {("group", "blocks"), ("group", "parents")}


def _scopes_of_a_measure(parent: tuple[Any, ...]) -> bool:
    """``measures: {id: {东片区: [...]}}``: the keys under a measure are block codes."""
    return (len(parent) == 2 and parent[0] == "measures") or (
        len(parent) == 3 and parent[:2] == ("group", "measures")
    )


def _key_places(name: str) -> list[tuple[tuple[Any, ...], int, int]]:
    """(path, 0-based line, column) of every key of a shipped cases file that names a field, an
    item, a fact or a measure."""
    _, marks = load_yaml(TEXTS[name], name)
    out = []
    for path, src in marks.items():
        if not path or not isinstance(path[-1], tuple) or path[-1][0] != "key":
            continue
        parent = tuple(path[:-1])
        if parent in FREE or _scopes_of_a_measure(parent):
            continue
        out.append((parent, src.line, src.column))
    return out


PLACES = {name: _key_places(name) for name in TEXTS}
KEYS = [(name, k) for name in sorted(TEXTS) for k in range(len(PLACES[name]))]


def _misspelt(key: str) -> str:
    """``legal_area`` -> ``legal_aera``: the last two letters swapped (or an ``x`` added)."""
    return key[:-2] + key[-1] + key[-2] if len(key) > 2 and key[-1] != key[-2] else key + "x"


@_fuzz(30)
@given(choice=st.sampled_from(KEYS))
def test_a_misspelt_key_anywhere_is_reported_on_its_line(workdir: Path, choice: tuple[str, int]) -> None:
    name, k = choice
    _, line, column = PLACES[name][k]
    lines = TEXTS[name].split("\n")
    key = lines[line][column:].split(":", 1)[0].strip()
    lines[line] = lines[line][:column] + _misspelt(key) + lines[line][column + len(key) :]
    path = workdir / name
    path.write_text("\n".join(lines), encoding="utf-8")
    got = outcome_is_placed(path, _checked(name))
    assert isinstance(got, PolicyError), (name, line + 1, key)
    assert any(p.location.line == line + 1 for p in got.problems), (key, [str(p) for p in got.problems])


def test_every_key_of_the_shipped_files_is_checked() -> None:
    """The property above draws from a few hundred keys of every kind (sanity of its sample); the
    shipped files themselves read strictly: test_cases_strict."""
    assert len(KEYS) > 300
    assert len({name for name, _ in KEYS}) == len(TEXTS)
