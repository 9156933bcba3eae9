"""The scalar evaluator: one household, one option, exact ``Decimal`` arithmetic, full trace.

This is the family's calculation sheet (算账单): for every item it records the formula, the values
substituted, the tier or branch taken, the floors and caps applied and the rounding step.

Parts (import the package: ``from anju.policy.scalar import evaluate, Result``):

- ``results``: exact decimal contexts, the results (:class:`Result`, items, subtotals, steps) and :func:`fmt`;
- ``core``: the evaluator's state, items, bounds, rounding and the recursion's entry ``ev``;
- ``names``: names, fields, facts, chosen flats, tiers, lookups and scopes;
- ``calls``: calls (functions, aggregates, dates, ``pick``, group measures);
- ``evaluator``: trace notes, the assembled :class:`ScalarEvaluator` and :func:`evaluate`.
"""

from __future__ import annotations

from anju.policy.scalar.evaluator import ScalarEvaluator, evaluate
from anju.policy.scalar.results import (
    EXACT,
    ROUNDING,
    CertificateLine,
    ItemResult,
    Result,
    Step,
    SubtotalResult,
    fmt,
    subtotal_results,
    subtotals_after,
)

__all__ = [
    "EXACT",
    "ROUNDING",
    "CertificateLine",
    "ItemResult",
    "Result",
    "ScalarEvaluator",
    "Step",
    "SubtotalResult",
    "evaluate",
    "fmt",
    "subtotal_results",
    "subtotals_after",
]
