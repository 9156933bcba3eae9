"""Numpy evaluator part: calls (functions, aggregates over collections, date functions, ``pick``,
group measures and the households of their scopes)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from anju.policy.bulk.evaluator.core import BV, BulkEvaluatorBase, div_round
from anju.policy.check import rate_basis
from anju.policy.datecalc import ORD_MAX, add_days_o, add_months_o, days_between_o, months_between_o
from anju.policy.errors import EvaluationError
from anju.policy.expr import Bool, Call
from anju.policy.measures import PLACES
from anju.policy.table import I64, LIMIT, Arr, _scaled


class BulkEvaluatorCalls(BulkEvaluatorBase):
    """Calls: functions, aggregates, dates, ``pick`` and group measures."""

    def call(self, n: Call, el: str | None) -> BV:
        f = n.func
        a = n.args
        if isinstance(n.ref, tuple) and n.ref[0] == "bands":
            x = self.ev(a[0], el)
            p = self.c.policy.params[f]
            scale = n.ty.scale
            bands = self.r.param(f, ())
            if p.overrides:
                raise EvaluationError(
                    "bands", "分档参数暂不支持按片区覆盖", "band parameters cannot be overridden per block"
                )
            default = _scaled(p.default, scale) if p.default is not None else 0
            bound = abs(default)
            out: Any = default
            for w, v in reversed(bands):
                m: Any = True
                if w.after is not None:
                    m = m & (x.v > w.after)
                if w.upto is not None:
                    m = m & (x.v <= w.upto)
                sv = _scaled(v, scale)
                bound = max(bound, abs(sv))
                out = np.where(m, sv, out) if x.level != "const" else (sv if m else out)
            return BV(out, x.level, scale, bound)
        if isinstance(n.ref, tuple) and n.ref[0] == "pick":
            return self.pick(n, el)
        if f in ("days_between", "months_between", "add_months", "add_days"):
            return self.date_call(n, el)
        if f in ("min", "max", "clamp"):
            xs = [self.ev(y, el) for y in a]
            s = n.ty.scale
            xs = [self.align(x, s) for x in xs]
            lv = self.level_of(*xs)
            xs = [self.lift(x, lv) for x in xs]
            bound = max(x.bound for x in xs)
            vals = [x.v for x in xs]
            if lv == "const":
                if f == "clamp":
                    return BV(min(max(vals[0], vals[1]), vals[2]), lv, s, bound)
                return BV(min(vals) if f == "min" else max(vals), lv, s, bound)
            if any(isinstance(v, np.ndarray) and v.dtype == object for v in vals):
                vals = [self.wide(v) for v in vals]
            if f == "clamp":
                out = np.minimum(np.maximum(vals[0], vals[1]), vals[2])
            else:
                out = vals[0]
                for v in vals[1:]:
                    out = np.minimum(out, v) if f == "min" else np.maximum(out, v)
            return BV(out, lv, s, bound)
        if f == "floor":
            x = self.ev(a[0], el)
            return BV(x.v // 10**x.scale, x.level, 0, x.bound // 10**x.scale + 1)
        if f == "abs":
            x = self.ev(a[0], el)
            return BV(abs(x.v), x.level, x.scale, x.bound)
        if f == "round":
            x = self.ev(a[0], el)
            places = n.ty.scale
            if places >= x.scale:
                return self.align(x, places)
            return BV(
                div_round(x.v, 10 ** (x.scale - places), self.mode),
                x.level,
                places,
                x.bound // 10 ** (x.scale - places) + 1,
            )
        if f in ("sum", "count", "any"):
            inner = a[0].ref[1]
            e = self.el[inner]
            where = n.kwargs.get("where")
            mask = self.full(self.ev(where, inner), inner) if where is not None else None
            if f == "sum":
                x = self.ev(a[1], inner)
                col = self.full(x, inner)
                if mask is not None:
                    col = np.where(mask, col, 0)
                    if col.dtype != object and x.bound > LIMIT:
                        col = col.astype(object)
                maxc = int(e.count.max()) if self.n else 0
                bound = x.bound * max(1, maxc)
                if bound > LIMIT:
                    col = self.wide(col)
                return BV(self.seg_sum(e, col, x.bound), "hh", x.scale, bound)
            ones = mask.astype(I64) if mask is not None else np.ones(e.size, dtype=I64)
            cnt = self.seg_sum(e, ones, 1)
            if f == "count":
                return BV(cnt, "hh", 0, int(e.count.max()) if self.n else 0)
            return BV(cnt > 0, "hh")
        if f in ("sign_rate", "vacate_rate"):
            scope = a[0].value  # type: ignore[attr-defined]
            event = "sign" if f == "sign_rate" else "vacate"
            basis = rate_basis(n)
            as_of = self.ev(a[1], el)
            t = self.t
            if scope == "project":
                scope_codes: list[str | None] = [None]
                scope_hh: Any = 0
            else:
                if scope == "block":
                    per_block = [p[-1] for p in t.block_paths]
                else:
                    lvl = self.c.policy.meta.block_levels.index(scope)
                    for path in t.block_paths:
                        if lvl >= len(path):
                            raise EvaluationError(
                                "scope",
                                f"有户没有“{scope}”层级的片区",
                                f"some households have no block at level '{scope}'",
                            )
                    per_block = [p[lvl] for p in t.block_paths]
                uniq = sorted(set(per_block))
                if not uniq:  # no households at all: a rate for nobody
                    return BV(np.zeros(self.n, dtype=I64), "hh", 6, 1_000_000)
                scope_codes = list(uniq)
                sid = np.asarray([uniq.index(c) for c in per_block], dtype=I64)
                scope_hh = sid[t.block_idx] if len(uniq) > 1 else 0
            if as_of.level == "const" and not isinstance(scope_hh, np.ndarray):
                ppm = self.gi.rate_ppm(scope_codes[0], int(as_of.v), event, basis)
                return BV(ppm, "const", 6, ppm)
            if as_of.level == "const":
                per_scope = np.asarray(
                    [self.gi.rate_ppm(code, int(as_of.v), event, basis) for code in scope_codes], dtype=I64
                )
                return BV(per_scope[scope_hh], "hh", 6, 1_000_000)
            asv = (
                self.full(as_of, "hh") if as_of.level != "const" else np.full(self.n, int(as_of.v), dtype=I64)
            )
            sh = scope_hh if isinstance(scope_hh, np.ndarray) else np.zeros(self.n, dtype=I64)
            key = sh * (1 << 32) + asv
            uk, inv = np.unique(key, return_inverse=True)
            rates = np.asarray(
                [
                    self.gi.rate_ppm(scope_codes[int(k) >> 32], int(k) & 0xFFFFFFFF, event, basis)
                    for k in uk.tolist()
                ],
                dtype=I64,
            )
            out = rates[inv.reshape(-1)]
            return BV(out, "hh", 6, 1_000_000)
        if f == "measure":
            return self.measure_call(n, el)
        if f == "points_above":
            r = self.ev(a[0], el)
            th = self.ev(a[1], el)
            s = max(r.scale, th.scale)
            r, th = self.align(r, s), self.align(th, s)
            r, th, lv = self.pair(r, th)
            diff = r.v - th.v
            pts = (diff * 100) // 10**s
            if lv == "const":
                return BV(pts if diff > 0 else 0, lv, 0, abs(pts))
            return BV(np.where(diff > 0, pts, 0), lv, 0, (r.bound + th.bound) * 100 // 10**s + 1)
        if f == "known":
            ref = a[0].ref
            if ref[0] == "fact":
                decl = self.c.policy.facts[ref[1]]
                lv = "hh" if decl.level == "household" else decl.level
                return BV(self.t.fact_column(decl)[1], lv)
            if ref[1] == "household":
                return BV(self.t.event(ref[2]) != 0, "hh")
            if ref[1] == "flat":
                return BV(self.t.flats.cols[ref[2] + "_known"], "flat")
            return BV(self.t.buildings.cols[ref[2] + "_known"], "building")
        if f == "flag":
            name = a[0].value  # type: ignore[attr-defined]
            flag_arr = self.t.flags.get(name)
            return BV(False, "const") if flag_arr is None else BV(flag_arr, "hh")
        if f == "date":
            return BV(n.ref.toordinal(), "const")
        raise AssertionError(f)

    def date_call(self, n: Call, el: str | None) -> BV:
        """Date arithmetic on ordinals (0 = unknown), the same integer code as the kernels
        (anju.policy.datecalc)."""
        d, x, lv = self.pair(self.ev(n.args[0], el), self.ev(n.args[1], el))
        if n.func == "add_months":
            dv, xv = d.v, x.v
            if x.bound > 10**12:  # nonsense month counts still give the exact error below
                dv, xv = self.wide(dv), self.wide(xv)
            out = add_months_o(dv, xv)
            bad = (dv != 0) & ((out < 1) | (out > ORD_MAX))
            if np.any(bad):
                raise EvaluationError(
                    "date-range",
                    "add_months 的结果超出日期范围（公元1年至9999年）",
                    "add_months gives a date out of range (years 1 to 9999)",
                )
            if isinstance(out, np.ndarray) and out.dtype == object:
                out = out.astype(I64)
            return BV(out if lv != "const" else int(out), lv)
        if n.func == "add_days":
            dv, xv = d.v, x.v
            if x.bound > 10**12:  # nonsense day counts still give the exact error below
                dv, xv = self.wide(dv), self.wide(xv)
            out = add_days_o(dv, xv)
            bad = (dv != 0) & ((out < 1) | (out > ORD_MAX))
            if np.any(bad):
                raise EvaluationError(
                    "date-range",
                    "add_days 的结果超出日期范围（公元1年至9999年）",
                    "add_days gives a date out of range (years 1 to 9999)",
                )
            if isinstance(out, np.ndarray) and out.dtype == object:
                out = out.astype(I64)
            return BV(out if lv != "const" else int(out), lv)
        on = int(bool(n.ref[1]))
        fn = days_between_o if n.func == "days_between" else months_between_o
        out = fn(d.v, x.v, on)
        return BV(out if lv != "const" else int(out), lv, 0, ORD_MAX)

    def pick(self, n: Call, el: str | None) -> BV:
        """``max`` / ``min`` / ``first`` over a collection, ``else=`` where nothing is selected.

        The elements of every household are sorted once (household, selected first, order key,
        position): each household's first element after sorting is its pick."""
        f = n.func
        inner = n.ref[1]
        e = self.el[inner]
        s = n.ty.scale
        num = n.ty.kind == "num"
        where = n.kwargs.get("where")
        mask = self.full(self.ev(where, inner), inner) if where is not None else np.ones(e.size, dtype=bool)
        x = self.ev(n.args[1], inner)
        if num:
            x = self.align(x, s)
        xv = self.full(x, inner)
        if f == "first":
            order = n.kwargs.get("order")
            if order is not None:
                key = self.full(self.ev(order, inner), inner)
                if key.dtype == object:  # rank exact big values instead of sorting objects
                    key = np.unique(key, return_inverse=True)[1].reshape(-1).astype(I64)
                if isinstance(n.kwargs.get("desc"), Bool):
                    key = -key
            else:
                key = np.zeros(e.size, dtype=I64)
        else:
            key = xv if xv.dtype != object else np.unique(xv, return_inverse=True)[1].reshape(-1).astype(I64)
            if f == "max":
                key = -key
        sorted_idx = np.lexsort((np.arange(e.size), key, ~mask, e.hh)) if e.size else np.zeros(0, dtype=I64)
        nz = e.count > 0
        has = np.zeros(self.n, dtype=bool)
        chosen = np.zeros(self.n, dtype=I64)
        if e.size:
            chosen[nz] = sorted_idx[e.start[nz]]
            has[nz] = mask[chosen[nz]]
        value = BV(xv[chosen] if e.size else np.zeros(self.n, dtype=xv.dtype), "hh", x.scale, x.bound)
        d = self.ev(n.kwargs["else"], el)
        if num:
            d = self.align(d, s)
        lv = self.level_of(d, value)
        hv, vv, dv = self.full(BV(has, "hh"), lv), self.lift(value, lv).v, self.lift(d, lv).v
        if any(isinstance(v, np.ndarray) and v.dtype == object for v in (vv, dv)):
            vv, dv = self.wide(vv), self.wide(dv)
        return BV(np.where(hv, vv, dv), lv, s if num else 0, max(x.bound, d.bound))

    def scope_of_households(self, scope: str) -> tuple[list[str | None], Arr]:
        """The distinct block codes of ``scope`` ('project', 'block' or a level name) and, per
        household, the index of its code among them."""
        t = self.t
        if scope == "project":
            return [None], np.zeros(self.n, dtype=I64)
        if scope == "block":
            per_block = [p[-1] for p in t.block_paths]
        else:
            lvl = self.c.policy.meta.block_levels.index(scope)
            for path in t.block_paths:
                if lvl >= len(path):
                    raise EvaluationError(
                        "scope",
                        f"有户没有“{scope}”层级的片区",
                        f"some households have no block at level '{scope}'",
                    )
            per_block = [p[lvl] for p in t.block_paths]
        uniq = sorted(set(per_block))
        sid = np.asarray([uniq.index(c) for c in per_block], dtype=I64)
        return list(uniq), sid[t.block_idx] if len(sid) else np.zeros(self.n, dtype=I64)

    def measure_call(self, n: Call, el: str | None) -> BV:
        """``measure(id, scope, as_of)`` for every household: the office-set value in force for the
        household's block, as scaled integers; a missing value names the measure, block and a
        household (as the scalar evaluator does for that household)."""
        m = self.c.policy.measures[n.args[0].value]  # type: ignore[attr-defined]
        scope = n.args[1].value  # type: ignore[attr-defined]
        as_of = self.ev(n.args[2], el)
        codes, sh = self.scope_of_households(scope)
        asv = self.full(as_of, "hh") if as_of.level != "const" else np.full(self.n, int(as_of.v), dtype=I64)
        key = sh * (1 << 32) + asv
        uk, inv = np.unique(key, return_inverse=True)
        vals: list[int] = []
        k = 10**m.scale
        for j, kk in enumerate(uk.tolist()):
            code = codes[int(kk) >> 32]
            o = int(kk) & 0xFFFFFFFF
            v = self.gi.group.measure_value(m.id, code, date.fromordinal(o)) if o else None
            if v is None or v != v.quantize(Decimal(1).scaleb(-PLACES)):
                i = int(np.flatnonzero(inv.reshape(-1) == j)[0])
                where = "全项目" if code is None else f"{scope} {code}"
                raise EvaluationError(
                    "measure",
                    f"户 {self.t.codes[i]} 缺少办公室录入的指标“{m.label}”（{where}，"
                    f"截至 {date.fromordinal(o) if o else '（日期未知）'}没有生效的记录），暂不能计算",
                    f"household {self.t.codes[i]}: no value of measure '{m.id}' for "
                    f"{'the project' if code is None else code} in force",
                )
            vals.append(int(m.engine_value(v) * k))
        arr = np.asarray(vals, dtype=I64)[inv.reshape(-1)]
        bound = int(np.abs(arr).max()) if arr.size else 0
        if len(uk) == 1 and as_of.level == "const":
            return BV(vals[0], "const", m.scale, abs(vals[0]))
        return BV(arr, "hh", m.scale, bound)
