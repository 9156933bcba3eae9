"""Policy document part: the reader's state, its problems, and plain values (mappings, lists,
numbers, dates, units, formulas)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from anju.core.dates import DayWindow
from anju.policy.errors import Problem
from anju.policy.expr import SyntaxProblem, parse
from anju.policy.model.definitions import (
    MAX_NUMBER,
    MAX_PLACES,
    Clock,
    Formula,
    Item,
    Meta,
    Param,
    Subtotal,
    Tier,
)
from anju.policy.suggest import did_you_mean
from anju.policy.units import ONE, Unit, UnitSyntaxError, parse_unit
from anju.policy.yaml_source import Src


class _ReaderBase:
    """The reader's state and how it reads plain values (mappings, lists, numbers, dates, units, formulas)."""

    def __init__(self, data: Any, marks: dict[tuple[Any, ...], Src], file: str) -> None:
        self.data = data
        self.marks = marks
        self.file = file
        self.problems: list[Problem] = []

    def src(self, path: tuple[Any, ...]) -> Src:
        while path and path not in self.marks:
            path = path[:-1]
        return self.marks.get(path, Src(self.file, 0, 0, None))

    def err(self, path: tuple[Any, ...], code: str, zh: str, en: str) -> None:
        self.problems.append(Problem(code, zh, en, self.src(path).location()))

    def key_err(self, path: tuple[Any, ...], key: Any, code: str, zh: str, en: str) -> None:
        src = self.marks.get((*path, ("key", key))) or self.src(path)
        self.problems.append(Problem(code, zh, en, src.location()))

    def mapping(self, value: Any, path: tuple[Any, ...], what: str) -> dict[Any, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.err(path, "type", f"{what}应为映射（键: 值）", f"{what} must be a mapping")
            return {}
        return value

    def unknown_keys(self, d: dict[Any, Any], allowed: set[str], path: tuple[Any, ...]) -> None:
        for k in d:
            if k not in allowed:
                zh, en = did_you_mean(str(k), allowed)
                self.key_err(
                    path,
                    k,
                    "unknown-key",
                    f"不认识的字段“{k}”{zh}",
                    f"unknown field '{k}'{en} (allowed: {', '.join(sorted(allowed))})",
                )

    def seq(self, value: Any, path: tuple[Any, ...], what: str) -> list[Any]:
        """A list as written (``None``: empty); anything else is reported and read as empty."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.err(path, "type", f"{what}应为列表（每项以 - 开头）", f"{what} must be a list")
            return []
        return value

    def whole(self, value: Any, path: tuple[Any, ...], what: str) -> int | None:
        """A whole number (``None`` stays ``None``); anything else is reported and read as ``None``."""
        if value is None:
            return None
        if isinstance(value, int | Decimal) and not isinstance(value, bool) and value == int(value):
            return int(value)
        self.err(
            path, "number", f"{what}应为整数，却是“{value}”", f"{what} must be a whole number, got '{value}'"
        )
        return None

    def decimal(self, value: Any, path: tuple[Any, ...], what: str) -> Decimal | None:
        out = self._decimal(value, path, what)
        if out is not None and (abs(out) >= MAX_NUMBER or out != round(out, MAX_PLACES)):
            # far beyond any amount, area or rate of a real plan; exact arithmetic on it would overflow
            self.err(
                path,
                "number",
                f"{what}超出范围（绝对值应小于 10^15，最多 {MAX_PLACES} 位小数）",
                f"{what} is out of range (below 10^15, at most {MAX_PLACES} decimal places)",
            )
            return None
        return out

    def _decimal(self, value: Any, path: tuple[Any, ...], what: str) -> Decimal | None:
        if isinstance(value, bool) or value is None:
            self.err(path, "number", f"{what}应为数值", f"{what} must be a number")
            return None
        if isinstance(value, int | Decimal) and Decimal(value).is_finite():
            return Decimal(value)
        try:
            if isinstance(value, dict | list | date):
                raise ArithmeticError
            out = Decimal(str(value).replace(",", "").strip())
            if not out.is_finite():
                raise ArithmeticError
            return out
        except ArithmeticError:
            shown = _shown(value)
            self.err(
                path, "number", f"{what}应为数值，却是“{shown}”", f"{what} must be a number, got '{shown}'"
            )
            return None

    def a_date(self, value: Any, path: tuple[Any, ...], what: str) -> date | None:
        if isinstance(value, datetime):  # a time of day would fail every comparison with a date
            self.err(
                path,
                "date",
                f"{what}应为日期（YYYY-MM-DD），不带时间",
                f"{what} must be a date without a time",
            )
            return None
        if isinstance(value, date):
            return value
        try:
            if not isinstance(value, str | int):
                raise ValueError
            return date.fromisoformat(str(value).strip())
        except ValueError:
            self.err(path, "date", f"{what}应为日期（YYYY-MM-DD）", f"{what} must be a date (YYYY-MM-DD)")
            return None

    def unit(self, value: Any, path: tuple[Any, ...]) -> tuple[Unit, str, bool]:
        text = "" if value is None else str(value)
        try:
            unit, pct = parse_unit(text)
        except UnitSyntaxError as exc:
            self.err(path, "unit", f"不认识的单位“{exc}”", f"unknown unit '{exc}'")
            return ONE, text, False
        return unit, text, pct

    def formula(self, value: Any, path: tuple[Any, ...]) -> Formula | None:
        if value is None:
            return None
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        f = Formula(text, self.src(path))
        try:
            f.node = parse(text)
        except SyntaxProblem as exc:
            self.problems.append(Problem("syntax", exc.message_zh, exc.message_en, f.location(exc.offset)))
        return f

    if TYPE_CHECKING:
        # Implemented by the other parts of the class (see the final class's bases).

        def read_subtotals(self, raw: Any) -> list[Subtotal]: ...

        def read_param(self, name: str, spec: Any, path: tuple[Any, ...]) -> Param | None: ...

        def read_clock(self, name: str, spec: Any, path: tuple[Any, ...]) -> Clock | None: ...

        def read_tier(self, name: str, spec: Any, path: tuple[Any, ...]) -> Tier | None: ...

        def read_item(
            self, spec: Any, path: tuple[Any, ...], meta: Meta, all_options: tuple[str, ...]
        ) -> Item | None: ...


# ----------------------------------------------------------------------------- reading

_TOP_KEYS = {
    "policy",
    "parameters",
    "clocks",
    "tiers",
    "derived",
    "options",
    "items",
    "swap_settlement",
    "transition",
    "facts",
    "measures",
    "subtotals",
}


def _looks_numeric(v: Any) -> bool:
    try:
        Decimal(str(v))
    except ArithmeticError:
        return False
    return True


def _shown(v: Any) -> str:
    """A value as a message shows it: short, whatever it is."""
    text = str(v)
    return text if len(text) <= 40 else text[:39] + "…"


def _window_label(w: DayWindow) -> str:
    if w.after is None and w.upto is None:
        return "任何时间 any day"
    if w.after is None:
        return f"第{w.upto}日以内（含） within day {w.upto}"
    if w.upto is None:
        return f"超过第{w.after}日 beyond day {w.after}"
    return f"超过第{w.after}日、不超过第{w.upto}日 beyond day {w.after}, up to day {w.upto}"
