"""Pydantic shapes of the campaign API: the big screen (作战大屏)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

__all__ = [
    "BigScreenBlock",
    "BigScreenForecast",
    "BigScreenRead",
    "BigScreenSchedule",
    "BigScreenSigning",
    "BigScreenTeam",
    "BigScreenToday",
    "BigScreenTotals",
]


# --- big screen (作战大屏) data -----------------------------------------------------------------
# The shape of campaign_service.big_screen(...); rates are decimal strings ("0.4567").


class BigScreenTotals(BaseModel):
    households: int
    surveyed: int
    valued: int
    negotiating: int
    signed: int
    vacated: int
    demolished: int
    paid: int
    signed_on_day: int
    signed_day_before: int
    signed_last7: int
    change: int
    rates: dict[str, str] = Field(description="各阶段比率（小数，4 位）")


class BigScreenToday(BaseModel):
    signed: int = Field(description="当日签约户数")
    day_before: int = Field(description="前一日签约户数")
    change: int


class BigScreenSchedule(BaseModel):
    """The reverse schedule (倒排计划)."""

    target: int
    signed: int
    remaining: int
    deadline_on: date | None
    days_left: int | None
    required_per_day: str | None = Field(description="按期完成每日需签约户数")
    required_per_day_whole: int | None
    actual_per_day: str = Field(description="近 7 日平均每日签约户数")
    on_track: bool | None
    planned: int | None
    gap_to_plan: int | None
    overdue: bool


class BigScreenBlock(BaseModel):
    id: int
    name: str
    households: int
    signed: int
    sign_rate: str
    vacated: int
    signed_on_day: int
    completed_on: date | None


class BigScreenTeam(BaseModel):
    rank: int
    team_id: int | None
    name: str
    households: int
    signed: int
    sign_rate: str
    signed_last7: int


class BigScreenSigning(BaseModel):
    household_id: int
    code: str
    head_name: str = Field(description="户主姓名（脱敏）")
    block: str
    team: str
    signed_on: date
    time: str | None = Field(description="签约时刻（北京时间 HH:MM）")


class BigScreenForecast(BaseModel):
    date: str | None = Field(description="预计全部签约的日期（YYYY-MM-DD）")
    low: str | None
    high: str | None
    method: str | None
    note: str | None


class BigScreenRead(BaseModel):
    """The big screen's numbers as of ``on`` (households in the caller's scope)."""

    project_id: int
    name: str
    on: date
    days_since_launch: int | None
    totals: BigScreenTotals
    today: BigScreenToday
    schedule: BigScreenSchedule
    blocks: list[BigScreenBlock]
    ranking: list[BigScreenTeam]
    latest: list[BigScreenSigning]
    last_signed_at: str | None = Field(description="最后一户签约的时刻（北京时间）")
    forecast: BigScreenForecast
