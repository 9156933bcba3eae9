"""Resident identity numbers (GB 11643-1999): check digit, birth date, gender."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
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


# "YYYYMMDD" -> its date, or None when there is no such day. A census import checks hundreds of
# thousands of numbers whose birth dates repeat (some 37,000 days in a century): each is parsed
# once. Bounded by the number of possible 8-digit strings that reach it (the shape is checked).
_BIRTHS: dict[str, date | None] = {}
_BIRTHS_MAX = 200_000


def _birth(digits: str) -> date | None:
    try:
        return _BIRTHS[digits]
    except KeyError:
        pass
    try:
        born: date | None = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        born = None
    if len(_BIRTHS) < _BIRTHS_MAX:
        _BIRTHS[digits] = born
    return born


# digits -> their weighted sum at a fixed position of the number (see id_number_problem)
_REGION_SUMS: dict[str, int] = {}
_BIRTH_SUMS: dict[str, int] = {}
_SERIAL_SUMS: dict[str, int] = {}


def _part_sum(memo: dict[str, int], digits: str, offset: int) -> int:
    hit = memo.get(digits)
    if hit is None:
        hit = sum(int(c) * w for c, w in zip(digits, _WEIGHTS[offset:], strict=False))
        if len(memo) < _BIRTHS_MAX:
            memo[digits] = hit
    return hit


_today_date = date.min
_today_until = 0.0  # epoch seconds of the next local midnight


def _today() -> date:
    """``date.today()``, re-read only after local midnight (it costs a clock and calendar call)."""
    global _today_date, _today_until
    now = time.time()
    if now >= _today_until:
        _today_date = date.today()
        _today_until = datetime.combine(_today_date + timedelta(days=1), datetime.min.time()).timestamp()
    return _today_date


def id_number_problem(text: str) -> str | None:
    """Chinese reason why ``text`` is not a valid 18-digit identity number, or ``None``."""
    value = normalize_id_number(text)
    if len(value) != 18:
        return f"身份证号应为18位，当前为{len(value)}位"
    if not _SHAPE.match(value):
        return "身份证号格式不正确（前17位须为数字，末位为数字或X）"
    birth = _birth(value[6:14])
    if birth is None:
        return "身份证号中的出生日期无效"
    if birth.year < 1880 or birth > _today():
        return "身份证号中的出生日期不合理"
    # The weighted sum of the first 17 digits is that of the region, birth date and serial parts,
    # each of which repeats across a census: summed once per distinct part.
    total = _part_sum(_REGION_SUMS, value[:6], 0) + _part_sum(_BIRTH_SUMS, value[6:14], 6)
    expected = _CHECK[(total + _part_sum(_SERIAL_SUMS, value[14:17], 14)) % 11]
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
