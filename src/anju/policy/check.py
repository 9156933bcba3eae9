"""The checker: resolves every name, infers kind, unit and fixed-point scale of every formula
node, and rejects what would be wrong at evaluation time.

Every number in a formula is exact and has a static *scale* (number of decimal places): a value
``v`` of scale ``s`` is the integer ``v * 10**s``. Addition aligns scales, multiplication adds
them, division is only allowed by a literal whose reciprocal is a terminating decimal (2, 4, 5,
10, 1.25 ...). This is what lets the bulk evaluator work on int64 arrays and agree to the fen
with the ``Decimal`` evaluator.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from anju.policy.declared import FactDecl
from anju.policy.errors import Location, PolicyError, Problem
from anju.policy.expr import (
    Binary,
    Bool,
    BoolOp,
    Call,
    Compare,
    If,
    Index,
    Name,
    Node,
    Not,
    Num,
    Str,
    Unary,
)
from anju.policy.facts import LABELS_ZH, Determination, ProjectKind, Structure, TenantKind, Use, canonical
from anju.policy.model import Formula, Item, Param, Policy, Subtotal, read_policy
from anju.policy.selection_rules import check_entitlement
from anju.policy.suggest import did_you_mean
from anju.policy.transition import check_transition
from anju.policy.units import CERT, DAY, M2, MONTH, ONE, PERSON, YUAN, Unit, money_compatible
from anju.policy.versioning import verify_published


@dataclass(frozen=True, slots=True)
class Ty:
    """Static type of a formula node."""

    kind: str  # "num" | "bool" | "str" | "date"
    unit: Unit = ONE
    scale: int = 0
    domain: frozenset[str] | None = None  # known values of a category, None when open


NUM0 = Ty("num")
BOOL = Ty("bool")
DATE = Ty("date")

_ENUM = {
    "structure": frozenset(s.value for s in Structure),
    "use": frozenset(u.value for u in Use),
    "determination": frozenset(d.value for d in Determination),
    "kind": frozenset(k.value for k in ProjectKind),
    "tenant_kind": frozenset(k.value for k in TenantKind),
}

# Fields of the household facts visible to formulas: (object, attribute) -> type.
FIELDS: dict[tuple[str, str], Ty] = {
    ("household", "block"): Ty("str"),
    ("household", "kind"): Ty("str", domain=_ENUM["kind"]),
    ("household", "sign_on"): DATE,
    ("household", "vacate_on"): DATE,
    ("household", "agreement_effective_on"): DATE,
    ("household", "delivery_planned_on"): DATE,
    ("household", "delivery_actual_on"): DATE,
    ("household", "move_back_on"): DATE,
    ("household", "has_homestead"): BOOL,
    ("homestead", "area"): Ty("num", M2, 2),
    ("homestead", "approved_year"): NUM0,
    ("building", "legal_area"): Ty("num", M2, 2),
    ("building", "unregistered_area"): Ty("num", M2, 2),
    ("building", "structure"): Ty("str", domain=_ENUM["structure"]),
    ("building", "use"): Ty("str", domain=_ENUM["use"]),
    ("building", "unregistered_determination"): Ty("str", domain=_ENUM["determination"]),
    ("building", "floors"): NUM0,
    ("building", "built_year"): NUM0,
    ("building", "assessed_unit_price"): Ty("num", YUAN / M2, 2),
    ("building", "assessed_value"): Ty("num", YUAN, 2),
    ("building", "decoration"): Ty("num", YUAN, 2),
    ("building", "fixtures"): Ty("num", YUAN, 2),
    ("member", "dibao"): BOOL,
    ("member", "disabled"): BOOL,
    ("member", "disability_grade"): NUM0,
    ("member", "serious_illness"): BOOL,
    ("member", "martyr_family"): BOOL,
    ("member", "shidu"): BOOL,
    ("member", "only_child"): BOOL,
    ("member", "youfu"): BOOL,
    ("member", "resettlement_counted"): BOOL,
    ("tenant", "area"): Ty("num", M2, 2),
    ("tenant", "kind"): Ty("str", domain=_ENUM["tenant_kind"]),
    # the selected resettlement flats (housing domain)
    ("flat", "area"): Ty("num", M2, 2),
    ("flat", "price"): Ty("num", YUAN / M2, 2),
    ("flat", "purchase_total"): Ty("num", YUAN, 2),
    ("flat", "building"): Ty("str"),
    ("flat", "floor"): NUM0,
    ("flat", "type"): Ty("str"),
    ("flat", "code"): Ty("str"),
    ("household", "chosen_flats_area"): Ty("num", M2, 2),
    ("household", "purchase_total"): Ty("num", YUAN, 2),
}

# Fields that may be missing in the facts; ``known(x)`` tests them, otherwise they read as 0.
OPTIONAL_FIELDS = {
    ("household", "sign_on"),
    ("household", "vacate_on"),
    ("building", "assessed_unit_price"),
    ("building", "assessed_value"),
    ("building", "decoration"),
    ("building", "fixtures"),
    ("household", "agreement_effective_on"),
    ("household", "delivery_planned_on"),
    ("household", "delivery_actual_on"),
    ("household", "move_back_on"),
    ("flat", "price"),
    ("flat", "purchase_total"),
}

COLLECTIONS = {"members": "member", "buildings": "building", "tenants": "tenant", "flats": "flat"}
COUNT_UNIT = {"member": PERSON, "building": CERT, "tenant": ONE, "flat": ONE}

FUNCTIONS = {
    "min",
    "max",
    "clamp",
    "floor",
    "round",
    "abs",
    "sum",
    "count",
    "any",
    "sign_rate",
    "vacate_rate",
    "points_above",
    "known",
    "flag",
    "date",
    "days_between",
    "months_between",
    "add_months",
    "first",
    "measure",
}


def dec_scale(d: Decimal) -> int:
    """Number of decimal places needed to write ``d`` exactly."""
    if d == 0:
        return 0
    exp = d.normalize().as_tuple().exponent
    assert isinstance(exp, int)
    return max(0, -exp)


def reciprocal(d: Decimal) -> Decimal | None:
    """Exact ``1/d`` when it is a terminating decimal, else ``None``."""
    if d == 0:
        return None
    sign, digits, exp = d.normalize().as_tuple()
    assert isinstance(exp, int)
    m = int("".join(map(str, digits)))
    a = b = 0
    while m % 2 == 0:
        m //= 2
        a += 1
    while m % 5 == 0:
        m //= 5
        b += 1
    if m != 1:
        return None
    k = max(a, b)
    num = 10**k // (2**a * 5**b)
    r = Decimal(num).scaleb(-k - exp)
    return -r if sign else r


@dataclass(slots=True)
class Checked:
    """A checked policy: the policy with typed formulas, parameter scales and the item order."""

    policy: Policy
    order: list[str]  # item ids in dependency order
    items: dict[str, Item]
    param_scale: dict[str, int]
    tier_scale: dict[str, int]
    item_deps: dict[str, set[str]] = field(default_factory=dict)
    derived_ty: dict[str, Ty] = field(default_factory=dict)
    subtotals: dict[str, Subtotal] = field(default_factory=dict)
    # subtotal id -> the items it adds up (nested subtotals expanded), in evaluation order
    subtotal_leaves: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # subtotal ids, inner before outer (a subtotal after every subtotal it contains)
    subtotal_order: list[str] = field(default_factory=list)

    def items_for(self, option: str) -> list[Item]:
        """Items of one option in evaluation order."""
        return [self.items[i] for i in self.order if option in self.items[i].options]

    def subtotal_items(self, subtotal: str, option: str) -> tuple[str, ...]:
        """The items a subtotal adds up under ``option`` (an item not offered there is absent)."""
        return tuple(i for i in self.subtotal_leaves[subtotal] if option in self.items[i].options)

    def subtotals_for(self, option: str) -> list[Subtotal]:
        """The subtotals that have at least one item under ``option``, in the order written."""
        return [s for s in self.policy.subtotals if self.subtotal_items(s.id, option)]


class _Checker:
    def __init__(self, policy: Policy) -> None:
        self.p = policy
        self.problems: list[Problem] = []
        self.param_scale: dict[str, int] = {}
        self.tier_scale: dict[str, int] = {}
        self.derived_ty: dict[str, Ty] = {}
        self.derived_state: dict[str, str] = {}
        self.derived_deps: dict[str, set[str]] = {}
        self.items = {it.id: it for it in policy.items}
        self.deps: set[str] = set()  # items referenced by the formula being checked
        self.formula: Formula | None = None
        self.names: dict[str, str] = {}
        self.extra_names: dict[str, Ty] = {}  # names a section adds for its own formulas (entitlement)
        self.subtotals: dict[str, Subtotal] = {s.id: s for s in policy.subtotals}
        self.subtotal_leaves: dict[str, tuple[str, ...]] = {}
        self.subtotal_order: list[str] = []

    # -- problems

    def err(self, node: Node | None, code: str, zh: str, en: str) -> None:
        assert self.formula is not None
        loc = self.formula.location(node.start if node is not None else 0)
        self.problems.append(Problem(code, zh, en, loc))

    def fail(self, node: Node, code: str, zh: str, en: str) -> Ty:
        self.err(node, code, zh, en)
        raise _Abort

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
            self.tier_scale[name] = max(
                [dec_scale(w.value) for w in tier.windows] + [dec_scale(tier.otherwise)]
            )
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

    # -- formulas

    def check_formula(self, f: Formula | None, element: str | None) -> Ty | None:
        if f is None or f.node is None:
            return None
        saved = self.formula
        self.formula = f
        try:
            return self.expr(f.node, element)
        except _Abort:
            return None
        finally:
            self.formula = saved

    def expr(self, n: Node, el: str | None) -> Ty:
        ty = self._expr(n, el)
        n.ty = ty
        return ty

    def _expr(self, n: Node, el: str | None) -> Ty:
        if isinstance(n, Num):
            return Ty("num", n.unit, dec_scale(n.value))
        if isinstance(n, Str):
            v = canonical(n.value)
            n.value = v
            return Ty("str", domain=frozenset([v]))
        if isinstance(n, Bool):
            return BOOL
        if isinstance(n, Name):
            return self.name(n, el)
        if isinstance(n, Index):
            return self.index(n, el)
        if isinstance(n, Call):
            return self.call(n, el)
        if isinstance(n, Unary):
            t = self.num(n.operand, el, "取负")
            return t
        if isinstance(n, Not):
            self.boolean(n.operand, el)
            return BOOL
        if isinstance(n, BoolOp):
            self.boolean(n.left, el)
            self.boolean(n.right, el)
            return BOOL
        if isinstance(n, Compare):
            return self.compare(n, el)
        if isinstance(n, Binary):
            return self.binary(n, el)
        if isinstance(n, If):
            return self.if_(n, el)
        raise AssertionError(type(n))

    def num(self, n: Node, el: str | None, what: str) -> Ty:
        t = self.expr(n, el)
        if t.kind != "num":
            self.fail(
                n,
                "type",
                f"{what}需要数值，这里是{_KIND_ZH[t.kind]}",
                f"{what} needs a number, got a {t.kind}",
            )
        return t

    def boolean(self, n: Node, el: str | None) -> None:
        t = self.expr(n, el)
        if t.kind != "bool":
            self.fail(
                n,
                "type",
                f"这里需要条件（真/假），却是{_KIND_ZH[t.kind]}",
                f"a condition (true/false) is needed here, got a {t.kind}",
            )

    def same_unit(self, n: Node, a: Ty, b: Ty, what_zh: str, what_en: str) -> None:
        if a.unit != b.unit:
            self.fail(
                n,
                "unit",
                f"单位不一致：不能{what_zh} {a.unit} 与 {b.unit}",
                f"units do not match: cannot {what_en} {a.unit} and {b.unit}",
            )

    def binary(self, n: Binary, el: str | None) -> Ty:
        a = self.num(n.left, el, "运算")
        if n.op == "/":
            if not isinstance(n.right, Num):
                self.fail(
                    n.right,
                    "division",
                    "除数只能是常数（如 2、10、1.25），比例请用乘法（如 * 50%）",
                    "only division by a constant number is allowed; multiply by a rate instead",
                )
            b = self.expr(n.right, el)
            assert isinstance(n.right, Num)
            r = reciprocal(n.right.value)
            if r is None:
                self.fail(
                    n.right,
                    "division",
                    f"除以 {n.right.value} 的结果不是有限小数，无法精确计算",
                    f"dividing by {n.right.value} is not exact (not a terminating decimal)",
                )
            assert r is not None
            n.ref = r
            return Ty("num", a.unit / b.unit, a.scale + dec_scale(r))
        b = self.num(n.right, el, "运算")
        if n.op in "+-":
            self.same_unit(n, a, b, "相加减", "add or subtract")
            return Ty("num", a.unit, max(a.scale, b.scale))
        return Ty("num", a.unit * b.unit, a.scale + b.scale)

    def compare(self, n: Compare, el: str | None) -> Ty:
        a = self.expr(n.left, el)
        b = self.expr(n.right, el)
        if a.kind != b.kind:
            self.fail(
                n,
                "type",
                f"不能比较{_KIND_ZH[a.kind]}与{_KIND_ZH[b.kind]}",
                f"cannot compare a {a.kind} with a {b.kind}",
            )
        if a.kind == "str":
            self._option_labels(n)
        if a.kind == "num":
            self.same_unit(n, a, b, "比较", "compare")
        elif a.kind in ("str", "bool"):
            if n.op not in ("==", "!="):
                self.fail(
                    n, "type", "类别只能用 == 或 != 比较", "categories can only be compared with == or !="
                )
            if a.kind == "str":
                for lit, other in ((n.left, b), (n.right, a)):
                    if isinstance(lit, Str) and other.domain is not None and lit.value not in other.domain:
                        zh, en = did_you_mean(
                            lit.value, [*other.domain, *(LABELS_ZH.get(v, v) for v in other.domain)]
                        )
                        self.fail(
                            lit,
                            "domain",
                            f"“{lit.value}”不是可能的取值{zh}（可选：{'、'.join(sorted(other.domain))}）",
                            f"'{lit.value}' is not a possible value{en} (one of: {', '.join(sorted(other.domain))})",
                        )
        return BOOL

    def if_(self, n: If, el: str | None) -> Ty:
        tys = []
        for c, v in n.branches:
            self.boolean(c, el)
            tys.append(self.expr(v, el))
        tys.append(self.expr(n.orelse, el))
        return self.join(n, tys)

    def join(self, n: Node, tys: list[Ty]) -> Ty:
        first = tys[0]
        for t in tys[1:]:
            if t.kind != first.kind:
                self.fail(n, "type", "各分支的类型不一致", "branches have different types")
            if t.kind == "num" and t.unit != first.unit:
                self.fail(
                    n,
                    "unit",
                    f"各分支单位不一致：{first.unit} 与 {t.unit}",
                    f"branches have different units: {first.unit} and {t.unit}",
                )
        if first.kind == "num":
            return Ty("num", first.unit, max(t.scale for t in tys))
        if first.kind == "str":
            doms = [t.domain for t in tys]
            dom = (
                None
                if any(d is None for d in doms)
                else frozenset().union(*[d for d in doms if d is not None])
            )
            return Ty("str", domain=dom)
        return first

    def name(self, n: Name, el: str | None) -> Ty:
        parts = n.parts
        if parts[0] == FACT_OBJECT:
            return self.fact(n)
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

    def fact(self, n: Name) -> Ty:
        """``fact.ID``: a fact the policy declares (anju.policy.declared)."""
        declared = self.p.facts
        if len(n.parts) != 2:
            self.fail(n, "fact", "方案事实应写成 fact.编号（如 fact.ac_units）", "a declared fact is written fact.ID")
        fid = n.parts[1]
        decl = declared.get(fid)
        if decl is None:
            have = "、".join(declared) if declared else "无（请在 facts: 中声明）"
            self.fail(n, "fact", f"未声明的事实“{fid}”（已声明：{have}）",
                      f"undeclared fact '{fid}' (declared: {', '.join(declared) or 'none'})")
        assert decl is not None
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

    def index(self, n: Index, el: str | None) -> Ty:
        name = n.name.parts[0] if len(n.name.parts) == 1 else ".".join(n.name.parts)
        param = self.p.params.get(name)
        if param is None or param.kind != "table":
            tables = [k for k, v in self.p.params.items() if v.kind == "table"]
            zh, en = did_you_mean(name, tables) if param is None else ("", "")
            self.fail(n, "table", f"“{name}”不是表格参数{zh}", f"'{name}' is not a table parameter{en}")
        assert param is not None
        if len(n.keys) != len(param.keys):
            self.fail(
                n,
                "table",
                f"表格“{name}”需要 {len(param.keys)} 个键（{', '.join(param.keys)}），给了 {len(n.keys)} 个",
                f"table '{name}' needs {len(param.keys)} keys ({', '.join(param.keys)}), got {len(n.keys)}",
            )
        domains: list[frozenset[str] | None] = []
        for k in n.keys:
            t = self.expr(k, el)
            if t.kind != "str":
                self.fail(k, "table", "表格的键应为类别（文字）", "table keys must be categories (text)")
            domains.append(t.domain)
        n.ref = ("table", name)
        if param.default is None:
            if any(d is None for d in domains):
                self.fail(
                    n,
                    "table",
                    f"表格“{name}”的键取值不确定，请给出 default（缺省值）",
                    f"the keys of table '{name}' are open-ended; give the table a default",
                )
            combos: list[tuple[str, ...]] = [()]
            for d in domains:
                assert d is not None
                combos = [(*c, v) for c in combos for v in sorted(d)]
            for entry in param.values:
                missing = [c for c in combos if c not in entry.value]
                if missing:
                    self.fail(
                        n,
                        "table",
                        f"表格“{name}”缺少键 {' / '.join(missing[0])}（共缺 {len(missing)} 个），请补全或给出 default",
                        f"table '{name}' has no entry for {' / '.join(missing[0])} ({len(missing)} missing); complete it or give a default",
                    )
        return Ty("num", param.unit, self.param_scale[name])

    def call(self, n: Call, el: str | None) -> Ty:
        f = n.func
        args = n.args
        if f in self.p.params and self.p.params[f].kind == "bands":
            param = self.p.params[f]
            self._arity(n, 1)
            t = self.num(args[0], el, "分档")
            if t.unit != param.by_unit:
                self.fail(
                    args[0],
                    "unit",
                    f"分档“{f}”按 {param.by_unit} 分档，这里是 {t.unit}",
                    f"bands '{f}' are by {param.by_unit}, got {t.unit}",
                )
            if t.scale != 0:
                self.fail(
                    args[0],
                    "bands",
                    "分档的依据应为整数（如人数）",
                    "bands are looked up by a whole number (e.g. persons)",
                )
            n.ref = ("bands", f)
            return Ty("num", param.unit, self.param_scale[f])
        if f not in FUNCTIONS:
            bands = [k for k, v in self.p.params.items() if v.kind == "bands"]
            zh, en = did_you_mean(f, [*FUNCTIONS, *bands])
            self.fail(n, "name", f"未定义的函数“{f}”{zh}", f"undefined function '{f}'{en}")
        if f in ("days_between", "months_between", "add_months"):
            return self.date_call(n, el)
        if f == "first" or (f in ("min", "max") and args and _is_collection(args[0])):
            return self.pick(n, el)
        if f in ("min", "max"):
            if len(args) < 2 or n.kwargs:
                self.fail(n, "arity", f"{f} 至少需要两个参数", f"{f} needs at least two arguments")
            tys = [self.num(a, el, f) for a in args]
            return self.join(n, tys)
        if f == "clamp":
            self._arity(n, 3)
            tys = [self.num(a, el, f) for a in args]
            return self.join(n, tys)
        if f in ("floor", "abs"):
            self._arity(n, 1)
            t = self.num(args[0], el, f)
            return Ty("num", t.unit, 0 if f == "floor" else t.scale)
        if f == "round":
            self._arity(n, 2)
            t = self.num(args[0], el, f)
            d = args[1]
            if not (
                isinstance(d, Num)
                and d.unit == ONE
                and d.value == d.value.to_integral_value()
                and 0 <= d.value <= 8
            ):
                self.fail(
                    d,
                    "round",
                    "round 的位数应为 0 到 8 的整数",
                    "round needs a whole number of places from 0 to 8",
                )
            assert isinstance(d, Num)
            d.ty = NUM0
            return Ty("num", t.unit, int(d.value))
        if f in ("sum", "count", "any"):
            need = 2 if f == "sum" else 1
            if len(args) != need or set(n.kwargs) - {"where"}:
                usage = {
                    "sum": "sum(集合, 表达式, where=条件)",
                    "count": "count(集合, where=条件)",
                    "any": "any(集合, where=条件)",
                }[f]
                self.fail(n, "arity", f"用法：{usage}", f"usage: {usage}")
            coll = args[0]
            if not (isinstance(coll, Name) and len(coll.parts) == 1 and coll.parts[0] in COLLECTIONS):
                given = ".".join(coll.parts) if isinstance(coll, Name) else ""
                zh, en = did_you_mean(given, COLLECTIONS) if given else ("", "")
                said_zh, said_en = (f"，这里是“{given}”{zh}", f", got '{given}'{en}") if given else ("", "")
                self.fail(
                    coll,
                    "collection",
                    f"第一个参数应为 members、buildings、tenants 或 flats{said_zh}",
                    f"the first argument must be members, buildings, tenants or flats{said_en}",
                )
            assert isinstance(coll, Name)
            inner = COLLECTIONS[coll.parts[0]]
            coll.ref = ("collection", inner)
            coll.ty = NUM0
            if "where" in n.kwargs:
                self.boolean(n.kwargs["where"], inner)
            if f == "sum":
                t = self.num(args[1], inner, "sum")
                return Ty("num", t.unit, t.scale)
            if f == "count":
                return Ty("num", COUNT_UNIT[inner], 0)
            return BOOL
        if f in ("sign_rate", "vacate_rate"):
            if len(args) != 2 or set(n.kwargs) - {"basis"}:
                self.fail(
                    n,
                    "arity",
                    f"用法：{f}('block' 或 'project' 或层级名, 截止日期[, basis='household'/'certificate'/'area'])",
                    f"usage: {f}(scope, as_of[, basis='household'|'certificate'|'area'])",
                )
            if "basis" in n.kwargs:
                self.rate_basis(n.kwargs["basis"])
            scope = args[0]
            levels = ("block", "project", *self.p.meta.block_levels)
            if not (isinstance(scope, Str) and scope.value in levels):
                given = scope.value if isinstance(scope, Str) else ""
                zh, en = did_you_mean(given, levels) if given else ("", "")
                self.fail(
                    scope,
                    "scope",
                    f"范围“{given}”不对{zh}，应为 {' / '.join(repr(x) for x in levels)}",
                    f"scope '{given}' is not one of {', '.join(levels)}{en}",
                )
            scope.ty = Ty("str")
            t = self.expr(args[1], el)
            if t.kind != "date":
                self.fail(
                    args[1],
                    "type",
                    "截止日期应为日期（时钟或 date('YYYY-MM-DD')）",
                    "as_of must be a date (a clock or date('YYYY-MM-DD'))",
                )
            return Ty("num", ONE, 6)
        if f == "measure":
            return self.measure_call(n, el)
        if f == "points_above":
            self._arity(n, 2)
            a = self.num(args[0], el, f)
            b = self.num(args[1], el, f)
            if not (a.unit.dimensionless and b.unit.dimensionless):
                self.fail(n, "unit", "points_above 用于比率（%）", "points_above compares rates (%)")
            return NUM0
        if f == "known":
            self._arity(n, 1)
            ka = args[0]
            if isinstance(ka, Name) and len(ka.parts) == 2 and ka.parts[0] == FACT_OBJECT:
                self.expr(ka, el)
                return BOOL
            if not (
                isinstance(ka, Name) and len(ka.parts) == 2 and (ka.parts[0], ka.parts[1]) in OPTIONAL_FIELDS
            ):
                given = ".".join(ka.parts) if isinstance(ka, Name) else ""
                zh, en = did_you_mean(given, [f"{o}.{a}" for o, a in OPTIONAL_FIELDS]) if given else ("", "")
                said_zh, said_en = (f"，这里是“{given}”{zh}", f", got '{given}'{en}") if given else ("", "")
                self.fail(
                    ka,
                    "known",
                    f"known() 只能检查可能缺失的事实（签约日、腾空日、评估值、房源价格…）{said_zh}",
                    f"known() checks a fact that may be missing (sign date, vacate date, valuation ...){said_en}",
                )
            self.expr(ka, el)
            return BOOL
        if f == "flag":
            self._arity(n, 1)
            if not isinstance(args[0], Str):
                self.fail(
                    args[0],
                    "flag",
                    "flag() 需要一个文字标记，如 flag('临街')",
                    "flag() needs a text flag, e.g. flag('corner')",
                )
            args[0].ty = Ty("str")
            return BOOL
        if f == "date":
            self._arity(n, 1)
            da = args[0]
            try:
                assert isinstance(da, Str)
                n.ref = date.fromisoformat(da.value)
            except (AssertionError, ValueError):
                self.fail(
                    da, "date", "date() 需要 'YYYY-MM-DD' 格式的日期", "date() needs a 'YYYY-MM-DD' text"
                )
            da.ty = Ty("str")
            return DATE
        raise AssertionError(f)

    def _option_labels(self, n: Compare) -> None:
        """``option == '产权调换'``: an option's label stands for its id."""
        by_label = {label: oid for oid, label in self.p.options.items()}
        for side, other in ((n.left, n.right), (n.right, n.left)):
            if (
                isinstance(other, Name)
                and other.ref == ("option",)
                and isinstance(side, Str)
                and side.value not in self.p.options
                and side.value in by_label
            ):
                side.value = by_label[side.value]

    def date_call(self, n: Call, el: str | None) -> Ty:
        """``days_between(a, b, inclusive=)``, ``months_between(a, b, started=)``, ``add_months(d, n)``
        (conventions: anju.policy.datecalc)."""
        f = n.func
        flag = {"days_between": "inclusive", "months_between": "started"}.get(f)
        usage = {
            "days_between": "days_between(起始日期, 结束日期, inclusive=true/false)",
            "months_between": "months_between(起始日期, 结束日期, started=true/false)",
            "add_months": "add_months(日期, 月数)",
        }[f]
        if len(n.args) != 2 or set(n.kwargs) - ({flag} if flag else set()):
            self.fail(n, "arity", f"用法：{usage}", f"usage: {usage}")
        first = self.expr(n.args[0], el)
        if first.kind != "date":
            self.fail(
                n.args[0],
                "type",
                f"{f} 的第一个参数应为日期，这里是{_KIND_ZH[first.kind]}",
                f"the first argument of {f} must be a date, got a {first.kind}",
            )
        if f == "add_months":
            t = self.num(n.args[1], el, "add_months")
            if not (t.unit == MONTH or t.unit.dimensionless) or t.scale != 0:
                self.fail(
                    n.args[1],
                    "unit",
                    f"add_months 的月数应为整数个月（单位 月），这里是 {t.unit}"
                    f"{'（有小数）' if t.scale else ''}",
                    f"add_months needs a whole number of months (unit 月), got {t.unit}",
                )
            n.ref = ("add_months",)
            return DATE
        second = self.expr(n.args[1], el)
        if second.kind != "date":
            self.fail(
                n.args[1],
                "type",
                f"{f} 的第二个参数应为日期，这里是{_KIND_ZH[second.kind]}",
                f"the second argument of {f} must be a date, got a {second.kind}",
            )
        on = False
        if flag in n.kwargs:
            b = n.kwargs[flag]
            if not isinstance(b, Bool):
                self.fail(b, "type", f"{flag}= 应写 true 或 false", f"{flag}= must be true or false")
            assert isinstance(b, Bool)
            b.ty = BOOL
            on = b.value
        n.ref = (f, on)
        return Ty("num", DAY if f == "days_between" else MONTH, 0)

    def pick(self, n: Call, el: str | None) -> Ty:
        """``max|min(集合, 表达式, where=, else=)`` and ``first(集合, 表达式, where=, order=表达式 [desc],
        else=)``: ``else=`` (required) is the value when no element is selected."""
        f = n.func
        allowed = {"where", "else", *(("order", "desc") if f == "first" else ())}
        usage = (
            f"{f}(集合, 表达式, where=条件, order=排序表达式 [desc], else=无元素时的值)"
            if f == "first"
            else f"{f}(集合, 表达式, where=条件, else=无元素时的值)"
        )
        if len(n.args) != 2 or set(n.kwargs) - allowed:
            self.fail(n, "arity", f"用法：{usage}", f"usage: {usage}")
        coll = n.args[0]
        if not _is_collection(coll):
            self.fail(
                coll,
                "collection",
                f"第一个参数应为集合（{'、'.join(COLLECTIONS)}）",
                f"the first argument must be a collection ({', '.join(COLLECTIONS)})",
            )
        assert isinstance(coll, Name)
        inner = COLLECTIONS[coll.parts[0]]
        coll.ref = ("collection", inner)
        coll.ty = NUM0
        if "where" in n.kwargs:
            self.boolean(n.kwargs["where"], inner)
        t = self.expr(n.args[1], inner)
        if f != "first" and t.kind != "num":
            self.fail(
                n.args[1],
                "type",
                f"{f} 需要数值，这里是{_KIND_ZH[t.kind]}",
                f"{f} needs a number, got a {t.kind}",
            )
        if t.kind == "date":
            self.fail(
                n.args[1],
                "type",
                "first 取数值、类别或条件，不取日期",
                "first takes a number, a category or a condition, not a date",
            )
        if "order" in n.kwargs:
            self.num(n.kwargs["order"], inner, "排序 order")
        if "desc" in n.kwargs and not isinstance(n.kwargs["desc"], Bool):
            self.fail(n.kwargs["desc"], "type", "desc 应写 true 或 false", "desc must be true or false")
        if "desc" in n.kwargs:
            n.kwargs["desc"].ty = BOOL
        if "else" not in n.kwargs:
            self.fail(
                n,
                "empty",
                f"{f} 的集合可能为空（或没有元素满足 where），请用 else= 给出此时的取值，如 else=0",
                f"{f} may find no element: give its value then with else=, e.g. else=0",
            )
        dn = n.kwargs["else"]
        if isinstance(dn, Num) and dn.value == 0 and dn.unit == ONE and t.kind == "num":
            dn.ty = d = Ty("num", t.unit, 0)  # a bare 0 takes the unit of the values
        else:
            d = self.expr(dn, el)
        n.ref = ("pick", inner)
        return self.join(n, [t, d])

    def rate_basis(self, b: Node) -> None:
        """``basis=`` of a sign/vacate rate: by household (户), certificate (证) or legal area (面积)."""
        from anju.policy.facts import BASES, BASIS_ALIASES

        if not (isinstance(b, Str) and BASIS_ALIASES.get(b.value, b.value) in BASES):
            self.fail(
                b,
                "basis",
                "basis 应为 'household'（按户）、'certificate'（按证）或 'area'（按合法面积）",
                "basis must be 'household', 'certificate' or 'area'",
            )
        assert isinstance(b, Str)
        b.ty = Ty("str")

    def measure_call(self, n: Call, el: str | None) -> Ty:
        """``measure('指标', '层级', 日期)``: an office-set group measure as of a date."""
        args = n.args
        if len(args) != 3 or n.kwargs:
            self.fail(
                n,
                "arity",
                "用法：measure('指标名', 'project' 或层级名, 截止日期)",
                "usage: measure('measure id', scope, as_of)",
            )
        mid, scope = args[0], args[1]
        measures = self.p.measures
        if not (isinstance(mid, Str) and mid.value in measures):
            known = "、".join(measures) or "（本方案未在 measures 中定义任何指标）"
            self.fail(
                mid,
                "measure",
                f"未定义的指标，可用：{known}",
                f"unknown measure (defined: {', '.join(measures) or 'none'})",
            )
        assert isinstance(mid, Str)
        m = measures[mid.value]
        mid.ty = Ty("str")
        if not (isinstance(scope, Str) and scope.value in m.levels):
            self.fail(
                scope,
                "scope",
                f"指标“{m.label}”只在这些层级录入：{'、'.join(m.levels)}",
                f"measure '{m.id}' is recorded at: {', '.join(m.levels)}",
            )
        scope.ty = Ty("str")
        t = self.expr(args[2], el)
        if t.kind != "date":
            self.fail(
                args[2],
                "type",
                "截止日期应为日期（时钟或 date('YYYY-MM-DD')）",
                "as_of must be a date (a clock or date('YYYY-MM-DD'))",
            )
        return Ty("num", m.unit, m.scale)

    def _arity(self, n: Call, k: int) -> None:
        if len(n.args) != k or n.kwargs:
            self.fail(n, "arity", f"{n.func} 需要 {k} 个参数", f"{n.func} needs {k} argument(s)")

    # -- items

    def check_items(self) -> dict[str, set[str]]:
        deps: dict[str, set[str]] = {}
        for it in self.p.items:
            self.deps = set()
            el = "building" if it.per == "certificate" else None
            t = self.check_formula(it.formula, el)
            if t is not None:
                self.formula = it.formula
                if t.kind != "num" or not money_compatible(t.unit, it.per):
                    want = "元" if it.per == "household" else "元 或 元/证"
                    unit = t.unit if t.kind == "num" else _KIND_ZH[t.kind]
                    self.err(
                        it.formula.node,
                        "unit",
                        f"项目“{it.id}”应得出金额（{want}），公式得出的是 {unit}",
                        f"item '{it.id}' must come out in money ({want}), the formula gives {unit}",
                    )
                self.formula = None
            if it.when is not None:
                tw = self.check_formula(it.when, el)
                if tw is not None and tw.kind != "bool":
                    self.formula = it.when
                    self.err(
                        it.when.node, "type", "适用条件 when 应为条件（真/假）", "when must be a condition"
                    )
                    self.formula = None
            for f, fel in (
                (it.floor, el),
                (it.cap, el),
                (it.household_floor, None),
                (it.household_cap, None),
            ):
                tf = self.check_formula(f, fel)
                if (
                    tf is not None
                    and f is not None
                    and (tf.kind != "num" or not money_compatible(tf.unit, it.per if fel else "household"))
                ):
                    self.formula = f
                    self.err(f.node, "unit", "保底/封顶应为金额（元）", "floor / cap must be money (元)")
                    self.formula = None
            for d in self.deps:
                if d.startswith(SUBTOTAL_MARK):
                    continue  # an item not offered under an option is simply absent from its subtotal
                dep = self.items[d]
                missing = [o for o in it.options if o not in dep.options]
                if missing:
                    self.problems.append(
                        Problem(
                            "option",
                            f"项目“{it.id}”引用了“{d}”，但“{d}”不属于补偿方式 {', '.join(missing)}",
                            f"item '{it.id}' uses '{d}', which is not part of option(s) {', '.join(missing)}",
                            it.src.location(),
                        )
                    )
            deps[it.id] = set(self.deps)
        for dname, dv in self.p.derived.items():
            if self.derived_state.get(dname) is None:
                self.deps = set()
                try:
                    self.formula = dv.formula
                    self.derived_type(dv.formula.node or Num(0, 0, Decimal(0), ONE), dname)
                except _Abort:
                    pass
                self.formula = None
        sw = self.p.swap
        if sw is not None:
            entitled = Ty("num", M2, 2)  # stands in when entitled_area itself has an error
            for f, unit in (
                (sw.entitled_area, M2),
                (sw.credit, YUAN),
                (sw.cost_price, YUAN / M2),
                (sw.extra_price, YUAN / M2),
                (sw.market_price, YUAN / M2),
                (sw.refund_price, YUAN / M2),
            ):
                self.deps = set()
                t = self.check_formula(f, None)
                if t is not None and f is not None and (t.kind != "num" or t.unit != unit):
                    self.formula = f
                    self.err(f.node, "unit", f"此处应为 {unit}", f"{unit} expected here")
                    self.formula = None
                if f is sw.entitled_area and t is not None and t.kind == "num" and t.unit == M2:
                    entitled = t
            if sw.entitlement is not None:
                check_entitlement(self, sw.entitlement, entitled)
        if self.p.transition is not None:
            check_transition(self, self.p.transition)
        return deps

    def order(self, deps: dict[str, set[str]]) -> list[str]:
        out: list[str] = []
        state: dict[str, int] = {}

        def visit(i: str, chain: list[str]) -> None:
            if state.get(i) == 2:
                return
            if state.get(i) == 1:
                cyc = " -> ".join(_node_text(x) for x in [*chain[chain.index(i) :], i])
                where = self.subtotals[i[1:]].src if i.startswith(SUBTOTAL_MARK) else self.items[i].src
                self.problems.append(
                    Problem(
                        "cycle",
                        f"项目循环引用：{cyc}",
                        f"items refer to each other in a cycle: {cyc}",
                        where.location(),
                    )
                )
                return
            state[i] = 1
            # a subtotal (marked) depends on the items it adds up
            nexts = self.subtotal_leaves.get(i[1:], ()) if i.startswith(SUBTOTAL_MARK) else deps.get(i, ())
            for d in sorted(nexts):
                visit(d, [*chain, i])
            state[i] = 2
            if not i.startswith(SUBTOTAL_MARK):
                out.append(i)

        for it in self.p.items:
            visit(it.id, [])
        return out


class _Abort(Exception):
    """Stops checking one formula after its first error."""


# Marks a subtotal among the items a formula depends on (ids cannot contain it).
SUBTOTAL_MARK = "§"


def _node_text(x: str) -> str:
    return f"小计 {x[1:]}" if x.startswith(SUBTOTAL_MARK) else x


def check_subtotals(c: _Checker) -> None:
    """Resolve every subtotal to the items it adds up; report unknown parts, subtotals that
    contain themselves and items a subtotal would count twice."""
    state: dict[str, int] = {}

    def leaves(sid: str, chain: list[str]) -> tuple[str, ...]:
        if state.get(sid) == 2:
            return c.subtotal_leaves.get(sid, ())
        sub = c.subtotals[sid]
        if state.get(sid) == 1:
            cyc = " -> ".join([*chain[chain.index(sid) :], sid])
            c.problems.append(
                Problem(
                    "cycle",
                    f"小计循环包含：{cyc}",
                    f"subtotals contain each other in a cycle: {cyc}",
                    sub.src.location(),
                )
            )
            return ()
        state[sid] = 1
        out: list[str] = []
        via: dict[str, str] = {}
        for k, part in enumerate(sub.parts):
            loc = (sub.part_srcs[k] if k < len(sub.part_srcs) else sub.src).location()
            if part in c.items:
                got: tuple[str, ...] = (part,)
            elif part in c.subtotals:
                got = leaves(part, [*chain, sid])
            else:
                what = c.names.get(part)
                zh = f"（它是{_DECL_ZH.get(what, what)}）" if what else ""
                c.problems.append(
                    Problem(
                        "subtotal",
                        f"小计“{sid}”中的“{part}”不是补偿项目或小计{zh}",
                        f"'{part}' in subtotal '{sid}' is neither an item nor a subtotal",
                        loc,
                    )
                )
                continue
            for leaf in got:
                if leaf in via:
                    first, now = via[leaf], part
                    how = "重复列出" if first == now == leaf else f"经“{first}”与“{now}”"
                    c.problems.append(
                        Problem(
                            "subtotal",
                            f"小计“{sid}”把项目“{leaf}”计入两次（{how}）",
                            f"subtotal '{sid}' counts item '{leaf}' twice (through '{first}' and '{now}')",
                            loc,
                        )
                    )
                    continue
                via[leaf] = part
                out.append(leaf)
        state[sid] = 2
        c.subtotal_leaves[sid] = tuple(out)
        c.subtotal_order.append(sid)
        return c.subtotal_leaves[sid]

    for sub in c.p.subtotals:
        leaves(sub.id, [])


_DECL_ZH = {
    "parameter": "参数",
    "clock": "时钟",
    "tier": "时间窗分档",
    "derived": "中间量",
    "item": "项目",
    "subtotal": "小计",
}


FIELD_OBJECTS = {"household", "homestead", "building", "member", "tenant", "flat"}
FACT_OBJECT = "fact"  # fact.ID reads a fact the policy declares


def fact_type(decl: FactDecl) -> Ty:
    """The static type formulas see for a declared fact."""
    if decl.type == "date":
        return DATE
    if decl.type == "yesno":
        return BOOL
    if decl.type == "category":
        return Ty("str", domain=frozenset(decl.choices))
    return Ty("num", decl.unit, decl.places)


def _is_collection(n: Node) -> bool:
    """Whether ``n`` names a collection (members, buildings ... : the registry COLLECTIONS)."""
    return isinstance(n, Name) and len(n.parts) == 1 and n.parts[0] in COLLECTIONS


_KIND_ZH = {"num": "数值", "bool": "条件", "str": "类别", "date": "日期"}


def check_policy(policy: Policy, problems: list[Problem] | None = None) -> Checked:
    """Check a read policy: names, types, units, scales, table completeness, tiers and cycles.

    Raises :class:`PolicyError` with every problem found (including ``problems`` from reading).
    """
    c = _Checker(policy)
    c.problems.extend(problems or [])
    c.problems.extend(verify_published(policy))
    c.declarations()
    check_subtotals(c)
    deps = c.check_items()
    order = c.order(deps)
    if c.problems:
        raise PolicyError(sorted(c.problems, key=lambda p: (p.location.line, p.location.column)))
    position = {i: k for k, i in enumerate(order)}
    leaves = {s: tuple(sorted(ls, key=position.__getitem__)) for s, ls in c.subtotal_leaves.items()}
    item_deps = {
        i: {x for d in ds for x in (leaves[d[1:]] if d.startswith(SUBTOTAL_MARK) else (d,))}
        for i, ds in deps.items()
    }
    return Checked(
        policy,
        order,
        c.items,
        c.param_scale,
        c.tier_scale,
        item_deps,
        dict(c.derived_ty),
        dict(c.subtotals),
        leaves,
        list(c.subtotal_order),
    )


def load_policy(text: str, file: str = "<policy>") -> Checked:
    """Read and check a policy from YAML text; raises :class:`PolicyError` listing all problems."""
    try:
        policy, problems = read_policy(text, file)
        return check_policy(policy, problems)
    except RecursionError as exc:  # a formula or document nested thousands deep: no real policy
        raise PolicyError(
            [
                Problem(
                    "too_deep",
                    "方案嵌套层次过深（公式括号或 YAML 层级）",
                    "policy nested too deeply",
                    Location(file, 1, 1),
                )
            ]
        ) from exc


def load_policy_file(path: str | Path) -> Checked:
    """Read and check a policy file (UTF-8; a byte that is not is reported with its line and column)."""
    p = Path(path)
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", errors="replace")) + 1
        raise PolicyError(
            [
                Problem(
                    "encoding",
                    "方案文件须为 UTF-8 编码的文本",
                    "the policy file must be UTF-8 text",
                    Location(str(p), line, column),
                )
            ]
        ) from exc
    return load_policy(text, str(p))


def rate_basis(n: Call) -> str:
    """The basis of a checked sign/vacate rate call ('household' unless ``basis=`` says otherwise)."""
    from anju.policy.facts import BASIS_ALIASES

    b = n.kwargs.get("basis")
    if b is None:
        return "household"
    text = str(b.value)  # type: ignore[attr-defined]
    return BASIS_ALIASES.get(text, text)
