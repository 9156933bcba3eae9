"""Group facts straight from a household table's columns (:meth:`HouseholdTable.group_facts`).

The group facts of a project (households, certificates and legal area per block, and each
household's sign and vacate date with its weight) used to be built as :class:`BlockGroup` objects:
one Python ``date`` and one weight tuple per household and event, ~1.8 s for 1,000,000 households,
which the rate index (:class:`anju.policy.table.GroupIndex`) then turned back into ordinals. Here
they stay columns: per event, the households' (block, date) pairs are counted with ``bincount``
into one row per block and day (households, certificates, area), sorted by block then day, and a
rate of a scope is a ``searchsorted`` in the cumulative sums of its blocks' rows.

:class:`TableBlocks` still gives the :class:`BlockGroup` of a block on demand (built per block when
first asked: the scalar evaluator's rates, ``group_to_dict``, equality with facts counted by
:meth:`GroupFacts.from_households`), equal to what the per-household path gives.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from anju.policy.facts import BlockGroup, GroupFacts

if TYPE_CHECKING:
    from anju.policy.table import HouseholdTable

__all__ = ["GroupColumns", "TableBlocks", "table_group_facts"]

Arr = npt.NDArray[Any]
I64 = np.int64

# Float64 sums of integers are exact below this; above it the sums are added as integers.
_EXACT = 2**53
# Counting (block, day) pairs with one bincount is used while the bins stay this few (else a sort).
_MAX_BINS = 1 << 20
_BASIS_COL = {"household": 0, "certificate": 1, "area": 2}


def _sums(keys: Arr, weights: Arr, size: int) -> Arr:
    """Exact int64 sums of ``weights`` per key in ``range(size)``."""
    if weights.size == 0:
        return np.zeros(size, dtype=I64)
    if max(-int(weights.min()), int(weights.max())) * weights.size < _EXACT:
        return np.rint(np.bincount(keys, weights=weights, minlength=size)).astype(I64)
    out = np.zeros(size, dtype=I64)  # pragma: no cover - areas beyond 2**53 hundredths of ㎡
    np.add.at(out, keys, weights)  # pragma: no cover
    return out  # pragma: no cover


def _per_household(values: Arr, start: Arr, count: Arr) -> Arr:
    """Each household's sum of its elements' ``values`` (elements are stored household by household)."""
    cs = np.zeros(values.size + 1, dtype=I64)
    np.cumsum(values, out=cs[1:])
    out: Arr = cs[start + count] - cs[start]
    return out


def _certificates(t: HouseholdTable) -> Arr:
    """Distinct named certificate numbers per household (as :func:`facts.household_weight`); a table
    without certificate numbers (e.g. a synthetic one) counts none, as the per-household path did."""
    n, b = t.n, t.buildings
    if not b.size or not t.certificate_nos:
        return np.zeros(n, dtype=I64)
    ids: dict[str, int] = {"": -1}
    cert = np.fromiter(
        (ids.setdefault(c.strip(), len(ids)) for c in t.certificate_nos), dtype=I64, count=b.size
    )
    named = cert >= 0
    certs = _per_household(named.astype(I64), b.start, b.count)
    hh = np.asarray(b.hh, dtype=I64)
    # A number written twice in one household is one certificate: count distinct (household, number).
    multi = named & (certs[hh] > 1)
    if multi.any():
        h, c = hh[multi], cert[multi]
        order = np.lexsort((c, h))
        h, c = h[order], c[order]
        first = np.ones(h.size, dtype=bool)
        first[1:] = (h[1:] != h[:-1]) | (c[1:] != c[:-1])
        distinct = np.bincount(h[first], minlength=n).astype(I64)
        certs = np.where(certs > 1, distinct, certs)
    return certs


class GroupColumns:
    """The group facts of one table as columns (see the module docstring).

    ``codes`` are the table's block codes (``block_idx`` indexes them); ``totals[b]`` is block ``b``'s
    (households, certificates, area hundredths); per event, :meth:`day_rows` gives one row per block
    and day with the households, certificates and area that had the event on that day.
    """

    def __init__(self, t: HouseholdTable) -> None:
        n = t.n
        b = t.buildings
        self.codes: list[str] = list(t.blocks)
        self.paths: list[tuple[str, ...]] = list(t.block_paths)
        self.position = {code: k for k, code in enumerate(self.codes)}
        self.block_idx: Arr = np.asarray(t.block_idx, dtype=I64)
        self.area: Arr = (
            _per_household(np.asarray(b.cols["legal_area"], dtype=I64), b.start, b.count)
            if b.size
            else np.zeros(n, dtype=I64)
        )
        self.certs: Arr = _certificates(t)
        self.ords = {"sign": np.asarray(t.sign_on, dtype=I64), "vacate": np.asarray(t.vacate_on, dtype=I64)}
        nb = len(self.codes)
        self.totals: Arr = np.stack(
            [
                np.bincount(self.block_idx, minlength=nb).astype(I64),
                _sums(self.block_idx, self.certs, nb),
                _sums(self.block_idx, self.area, nb),
            ],
            axis=1,
        )
        self._days: dict[str, tuple[Arr, Arr, Arr, Arr]] = {}
        self._rows: dict[str, tuple[Arr, Arr]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------ rates

    def day_rows(self, event: str) -> tuple[Arr, Arr, Arr, Arr]:
        """``(block, day ordinal, weights, cuts)`` of ``event``: one row per (block, day) with an
        event, sorted by block then day; ``weights[:, k]`` the households / certificates / area of
        the row; block ``b``'s rows are ``cuts[b]:cuts[b + 1]``."""
        hit = self._days.get(event)
        if hit is not None:
            return hit
        ords = self.ords[event]
        m = ords > 0
        blk, day = self.block_idx[m], ords[m]
        nb = len(self.codes)
        if day.size:
            lo = int(day.min())
            span = int(day.max()) - lo + 1
            key = blk * span + (day - lo)
            if nb * span <= max(_MAX_BINS, 2 * day.size):
                counts = np.bincount(key, minlength=nb * span)
                keys = np.flatnonzero(counts)
                weights = np.stack(
                    [
                        counts[keys].astype(I64),
                        *(_sums(key, c[m], nb * span)[keys] for c in (self.certs, self.area)),
                    ],
                    axis=1,
                )
            else:  # days too far apart for one bin each: sort the pairs instead
                order = np.argsort(key, kind="stable")
                key = key[order]
                start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
                keys = key[start]
                w = np.stack([np.ones(day.size, dtype=I64), self.certs[m], self.area[m]], axis=1)
                weights = np.add.reduceat(w[order], start, axis=0).astype(I64)
            rb, rd = keys // span, keys % span + lo
        else:
            rb = rd = np.zeros(0, dtype=I64)
            weights = np.zeros((0, 3), dtype=I64)
        cuts = np.searchsorted(rb, np.arange(nb + 1))
        out = (rb.astype(I64), rd.astype(I64), weights, cuts)
        self._days[event] = out
        return out

    def scope(self, leaves: list[str], event: str, basis: str) -> tuple[int, Arr, Arr]:
        """Total weight of the blocks ``leaves`` on ``basis``, their event days sorted and the running
        sum of the weights (the households on or before a day: ``cum[searchsorted(days, day,
        'right') - 1]``)."""
        k = _BASIS_COL[basis]
        idx = np.asarray([self.position[c] for c in leaves], dtype=I64)
        total = int(self.totals[idx, k].sum()) if idx.size else 0
        rb, rd, weights, cuts = self.day_rows(event)
        if idx.size == 1:  # one block: its rows are already in day order
            lo, hi = int(cuts[idx[0]]), int(cuts[idx[0] + 1])
            return total, rd[lo:hi], np.cumsum(weights[lo:hi, k])
        inside = np.zeros(len(self.codes), dtype=bool)
        inside[idx] = True
        sel = inside[rb]
        days, w = rd[sel], weights[sel, k]
        order = np.argsort(days, kind="stable")
        return total, days[order], np.cumsum(w[order])

    # ------------------------------------------------------------------------ blocks on demand

    def block(self, code: str) -> BlockGroup:
        """The :class:`BlockGroup` of ``code``, as the per-household path builds it: event dates
        sorted with their weights (by date, then certificates, then area)."""
        k = self.position[code]
        n, certs, area = (int(x) for x in self.totals[k])
        parts: list[tuple[tuple[date, ...], tuple[tuple[int, int], ...]]] = []
        for event in ("sign", "vacate"):
            order, cuts = self._event_rows(event)
            rows = order[cuts[k] : cuts[k + 1]]
            ords = self.ords[event][rows].tolist()
            parts.append(
                (
                    tuple(date.fromordinal(o) for o in ords),
                    tuple(zip(self.certs[rows].tolist(), self.area[rows].tolist(), strict=True)),
                )
            )
        (sd, sw), (vd, vw) = parts
        return BlockGroup(n, sd, vd, certs, area, sw, vw, True)

    def _event_rows(self, event: str) -> tuple[Arr, Arr]:
        """Households with ``event`` sorted by block, date, certificates, area; a block's cut."""
        hit = self._rows.get(event)
        if hit is not None:
            return hit
        with self._lock:
            ords = self.ords[event]
            rows = np.flatnonzero(ords > 0)
            order = rows[np.lexsort((self.area[rows], self.certs[rows], ords[rows], self.block_idx[rows]))]
            cuts = np.searchsorted(self.block_idx[order], np.arange(len(self.codes) + 1))
            self._rows[event] = (order, cuts)
            return order, cuts


class TableBlocks(Mapping[str, BlockGroup]):
    """Block code -> :class:`BlockGroup` of the blocks with households, each built when first read."""

    def __init__(self, columns: GroupColumns) -> None:
        self._c = columns
        counts = columns.totals[:, 0]
        self._codes = [code for k, code in enumerate(columns.codes) if counts[k] > 0]
        self._present = set(self._codes)
        self._built: dict[str, BlockGroup] = {}

    def __getitem__(self, code: str) -> BlockGroup:
        hit = self._built.get(code)
        if hit is not None:
            return hit
        if code not in self._present:
            raise KeyError(code)
        g = self._c.block(code)
        self._built[code] = g
        return g

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes)

    def __len__(self) -> int:
        return len(self._codes)

    def __contains__(self, code: object) -> bool:
        return code in self._present

    def __repr__(self) -> str:
        return f"TableBlocks({len(self._codes)} blocks)"


def table_group_facts(t: HouseholdTable) -> GroupFacts:
    """The group facts of ``t``'s households (the whole project), columnar (see the module docstring)."""
    cols = GroupColumns(t)
    blocks = TableBlocks(cols)
    parents: dict[str, str] = {}
    for code in blocks:
        path = cols.paths[cols.position[code]]
        for child, parent in zip(path[1:], path[:-1], strict=True):
            parents[child] = parent
    return GroupFacts(blocks=blocks, parents=parents, columns=cols)
