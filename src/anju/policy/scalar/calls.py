"""Scalar evaluator part: calls (functions, aggregates over collections, date functions, ``pick``
and group measures)."""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

from anju.policy.check import COLLECTIONS, rate_basis
from anju.policy.datecalc import add_days_d, add_months_d, days_between_d, months_between_d
from anju.policy.declared import lenient
from anju.policy.errors import EvaluationError
from anju.policy.expr import Call
from anju.policy.facts import BASIS_LABELS_ZH
from anju.policy.measures import PLACES
from anju.policy.scalar.core import ScalarEvaluatorBase
from anju.policy.scalar.results import _DEC_MODES, ROUNDING, fmt
from anju.policy.wording import BandHit, MeasureHit, PickHit, RateHit, percent


class ScalarEvaluatorCalls(ScalarEvaluatorBase):
    """Calls: functions, aggregates, dates, ``pick`` and group measures."""

    def call(self, n: Call, el: Any) -> Any:
        f = n.func
        a = n.args
        if isinstance(n.ref, tuple) and n.ref[0] == "bands":
            x = self.ev(a[0], el)
            p = self.c.policy.params[f]
            bands = self.r.param(f, self.path)
            for w, v in bands:
                if w.contains(int(x)):
                    self.note(n, v, f"{p.label}：{fmt(x, a[0].ty)} 落在分档 ({w.after}, {w.upto}]")
                    if self.values is not None:
                        self.hits[n] = BandHit(f, x, a[0].ty.unit, w, v)
                    return v
            out_v = p.default if p.default is not None else Decimal(0)
            if self.values is not None:
                self.hits[n] = BandHit(f, x, a[0].ty.unit, None, out_v)
            return out_v
        if isinstance(n.ref, tuple) and n.ref[0] == "pick":
            return self.pick(n, el)
        if f in ("min", "max"):
            vals = [self.ev(x, el) for x in a]
            picked = min(vals) if f == "min" else max(vals)
            self.call_note(
                n, vals, picked, "，取较小者 / the smaller" if f == "min" else "，取较大者 / the larger"
            )
            return picked
        if f == "clamp":
            x, lo, hi = (self.ev(y, el) for y in a)
            clamped = min(max(x, lo), hi)
            self.call_note(n, [x, lo, hi], clamped, "，限定在上下限内 / clamped" if clamped != x else "")
            return clamped
        if f == "floor":
            x = self.ev(a[0], el)
            with decimal.localcontext(ROUNDING):
                out_floor = x.to_integral_value(rounding=decimal.ROUND_FLOOR)
            self.call_note(n, [x], out_floor, "，取整数部分 / whole part")
            return out_floor
        if f == "abs":
            x = self.ev(a[0], el)
            self.call_note(n, [x], abs(x))
            return abs(x)
        if f == "round":
            x = self.ev(a[0], el)
            places = int(a[1].value)  # type: ignore[attr-defined]
            with decimal.localcontext(ROUNDING):
                out_round = x.quantize(Decimal(1).scaleb(-places), rounding=_DEC_MODES[self.mode])
            self.call_note(n, [x, a[1].value], out_round)  # type: ignore[attr-defined]
            return out_round
        if f in ("sum", "count", "any"):
            coll = a[0].ref[1]
            elems = {
                "member": self.h.members,
                "building": self.h.buildings,
                "tenant": self.h.tenants,
                "flat": self.h.flats,
            }[coll]
            where = n.kwargs.get("where")
            total = Decimal(0)
            cnt = 0
            saved = self.steps
            self.steps = None
            for e in elems:
                if where is not None and not self.ev(where, e):
                    continue
                cnt += 1
                if f == "sum":
                    total += self.ev(a[1], e)
            self.steps = saved
            out: Any = total if f == "sum" else (Decimal(cnt) if f == "count" else cnt > 0)
            self.note(n, out)
            return out
        if f in ("sign_rate", "vacate_rate"):
            scope = a[0].value  # type: ignore[attr-defined]
            as_of = self.ev(a[1], el)
            if self.group is None:
                raise EvaluationError(
                    "group",
                    "计算签约率/腾空率需要片区统计数据（group facts）",
                    "sign/vacate rates need group facts",
                )
            block = self.scope_block(scope)
            basis = rate_basis(n)
            ppm = (
                0
                if as_of is None
                else self.group.rate_ppm(block, as_of, "sign" if f == "sign_rate" else "vacate", basis)
            )
            rate = Decimal(ppm).scaleb(-6)
            if self.values is not None:
                self.hits[n] = RateHit("sign" if f == "sign_rate" else "vacate", scope, as_of, rate, basis)
            if self.steps is not None:
                what = "签约率" if f == "sign_rate" else "腾空率"
                by = "" if basis == "household" else f"（按{BASIS_LABELS_ZH[basis]}）"
                self.note(n, rate, f"{block or '全项目'} 截至 {as_of} 的{what}{by} = {percent(rate)}")
            return rate
        if f == "measure":
            return self.measure_call(n, el)
        if f == "points_above":
            r = self.ev(a[0], el)
            t = self.ev(a[1], el)
            points = (
                (((r - t) * 100).to_integral_value(rounding=decimal.ROUND_FLOOR)) if r > t else Decimal(0)
            )
            self.call_note(n, [r, t], points, " 个整百分点 / whole points above")
            return points
        if f == "known":
            ref = a[0].ref
            if ref[0] == "fact":
                return lenient(self.c.policy.facts[ref[1]], self.fact_raw(ref[1], el)) is not None
            if ref[1] == "household":
                is_known = getattr(self.h, ref[2]) is not None
            else:
                is_known = getattr(el, ref[2] + "_fen") is not None
            self.note(n, is_known, "有此事实 / known" if is_known else "缺少此事实 / missing")
            return is_known
        if f == "flag":
            has_flag = a[0].value in self.h.flags  # type: ignore[attr-defined]
            self.note(n, has_flag)
            return has_flag
        if f == "date":
            return n.ref
        if f in ("days_between", "months_between", "add_months", "add_days"):
            return self.date_call(n, el)
        raise AssertionError(f)

    def date_call(self, n: Call, el: Any) -> Any:
        """Date arithmetic (anju.policy.datecalc); the trace shows the call with its dates."""
        f = n.func
        a = self.ev(n.args[0], el)
        b = self.ev(n.args[1], el)
        if f == "add_months":
            try:
                out: Any = add_months_d(a, int(b))
            except (ValueError, OverflowError):
                raise EvaluationError(
                    "date-range",
                    f"户 {self.h.code}：{fmt(a)} 加 {b} 个月超出日期范围",
                    f"household {self.h.code}: {a} plus {b} months is out of range",
                ) from None
            self.note(n, out, f"add_months({fmt(a)}, {fmt(b)}) = {fmt(out)}")
            return out
        if f == "add_days":
            try:
                out = add_days_d(a, int(b))
            except (ValueError, OverflowError):
                raise EvaluationError(
                    "date-range",
                    f"户 {self.h.code}：{fmt(a)} 加 {b} 日超出日期范围",
                    f"household {self.h.code}: {a} plus {b} days is out of range",
                ) from None
            self.note(n, out, f"add_days({fmt(a)}, {fmt(b)}) = {fmt(out)}")
            return out
        on = bool(n.ref[1])
        if f == "days_between":
            out = Decimal(days_between_d(a, b, on))
            conv = "首尾两日都计" if on else "不计首日、计末日"
            unit = "日"
        else:
            out = Decimal(months_between_d(a, b, on))
            conv = "不满一月按一月计" if on else "只计满月"
            unit = "月"
        why = "，日期未知按 0 计 / unknown date" if a is None or b is None else ""
        self.note(n, out, f"{f}({fmt(a)}, {fmt(b)}) = {out} {unit}（{conv}{why}）")
        return out

    def pick(self, n: Call, el: Any) -> Any:
        """``max`` / ``min`` / ``first`` over a collection; ``else=`` when nothing is selected."""
        f = n.func
        inner = n.ref[1]
        plural = next(k for k, v in COLLECTIONS.items() if v == inner)
        where = n.kwargs.get("where")
        order = n.kwargs.get("order")
        desc = bool(getattr(n.kwargs.get("desc"), "value", False))
        saved = self.steps
        self.steps = None
        found: list[tuple[Any, Any, int]] = []  # (value, order key, position)
        elems = getattr(self.h, plural)
        for pos, e in enumerate(elems):
            if where is not None and not self.ev(where, e):
                continue
            key = self.ev(order, e) if order is not None else Decimal(0)
            found.append((self.ev(n.args[1], e), key, pos))
        self.steps = saved
        if self.values is not None:
            self.hits[n] = PickHit(len(elems), len(found))
        if not found:
            out = self.ev(n.kwargs["else"], el)
            self.note(n, out, f"{f}：{len(elems)} 个元素中没有符合条件的，取 else / none selected")
            return out
        if f == "max":
            out = max(v for v, _, _ in found)
        elif f == "min":
            out = min(v for v, _, _ in found)
        else:
            # the first by the order (ties keep the collection's own order), else the first element
            best = found[0]
            for cand in found[1:]:
                if (cand[1] > best[1]) if desc else (cand[1] < best[1]):
                    best = cand
            out = best[0]
        self.note(n, out, f"{f}：{len(elems)} 个元素中符合条件 {len(found)} 个 / {len(found)} selected")
        return out

    def measure_call(self, n: Call, el: Any) -> Decimal:
        """``measure(id, scope, as_of)``: the office-set value in force, or an error naming it."""
        m = self.c.policy.measures[n.args[0].value]  # type: ignore[attr-defined]
        scope = n.args[1].value  # type: ignore[attr-defined]
        as_of = self.ev(n.args[2], el)
        block = self.scope_block(scope)
        where = "全项目" if block is None else f"{scope} {block}"
        value = None
        if self.group is not None and as_of is not None:
            value = self.group.measure_value(m.id, block, as_of)
        if value is None:
            when = f"截至 {as_of}" if as_of is not None else "（截止日期未知）"
            raise EvaluationError(
                "measure",
                f"户 {self.h.code} 缺少办公室录入的指标“{m.label}”（{where}，{when}没有生效的记录），暂不能计算",
                f"household {self.h.code}: the office has recorded no value of measure '{m.id}' for "
                f"{'the project' if block is None else block} in force on {as_of}",
            )
        if value != value.quantize(Decimal(1).scaleb(-PLACES)):
            raise EvaluationError(
                "measure",
                f"指标“{m.label}”的记录值 {value} 超过 {PLACES} 位小数",
                f"measure '{m.id}' value {value} has more than {PLACES} decimals",
            )
        out = m.engine_value(value)
        if self.values is not None:
            self.hits[n] = MeasureHit(m.label, scope, as_of, out, m.percent, m.unit)
        if self.steps is not None:
            shown = f"{format(value, 'f')}{'%' if m.percent else m.unit_text}"
            self.note(n, out, f"{where} 截至 {as_of} 的{m.label}（办公室录入）= {shown}")
        return out
