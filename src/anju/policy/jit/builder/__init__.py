"""Fused kernels part: the code generator (:class:`Builder`): a checked policy and a household table
into the statements of one kernel, with every intermediate's scale and int64 bound.

Its methods are one recursion over the formula trees (``ev`` -> ``call`` -> ``aggregate`` -> ``ev``)
that mirrors the numpy evaluator node for node; the class is assembled from parts by construct:

- ``core``: the generator's state, runtime arguments, loop blocks, emitted statements, scales, and
  the recursion's entry ``ev`` with comparisons and ``if`` (``BuilderBase``);
- ``names``: names, facts, subtotals, fields of household objects, element loops, parameters,
  clocks, tiers and table/band lookups (``index``);
- ``calls``: calls: functions, aggregates over collections, dates, ``pick``, rates, group measures;
- ``items``: rounding to the fen, bounds, items, outputs, group sums and :meth:`Builder.build`.
"""

from __future__ import annotations

from anju.policy.jit.builder.items import Builder

__all__ = [
    "Builder",
]
