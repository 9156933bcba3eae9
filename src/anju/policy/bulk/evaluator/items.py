"""Numpy evaluator part: rounding to the fen, bounds, items and the assembled
:class:`BulkEvaluator` (:meth:`BulkEvaluator.evaluate`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from anju.core.money import unit_fen
from anju.policy.bulk.evaluator.calls import BulkEvaluatorCalls
from anju.policy.bulk.evaluator.core import BV, div_round
from anju.policy.bulk.evaluator.names import BulkEvaluatorNames
from anju.policy.errors import EvaluationError
from anju.policy.model import Formula, Item
from anju.policy.table import I64, LIMIT, Arr, BulkResult, _absmax, mark_missing, subtotal_arrays


class BulkEvaluator(BulkEvaluatorNames, BulkEvaluatorCalls):
    """Evaluates every household of a :class:`HouseholdTable` at once."""

    # -- items

    def to_fen(self, x: BV, it: Item) -> BV:
        """Round a yuan value of scale ``s`` to fen with the item's mode and unit."""
        step = unit_fen(it.rounding_unit)
        s = x.scale
        if s >= 2:
            units = div_round(x.v, 10 ** (s - 2) * step, it.rounding_mode)
        else:
            units = div_round(x.v * 10 ** (2 - s), step, it.rounding_mode)
        fen = units * step if step != 1 else units
        bound = x.bound // 10 ** max(0, s - 2) * 10 ** max(0, 2 - s) + step
        return BV(fen, x.level, 2, bound)

    def bounded(self, x: BV, floor: Formula | None, cap: Formula | None, el: str | None) -> BV:
        for f, is_floor in ((floor, True), (cap, False)):
            if f is None:
                continue
            b = self.run(f, el)
            s = max(x.scale, b.scale)
            x2, b2 = self.align(x, s), self.align(b, s)
            x2, b2, lv = self.pair(x2, b2)
            bound = max(x2.bound, b2.bound)
            xv, bv = x2.v, b2.v
            if bound > LIMIT or any(isinstance(v, np.ndarray) and v.dtype == object for v in (xv, bv)):
                xv, bv = self.wide(xv), self.wide(bv)
            if lv == "const":
                out: Any = max(xv, bv) if is_floor else min(xv, bv)
            else:
                out = np.maximum(xv, bv) if is_floor else np.minimum(xv, bv)
            x = BV(out, lv, s, bound)
        return x

    def narrow(self, v: Arr) -> Arr:
        """Fen results back to int64 when they fit."""
        if v.dtype == object and _absmax(v) <= LIMIT:
            return v.astype(I64)
        return v

    def item(self, it: Item) -> tuple[Arr, Arr]:
        el = "building" if it.per == "certificate" else None
        lv = el or "hh"
        applies = BV(True, "const")
        if it.when is not None:
            applies = self.run(it.when, el)
        raw = self.run(it.formula, el)
        fen = self.to_fen(self.bounded(raw, it.floor, it.cap, el), it)
        app = self.full(applies, lv)
        vals = self.full(fen, lv)
        vals = np.where(app, vals, 0)
        if vals.dtype != object and fen.bound > LIMIT:
            vals = vals.astype(object)
        if el is None:
            return self.narrow(vals), app
        e = self.t.buildings
        total = self.seg_sum(e, vals, fen.bound)
        hh_app = self.seg_sum(e, app.astype(I64), 1) > 0
        if it.household_floor is not None or it.household_cap is not None:
            tb = BV(total, "hh", 2, _absmax(total))
            hf = self.to_fen(self.bounded(tb, it.household_floor, it.household_cap, None), it)
            total = np.where(hh_app, self.full(hf, "hh"), 0)
        return self.narrow(total), hh_app

    def evaluate(self, option: str) -> BulkResult:
        """Evaluate every household for ``option``."""
        if option not in self.c.policy.options:
            raise EvaluationError("option", f"没有补偿方式“{option}”", f"no option '{option}'")
        self.option = option
        self.derived = {}  # a derived value may read the option
        fen: dict[str, Arr] = {}
        app: dict[str, Arr] = {}
        self.items = {}
        self._cse = {}
        ids = []
        for it in self.c.items_for(option):
            v, a = self.item(it)
            fen[it.id] = v
            app[it.id] = a
            self.items[it.id] = BV(v, "hh", 2, _absmax(v))
            ids.append(it.id)
        labels = {it.id: it.label for it in self.c.items_for(option)}
        subs = subtotal_arrays(self.c, option, fen, self.n)
        sub_labels = {st.id: st.label for st in self.c.subtotals_for(option)}
        return mark_missing(
            self.c.policy.facts,
            self.t,
            BulkResult(
                option, self.t.codes, ids, labels, fen, app, subtotals=subs, subtotal_labels=sub_labels
            ),
        )
