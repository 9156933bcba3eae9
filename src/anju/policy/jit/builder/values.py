"""Code generator part: the values of parameters, table cells and tiers as kernel arguments.

These values reach a kernel only as runtime arrays, never as literals of its source. This part
computes the arrays from a policy, for the generator (:class:`Builder`) and for a what-if that
changes values only (:mod:`anju.policy.jit.prepared`), which re-makes just these arrays and keeps
the kernel's source and the arrays made from the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from anju.policy.jit.helpers import I64, Overflow
from anju.policy.model import Policy
from anju.policy.resolve import Resolved
from anju.policy.table import LIMIT, Arr, _scaled

# (id(block paths), overriding blocks) -> (the paths list, (keys, row per block, a path per key))
_OVERRIDE_ROWS: dict[tuple[int, frozenset[str]], tuple[Any, Any]] = {}


@dataclass(slots=True)
class Lut:
    """The arrays of one table parameter: a row of cells per distinct table (override variant; the
    default in the extra last column), which cells are present, each block's row, the strides of
    its keys and each key's words in order."""

    dims: list[list[str]]
    strides: list[int]
    width: int
    rows: list[list[int]]
    present_rows: list[list[bool]]
    row_of_block: Arr
    bound: int

    def values(self) -> Arr:
        """Blocks x (width + 1) int64 cells."""
        return np.asarray(self.rows, dtype=I64)[self.row_of_block]

    def present(self) -> Arr:
        """Blocks x (width + 1): whether the table has the cell."""
        return np.asarray(self.present_rows, dtype=bool)[self.row_of_block]


class ValueReader:
    """Parameter, table and tier values of one policy as of one date, per block of a table."""

    def __init__(
        self, policy: Policy, as_of: date, paths: list[tuple[str, ...]], resolved: Resolved | None = None
    ) -> None:
        self.policy = policy
        self.paths = paths
        self.r = resolved if resolved is not None else Resolved(policy, as_of)

    def variants(
        self, name: str, get: Callable[[tuple[str, ...]], Any], has_overrides: bool
    ) -> tuple[list[Any], Arr]:
        """The distinct values of a parameter/clock over the table's blocks, and each block's row."""
        nb = max(1, len(self.paths))
        if not has_overrides or not self.paths:
            return [get(())], np.zeros(nb, dtype=I64)
        _keys, rows, paths = self.override_rows(name)
        return [get(path) for path in paths], rows

    def override_rows(self, name: str) -> tuple[list[tuple[str, ...]], Arr, list[tuple[str, ...]]]:
        """Distinct override keys of ``name`` over the blocks, each block's key, and one path per key.

        Cached per (block paths, overriding blocks): what-if recomputations reuse it."""
        c = self.policy.clocks.get(name)
        blocks = frozenset(c.overrides if c is not None else self.r.overrides[name])
        ck = (id(self.paths), blocks)
        hit = _OVERRIDE_ROWS.get(ck)
        if hit is not None and hit[0] is self.paths:
            cached: tuple[list[tuple[str, ...]], Arr, list[tuple[str, ...]]] = hit[1]
            return cached
        memo: dict[tuple[str, ...], int] = {}
        keys: list[tuple[str, ...]] = []
        paths: list[tuple[str, ...]] = []
        rows = np.zeros(max(1, len(self.paths)), dtype=I64)
        for b, path in enumerate(self.paths):
            k = tuple(x for x in path if x in blocks)
            if k not in memo:
                memo[k] = len(keys)
                keys.append(k)
                paths.append(path)
            rows[b] = memo[k]
        if len(_OVERRIDE_ROWS) > 64:
            _OVERRIDE_ROWS.clear()
        _OVERRIDE_ROWS[ck] = (self.paths, (keys, rows, paths))
        return keys, rows, paths

    def param(self, name: str, scale: int) -> tuple[Arr, int]:
        """A scalar parameter: its value per block (int64 at ``scale``) and the largest magnitude."""
        p = self.policy.params[name]
        vals, rows = self.variants(name, lambda path: self.r.param(name, path), bool(p.overrides))
        ints = [_scaled(v, scale) for v in vals]
        bound = max(abs(x) for x in ints)
        if bound > LIMIT:
            raise Overflow(name)
        return np.asarray(ints, dtype=I64)[rows], bound

    def tier(self, name: str, scale: int) -> tuple[Arr, int]:
        """A tier's values: one per window, then the value outside every window."""
        t = self.policy.tiers[name]
        values = [_scaled(w.value, scale) for w in t.windows] + [_scaled(t.otherwise, scale)]
        bound = max(abs(v) for v in values)
        if bound > LIMIT:
            raise Overflow(name)
        return np.asarray(values, dtype=I64), bound

    def lut(self, name: str, scale: int) -> Lut:
        """Table ``name`` laid out for lookups: the words of each key (in order of appearance), a
        row of cells per block and which of them are present."""
        p = self.policy.params[name]
        tables, row_of_block = self.variants(name, lambda path: self.r.param(name, path), bool(p.overrides))
        # each key's words in order of appearance (dictionaries instead of lists' index(), and the
        # per-block present array made only for a new kernel: 0.40 instead of 0.67 ms at load 8)
        index: list[dict[str, int]] = [{} for _ in p.keys]
        for table in tables:
            for k in table:
                for i, w in enumerate(k):
                    index[i].setdefault(w, len(index[i]))
        dims = [list(d) for d in index]
        strides = [1] * len(dims)
        for i in range(len(dims) - 2, -1, -1):
            strides[i] = strides[i + 1] * max(1, len(dims[i + 1]))
        width = strides[0] * max(1, len(dims[0])) if dims else 1
        default = _scaled(p.default, scale) if p.default is not None else 0
        # One row per distinct table (override variant), then the row of every block.
        lut_rows: list[list[int]] = []
        present_rows: list[list[bool]] = []
        for table in tables:
            lut = [default] * (width + 1)
            pres = [False] * (width + 1)
            for k, v in table.items():
                pos = sum(index[i][w] * strides[i] for i, w in enumerate(k))
                lut[pos] = _scaled(v, scale)
                pres[pos] = True
            lut_rows.append(lut)
            present_rows.append(pres)
        bound = max([abs(x) for row in lut_rows for x in row] + [0])
        if bound > LIMIT:
            raise Overflow(name)
        return Lut(dims, strides, width, lut_rows, present_rows, row_of_block, bound)
