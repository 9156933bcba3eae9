"""The numpy bulk evaluator: a whole project at once, vectorised over numpy int64 scaled integers.

Every number is held as an integer array ``v`` meaning ``v / 10**scale`` with the scale the
checker inferred, so every operation is exact. Each array carries an upper bound of its absolute
values; when an operation could leave the int64 range the operands switch to Python-integer
(object) arrays, which are slower but still exact. Results equal the scalar ``Decimal``
evaluator's to the fen (checked by a property test).

:class:`BulkEvaluator` is one recursion over the formula trees (``ev`` -> ``call`` -> ``ev``),
assembled from parts holding the numpy helpers per construct:

- ``core``: bulk values (:class:`BV`), :func:`div_round`, the evaluator's state, levels, scales
  and bounds, the recursion's entry ``ev`` with arithmetic, comparisons and ``if``;
- ``names``: names, facts, subtotals, fields, parameters, clocks, tiers, table/band lookups and
  per-household sums of elements;
- ``calls``: calls: functions, aggregates, dates, ``pick``, group measures and their scopes;
- ``items``: rounding to the fen, bounds, items and :meth:`BulkEvaluator.evaluate`.
"""

from __future__ import annotations

from anju.policy.bulk.evaluator.core import BV, div_round
from anju.policy.bulk.evaluator.items import BulkEvaluator

__all__ = ["BV", "BulkEvaluator", "div_round"]
