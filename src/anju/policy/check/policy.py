"""Items and their ordering, subtotals, the assembled checker and the entry points
(:func:`check_policy`, :func:`load_policy`, :func:`load_policy_file`)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from anju.policy.check.calls import _CheckerCalls
from anju.policy.check.exprs import _CheckerExprs
from anju.policy.check.names import _CheckerNames
from anju.policy.check.types import _DECL_ZH, _KIND_ZH, SUBTOTAL_MARK, Checked, Ty, _Abort, _node_text
from anju.policy.errors import Location, PolicyError, Problem
from anju.policy.expr import Call, Num
from anju.policy.model import Policy, read_policy
from anju.policy.selection_rules import check_entitlement
from anju.policy.transition import check_transition
from anju.policy.units import M2, ONE, YUAN, money_compatible
from anju.policy.versioning import verify_published
from anju.policy.yaml_source import read_yaml_file


class _Checker(_CheckerNames, _CheckerExprs, _CheckerCalls):
    """The checker: every part of the checks over one policy."""

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
    """Read and check a policy file (UTF-8; a byte that is not is reported with its line and column;
    a directory, a workbook or a file too large is refused: :func:`anju.policy.yaml_source.read_yaml_file`)."""
    p = Path(path)
    return load_policy(read_yaml_file(p, "方案文件", "the policy file"), str(p))


def rate_basis(n: Call) -> str:
    """The basis of a checked sign/vacate rate call ('household' unless ``basis=`` says otherwise)."""
    from anju.policy.facts import BASIS_ALIASES

    b = n.kwargs.get("basis")
    if b is None:
        return "household"
    text = str(b.value)  # type: ignore[attr-defined]
    return BASIS_ALIASES.get(text, text)
