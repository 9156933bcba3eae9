"""Household facts part: blocks and the group facts (:class:`GroupFacts`): counts and weights by
basis, event dates, office-set measures and sign/vacate rates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from anju.policy.errors import EvaluationError
from anju.policy.facts.household import Household

# Bases a group rate may be counted on: households (户), certificates (证) or legal area (面积).
BASES = ("household", "certificate", "area")


BASIS_ALIASES = {
    "户": "household",
    "户数": "household",
    "证": "certificate",
    "证数": "certificate",
    "面积": "area",
}


BASIS_LABELS_ZH = {"household": "户数", "certificate": "证数", "area": "合法面积"}


@dataclass(frozen=True, slots=True)
class BlockGroup:
    """Group facts of one block: how many households it has and when they signed / vacated.

    For rates counted by certificate or by area the block also carries its totals (certificates,
    legal area in hundredths of ㎡) and, aligned with ``sign_dates`` / ``vacate_dates``, the weight
    of each event's household as ``(certificates, area hundredths)``. Blocks built without weights
    (older snapshots, cases files) give rates by household only.
    """

    total_households: int
    sign_dates: tuple[date, ...] = ()
    vacate_dates: tuple[date, ...] = ()
    total_certificates: int = 0
    total_area_cents: int = 0
    sign_weights: tuple[tuple[int, int], ...] = ()
    vacate_weights: tuple[tuple[int, int], ...] = ()
    weighted: bool = False  # whether the weights above were counted (else by household only)

    def total(self, basis: str) -> int:
        """The denominator of a rate on ``basis``."""
        if basis == "certificate":
            return self.total_certificates
        if basis == "area":
            return self.total_area_cents
        return self.total_households

    def events(self, event: str, basis: str) -> list[tuple[date, int]]:
        """``(date, weight)`` of each household's ``event`` ('sign' / 'vacate'), sorted by date."""
        dates = self.sign_dates if event == "sign" else self.vacate_dates
        if basis == "household":
            return [(d, 1) for d in dates]
        weights = self.sign_weights if event == "sign" else self.vacate_weights
        k = 0 if basis == "certificate" else 1
        return [(d, w[k]) for d, w in zip(dates, weights, strict=True)]


def household_weight(h: Household) -> tuple[int, int]:
    """A household's weight in group rates by certificate and by area: the number of distinct
    certificate numbers of its buildings (a building without one counts as none) and its legal
    area in hundredths of ㎡."""
    certs = len({b.certificate_no.strip() for b in h.buildings if b.certificate_no.strip()})
    area = sum(int(b.legal_area * 100) for b in h.buildings)
    return certs, area


def _sorted_events(
    events: list[tuple[date, tuple[int, int]]],
) -> tuple[tuple[date, ...], tuple[tuple[int, int], ...]]:
    events.sort()
    return tuple(d for d, _ in events), tuple(w for _, w in events)


def build_blocks(
    rows: Iterable[tuple[str, tuple[str, ...], date | None, date | None, int, int]],
) -> tuple[dict[str, BlockGroup], dict[str, str]]:
    """Blocks and parents from ``(block code, parent chain, sign date, vacate date, certificates,
    area hundredths)`` of every household of a project (the one place group facts are counted)."""
    totals: dict[str, list[int]] = {}
    signs: dict[str, list[tuple[date, tuple[int, int]]]] = {}
    vacates: dict[str, list[tuple[date, tuple[int, int]]]] = {}
    parents: dict[str, str] = {}
    for code, chain, sign_on, vacate_on, certs, area in rows:
        t = totals.setdefault(code, [0, 0, 0])
        t[0] += 1
        t[1] += certs
        t[2] += area
        if sign_on is not None:
            signs.setdefault(code, []).append((sign_on, (certs, area)))
        if vacate_on is not None:
            vacates.setdefault(code, []).append((vacate_on, (certs, area)))
        path = (*chain, code)
        for child, parent in zip(path[1:], path[:-1], strict=True):
            parents[child] = parent
    blocks = {}
    for code, (n, certs, area) in totals.items():
        sd, sw = _sorted_events(signs.get(code, []))
        vd, vw = _sorted_events(vacates.get(code, []))
        blocks[code] = BlockGroup(n, sd, vd, certs, area, sw, vw, True)
    return blocks, parents


@dataclass(frozen=True, slots=True)
class MeasureValue:
    """One value the office recorded for a group measure of a block (or the project) from a date."""

    effective_on: date
    value: Decimal


@dataclass(frozen=True, slots=True)
class GroupFacts:
    """Per-block facts for group aggregates (sign rate / vacate rate of a block or the project).

    ``blocks`` maps each leaf block code (a household's ``block_code``) to its :class:`BlockGroup`;
    ``parents`` maps a block code to its parent block code (absent for top-level blocks).
    """

    blocks: Mapping[str, BlockGroup] = field(default_factory=dict)
    parents: Mapping[str, str] = field(default_factory=dict)
    _memo: dict[tuple[str | None, date, str], int] = field(
        default_factory=dict, compare=False, repr=False, hash=False
    )
    # Office-set group measures: measure id -> scope ("" for the project, else a block code) ->
    # values sorted by effective date (the latest on or before a date is in force).
    measures: Mapping[str, Mapping[str, tuple[MeasureValue, ...]]] = field(default_factory=dict)
    _leaves: dict[str | None, list[str]] = field(default_factory=dict, compare=False, repr=False, hash=False)
    # The same facts as columns when they were counted from a household table
    # (anju.policy.group_columns.GroupColumns): the rate index then reads them instead of ``blocks``.
    columns: Any = field(default=None, compare=False, repr=False, hash=False)

    @staticmethod
    def from_households(households: Iterable[Household]) -> GroupFacts:
        """Group facts computed from the complete list of a project's households."""
        blocks, parents = build_blocks(
            (h.block_code, h.block_chain, h.sign_on, h.vacate_on, *household_weight(h)) for h in households
        )
        return GroupFacts(blocks=blocks, parents=parents)

    def with_measures(self, measures: Mapping[str, Mapping[str, tuple[MeasureValue, ...]]]) -> GroupFacts:
        """These group facts with the office-set measure values ``measures``."""
        return GroupFacts(blocks=self.blocks, parents=self.parents, measures=measures, columns=self.columns)

    def measure_value(self, measure: str, scope: str | None, as_of: date) -> Decimal | None:
        """The value of an office-set measure for ``scope`` (a block code, ``None`` for the project)
        in force on ``as_of``: the latest recorded with an effective date on or before it; ``None``
        when the office has recorded none (the caller says which measure is missing)."""
        values = self.measures.get(measure, {}).get(scope or "", ())
        found: Decimal | None = None
        for v in values:
            if v.effective_on <= as_of:
                found = v.value
            else:
                break
        return found

    def leaves_under(self, scope: str | None) -> list[str]:
        """Leaf block codes under ``scope`` (itself included); ``None`` means the whole project."""
        if not self._leaves:
            index: dict[str | None, list[str]] = {None: sorted(self.blocks)}
            for code in sorted(self.blocks):
                cur: str | None = code
                seen: set[str] = set()
                while cur is not None and cur not in seen:
                    seen.add(cur)
                    index.setdefault(cur, []).append(code)
                    cur = self.parents.get(cur)
            self._leaves.update(index)
        return list(self._leaves.get(scope, []))

    def rate_ppm(self, scope: str | None, as_of: date, event: str, basis: str = "household") -> int:
        """Share of households under ``scope`` whose ``event`` ('sign'/'vacate') is on or before
        ``as_of``, in millionths, truncated (2/3 -> 666666). 0 when the scope has no households.

        ``basis`` counts the share by household (each 1), by certificate (each household weighs
        its distinct certificates) or by area (its legal area). Truncation never overstates a rate,
        so "rate >= 80%" is decided exactly.
        """
        key = (scope, as_of, event) if basis == "household" else (scope, as_of, f"{event}/{basis}")
        if key in self._memo:
            return self._memo[key]
        total = 0
        done = 0
        for code in self.leaves_under(scope):
            g = self.blocks[code]
            if basis != "household" and not g.weighted:
                raise EvaluationError(
                    "group",
                    f"片区 {code} 的统计数据没有证数和面积，不能按{BASIS_LABELS_ZH[basis]}计算比率",
                    f"the group facts of block {code} carry no certificate/area weights ({basis} basis)",
                )
            total += g.total(basis)
            done += sum(w for d, w in g.events(event, basis) if d <= as_of)
        rate = 0 if total == 0 else (done * 1_000_000) // total
        self._memo[key] = rate
        return rate
