"""The fast canonical JSON writes byte for byte what the original walk wrote.

The audit chain hashes this text, so a record written before the fast path must still verify:
``old_canonical_json`` below is the original implementation, kept verbatim as the oracle.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum, IntEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anju.audit.rules import canonical_json, to_jsonable


def old_canonical_json(value: Any) -> str:
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def same_as_old(value: Any) -> None:
    try:
        expected = old_canonical_json(value)
    except TypeError:  # e.g. an Enum whose value is a Decimal: refused before, refused now
        with pytest.raises(TypeError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


class Colour(Enum):
    RED = "red"
    NUM = Decimal("1.5")


class Level(IntEnum):
    ONE = 1


class Kind(str, Enum):  # noqa: UP042 - the pre-3.11 spelling, as older code has it
    PERSON = "person"


class Code(str):
    pass


CORPUS: list[Any] = [
    {},
    [],
    None,
    True,
    0,
    "",
    "张三",
    Decimal("1.50"),
    date(2025, 1, 2),
    {"b": 1, "a": "张", "c": [Decimal("1.0"), None]},
    # a census import snapshot
    {
        "code": [None, "B000123"],
        "head_name": [None, "王建国"],
        "address": [None, "李家村一组12号"],
        "status": [None, "surveyed"],
        "sign_on": [None, "2025-03-01"],
        "block_id": [None, 7],
        "members": [None, "王建国（户主，110***********002X，低保，计入安置人口）；李芳（配偶，…）"],
    },
    # a field diff with every kind of value
    {
        "legal_area": [Decimal("88.50"), Decimal("90.00")],
        "valued_on": [date(2024, 12, 31), None],
        "updated_at": [datetime(2025, 6, 1, 8, 30), datetime(2025, 6, 1, 8, 31, 5, 123456)],
        "aware": [
            datetime(2025, 6, 1, 8, 30, tzinfo=UTC),
            datetime(2025, 6, 1, tzinfo=timezone(timedelta(hours=8))),
        ],
        "dibao": [False, True],
        "disability_grade": [None, 2],
        "remark": ["", '备注：含"引号"、\\反斜杠、\n换行和\t制表符 ☃ 𠀀'],
        "nested": {"z": [{"y": Decimal("-0.00"), "x": (1, "二", None)}], "a": {}},
        "big": 10**30,
        "negative": -5,
    },
    {"order": ["b", "a"], "b": {"z": 1, "a": 2, "m": {"k": [[], [[]], {}]}}},
    # values the old walk turns into text or normalises: these take the slow path
    {"enum": Colour.RED, "int_enum": Level.ONE, "str_enum": Kind.PERSON},
    {"enum_decimal": Colour.NUM},
    {"float": 1.5, "whole_float": 2.0, "list": [0.1, 3]},
    {1: "int key", 10: "sorts as text", 9: "after 10"},
    {"set": {1}, "bytes": b"x", "frozen": frozenset()},
    {"subclass": Code("B1"), Code("key"): 1},
    {True: 1, None: 2},
    [Decimal("1E+2"), Decimal("0.1"), Decimal("NaN")],
    ("tuple", ("inner",)),
]


@pytest.mark.parametrize("value", CORPUS, ids=range(len(CORPUS)))
def test_same_text_as_the_original(value: Any) -> None:
    same_as_old(value)


def test_known_text() -> None:
    value = {"b": [Decimal("1.0"), date(2025, 1, 2)], "a": "张", "c": {"y": None, "x": True}}
    assert canonical_json(value) == '{"a":"张","b":["1.0","2025-01-02"],"c":{"x":true,"y":null}}'


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.decimals(allow_nan=False, places=2)
    | st.dates()
    | st.datetimes()
    | st.floats(allow_nan=False)
    | st.sampled_from([Colour.RED, Colour.NUM, Level.ONE, Kind.PERSON])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
        | st.dictionaries(st.integers(-20, 20), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(values)
def test_same_text_as_the_original_for_any_value(value: Any) -> None:
    same_as_old(value)
