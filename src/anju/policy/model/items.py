"""Policy document part: items and subtotals."""

from __future__ import annotations

from typing import Any

from anju.core.money import RoundingMode, RoundingUnit
from anju.policy.model.base import _ReaderBase
from anju.policy.model.definitions import Item, Meta, Subtotal
from anju.policy.suggest import did_you_mean


class _ReaderItems(_ReaderBase):
    """Items and subtotals."""

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
