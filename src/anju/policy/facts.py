"""Household facts: the inputs of the compensation engine.

These are plain frozen dataclasses. Each maps field by field onto a database row of the
household domain, so the foundation can build them without any policy knowledge:

* :class:`Household` <- household row (+ its block chain)
* :class:`Member` <- member rows
* :class:`Building` <- building / certificate rows with their valuation
* :class:`Homestead` <- the homestead row (collective land only)
* :class:`Tenant` <- tenant rows
* :class:`ChosenFlat` <- the resettlement flats the household has selected (housing domain)
* :class:`GroupFacts` <- per-block counts and dates used by group aggregates (sign rate ...)

Areas are ``Decimal`` with at most 2 places, money is integer fen, dates are ``date``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from anju.policy.errors import EvaluationError


class ProjectKind(StrEnum):
    """Kind of project the household belongs to."""

    STATE_LAND = "state_land"  # 国有土地
    COLLECTIVE_LAND = "collective_land"  # 集体土地
    SHANTYTOWN = "shantytown"  # 棚户区


class Structure(StrEnum):
    """Building structure (结构)."""

    BRICK_CONCRETE = "brick_concrete"  # 砖混
    BRICK_WOOD = "brick_wood"  # 砖木
    SIMPLE = "simple"  # 简易
    STEEL_CONCRETE = "steel_concrete"  # 钢混


class Use(StrEnum):
    """Registered use of a building (用途)."""

    RESIDENTIAL = "residential"  # 住宅
    NON_RESIDENTIAL = "non_residential"  # 非住宅
    BUSINESS = "business"  # 营业


class Determination(StrEnum):
    """Determination of unregistered area (未登记建筑认定结果)."""

    LEGAL = "legal"  # 合法
    TEMPORARY = "temporary"  # 临建
    ILLEGAL = "illegal"  # 违建
    PENDING = "pending"  # 待认定


class TenantKind(StrEnum):
    """Kind of tenant (承租人)."""

    PERSON = "person"  # 个人
    ENTERPRISE = "enterprise"  # 企业


# Chinese spellings accepted wherever a category is written (policy files, spreadsheets).
ALIASES: dict[str, str] = {
    "国有土地": "state_land",
    "集体土地": "collective_land",
    "棚户区": "shantytown",
    "砖混": "brick_concrete",
    "砖木": "brick_wood",
    "简易": "simple",
    "钢混": "steel_concrete",
    "住宅": "residential",
    "非住宅": "non_residential",
    "营业": "business",
    "合法": "legal",
    "临建": "temporary",
    "违建": "illegal",
    "待认定": "pending",
    "个人": "person",
    "企业": "enterprise",
}

LABELS_ZH: dict[str, str] = {v: k for k, v in ALIASES.items()}


def canonical(value: str) -> str:
    """Map a Chinese category spelling onto its identifier; other strings are returned stripped."""
    text = value.strip()
    return ALIASES.get(text, text)


def _area(value: Decimal | int | str | None, what: str) -> Decimal:
    """An area with at most 2 decimal places (a float is refused)."""
    if value is None:
        return Decimal("0.00")
    if isinstance(value, float):
        raise TypeError(f"{what}: area must not be float / 面积不得为浮点数")
    d = Decimal(str(value).strip() or "0")
    if not d.is_finite() or d != d.quantize(Decimal("0.01")):
        raise ValueError(f"{what}: 面积最多两位小数 / area must have at most 2 decimals: {value!r}")
    return d.quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class Member:
    """A family member (家庭成员) with the special-group facts the plans look at."""

    name: str
    relation: str = ""  # relation to the head, free text (户主 / 配偶 / 子女 ...)
    dibao: bool = False  # 低保
    disability_grade: int | None = None  # 残疾等级 1-4
    serious_illness: bool = False  # 大病
    martyr_family: bool = False  # 烈属
    shidu: bool = False  # 失独
    only_child: bool = False  # 独生子女
    youfu: bool = False  # 优抚对象
    resettlement_counted: bool = True  # 安置人口

    def __post_init__(self) -> None:
        if self.disability_grade is not None and self.disability_grade not in (1, 2, 3, 4):
            raise ValueError(f"残疾等级只能是1-4 / disability grade must be 1-4: {self.disability_grade}")


@dataclass(frozen=True, slots=True)
class Building:
    """A building under one certificate (证), with its areas and valuation."""

    certificate_no: str
    structure: Structure = Structure.BRICK_CONCRETE
    use: Use = Use.RESIDENTIAL
    floors: int = 1
    built_year: int = 2000
    legal_area: Decimal = Decimal("0.00")
    unregistered_area: Decimal = Decimal("0.00")
    unregistered_determination: Determination = Determination.PENDING
    assessed_unit_price_fen: int | None = None
    assessed_value_fen: int | None = None
    decoration_fen: int | None = None
    fixtures_fen: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "legal_area", _area(self.legal_area, "legal_area"))
        object.__setattr__(self, "unregistered_area", _area(self.unregistered_area, "unregistered_area"))
        object.__setattr__(self, "structure", Structure(self.structure))
        object.__setattr__(self, "use", Use(self.use))
        object.__setattr__(self, "unregistered_determination", Determination(self.unregistered_determination))


@dataclass(frozen=True, slots=True)
class Homestead:
    """A rural homestead (宅基地) of a collective-land household."""

    area: Decimal
    approved_year: int | None = None
    certificate_no: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "area", _area(self.area, "homestead.area"))


@dataclass(frozen=True, slots=True)
class Tenant:
    """A tenant (承租人 / 承租企业) of the household's buildings."""

    name: str
    kind: TenantKind = TenantKind.PERSON
    area: Decimal = Decimal("0.00")
    business: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "area", _area(self.area, "tenant.area"))
        object.__setattr__(self, "kind", TenantKind(self.kind))


@dataclass(frozen=True, slots=True)
class ChosenFlat:
    """A resettlement flat the household has selected (所选安置房), as formulas see it.

    ``price_fen`` is its price per ㎡ (fen); ``purchase_total_fen`` what the flat costs (fen),
    by default its area times its price rounded half up to the fen. Both may be unknown."""

    code: str
    area: Decimal = Decimal("0.00")  # 建筑面积
    building: str = ""  # 楼栋
    floor: int = 0
    flat_type: str = ""  # 户型
    price_fen: int | None = None
    purchase_total_fen: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "area", _area(self.area, "flat.area"))
        if self.purchase_total_fen is None and self.price_fen is not None:
            total = (self.area * self.price_fen).quantize(Decimal(1), rounding="ROUND_HALF_UP")
            object.__setattr__(self, "purchase_total_fen", int(total))


@dataclass(frozen=True, slots=True)
class Household:
    """One household (被征收户) and everything the policy may look at.

    ``block_code`` is the household's own block (e.g. 组); ``block_chain`` lists the parent block
    codes from the outermost (片区) to the immediate parent (村). Overrides and group aggregates
    resolve along ``block_chain + (block_code,)``.
    """

    code: str
    block_code: str
    block_chain: tuple[str, ...] = ()
    kind: ProjectKind = ProjectKind.STATE_LAND
    sign_on: date | None = None
    vacate_on: date | None = None
    flags: frozenset[str] = frozenset()
    members: tuple[Member, ...] = ()
    buildings: tuple[Building, ...] = ()
    homestead: Homestead | None = None
    tenants: tuple[Tenant, ...] = ()
    # Facts the policy declares (anju.policy.declared), by id: typed values or their stored text.
    facts: Mapping[str, Any] = field(default_factory=dict, hash=False)
    # Event dates after signing (None = not known yet): the agreement's effective date (协议生效),
    # the planned and actual delivery of the resettlement flat (交房: from the estates of the flats
    # the household chose) and the move-back (回迁: the keys handed over).
    agreement_effective_on: date | None = None
    delivery_planned_on: date | None = None
    delivery_actual_on: date | None = None
    move_back_on: date | None = None
    flats: tuple[ChosenFlat, ...] = ()  # the selected resettlement flats (empty before selection)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ProjectKind(self.kind))
        object.__setattr__(self, "block_chain", tuple(self.block_chain))
        object.__setattr__(self, "flags", frozenset(self.flags))
        object.__setattr__(self, "members", tuple(self.members))
        object.__setattr__(self, "buildings", tuple(self.buildings))
        object.__setattr__(self, "tenants", tuple(self.tenants))
        object.__setattr__(self, "flats", tuple(self.flats))

    @property
    def chosen_flats_area(self) -> Decimal:
        """The gross area of every selected flat together (㎡)."""
        return sum((f.area for f in self.flats), Decimal("0.00"))

    @property
    def purchase_total_fen(self) -> int:
        """What the selected flats cost together (fen; a flat without a price counts 0)."""
        return sum(f.purchase_total_fen or 0 for f in self.flats)

    @property
    def block_path(self) -> tuple[str, ...]:
        """All blocks of the household from the outermost to its own block."""
        return (*self.block_chain, self.block_code)


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

    @staticmethod
    def from_households(households: Iterable[Household]) -> GroupFacts:
        """Group facts computed from the complete list of a project's households."""
        blocks, parents = build_blocks(
            (h.block_code, h.block_chain, h.sign_on, h.vacate_on, *household_weight(h)) for h in households
        )
        return GroupFacts(blocks=blocks, parents=parents)

    def with_measures(self, measures: Mapping[str, Mapping[str, tuple[MeasureValue, ...]]]) -> GroupFacts:
        """These group facts with the office-set measure values ``measures``."""
        return GroupFacts(blocks=self.blocks, parents=self.parents, measures=measures)

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


def _opt_int(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float):
        if value != int(value):
            raise ValueError(f"需要整数 / integer expected: {value!r}")
        return int(value)
    return int(str(value).strip())


def _fen(value: Any) -> int | None:
    """Yuan given in a file (at most 2 decimals) -> fen; empty -> None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float):
        value = repr(value)
    d = Decimal(str(value).replace(",", "").strip())
    fen = d * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"金额最多两位小数 / amount must have at most 2 decimals: {value!r}")
    return int(fen)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in ("", "0", "false", "no", "n", "否", "无", "0.0"):
        return False
    if text in ("1", "true", "yes", "y", "是", "有", "1.0"):
        return True
    raise ValueError(f"需要是/否 / boolean expected: {value!r}")


def _date(value: Any) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip()[:10])


def _area_in(value: Any) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    return _area(value, "area")


def member_from_dict(d: Mapping[str, Any]) -> Member:
    """Build a :class:`Member` from a mapping (YAML case or spreadsheet row)."""
    return Member(
        name=str(d.get("name", "")),
        relation=str(d.get("relation", "") or ""),
        dibao=_bool(d.get("dibao")),
        disability_grade=_opt_int(d.get("disability_grade")),
        serious_illness=_bool(d.get("serious_illness")),
        martyr_family=_bool(d.get("martyr_family")),
        shidu=_bool(d.get("shidu")),
        only_child=_bool(d.get("only_child")),
        youfu=_bool(d.get("youfu")),
        resettlement_counted=_bool(d.get("resettlement_counted", True)),
    )


def building_from_dict(d: Mapping[str, Any]) -> Building:
    """Build a :class:`Building` from a mapping; money columns are given in yuan."""
    return Building(
        certificate_no=str(d.get("certificate_no", "") or ""),
        structure=Structure(canonical(str(d.get("structure", "brick_concrete")))),
        use=Use(canonical(str(d.get("use", "residential")))),
        floors=_opt_int(d.get("floors")) or 1,
        built_year=_opt_int(d.get("built_year")) or 2000,
        legal_area=_area_in(d.get("legal_area")),
        unregistered_area=_area_in(d.get("unregistered_area")),
        unregistered_determination=Determination(
            canonical(str(d.get("unregistered_determination", "pending") or "pending"))
        ),
        assessed_unit_price_fen=_fen(d.get("assessed_unit_price")),
        assessed_value_fen=_fen(d.get("assessed_value")),
        decoration_fen=_fen(d.get("decoration")),
        fixtures_fen=_fen(d.get("fixtures")),
    )


def tenant_from_dict(d: Mapping[str, Any]) -> Tenant:
    """Build a :class:`Tenant` from a mapping."""
    return Tenant(
        name=str(d.get("name", "")),
        kind=TenantKind(canonical(str(d.get("kind", "person") or "person"))),
        area=_area_in(d.get("area")),
        business=str(d.get("business", "") or ""),
    )


def flat_from_dict(d: Mapping[str, Any]) -> ChosenFlat:
    """Build a :class:`ChosenFlat` from a mapping (a cases file's ``flats:`` entry); money in yuan:
    ``price`` per ㎡, ``purchase_total`` for the flat."""
    return ChosenFlat(
        code=str(d.get("code", "") or ""),
        area=_area_in(d.get("area")),
        building=str(d.get("building", "") or ""),
        floor=_opt_int(d.get("floor")) or 0,
        flat_type=str(d.get("type", d.get("flat_type", "")) or ""),
        price_fen=_fen(d.get("price")),
        purchase_total_fen=_fen(d.get("purchase_total")),
    )


def _chain(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(p.strip() for p in value.replace(">", "/").split("/") if p.strip())
    return tuple(str(p) for p in value)


def household_from_dict(d: Mapping[str, Any]) -> Household:
    """Build a :class:`Household` (with members, buildings, homestead, tenants) from a mapping."""
    hs = d.get("homestead")
    flags = d.get("flags") or ()
    if isinstance(flags, str):
        flags = [f.strip() for f in flags.replace("，", ",").split(",") if f.strip()]
    return Household(
        code=str(d["code"]),
        block_code=str(d.get("block_code", d.get("block", ""))),
        block_chain=_chain(d.get("block_chain")),
        kind=ProjectKind(canonical(str(d.get("kind", "state_land")))),
        sign_on=_date(d.get("sign_on")),
        vacate_on=_date(d.get("vacate_on")),
        flags=frozenset(str(f) for f in flags),
        members=tuple(member_from_dict(m) for m in d.get("members") or ()),
        buildings=tuple(building_from_dict(b) for b in d.get("buildings") or ()),
        homestead=(
            Homestead(
                area=_area_in(hs.get("area")),
                approved_year=_opt_int(hs.get("approved_year")),
                certificate_no=str(hs.get("certificate_no", "") or ""),
            )
            if hs
            else None
        ),
        tenants=tuple(tenant_from_dict(t) for t in d.get("tenants") or ()),
        facts=_declared(d.get("facts")),
        agreement_effective_on=_date(d.get("agreement_effective_on")),
        delivery_planned_on=_date(d.get("delivery_planned_on")),
        delivery_actual_on=_date(d.get("delivery_actual_on")),
        move_back_on=_date(d.get("move_back_on")),
        flats=tuple(flat_from_dict(f) for f in d.get("flats") or ()),
    )


def _declared(value: Any) -> dict[str, Any]:
    if not value:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("facts 应为映射（事实编号: 值） / facts must be a mapping")
    return {str(k): v for k, v in value.items() if v is not None}


def _fact_json(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def _cents(value: Any) -> int:
    """Hundredths of ㎡ from an area written in a file (at most 2 decimals)."""
    return int(_area_in(value) * 100)


def _weights(items: Any, n: int, what: str) -> tuple[tuple[int, int], ...]:
    out = tuple((int(w[0]), _cents(w[1])) for w in items or ())
    if len(out) != n:
        raise ValueError(f"{what}: 权重个数应与日期个数相同 / one weight per date expected")
    return out


def group_from_dict(d: Mapping[str, Any]) -> GroupFacts:
    """Build :class:`GroupFacts` from ``{blocks: {code: {total_households, sign_dates, vacate_dates
    [, total_certificates, total_area, sign_weights, vacate_weights]}}, parents: {code: parent}
    [, measures: {id: {scope: [{effective_on, value}]}}]}``. A block given with ``total_area``
    carries the weights rates by certificate and by area need (``[[certificates, area], ...]``
    aligned with the dates); the scope of a measure is a block code or ``""`` for the project."""
    blocks: dict[str, BlockGroup] = {}
    for code, g in (d.get("blocks") or {}).items():
        weighted = "total_area" in g or "total_certificates" in g
        signs = [(x, i) for i, x in enumerate(_date(v) for v in g.get("sign_dates") or ()) if x]
        vacates = [(x, i) for i, x in enumerate(_date(v) for v in g.get("vacate_dates") or ()) if x]
        sw = (
            _weights(g.get("sign_weights"), len(g.get("sign_dates") or ()), "sign_weights")
            if weighted
            else ()
        )
        vw = (
            _weights(g.get("vacate_weights"), len(g.get("vacate_dates") or ()), "vacate_weights")
            if weighted
            else ()
        )
        signs.sort()
        vacates.sort()
        blocks[str(code)] = BlockGroup(
            total_households=int(g["total_households"]),
            sign_dates=tuple(x for x, _ in signs),
            vacate_dates=tuple(x for x, _ in vacates),
            total_certificates=int(g.get("total_certificates") or 0),
            total_area_cents=_cents(g.get("total_area")),
            sign_weights=tuple(sw[i] for _, i in signs) if weighted else (),
            vacate_weights=tuple(vw[i] for _, i in vacates) if weighted else (),
            weighted=weighted,
        )
    parents = {str(k): str(v) for k, v in (d.get("parents") or {}).items()}
    measures: dict[str, dict[str, tuple[MeasureValue, ...]]] = {}
    for mid, scopes in (d.get("measures") or {}).items():
        per: dict[str, tuple[MeasureValue, ...]] = {}
        for scope, values in (scopes or {}).items():
            vals = []
            for v in values or ():
                on = _date(v.get("effective_on"))
                if on is None:
                    raise ValueError(f"measures.{mid}.{scope}: 缺少生效日期 / effective_on is missing")
                raw = v.get("value")
                vals.append(MeasureValue(on, Decimal(repr(raw) if isinstance(raw, float) else str(raw))))
            vals.sort(key=lambda x: x.effective_on)
            per["" if scope in (None, "project") else str(scope)] = tuple(vals)
        measures[str(mid)] = per
    return GroupFacts(blocks=blocks, parents=parents, measures=measures)


def households_sequence(items: Sequence[Mapping[str, Any]]) -> list[Household]:
    """Build many households from mappings."""
    return [household_from_dict(x) for x in items]


def _yuan_text(fen: int | None) -> str | None:
    if fen is None:
        return None
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


# The event dates after signing, written into a household's dict only when known (so the frozen
# facts of agreements signed before they existed read back unchanged).
EVENT_DATES = ("agreement_effective_on", "delivery_planned_on", "delivery_actual_on", "move_back_on")


def household_to_dict(h: Household) -> dict[str, Any]:
    """The JSON-able form of a :class:`Household`, exact (areas and yuan as strings); the inverse of
    :func:`household_from_dict`. Agreements freeze the facts they were signed on in this form."""
    out: dict[str, Any] = {
        "code": h.code,
        "block_code": h.block_code,
        "block_chain": list(h.block_chain),
        "kind": h.kind.value,
        "sign_on": h.sign_on.isoformat() if h.sign_on else None,
        "vacate_on": h.vacate_on.isoformat() if h.vacate_on else None,
        "flags": sorted(h.flags),
        "members": [
            {
                "name": m.name,
                "relation": m.relation,
                "dibao": m.dibao,
                "disability_grade": m.disability_grade,
                "serious_illness": m.serious_illness,
                "martyr_family": m.martyr_family,
                "shidu": m.shidu,
                "only_child": m.only_child,
                "youfu": m.youfu,
                "resettlement_counted": m.resettlement_counted,
            }
            for m in h.members
        ],
        "buildings": [
            {
                "certificate_no": b.certificate_no,
                "structure": b.structure.value,
                "use": b.use.value,
                "floors": b.floors,
                "built_year": b.built_year,
                "legal_area": str(b.legal_area),
                "unregistered_area": str(b.unregistered_area),
                "unregistered_determination": b.unregistered_determination.value,
                "assessed_unit_price": _yuan_text(b.assessed_unit_price_fen),
                "assessed_value": _yuan_text(b.assessed_value_fen),
                "decoration": _yuan_text(b.decoration_fen),
                "fixtures": _yuan_text(b.fixtures_fen),
            }
            for b in h.buildings
        ],
        "homestead": (
            {
                "area": str(h.homestead.area),
                "approved_year": h.homestead.approved_year,
                "certificate_no": h.homestead.certificate_no,
            }
            if h.homestead
            else None
        ),
        "tenants": [
            {"name": t.name, "kind": t.kind.value, "area": str(t.area), "business": t.business}
            for t in h.tenants
        ],
        **{k: v.isoformat() for k in EVENT_DATES if (v := getattr(h, k)) is not None},
        **(
            {
                "flats": [
                    {
                        "code": f.code,
                        "area": str(f.area),
                        "building": f.building,
                        "floor": f.floor,
                        "type": f.flat_type,
                        "price": _yuan_text(f.price_fen),
                        "purchase_total": _yuan_text(f.purchase_total_fen),
                    }
                    for f in h.flats
                ]
            }
            if h.flats
            else {}
        ),
    }
    if h.facts:  # only then: the frozen form of households without declared facts stays as it was
        out["facts"] = {k: _fact_json(v) for k, v in sorted(h.facts.items())}
    return out


def group_to_dict(g: GroupFacts) -> dict[str, Any]:
    """The JSON-able form of :class:`GroupFacts`; the inverse of :func:`group_from_dict`."""
    blocks: dict[str, Any] = {}
    for code, b in g.blocks.items():
        out: dict[str, Any] = {
            "total_households": b.total_households,
            "sign_dates": [d.isoformat() for d in b.sign_dates],
            "vacate_dates": [d.isoformat() for d in b.vacate_dates],
        }
        if b.weighted:
            out["total_certificates"] = b.total_certificates
            out["total_area"] = _area_text(b.total_area_cents)
            out["sign_weights"] = [[c, _area_text(a)] for c, a in b.sign_weights]
            out["vacate_weights"] = [[c, _area_text(a)] for c, a in b.vacate_weights]
        blocks[code] = out
    result: dict[str, Any] = {"blocks": blocks, "parents": dict(g.parents)}
    if g.measures:
        result["measures"] = {
            mid: {
                scope: [{"effective_on": v.effective_on.isoformat(), "value": str(v.value)} for v in values]
                for scope, values in scopes.items()
            }
            for mid, scopes in g.measures.items()
        }
    return result


def _area_text(cents: int) -> str:
    return str(Decimal(cents).scaleb(-2).quantize(Decimal("0.01")))
