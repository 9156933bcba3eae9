"""Pydantic schemas of the compensation API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from anju.core.text import MULTILINE_PATTERN
from anju.web.params import MAX_ID, RequiredReason, TextRule

MAX_POLICY_SOURCE = 1_000_000  # characters; a real policy text is a few thousand


class PolicyVersionRead(BaseModel):
    """A published policy version (without its source)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    project_id: int
    version: int
    name: str
    legal_ref: str
    effective_on: date | None
    content_hash: str
    published_by: str
    published_at: datetime


class PolicyPublish(BaseModel):
    """A policy text to publish as the next version."""

    # Control characters are reported by the policy checker with their line and column.
    source: Annotated[
        str, Field(max_length=MAX_POLICY_SOURCE, json_schema_extra={"pattern": MULTILINE_PATTERN})
    ]
    file_name: Annotated[str, TextRule("文件名", 255)] = "policy.yaml"


class StepRead(BaseModel):
    """One trace line."""

    text: str
    value: str
    note: str = ""


class CertificateRead(BaseModel):
    """A per-certificate part of an item."""

    certificate_no: str
    applies: bool
    amount_fen: int
    notes: list[str]


class ItemRead(BaseModel):
    """One item of the calculation sheet, in fen, with its trace."""

    id: str
    label: str
    applies: bool
    amount_fen: int
    formula: str
    per: str
    steps: list[StepRead]
    notes: list[str]
    certificates: list[CertificateRead]
    ref: str
    basis: list[str] = Field(default=[], description="计算依据：中文说明，含本户数字（每行一句）")


class SubtotalRead(BaseModel):
    """A subtotal line (小计) of the calculation sheet: never part of ``total_fen``."""

    id: str
    label: str
    amount_fen: int
    items: list[str] = Field(description="所含项目 id（本安置方式下）")
    basis: list[str] = Field(default=[], description="小计的中文说明")


class CalculationRead(BaseModel):
    """The calculation of one household under one option."""

    household_code: str
    option: str
    as_of: date
    policy_version: int
    policy_hash: str
    total_fen: int
    items: list[ItemRead]
    warnings: list[str]
    subtotals: list[SubtotalRead] = Field(default=[], description="小计行（不另计入合计）")


class SelectionRuleRead(BaseModel):
    """One selection rule of the policy as it stands for the household."""

    id: str = Field(description="规则编号；max_area / max_flats / flat_types 为系统自带限制")
    label: str
    kind: Literal["min_flat_area", "max_flat_area", "flat_types_allowed"]
    applies: bool = Field(description="本户是否适用（适用条件 when 是否成立）")
    area: Decimal | None = Field(description="㎡；min_flat_area / max_flat_area 的面积")
    count: int = Field(description="min_flat_area：至少几套")
    flat_types: list[str] = Field(description="flat_types_allowed：可选户型（编号或名称）")
    description: str = Field(description="要求的中文说明")


class EntitlementRead(BaseModel):
    """A household's entitlement (安置资格): what it may select under the latest policy."""

    household_id: int
    household_code: str
    policy_version: int
    policy_hash: str
    as_of: date = Field(description="参数取值日期：签约日，未签约为方案生效日")
    entitled_area: Decimal = Field(description="应安置面积（㎡）")
    max_area: Decimal = Field(description="最大可选面积（㎡），不超过应安置面积 + max_extra")
    max_flats: int | None = Field(description="最多可选套数；null 为不限")
    extra_limit: Decimal = Field(description="超出应安置面积按优惠价结算的面积（㎡）")
    max_extra: Decimal = Field(description="最多可超出应安置面积（㎡）")
    rules: list[SelectionRuleRead]


# ---- named what-if scenarios (测算方案)

ScenarioName = Annotated[str, TextRule("测算名称", 100, required=True)]
ScenarioNote = Annotated[str, TextRule("说明", 500, multiline=True)]
OverrideMap = Annotated[
    dict[Annotated[str, Field(max_length=200)], Annotated[str, Field(max_length=40)]],
    Field(
        max_length=500,
        description="改动的参数：键为测算页的参数键（如 relocation_rate、house_rate[砖混,A]、sign_reward_rate[1]），"
        "值为新数值（按参数自身单位，% 参数写 10 表示 10%）",
    ),
]


class ScenarioCreate(BaseModel):
    """A named what-if to save."""

    name: ScenarioName
    option: Annotated[str, TextRule("安置方式", 32, required=True)]
    overrides: OverrideMap
    note: ScenarioNote = ""


class ScenarioUpdate(BaseModel):
    """Changes to a scenario; ``version`` is the one read (a stale one is a 409)."""

    version: Annotated[int, Field(ge=1)]
    name: ScenarioName | None = None
    option: Annotated[str, TextRule("安置方式", 32, required=True)] | None = None
    overrides: OverrideMap | None = None
    note: ScenarioNote | None = None


class ScenarioRead(BaseModel):
    """A saved scenario (its overrides, not its results: those are computed by ``run``)."""

    id: int
    project_id: int
    name: str
    option: str
    overrides: dict[str, str]
    note: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int
    archived: bool
    archived_at: datetime | None
    archived_by: str | None


class AmountPair(BaseModel):
    """A total under the published plan and under the scenario (fen)."""

    key: str
    label: str
    base_fen: int
    new_fen: int
    delta_fen: int


class ScenarioRunRead(BaseModel):
    """A scenario recomputed now over the whole project."""

    scenario_id: int
    name: str
    option: str
    option_label: str
    policy_version: int = Field(description="计算所依据的现行（最新发布）方案版本")
    overrides: dict[str, str]
    ignored: list[str] = Field(description="现行方案已没有的参数键（未参与计算）")
    households: int
    households_affected: int = Field(description="金额有变化的户数")
    base_total_fen: int
    new_total_fen: int
    delta_fen: int
    by_item: list[AmountPair]
    by_block: list[AmountPair]


# Office-set group measures (#12 item 3) ------------------------------------------------------

MeasureValueInput = Annotated[
    Decimal | int | str,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": 9_999_999_999},
                {"type": "string", "pattern": "^[0-9]{1,10}(\\.[0-9]{1,4})?%?$"},
            ]
        }
    ),
]


class GroupMeasureRecord(BaseModel):
    """A value of an office-set measure for a block (``block_id`` null: the whole project)."""

    measure_id: Annotated[str, TextRule("指标", 64, required=True)]
    block_id: Annotated[int | None, Field(ge=1, le=MAX_ID)] = None
    effective_on: date
    value: MeasureValueInput
    reason: RequiredReason


class GroupMeasureValueRead(BaseModel):
    """A recorded value (never changed: a correction is a later record)."""

    id: int
    measure_id: str
    measure_label: str
    block_id: int | None
    block_code: str | None
    block_name: str
    effective_on: date
    value: Decimal
    unit: str
    reason: str
    recorded_by: str
    recorded_at: datetime
    policy_version: int


class DeclaredMeasureRead(BaseModel):
    """A measure the latest published policy declares ``set_by: office``."""

    id: str
    label: str
    unit: str
    levels: list[str]
    ref: str
    blocks: list[dict[str, int | str | None]]


class GroupMeasuresRead(BaseModel):
    """The project's office-set measures and every value recorded, newest effective date first."""

    measures: list[DeclaredMeasureRead]
    values: list[GroupMeasureValueRead]
