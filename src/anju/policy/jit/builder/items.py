"""Code generator part: rounding to the fen, bounds, items, outputs, group sums and the assembled
:class:`Builder` (:meth:`Builder.build`)."""

from __future__ import annotations

import numpy as np

from anju.core.money import RoundingMode, unit_fen
from anju.policy.jit.builder.calls import BuilderCalls
from anju.policy.jit.builder.names import BuilderNames
from anju.policy.jit.helpers import _HELPERS, I64, LoopStmt, Overflow, Unsupported, V, _Loop
from anju.policy.jit.passes import _source
from anju.policy.model import Formula, Item
from anju.policy.table import LIMIT


class Builder(BuilderNames, BuilderCalls):
    """Writes the kernel source of one option and gathers its runtime arguments and value bounds.

    The walk mirrors :class:`anju.policy.bulk.BulkEvaluator` node for node (scales, alignment,
    rounding), so a kernel result equals the numpy evaluator's to the fen.

    ``sum_groups`` (set before :meth:`build`): groups of item positions whose per-household sums
    the kernel writes in the same pass (``out_sum[g, i]``); group 0 is conventionally every item
    of the option (the household total), further groups are e.g. the policy's subtotals.
    """

    def div_round(self, x: V, d: int, mode: RoundingMode, scale: int, bound: int) -> V:
        if d == 1:
            return V(x.code, x.level, scale, bound)
        if 2 * d > LIMIT:
            raise Overflow(d)
        helper = _HELPERS[mode][0]
        self.helpers.add(helper)
        return self.emit(f"{helper}({x.code}, {d})", x.level, scale, bound)

    # -- items

    def to_fen(self, x: V, it: Item) -> V:
        step = unit_fen(it.rounding_unit)
        s = x.scale
        if s >= 2:
            if s - 2 > 17:
                raise Overflow(s)
            units = self.div_round(x, 10 ** (s - 2) * step, it.rounding_mode, 2, 0)
        else:
            units = self.div_round(self.align(x, 2), step, it.rounding_mode, 2, 0)
        bound = x.bound // 10 ** max(0, s - 2) * 10 ** max(0, 2 - s) + step
        if bound > LIMIT:
            raise Overflow("fen")
        if step != 1:
            return self.emit(f"{units.code} * {step}", x.level, 2, bound)
        return V(units.code, x.level, 2, bound)

    def bounded(self, x: V, floor: Formula | None, cap: Formula | None, el: str | None) -> V:
        for f, is_floor in ((floor, True), (cap, False)):
            if f is None:
                continue
            b = self.run(f, el)
            s = max(x.scale, b.scale)
            x2, b2 = self.align(x, s), self.align(b, s)
            fn = "imax" if is_floor else "imin"
            x = self.emit(f"{fn}({x2.code}, {b2.code})", self.level_of(x2, b2), s, max(x2.bound, b2.bound))
        return x

    def item(self, k: int, it: Item) -> None:
        if it.per == "certificate":
            e = self.t.buildings
            start = self.arg(("building", "start"), lambda: e.start)
            count = self.arg(("building", "count"), lambda: e.count)
            maxc = self.max_count(e)
            loop = _Loop("building")
            saved = self.loop
            self.loop = loop
            try:
                applies = self.run(it.when, "building") if it.when is not None else self.lit(True)
                raw = self.run(it.formula, "building")
                fen = self.to_fen(self.bounded(raw, it.floor, it.cap, "building"), it)
            finally:
                self.loop = saved
            total = self.tmp_name("v")
            app = self.tmp_name("p")
            self.body.append(f"{total} = 0")
            self.body.append(f"{app} = False")
            loop.body.append(f"{total} += sel({applies.code}, {fen.code}, 0)")
            loop.body.append(f"{app} |= {applies.code}")
            self.body.append(LoopStmt("building", self.element_loop(e, start, count), loop.body))
            tbound = fen.bound * max(1, maxc)
            if tbound > LIMIT:
                raise Overflow(it.id)
            result = V(total, "hh", 2, tbound)
            if it.household_floor is not None or it.household_cap is not None:
                hf = self.to_fen(self.bounded(result, it.household_floor, it.household_cap, None), it)
                result = self.emit(f"sel({app}, {hf.code}, 0)", "hh", 2, hf.bound)
            self.items[it.id] = result
            self.output(k, result.code, app)
            return
        applies = self.run(it.when, None) if it.when is not None else self.lit(True)
        raw = self.run(it.formula, None)
        fen = self.to_fen(self.bounded(raw, it.floor, it.cap, None), it)
        result = self.emit(f"sel({applies.code}, {fen.code}, 0)", "hh", 2, fen.bound)
        self.items[it.id] = result
        self.output(k, result.code, applies.code)

    def output(self, k: int, fen: str, applies: str) -> None:
        """Store item ``k`` of household ``i``: amounts household-major (one row of ``k`` items
        per household, written together), applicability only where it is not always true."""
        self.body.append(f"out_fen[u(i), {k}] = {fen}")
        if applies == "True":
            self.app_cols.append(None)
        else:
            self.body.append(f"out_app[u(i), {self.n_app}] = {applies}")
            self.app_cols.append(self.n_app)
            self.n_app += 1

    def group_sums(self) -> None:
        """Store the sums of :attr:`sum_groups` for household ``i`` (totals and subtotals in the
        items' pass: summing k columns of the household-major output afterwards took longer than
        the evaluation; bench/RESULTS.md, "Policy engine")."""
        items = self.c.items_for(self.option)
        for g, ks in enumerate(self.sum_groups):
            vals = [self.items[items[k].id] for k in ks]
            if sum(v.bound for v in vals) > LIMIT:
                raise Overflow(f"sum {g}")
            expr = " + ".join(v.code for v in vals) if vals else "0"
            self.body.append(f"out_sum[{g}, u(i)] = {expr}")

    def build(self) -> str:
        """Generate the kernel source; raises :class:`Unsupported` or :class:`Overflow`."""
        if self.option not in self.c.policy.options:
            raise Unsupported("option")
        self.arg(("strcodes",), lambda: np.zeros(0, dtype=I64))
        items = self.c.items_for(self.option)
        for k, it in enumerate(items):
            self.item(k, it)
        self.group_sums()
        if self.bad:
            self.body.append((f"if {' | '.join(self.bad)}:", ["err[u(i)] = 1"]))
        self.args[0] = np.asarray(self._strs or [0], dtype=I64)
        if len(self.vocab) != self._vocab_size:
            raise AssertionError("vocabulary grew after the lookup maps were built")
        return _source(len(self.args), self.body)
