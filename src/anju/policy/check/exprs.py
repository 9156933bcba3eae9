"""Types, units and scales of expressions: numbers, arithmetic, comparisons, ``if``, joins and
indexing of tables and bands."""

from __future__ import annotations

from anju.policy.check.base import _CheckerBase
from anju.policy.check.types import _KIND_ZH, BOOL, Ty, _Abort, dec_scale, reciprocal
from anju.policy.expr import Binary, Bool, BoolOp, Call, Compare, If, Index, Name, Node, Not, Num, Str, Unary
from anju.policy.facts import LABELS_ZH, canonical
from anju.policy.model import Formula
from anju.policy.suggest import did_you_mean


class _CheckerExprs(_CheckerBase):
    """Types, units and scales of expressions."""

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
