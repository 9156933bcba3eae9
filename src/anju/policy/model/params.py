"""Policy document part: parameters, their dated values, tables and bands."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from anju.core.dates import DayWindow
from anju.policy.facts import canonical
from anju.policy.model.base import _looks_numeric, _ReaderBase
from anju.policy.model.definitions import Dated, Param


class _ReaderParams(_ReaderBase):
    """Parameters, their dated values, tables and bands."""

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
