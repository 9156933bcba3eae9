"""Pydantic shapes of the service-request API: the office's view of a request and its history, the
public (resident's) view without personal data, and the bodies of each action."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from anju.web.params import MAX_ID, PARAM_LABELS, TextRule

for _name, _label in {
    "request_id": "诉求编号",
    "category_id": "诉求分类",
    "department_id": "承办部门",
    "grid_id": "网格",
    "into_id": "合并到的诉求",
    "priority": "优先级",
    "rating": "评分",
    "resolution": "验单结果",
    "result": "办理结果",
    "new_due_at": "新的期限",
    "approve": "是否同意",
    "description": "诉求内容",
    "lng": "经度",
    "lat": "纬度",
    "address": "地址",
    "reporter_name": "姓名",
    "reporter_phone": "联系电话",
    "secret": "查询码",
    "cursor": "分页游标",
    "limit": "条数",
    "note": "备注",
    "comment": "评价",
}.items():
    PARAM_LABELS.setdefault(_name, _label)

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Version = Annotated[int, Field(ge=1, le=MAX_ID, description="诉求的版本号（读取时得到；过期则 409）")]
Reason = Annotated[str, TextRule("理由", 500, multiline=True, required=True)]
Note = Annotated[str, TextRule("备注", 500, multiline=True)]
Result = Annotated[str, TextRule("办理结果", 2000, multiline=True, required=True)]


class EventRead(BaseModel):
    """One step of a request's history."""

    action: str
    action_label: str
    from_status: str
    to_status: str
    gb_step: str
    actor: str
    reason: str
    at: datetime


class PublicRequestRead(BaseModel):
    """What anyone following a request sees: no reporter, no internal history rows."""

    code: str
    category_id: int
    category: str
    description: str
    address: str
    lng: Decimal | None
    lat: Decimal | None
    status: str
    status_label: str
    open311_status: str
    order_index: int = Field(description="五单进度：已完成的环节数 0-5")
    status_note: str
    result: str
    department: str
    rating: int | None
    resolution: str
    submitted_at: datetime
    published_at: datetime | None
    closed_at: datetime | None
    version: int
    history: list[EventRead]
    photos: list[int] = Field(description="照片编号（提交时与晒单时）")


class RequestRead(BaseModel):
    """A request as the office sees it."""

    id: int
    code: str
    category_id: int
    category: str
    description: str
    address: str
    lng: Decimal | None
    lat: Decimal | None
    grid_id: int | None
    community_id: int | None
    reporter_name: str
    reporter_phone: str
    channel: str
    status: str
    status_label: str
    gb_step: str
    priority: str
    department_id: int | None
    department: str
    status_note: str
    result: str
    due_at: datetime | None
    close_due_at: datetime | None
    overdue_at: datetime | None
    escalation_level: int
    rating: int | None
    resolution: str
    reopen_count: int
    sendback_count: int
    postpone_count: int
    postpone_pending: bool
    merged_into_id: int | None
    submitted_at: datetime
    accepted_at: datetime | None
    taken_at: datetime | None
    published_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    version: int


class RequestDetail(RequestRead):
    """A request with its whole history (internal rows included) and photo ids."""

    history: list[EventRead]
    photos: list[int]


class RequestList(BaseModel):
    """One page of requests; ``next_cursor`` is '' on the last page."""

    items: list[RequestRead]
    next_cursor: str


class Submitted(BaseModel):
    """A filed request: its public code and the follow secret, shown this once."""

    id: int
    code: str
    secret: str = Field(description="查询码：只显示这一次，凭编号和查询码查看进度、验单")
    status: str
    follow_url: str


class NearbyRead(BaseModel):
    """A request of the same category close by (to follow instead of filing a duplicate)."""

    code: str
    description: str
    address: str
    status: str
    status_label: str
    submitted_at: datetime


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AcceptBody(_Body):
    version: Version
    priority: Literal["urgent", "routine"] = "routine"
    department_id: Id | None = None
    category_id: Id | None = None
    note: Note = ""


class ReasonBody(_Body):
    version: Version
    reason: Reason


class MergeBody(_Body):
    version: Version
    into_id: Id
    reason: Reason


class VersionBody(_Body):
    version: Version


class PostponeBody(_Body):
    version: Version
    new_due_at: datetime = Field(description="申请的新期限（带时区）")
    reason: Reason


class PostponeDecisionBody(_Body):
    version: Version
    approve: bool
    reason: Note = ""


class VerifyBody(_Body):
    version: Version
    rating: Annotated[int, Field(ge=1, le=5)]
    resolution: Literal["solved", "partly"] = "solved"
    comment: Note = ""


class ReopenBody(_Body):
    version: Version
    reason: Reason
    rating: Annotated[int, Field(ge=1, le=5)] | None = None


class PublicVerifyBody(VerifyBody):
    secret: Annotated[str, TextRule("查询码", 32, required=True)]


class PublicReopenBody(ReopenBody):
    secret: Annotated[str, TextRule("查询码", 32, required=True)]
