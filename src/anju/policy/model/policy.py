"""Policy document part: the whole document, its ``policy`` header and swap settlement, the
assembled reader and :func:`read_policy`, :func:`read_policy_file`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from anju.core.money import RoundingMode, RoundingUnit
from anju.policy.declared import read_facts
from anju.policy.errors import Problem
from anju.policy.measures import read_measures
from anju.policy.model.base import _TOP_KEYS
from anju.policy.model.clocks import _ReaderClocks
from anju.policy.model.definitions import Derived, Formula, Meta, Policy, SwapRules
from anju.policy.model.items import _ReaderItems
from anju.policy.model.params import _ReaderParams
from anju.policy.selection_rules import read_entitlement
from anju.policy.transition import read_transition
from anju.policy.yaml_source import load_yaml, read_yaml_file


class _Reader(_ReaderParams, _ReaderClocks, _ReaderItems):
    """Reads one policy document into its definitions, collecting problems with their places."""

    # -- sections

    def read(self, text: str) -> Policy:
        if self.data is None:  # an empty file (or comments only): say so before what it lacks
            self.err((), "empty", "方案文件是空的（没有任何内容）", "the policy file is empty")
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
    return read_policy(read_yaml_file(p, "方案文件", "the policy file"), str(p))
