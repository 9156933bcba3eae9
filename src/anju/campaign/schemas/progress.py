"""Pydantic shapes of the campaign API: progress, records, rankings and the forecast."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

__all__ = [
    "BlockForecastRead",
    "BlockProgressRead",
    "CompletedBlockRead",
    "ConcernCountRead",
    "DailySeriesRead",
    "ForecastPointRead",
    "ForecastRead",
    "ProgressCountsRead",
    "ProgressRead",
    "RankingsRead",
    "RecordsRead",
    "ScheduleRead",
    "TeamProgressRead",
]


# --- progress, forecast, big screen --------------------------------------------------------
# Shapes of campaign_service.progress / daily_series / forecast (``to_dict()``); rates are decimal
# strings with 4 places ("0.4567"), dates ISO, times office time (+08:00).


class ProgressCountsRead(BaseModel):
    """Households and cumulative stage counts as of the date (已签约 includes 已腾空 and 已拆除)."""

    households: int
    surveyed: int
    valued: int
    negotiating: int
    signed: int
    vacated: int
    demolished: int
    paid: int
    signed_on_day: int = Field(description="当日签约户数")
    signed_day_before: int = Field(description="前一日签约户数")
    signed_last7: int = Field(description="近 7 日（含当日）签约户数")
    change: int = Field(description="当日签约较前一日的增减")
    rates: dict[str, str] = Field(description="各阶段比率（小数，4 位）：surveyed … demolished, paid")


class BlockProgressRead(ProgressCountsRead):
    """One block, its sub-blocks included, and its record (the day it reached 100%)."""

    id: int
    parent_id: int | None
    code: str
    name: str
    level: str
    depth: int
    path: str
    completed_on: date | None = Field(description="全部签约之日（未完成为空）")
    days_to_complete: int | None = Field(description="全部签约用时（启动日为第 1 天）")
    last_signed_at: datetime | None = Field(description="最后一户签约的登记时刻（北京时间）")


class TeamProgressRead(ProgressCountsRead):
    """One team (a 大组 includes its 小组) with its ranks among teams of its level."""

    id: int | None
    name: str
    kind: str
    parent_id: int | None
    rank_signed: int = Field(description="签约户数名次（并列同名次）")
    rank_rate: int = Field(description="签约率名次")
    rank_speed: int = Field(description="近 7 日签约速度名次")


class ScheduleRead(BaseModel):
    """倒排计划: days_left counts the days after ``on`` up to and including the deadline."""

    target: int
    signed: int
    remaining: int
    deadline_on: date | None
    days_left: int | None
    required_per_day: str | None = Field(description="按期完成每日需签约户数（2 位小数）")
    required_per_day_whole: int | None
    actual_per_day: str = Field(description="近 7 日平均每日签约户数")
    on_track: bool | None
    planned: int | None = Field(description="按计划线（启动日 0 户到截止日达到目标）当日应签约户数")
    gap_to_plan: int | None
    overdue: bool


class CompletedBlockRead(BaseModel):
    id: int
    name: str
    path: str
    households: int
    completed_on: date | None
    days_to_complete: int | None
    last_signed_at: datetime | None


class RecordsRead(BaseModel):
    last_signed_at: datetime | None = Field(description="最后一户签约的登记时刻（北京时间）")
    completed_blocks: list[CompletedBlockRead] = Field(description="已全部签约的区块，用时最短在前")


class ConcernCountRead(BaseModel):
    tag: str
    label: str
    visits: int = Field(description="提出该关注点的走访次数")
    households: int = Field(description="涉及户数")


class ProgressRead(BaseModel):
    """The campaign's numbers as of ``on`` over the households in the caller's scope."""

    project_id: int
    on: date
    scope: str
    launched_on: date | None
    deadline_on: date | None
    days_since_launch: int | None = Field(description="攻坚第几天（启动日为第 1 天；启动前为 0）")
    totals: ProgressCountsRead
    blocks: list[BlockProgressRead]
    unblocked: ProgressCountsRead = Field(description="未分区块的住户")
    teams: list[TeamProgressRead]
    unassigned: ProgressCountsRead = Field(description="未包户到专班的住户")
    schedule: ScheduleRead
    records: RecordsRead
    rankings: dict[str, list[TeamProgressRead]] = Field(description="groups（大组）与 squads（小组）的排名")
    concerns: list[ConcernCountRead]


class DailySeriesRead(BaseModel):
    """Cumulative counts at the end of each day (the burn-up chart) and the plan line."""

    project_id: int
    start: date
    until: date
    households: int
    target: int
    days: list[date]
    series: dict[str, list[int]] = Field(description="surveyed … demolished, paid：每日累计户数")
    signed_per_day: list[int]
    plan: list[int | None]


class RankingsRead(BaseModel):
    """比学赶超: teams ranked by households signed, sign rate and speed (ties share a rank)."""

    project_id: int
    on: date
    groups: list[TeamProgressRead]
    squads: list[TeamProgressRead]


class BlockForecastRead(BaseModel):
    block_id: int | None
    name: str
    method: str = Field(
        description="weibull | loglogistic | complete | insufficient | beyond_horizon | empty"
    )
    method_label: str
    households: int
    signed: int
    remaining: int
    date: str | None = Field(description="预计全部签约日期（YYYY-MM-DD）")
    low: str | None = Field(description="区间下限（第 10 百分位）")
    high: str | None = Field(description="区间上限（第 90 百分位）")
    family: str
    scale_days: float | None
    shape: float | None
    note: str


class ForecastPointRead(BaseModel):
    date: str
    expected: float
    low: float
    high: float


class ForecastRead(BaseModel):
    """When the project and each block reach 100% signing (survival model, bootstrap band)."""

    project_id: int
    on: date
    origin: date | None = Field(description="攻坚第 1 天")
    observed_days: int
    bootstrap: int
    band_percentiles: list[float]
    project: BlockForecastRead
    blocks: list[BlockForecastRead]
    curve: list[ForecastPointRead] = Field(description="预计累计签约户数曲线及区间")
