"""Household facts part: the category enums and their aliases, the household and its members,
buildings, homestead, tenants and chosen flats."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any


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
    # Member-level facts the policy declares (anju.policy.declared, ``member.fact.ID``), by id.
    facts: Mapping[str, Any] = field(default_factory=dict, hash=False)

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
    # Building-level facts the policy declares (anju.policy.declared, ``building.fact.ID``), by id.
    facts: Mapping[str, Any] = field(default_factory=dict, hash=False)

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


READY = "现房"  # the flat's estate is delivered (on or before the calculation date)
FUTURE = "期房"  # not delivered yet
READY_WORDS = (READY, FUTURE)
LOW_RISE = "多层"
HIGH_RISE = "高层"
RISE_WORDS = (LOW_RISE, HIGH_RISE)
# 楼型 from the floors count when a building's rise is not recorded: 住宅 10 层及以上为高层
# (GB 50096-1999《住宅设计规范》1.0.3 按层数分类：十层及以上为高层住宅; GB 50352-2019《民用建筑设计统一标准》
# 3.1.2 以建筑高度 27 m 划分, about ten storeys of a dwelling).
HIGH_RISE_FLOORS = 10


def default_rise(floors: int | None) -> str:
    """楼型 by the floors count: 10 and more 高层, fewer 多层; unknown ("") without a count."""
    if not floors or floors < 1:
        return ""
    return HIGH_RISE if floors >= HIGH_RISE_FLOORS else LOW_RISE


def flat_ready(flat: ChosenFlat, on: date) -> str:
    """现房 when the flat says so, or its estate was delivered on or before ``on``; else 期房."""
    if flat.ready:
        return flat.ready
    return READY if flat.delivered_on is not None and flat.delivered_on <= on else FUTURE


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
    # 现房/期房: given outright ("" = from ``delivered_on``, see :func:`flat_ready`), and the day
    # the flat's estate was actually delivered (None = not yet).
    ready: str = ""
    delivered_on: date | None = None
    rise: str = ""  # 楼型 多层/高层 of the flat's building ("" = not recorded; see :func:`default_rise`)

    def __post_init__(self) -> None:
        object.__setattr__(self, "area", _area(self.area, "flat.area"))
        if self.ready not in ("", *READY_WORDS):
            raise ValueError(f"房源 {self.code} 的现房/期房应为 现房 或 期房 / flat.ready: {self.ready!r}")
        if self.rise not in ("", *RISE_WORDS):
            raise ValueError(f"房源 {self.code} 的楼型应为 多层 或 高层 / flat.rise: {self.rise!r}")
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
