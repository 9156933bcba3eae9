"""The ``entitlement`` block of ``swap_settlement``: what a swap household may select (安置资格).

Written as data in the policy::

    swap_settlement:
      ...
      entitlement:
        max_area: entitled + 30㎡            # formula or number (㎡): maximum total area of the flats
        max_flats: if persons >= 4人 then 2 else 1   # formula or whole number: maximum number of flats
        rules:
          - id: big_flat
            label: 应安置面积超过60㎡的，至少选一套60㎡及以上的房源
            when: entitled > 60㎡            # optional; without it the rule always applies
            require: {min_flat_area: {area: 60㎡, count: 1}}
          - {id: small, when: entitled <= 45㎡, require: {max_flat_area: 60㎡}}
          - {id: types, when: entitled <= 60㎡, require: {flat_types_allowed: [一室一厅, 两室一厅]}}

Inside these formulas ``entitled`` is the household's entitled swap area (the value of
``swap_settlement.entitled_area``); every other name is what item formulas see.

This module holds the definitions, their reading (called by :mod:`anju.policy.model`) and their
checking (called by :mod:`anju.policy.check`); evaluation against flats is in :mod:`anju.policy.swap`.
It imports neither of those two at run time (they import it).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from anju.policy.errors import Problem
from anju.policy.units import M2

if TYPE_CHECKING:
    from anju.policy.check import Ty, _Checker
    from anju.policy.model import Formula, Src, _Reader

# Names only entitlement formulas see, and what they mean.
ENTITLEMENT_NAMES = {"entitled": "应安置面积 entitled swap area"}

REQUIREMENTS = ("min_flat_area", "max_flat_area", "flat_types_allowed")

# Ids of the limits every entitlement has (and of the old swap_settlement.flat_types rule):
# violations carry them, so policy rules may not reuse them.
BUILTIN_RULE_IDS = {
    "max_area": "最大可选面积",
    "max_flats": "最多可选套数",
    "flat_types": "可选户型（swap_settlement.flat_types）",
}

MAX_FLATS_LIMIT = 20  # a written number of flats above this is a typo, not a policy


@dataclass(slots=True)
class Requirement:
    """What a rule requires of the chosen flats.

    * ``min_flat_area``: at least ``count`` flats of ``area`` or more;
    * ``max_flat_area``: no flat larger than ``area``;
    * ``flat_types_allowed``: every flat of one of ``flat_types`` (type code or name).
    """

    kind: str
    area: Formula | None = None
    count: int = 1
    flat_types: tuple[str, ...] = ()


@dataclass(slots=True)
class RuleSpec:
    """One selection rule as written: applies when ``when`` holds (always without it); ``label``
    is empty when the policy gives none."""

    id: str
    label: str
    when: Formula | None
    require: Requirement
    src: Src


@dataclass(slots=True)
class EntitlementSpec:
    """The ``entitlement`` block: limits and rules, all formulas of the household."""

    max_area: Formula | None
    max_flats: Formula | None
    rules: list[RuleSpec]
    src: Src


# ----------------------------------------------------------------------------- reading


def _area_formula(r: _Reader, value: Any, path: tuple[Any, ...], what: str) -> Formula | None:
    """An area written as a formula (``60㎡``, ``entitled + 30㎡``) or a bare number of ㎡."""
    if value is None:
        return None
    if isinstance(value, bool):
        r.err(
            path,
            "number",
            f"{what} 应为面积（如 60㎡）或公式",
            f"{what} must be an area (e.g. 60㎡) or a formula",
        )
        return None
    if isinstance(value, int | Decimal):
        value = f"{value}㎡"  # a YAML number is an area in ㎡
    return r.formula(value, path)


def _count_formula(r: _Reader, value: Any, path: tuple[Any, ...]) -> Formula | None:
    if value is None:
        return None
    if isinstance(value, bool) or (isinstance(value, Decimal) and value != value.to_integral_value()):
        r.err(
            path,
            "number",
            "max_flats 应为整数套数或公式",
            "max_flats must be a whole number of flats or a formula",
        )
        return None
    if isinstance(value, int | Decimal) and not 0 <= value <= MAX_FLATS_LIMIT:
        r.err(
            path,
            "number",
            f"max_flats 应在 0 到 {MAX_FLATS_LIMIT} 之间",
            f"max_flats must be 0 to {MAX_FLATS_LIMIT}",
        )
        return None
    return r.formula(value, path)


def read_entitlement(r: _Reader, value: Any, path: tuple[Any, ...]) -> EntitlementSpec | None:
    """Read the ``entitlement`` block at ``path``; every mistake becomes a problem with its place."""
    if value is not None and not isinstance(value, dict):
        r.err(
            path,
            "type",
            "entitlement 应为映射（max_area / max_flats / rules）",
            "entitlement must be a mapping (max_area / max_flats / rules)",
        )
        return None
    spec = r.mapping(value, path, "entitlement")
    r.unknown_keys(spec, {"max_area", "max_flats", "rules"}, path)
    max_area = _area_formula(r, spec.get("max_area"), (*path, "max_area"), "最大可选面积 max_area")
    max_flats = _count_formula(r, spec.get("max_flats"), (*path, "max_flats"))
    raw = spec.get("rules")
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        r.err((*path, "rules"), "type", "rules 应为列表（每条规则以 - 开头）", "rules must be a list")
        raw = []
    rules: list[RuleSpec] = []
    seen: dict[str, int] = {}
    for i, rs in enumerate(raw):
        rule = _read_rule(r, rs, (*path, "rules", i), seen, i)
        if rule is not None:
            rules.append(rule)
    return EntitlementSpec(max_area, max_flats, rules, r.src(path))


def _read_rule(r: _Reader, rs: Any, rp: tuple[Any, ...], seen: dict[str, int], i: int) -> RuleSpec | None:
    if not isinstance(rs, dict):
        r.err(
            rp,
            "rule",
            "每条选房规则应为映射（id / label / when / require）",
            "each selection rule must be a mapping (id / label / when / require)",
        )
        return None
    r.unknown_keys(rs, {"id", "label", "when", "require"}, rp)
    raw_id = rs.get("id")
    if raw_id is None or isinstance(raw_id, dict | list) or not str(raw_id).strip():
        r.err(rp, "rule", f"第 {i + 1} 条选房规则缺少 id", f"selection rule {i + 1} has no id")
        return None
    rid = str(raw_id).strip()
    if any(ch.isspace() for ch in rid):
        r.err((*rp, "id"), "rule", f"规则 id“{rid}”不能含空格", f"rule id '{rid}' must not contain spaces")
    if rid in BUILTIN_RULE_IDS:
        r.err(
            (*rp, "id"),
            "reserved",
            f"规则 id“{rid}”是保留名称（{BUILTIN_RULE_IDS[rid]}），请换一个",
            f"rule id '{rid}' is reserved; choose another",
        )
    elif rid in seen:
        r.err(
            (*rp, "id"),
            "duplicate",
            f"规则 id“{rid}”重复（第 {seen[rid] + 1} 条已使用）",
            f"rule id '{rid}' is used twice (rule {seen[rid] + 1})",
        )
    else:
        seen[rid] = i
    label = str(rs.get("label") or "")  # empty: the requirement described is shown instead
    when = r.formula(rs.get("when"), (*rp, "when"))
    req = _read_requirement(r, rs.get("require"), (*rp, "require"), rid)
    # A broken requirement has been reported; the rule is kept so that its condition is checked too.
    return RuleSpec(rid, label, when, req or Requirement("invalid"), r.src(rp))


def _read_requirement(r: _Reader, req: Any, qp: tuple[Any, ...], rid: str) -> Requirement | None:
    kinds = " / ".join(REQUIREMENTS)
    if req is None:
        r.err(
            qp[:-1],
            "missing",
            f"规则“{rid}”缺少 require（{kinds} 之一）",
            f"rule '{rid}' needs require ({kinds})",
        )
        return None
    if not isinstance(req, dict):
        r.err(
            qp,
            "type",
            f"require 应为映射，如 {{min_flat_area: {{area: 60㎡, count: 1}}}}（{kinds} 之一）",
            f"require must be a mapping with one of {kinds}",
        )
        return None
    r.unknown_keys(req, set(REQUIREMENTS), qp)
    known = [k for k in req if k in REQUIREMENTS]
    if len(known) != 1:
        if len(known) > 1 or len(req) == 0:
            r.err(
                qp,
                "rule",
                f"每条规则的 require 只能写一项要求（{kinds}），这里有 {len(known)} 项",
                f"require takes exactly one of {kinds}, got {len(known)}",
            )
        return None
    kind = known[0]
    v = req[kind]
    kp = (*qp, kind)
    if kind == "flat_types_allowed":
        if not isinstance(v, list) or not v:
            r.err(
                kp,
                "type",
                "flat_types_allowed 应为户型列表，如 [A, B] 或 [两室一厅]",
                "flat_types_allowed must be a non-empty list of flat types",
            )
            return None
        types: list[str] = []
        for j, t in enumerate(v):
            if t is None or isinstance(t, dict | list | bool) or not str(t).strip():
                r.err((*kp, j), "type", f"第 {j + 1} 个户型应为文字", f"flat type {j + 1} must be text")
                return None
            types.append(str(t).strip())
        return Requirement(kind, flat_types=tuple(types))
    count = 1
    if isinstance(v, dict):
        r.unknown_keys(v, {"area", "count"} if kind == "min_flat_area" else {"area"}, kp)
        area_raw = v.get("area")
        apath: tuple[Any, ...] = (*kp, "area")
        if kind == "min_flat_area" and "count" in v:
            c = v["count"]
            if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= MAX_FLATS_LIMIT:
                r.err(
                    (*kp, "count"),
                    "number",
                    f"count 应为 1 到 {MAX_FLATS_LIMIT} 的整数套数",
                    f"count must be a whole number of flats from 1 to {MAX_FLATS_LIMIT}",
                )
            else:
                count = c
    else:
        area_raw, apath = v, kp
    if area_raw is None:
        r.err(
            kp,
            "missing",
            f"{kind} 需要面积 area，如 {{area: 60㎡}}",
            f"{kind} needs an area, e.g. {{area: 60㎡}}",
        )
        return None
    area = _area_formula(r, area_raw, apath, "面积 area")
    if area is None:
        return None
    return Requirement(kind, area=area, count=count)


# ----------------------------------------------------------------------------- checking


def check_entitlement(c: _Checker, spec: EntitlementSpec, entitled: Ty) -> None:
    """Type-check the block: areas in ㎡, counts whole and dimensionless, conditions true/false,
    items used must belong to the swap option, and the names of entitlement formulas must be free."""
    for name in ENTITLEMENT_NAMES:
        if name in c.names:
            c.problems.append(
                Problem(
                    "reserved",
                    f"方案定义了“{name}”，但在 entitlement 中“{name}”表示{ENTITLEMENT_NAMES[name]}，请改名",
                    f"'{name}' is defined by the policy but means the entitled swap area inside entitlement; rename it",
                    spec.src.location(),
                )
            )
    c.extra_names = {"entitled": entitled}
    try:
        _expect(c, spec.max_area, "area", "最大可选面积 max_area")
        _expect(c, spec.max_flats, "count", "最多可选套数 max_flats")
        for rule in spec.rules:
            _expect(c, rule.when, "bool", f"规则“{rule.id}”的适用条件 when")
            _expect(c, rule.require.area, "area", f"规则“{rule.id}”的面积 area")
    finally:
        c.extra_names = {}


def _expect(c: _Checker, f: Formula | None, want: str, what: str) -> None:
    if f is None:
        return
    c.deps = set()
    t = c.check_formula(f, None)
    if t is None:
        return
    c.formula = f
    try:
        if want == "bool" and t.kind != "bool":
            c.err(f.node, "type", f"{what} 应为条件（真/假）", f"{what} must be a condition (true/false)")
        elif want == "area" and (t.kind != "num" or t.unit != M2):
            got = _shown(t)
            c.err(
                f.node,
                "unit",
                f"{what} 应为面积（㎡），公式得出的是{got}",
                f"{what} must be an area (㎡), the formula gives {t.unit if t.kind == 'num' else t.kind}",
            )
        elif want == "count":
            if t.kind != "num" or not t.unit.dimensionless:
                c.err(
                    f.node,
                    "unit",
                    f"{what} 应为套数（纯数，如 2），公式得出的是{_shown(t)}；"
                    "按人数定套数请写成 if persons >= 4人 then 2 else 1",
                    f"{what} must be a plain number of flats, the formula gives {t.unit if t.kind == 'num' else t.kind}",
                )
            elif t.scale != 0:
                c.err(
                    f.node,
                    "type",
                    f"{what} 应为整数，请用 floor(...) 取整",
                    f"{what} must be whole; use floor(...)",
                )
        swap_items = [d for d in sorted(c.deps) if "swap" in c.p.options and "swap" not in c.items[d].options]
        if swap_items:
            c.err(
                f.node,
                "option",
                f"{what} 引用了不属于产权调换（swap）的项目：{'、'.join(swap_items)}",
                f"{what} uses item(s) outside the swap option: {', '.join(swap_items)}",
            )
    finally:
        c.formula = None


def _shown(t: Ty) -> str:
    """What a formula gives, in words for a message: a unit, a plain number or a kind."""
    if t.kind == "num":
        return "纯数" if t.unit.dimensionless else f" {t.unit}"
    return {"bool": "条件（真/假）", "str": "类别", "date": "日期"}[t.kind]
