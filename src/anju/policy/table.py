"""Household facts as columns for the bulk evaluators: the table of a project's households (numpy
arrays of scaled integers, with certificates, members and tenants as element tables and their
start/count offsets), the group index (sign and vacate rates of a block as of a date) and the result
of a bulk evaluation.

Both bulk evaluators use it: the numpy evaluator (:mod:`anju.policy.bulk`) and the fused numba
kernels (:mod:`anju.policy.jit`); neither imports the other's machinery through it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from anju.policy.declared import FactDecl, Lacking, building_place, lenient, member_place
from anju.policy.errors import EvaluationError
from anju.policy.facts import (
    BASIS_LABELS_ZH,
    EVENT_DATES,
    FUTURE,
    READY,
    READY_WORDS,
    RISE_WORDS,
    Building,
    ChosenFlat,
    Determination,
    GroupFacts,
    Homestead,
    Household,
    Member,
    ProjectKind,
    Structure,
    Tenant,
    TenantKind,
    Use,
)
from anju.policy.group_columns import table_group_facts

I64 = np.int64

LIMIT = 2**63 - 1
Arr = npt.NDArray[Any]

_ENUM_WORDS: list[str] = [
    *(k.value for k in ProjectKind),
    *(s.value for s in Structure),
    *(u.value for u in Use),
    *(d.value for d in Determination),
    *(t.value for t in TenantKind),
    *READY_WORDS,
    *RISE_WORDS,
]


def _ord(d: date | None) -> int:
    return 0 if d is None else d.toordinal()


def _scaled(d: Decimal, scale: int) -> int:
    """``d * 10**scale`` as an exact integer (``d`` must have at most ``scale`` places)."""
    v = d.scaleb(scale)
    iv = int(v)
    if iv != v:
        raise AssertionError(f"{d} does not fit scale {scale}")
    return iv


def _absmax(a: Any) -> int:
    if isinstance(a, np.ndarray):
        if a.size == 0:
            return 0
        if a.dtype == object:
            return int(max(abs(int(x)) for x in a.tolist()))
        return int(max(abs(int(a.max())), abs(int(a.min()))))
    return abs(int(a))


@dataclass(slots=True)
class Elements:
    """Columns of one kind of element (buildings, members or tenants), grouped by household.

    ``hh`` is the household index of every element (non-decreasing); ``start``/``count`` give each
    household's slice.
    """

    hh: Arr
    start: Arr
    count: Arr
    cols: dict[str, Arr]
    bounds: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(self.hh.shape[0])


def _elements(n: int, hh: list[int], cols: dict[str, list[Any]], dtypes: dict[str, Any]) -> Elements:
    hh_arr = np.asarray(hh, dtype=I64)
    count = np.bincount(hh_arr, minlength=n).astype(I64) if hh else np.zeros(n, dtype=I64)
    start = np.zeros(n, dtype=I64)
    if n:
        start[1:] = np.cumsum(count)[:-1]
    arrays = {k: np.asarray(v, dtype=dtypes[k]) for k, v in cols.items()}
    return Elements(
        hh_arr, start, count, arrays, {k: _absmax(a) for k, a in arrays.items() if a.dtype != bool}
    )


def _no_elements() -> Elements:
    empty = np.zeros(0, dtype=I64)
    return Elements(empty, empty, empty, {})


# ``ready`` is the code of a 现房/期房 given outright ("" = from ``delivered_on``, an ordinal, 0 =
# not delivered): see :meth:`HouseholdTable.flat_ready`; ``rise`` the code of 多层/高层 ("" = none).
FLAT_COLS = (
    "area",
    "floor",
    "building",
    "type",
    "code",
    "price",
    "purchase_total",
    "ready",
    "delivered_on",
    "rise",
)
FLAT_MONEY_COLS = ("price", "purchase_total")

BUILDING_INT_COLS = ("legal_area", "unregistered_area", "floors", "built_year")
BUILDING_MONEY_COLS = ("assessed_unit_price", "assessed_value", "decoration", "fixtures")
MEMBER_BOOL_COLS = (
    "dibao",
    "serious_illness",
    "martyr_family",
    "shidu",
    "only_child",
    "youfu",
    "resettlement_counted",
)


_FLAT_DTYPES: dict[str, Any] = {
    **{k: I64 for k in FLAT_COLS},
    **{k + "_known": bool for k in FLAT_MONEY_COLS},
}


@dataclass(slots=True)
class HouseholdTable:
    """A project's households in columnar form (the input of the bulk evaluator).

    Areas are integer hundredths of ㎡, money integer fen, dates ``date.toordinal()`` (0 = none),
    categories integer codes into ``words``.
    """

    codes: list[str]
    words: list[str]
    vocab: dict[str, int]
    blocks: list[str]
    block_paths: list[tuple[str, ...]]
    block_idx: Arr
    kind: Arr
    sign_on: Arr
    vacate_on: Arr
    flags: dict[str, Arr]
    has_homestead: Arr
    homestead_area: Arr
    homestead_year: Arr
    buildings: Elements
    members: Elements
    tenants: Elements
    certificate_nos: list[str] = field(default_factory=list)
    member_names: list[str] = field(default_factory=list)
    tenant_names: list[str] = field(default_factory=list)
    # Declared facts (anju.policy.declared) as given, one list per fact id (None where absent);
    # typed into columns per declaration by fact_column().
    facts_raw: dict[str, list[Any]] = field(default_factory=dict)
    # Building- and member-level declared facts as given, one list per fact id over the elements.
    building_facts_raw: dict[str, list[Any]] = field(default_factory=dict)
    member_facts_raw: dict[str, list[Any]] = field(default_factory=dict)
    _fact_cols: dict[tuple[Any, ...], tuple[Arr, Arr]] = field(default_factory=dict, repr=False)
    # The selected resettlement flats (columns FLAT_COLS, money in fen with ``*_known``), and
    # per household their area (hundredths of ㎡) and purchase total (fen) together. A table
    # built without them has no flats.
    flats: Elements = field(default_factory=_no_elements)
    chosen_flats_area: Arr = field(default_factory=lambda: np.zeros(0, dtype=I64))
    purchase_total: Arr = field(default_factory=lambda: np.zeros(0, dtype=I64))

    def __post_init__(self) -> None:
        n = len(self.codes)
        if self.flats.start.shape[0] != n:
            cols: dict[str, list[Any]] = {k: [] for k in FLAT_COLS}
            cols |= {k + "_known": [] for k in FLAT_MONEY_COLS}
            self.flats = _elements(n, [], cols, _FLAT_DTYPES)
        if self.chosen_flats_area.shape[0] != n:
            self.chosen_flats_area = np.zeros(n, dtype=I64)
        if self.purchase_total.shape[0] != n:
            self.purchase_total = np.zeros(n, dtype=I64)

    # The event dates after signing (facts.EVENT_DATES) as ordinals, 0 = not known; a missing
    # column reads as all unknown (see :meth:`event`).
    events: dict[str, Arr] = field(default_factory=dict)

    def event(self, name: str) -> Arr:
        """The ordinal column of a household date (sign_on, vacate_on or one of the event dates)."""
        if name == "sign_on":
            return self.sign_on
        if name == "vacate_on":
            return self.vacate_on
        col = self.events.get(name)
        if col is None:
            col = np.zeros(self.n, dtype=I64)
            self.events[name] = col
        return col

    def flat_ready(self, on: date) -> Arr:
        """The 现房/期房 code of every flat on ``on``: as given, else 现房 when its estate was
        delivered on or before ``on`` (the rule of :func:`anju.policy.facts.flat_ready`)."""
        c = self.flats.cols
        given = c["ready"]
        d = c["delivered_on"]
        derived = np.where((d > 0) & (d <= on.toordinal()), self.vocab[READY], self.vocab[FUTURE])
        empty = self.vocab.get("")
        if empty is None:  # every flat says 现房/期房 outright
            return np.asarray(given, dtype=I64)
        return np.where(given != empty, given, derived).astype(I64)

    def _day(self, name: str, i: int) -> date | None:
        o = int(self.event(name)[i])
        return date.fromordinal(o) if o else None

    @property
    def n(self) -> int:
        """Number of households."""
        return len(self.codes)

    @staticmethod
    def from_households(households: list[Household]) -> HouseholdTable:
        """Build the columnar table from household facts."""
        words = list(_ENUM_WORDS)
        vocab = {w: i for i, w in enumerate(words)}

        def code(s: str) -> int:
            if s not in vocab:
                vocab[s] = len(words)
                words.append(s)
            return vocab[s]

        blocks: dict[str, int] = {}
        paths: list[tuple[str, ...]] = []
        n = len(households)
        block_idx = np.zeros(n, dtype=I64)
        flags: dict[str, Arr] = {}
        b_hh: list[int] = []
        b_cols: dict[str, list[Any]] = {
            k: []
            for k in (
                *BUILDING_INT_COLS,
                *BUILDING_MONEY_COLS,
                "structure",
                "use",
                "unregistered_determination",
            )
        }
        for k in BUILDING_MONEY_COLS:
            b_cols[k + "_known"] = []
        m_hh: list[int] = []
        m_cols: dict[str, list[Any]] = {k: [] for k in (*MEMBER_BOOL_COLS, "disabled", "disability_grade")}
        t_hh: list[int] = []
        t_cols: dict[str, list[Any]] = {"area": [], "kind": []}
        certs: list[str] = []
        mnames: list[str] = []
        tnames: list[str] = []
        f_hh: list[int] = []
        f_cols: dict[str, list[Any]] = {k: [] for k in FLAT_COLS}
        f_cols |= {k + "_known": [] for k in FLAT_MONEY_COLS}
        # per household: the flats' area and purchase total (only households with flats add to them)
        flats_area = np.zeros(n, dtype=I64)
        flats_total = np.zeros(n, dtype=I64)
        for i, h in enumerate(households):
            path = h.block_path
            if h.block_code not in blocks:
                blocks[h.block_code] = len(paths)
                paths.append(path)
                code(h.block_code)
            elif paths[blocks[h.block_code]] != path:
                raise EvaluationError(
                    "block-chain",
                    f"片区“{h.block_code}”的上级片区不一致（户 {h.code}）",
                    f"block '{h.block_code}' has inconsistent parents (household {h.code})",
                )
            block_idx[i] = blocks[h.block_code]
            for f in h.flags:
                if f not in flags:
                    flags[f] = np.zeros(n, dtype=bool)
                flags[f][i] = True
            for b in h.buildings:
                b_hh.append(i)
                certs.append(b.certificate_no)
                b_cols["legal_area"].append(int(b.legal_area * 100))
                b_cols["unregistered_area"].append(int(b.unregistered_area * 100))
                b_cols["floors"].append(b.floors)
                b_cols["built_year"].append(b.built_year)
                b_cols["structure"].append(vocab[b.structure.value])
                b_cols["use"].append(vocab[b.use.value])
                b_cols["unregistered_determination"].append(vocab[b.unregistered_determination.value])
                for k in BUILDING_MONEY_COLS:
                    v = getattr(b, k + "_fen")
                    b_cols[k].append(v or 0)
                    b_cols[k + "_known"].append(v is not None)
            for m in h.members:
                m_hh.append(i)
                mnames.append(m.name)
                for k in MEMBER_BOOL_COLS:
                    m_cols[k].append(getattr(m, k))
                m_cols["disabled"].append(m.disability_grade is not None)
                m_cols["disability_grade"].append(m.disability_grade or 0)
            for t in h.tenants:
                t_hh.append(i)
                tnames.append(t.name)
                t_cols["area"].append(int(t.area * 100))
                t_cols["kind"].append(vocab[t.kind.value])
            for fl in h.flats:
                flats_area[i] += int(fl.area * 100)
                flats_total[i] += fl.purchase_total_fen or 0
                f_hh.append(i)
                f_cols["area"].append(int(fl.area * 100))
                f_cols["floor"].append(fl.floor)
                f_cols["building"].append(code(fl.building))
                f_cols["type"].append(code(fl.flat_type))
                f_cols["code"].append(code(fl.code))
                f_cols["ready"].append(code(fl.ready))
                f_cols["delivered_on"].append(_ord(fl.delivered_on))
                f_cols["rise"].append(code(fl.rise))
                for k in FLAT_MONEY_COLS:
                    v = getattr(fl, k + "_fen")
                    f_cols[k].append(v or 0)
                    f_cols[k + "_known"].append(v is not None)
        bdt: dict[str, Any] = {k: I64 for k in b_cols}
        for k in BUILDING_MONEY_COLS:
            bdt[k + "_known"] = bool
        mdt: dict[str, Any] = {k: bool for k in m_cols}
        mdt["disability_grade"] = I64
        facts_raw: dict[str, list[Any]] = {}
        b_facts: dict[str, list[Any]] = {}
        m_facts: dict[str, list[Any]] = {}
        nb, nm = len(b_hh), len(m_hh)
        bj = mj = 0
        for i, h in enumerate(households):
            for fid, raw in h.facts.items():
                facts_raw.setdefault(fid, [None] * n)[i] = raw
            for b in h.buildings:
                for fid, raw in b.facts.items():
                    b_facts.setdefault(fid, [None] * nb)[bj] = raw
                bj += 1
            for m in h.members:
                for fid, raw in m.facts.items():
                    m_facts.setdefault(fid, [None] * nm)[mj] = raw
                mj += 1
        return HouseholdTable(
            facts_raw=facts_raw,
            building_facts_raw=b_facts,
            member_facts_raw=m_facts,
            codes=[h.code for h in households],
            words=words,
            vocab=vocab,
            blocks=list(blocks),
            block_paths=paths,
            block_idx=block_idx,
            kind=np.asarray([vocab[h.kind.value] for h in households], dtype=I64),
            sign_on=np.asarray([_ord(h.sign_on) for h in households], dtype=I64),
            vacate_on=np.asarray([_ord(h.vacate_on) for h in households], dtype=I64),
            flags=flags,
            has_homestead=np.asarray([h.homestead is not None for h in households], dtype=bool),
            homestead_area=np.asarray(
                [int(h.homestead.area * 100) if h.homestead else 0 for h in households], dtype=I64
            ),
            homestead_year=np.asarray(
                [(h.homestead.approved_year or 0) if h.homestead else 0 for h in households], dtype=I64
            ),
            buildings=_elements(n, b_hh, b_cols, bdt),
            members=_elements(n, m_hh, m_cols, mdt),
            tenants=_elements(n, t_hh, t_cols, {"area": I64, "kind": I64}),
            certificate_nos=certs,
            member_names=mnames,
            tenant_names=tnames,
            flats=_elements(n, f_hh, f_cols, _FLAT_DTYPES),
            chosen_flats_area=flats_area,
            purchase_total=flats_total,
            events={k: np.asarray([_ord(getattr(h, k)) for h in households], dtype=I64) for k in EVENT_DATES},
        )

    def household(self, i: int) -> Household:
        """Rebuild the facts of household ``i`` (used to cross-check against the scalar evaluator)."""
        w = self.words
        b = self.buildings
        bs = []
        for j in range(int(b.start[i]), int(b.start[i] + b.count[i])):
            c = b.cols
            money = {
                k + "_fen": (int(c[k][j]) if bool(c[k + "_known"][j]) else None) for k in BUILDING_MONEY_COLS
            }
            bs.append(
                Building(
                    certificate_no=self.certificate_nos[j] if self.certificate_nos else f"C{j}",
                    structure=Structure(w[int(c["structure"][j])]),
                    use=Use(w[int(c["use"][j])]),
                    floors=int(c["floors"][j]),
                    built_year=int(c["built_year"][j]),
                    legal_area=Decimal(int(c["legal_area"][j])).scaleb(-2),
                    unregistered_area=Decimal(int(c["unregistered_area"][j])).scaleb(-2),
                    unregistered_determination=Determination(w[int(c["unregistered_determination"][j])]),
                    **money,
                    facts=_element_facts(self.building_facts_raw, j),
                )
            )
        m = self.members
        ms = []
        for j in range(int(m.start[i]), int(m.start[i] + m.count[i])):
            c = m.cols
            grade = int(c["disability_grade"][j])
            flags = {k: bool(c[k][j]) for k in MEMBER_BOOL_COLS}
            ms.append(
                Member(
                    name=self.member_names[j] if self.member_names else f"M{j}",
                    disability_grade=grade if bool(c["disabled"][j]) else None,
                    dibao=flags["dibao"],
                    serious_illness=flags["serious_illness"],
                    martyr_family=flags["martyr_family"],
                    shidu=flags["shidu"],
                    only_child=flags["only_child"],
                    youfu=flags["youfu"],
                    resettlement_counted=flags["resettlement_counted"],
                    facts=_element_facts(self.member_facts_raw, j),
                )
            )
        t = self.tenants
        ts = []
        for j in range(int(t.start[i]), int(t.start[i] + t.count[i])):
            ts.append(
                Tenant(
                    name=self.tenant_names[j] if self.tenant_names else f"T{j}",
                    kind=TenantKind(w[int(t.cols["kind"][j])]),
                    area=Decimal(int(t.cols["area"][j])).scaleb(-2),
                )
            )
        fe = self.flats
        fs = []
        for j in range(int(fe.start[i]), int(fe.start[i] + fe.count[i])):
            c = fe.cols
            fs.append(
                ChosenFlat(
                    code=w[int(c["code"][j])],
                    area=Decimal(int(c["area"][j])).scaleb(-2),
                    building=w[int(c["building"][j])],
                    floor=int(c["floor"][j]),
                    flat_type=w[int(c["type"][j])],
                    price_fen=int(c["price"][j]) if bool(c["price_known"][j]) else None,
                    purchase_total_fen=int(c["purchase_total"][j])
                    if bool(c["purchase_total_known"][j])
                    else None,
                    ready=w[int(c["ready"][j])],
                    delivered_on=date.fromordinal(int(c["delivered_on"][j]))
                    if int(c["delivered_on"][j])
                    else None,
                    rise=w[int(c["rise"][j])],
                )
            )
        path = self.block_paths[int(self.block_idx[i])]
        so = int(self.sign_on[i])
        vo = int(self.vacate_on[i])
        return Household(
            code=self.codes[i],
            block_code=path[-1],
            block_chain=path[:-1],
            kind=ProjectKind(w[int(self.kind[i])]),
            sign_on=date.fromordinal(so) if so else None,
            vacate_on=date.fromordinal(vo) if vo else None,
            flags=frozenset(f for f, a in self.flags.items() if bool(a[i])),
            members=tuple(ms),
            buildings=tuple(bs),
            homestead=(
                Homestead(
                    area=Decimal(int(self.homestead_area[i])).scaleb(-2),
                    approved_year=int(self.homestead_year[i]) or None,
                )
                if bool(self.has_homestead[i])
                else None
            ),
            tenants=tuple(ts),
            facts={fid: col[i] for fid, col in self.facts_raw.items() if col[i] is not None},
            agreement_effective_on=self._day("agreement_effective_on", i),
            delivery_planned_on=self._day("delivery_planned_on", i),
            delivery_actual_on=self._day("delivery_actual_on", i),
            move_back_on=self._day("move_back_on", i),
            flats=tuple(fs),
        )

    def fact_column(self, decl: FactDecl) -> tuple[Arr, Arr]:
        """A declared fact as (values, known) arrays over the households (over the buildings or
        members for a building- or member-level fact, in the order of :attr:`buildings` /
        :attr:`members`): numbers scaled by ``10**places`` (int64), dates as ordinals (0 = none),
        yes/no as bool, categories as words (object array, ``None`` = none). A value that does not
        fit the declaration is unknown."""
        key = (decl.id, decl.level, decl.type, decl.places, decl.choices, decl.minimum, decl.maximum)
        hit = self._fact_cols.get(key)
        if hit is not None:
            return hit
        if decl.level == "building":
            raw = self.building_facts_raw.get(decl.id) or [None] * self.buildings.size
        elif decl.level == "member":
            raw = self.member_facts_raw.get(decl.id) or [None] * self.members.size
        else:
            raw = self.facts_raw.get(decl.id) or [None] * self.n
        fast = _int_fact_column(decl, raw) if decl.numeric else None
        if fast is not None:
            self._fact_cols[key] = fast
            return fast
        typed = [lenient(decl, x) for x in raw]
        known = np.asarray([v is not None for v in typed], dtype=bool)
        if decl.numeric:
            vals = np.asarray([0 if v is None else _scaled(v, decl.places) for v in typed], dtype=I64)  # type: ignore[arg-type]
        elif decl.type == "date":
            vals = np.asarray([_ord(v) for v in typed], dtype=I64)  # type: ignore[arg-type]
        elif decl.type == "yesno":
            vals = np.asarray([bool(v) for v in typed], dtype=bool)
        else:
            vals = np.asarray(typed, dtype=object)
        self._fact_cols[key] = (vals, known)
        return vals, known

    def missing_required(self, decls: Mapping[str, FactDecl]) -> dict[int, list[Lacking]]:
        """Household index -> the required declared facts it lacks (only households lacking any);
        a building- or member-level fact names the buildings / members that lack it (as
        :func:`anju.policy.declared.missing_required`)."""
        out: dict[int, list[Lacking]] = {}
        for d in decls.values():
            if not d.required:
                continue
            _, known = self.fact_column(d)
            if d.level == "household":
                for i in np.flatnonzero(~known).tolist():
                    out.setdefault(int(i), []).append(Lacking(d))
                continue
            e = self.buildings if d.level == "building" else self.members
            names = self.certificate_nos if d.level == "building" else self.member_names
            place = building_place if d.level == "building" else member_place
            by_hh: dict[int, list[tuple[str, str]]] = {}
            for j in np.flatnonzero(~known).tolist():
                i = int(e.hh[j])
                name = names[j] if names else ""
                by_hh.setdefault(i, []).append(place(name, int(j - e.start[i])))
            for i, places in by_hh.items():
                out.setdefault(i, []).append(
                    Lacking(d, tuple(p[0] for p in places), tuple(p[1] for p in places))
                )
        return dict(sorted(out.items()))

    def group_facts(self) -> GroupFacts:
        """Group facts computed from this table's own households (the whole project), with the
        certificate and area weights of each household (as :func:`facts.household_weight`),
        counted from the columns (:mod:`anju.policy.group_columns`)."""
        return table_group_facts(self)


_INDEXES: dict[int, tuple[GroupFacts, GroupIndex]] = {}


def group_index(group: GroupFacts) -> GroupIndex:
    """The (cached) vectorised index of ``group``."""
    hit = _INDEXES.get(id(group))
    if hit is not None and hit[0] is group:
        return hit[1]
    if len(_INDEXES) > 32:
        _INDEXES.clear()
    gi = GroupIndex(group)
    _INDEXES[id(group)] = (group, gi)
    return gi


class GroupIndex:
    """Sign / vacate rates of a scope as of a date, from sorted ordinal arrays (vectorised).

    Group facts counted from a table (:meth:`HouseholdTable.group_facts`) are read from their
    columns (one row per block and day, every basis alike); others from their blocks' dates."""

    def __init__(self, group: GroupFacts) -> None:
        self.group = group
        self._cache: dict[tuple[str | None, str], tuple[int, Arr]] = {}
        self._weighted: dict[tuple[str | None, str, str], tuple[int, Arr, Arr]] = {}
        self._rates: dict[tuple[str | None, int, str], int] = {}

    def _scope(self, scope: str | None, event: str) -> tuple[int, Arr]:
        key = (scope, event)
        if key not in self._cache:
            total = 0
            dates: list[int] = []
            for code in self.group.leaves_under(scope):
                g = self.group.blocks[code]
                total += g.total_households
                dates.extend(d.toordinal() for d in (g.sign_dates if event == "sign" else g.vacate_dates))
            self._cache[key] = (total, np.sort(np.asarray(dates, dtype=I64)))
        return self._cache[key]

    def _weighted_scope(self, scope: str | None, event: str, basis: str) -> tuple[int, Arr, Arr]:
        """Total weight, sorted event ordinals and the running sum of their weights."""
        key = (scope, event, basis)
        if key not in self._weighted and self.group.columns is not None:
            # counted from a table: per block and day already (group_columns)
            self._weighted[key] = self.group.columns.scope(self.group.leaves_under(scope), event, basis)
        if key not in self._weighted:
            total = 0
            pairs: list[tuple[int, int]] = []
            for code in self.group.leaves_under(scope):
                g = self.group.blocks[code]
                if not g.weighted:
                    raise EvaluationError(
                        "group",
                        f"片区 {code} 的统计数据没有证数和面积，不能按{BASIS_LABELS_ZH[basis]}计算比率",
                        f"the group facts of block {code} carry no certificate/area weights ({basis} basis)",
                    )
                total += g.total(basis)
                pairs.extend((d.toordinal(), w) for d, w in g.events(event, basis))
            pairs.sort()
            ords = np.asarray([p[0] for p in pairs], dtype=I64)
            cum = np.cumsum(np.asarray([p[1] for p in pairs], dtype=I64))
            self._weighted[key] = (total, ords, cum)
        return self._weighted[key]

    def rate_ppm(self, scope: str | None, as_of_ord: int, event: str, basis: str = "household") -> int:
        """Rate in millionths, truncated; 0 for a missing date or an empty scope (memoised).
        ``basis``: 'household', 'certificate' or 'area' (see :meth:`GroupFacts.rate_ppm`)."""
        key = (scope, as_of_ord, event if basis == "household" else f"{event}/{basis}")
        hit = self._rates.get(key)
        if hit is not None:
            return hit
        if basis == "household" and self.group.columns is None:
            total, dates = self._scope(scope, event)
            done = int(np.searchsorted(dates, as_of_ord, side="right")) if total else 0
        else:
            total, dates, cum = self._weighted_scope(scope, event, basis)
            k = int(np.searchsorted(dates, as_of_ord, side="right")) if total else 0
            done = int(cum[k - 1]) if k else 0
        ppm = 0 if total == 0 or as_of_ord == 0 else (done * 1_000_000) // total
        self._rates[key] = ppm
        return ppm


@dataclass(slots=True)
class BulkResult:
    """Amounts (fen) of every item for every household under one option."""

    option: str
    codes: list[str]
    item_ids: list[str]
    labels: dict[str, str]
    fen: dict[str, Arr]
    applies: dict[str, Arr]
    #: Named sums of items per household (fen) produced with the items, e.g. subtotals.
    sums: dict[str, Arr] = field(default_factory=dict)
    #: The total per household when the producer computed it in the items' pass (the kernel does).
    total_fen: Arr | None = None
    # subtotal id -> amounts (fen) per household: the subtotals with an item under this option,
    # never part of ``total``
    subtotals: dict[str, Arr] = field(default_factory=dict)
    subtotal_labels: dict[str, str] = field(default_factory=dict)
    # Households not computed, by index: the required declared facts each lacks (amounts are 0).
    missing: dict[int, list[Lacking]] = field(default_factory=dict)

    @property
    def total(self) -> Arr:
        """Total per household (fen)."""
        if self.total_fen is not None:
            return self.total_fen
        out = np.zeros(len(self.codes), dtype=I64)
        for i in self.item_ids:
            out += self.fen[i]
        return out

    def sum_of(self, ids: Sequence[str]) -> Arr:
        """Per-household sum (fen) of the items ``ids`` (ids not in the result count as 0)."""
        out = np.zeros(len(self.codes), dtype=I64)
        for i in ids:
            if i in self.fen:
                out += self.fen[i]
        return out

    def row(self, i: int) -> dict[str, int]:
        """Item id -> fen for household ``i``."""
        return {k: int(self.fen[k][i]) for k in self.item_ids}

    def subtotal_row(self, i: int) -> dict[str, int]:
        """Subtotal id -> fen for household ``i``."""
        return {k: int(v[i]) for k, v in self.subtotals.items()}


def subtotal_arrays(checked: Any, option: str, fen: dict[str, Arr], n: int) -> dict[str, Arr]:
    """Each subtotal of ``option`` added up from the item columns (exact: object columns stay exact)."""
    out: dict[str, Arr] = {}
    for st in checked.subtotals_for(option):
        acc: Any = np.zeros(n, dtype=I64)
        for i in checked.subtotal_items(st.id, option):
            col = fen[i]
            if col.dtype == object or acc.dtype == object or _absmax(acc) + _absmax(col) > LIMIT:
                acc, col = acc.astype(object), col.astype(object)
            acc = acc + col
        if acc.dtype == object and _absmax(acc) <= LIMIT:
            acc = acc.astype(I64)
        out[st.id] = acc
    return out


def _element_facts(raw: Mapping[str, list[Any]], j: int) -> dict[str, Any]:
    """The declared facts of element ``j`` (a building or a member) as given."""
    return {fid: col[j] for fid, col in raw.items() if col[j] is not None}


def _int_fact_column(decl: FactDecl, raw: list[Any]) -> tuple[Arr, Arr] | None:
    """A numeric fact given as whole numbers (the common case of counts, and of generated tables of
    a million households), typed without a Python call per value; ``None`` when any value is not a
    plain ``int``. The same values as :func:`anju.policy.declared.lenient` gives: out of the
    declared bounds is unknown."""
    if any(x is not None and type(x) is not int for x in raw):
        return None
    known = np.fromiter((x is not None for x in raw), dtype=bool, count=len(raw))
    if any(x is not None and abs(x) >= 10**13 for x in raw):
        return None  # leave huge values to the exact path (refused there)
    vals = np.fromiter((0 if x is None else x for x in raw), dtype=I64, count=len(raw))
    for bound, below in ((decl.minimum, False), (decl.maximum, True)):
        if bound is None:
            continue
        if bound != bound.to_integral_value():
            return None  # a fractional bound: the exact path decides
        known &= (vals <= int(bound)) if below else (vals >= int(bound))
    vals = np.where(known, vals * 10**decl.places, 0).astype(I64)
    return vals, known


def mark_missing(decls: Mapping[str, FactDecl], table: HouseholdTable, result: BulkResult) -> BulkResult:
    """``result`` with the households that lack a required declared fact not computed: their
    amounts 0, nothing applying, and :attr:`BulkResult.missing` saying what each lacks."""
    if not decls:
        return result
    missing = table.missing_required(decls)
    if not missing:
        return result
    idx = np.asarray(sorted(missing), dtype=I64)
    fen = {}
    applies = {}
    for k in result.item_ids:
        f = np.array(result.fen[k], copy=True)
        f[idx] = 0
        fen[k] = f
        a = np.array(result.applies[k], dtype=bool, copy=True)
        a[idx] = False
        applies[k] = a
    sums = {}
    for name, col in result.sums.items():
        c = np.array(col, copy=True)
        c[idx] = 0
        sums[name] = c
    total_fen = None
    if result.total_fen is not None:
        total_fen = np.array(result.total_fen, copy=True)
        total_fen[idx] = 0
    subtotals = {}
    for name, col in result.subtotals.items():
        c = np.array(col, copy=True)
        c[idx] = 0
        subtotals[name] = c
    return BulkResult(
        result.option,
        result.codes,
        result.item_ids,
        result.labels,
        fen,
        applies,
        sums=sums,
        total_fen=total_fen,
        subtotals=subtotals,
        subtotal_labels=dict(result.subtotal_labels),
        missing=missing,
    )
