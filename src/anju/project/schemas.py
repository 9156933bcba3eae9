"""Pydantic schemas of the project API.

Write schemas document the rules of :mod:`anju.project.rules` (lengths, patterns, ranges) so that
API clients see them; the service still cleans every value and words its problems in Chinese.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from anju.project import rules
from anju.web.params import MAX_ID, NotNull, Reason, TextRule

Code = Annotated[str, TextRule("编号", 32), WithJsonSchema({"type": "string", "pattern": rules.CODE_PATTERN})]
Name = Annotated[str, TextRule("名称", 128, required=True)]
Kind = Annotated[str, WithJsonSchema({"type": "string", "enum": list(rules.PROJECT_KINDS)})]
Status = Annotated[str, WithJsonSchema({"type": "string", "enum": list(rules.PROJECT_STATUSES)})]
Level = Annotated[str, WithJsonSchema({"type": "string", "enum": list(rules.BLOCK_LEVELS)})]
District = Annotated[str, TextRule("所在区域", 128)]
Description = Annotated[str, TextRule("项目说明", 2000, multiline=True)]
DecisionNo = Annotated[str, TextRule("征收决定文号", 128)]
LegalBasis = Annotated[str, TextRule("法律依据", 1000, multiline=True)]
SignRate = Annotated[int, Field(ge=1, le=100, description="目标签约率（%），1 至 100")]
TargetHouseholds = Annotated[
    int | None, Field(ge=1, le=rules.MAX_TARGET_HOUSEHOLDS, description="目标签约户数（空：全部）")
]
AlertDays = Annotated[int, Field(ge=1, le=90, description="未走访预警天数，1 至 90")]
Sort = Annotated[int, Field(ge=0, le=rules.MAX_SORT)]
ParentId = Annotated[int | None, Field(ge=1, le=MAX_ID, description="上级区块 id（空：顶层）")]
Version = Annotated[
    int, Field(ge=1, le=2**31 - 1, description="The record's version as read (GET); a stale one is a 409.")
]


class _Write(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason = ""

    def data(self) -> dict[str, Any]:
        """The fields actually sent, without ``reason`` and ``version``."""
        return {
            k: v for k, v in self.model_dump(exclude_unset=True).items() if k not in ("reason", "version")
        }


class ProjectCreate(_Write):
    """A new project: its kind, district, legal basis, signing period, deadline and targets."""

    code: Code
    name: Name
    kind: Kind
    status: Status = "survey"
    district: District = ""
    description: Description = ""
    decision_no: DecisionNo = ""
    legal_basis: LegalBasis = ""
    signing_start_on: date | None = None
    signing_end_on: date | None = None
    launched_on: date | None = None
    deadline_on: date | None = None
    target_sign_rate: SignRate = 100
    target_households: TargetHouseholds = None
    alert_no_visit_days: AlertDays = 7


class ProjectUpdate(_Write):
    """A change to a project: only the fields sent change; ``version`` as read (stale: 409)."""

    code: Annotated[Code | None, NotNull("项目编号")] = None
    name: Annotated[Name | None, NotNull("项目名称")] = None
    kind: Annotated[Kind | None, NotNull("项目类型")] = None
    status: Annotated[Status | None, NotNull("项目阶段")] = None
    district: District | None = None
    description: Description | None = None
    decision_no: DecisionNo | None = None
    legal_basis: LegalBasis | None = None
    signing_start_on: date | None = None
    signing_end_on: date | None = None
    launched_on: date | None = None
    deadline_on: date | None = None
    target_sign_rate: Annotated[SignRate | None, NotNull("目标签约率")] = None
    target_households: TargetHouseholds = None
    alert_no_visit_days: Annotated[AlertDays | None, NotNull("未走访预警天数")] = None
    version: Version


class BlockCreate(_Write):
    """A new block (片区 / 村 / 组 / 区块) of a project, under ``parent_id`` when given."""

    code: Code
    name: Name
    level: Level
    parent_id: ParentId = None
    sort: Sort = 0


class BlockUpdate(_Write):
    """Rename, re-level, re-sort or move a block (``parent_id`` null: to the top)."""

    code: Annotated[Code | None, NotNull("区块编号")] = None
    name: Annotated[Name | None, NotNull("区块名称")] = None
    level: Annotated[Level | None, NotNull("区块层级")] = None
    parent_id: ParentId = None
    sort: Annotated[Sort | None, NotNull("排序号")] = None
    version: Version


class BlockRead(BaseModel):
    """A block (片区/村/组) of a project."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    parent_id: int | None
    code: str
    name: str
    level: str
    sort: int = 0


class BlockDetail(BlockRead):
    """A block with its version (send it with the next change)."""

    project_id: int
    version: int


class ProjectRead(BaseModel):
    """A project with its household counts by status (within the caller's scope)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    kind: str
    status: str
    district: str
    description: str = ""
    decision_no: str = ""
    legal_basis: str = ""
    signing_start_on: date | None
    signing_end_on: date | None
    launched_on: date | None = None
    deadline_on: date | None = None
    target_sign_rate: int = 100
    target_households: int | None = None
    alert_no_visit_days: int = 7
    version: int = 1
    households_by_status: dict[str, int] = Field(
        default={}, description="各状态现有户数（每户只计一次）：pending … archived"
    )
    households_reached: dict[str, int] = Field(
        default={}, description="各环节累计户数（含已进入后续环节的户，如 surveyed 含 signed）"
    )


class ProjectDetail(ProjectRead):
    """A project with its block tree."""

    blocks: list[BlockRead] = []


class Created(BaseModel):
    """Result of a create: the new record's id and version."""

    id: int
    version: int = 1


class Changed(BaseModel):
    """Result of an update: the audited field-level diff and the record's version now."""

    changes: dict[str, list[Any]]
    version: int


class ParcelImportRead(BaseModel):
    """What a GeoJSON parcel import did."""

    features: int
    created: int
    updated: int
    unchanged: int
    boundaries: int
    removed: int = Field(description="删除的宗地数（项目原有、新文件中已没有的宗地）")
    households_linked: int = Field(description="新关联到宗地的户数（原先没有宗地）")
    households_relinked: int = Field(description="改关联到另一宗地的户数")
    households_unlinked: int = Field(
        description="解除宗地关联的户数（宗地已删除，或该宗地的户号中已没有该户）"
    )
    message: str


class ParcelProperties(BaseModel):
    """A parcel's properties in the GeoJSON answer."""

    id: int
    code: str
    block_id: int | None
    block_code: str | None
    land_area: str | None = Field(description="宗地面积（㎡，两位小数）")


class ParcelFeature(BaseModel):
    """A parcel as a GeoJSON Feature (geometry: Polygon or MultiPolygon, WGS84)."""

    type: Literal["Feature"] = "Feature"
    id: int
    properties: ParcelProperties
    geometry: dict[str, Any] | None


class ParcelCollection(BaseModel):
    """A project's parcels as a GeoJSON FeatureCollection."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[ParcelFeature]
