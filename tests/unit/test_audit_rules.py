"""Field diffs, canonical JSON and the chain hash of the audit log."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from anju.audit.rules import GENESIS_HASH, canonical_json, chain_hash, field_diff, to_jsonable


class Colour(Enum):
    RED = "red"


def test_field_diff() -> None:
    before = {"phone": "13800000000", "area": Decimal("88.50"), "on": date(2025, 1, 1), "same": 1, "gone": "x"}
    after = {"phone": "13912340000", "area": Decimal("88.50"), "on": date(2025, 1, 2), "same": 1, "new": True}
    assert field_diff(before, after) == {
        "gone": ["x", None],
        "new": [None, True],
        "on": ["2025-01-01", "2025-01-02"],
        "phone": ["13800000000", "13912340000"],
    }
    assert list(field_diff(before, after)) == ["gone", "new", "on", "phone"]  # sorted: stable records


def test_field_diff_of_equal_snapshots_is_empty() -> None:
    snap = {"a": Decimal("1.20"), "b": None, "c": [1, 2], "d": Colour.RED}
    assert field_diff(snap, dict(snap)) == {}
    assert field_diff({}, {}) == {}


def test_none_and_empty_text_differ() -> None:
    assert field_diff({"remark": None}, {"remark": ""}) == {"remark": [None, ""]}


def test_to_jsonable() -> None:
    assert to_jsonable(Decimal("1.50")) == "1.50"
    assert to_jsonable(datetime(2025, 1, 2, 3, 4, 5)) == "2025-01-02T03:04:05"
    assert to_jsonable(Colour.RED) == "red"
    assert to_jsonable((1, Decimal("2"))) == [1, "2"]
    assert to_jsonable({1: {"x": date(2025, 5, 1)}}) == {"1": {"x": "2025-05-01"}}
    assert to_jsonable(b"x") == "b'x'"


def test_canonical_json() -> None:
    assert canonical_json({"b": 1, "a": "张", "c": [Decimal("1.0"), None]}) == '{"a":"张","b":1,"c":["1.0",null]}'


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=6), json_values, max_size=6))
def test_canonical_json_ignores_key_order_and_round_trips(value: dict[str, Any]) -> None:
    reordered = dict(reversed(list(value.items())))
    assert canonical_json(reordered) == canonical_json(value)
    assert json.loads(canonical_json(value)) == value


AT = datetime(2025, 6, 1, 8, 30, 0)
RECORD: dict[str, Any] = {
    "seq": 7,
    "at": AT,
    "actor_id": 3,
    "actor_name": "case_officer",
    "action": "update",
    "entity": "member",
    "entity_id": "12",
    "project_id": 1,
    "household_id": 4,
    "changes": '{"phone":["13800000000","13912340000"]}',
    "reason": "户主更换手机",
    "prev_hash": "ab" * 32,
}


def test_chain_hash_is_sha256_over_the_columns() -> None:
    parts = ["7", "2025-06-01T08:30:00", "3", "case_officer", "update", "member", "12", "1", "4",
             RECORD["changes"], "户主更换手机", "ab" * 32]
    assert chain_hash(**RECORD) == hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    none_ids = {**RECORD, "actor_id": None, "project_id": None, "household_id": None}
    parts[2] = parts[7] = parts[8] = ""
    assert chain_hash(**none_ids) == hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    assert len(GENESIS_HASH) == 64 and set(GENESIS_HASH) == {"0"}


def test_chain_hash_ignores_what_the_database_does_not_keep() -> None:
    # Stored timestamps lose microseconds and, on some backends, the time zone.
    same = {**RECORD, "at": AT.replace(microsecond=123456, tzinfo=UTC)}
    assert chain_hash(**same) == chain_hash(**RECORD)


_changed_values: dict[str, st.SearchStrategy[Any]] = {
    "seq": st.integers(min_value=1, max_value=10**9),
    "at": st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
        lambda d: d.replace(microsecond=0)
    ),
    "actor_id": st.none() | st.integers(min_value=0, max_value=10**6),
    "actor_name": st.text(max_size=12),
    "action": st.text(max_size=12),
    "entity": st.text(max_size=12),
    "entity_id": st.text(max_size=12),
    "project_id": st.none() | st.integers(min_value=0, max_value=10**6),
    "household_id": st.none() | st.integers(min_value=0, max_value=10**6),
    "changes": st.text(max_size=40),
    "reason": st.text(max_size=40),
    "prev_hash": st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
}


@given(st.data())
def test_changing_any_field_changes_the_hash(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(_changed_values)))
    value = data.draw(_changed_values[name].filter(lambda v: v != RECORD[name]))
    assert chain_hash(**{**RECORD, name: value}) != chain_hash(**RECORD)
