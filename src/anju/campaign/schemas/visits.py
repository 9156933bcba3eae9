"""Pydantic shapes of the campaign API: visits (走访)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from anju.campaign import rules
from anju.web.params import PARAM_LABELS, RequiredReason, TextRule

__all__ = [
    "PersuaderIn",
    "PersuaderRead",
    "VisitCreate",
    "VisitRead",
    "VisitVoid",
]


# --- visits -------------------------------------------------------------------------------
# Chinese names of the visit fields in validation messages (pydantic's own errors name the field).
for _name, _label in {
    "visited_at": "走访时间",
    "duration_min": "走访时长",
    "place": "走访地点",
    "staff": "在场人员",
    "persuaders": "外请说客",
    "concern_tags": "诉求标签",
    "concern_text": "诉求内容",
    "attitude": "态度",
    "outcome": "走访结果",
    "next_step": "下一步工作",
    "next_due_on": "下一步期限",
    "visit_id": "走访记录编号",
}.items():
    PARAM_LABELS.setdefault(_name, _label)


def _choice(options: dict[str, str]) -> dict[str, Any]:
    """A code of ``options`` or its Chinese label (both accepted; stored as the code)."""
    return {"type": "string", "enum": [*options.keys(), *options.values()]}


class PersuaderIn(BaseModel):
    """An outside persuader brought to the visit: name and relation to the family (and a note)."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, TextRule("说客姓名", 64, required=True)]
    relation: Annotated[str, WithJsonSchema(_choice(rules.PERSUADER_RELATIONS))] = Field(
        description="与该户的关系：" + "、".join(f"{k}（{v}）" for k, v in rules.PERSUADER_RELATIONS.items())
    )
    note: Annotated[str, TextRule("说客备注", 128)] = ""


class VisitCreate(BaseModel):
    """One visit (走访) as the device recorded it.

    ``visited_at``: ISO 8601; a time without an offset is office time (Asia/Shanghai), as a phone's
    date-time field gives it. It may not lie more than a few minutes in the future. The service
    checks every rule and words its messages in Chinese, naming the field (and the persuader's row).
    """

    model_config = ConfigDict(extra="forbid")
    visited_at: Annotated[
        str,
        WithJsonSchema({"type": "string", "format": "date-time", "maxLength": 40}),
    ] = Field(description="走访时间（ISO 8601；不带时区时按北京时间），不得晚于当前时间")
    duration_min: Annotated[
        int, WithJsonSchema({"type": "integer", "minimum": 1, "maximum": rules.MAX_VISIT_MINUTES})
    ] = Field(description=f"走访时长（分钟，1 至 {rules.MAX_VISIT_MINUTES}）")
    place: Annotated[str, TextRule("走访地点", 128)] = ""
    staff: Annotated[str, TextRule("在场人员", 500)] = Field("", description="在场工作人员，以“、”分隔")
    persuaders: Annotated[
        list[PersuaderIn],
        Field(description="外请说客（至多 30 位）", json_schema_extra={"maxItems": rules.MAX_PERSUADERS}),
    ] = []
    concern_tags: Annotated[
        list[Annotated[str, WithJsonSchema(_choice(rules.CONCERN_TAGS))]],
        Field(description="诉求标签", json_schema_extra={"maxItems": len(rules.CONCERN_TAGS) * 2}),
    ] = []
    concern_text: Annotated[str, TextRule("诉求内容", 2000, multiline=True)] = ""
    attitude: Annotated[str, WithJsonSchema(_choice(rules.ATTITUDES))] = Field(
        description="态度：support（支持）、wait（观望）、resist（抵触）"
    )
    outcome: Annotated[str, TextRule("走访结果", 1000, multiline=True)] = ""
    next_step: Annotated[str, TextRule("下一步工作", 500, multiline=True)] = ""
    next_due_on: Annotated[
        date | None, WithJsonSchema({"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]})
    ] = Field(None, description="下一步期限（不早于走访当天）")


class PersuaderRead(BaseModel):
    """A persuader as stored."""

    name: str
    relation: str
    relation_label: str
    note: str


class VisitRead(BaseModel):
    """A stored visit with its persuaders, concern tags, recorder and team."""

    id: int
    household_id: int
    project_id: int
    team_id: int | None
    team_name: str
    recorded_by: int | None
    recorder_name: str
    idempotency_key: str
    visited_at: datetime
    off_hours: bool
    off_hours_kind: str = Field(description="''、晚间、周末 或 周末晚间（北京时间）")
    duration_min: int
    place: str
    staff: str
    persuaders: list[PersuaderRead]
    concern_tags: list[str]
    concern_labels: list[str]
    concern_text: str
    attitude: str
    attitude_label: str
    outcome: str
    next_step: str
    next_due_on: date | None
    created_at: datetime
    voided_at: datetime | None
    void_reason: str


class VisitVoid(BaseModel):
    """Voiding a visit logged by mistake needs a reason."""

    model_config = ConfigDict(extra="forbid")
    reason: RequiredReason
