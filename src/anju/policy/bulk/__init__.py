"""The bulk evaluator: a whole project at once, vectorised over numpy int64 scaled integers.

Parts (import the package: ``from anju.policy.bulk import evaluate_bulk, HouseholdTable``):

- :mod:`anju.policy.table` (beside this package, shared with the numba kernels): the household
  table, the group index and :class:`BulkResult`;
- ``evaluator``: the numpy evaluator (:class:`BulkEvaluator`, exact, with an int64 overflow guard), a
  package of parts holding the numpy helpers per construct;
- here: :func:`evaluate_bulk`, which uses the fused numba kernel (:mod:`anju.policy.jit`) when it is
  compiled and falls back to the numpy evaluator. The kernel imports only the table, never this
  package: the evaluator and the kernel no longer import each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from anju.policy.bulk.evaluator import BV, BulkEvaluator, div_round
from anju.policy.check import Checked
from anju.policy.facts import GroupFacts
from anju.policy.table import (
    BUILDING_INT_COLS,
    BUILDING_MONEY_COLS,
    I64,
    LIMIT,
    MEMBER_BOOL_COLS,
    Arr,
    BulkResult,
    Elements,
    GroupIndex,
    HouseholdTable,
    _absmax,
    _scaled,
    group_index,
    mark_missing,
)

__all__ = [
    "BUILDING_INT_COLS",
    "BUILDING_MONEY_COLS",
    "BV",
    "I64",
    "LIMIT",
    "MEMBER_BOOL_COLS",
    "Arr",
    "BulkEvaluator",
    "BulkResult",
    "Elements",
    "GroupIndex",
    "HouseholdTable",
    "_absmax",
    "_scaled",
    "div_round",
    "evaluate_bulk",
    "group_index",
]


def evaluate_bulk(
    checked: Checked,
    table: HouseholdTable,
    option: str,
    as_of: date | None = None,
    group: GroupFacts | None = None,
    jit: bool | None = None,
    sums: Mapping[str, Sequence[str]] | None = None,
) -> BulkResult:
    """Evaluate a whole project for one option.

    ``group`` defaults to the table's own households (the table is then the whole project).

    ``jit`` chooses the fused numba kernel (:mod:`anju.policy.jit`, same results to the fen):
    ``None`` (default) uses it when it is already compiled and otherwise compiles it in the
    background for large tables while this call uses numpy; ``True`` compiles it now if needed;
    ``False`` never uses it. ``ANJU_POLICY_JIT=0`` disables it everywhere. Whatever the choice,
    the numpy evaluator answers when the kernel cannot (unsupported construct, int64 overflow
    risk, numba missing).

    ``sums`` names groups of item ids whose per-household sums the result carries in
    :attr:`BulkResult.sums` (e.g. subtotals); the kernel produces them, and the total, in the same
    pass as the items.
    """
    if jit is not False:
        from anju.policy import jit as kernels

        res, _ = kernels.try_evaluate(checked, table, option, as_of, group, auto=jit is None, sums=sums)
        if res is not None:
            return mark_missing(checked.policy.facts, table, res)
    out = BulkEvaluator(checked, table, as_of, group).evaluate(option)  # missing facts marked there
    if sums:
        out.sums = {name: out.sum_of(ids) for name, ids in sums.items()}
    return out
