"""Cases part: the reader of a cases file's plain values (text, areas, money, whole numbers, dates,
yes/no, categories), each mistake a problem with its file, line and column and the field it is in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from anju.policy.facts import LABELS_ZH, canonical
from anju.policy.model.base import _ReaderBase
from anju.policy.suggest import did_you_mean
from anju.policy.yaml_source import Src

# Far beyond any household: a wrong unit or a slipped key, not a fact (and exact arithmetic on
# such numbers would leave the int64 range of the bulk evaluator).
MAX_AREA = Decimal(10) ** 7  # ㎡
MAX_YUAN = Decimal(10) ** 11  # 元
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YES = ("1", "true", "yes", "y", "是", "有")
_NO = ("0", "false", "no", "n", "否", "无")


def shown(value: Any) -> str:
    """A value as a message quotes it (short)."""
    if isinstance(value, dict):
        return "{…}"
    if isinstance(value, list):
        return "[…]"
    if value is None:
        return "空"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text if len(text) <= 40 else text[:40] + "…"


def where(path: tuple[Any, ...]) -> str:
    """The field a path names, as people read it: ``第 2 个用例 household.buildings[1].legal_area``."""
    out = ""
    head = ""
    rest = path
    if len(path) >= 2 and path[0] == "cases" and isinstance(path[1], int):
        head = f"第 {path[1] + 1} 个用例"
        rest = path[2:]
    for k in rest:
        out += f"[{k + 1}]" if isinstance(k, int) else (f".{k}" if out else str(k))
    return f"{head} {out}".strip() if head else out or "文件"


@dataclass(frozen=True, slots=True)
class Ref:
    """A name in a cases file that only the policy can tell right or wrong (an option, an expected
    item, a declared fact and its value, a rule, a measure), with the path it was written at."""

    kind: str
    name: str
    path: tuple[Any, ...]
    value: Any = None


def where_en(path: tuple[Any, ...]) -> str:
    """The field a path names, in English: ``case 2: household.buildings[1].legal_area``."""
    if len(path) >= 2 and path[0] == "cases" and isinstance(path[1], int):
        rest = where(("", *path[2:])).lstrip(".") if len(path) > 2 else ""
        return f"case {path[1] + 1}: {rest}" if rest else f"case {path[1] + 1}"
    return where(path) if path else "the file"


class _ValueReader(_ReaderBase):
    """Plain values of a cases file; each reader returns ``None`` after reporting a problem, and
    notes the names only the policy can check in ``refs``."""

    def __init__(self, data: Any, marks: dict[tuple[Any, ...], Src], file: str) -> None:
        super().__init__(data, marks, file)
        self.refs: list[Ref] = []

    def fields(self, value: Any, path: tuple[Any, ...], allowed: set[str]) -> dict[Any, Any] | None:
        """A mapping whose keys are all in ``allowed`` (unknown keys reported with a did-you-mean)."""
        if not isinstance(value, dict):
            self.err(
                path,
                "type",
                f"{where(path)} 应为映射（键: 值），却是“{shown(value)}”",
                f"{where_en(path)} must be a mapping",
            )
            return None
        self.unknown_keys(value, allowed, path)
        return value

    def named(self, value: Any, path: tuple[Any, ...]) -> dict[Any, Any]:
        """A mapping whose keys are names of the file's own (items, block codes, measures): ``None``
        is empty; anything else is reported and read as empty."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.err(
                path,
                "type",
                f"{where(path)} 应为映射（名称: 值），却是“{shown(value)}”",
                f"{where_en(path)} must be a mapping (name: value)",
            )
            return {}
        return value

    def items_of(self, value: Any, path: tuple[Any, ...]) -> list[Any] | None:
        """A list (``None``: empty)."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.err(
                path,
                "type",
                f"{where(path)} 应为列表（每项以 - 开头），却是“{shown(value)}”",
                f"{where_en(path)} must be a list",
            )
            return None
        return value

    def text(self, value: Any, path: tuple[Any, ...], *, required: bool = False) -> str | None:
        """A name, code or label: text or a number; ``None`` when missing (reported if required)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.err(path, "missing", f"{where(path)} 不能为空", f"{where_en(path)} is required")
            return None
        if isinstance(value, bool | dict | list):
            self.err(
                path,
                "type",
                f"{where(path)} 应为文字，却是“{shown(value)}”（yes/no/on/off 这类词请加引号）",
                f"{where_en(path)} must be text, got '{shown(value)}' (quote words like yes/no)",
            )
            return None
        if isinstance(value, date):
            return value.isoformat()
        return str(value).strip()

    def names(self, value: Any, path: tuple[Any, ...]) -> list[str] | None:
        """A list of names (ids of items, rules or facts)."""
        raw = self.items_of(value, path)
        if raw is None:
            return None
        out = [self.text(v, (*path, i), required=True) for i, v in enumerate(raw)]
        return None if any(x is None for x in out) else [x for x in out if x is not None]

    def number(
        self,
        value: Any,
        path: tuple[Any, ...],
        *,
        places: int,
        limit: Decimal,
        negative: bool = False,
        what_zh: str = "数值",
    ) -> Decimal | None:
        """An exact number with at most ``places`` decimals, below ``limit`` in absolute value."""
        if isinstance(value, bool | dict | list | date):
            self._not_number(value, path, what_zh)
            return None
        try:
            d = value if isinstance(value, Decimal) else Decimal(str(value).replace(",", "").strip())
        except (InvalidOperation, ValueError):
            self._not_number(value, path, what_zh)
            return None
        if not d.is_finite():
            self._not_number(value, path, what_zh)
            return None
        if abs(d) >= limit:
            self.err(
                path,
                "number",
                f"{where(path)} 过大：“{shown(value)}”（应小于 {limit:,.0f}）",
                f"{where_en(path)} is too large: '{shown(value)}'",
            )
            return None
        if d < 0 and not negative:
            self.err(
                path,
                "number",
                f"{where(path)} 不能为负数：“{shown(value)}”",
                f"{where_en(path)} must not be negative: '{shown(value)}'",
            )
            return None
        step = Decimal(1).scaleb(-places)
        if d != d.quantize(step):
            what = "整数" if places == 0 else f"最多 {places} 位小数"
            self.err(
                path,
                "number",
                f"{where(path)} 应为{what}，却是“{shown(value)}”",
                f"{where_en(path)} must have at most {places} decimal places: '{shown(value)}'",
            )
            return None
        return d.quantize(step)

    def _not_number(self, value: Any, path: tuple[Any, ...], what_zh: str) -> None:
        self.err(
            path,
            "number",
            f"{where(path)} 应为{what_zh}，却是“{shown(value)}”",
            f"{where_en(path)} must be a number, got '{shown(value)}'",
        )

    def area(self, value: Any, path: tuple[Any, ...]) -> Decimal | None:
        """An area in ㎡: not negative, at most 2 decimals (none written: 0)."""
        if value is None:
            return Decimal("0.00")
        return self.number(value, path, places=2, limit=MAX_AREA, what_zh="面积（㎡，最多两位小数）")

    def fen(self, value: Any, path: tuple[Any, ...], *, negative: bool = False) -> int | None:
        """An amount in yuan (at most 2 decimals) as fen."""
        d = self.number(
            value, path, places=2, limit=MAX_YUAN, negative=negative, what_zh="金额（元，最多两位小数）"
        )
        return None if d is None else int(d * 100)

    def count(self, value: Any, path: tuple[Any, ...], *, low: int = 0, high: int = 10**6) -> int | None:
        """A whole number from ``low`` to ``high``."""
        d = self.number(value, path, places=0, limit=Decimal(10) ** 9, negative=True, what_zh="整数")
        if d is None:
            return None
        if not low <= d <= high:
            self.err(
                path,
                "number",
                f"{where(path)} 应在 {low} 到 {high} 之间，却是“{shown(value)}”",
                f"{where_en(path)} must be from {low} to {high}",
            )
            return None
        return int(d)

    def day(self, value: Any, path: tuple[Any, ...]) -> date | None:
        """A date (``2025-04-10``); a time of day, another shape or an impossible date is reported."""
        if isinstance(value, datetime):
            self.err(
                path,
                "date",
                f"{where(path)} 应为日期（YYYY-MM-DD），不带时间",
                f"{where_en(path)} must be a date without a time",
            )
            return None
        if isinstance(value, date):
            return value
        text = value.strip() if isinstance(value, str) else ""
        if _DAY.match(text):
            try:
                return date.fromisoformat(text)
            except ValueError:
                self.err(
                    path,
                    "date",
                    f"{where(path)} 是不存在的日期“{text}”",
                    f"{where_en(path)}: no such date '{text}'",
                )
                return None
        self.err(
            path,
            "date",
            f"{where(path)} 应为日期（YYYY-MM-DD），却是“{shown(value)}”",
            f"{where_en(path)} must be a date (YYYY-MM-DD), got '{shown(value)}'",
        )
        return None

    def flag(self, value: Any, path: tuple[Any, ...]) -> bool | None:
        """Yes or no: ``true``/``false``, ``是``/``否``, 1/0."""
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower() if isinstance(value, str | int | Decimal) else None
        if text in _YES:
            return True
        if text in _NO:
            return False
        self.err(
            path,
            "type",
            f"{where(path)} 应为 true 或 false（是/否），却是“{shown(value)}”",
            f"{where_en(path)} must be true or false, got '{shown(value)}'",
        )
        return None

    def choice(self, value: Any, path: tuple[Any, ...], kind: type[StrEnum]) -> str | None:
        """One of a category's values, by identifier or Chinese name (``砖混`` / ``brick_concrete``)."""
        text = self.text(value, path, required=True)
        if text is None:
            return None
        word = canonical(text)
        ids = [k.value for k in kind]
        if word in ids:
            return word
        names = [LABELS_ZH.get(i, i) for i in ids]
        zh, en = did_you_mean(text, [*names, *ids])
        self.err(
            path,
            "choice",
            f"{where(path)} 不认识“{text}”{zh}（可选：{'、'.join(names)}）",
            f"{where_en(path)}: unknown value '{text}'{en} (one of {', '.join(ids)})",
        )
        return None
