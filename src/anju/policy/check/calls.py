"""Calls: functions, aggregates over collections, date functions, ``pick``, sign/vacate rates and
group measures."""

from __future__ import annotations

from datetime import date

from anju.policy.check.base import _CheckerBase
from anju.policy.check.types import (
    _KIND_ZH,
    BOOL,
    COLLECTIONS,
    COUNT_UNIT,
    DATE,
    FACT_OBJECT,
    FUNCTIONS,
    NUM0,
    OPTIONAL_FIELDS,
    Ty,
    _is_collection,
)
from anju.policy.expr import Bool, Call, Compare, Name, Node, Num, Str
from anju.policy.suggest import did_you_mean
from anju.policy.units import DAY, MONTH, ONE


class _CheckerCalls(_CheckerBase):
    """Calls: functions, collections, dates, ``pick``, rates and group measures."""

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
        if f in ("days_between", "months_between", "add_months", "add_days"):
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
            if isinstance(ka, Name) and (
                (len(ka.parts) == 2 and ka.parts[0] == FACT_OBJECT)
                or (
                    len(ka.parts) == 3
                    and ka.parts[0] in ("building", "member")
                    and ka.parts[1] == FACT_OBJECT
                )
            ):
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
            "add_days": "add_days(日期, 天数)",
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
        if f == "add_days":
            t = self.num(n.args[1], el, "add_days")
            if not (t.unit == DAY or t.unit.dimensionless) or t.scale != 0:
                self.fail(
                    n.args[1],
                    "unit",
                    f"add_days 的天数应为整数天（单位 日），这里是 {t.unit}{'（有小数）' if t.scale else ''}",
                    f"add_days needs a whole number of days (unit 日), got {t.unit}",
                )
            n.ref = ("add_days",)
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
