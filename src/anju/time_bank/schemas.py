"""Pydantic schemas of the time-bank API (hours are integer minutes, points integer points)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, WithJsonSchema

from anju.time_bank import rules
from anju.web.params import MAX_ID, RequiredReason, TextRule

Name = Annotated[str, TextRule("姓名", 64, required=True)]
Phone = Annotated[str, Field(pattern=r"^1\d{10}$", description="手机号（11 位）")]
FamilyCode = Annotated[str, TextRule("家庭编号", 32)]
Title = Annotated[str, TextRule("标题", 100, required=True)]
Place = Annotated[str, TextRule("地点", 200)]
Team = Annotated[str, TextRule("队伍", 64)]
ItemName = Annotated[str, TextRule("名称", 100, required=True)]
Deed = Annotated[str, TextRule("事迹", 200, required=True)]
Objection = Annotated[str, TextRule("异议", 500, multiline=True, required=True)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Minutes = Annotated[int, Field(ge=1, le=100_000, description="分钟")]


def _sane_instant(value: datetime | None) -> datetime | None:
    if value is not None and not (2000 <= value.year <= 2099):
        raise ValueError("时间须在 2000 年至 2099 年之间")
    return value


Instant = Annotated[
    AwareDatetime,
    AfterValidator(_sane_instant),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": "^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[^Z]*(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])$",
        }
    ),
]
Version = Annotated[int, Field(ge=1, le=2**31 - 1, description="读取时的版本号；过期为 409")]


class _Write(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VolunteerCreate(_Write):
    community_id: Id
    name: Name
    phone: Phone
    family_code: FamilyCode = ""
    household_id: Id | None = None
    user_id: Id | None = Field(default=None, description="本人也是系统用户时（不得审核自己的时长）")


class VolunteerVerify(_Write):
    family_code: FamilyCode = ""
    version: Version


class VolunteerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    community_id: int
    name: str
    phone: str
    family_code: str
    household_id: int | None
    verified: bool
    version: int


class ActivityCreate(_Write):
    community_id: Id
    grid_id: Id | None = None
    category: Literal[rules.CATEGORIES]  # type: ignore[valid-type]
    title: Title
    place: Place = ""
    starts_at: Instant
    ends_at: Instant
    capacity: Annotated[int, Field(ge=1, le=10_000)]
    minutes_offered: Minutes
    team_name: Team = ""


class ActivityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    community_id: int
    grid_id: int | None
    category: str
    title: str
    place: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    minutes_offered: int
    team_name: str


class SignupCreate(_Write):
    volunteer_id: Id


class CheckTime(_Write):
    at: Instant | None = Field(default=None, description="签到/签退时刻（空：现在）；不得晚于现在")


class SignupRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    activity_id: int
    volunteer_id: int
    status: str
    checked_in_at: datetime | None
    checked_out_at: datetime | None


class ClaimRead(BaseModel):
    id: int
    volunteer_id: int
    volunteer_name: str
    activity_title: str
    minutes: int
    status: str
    first_reviewer_id: int | None
    second_reviewer_id: int | None
    transfer_id: str


class Review(_Write):
    approve: bool
    reason: str = Field(default="", max_length=200)


class ItemCreate(_Write):
    unit: Literal["minutes", "points"]
    kind: Literal["service", "goods"]
    name: ItemName
    price: Annotated[int, Field(ge=1, le=1_000_000)]


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    unit: str
    kind: str
    name: str
    price: int


class RedemptionCreate(_Write):
    volunteer_id: Id
    item_id: Id


class RedemptionRead(BaseModel):
    redemption_id: int
    transfer_id: str
    balance: int


class GiftCreate(_Write):
    from_volunteer_id: Id
    to_volunteer_id: Id
    minutes: Minutes


class DonationCreate(_Write):
    account_id: Id
    minutes: Minutes


class ReversalCreate(_Write):
    reason: RequiredReason


class Transfer(BaseModel):
    transfer_id: str


class EntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    transfer_id: str
    amount: int
    kind: str
    reverses: str
    memo: str
    created_at: datetime


class AccountRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    owner_kind: str
    owner_ref: str
    unit: str
    label: str
    balance: int


class AccountLedger(BaseModel):
    account: AccountRead
    ledger_sum: int
    entries: list[EntryRead]


class SettingUpdate(_Write):
    value: Annotated[int, Field(ge=0, le=10_000_000)]


class RuleCreate(_Write):
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    name: ItemName
    points: Annotated[int, Field(ge=1, le=100_000)]


class RuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    points: int


class AwardCreate(_Write):
    volunteer_id: Id
    rule_id: Id
    deed: Deed


class AwardObjection(_Write):
    objection: Objection


class AwardDecision(_Write):
    upheld: bool
    reason: RequiredReason


class AwardRead(BaseModel):
    id: int
    volunteer_id: int
    volunteer_name: str
    rule_name: str
    points: int
    deed: str
    status: str
    publicity_ends_on: date
    objection: str


class Settled(BaseModel):
    counted: int


class BoardRow(BaseModel):
    rank: int
    name: str
    community_id: int
    amount: int
