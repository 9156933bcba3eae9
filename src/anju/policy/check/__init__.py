"""The checker: resolves every name, infers kind, unit and fixed-point scale of every formula
node, and rejects what would be wrong at evaluation time.

Every number in a formula is exact and has a static *scale* (number of decimal places): a value
``v`` of scale ``s`` is the integer ``v * 10**s``. Addition aligns scales, multiplication adds
them, division is only allowed by a literal whose reciprocal is a terminating decimal (2, 4, 5,
10, 1.25 ...). This is what lets the bulk evaluator work on int64 arrays and agree to the fen
with the ``Decimal`` evaluator.

Parts (import the package: ``from anju.policy.check import check_policy, load_policy, Checked``):

- ``types``: static types (:class:`Ty`), the fact fields and functions formulas may use, scales,
  :class:`Checked` (the result);
- ``base``: the checker's state and its problems (``_CheckerBase``);
- ``names``: declarations and names (parameters, clocks, tiers, derived values, facts, fields);
- ``exprs``: types and units of expressions (arithmetic, comparisons, ``if``, joins, indexing);
- ``calls``: calls (functions, collections, dates, ``pick``, rates and group measures);
- ``policy``: items and their ordering, subtotals, the assembled checker and :func:`check_policy`,
  :func:`load_policy`, :func:`load_policy_file`.
"""

from __future__ import annotations

from anju.policy.check.names import param_scale, tier_scale
from anju.policy.check.policy import _Checker as _Checker
from anju.policy.check.policy import check_policy, check_subtotals, load_policy, load_policy_file, rate_basis
from anju.policy.check.types import (
    BOOL,
    COLLECTIONS,
    COUNT_UNIT,
    DATE,
    FACT_OBJECT,
    FIELD_OBJECTS,
    FIELDS,
    FUNCTIONS,
    NUM0,
    OPTIONAL_FIELDS,
    SUBTOTAL_MARK,
    Checked,
    Ty,
    dec_scale,
    fact_type,
    reciprocal,
)

__all__ = [
    "BOOL",
    "COLLECTIONS",
    "COUNT_UNIT",
    "DATE",
    "FACT_OBJECT",
    "FIELDS",
    "FIELD_OBJECTS",
    "FUNCTIONS",
    "NUM0",
    "OPTIONAL_FIELDS",
    "SUBTOTAL_MARK",
    "Checked",
    "Ty",
    "check_policy",
    "check_subtotals",
    "dec_scale",
    "fact_type",
    "load_policy",
    "load_policy_file",
    "param_scale",
    "rate_basis",
    "reciprocal",
    "tier_scale",
]
