"""Policy document part: the typed definitions a policy is read into."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from anju.core.dates import DayCount, DayWindow
from anju.core.money import RoundingMode, RoundingUnit
from anju.policy.declared import FactDecl
from anju.policy.errors import Location
from anju.policy.expr import Node
from anju.policy.measures import Measure
from anju.policy.selection_rules import EntitlementSpec
from anju.policy.transition import TransitionRules
from anju.policy.units import ONE, Unit
from anju.policy.yaml_source import Src

MAX_NUMBER = Decimal(10) ** 15  # numbers of a policy file are below this in absolute value


MAX_PLACES = 12  # and have at most this many decimal places


# ----------------------------------------------------------------------------- definitions


@dataclass(slots=True)
class Formula:
    """A formula as written, its syntax tree, and where it sits in the file."""

    text: str
    src: Src
    node: Node | None = None

    def location(self, offset: int = 0) -> Location:
        """Location of a character of the formula."""
        return self.src.location(offset, self.text)


@dataclass(frozen=True, slots=True)
class Dated:
    """A value in force from ``since`` (``None``: from the beginning)."""

    since: date | None
    value: Any


@dataclass(slots=True)
class Param:
    """A parameter: a number, a category (string), a table keyed by dimensions, or numeric bands.

    ``values`` are dated versions of the base value; ``overrides`` give per-block replacements
    (for a table: only the entries they name), themselves dated.
    """

    name: str
    label: str
    kind: str  # "scalar" | "category" | "table" | "bands"
    unit: Unit
    unit_text: str
    percent: bool
    keys: tuple[str, ...]
    values: list[Dated]
    overrides: dict[str, list[Dated]]
    ref: str
    src: Src
    by_unit: Unit = ONE  # bands: unit of the argument
    default: Decimal | None = None  # table: value for keys not listed


@dataclass(slots=True)
class Clock:
    """A named date of the project (signing start, agreements effective, deadlines)."""

    name: str
    label: str
    on: date
    overrides: dict[str, date]
    ref: str
    src: Src


@dataclass(slots=True)
class TierWindow:
    """One window of a date-window tier: day numbers ``after < n <= upto``."""

    window: DayWindow
    value: Decimal
    label: str


@dataclass(slots=True)
class Tier:
    """A date-window tier keyed to a household event date counted from a clock."""

    name: str
    label: str
    event: str  # "sign_on" | "vacate_on"
    clock: str
    count: DayCount
    unit: Unit
    unit_text: str
    windows: list[TierWindow]
    otherwise: Decimal
    ref: str
    src: Src


@dataclass(slots=True)
class Derived:
    """A named intermediate quantity (e.g. entitled swap area), any unit, not rounded."""

    name: str
    label: str
    formula: Formula


@dataclass(slots=True)
class Item:
    """A compensation item: the money a household gets for one reason."""

    id: str
    label: str
    options: tuple[str, ...]
    per: str  # "household" | "certificate"
    formula: Formula
    when: Formula | None
    floor: Formula | None
    cap: Formula | None
    household_floor: Formula | None
    household_cap: Formula | None
    rounding_mode: RoundingMode
    rounding_unit: RoundingUnit
    ref: str
    src: Src


@dataclass(slots=True)
class Subtotal:
    """A subtotal line (小计 / 合计) of the calculation sheet: a named group of items and of other
    subtotals. Shown on the sheet, usable in formulas by its id, never added to the total."""

    id: str
    label: str
    parts: tuple[str, ...]  # item ids and subtotal ids, as written
    ref: str
    src: Src
    part_srcs: tuple[Src, ...] = ()  # where each part was written (for problems)


@dataclass(slots=True)
class SwapRules:
    """Swap settlement (产权调换结算) rules, all given as formulas of the household."""

    entitled_area: Formula
    credit: Formula
    cost_price: Formula
    extra_price: Formula
    market_price: Formula | None
    refund_price: Formula
    extra_limit: Decimal  # ㎡ beyond the entitled area sold at extra_price (e.g. 15)
    max_extra: Decimal  # ㎡ beyond the entitled area at most (e.g. 30)
    flat_types: list[tuple[Decimal | None, tuple[str, ...]]]  # (entitled area up to, allowed types)
    src: Src
    entitlement: EntitlementSpec | None = None  # what a household may select (anju.policy.selection_rules)


@dataclass(slots=True)
class Meta:
    """Metadata of a policy."""

    name: str
    project: str
    version: str
    legal_ref: str
    effective_on: date
    rounding_mode: RoundingMode
    rounding_unit: RoundingUnit
    block_levels: tuple[str, ...]
    status: str  # "draft" | "published"
    content_hash: str | None
    description: str


@dataclass(slots=True)
class Policy:
    """A loaded (not yet checked) policy."""

    meta: Meta
    params: dict[str, Param]
    clocks: dict[str, Clock]
    tiers: dict[str, Tier]
    derived: dict[str, Derived]
    options: dict[str, str]
    items: list[Item]
    swap: SwapRules | None
    file: str
    text: str
    raw: Any = field(repr=False, default=None)
    transition: TransitionRules | None = None  # monthly transition fees (anju.policy.transition)
    facts: dict[str, FactDecl] = field(default_factory=dict)  # facts the plan declares (anju.policy.declared)
    measures: dict[str, Measure] = field(
        default_factory=dict
    )  # office-set group measures (anju.policy.measures)
    subtotals: list[Subtotal] = field(default_factory=list)  # subtotal lines, in the order written
