"""Money: the one rounding function, fen parsing, display, and the Chinese capital form."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anju.core.money import (
    RoundingMode,
    RoundingUnit,
    fen_to_yuan,
    format_yuan,
    round_fen,
    round_to_fen,
    to_chinese_capital,
    unit_fen,
    yuan_to_fen,
)

HU, HD, HE, DN, UP = (
    RoundingMode.HALF_UP,
    RoundingMode.HALF_DOWN,
    RoundingMode.HALF_EVEN,
    RoundingMode.DOWN,
    RoundingMode.UP,
)
FEN, JIAO, YUAN = RoundingUnit.FEN, RoundingUnit.JIAO, RoundingUnit.YUAN

# (yuan, unit, {mode: expected fen}) worked out by hand; ties are exactly .5 of the unit.
ROUNDING_TABLE: list[tuple[str, RoundingUnit, dict[RoundingMode, int]]] = [
    ("1.005", FEN, {HU: 101, HD: 100, HE: 100, DN: 100, UP: 101}),  # 100.5 fen, even below
    ("1.015", FEN, {HU: 102, HD: 101, HE: 102, DN: 101, UP: 102}),  # 101.5 fen, even above
    ("-1.005", FEN, {HU: -101, HD: -100, HE: -100, DN: -100, UP: -101}),  # ties away from / towards zero
    ("1.0051", FEN, {HU: 101, HD: 101, HE: 101, DN: 100, UP: 101}),  # just above the tie
    ("1.0049", FEN, {HU: 100, HD: 100, HE: 100, DN: 100, UP: 101}),  # just below the tie
    ("1.23", FEN, {HU: 123, HD: 123, HE: 123, DN: 123, UP: 123}),  # exact: every mode agrees
    ("1.25", JIAO, {HU: 130, HD: 120, HE: 120, DN: 120, UP: 130}),  # 12.5 jiao
    ("1.35", JIAO, {HU: 140, HD: 130, HE: 140, DN: 130, UP: 140}),  # 13.5 jiao
    ("-1.25", JIAO, {HU: -130, HD: -120, HE: -120, DN: -120, UP: -130}),
    ("1.21", JIAO, {HU: 120, HD: 120, HE: 120, DN: 120, UP: 130}),
    ("1.29", JIAO, {HU: 130, HD: 130, HE: 130, DN: 120, UP: 130}),
    ("2.50", YUAN, {HU: 300, HD: 200, HE: 200, DN: 200, UP: 300}),
    ("3.50", YUAN, {HU: 400, HD: 300, HE: 400, DN: 300, UP: 400}),
    ("-2.50", YUAN, {HU: -300, HD: -200, HE: -200, DN: -200, UP: -300}),
    ("2.01", YUAN, {HU: 200, HD: 200, HE: 200, DN: 200, UP: 300}),
    ("2.99", YUAN, {HU: 300, HD: 300, HE: 300, DN: 200, UP: 300}),
    ("-0.004", FEN, {HU: 0, HD: 0, HE: 0, DN: 0, UP: -1}),
    (
        "123456789.125",
        FEN,
        {HU: 12345678913, HD: 12345678912, HE: 12345678912, DN: 12345678912, UP: 12345678913},
    ),
]


@pytest.mark.parametrize(("yuan", "unit", "expected"), ROUNDING_TABLE, ids=lambda v: str(v))
def test_round_to_fen_table(yuan: str, unit: RoundingUnit, expected: dict[RoundingMode, int]) -> None:
    assert set(expected) == set(RoundingMode)  # every mode is hand-checked for every row
    got = {mode: round_to_fen(Decimal(yuan), mode, unit) for mode in RoundingMode}
    assert got == expected


def test_rounding_defaults_and_ints() -> None:
    assert round_to_fen(Decimal("0.125")) == 13  # default: half up, to the fen
    assert round_to_fen(7) == 700
    assert round_to_fen(-7, DN, YUAN) == -700
    assert unit_fen(FEN) == 1 and unit_fen(JIAO) == 10 and unit_fen(YUAN) == 100


def test_round_fen_takes_fractional_fen() -> None:
    assert round_fen(Decimal("100.5"), HU) == 101
    assert round_fen(Decimal("100.5"), HE) == 100
    assert round_fen(Decimal("125"), HD, JIAO) == 120
    assert round_fen(99, UP, YUAN) == 100


def test_float_is_refused_everywhere() -> None:
    with pytest.raises(TypeError):
        round_to_fen(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        round_fen(150.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        yuan_to_fen(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("1.5", 150),
        ("1,234.50", 123450),
        (" 12.30 ", 1230),
        ("-0.01", -1),
        ("1.230", 123),  # trailing zeros are not extra precision
        (Decimal("7.07"), 707),
        (3, 300),
        ("0", 0),
    ],
)
def test_yuan_to_fen(text: str | Decimal | int, fen: int) -> None:
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize(
    "text", ["1.234", "0.001", "abc", "", "NaN", "Infinity", "-inf", "1.2.3", "1.2300001"]
)
def test_yuan_to_fen_errors(text: str) -> None:
    with pytest.raises(ValueError):
        yuan_to_fen(text)


def test_fen_to_yuan_is_exact() -> None:
    assert fen_to_yuan(123456789) == Decimal("1234567.89")
    assert fen_to_yuan(-5) == Decimal("-0.05")
    assert str(fen_to_yuan(100)) == "1.00"


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "0.00"),
        (1, "0.01"),
        (10, "0.10"),
        (123456789, "1,234,567.89"),
        (100000000, "1,000,000.00"),
        (-5, "-0.05"),
        (-123456, "-1,234.56"),
        (99999, "999.99"),
    ],
)
def test_format_yuan(fen: int, text: str) -> None:
    assert format_yuan(fen) == text


# fen -> capital form, each checked by hand against the rules for 大写金额 on vouchers.
CAPITALS = [
    (0, "零元整"),
    (1, "壹分"),
    (5, "伍分"),
    (10, "壹角整"),
    (50, "伍角整"),
    (100, "壹元整"),
    (101, "壹元零壹分"),
    (110, "壹元壹角整"),
    (111, "壹元壹角壹分"),
    (1000, "壹拾元整"),
    (1500, "壹拾伍元整"),
    (10005, "壹佰元零伍分"),
    (10050, "壹佰元伍角整"),
    (100100, "壹仟零壹元整"),
    (101000, "壹仟零壹拾元整"),
    (123400, "壹仟贰佰叁拾肆元整"),
    (2000500, "贰万零伍元整"),
    (10000100, "壹拾万零壹元整"),
    (12000000, "壹拾贰万元整"),
    (100000000, "壹佰万元整"),
    (123456789, "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"),
    (1000000001, "壹仟万元零壹分"),
    (10000000000, "壹亿元整"),
    (10000010000, "壹亿零壹佰元整"),
    (10050000000, "壹亿零伍拾万元整"),
    (100000000000000, "壹万亿元整"),
    (-12345, "负壹佰贰拾叁元肆角伍分"),
]


@pytest.mark.parametrize(("fen", "text"), CAPITALS)
def test_to_chinese_capital(fen: int, text: str) -> None:
    assert to_chinese_capital(fen) == text


# The tricky amounts of the signing issue (#10), typed as an agreement shows them. Two rules of the
# standard (《会计基础工作规范》第五十二条 and the banks' 《正确填写票据和结算凭证的基本规定》) decide the
# forms: an amount that ends at 元 or 角 is closed with 整 (分 is not), and 拾 at the head of an
# amount keeps its 壹 (壹拾元整, never 拾元整, so that nothing can be written in front of it).
ISSUE_AMOUNTS = [
    ("0.05", "伍分"),
    ("10.00", "壹拾元整"),
    ("100,001.10", "壹拾万零壹元壹角整"),  # one 零 for the empty 千/百/拾 between 万 and 元
    ("1,000,000.00", "壹佰万元整"),
    ("20,304.00", "贰万零叁佰零肆元整"),  # 零 for the empty 千 after 万, and for the empty 拾
    ("99,999,999.99", "玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
]


@pytest.mark.parametrize(("yuan", "text"), ISSUE_AMOUNTS)
def test_capital_form_of_the_issue_amounts(yuan: str, text: str) -> None:
    assert to_chinese_capital(yuan_to_fen(yuan)) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_round_to_fen_of_exact_fen_is_identity(fen: int) -> None:
    yuan = Decimal(fen).scaleb(-2)
    for mode in RoundingMode:
        assert round_to_fen(yuan, mode) == fen


@given(
    st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False, allow_infinity=False),
    st.sampled_from(list(RoundingMode)),
    st.sampled_from(list(RoundingUnit)),
)
def test_rounding_stays_within_one_unit_and_on_the_grid(
    yuan: Decimal, mode: RoundingMode, unit: RoundingUnit
) -> None:
    fen = round_to_fen(yuan, mode, unit)
    step = unit_fen(unit)
    assert fen % step == 0
    exact = yuan * 100
    assert abs(Decimal(fen) - exact) < step
    if mode is RoundingMode.DOWN:
        assert abs(Decimal(fen)) <= abs(exact)
    if mode is RoundingMode.UP:
        assert abs(Decimal(fen)) >= abs(exact)
    if mode in (RoundingMode.HALF_UP, RoundingMode.HALF_DOWN, RoundingMode.HALF_EVEN):
        assert abs(Decimal(fen) - exact) * 2 <= step


@given(st.integers(min_value=0, max_value=10**14))
def test_capital_form_uses_only_capital_characters(fen: int) -> None:
    text = to_chinese_capital(fen)
    assert set(text) <= set("零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整")
    assert text.endswith(("整", "分"))
    assert "零零" not in text
