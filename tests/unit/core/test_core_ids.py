"""GB 11643 identity numbers: check digit, dates, normalisation; masking of personal data."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anju.core.ids import (
    birth_date,
    check_digit,
    gender,
    id_number_problem,
    is_valid_id_number,
    make_id_number,
    normalize_id_number,
)
from anju.core.masking import mask_id_number, mask_name, mask_phone

# Worked by hand: digits of 11010519491231002 times the weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
# sum to 167; 167 mod 11 = 2, and position 2 of "10X98765432" is X.
KNOWN_X = "11010519491231002X"


def test_hand_checked_check_digits() -> None:
    assert check_digit(KNOWN_X[:17]) == "X"
    assert check_digit("44052418800101001") == "4"
    # 33010219800517001: 3*7+3*9+0+1*5+0+2*4+1*2+9*1+8*6+0+0+5*9+1*10+7*5+0+0+1*2 = 212; 212 mod 11 = 3 -> "9"
    assert check_digit("33010219800517001") == "9"
    assert make_id_number("330102", date(1980, 5, 17), 1) == "330102198005170019"


@pytest.mark.parametrize(
    "value", [KNOWN_X, "440524188001010014", "330102198005170019", " 11010519491231002x "]
)
def test_valid_numbers(value: str) -> None:
    assert id_number_problem(value) is None
    assert is_valid_id_number(value)


def test_lowercase_x_is_normalised() -> None:
    assert normalize_id_number(" 110105 19491231002x") == KNOWN_X
    assert birth_date("11010519491231002x") == date(1949, 12, 31)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("11010519491231002", "身份证号应为18位，当前为17位"),
        ("11010519491231002XX", "身份证号应为18位，当前为19位"),
        ("", "身份证号应为18位，当前为0位"),
        ("01010519491231002X", "身份证号格式不正确（前17位须为数字，末位为数字或X）"),
        ("1101051949123100AX", "身份证号格式不正确（前17位须为数字，末位为数字或X）"),
        ("11010519490230002X", "身份证号中的出生日期无效"),  # 30 February
        ("11010519491331002X", "身份证号中的出生日期无效"),  # month 13
        ("11010518701231002X", "身份证号中的出生日期不合理"),  # before 1880
        ("11010529991231002X", "身份证号中的出生日期不合理"),  # in the future
        ("110105194912310021", "身份证号校验位错误（应为X）"),
        ("330102198005170010", "身份证号校验位错误（应为9）"),
    ],
)
def test_problems_are_named_in_chinese(value: str, message: str) -> None:
    assert id_number_problem(value) == message
    assert not is_valid_id_number(value)


def test_birth_date_and_gender() -> None:
    assert birth_date("330102198005170019") == date(1980, 5, 17)
    assert gender("330102198005170019") == "男"  # 17th digit 1 is odd
    assert gender(make_id_number("330102", date(1990, 1, 1), 2)) == "女"


regions = st.integers(min_value=110000, max_value=659999).map(str)
births = st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31))
serials = st.integers(min_value=0, max_value=999)


@given(regions, births, serials)
def test_make_id_number_is_always_valid(region: str, born: date, serial: int) -> None:
    value = make_id_number(region, born, serial)
    assert is_valid_id_number(value)
    assert birth_date(value) == born


@given(
    regions, births, serials, st.integers(min_value=0, max_value=17), st.integers(min_value=1, max_value=10)
)
def test_changing_any_one_character_invalidates(
    region: str, born: date, serial: int, pos: int, shift: int
) -> None:
    value = make_id_number(region, born, serial)
    alphabet = "0123456789X" if pos == 17 else "0123456789"
    current = alphabet.index(value[pos])
    replacement = alphabet[(current + shift) % len(alphabet)]
    if replacement == value[pos]:
        return  # shift of a full cycle on the 10-digit alphabet
    changed = value[:pos] + replacement + value[pos + 1 :]
    assert not is_valid_id_number(changed)


def test_masking() -> None:
    assert mask_id_number("330102199001011234") == "330102********1234"
    assert mask_id_number(KNOWN_X) == "110105********002X"
    assert mask_id_number("123456789") == "*********"  # too short to keep anything
    assert mask_id_number("") == ""
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("0571-8888888") == "057*****8888"
    assert mask_phone("123456") == "123456"
    assert mask_name("张三丰") == "张**"
    assert mask_name("李") == "李"
    assert mask_name("") == ""


_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_check_digit_is_the_weighted_sum_mod_11(first17: str) -> None:
    assert (
        check_digit(first17) == "10X98765432"[sum(int(c) * w for c, w in zip(first17, _W, strict=True)) % 11]
    )


def test_check_digit_of_non_ascii_digits_counts_their_values() -> None:
    """Full-width or other Unicode digits take the int() path, not the ASCII shortcut."""
    assert check_digit("３３０１０２１９７００３０４０１１") == check_digit("33010219700304011")


@given(st.text(alphabet="0123456789X ", min_size=16, max_size=19))
def test_problem_check_agrees_with_the_plain_definition(value: str) -> None:
    """The memoised parts give the same verdict as computing the number afresh."""
    v = value.strip().replace(" ", "").upper()
    expected: str | None = None
    if len(v) != 18:
        expected = "len"
    elif not (v[:17].isdigit() and v[0] != "0" and (v[17].isdigit() or v[17] == "X")):
        expected = "shape"
    else:
        try:
            born = date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
        except ValueError:
            expected = "birth"
        else:
            if born.year < 1880 or born > date.today():
                expected = "range"
            elif (
                "10X98765432"[
                    sum(
                        int(c) * w
                        for c, w in zip(
                            v[:17], (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), strict=True
                        )
                    )
                    % 11
                ]
                != v[17]
            ):
                expected = "check"
    problem = id_number_problem(value)
    assert (problem is None) == (expected is None), (value, problem, expected)
