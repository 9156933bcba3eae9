"""Fused kernels part: a kernel prepared for one table (its source and arguments), the prepared
kernels of recent calls, and a what-if's values only re-made (:func:`prepare` is the entry point).

A what-if draft that changes values only (``Checked.same_shape_as``, anju.policy.whatif) has the
source of its policy's kernel and the same arrays made from the table; only the arrays of the
changed parameters and tiers differ. Those are re-made from the draft and put in place of the
policy's ones in a *template*: the policy's kernel prepared once with room in its bounds (every
parameter value taken 100 times larger, or 10 times), so that a value that grows stays within the
bounds its source was checked for. A value beyond them, a changed parameter whose value shaped
the source (bands, a shift of a group rate's date), or any other change prepares the draft in full.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from anju.policy.check import Checked
from anju.policy.errors import EvaluationError
from anju.policy.facts import GroupFacts
from anju.policy.jit.builder import Builder
from anju.policy.jit.builder.values import Lut, ValueReader
from anju.policy.jit.helpers import I64, Overflow, Unsupported
from anju.policy.model import Item
from anju.policy.resolve import Resolved
from anju.policy.table import HouseholdTable


@dataclass(slots=True)
class Prepared:
    """A kernel ready to run on one table: the source, its arguments and the item ids."""

    source: str
    names: set[str]
    args: list[Any]
    items: list[Item]
    app_cols: list[int | None]  # per item: column of ``out_app``, None when it always applies
    n_app: int
    sum_names: list[str] = field(default_factory=list)  # rows 1.. of ``out_sum`` (row 0: the total)
    subtotals: list[str] = field(default_factory=list)  # rows after the named sums: the policy's subtotals
    subtotal_labels: dict[str, str] = field(default_factory=dict)
    # Arguments made from parameter/tier values: position -> (kind, name, scale), the largest
    # magnitude the source was checked for, a table's layout; names whose values shaped the source.
    value_args: dict[int, tuple[str, str, int]] = field(default_factory=dict)
    value_bounds: dict[int, int] = field(default_factory=dict)
    luts: dict[int, Lut] = field(default_factory=dict)
    shape_names: frozenset[str] = frozenset()
    # parallel -> the kernel's signature (anju.policy.jit.kernels._signature), once known
    signatures: dict[bool, Any] = field(default_factory=dict)


def fingerprint(x: Any) -> Any:
    """What a kernel's compiled signature depends on of an argument: an array's type and layout."""
    if isinstance(x, np.ndarray):
        f = x.flags
        return (x.dtype.str, x.ndim, f.c_contiguous, f.f_contiguous, f.writeable)
    return type(x)


class _Recent:
    """Results of recent calls per (policy, table, group facts, ...), least recently used dropped.

    A table and its group facts are one data version (callers build new ones when the data changes,
    see compensation/budget.py). Entries hold their objects, compared by identity, with the table's
    columns: a table whose columns were replaced in place is not taken for the old one. Holding them
    keeps them in memory, so only tables up to :data:`MAX_HOUSEHOLDS` are kept (on larger ones the
    kernel's own time dwarfs the preparation)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: dict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = {}
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...], held: tuple[Any, ...]) -> Any:
        with self.lock:
            hit = self.entries.pop(key, None)
            if hit is None:
                return None
            self.entries[key] = hit  # most recently used last
        if len(hit[0]) == len(held) and all(a is b for a, b in zip(hit[0], held, strict=True)):
            return hit[1]
        return None

    def put(self, key: tuple[Any, ...], held: tuple[Any, ...], value: Any) -> None:
        with self.lock:
            self.entries.pop(key, None)
            self.entries[key] = (held, value)
            while len(self.entries) > self.size:
                del self.entries[next(iter(self.entries))]


MAX_HOUSEHOLDS = 100_000
_PREPARED = _Recent(8)
# Templates of value-only drafts, per (policy, table, group facts, option, date, sums): one per
# policy a what-if page works on.
_TEMPLATES = _Recent(4)
# Bounds of parameter values in a template: 100 times the policy's (or 10 times when that could
# overflow). A what-if with a value never asked before then re-makes one or two small arrays
# instead of generating the kernel's source and every argument: 0.27 instead of 4.4 ms of CPU for two
# new values on 2,300 households (state_land, measured in one run at load 10 on the shared VM).
HEADROOMS = (100, 10)


def _table_parts(table: HouseholdTable) -> tuple[Any, ...]:
    return (
        table,
        table.block_idx,
        table.kind,
        table.sign_on,
        table.vacate_on,
        table.buildings,
        table.members,
        table.tenants,
        table.flats,
        table.chosen_flats_area,
        table.purchase_total,
        table.homestead_area,
        *table.flags.values(),
        *table.events.values(),
    )


def clear_prepared() -> None:
    """Forget the prepared kernels (and templates) of earlier calls."""
    for cache in (_PREPARED, _TEMPLATES):
        with cache.lock:
            cache.entries.clear()


def prepare(
    checked: Checked,
    table: HouseholdTable,
    option: str,
    as_of: date | None = None,
    group: GroupFacts | None = None,
    sums: Mapping[str, Sequence[str]] | None = None,
) -> Prepared | str:
    """Generate the kernel for ``option``; returns the reason as text when it cannot be used.
    The result of the same policy, table (of at most 100,000 households), group facts, option, date
    and sums is reused (running it does not change it); a draft that changes values only reuses
    its policy's source and table arrays (see the module's text).

    The kernel also writes, in the same pass, each household's total (every item of the option)
    and the sum of each named group of item ids in ``sums`` (e.g. the policy's subtotals; ids
    of items not offered under ``option`` count as 0)."""
    if table.n > MAX_HOUSEHOLDS:
        return build(checked, table, option, as_of, group, sums)
    sums_key = tuple((k, tuple(v)) for k, v in (sums or {}).items())
    key = (id(checked), id(table), id(group), option, as_of, sums_key)
    hit = _PREPARED.get(key, (checked, group, *_table_parts(table)))
    if hit is not None:
        return hit  # type: ignore[no-any-return]
    p: Prepared | str | None = None
    root = checked.same_shape_as
    if root is not None:
        t = _template(root, table, option, as_of, group, sums, sums_key)
        if isinstance(t, Prepared):
            p = revalue(t, checked, table, as_of)
    if p is None:
        p = build(checked, table, option, as_of, group, sums)
    # held after building: reading an event date may add its column
    _PREPARED.put(key, (checked, group, *_table_parts(table)), p)
    return p


def _template(
    root: Checked,
    table: HouseholdTable,
    option: str,
    as_of: date | None,
    group: GroupFacts | None,
    sums: Mapping[str, Sequence[str]] | None,
    sums_key: tuple[Any, ...],
) -> Prepared | str:
    """The kernel of ``root`` prepared with room in its value bounds (see :data:`HEADROOMS`)."""
    key = (id(root), id(table), id(group), option, as_of, sums_key)
    hit = _TEMPLATES.get(key, (root, group, *_table_parts(table)))
    if hit is not None:
        return hit  # type: ignore[no-any-return]
    t = prepare(root, table, option, as_of, group, sums)
    if isinstance(t, Prepared):
        for headroom in HEADROOMS:
            roomy = build(root, table, option, as_of, group, sums, headroom)
            # bounds never shape the source (Builder.value_arg): checked here all the same
            if isinstance(roomy, Prepared) and roomy.source == t.source and len(roomy.args) == len(t.args):
                t = roomy
                break
    _TEMPLATES.put(key, (root, group, *_table_parts(table)), t)
    return t


def revalue(t: Prepared, draft: Checked, table: HouseholdTable, as_of: date | None) -> Prepared | None:
    """``t`` with the arrays of the draft's changed values; ``None`` when the draft needs its own
    kernel (a changed value shaped the source, or lies beyond the bounds the source was checked for).

    Exactly what :func:`build` would give for the draft: the arrays are made by the same code
    (:class:`ValueReader`), and a value within the bounds leaves every other decision of the
    generator as it was (they depend on bounds only, and only through "too large")."""
    changed = draft.changed_values
    if changed & t.shape_names:
        return None
    when = as_of or draft.policy.meta.effective_on
    # only the changed parameters resolved (all of state_land's: 0.1 ms at load 8)
    vr = ValueReader(draft.policy, when, table.block_paths, Resolved(draft.policy, when, changed))
    args = list(t.args)
    try:
        for pos, (kind, name, scale) in t.value_args.items():
            if name not in changed:
                continue
            if kind == "param":
                arr, bound = vr.param(name, scale)
            elif kind == "tier":
                arr, bound = vr.tier(name, scale)
            else:
                lut, old = vr.lut(name, scale), t.luts[pos]
                same_rows = lut.row_of_block is old.row_of_block  # the same cached rows, as a rule
                if (lut.dims, lut.present_rows) != (old.dims, old.present_rows) or not (
                    same_rows or np.array_equal(lut.row_of_block, old.row_of_block)
                ):
                    return None
                arr, bound = lut.values(), lut.bound
            if bound > t.value_bounds[pos]:
                return None
            args[pos] = np.ascontiguousarray(arr, dtype=I64)
    except (Overflow, EvaluationError):
        return None
    same_layout = all(
        fingerprint(a) == fingerprint(b) for a, b in zip(args, t.args, strict=True) if a is not b
    )
    return dataclasses.replace(t, args=args, signatures=t.signatures if same_layout else {})


def build(
    checked: Checked,
    table: HouseholdTable,
    option: str,
    as_of: date | None = None,
    group: GroupFacts | None = None,
    sums: Mapping[str, Sequence[str]] | None = None,
    headroom: int = 1,
) -> Prepared | str:
    """Generate the kernel for ``option`` (see :func:`prepare`); ``headroom``: see :data:`HEADROOMS`.

    The kernel also writes, in the same pass, each household's total (every item of the option)
    and the sum of each named group of item ids in ``sums`` (e.g. the policy's subtotals; ids
    of items not offered under ``option`` count as 0)."""
    items = checked.items_for(option) if option in checked.policy.options else []
    pos = {it.id: k for k, it in enumerate(items)}
    names = list(sums or {})
    groups = [tuple(range(len(items)))] + [
        tuple(pos[i] for i in (sums or {})[name] if i in pos) for name in names
    ]
    # the policy's subtotal lines (小计) are produced the same way, after the named sums
    subtotals = checked.subtotals_for(option) if items else []
    groups += [tuple(pos[i] for i in checked.subtotal_items(st.id, option)) for st in subtotals]
    try:
        b = Builder(checked, table, option, as_of, group)
        b.sum_groups = tuple(groups)
        b.headroom = headroom
        source = b.build()
    except Unsupported as exc:
        return f"unsupported: {exc}"
    except Overflow as exc:
        return f"int64 overflow risk: {exc}"
    except EvaluationError as exc:  # the numpy evaluator raises it again with its context
        return f"evaluation error: {exc}"
    subtotal_ids = [st.id for st in subtotals]
    labels = {st.id: st.label for st in subtotals}
    at = {name: int(name[1:]) for name in b.value_args}
    return Prepared(
        source,
        b.names,
        b.args,
        items,
        b.app_cols,
        b.n_app,
        names,
        subtotal_ids,
        labels,
        value_args={at[a]: k for a, k in b.value_args.items()},
        value_bounds={at[a]: v for a, v in b.value_bounds.items()},
        luts={at[a]: lut for a, lut in b.luts.items()},
        shape_names=frozenset(b.shape_names),
    )
