"""Code generator part: calls (functions, aggregates over collections, date functions, ``pick``,
sign/vacate rates and group measures)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from anju.core.dates import add_months
from anju.policy.check import rate_basis
from anju.policy.datecalc import ORD_MAX
from anju.policy.expr import Bool, Call, Name, Node, Num
from anju.policy.jit.builder.core import BuilderBase
from anju.policy.jit.helpers import I64, LoopStmt, Overflow, Unsupported, V, _Loop
from anju.policy.measures import PLACES as MEASURE_PLACES
from anju.policy.table import LIMIT, _scaled


class BuilderCalls(BuilderBase):
    """Calls: functions, aggregates, dates, ``pick``, rates and group measures."""

    # -- functions

    def call(self, n: Call, el: str | None) -> V:
        f = n.func
        a = n.args
        if isinstance(n.ref, tuple) and n.ref[0] == "bands":
            x = self.ev(a[0], el)
            p = self.c.policy.params[f]
            self.shape_names.add(f)  # its windows are written into the source
            scale = n.ty.scale
            if p.overrides:
                raise Unsupported("bands with overrides")
            bands = self.r.param(f, ())
            default = _scaled(p.default, scale) if p.default is not None else 0
            values = [_scaled(v, scale) for _, v in bands] + [default]
            bound = max(abs(v) for v in values)
            if bound > LIMIT:
                raise Overflow(f)
            bv = self.arg(("bands", f, scale), lambda: np.asarray(values, dtype=I64))
            lv = "hh" if x.level == "const" else x.level
            expr = str(len(bands))
            for k in range(len(bands) - 1, -1, -1):
                w = bands[k][0]
                conds = ["True"]
                if w.after is not None:
                    conds.append(f"({x.code} > {int(w.after)})")
                if w.upto is not None:
                    conds.append(f"({x.code} <= {int(w.upto)})")
                expr = f"sel({' & '.join(conds)}, {k}, {expr})"
            pos = self.emit(expr, lv)
            return self.emit(f"{bv}[u({pos.code})]", lv, scale, bound)  # pos <= len(bands)
        if isinstance(n.ref, tuple) and n.ref[0] == "pick":
            return self.pick(n, el)
        if f in ("days_between", "months_between", "add_months", "add_days"):
            return self.date_call(n, el)
        if f in ("min", "max", "clamp"):
            s = n.ty.scale
            xs = [self.align(self.ev(y, el), s) for y in a]
            lv = self.level_of(*xs)
            bound = max(x.bound for x in xs)
            # branch-free min/max: the compared values are data and mispredict as branches
            if f == "clamp":
                expr = f"imin(imax({xs[0].code}, {xs[1].code}), {xs[2].code})"
            else:
                expr = xs[0].code
                for x in xs[1:]:
                    expr = f"i{f}({expr}, {x.code})"
            return self.emit(expr, lv, s, bound)
        if f == "floor":
            x = self.ev(a[0], el)
            if x.scale > 18:
                raise Overflow(x.scale)
            k = 10**x.scale
            return self.emit(f"{x.code} // {k}", x.level, 0, x.bound // k + 1)
        if f == "abs":
            x = self.ev(a[0], el)
            return self.emit(f"abs({x.code})", x.level, x.scale, x.bound)
        if f == "round":
            x = self.ev(a[0], el)
            places = n.ty.scale
            if places >= x.scale:
                return self.align(x, places)
            return self.div_round(
                x, 10 ** (x.scale - places), self.mode, places, x.bound // 10 ** (x.scale - places) + 1
            )
        if f in ("sum", "count", "any"):
            return self.aggregate(n, f)
        if f in ("sign_rate", "vacate_rate"):
            return self.rate(n, f)
        if f == "measure":
            return self.measure(n)
        if f == "points_above":
            r = self.ev(a[0], el)
            th = self.ev(a[1], el)
            s = max(r.scale, th.scale)
            r, th = self.align(r, s), self.align(th, s)
            lv = self.level_of(r, th)
            if (r.bound + th.bound) * 100 > LIMIT or s > 18:
                raise Overflow("points_above")
            diff = self.emit(f"{r.code} - {th.code}", lv, s, r.bound + th.bound)
            return self.emit(
                f"sel({diff.code} > 0, ({diff.code} * 100) // {10**s}, 0)",
                lv,
                0,
                (r.bound + th.bound) * 100 // 10**s + 1,
            )
        if f == "known":
            ref = a[0].ref
            if ref[0] == "fact":
                decl = self.c.policy.facts[ref[1]]
                known = self.t.fact_column(decl)[1]
                col = self.arg(("fact_known", ref[1]), lambda: known)
                if decl.level != "household":
                    return self.emit(f"{col}[{self.loopvar(decl.level)}]", decl.level)
                return self.emit(f"{col}[u(i)]", "hh")
            if ref[1] == "household":
                arr = self.t.event(ref[2])
                col = self.arg(("hh", ref[2]), lambda: arr)
                return self.emit(f"{col}[u(i)] != 0", "hh")
            obj = ref[1]
            e = self.elements(obj)
            col = self.arg((obj, ref[2] + "_known"), lambda: e.cols[ref[2] + "_known"])
            return self.emit(f"{col}[{self.loopvar(obj)}]", obj)
        if f == "flag":
            name = a[0].value  # type: ignore[attr-defined]
            flag_arr = self.t.flags.get(name)
            col = self.arg(
                ("flag", name), lambda: flag_arr if flag_arr is not None else np.zeros(self.n, dtype=bool)
            )
            return self.emit(f"{col}[u(i)]", "hh")
        if f == "date":
            return self.lit(n.ref.toordinal())
        raise Unsupported(f)

    def aggregate(self, n: Call, f: str) -> V:
        inner = n.args[0].ref[1]
        e = self.elements(inner)
        start = self.arg((inner, "start"), lambda: e.start)
        count = self.arg((inner, "count"), lambda: e.count)
        maxc = self.max_count(e)
        saved = self.loop
        loop = _Loop(inner)
        self.loop = loop
        try:
            where = n.kwargs.get("where")
            mask = self.ev(where, inner) if where is not None else None
            x = self.ev(n.args[1], inner) if f == "sum" else None
        finally:
            self.loop = saved
        acc = self.tmp_name()
        if f == "sum":
            assert x is not None
            bound = x.bound * max(1, maxc)
            if bound > LIMIT:
                raise Overflow("sum")
            add = f"{acc} += {x.code}" if mask is None else f"{acc} += sel({mask.code}, {x.code}, 0)"
            result = V(acc, "hh", x.scale, bound)
        else:
            add = f"{acc} += 1" if mask is None else f"{acc} += {mask.code}"
            result = V(acc, "hh", 0, maxc)
        self.body.append(f"{acc} = 0")
        self.body.append(LoopStmt(inner, self.element_loop(e, start, count), [*loop.body, add]))
        if f == "any":
            return self.emit(f"{acc} > 0", "hh")
        return result

    def date_call(self, n: Call, el: str | None) -> V:
        """Date arithmetic on ordinals with the helpers of anju.policy.datecalc (inlined)."""
        d = self.ev(n.args[0], el)
        x = self.ev(n.args[1], el)
        lv = self.level_of(d, x)
        if n.func == "add_months":
            if x.bound > 12 * ORD_MAX:
                raise Unsupported("add_months by a month count beyond the calendar")
            r = self.emit(f"add_months_o({d.code}, {x.code})", lv)
            # a date out of range: the numpy evaluator raises the error with its message
            bad = self.tmp_name("q")
            self.body.append(f"{bad} = False")
            self.block(lv).append(f"{bad} |= ({d.code} != 0) & (({r.code} < 1) | ({r.code} > {ORD_MAX}))")
            self.bad.append(bad)
            return r
        if n.func == "add_days":
            if x.bound > ORD_MAX:
                raise Unsupported("add_days by a day count beyond the calendar")
            r = self.emit(f"add_days_o({d.code}, {x.code})", lv)
            bad = self.tmp_name("q")
            self.body.append(f"{bad} = False")
            self.block(lv).append(f"{bad} |= ({d.code} != 0) & (({r.code} < 1) | ({r.code} > {ORD_MAX}))")
            self.bad.append(bad)
            return r
        fn = "days_between_o" if n.func == "days_between" else "months_between_o"
        return self.emit(f"{fn}({d.code}, {x.code}, {int(bool(n.ref[1]))})", lv, 0, ORD_MAX)

    def pick(self, n: Call, el: str | None) -> V:
        """``max`` / ``min`` / ``first`` over a collection: one loop keeping the best element so far
        (strict comparisons: ties keep the earlier element, as the numpy evaluator's stable sort)."""
        f = n.func
        inner = n.ref[1]
        e = self.elements(inner)
        start = self.arg((inner, "start"), lambda: e.start)
        count = self.arg((inner, "count"), lambda: e.count)
        s = n.ty.scale
        kind = n.ty.kind
        saved = self.loop
        loop = _Loop(inner)
        self.loop = loop
        try:
            where = n.kwargs.get("where")
            mask = self.ev(where, inner) if where is not None else None
            x = self.ev(n.args[1], inner)
            if kind == "num":
                x = self.align(x, s)
            order = n.kwargs.get("order")
            key = self.ev(order, inner) if order is not None else None
        finally:
            self.loop = saved
        d = self.ev(n.kwargs["else"], el)
        if kind == "num":
            d = self.align(d, s)
        acc, has, take = self.tmp_name(), self.tmp_name(), self.tmp_name()
        self.body.append(f"{acc} = {'False' if kind == 'bool' else '0'}")
        self.body.append(f"{has} = False")
        m = mask.code if mask is not None else "True"
        body = [*loop.body]
        if f in ("max", "min"):
            body.append(f"{take} = {m} & ((not {has}) | ({x.code} {'>' if f == 'max' else '<'} {acc}))")
        elif key is None:
            body.append(f"{take} = {m} & (not {has})")
        else:
            best = self.tmp_name()
            self.body.append(f"{best} = 0")
            cmp = ">" if isinstance(n.kwargs.get("desc"), Bool) else "<"
            body.append(f"{take} = {m} & ((not {has}) | ({key.code} {cmp} {best}))")
            body.append(f"{best} = sel({take}, {key.code}, {best})")
        fn = "bsel" if kind == "bool" else "sel"
        body.append(f"{acc} = {fn}({take}, {x.code}, {acc})")
        body.append(f"{has} = {has} | {m}")
        self.body.append(LoopStmt(inner, self.element_loop(e, start, count), body))
        lv = self.level_of(d, V(acc, "hh"))
        return self.emit(
            f"{fn}({has}, {acc}, {d.code})", lv, s if kind == "num" else 0, max(x.bound, d.bound)
        )

    def shifted_block_dates(self, as_of: Node) -> list[int] | None:
        """Per block, the ordinal of ``add_days(D, n)`` / ``add_months(D, n)`` where ``D`` is a clock
        or a literal date and ``n`` a number or a scalar parameter: still one date per block, so a
        group rate as of it stays a per-block constant. ``None`` for anything else (and for a date out
        of range, whose error the numpy evaluator raises)."""
        if not (
            isinstance(as_of, Call) and as_of.func in ("add_days", "add_months") and len(as_of.args) == 2
        ):
            return None
        base, count = as_of.args
        nb = max(1, len(self.paths))
        if isinstance(base, Name) and base.ref is not None and base.ref[0] == "clock":
            days = self.clock_ords(base.ref[1])
        elif isinstance(base, Call) and base.func == "date" and isinstance(base.ref, date):
            days = [base.ref.toordinal()] * nb
        else:
            return None
        if isinstance(count, Num):
            counts = [int(count.value)] * nb
        elif isinstance(count, Name) and count.ref is not None and count.ref[0] == "param":
            pname = count.ref[1]
            self.shape_names.add(pname)  # its value moves the dates of the group rates
            if self.c.policy.params[pname].kind != "scalar":
                return None
            counts = [int(self.r.param(pname, path)) for path in self.paths] or [int(self.r.param(pname, ()))]
        else:
            return None
        try:
            if as_of.func == "add_days":
                return [
                    (date.fromordinal(d) + timedelta(days=k)).toordinal()
                    for d, k in zip(days, counts, strict=True)
                ]
            return [add_months(date.fromordinal(d), k).toordinal() for d, k in zip(days, counts, strict=True)]
        except (ValueError, OverflowError):
            return None

    def rate(self, n: Call, f: str) -> V:
        scope = n.args[0].value  # type: ignore[attr-defined]
        event = "sign" if f == "sign_rate" else "vacate"
        as_of = n.args[1]
        # The as-of date must be the same for a whole block (a clock or a literal date).
        if isinstance(as_of, Name) and as_of.ref is not None and as_of.ref[0] == "clock":
            ords = self.clock_ords(as_of.ref[1])
        elif isinstance(as_of, Call) and as_of.func == "date" and isinstance(as_of.ref, date):
            ords = [as_of.ref.toordinal()] * max(1, len(self.paths))
        elif (shifted := self.shifted_block_dates(as_of)) is not None:
            ords = shifted
        else:
            raise Unsupported("rate as of a household date")
        if scope == "project":
            codes: list[str | None] = [None] * len(self.paths)
        elif scope == "block":
            codes = [p[-1] for p in self.paths]
        else:
            lvl = self.c.policy.meta.block_levels.index(scope)
            if any(lvl >= len(p) for p in self.paths):
                raise Unsupported("missing block level")  # the numpy evaluator raises the error
            codes = [p[lvl] for p in self.paths]
        gi = self.gi
        basis = rate_basis(n)
        ppm = [gi.rate_ppm(code, o, event, basis) for code, o in zip(codes, ords, strict=False)]
        if not ppm:
            ppm = [0]
        return self.emit(self.per_block(("rate", self.tmp_name("u")), ppm), "hh", 6, 1_000_000)

    def measure(self, n: Call) -> V:
        """An office-set group measure: its value per block as a runtime array (a changed value
        reuses the kernel). A missing value goes to the numpy evaluator, which names it."""
        m = self.c.policy.measures[n.args[0].value]  # type: ignore[attr-defined]
        scope = n.args[1].value  # type: ignore[attr-defined]
        as_of = n.args[2]
        if isinstance(as_of, Name) and as_of.ref is not None and as_of.ref[0] == "clock":
            ords = self.clock_ords(as_of.ref[1])
        elif isinstance(as_of, Call) and as_of.func == "date" and isinstance(as_of.ref, date):
            ords = [as_of.ref.toordinal()] * max(1, len(self.paths))
        else:
            raise Unsupported("measure as of a household date")
        if scope == "project":
            codes: list[str | None] = [None] * len(self.paths)
        else:
            lvl = self.c.policy.meta.block_levels.index(scope)
            if any(lvl >= len(p) for p in self.paths):
                raise Unsupported("missing block level")
            codes = [p[lvl] for p in self.paths]
        group = self.gi.group
        k = 10**m.scale
        vals: list[int] = []
        for code, o in zip(codes, ords, strict=False):
            v = group.measure_value(m.id, code, date.fromordinal(o)) if o else None
            if v is None or v != v.quantize(Decimal(1).scaleb(-MEASURE_PLACES)):
                raise Unsupported(f"measure {m.id} missing for {code}")
            vals.append(int(m.engine_value(v) * k))
        if not vals:
            vals = [0]
        bound = max(abs(x) for x in vals)
        if bound > LIMIT:
            raise Overflow(m.id)
        return self.emit(self.per_block(("measure", self.tmp_name("u")), vals), "hh", m.scale, bound)
