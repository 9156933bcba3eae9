"""Column-wise cleaning gives exactly what rules.clean gives cell by cell: values, errors, order."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anju.core.ids import make_id_number
from anju.household import column_cleaning, rules
from anju.household.column_cleaning import ColumnCleaner

ID1 = make_id_number("330102", date(1970, 3, 4), 11)

# Cell values as a spreadsheet or in-memory rows give them: good, bad, blank, and values that are
# equal as dict keys but of different types (1, 1.0, True, Decimal("1")).
CELLS: list[Any] = [
    None,
    "",
    "  ",
    "是",
    "否",
    "也许",
    1,
    1.0,
    True,
    False,
    0,
    0.0,
    Decimal("1"),
    Decimal("1.00"),
    "1",
    2.5,
    "88.50",
    88.555,
    "2级",
    "七级",
    3.0,
    "砖混",
    "brick_wood",
    "住宅",
    "营业",
    "草房",
    "待定",
    "违建",
    "1990",
    1800,
    2200.0,
    "2024-05-01",
    date(2024, 5, 1),
    datetime(2024, 5, 1, 8, 30),
    "20240501",
    "2024-13-01",
    "户主",
    "表哥",
    "张三",
    "x" * 300,
    ID1,
    ID1.lower()[:-1] + "x",
    "330102197003041234",
    "123",
    float(ID1[:15]),
    "13812345678",
    "12345",
    "H-01",
    "H 01",
    float("nan"),
]

SHEETS = [
    rules.MEMBER_FIELDS,
    rules.BUILDING_FIELDS,
    rules.HOUSEHOLD_FIELDS,
    rules.TENANT_FIELDS,
    rules.VALUATION_FIELDS,
    rules.HOMESTEAD_FIELDS,
]


def per_cell(fields: tuple[rules.Field, ...], rows: list[tuple[Any, ...]]) -> list[Any]:
    return [rules.clean(fields, dict(zip([f.name for f in fields], row, strict=True))) for row in rows]


@settings(max_examples=400, deadline=None)
@given(
    sheet=st.sampled_from(SHEETS),
    data=st.data(),
    chunk=st.sampled_from([1, 3, 1000]),
)
def test_columns_match_rules_clean_cell_by_cell(sheet: Any, data: Any, chunk: int) -> None:
    cell = st.sampled_from(CELLS)
    rows = data.draw(st.lists(st.tuples(*[cell for _ in sheet]), min_size=0, max_size=12))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(column_cleaning, "CHUNK", chunk)
        got = list(ColumnCleaner(sheet).clean(rows))
    assert [(out, errors or []) for out, errors in got] == per_cell(sheet, rows)


def test_equal_keys_of_different_types_are_judged_apart() -> None:
    """1, 1.0, True and Decimal("1") hash alike; each keeps its own verdict."""
    fields = (rules.Field("floors", "层数", rules.parse_int, check=rules._range(1, 60, "层")),)
    rows: list[tuple[Any, ...]] = [(1,), (True,), (1.0,), (Decimal("1.5"),), (Decimal("1"),), (1,)]
    assert [(out, errors or []) for out, errors in ColumnCleaner(fields).clean(rows)] == per_cell(
        fields, rows
    )


def test_a_replaced_judge_and_the_memo_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(column_cleaning, "CHUNK", 2)
    calls: list[Any] = []

    def judge(value: Any) -> tuple[bool, Any]:
        calls.append(value)
        return (False, "不要数字") if isinstance(value, float) else (True, str(value))

    fields = (rules.Field("id_number", "身份证号", str, required=True),)
    cleaner = ColumnCleaner(fields, {"id_number": judge})
    rows: list[tuple[Any, ...]] = [("a",), (1.5,), ("a",), (1.5,), ("b",)]
    got = list(cleaner.clean(rows))
    bad = [rules.FieldError("id_number", "身份证号", "不要数字")]
    assert got == [
        ({"id_number": "a"}, None),
        ({}, bad),
        ({"id_number": "a"}, None),
        ({}, bad),
        ({"id_number": "b"}, None),
    ]
    assert calls == ["a", 1.5, "b"]  # each distinct value judged once over all chunks


def test_unhashable_cells_are_judged_one_by_one() -> None:
    fields = (rules.Field("remark", "备注", rules._text_max(10)),)
    rows: list[tuple[Any, ...]] = [(["a"],), ("b",)]
    assert [(out, errors or []) for out, errors in ColumnCleaner(fields).clean(rows)] == per_cell(
        fields, rows
    )
