"""Declarations and names: parameters, clocks, tiers, derived values, declared facts and the
fields of household objects."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from anju.policy.check.base import _CheckerBase
from anju.policy.check.types import (
    COLLECTIONS,
    DATE,
    FACT_OBJECT,
    FIELD_OBJECTS,
    FIELDS,
    FUNCTIONS,
    SUBTOTAL_MARK,
    Ty,
    _Abort,
    dec_scale,
    fact_type,
)
from anju.policy.declared import LEVEL_OBJECT, LEVELS
from anju.policy.errors import Problem
from anju.policy.expr import Name, Node
from anju.policy.model import Param, Tier
from anju.policy.suggest import did_you_mean
from anju.policy.units import YUAN


class _CheckerNames(_CheckerBase):
    """Declarations and names: what every name of a formula refers to, and its type."""

    # -- declarations

    def declarations(self) -> None:
        p = self.p
        for name, prm in p.params.items():
            self._declare(name, "parameter", prm.src.location())
        for name, clk in p.clocks.items():
            self._declare(name, "clock", clk.src.location())
        for name, tr in p.tiers.items():
            self._declare(name, "tier", tr.src.location())
        for name, dv in p.derived.items():
            self._declare(name, "derived", dv.formula.src.location())
        for it in p.items:
            self._declare(it.id, "item", it.src.location())
        for sub in p.subtotals:
            self._declare(sub.id, "subtotal", sub.src.location())
        for name, param in p.params.items():
            self.param_scale[name] = self._param_scale(param)
        for name, tier in p.tiers.items():
            self.tier_scale[name] = tier_scale(tier)
            if tier.clock not in p.clocks:
                zh, en = did_you_mean(tier.clock, p.clocks)
                self.problems.append(
                    Problem(
                        "tier",
                        f"时间窗分档“{name}”引用了未定义的时钟“{tier.clock}”{zh}",
                        f"tier '{name}' uses undefined clock '{tier.clock}'{en}",
                        tier.src.location(),
                    )
                )
            ws = sorted(tier.windows, key=lambda w: -(10**9) if w.window.after is None else w.window.after)
            for a, b in itertools.pairwise(ws):
                a_up = a.window.upto
                b_after = b.window.after
                if a_up is None or b_after is None or b_after < a_up:
                    self.problems.append(
                        Problem(
                            "tier",
                            f"时间窗分档“{name}”的窗口重叠：{a.label} 与 {b.label}",
                            f"tier '{name}' has overlapping windows: {a.label} / {b.label}",
                            tier.src.location(),
                        )
                    )
            for w in tier.windows:
                if (
                    w.window.after is not None
                    and w.window.upto is not None
                    and w.window.upto <= w.window.after
                ):
                    self.problems.append(
                        Problem(
                            "tier",
                            f"时间窗“{w.label}”为空",
                            f"window '{w.label}' is empty",
                            tier.src.location(),
                        )
                    )
        for name, param in p.params.items():
            if param.kind == "table":
                for d in param.values:
                    for k in d.value:
                        if len(k) != len(param.keys):
                            self.problems.append(
                                Problem(
                                    "table",
                                    f"表格“{name}”的键层数不对",
                                    f"table '{name}' has wrong depth",
                                    param.src.location(),
                                )
                            )
                            break

    def _declare(self, name: str, kind: str, loc: Any) -> None:
        if name in self.names:
            self.problems.append(
                Problem(
                    "duplicate",
                    f"名称“{name}”重复定义（已是{self.names[name]}）",
                    f"name '{name}' is defined twice (already a {self.names[name]})",
                    loc,
                )
            )
        elif name in FUNCTIONS or name in COLLECTIONS or name in FIELD_OBJECTS or name == FACT_OBJECT:
            self.problems.append(
                Problem("reserved", f"“{name}”是保留名称", f"'{name}' is a reserved name", loc)
            )
        self.names[name] = kind

    def _param_scale(self, param: Param) -> int:
        return param_scale(param)

    def name(self, n: Name, el: str | None) -> Ty:
        parts = n.parts
        if parts[0] == FACT_OBJECT:
            return self.fact(n, el)
        if len(parts) >= 2 and parts[0] in ("building", "member") and parts[1] == FACT_OBJECT:
            return self.fact(n, el)
        if len(parts) == 2 and parts[0] in FIELD_OBJECTS:
            obj, attr = parts
            ty = FIELDS.get((obj, attr))
            if ty is None:
                fields = sorted(a for o, a in FIELDS if o == obj)
                zh, en = did_you_mean(attr, fields)
                self.fail(
                    n,
                    "name",
                    f"“{obj}”没有字段“{attr}”{zh}（可用：{', '.join(fields)}）",
                    f"'{obj}' has no field '{attr}'{en} (available: {', '.join(fields)})",
                )
            assert ty is not None
            if obj in ("building", "member", "tenant", "flat") and el != obj:
                where = {
                    "building": "sum(buildings, ...) 或按证计算的项目",
                    "member": "sum/count(members, ...)",
                    "tenant": "sum/count(tenants, ...)",
                    "flat": "sum/count(flats, ...)",
                }[obj]
                self.fail(
                    n,
                    "context",
                    f"“{obj}.{attr}”只能用在 {where} 之内",
                    f"'{obj}.{attr}' can only be used inside {where}",
                )
            n.ref = ("field", obj, attr)
            return ty
        if len(parts) != 1:
            dotted = ".".join(parts)
            zh, en = did_you_mean(dotted, [f"{o}.{a}" for o, a in FIELDS])
            self.fail(n, "name", f"未定义的名称“{dotted}”{zh}", f"undefined name '{dotted}'{en}")
        name = parts[0]
        p = self.p
        if name in self.extra_names:
            n.ref = ("extra", name)
            return self.extra_names[name]
        if name in p.params:
            param = p.params[name]
            if param.kind == "table":
                self.fail(
                    n,
                    "table",
                    f"表格参数“{name}”需要用 {name}[键, ...] 查表",
                    f"table parameter '{name}' must be looked up as {name}[key, ...]",
                )
            if param.kind == "bands":
                self.fail(
                    n,
                    "bands",
                    f"分档参数“{name}”需要写成 {name}(数量)",
                    f"band parameter '{name}' must be called as {name}(x)",
                )
            n.ref = ("param", name)
            if param.kind == "category":
                vals = {e.value for e in param.values} | {
                    e.value for ov in param.overrides.values() for e in ov
                }
                return Ty("str", domain=frozenset(vals))
            return Ty("num", param.unit, self.param_scale[name])
        if name in p.tiers:
            n.ref = ("tier", name)
            t = p.tiers[name]
            return Ty("num", t.unit, self.tier_scale[name])
        if name in p.clocks:
            n.ref = ("clock", name)
            return DATE
        if name in p.derived:
            n.ref = ("derived", name)
            return self.derived_type(n, name)
        if name in self.items:
            n.ref = ("item", name)
            self.deps.add(name)
            return Ty("num", YUAN, 2)
        if name in self.subtotals:
            n.ref = ("subtotal", name)
            self.deps.add(SUBTOTAL_MARK + name)
            return Ty("num", YUAN, 2)
        if name == "option":
            # The option being computed (cash / swap ...): one item can serve several options.
            n.ref = ("option",)
            return Ty("str", domain=frozenset(p.options))
        if name in COLLECTIONS:
            self.fail(
                n,
                "collection",
                f"“{name}”是集合，只能用在 sum/count/any 中",
                f"'{name}' is a collection; use it in sum/count/any",
            )
        zh, en = did_you_mean(name, self.known_names())
        self.fail(n, "name", f"未定义的名称“{name}”{zh}", f"undefined name '{name}'{en}")
        raise AssertionError

    def fact(self, n: Name, el: str | None) -> Ty:
        """``fact.ID`` (a household-level fact), ``building.fact.ID`` or ``member.fact.ID`` (a fact
        of each building / member, readable only where one is in scope): facts the policy declares
        (anju.policy.declared)."""
        declared = self.p.facts
        obj = n.parts[0] if n.parts[0] != FACT_OBJECT else ""
        level = obj or "household"
        written = f"{obj}.fact" if obj else FACT_OBJECT
        if len(n.parts) != (3 if obj else 2):
            self.fail(
                n,
                "fact",
                f"方案事实应写成 {written}.编号（如 {written}.ac_units）",
                f"a declared fact is written {written}.ID",
            )
        fid = n.parts[-1]
        decl = declared.get(fid)
        if decl is None:
            prefix = f"{obj}.fact." if obj else ""
            same = [f"{prefix}{f}" for f, d in declared.items() if d.level == level]
            zh, en = did_you_mean(f"{prefix}{fid}", same)
            have = "、".join(same) if same else "无（请在 facts: 中声明）"
            self.fail(
                n,
                "fact",
                f"未声明的事实“{prefix}{fid}”{zh}（已声明：{have}）",
                f"undeclared fact '{prefix}{fid}'{en} (declared: {', '.join(same) or 'none'})",
            )
        assert decl is not None
        if decl.level != level:
            right = f"{LEVEL_OBJECT[decl.level]}.fact.{fid}" if LEVEL_OBJECT[decl.level] else f"fact.{fid}"
            self.fail(
                n,
                "fact",
                f"事实“{decl.label}”是{LEVELS[decl.level]}的事实，应写成 {right}（是不是“{right}”？）",
                f"'{fid}' is a {decl.level}-level fact: write {right} (did you mean '{right}'?)",
            )
        if obj and el != obj:
            where = "sum/count/max/min/first(buildings, ...) 或按证计算（per: certificate）的项目"
            if obj == "member":
                where = "sum/count/any/max/min/first(members, ...)"
            self.fail(
                n,
                "context",
                f"“{obj}.fact.{fid}”（{decl.label}）是{LEVELS[decl.level]}的事实，只能用在 {where} 之内",
                f"'{obj}.fact.{fid}' can only be used inside {where}",
            )
        n.ref = ("fact", fid)
        return fact_type(decl)

    def known_names(self) -> list[str]:
        """Every name a formula may use by itself (for "did you mean")."""
        p = self.p
        return [*p.params, *p.clocks, *p.tiers, *p.derived, *self.items, *self.extra_names, *COLLECTIONS]

    def derived_type(self, n: Node, name: str) -> Ty:
        state = self.derived_state.get(name)
        if state == "done":
            self.deps |= self.derived_deps[name]
            if name not in self.derived_ty:  # its own formula has an error, already reported
                raise _Abort
            return self.derived_ty[name]
        if state == "busy":
            self.fail(n, "cycle", f"中间量“{name}”循环引用自身", f"derived value '{name}' refers to itself")
        self.derived_state[name] = "busy"
        saved_deps = self.deps
        self.deps = set()
        d = self.p.derived[name]
        ty = self.check_formula(d.formula, None)
        deps = self.deps
        self.deps = saved_deps | deps
        self.derived_deps[name] = deps
        self.derived_state[name] = "done"
        if ty is None:
            raise _Abort
        self.derived_ty[name] = ty
        return ty


def param_scale(param: Param) -> int:
    """The fixed-point scale formulas see for a parameter: the most decimal places of any of its
    values (dated, overridden, table cells, bands, the default)."""
    vals: list[Decimal] = []
    entries = list(param.values) + [e for ov in param.overrides.values() for e in ov]
    for e in entries:
        v = e.value
        if param.kind == "scalar":
            vals.append(v)
        elif param.kind == "table":
            vals.extend(v.values())
        elif param.kind == "bands":
            vals.extend(b for _, b in v)
    if param.default is not None:
        vals.append(param.default)
    return max([dec_scale(v) for v in vals] + [0])


def tier_scale(tier: Tier) -> int:
    """The fixed-point scale of a date-window tier: the most decimal places of its values."""
    return max([dec_scale(w.value) for w in tier.windows] + [dec_scale(tier.otherwise)])
