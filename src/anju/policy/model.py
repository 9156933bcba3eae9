"""The policy document: its YAML (read by :mod:`anju.policy.yaml_source`, numbers as exact
``Decimal``) into typed definitions.

Every value keeps the place it was written (file, line, column) so that later checks can
report problems precisely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from anju.core.dates import DayCount, DayWindow
from anju.core.money import RoundingMode, RoundingUnit
from anju.policy.declared import FactDecl, read_facts
from anju.policy.errors import Location, Problem
from anju.policy.expr import Node, SyntaxProblem, parse
from anju.policy.facts import canonical
from anju.policy.measures import Measure, read_measures
from anju.policy.selection_rules import EntitlementSpec, read_entitlement
from anju.policy.suggest import did_you_mean
from anju.policy.transition import TransitionRules, read_transition
from anju.policy.units import ONE, Unit, UnitSyntaxError, parse_unit
from anju.policy.yaml_source import Src as Src
from anju.policy.yaml_source import _Loader as _Loader
from anju.policy.yaml_source import load_yaml as load_yaml

MAX_NUMBER = Decimal(10) ** 15  # numbers of a policy file are below this in absolute value
MAX_PLACES = 12  # and have at most this many decimal places


# ----------------------------------------------------------------------------- definitions


@dataclass(slots=True)
class Formula:
    """A formula as written, its syntax tree, and where it sits in the file."""

    text: str
    src: Src
    node: Node | None = None

    def location(self, offset: int = 0) -> Location:
        """Location of a character of the formula."""
        return self.src.location(offset, self.text)


@dataclass(frozen=True, slots=True)
class Dated:
    """A value in force from ``since`` (``None``: from the beginning)."""

    since: date | None
    value: Any


@dataclass(slots=True)
class Param:
    """A parameter: a number, a category (string), a table keyed by dimensions, or numeric bands.

    ``values`` are dated versions of the base value; ``overrides`` give per-block replacements
    (for a table: only the entries they name), themselves dated.
    """

    name: str
    label: str
    kind: str  # "scalar" | "category" | "table" | "bands"
    unit: Unit
    unit_text: str
    percent: bool
    keys: tuple[str, ...]
    values: list[Dated]
    overrides: dict[str, list[Dated]]
    ref: str
    src: Src
    by_unit: Unit = ONE  # bands: unit of the argument
    default: Decimal | None = None  # table: value for keys not listed


@dataclass(slots=True)
class Clock:
    """A named date of the project (signing start, agreements effective, deadlines)."""

    name: str
    label: str
    on: date
    overrides: dict[str, date]
    ref: str
    src: Src


@dataclass(slots=True)
class TierWindow:
    """One window of a date-window tier: day numbers ``after < n <= upto``."""

    window: DayWindow
    value: Decimal
    label: str


@dataclass(slots=True)
class Tier:
    """A date-window tier keyed to a household event date counted from a clock."""

    name: str
    label: str
    event: str  # "sign_on" | "vacate_on"
    clock: str
    count: DayCount
    unit: Unit
    unit_text: str
    windows: list[TierWindow]
    otherwise: Decimal
    ref: str
    src: Src


@dataclass(slots=True)
class Derived:
    """A named intermediate quantity (e.g. entitled swap area), any unit, not rounded."""

    name: str
    label: str
    formula: Formula


@dataclass(slots=True)
class Item:
    """A compensation item: the money a household gets for one reason."""

    id: str
    label: str
    options: tuple[str, ...]
    per: str  # "household" | "certificate"
    formula: Formula
    when: Formula | None
    floor: Formula | None
    cap: Formula | None
    household_floor: Formula | None
    household_cap: Formula | None
    rounding_mode: RoundingMode
    rounding_unit: RoundingUnit
    ref: str
    src: Src


@dataclass(slots=True)
class Subtotal:
    """A subtotal line (小计 / 合计) of the calculation sheet: a named group of items and of other
    subtotals. Shown on the sheet, usable in formulas by its id, never added to the total."""

    id: str
    label: str
    parts: tuple[str, ...]  # item ids and subtotal ids, as written
    ref: str
    src: Src
    part_srcs: tuple[Src, ...] = ()  # where each part was written (for problems)


@dataclass(slots=True)
class SwapRules:
    """Swap settlement (产权调换结算) rules, all given as formulas of the household."""

    entitled_area: Formula
    credit: Formula
    cost_price: Formula
    extra_price: Formula
    market_price: Formula | None
    refund_price: Formula
    extra_limit: Decimal  # ㎡ beyond the entitled area sold at extra_price (e.g. 15)
    max_extra: Decimal  # ㎡ beyond the entitled area at most (e.g. 30)
    flat_types: list[tuple[Decimal | None, tuple[str, ...]]]  # (entitled area up to, allowed types)
    src: Src
    entitlement: EntitlementSpec | None = None  # what a household may select (anju.policy.selection_rules)


@dataclass(slots=True)
class Meta:
    """Metadata of a policy."""

    name: str
    project: str
    version: str
    legal_ref: str
    effective_on: date
    rounding_mode: RoundingMode
    rounding_unit: RoundingUnit
    block_levels: tuple[str, ...]
    status: str  # "draft" | "published"
    content_hash: str | None
    description: str


@dataclass(slots=True)
class Policy:
    """A loaded (not yet checked) policy."""

    meta: Meta
    params: dict[str, Param]
    clocks: dict[str, Clock]
    tiers: dict[str, Tier]
    derived: dict[str, Derived]
    options: dict[str, str]
    items: list[Item]
    swap: SwapRules | None
    file: str
    text: str
    raw: Any = field(repr=False, default=None)
    transition: TransitionRules | None = None  # monthly transition fees (anju.policy.transition)
    facts: dict[str, FactDecl] = field(default_factory=dict)  # facts the plan declares (anju.policy.declared)
    measures: dict[str, Measure] = field(
        default_factory=dict
    )  # office-set group measures (anju.policy.measures)
    subtotals: list[Subtotal] = field(default_factory=list)  # subtotal lines, in the order written


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


class _Reader:
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

    # -- sections

    def read(self, text: str) -> Policy:
        d = self.mapping(self.data, (), "策略文件")
        self.unknown_keys(d, _TOP_KEYS | {"cases"}, ())
        meta = self.read_meta(self.mapping(d.get("policy"), ("policy",), "policy"))
        params = {}
        for name, spec in self.mapping(d.get("parameters"), ("parameters",), "parameters").items():
            p = self.read_param(str(name), spec, ("parameters", name))
            if p is not None:
                params[p.name] = p
        clocks = {}
        for name, spec in self.mapping(d.get("clocks"), ("clocks",), "clocks").items():
            c = self.read_clock(str(name), spec, ("clocks", name))
            if c is not None:
                clocks[c.name] = c
        tiers = {}
        for name, spec in self.mapping(d.get("tiers"), ("tiers",), "tiers").items():
            t = self.read_tier(str(name), spec, ("tiers", name))
            if t is not None:
                tiers[t.name] = t
        derived = {}
        for name, spec in self.mapping(d.get("derived"), ("derived",), "derived").items():
            path = ("derived", name)
            if isinstance(spec, dict):
                self.unknown_keys(spec, {"label", "formula"}, path)
                f = self.formula(spec.get("formula"), (*path, "formula"))
                label = str(spec.get("label", name))
            else:
                f = self.formula(spec, path)
                label = str(name)
            if f is None:
                self.err(path, "missing", "缺少公式 formula", "formula is missing")
            else:
                derived[str(name)] = Derived(str(name), label, f)
        options_raw = d.get("options") or {"cash": "货币补偿", "swap": "产权调换"}
        options: dict[str, str] = {}
        if isinstance(options_raw, dict):
            for k, v in options_raw.items():
                options[str(k)] = str(v.get("label", k)) if isinstance(v, dict) else str(v)
        elif isinstance(options_raw, list):
            options = {str(k): str(k) for k in options_raw}
        items = []
        raw_items = d.get("items") or []
        if not isinstance(raw_items, list):
            self.err(("items",), "type", "items 应为列表", "items must be a list")
            raw_items = []
        for i, spec in enumerate(raw_items):
            it = self.read_item(spec, ("items", i), meta, tuple(options))
            if it is not None:
                items.append(it)
        swap = None
        if d.get("swap_settlement") is not None:
            swap = self.read_swap(self.mapping(d["swap_settlement"], ("swap_settlement",), "swap_settlement"))
        transition = read_transition(self, d["transition"], tuple(options)) if "transition" in d else None
        declared = read_facts(self, d["facts"]) if "facts" in d else {}
        policy = Policy(
            meta, params, clocks, tiers, derived, options, items, swap, self.file, text, self.data, transition
        )
        if d.get("subtotals") is not None:
            policy.subtotals = self.read_subtotals(d["subtotals"])
        if "measures" in d:
            policy.measures = read_measures(self, d["measures"], meta)
        policy.facts = declared
        return policy

    def read_subtotals(self, raw: Any) -> list[Subtotal]:
        """The ``subtotals:`` list: ``{id, label, items: [item or subtotal ids], ref}`` each."""
        path: tuple[Any, ...] = ("subtotals",)
        if not isinstance(raw, list):
            self.err(path, "type", "subtotals 应为列表", "subtotals must be a list")
            return []
        out: list[Subtotal] = []
        for i, spec in enumerate(raw):
            sp = (*path, i)
            if not isinstance(spec, dict):
                self.err(
                    sp,
                    "subtotal",
                    "小计应为映射（id、label、items）",
                    "a subtotal must be a mapping (id, label, items)",
                )
                continue
            self.unknown_keys(spec, {"id", "label", "items", "ref"}, sp)
            sid = str(spec.get("id") or "")
            if not sid:
                self.err(sp, "subtotal", "小计缺少 id", "subtotal has no id")
                continue
            parts_raw = spec.get("items")
            if not isinstance(parts_raw, list) or not parts_raw:
                self.err(
                    (*sp, "items"),
                    "subtotal",
                    f"小计“{sid}”需要 items：所含项目或小计的 id 列表",
                    f"subtotal '{sid}' needs items: a list of item or subtotal ids",
                )
                continue
            parts = tuple(str(x) for x in parts_raw)
            srcs = tuple(self.src((*sp, "items", k)) for k in range(len(parts)))
            out.append(
                Subtotal(
                    sid, str(spec.get("label", sid)), parts, str(spec.get("ref", "")), self.src(sp), srcs
                )
            )
        return out

    def read_meta(self, m: dict[Any, Any]) -> Meta:
        path = ("policy",)
        self.unknown_keys(
            m,
            {
                "name",
                "project",
                "version",
                "legal_ref",
                "effective_on",
                "rounding",
                "block_levels",
                "status",
                "content_hash",
                "description",
            },
            path,
        )
        rounding = self.mapping(m.get("rounding"), (*path, "rounding"), "rounding")
        mode = RoundingMode.HALF_UP
        unit = RoundingUnit.FEN
        try:
            mode = RoundingMode(str(rounding.get("mode", "half_up")))
        except ValueError:
            self.err(
                (*path, "rounding", "mode"),
                "rounding",
                "舍入方式只能是 half_up / half_down / half_even / down / up",
                "rounding mode must be half_up, half_down, half_even, down or up",
            )
        try:
            unit = RoundingUnit(str(rounding.get("unit", "fen")))
        except ValueError:
            self.err(
                (*path, "rounding", "unit"),
                "rounding",
                "舍入单位只能是 fen / jiao / yuan",
                "rounding unit must be fen, jiao or yuan",
            )
        eff = m.get("effective_on")
        eff_date = (
            self.a_date(eff, (*path, "effective_on"), "生效日期 effective_on") if eff is not None else None
        )
        if eff_date is None:
            if eff is None:
                self.err(path, "missing", "缺少生效日期 effective_on", "effective_on is missing")
            eff_date = date(2000, 1, 1)
        status = str(m.get("status", "draft"))
        if status not in ("draft", "published"):
            self.err(
                (*path, "status"),
                "status",
                "status 只能是 draft 或 published",
                "status must be draft or published",
            )
        return Meta(
            name=str(m.get("name", "")),
            project=str(m.get("project", "")),
            version=str(m.get("version", "1")),
            legal_ref=str(m.get("legal_ref", "")),
            effective_on=eff_date,
            rounding_mode=mode,
            rounding_unit=unit,
            block_levels=tuple(
                str(x) for x in self.seq(m.get("block_levels"), (*path, "block_levels"), "block_levels")
            ),
            status=status,
            content_hash=str(m["content_hash"]) if m.get("content_hash") else None,
            description=str(m.get("description", "")),
        )

    def read_value(
        self, kind: str, spec: dict[Any, Any], path: tuple[Any, ...], percent: bool, depth: int
    ) -> Any:
        """The plain (undated) value of a parameter spec: number, string, table or bands."""
        scale = Decimal("0.01") if percent else Decimal(1)
        if kind == "table":
            table: dict[tuple[str, ...], Decimal] = {}

            def rec(node: Any, keys: tuple[str, ...], p: tuple[Any, ...]) -> None:
                if len(keys) == depth:
                    v = self.decimal(node, p, "表格取值 table value")
                    if v is not None:
                        table[keys] = v * scale
                    return
                if not isinstance(node, dict):
                    self.err(
                        p, "table", f"表格应有 {depth} 层键", f"the table must be nested {depth} levels deep"
                    )
                    return
                for k, sub in node.items():
                    rec(sub, (*keys, canonical(str(k))), (*p, k))

            rec(spec.get("table"), (), (*path, "table"))
            return table
        if kind == "bands":
            bands: list[tuple[DayWindow, Decimal]] = []
            for i, b in enumerate(self.seq(spec.get("bands"), (*path, "bands"), "分档 bands")):
                bp = (*path, "bands", i)
                if not isinstance(b, dict):
                    self.err(bp, "bands", "分档应为映射", "each band must be a mapping")
                    continue
                self.unknown_keys(b, {"after", "upto", "value", "label"}, bp)
                v = self.decimal(b.get("value"), (*bp, "value"), "分档取值 value")
                after = self.whole(b.get("after"), (*bp, "after"), "after")
                upto = self.whole(b.get("upto"), (*bp, "upto"), "upto")
                if v is not None:
                    bands.append((DayWindow(after, upto), v * scale))
            return bands
        if kind == "category":
            return canonical(str(spec.get("value")))
        v = self.decimal(spec.get("value"), (*path, "value"), "参数值 value")
        return (v or Decimal(0)) * scale

    def read_param(self, name: str, spec: Any, path: tuple[Any, ...]) -> Param | None:
        if not isinstance(spec, dict):
            spec = {"value": spec}
        self.unknown_keys(
            spec,
            {
                "label",
                "unit",
                "value",
                "table",
                "bands",
                "keys",
                "dated",
                "overrides",
                "ref",
                "by",
                "default",
            },
            path,
        )
        unit, unit_text, percent = self.unit(spec.get("unit"), (*path, "unit"))
        keys = tuple(str(k) for k in self.seq(spec.get("keys"), (*path, "keys"), "表格维度 keys"))
        sample = spec
        if "dated" in spec and isinstance(spec["dated"], list) and spec["dated"]:
            sample = spec["dated"][0] if isinstance(spec["dated"][0], dict) else {}
        if "table" in sample:
            kind = "table"
            if not keys:
                self.err(
                    path,
                    "table",
                    "表格参数需要 keys（维度名称）",
                    "a table parameter needs keys (dimension names)",
                )
                keys = ("key",)
        elif "bands" in sample:
            kind = "bands"
        elif isinstance(sample.get("value"), str) and not _looks_numeric(sample.get("value")):
            kind = "category"
        else:
            kind = "scalar"
        values: list[Dated] = []
        if "dated" in spec:
            dated = spec["dated"]
            if not isinstance(dated, list):
                self.err((*path, "dated"), "dated", "dated 应为列表", "dated must be a list")
                dated = []
            for i, entry in enumerate(dated):
                ep = (*path, "dated", i)
                if not isinstance(entry, dict):
                    self.err(ep, "dated", "dated 的每一项应为映射", "each dated entry must be a mapping")
                    continue
                since = (
                    self.a_date(entry.get("from"), (*ep, "from"), "起始日期 from")
                    if "from" in entry
                    else None
                )
                values.append(Dated(since, self.read_value(kind, entry, ep, percent, len(keys))))
        else:
            values.append(Dated(None, self.read_value(kind, spec, path, percent, len(keys))))
        overrides: dict[str, list[Dated]] = {}
        for block, ov in self.mapping(spec.get("overrides"), (*path, "overrides"), "overrides").items():
            op = (*path, "overrides", block)
            if not isinstance(ov, dict):
                ov = {"value": ov}
            entries: list[Dated] = []
            if "dated" in ov:
                for i, entry in enumerate(self.seq(ov.get("dated"), (*op, "dated"), "dated")):
                    ep = (*op, "dated", i)
                    if not isinstance(entry, dict):
                        self.err(ep, "dated", "dated 的每一项应为映射", "each dated entry must be a mapping")
                        continue
                    since = self.a_date(entry.get("from"), (*ep, "from"), "from") if "from" in entry else None
                    entries.append(Dated(since, self.read_value(kind, entry, ep, percent, len(keys))))
            else:
                entries.append(Dated(None, self.read_value(kind, ov, op, percent, len(keys))))
            overrides[str(block)] = entries
        by_unit, _, _ = self.unit(spec.get("by"), (*path, "by"))
        default = None
        if spec.get("default") is not None:
            default = self.decimal(spec.get("default"), (*path, "default"), "default")
            if default is not None and percent:
                default = default / 100
        return Param(
            name,
            str(spec.get("label", name)),
            kind,
            unit,
            unit_text,
            percent,
            keys,
            values,
            overrides,
            str(spec.get("ref", "")),
            self.src(path),
            by_unit,
            default,
        )

    def read_clock(self, name: str, spec: Any, path: tuple[Any, ...]) -> Clock | None:
        if not isinstance(spec, dict):
            spec = {"date": spec}
        self.unknown_keys(spec, {"label", "date", "overrides", "ref"}, path)
        on = self.a_date(spec.get("date"), (*path, "date"), "日期 date")
        if on is None:
            return None
        overrides = {}
        for block, v in self.mapping(spec.get("overrides"), (*path, "overrides"), "overrides").items():
            d = self.a_date(v, (*path, "overrides", block), "日期 date")
            if d is not None:
                overrides[str(block)] = d
        return Clock(
            name, str(spec.get("label", name)), on, overrides, str(spec.get("ref", "")), self.src(path)
        )

    def read_tier(self, name: str, spec: Any, path: tuple[Any, ...]) -> Tier | None:
        spec = self.mapping(spec, path, "tier")
        self.unknown_keys(
            spec, {"label", "event", "clock", "count", "unit", "windows", "otherwise", "ref"}, path
        )
        event = str(spec.get("event", "sign_on"))
        if event not in ("sign_on", "vacate_on"):
            self.err(
                (*path, "event"),
                "tier",
                "event 只能是 sign_on（签约日）或 vacate_on（腾空日）",
                "event must be sign_on or vacate_on",
            )
        count = DayCount.CLOCK_DAY_IS_DAY_1
        try:
            count = DayCount(str(spec.get("count", "clock_day_is_day_1")))
        except ValueError:
            self.err(
                (*path, "count"),
                "tier",
                "count 只能是 clock_day_is_day_1 或 next_day_is_day_1",
                "count must be clock_day_is_day_1 or next_day_is_day_1",
            )
        unit, unit_text, percent = self.unit(spec.get("unit"), (*path, "unit"))
        scale = Decimal("0.01") if percent else Decimal(1)
        windows = []
        for i, w in enumerate(self.seq(spec.get("windows"), (*path, "windows"), "时间窗 windows")):
            wp = (*path, "windows", i)
            if not isinstance(w, dict):
                self.err(wp, "tier", "时间窗应为映射", "each window must be a mapping")
                continue
            self.unknown_keys(w, {"after", "upto", "value", "label"}, wp)
            v = self.decimal(w.get("value"), (*wp, "value"), "value")
            if v is None:
                continue
            win = DayWindow(
                self.whole(w.get("after"), (*wp, "after"), "after"),
                self.whole(w.get("upto"), (*wp, "upto"), "upto"),
            )
            label = str(w.get("label") or _window_label(win))
            windows.append(TierWindow(win, v * scale, label))
        if not windows:
            self.err(path, "tier", "时间窗分档至少需要一个窗口 windows", "a tier needs at least one window")
        otherwise = self.decimal(spec.get("otherwise", 0), (*path, "otherwise"), "otherwise") or Decimal(0)
        return Tier(
            name,
            str(spec.get("label", name)),
            event,
            str(spec.get("clock", "")),
            count,
            unit,
            unit_text,
            windows,
            otherwise * scale,
            str(spec.get("ref", "")),
            self.src(path),
        )

    def read_item(
        self, spec: Any, path: tuple[Any, ...], meta: Meta, all_options: tuple[str, ...]
    ) -> Item | None:
        if not isinstance(spec, dict):
            self.err(path, "item", "补偿项目应为映射", "an item must be a mapping")
            return None
        self.unknown_keys(
            spec,
            {
                "id",
                "label",
                "options",
                "per",
                "formula",
                "when",
                "floor",
                "cap",
                "household_floor",
                "household_cap",
                "rounding",
                "ref",
            },
            path,
        )
        item_id = str(spec.get("id", ""))
        if not item_id:
            self.err(path, "item", "补偿项目缺少 id", "item has no id")
            return None
        opts = spec.get("options")
        options = tuple(str(o) for o in (opts if isinstance(opts, list) else [opts])) if opts else all_options
        for o in options:
            if o not in all_options:
                zh, en = did_you_mean(o, all_options)
                self.err(
                    (*path, "options"), "option", f"未定义的补偿方式“{o}”{zh}", f"undefined option '{o}'{en}"
                )
        per = str(spec.get("per", "household"))
        if per not in ("household", "certificate"):
            self.err(
                (*path, "per"),
                "per",
                "per 只能是 household（每户）或 certificate（每证）",
                "per must be household or certificate",
            )
        formula = self.formula(spec.get("formula"), (*path, "formula"))
        if formula is None:
            self.err(path, "missing", f"项目“{item_id}”缺少公式 formula", f"item '{item_id}' has no formula")
            return None
        rounding = self.mapping(spec.get("rounding"), (*path, "rounding"), "rounding")
        mode, unit = meta.rounding_mode, meta.rounding_unit
        try:
            mode = RoundingMode(str(rounding.get("mode", mode.value)))
            unit = RoundingUnit(str(rounding.get("unit", unit.value)))
        except ValueError:
            self.err((*path, "rounding"), "rounding", "舍入设置无效", "invalid rounding")
        if per == "household" and (
            spec.get("household_floor") is not None or spec.get("household_cap") is not None
        ):
            self.err(
                path,
                "per",
                "household_floor / household_cap 只用于按证计算的项目，每户项目请用 floor / cap",
                "household_floor / household_cap apply to per-certificate items; use floor / cap",
            )
        return Item(
            id=item_id,
            label=str(spec.get("label", item_id)),
            options=options,
            per=per,
            formula=formula,
            when=self.formula(spec.get("when"), (*path, "when")),
            floor=self.formula(spec.get("floor"), (*path, "floor")),
            cap=self.formula(spec.get("cap"), (*path, "cap")),
            household_floor=self.formula(spec.get("household_floor"), (*path, "household_floor")),
            household_cap=self.formula(spec.get("household_cap"), (*path, "household_cap")),
            rounding_mode=mode,
            rounding_unit=unit,
            ref=str(spec.get("ref", "")),
            src=self.src(path),
        )

    def read_swap(self, spec: dict[Any, Any]) -> SwapRules | None:
        path = ("swap_settlement",)
        self.unknown_keys(
            spec,
            {
                "entitled_area",
                "credit",
                "cost_price",
                "extra_price",
                "market_price",
                "refund_price",
                "extra_limit",
                "max_extra",
                "flat_types",
                "entitlement",
            },
            path,
        )
        needed = ["entitled_area", "credit", "cost_price", "extra_price", "refund_price"]
        for k in needed:
            if spec.get(k) is None:
                self.err(path, "missing", f"产权调换结算缺少 {k}", f"swap_settlement needs {k}")
        if any(spec.get(k) is None for k in needed):
            return None
        flat_types: list[tuple[Decimal | None, tuple[str, ...]]] = []
        for i, rule in enumerate(self.seq(spec.get("flat_types"), (*path, "flat_types"), "flat_types")):
            rp = (*path, "flat_types", i)
            if not isinstance(rule, dict):
                self.err(
                    rp,
                    "type",
                    "flat_types 的每一项应为映射（entitled_upto / types）",
                    "each flat_types entry must be a mapping (entitled_upto / types)",
                )
                continue
            upto = rule.get("entitled_upto")
            flat_types.append(
                (
                    self.decimal(upto, (*rp, "entitled_upto"), "entitled_upto") if upto is not None else None,
                    tuple(str(t) for t in self.seq(rule.get("types"), (*rp, "types"), "types")),
                )
            )

        def f(key: str) -> Formula:
            out = self.formula(spec.get(key), (*path, key))
            assert out is not None
            return out

        return SwapRules(
            entitled_area=f("entitled_area"),
            credit=f("credit"),
            cost_price=f("cost_price"),
            extra_price=f("extra_price"),
            market_price=self.formula(spec.get("market_price"), (*path, "market_price")),
            refund_price=f("refund_price"),
            extra_limit=self.decimal(spec.get("extra_limit", 15), (*path, "extra_limit"), "extra_limit")
            or Decimal(15),
            max_extra=self.decimal(spec.get("max_extra", 30), (*path, "max_extra"), "max_extra")
            or Decimal(30),
            flat_types=flat_types,
            src=self.src(path),
            entitlement=read_entitlement(self, spec["entitlement"], (*path, "entitlement"))
            if "entitlement" in spec
            else None,
        )


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


def read_policy(text: str, file: str = "<policy>") -> tuple[Policy, list[Problem]]:
    """Read a policy from YAML text: structure and formula syntax only (types and units are
    checked by :func:`anju.policy.check.check_policy`). Returns the policy and the problems found;
    raises :class:`PolicyError` only when the YAML itself cannot be read."""
    data, marks = load_yaml(text, file)
    reader = _Reader(data, marks, file)
    policy = reader.read(text)
    return policy, reader.problems


def read_policy_file(path: str | Path) -> tuple[Policy, list[Problem]]:
    """Read a policy from a YAML file (see :func:`read_policy`)."""
    p = Path(path)
    return read_policy(p.read_text(encoding="utf-8"), str(p))
