"""Units of measure for policy quantities and the unit algebra the checker uses.

A unit is a product of base units with integer exponents: 元 (yuan), ㎡, 人 (person), 月 (month),
日 (day), 户 (household), 证 (certificate). ``%`` is dimensionless (``10%`` is the number 0.10).
"""

from __future__ import annotations

from dataclasses import dataclass

BASES: tuple[str, ...] = ("元", "㎡", "人", "月", "日", "户", "证")

# ASCII and alternative spellings accepted in unit strings.
SYNONYMS: dict[str, str] = {
    "yuan": "元",
    "m2": "㎡",
    "m²": "㎡",
    "平方米": "㎡",
    "person": "人",
    "persons": "人",
    "month": "月",
    "months": "月",
    "day": "日",
    "days": "日",
    "天": "日",
    "household": "户",
    "households": "户",
    "cert": "证",
    "certificate": "证",
    "本": "证",
}


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit as exponents over :data:`BASES` (all zero = dimensionless)."""

    exps: tuple[int, ...] = (0,) * len(BASES)

    def __mul__(self, other: Unit) -> Unit:
        return Unit(tuple(a + b for a, b in zip(self.exps, other.exps, strict=True)))

    def __truediv__(self, other: Unit) -> Unit:
        return Unit(tuple(a - b for a, b in zip(self.exps, other.exps, strict=True)))

    @property
    def dimensionless(self) -> bool:
        """True for pure numbers (including percentages)."""
        return not any(self.exps)

    def __str__(self) -> str:
        num = [(b, e) for b, e in zip(BASES, self.exps, strict=True) if e > 0]
        den = [(b, -e) for b, e in zip(BASES, self.exps, strict=True) if e < 0]
        if not num and not den:
            return "1"

        def part(b: str, e: int) -> str:
            return b if e == 1 else f"{b}^{e}"

        text = "·".join(part(b, e) for b, e in num) or "1"
        for b, e in den:
            text += "/" + part(b, e)
        return text


ONE = Unit()


def base(symbol: str) -> Unit:
    """The unit of one base symbol."""
    i = BASES.index(symbol)
    return Unit(tuple(1 if j == i else 0 for j in range(len(BASES))))


YUAN = base("元")
M2 = base("㎡")
PERSON = base("人")
MONTH = base("月")
DAY = base("日")
HOUSEHOLD = base("户")
CERT = base("证")


class UnitSyntaxError(ValueError):
    """A unit string could not be read."""


def parse_unit(text: str | None) -> tuple[Unit, bool]:
    """Parse ``'元/㎡/月'``, ``'yuan/m2'``, ``'%'``, ``'1'`` or ``''``.

    Returns the unit and whether it was written as a percentage (values then mean hundredths).
    """
    if text is None:
        return ONE, False
    t = str(text).strip()
    if t in ("", "1", "-"):
        return ONE, False
    if t == "%":
        return ONE, True
    parts = t.replace("·", "*").split("/")
    unit = ONE
    for i, part in enumerate(parts):
        factors = [f.strip() for f in part.split("*")]
        for f in factors:
            if f in ("", "1") and (i == 0 or f == "1"):
                continue
            sym = SYNONYMS.get(f, f)
            if sym not in BASES:
                raise UnitSyntaxError(f)
            unit = unit * base(sym) if i == 0 else unit / base(sym)
    return unit, False


def money_compatible(unit: Unit, per: str) -> bool:
    """Whether ``unit`` is an amount of money for an item computed per household or certificate.

    元 always is; 元/户 is for household items and 元/证 for certificate items, because the
    item is evaluated once per household (certificate).
    """
    if unit == YUAN:
        return True
    if per == "household":
        return unit == YUAN / HOUSEHOLD
    return unit == YUAN / CERT
