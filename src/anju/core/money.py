"""Money: integer fen, one rounding function, display and Chinese capital (大写) forms.

Every amount Anju stores is an ``int`` number of fen (分). Policy arithmetic is done in
``Decimal`` yuan or fen and converted to fen exactly once, by :func:`round_to_fen`, with the
rounding mode and unit the compensation plan names.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from enum import StrEnum


class RoundingMode(StrEnum):
    """Rounding modes that occur in real compensation plans."""

    HALF_UP = "half_up"  # 四舍五入
    HALF_DOWN = "half_down"  # 五舍六入
    HALF_EVEN = "half_even"  # 银行家舍入
    DOWN = "down"  # 舍去 (towards zero)
    UP = "up"  # 进一 (away from zero)


class RoundingUnit(StrEnum):
    """The unit a plan rounds its amounts to."""

    FEN = "fen"  # 分, 0.01 元
    JIAO = "jiao"  # 角, 0.1 元
    YUAN = "yuan"  # 元


_DECIMAL_MODES: dict[RoundingMode, str] = {
    RoundingMode.HALF_UP: decimal.ROUND_HALF_UP,
    RoundingMode.HALF_DOWN: decimal.ROUND_HALF_DOWN,
    RoundingMode.HALF_EVEN: decimal.ROUND_HALF_EVEN,
    RoundingMode.DOWN: decimal.ROUND_DOWN,
    RoundingMode.UP: decimal.ROUND_UP,
}

_UNIT_FEN: dict[RoundingUnit, int] = {RoundingUnit.FEN: 1, RoundingUnit.JIAO: 10, RoundingUnit.YUAN: 100}

# Enough precision that no intermediate policy value is ever rounded implicitly.
_CTX = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.InvalidOperation])


def unit_fen(unit: RoundingUnit) -> int:
    """Size of a rounding unit in fen (1, 10 or 100)."""
    return _UNIT_FEN[unit]


def round_to_fen(
    yuan: Decimal | int, mode: RoundingMode = RoundingMode.HALF_UP, unit: RoundingUnit = RoundingUnit.FEN
) -> int:
    """Round an exact yuan amount to whole ``unit`` and return it as integer fen.

    This is the one rounding function of Anju. ``yuan`` must be exact (``Decimal`` or ``int``);
    a ``float`` is refused because it cannot represent most fen amounts.
    """
    if isinstance(yuan, float):
        raise TypeError("money must not be float")
    fen = Decimal(yuan) * 100
    step = _UNIT_FEN[unit]
    units = _CTX.divide(fen, Decimal(step)).quantize(Decimal(1), rounding=_DECIMAL_MODES[mode])
    return int(units) * step


def round_fen(
    fen: Decimal | int, mode: RoundingMode = RoundingMode.HALF_UP, unit: RoundingUnit = RoundingUnit.FEN
) -> int:
    """Round an exact amount given in fen (possibly fractional) to whole ``unit``; returns fen."""
    if isinstance(fen, float):
        raise TypeError("money must not be float")
    return round_to_fen(_CTX.divide(Decimal(fen), Decimal(100)), mode, unit)


def yuan_to_fen(text: str | Decimal | int) -> int:
    """Parse an exact yuan amount (at most 2 decimals) into fen; raises ``ValueError`` otherwise."""
    if isinstance(text, float):
        raise TypeError("money must not be float")
    try:
        value = Decimal(str(text).replace(",", "").strip())
    except decimal.InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not an amount: {text!r}")
    fen = value * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"more than 2 decimals: {text!r}")
    return int(fen)


def fen_to_yuan(fen: int) -> Decimal:
    """Exact yuan value of an integer fen amount."""
    return Decimal(fen).scaleb(-2)


def format_yuan(fen: int) -> str:
    """Show fen as yuan with thousands separators and 2 decimals: ``123456789 -> '1,234,567.89'``."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{part:02d}"


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ["", "拾", "佰", "仟"]
_BIG_UNITS = ["", "万", "亿", "万亿"]


def _four_digits(n: int) -> str:
    """Capital form of 0 < n < 10000, with inner zeros collapsed."""
    out: list[str] = []
    zero = False
    for pos in range(3, -1, -1):
        d = (n // 10**pos) % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(_DIGITS[d] + _SMALL_UNITS[pos])
    return "".join(out)


def to_chinese_capital(fen: int) -> str:
    """Chinese capital amount (大写金额) as printed on agreements: ``123400 -> '壹仟贰佰叁拾肆元整'``."""
    if fen == 0:
        return "零元整"
    prefix = "负" if fen < 0 else ""
    fen = abs(fen)
    yuan, rest = divmod(fen, 100)
    jiao, f = divmod(rest, 10)
    parts: list[str] = []
    if yuan:
        groups = []
        g = 0
        while yuan:
            groups.append((yuan % 10000, g))
            yuan //= 10000
            g += 1
        text = ""
        need_zero = False
        for value, idx in reversed(groups):
            if value == 0:
                need_zero = bool(text)
                continue
            if text and (need_zero or value < 1000):
                text += "零"
            text += _four_digits(value) + _BIG_UNITS[idx]
            need_zero = False
        parts.append(text + "元")
    if jiao:
        parts.append(_DIGITS[jiao] + "角")
    elif f and parts:
        parts.append("零")
    if f:
        parts.append(_DIGITS[f] + "分")
    else:
        parts.append("整")
    return prefix + "".join(parts)
