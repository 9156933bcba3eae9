"""Pydantic shapes of the housing API: estates, flats, the flat list import, selection events and
their order (with everything needed to recompute it)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from anju.housing import rules
from anju.web.params import MAX_ID, PARAM_LABELS, TextRule

__all__ = [
    "CommitmentCreate",
    "EstateCreate",
    "EstateRead",
    "EventCreate",
    "EventRead",
    "FlatImportRead",
    "FlatProblemRead",
    "FlatRead",
    "FlatStatusUpdate",
    "OrderCreate",
    "OrderLineRead",
    "OrderRead",
]

for _name, _label in {
    "estate_id": "安置小区编号",
    "flat_id": "房源编号",
    "event_id": "选房活动编号",
    "estate_ids": "安置小区",
    "order_kind": "选房顺序方式",
    "held_on": "选房日期",
    "planned_delivery_on": "计划交房日期",
    "seed": "摇号种子",
    "seed_source": "种子来源",
    "seed_hash": "种子承诺值",
    "status": "状态",
}.items():
    PARAM_LABELS.setdefault(_name, _label)

_Id = Annotated[int, Field(ge=1, le=MAX_ID)]
_Version = Annotated[int | None, Field(ge=1, le=2**31 - 1, description="读取时的版本号；过期为 409")]
FlatStatus = Literal["available", "frozen", "reserved", "selected", "delivered"]


class EstateCreate(BaseModel):
    """A new estate (安置小区) of the project; a code the project has is a 409 ``duplicate_code``."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, TextRule("小区编号", 32, required=True)]
    name: Annotated[str, TextRule("小区名称", 128, required=True)]
    address: Annotated[str, TextRule("地址", 200)] = ""
    planned_delivery_on: date | None = None


class EstateRead(BaseModel):
    """An estate with its flat counts by status (every status) and its number of buildings."""

    id: int
    project_id: int
    code: str
    name: str
    address: str
    planned_delivery_on: date | None
    actual_delivery_on: date | None
    version: int
    buildings: int
    flats: int
    counts: dict[str, int]


class FlatRead(BaseModel):
    """A flat (房源). Areas in ㎡ (two decimals, as text), ``market_unit_price_fen`` per ㎡."""

    id: int
    estate_id: int
    code: str
    building: str
    unit: int
    floor: int
    number: str
    flat_type: str
    flat_type_name: str
    gross_area: Decimal
    inner_area: Decimal
    shared_area: Decimal
    orientation: str
    price_tier: str
    market_unit_price_fen: int | None
    status: str
    status_label: str
    status_reason: str
    status_changed_at: datetime | None
    version: int


class FlatStatusUpdate(BaseModel):
    """Change a flat's status by hand: available <-> frozen (冻结) or reserved (保留), with a reason;
    anything else is a 409 ``illegal_transition``."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["available", "frozen", "reserved"]
    reason: Annotated[str, TextRule("理由", rules.MAX_REASON, required=True)]
    version: _Version = None


class FlatProblemRead(BaseModel):
    """A problem of the flat list: row number, column, Chinese message."""

    row: int
    column: str
    message: str


class FlatImportRead(BaseModel):
    """The check (``dry_run``) or the import of a flat list."""

    dry_run: bool
    ok: bool
    rows: int
    problems: list[FlatProblemRead]
    imported: int
    buildings_created: int
    flat_types_created: int


class EventCreate(BaseModel):
    """A new selection event (选房大会) of a project over some of its estates."""

    model_config = ConfigDict(extra="forbid")

    project_id: _Id
    name: Annotated[str, TextRule("活动名称", 128, required=True)]
    order_kind: Literal["sign_order", "lottery"]
    estate_ids: Annotated[list[_Id], Field(min_length=1, max_length=50)]
    held_on: date | None = None


class EventRead(BaseModel):
    """A selection event: kind, status, commitment (seed source, seed hash, roster hash, published
    at), the seed once the order is fixed, its estates and flat counts."""

    id: int
    project_id: int
    name: str
    held_on: date | None
    order_kind: str
    order_kind_label: str
    status: str
    status_label: str
    seed_source: str
    seed_committed_hash: str | None
    seed_published_at: datetime | None
    seed: str | None
    roster_hash: str
    order_fixed_at: datetime | None
    current_position: int | None
    households: int
    estate_ids: list[int]
    flat_counts: dict[str, int]
    version: int


class CommitmentCreate(BaseModel):
    """Publish a lottery's commitment before the draw: where the seed comes from, and the SHA-256 of
    a seed kept secret until the draw (leave it out for a future public value such as a lottery
    draw). The roster (households with a live swap agreement) is frozen with it."""

    model_config = ConfigDict(extra="forbid")

    seed_source: Annotated[str, TextRule("种子来源", 500, required=True)]
    seed_hash: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")] | None = None
    version: _Version = None


class OrderCreate(BaseModel):
    """Fix the order: a lottery needs its seed (checked against the commitment: 409
    ``seed_mismatch``); sign order takes none."""

    model_config = ConfigDict(extra="forbid")

    seed: Annotated[str, TextRule("摇号种子", rules.MAX_SEED, required=True)] | None = None
    version: _Version = None


class OrderLineRead(BaseModel):
    """One household in the order (names masked: the order is a public list)."""

    position: int
    call_order: int
    household_id: int
    code: str
    head_name_masked: str
    sign_no: int | None
    draw_key: str
    status: str
    status_label: str


class OrderRead(BaseModel):
    """The order with everything needed to recompute it: kind, seed, commitment, roster hash, the
    formula in words, and the lines (before the order is fixed: the roster, positions 0)."""

    event_id: int
    fixed: bool
    order_kind: str
    seed: str | None
    seed_source: str
    seed_committed_hash: str | None
    roster_hash: str
    formula: str
    formula_en: str
    verify_command: str
    lines: list[OrderLineRead]


# --------------------------------------------------------------------------- running the event


class SelectionCreate(BaseModel):
    """Select a flat for a household (选房确认): the household being served, a flat of the event
    still available and allowed by its entitlement (409 ``flat_taken`` / ``selection_rule``)."""

    model_config = ConfigDict(extra="forbid")

    household_id: _Id
    flat_id: _Id


class HouseholdCall(BaseModel):
    """The household being served, to finish or skip (过号); another household is a 409
    ``not_current``."""

    model_config = ConfigDict(extra="forbid")

    household_id: _Id


class SelectionRead(BaseModel):
    """A selection: who, which flat, when, by whom; once undone, who, when and why."""

    id: int
    event_id: int
    household_id: int
    flat_id: int
    flat_code: str
    agreement_id: int | None
    position: int
    status: str
    selected_at: datetime
    undone_at: datetime | None
    undo_reason: str


class SelectionUndo(BaseModel):
    """Undo a selection (a supervisor): the reason is required and audited."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, TextRule("撤销原因", 500, required=True)]


class EntryRead(BaseModel):
    """A household's place in the event after finishing or skipping it."""

    event_id: int
    household_id: int
    position: int
    call_order: int
    status: str
    status_label: str
    current_position: int | None


class EventClose(BaseModel):
    """Close the event (结束选房). A reason is required while households are still waiting or
    skipped (they stay unserved); ``version`` as read (stale: 409)."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, TextRule("结束原因", 500)] = ""
    version: _Version = None


# --------------------------------------------------------------------------- the selection big screen


class ScreenHouseholdRead(BaseModel):
    """A household on the big screen: code, masked head name (张**), order position, sign number;
    for the household being served, its entitled and maximum area and maximum flats."""

    household_id: int
    code: str
    name_masked: str
    position: int
    sign_no: int | None
    status: str
    entitled_area: Decimal | None = None
    max_area: Decimal | None = None
    max_flats: int | None = None


class ScreenFlatRead(BaseModel):
    """A flat of the screen's grid."""

    id: int
    code: str
    unit: int
    floor: int
    number: str
    flat_type: str
    gross_area: Decimal
    status: Literal["available", "frozen", "reserved", "selected", "delivered"]


class ScreenBuildingRead(BaseModel):
    """A building with its flats (by unit, floors top down) and its flats per status (left =
    ``counts.available``)."""

    id: int
    estate_id: int
    estate_name: str
    code: str
    floors: int
    units: int
    counts: dict[str, int]
    flats: list[ScreenFlatRead]


class ScreenFlatTypeRead(BaseModel):
    """A flat type of an estate: flats in all and still available."""

    estate_id: int
    code: str
    name: str
    gross_area: Decimal | None
    total: int
    available: int


class ScreenSelectionRead(BaseModel):
    """A recent selection on the screen."""

    household_code: str
    flat_code: str
    building: str
    selected_at: datetime


class ScreenEstateRead(BaseModel):
    id: int
    code: str
    name: str


class SelectionScreenRead(BaseModel):
    """The selection big screen's snapshot (选房大屏): the event with its order kind and seed, the
    household being served and the next ones, households per order status (``entry_counts``:
    waiting, current, done, skipped, absent), flats per status, every building's flats, flats
    left per type, and the latest selections (newest first)."""

    event_id: int
    project_id: int
    name: str
    status: str
    status_label: str
    order_kind: str
    order_kind_label: str
    seed: str | None
    seed_source: str
    seed_committed_hash: str | None
    current_position: int | None
    current: ScreenHouseholdRead | None
    upcoming: list[ScreenHouseholdRead]
    entry_counts: dict[str, int]
    flat_counts: dict[str, int]
    estates: list[ScreenEstateRead]
    buildings: list[ScreenBuildingRead]
    flat_types: list[ScreenFlatTypeRead]
    recent: list[ScreenSelectionRead]


# --------------------------------------------------------------------------- flat types (户型)


class FlatTypeRead(BaseModel):
    """A flat type with its name and whether it has a plan image (``plan_url`` then serves it)."""

    id: int
    estate_id: int
    code: str
    name: str
    gross_area: Decimal | None
    inner_area: Decimal | None
    plan_filename: str | None
    plan_url: str | None


class FlatTypeUpdate(BaseModel):
    """Rename a flat type (e.g. ``三室两厅``)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, TextRule("户型名称", 64)]
