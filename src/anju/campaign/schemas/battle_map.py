"""Pydantic shapes of the campaign API: the battle map (战果图)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "BattleMapRead",
    "MapBlockFeature",
    "MapBlockProperties",
    "MapFilters",
    "MapHousehold",
    "MapLegendItem",
    "MapParcelFeature",
    "MapParcelProperties",
    "MapTotals",
]


# --- battle map (战果图) --------------------------------------------------------------------


class MapHousehold(BaseModel):
    """A household's card on the battle map."""

    id: int
    code: str
    head_name: str
    block: str = Field(description="区块路径")
    stage: str = Field(description="阶段（户的状态）")
    stage_label: str
    attitude: str = Field(description="最近一次走访的态度（support / wait / resist；未走访为空）")
    attitude_label: str
    difficulty: int = Field(description="难点户等级（0 一般户，1-3）")
    difficulty_label: str
    team: str = Field(description="包户专班")
    person: str = Field(description="包户责任人")
    last_visit_on: date | None = Field(description="最近走访日期")
    visit_count: int
    url: str = Field(description="户档案页面")


class MapParcelProperties(BaseModel):
    """What a parcel feature carries: its households and the stage it is coloured by."""

    parcel_id: int
    parcel_code: str
    block_id: int | None
    block: str
    stage: str = Field(description="宗地上最落后的一户的阶段")
    stage_label: str
    colour: str
    hard: bool = Field(description="宗地上有难点户")
    difficulty: int
    households: list[MapHousehold]


class MapParcelFeature(BaseModel):
    """A GeoJSON Feature: one parcel."""

    type: str = "Feature"
    id: int
    geometry: dict[str, Any] = Field(description="GeoJSON 几何（经纬度）")
    properties: MapParcelProperties


class MapBlockProperties(BaseModel):
    block_id: int
    code: str
    name: str
    level: str


class MapBlockFeature(BaseModel):
    """A GeoJSON Feature: one block's boundary."""

    type: str = "Feature"
    id: int
    geometry: dict[str, Any]
    properties: MapBlockProperties


class MapLegendItem(BaseModel):
    stage: str
    label: str
    colour: str
    count: int = Field(description="所示范围内该阶段的户数")


class MapTotals(BaseModel):
    households: int
    mapped: int
    unmapped: int
    parcels: int
    hard: int


class MapFilters(BaseModel):
    team_id: int | None
    block_id: int | None


class BattleMapRead(BaseModel):
    """The battle map: a GeoJSON FeatureCollection of parcels, with block boundaries, the households
    without a drawable parcel, the legend and the totals as extra members."""

    type: str = "FeatureCollection"
    features: list[MapParcelFeature]
    blocks: list[MapBlockFeature]
    unmapped: list[MapHousehold]
    legend: list[MapLegendItem]
    totals: MapTotals
    filters: MapFilters
