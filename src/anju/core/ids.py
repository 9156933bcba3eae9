"""Resident identity numbers (GB 11643-1999): check digit, birth date, gender."""

from __future__ import annotations

import re
from datetime import date
from operator import mul

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^[1-9]\d{16}[\dX]$")
_ASCII_ZERO_WEIGHT = ord("0") * sum(_WEIGHTS)  # what the weighted sum of character codes adds


def normalize_id_number(text: str) -> str:
    """Strip spaces and upper-case a trailing x."""
    return text.strip().replace(" ", "").upper()


def check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    if len(first17) == 17 and first17.isascii() and first17.isdigit():
        # The weighted sum of the ASCII codes less that of "0"s: no int() per digit (a census
        # import checks hundreds of thousands of numbers).
        return _CHECK[(sum(map(mul, first17.encode(), _WEIGHTS)) - _ASCII_ZERO_WEIGHT) % 11]
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def id_number_problem(text: str) -> str | None:
    """Chinese reason why ``text`` is not a valid 18-digit identity number, or ``None``."""
    value = normalize_id_number(text)
    if len(value) != 18:
        return f"身份证号应为18位，当前为{len(value)}位"
    if not _SHAPE.match(value):
        return "身份证号格式不正确（前17位须为数字，末位为数字或X）"
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return "身份证号中的出生日期无效"
    if birth.year < 1880 or birth > date.today():
        return "身份证号中的出生日期不合理"
    expected = check_digit(value[:17])
    if expected != value[17]:
        return f"身份证号校验位错误（应为{expected}）"
    return None


def is_valid_id_number(text: str) -> bool:
    """Whether ``text`` is a valid GB 11643 identity number."""
    return id_number_problem(text) is None


def birth_date(value: str) -> date:
    """Birth date encoded in a valid identity number."""
    v = normalize_id_number(value)
    return date(int(v[6:10]), int(v[10:12]), int(v[12:14]))


def gender(value: str) -> str:
    """``男`` or ``女`` from the 17th digit of a valid identity number."""
    return "男" if int(normalize_id_number(value)[16]) % 2 else "女"


def make_id_number(region: str, born: date, serial: int) -> str:
    """Build a valid identity number (demo and test data only): 6-digit region, birth date, 3-digit serial."""
    first17 = f"{region}{born:%Y%m%d}{serial % 1000:03d}"
    return first17 + check_digit(first17)
