"""Pydantic shapes of the campaign API: the household campaign tab: stages, summary, plans and steps, alerts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from anju.campaign import rules
from anju.web.params import PARAM_LABELS, TextRule

__all__ = [
    "AlertItemRead",
    "AlertsRead",
    "CampaignRead",
    "CampaignUpdate",
    "NextStageRead",
    "PlanRead",
    "PlanSave",
    "PlanStepCreate",
    "PlanStepRead",
    "PlanStepUpdate",
    "SavedRead",
    "StageBarItemRead",
    "StageChangeRead",
    "StageMove",
    "StageMoveRead",
    "StageTimelineRead",
]


# --- household campaign tab, stages, plans, alerts ----------------------------------------
for _name, _label in {
    "to_stage": "目标阶段",
    "on": "日期",
    "note": "备注",
    "difficulty": "难点等级",
    "difficulty_reason": "难点原因",
    "escalated_to": "包案领导",
    "escalated_to_name": "包案领导姓名",
    "summary": "策略说明",
    "owner_id": "责任人",
    "text": "步骤内容",
    "due_on": "完成期限",
    "step_id": "步骤编号",
    "today": "日期",
}.items():
    PARAM_LABELS.setdefault(_name, _label)

_STAGE_CODES = list(rules.STAGES)
_ID = Field(default=None, ge=1, le=2**53 - 1)


class StageMove(BaseModel):
    """Move a household to a stage; ``on`` is the office date it was reached."""

    model_config = ConfigDict(extra="forbid")
    to_stage: Annotated[str, WithJsonSchema({"type": "string", "enum": _STAGE_CODES})] = Field(
        description="目标阶段：" + "、".join(_STAGE_CODES)
    )
    on: date = Field(
        description="到达该阶段的日期（YYYY-MM-DD，办公日期；不得晚于今天，不得早于当前阶段的日期）"
    )
    note: Annotated[str, TextRule("备注", 500, multiline=True)] = ""


class StageChangeRead(BaseModel):
    """One move on the stage timeline (``id`` null and ``from_stage`` = ``to_stage``: nothing moved)."""

    id: int | None
    from_stage: str
    from_label: str
    to_stage: str
    to_label: str
    reached_on: date
    at: datetime
    by_name: str
    note: str


class StageBarItemRead(BaseModel):
    """One of the seven stages: ``state`` done / current / todo, with the date it was reached."""

    model_config = ConfigDict(from_attributes=True)
    stage: str
    label: str
    state: str
    reached_on: date | None


class NextStageRead(BaseModel):
    """A stage the household may move to; ``dated``: needs its date; ``allowed``: the caller may record it
    by a stage move; ``recorded_in``: where it is recorded instead (签约台 / 腾空验收 / 拆除登记), else ""."""

    model_config = ConfigDict(from_attributes=True)
    stage: str
    label: str
    dated: bool
    allowed: bool
    recorded_in: str = ""


class StageTimelineRead(BaseModel):
    """The stage, the stage bar, the recorded moves (oldest first) and the possible next moves."""

    household_id: int
    stage: str
    label: str
    bar: list[StageBarItemRead]
    changes: list[StageChangeRead]
    next: list[NextStageRead]


class StageMoveRead(BaseModel):
    """The answer to a stage move; ``changed`` false when the household already was in that stage."""

    changed: bool
    stage: str
    label: str
    change: StageChangeRead


class PlanStepRead(BaseModel):
    """A step of the 一户一策 plan."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    text: str
    owner_id: int | None
    owner_name: str
    due_on: date | None
    status: str
    status_label: str
    overdue: bool
    done_at: datetime | None
    version: int
    sort: int


class PlanRead(BaseModel):
    """一户一策: the strategy, its owner and status, and its steps."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    summary: str
    owner_id: int | None
    owner_name: str
    status: str
    status_label: str
    version: int
    created_at: datetime
    updated_at: datetime
    steps: list[PlanStepRead]


class CampaignRead(BaseModel):
    """The campaign tab (攻坚) of one household. ``version`` 0: nothing saved yet."""

    household_id: int
    project_id: int
    code: str
    head_name: str
    stage: str
    stage_label: str
    stages: StageTimelineRead
    attitude: str
    attitude_label: str
    previous_attitude: str
    previous_attitude_label: str
    attitude_changed_at: datetime | None
    attitude_worsened: bool
    difficulty: int
    difficulty_label: str
    difficulty_reason: str
    escalated_to: int | None
    escalated_to_name: str
    escalation: str
    next_step: str
    next_due_on: date | None
    next_overdue: bool
    visit_count: int
    last_visit_at: datetime | None
    days_since_visit: int | None
    no_visit_days: int
    team_id: int | None
    team_name: str
    user_id: int | None
    user_name: str
    version: int
    plan: PlanRead | None


class CampaignUpdate(BaseModel):
    """Difficulty (0 一般户, 1-3 难点户) and 包案领导 (a commander or case officer by id, or a name);
    fields left out keep their value. ``version``: the one read (0 when nothing was saved yet)."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=0, le=2**53 - 1)
    difficulty: Annotated[int | None, WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 3})] = (
        Field(default=None, ge=0, le=3)
    )
    difficulty_reason: Annotated[str, TextRule("难点原因", 500, multiline=True)] | None = None
    escalated_to: int | None = _ID
    escalated_to_name: Annotated[str, TextRule("包案领导姓名", 64)] | None = None
    reason: Annotated[str, TextRule("理由", 500, multiline=True)] = ""

    def data(self) -> dict[str, Any]:
        """The fields sent (``escalated_to`` may be null to clear it; the others may not)."""
        sent = self.model_fields_set - {"version", "reason"}
        return {k: getattr(self, k) for k in sent if k == "escalated_to" or getattr(self, k) is not None}


class PlanSave(BaseModel):
    """The whole 一户一策 plan: strategy, owner (a user) and status (active 推进中 / done 已完成).
    ``version``: the one read (0 when there was no plan)."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=0, le=2**53 - 1)
    summary: Annotated[str, TextRule("策略说明", 2000, multiline=True)] = ""
    owner_id: int | None = _ID
    status: Annotated[str, WithJsonSchema({"type": "string", "enum": list(rules.PLAN_STATUSES)})] = "active"


class PlanStepCreate(BaseModel):
    """A new plan step: what, who, by when, status (todo / doing / done / dropped)."""

    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, TextRule("步骤内容", 500, required=True)]
    owner_id: int | None = _ID
    due_on: date | None = None
    status: Annotated[str, WithJsonSchema({"type": "string", "enum": list(rules.STEP_STATUSES)})] = "todo"


class PlanStepUpdate(BaseModel):
    """Change a plan step (fields left out keep their value; ``owner_id`` and ``due_on`` may be null)."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=2**53 - 1)
    text: Annotated[str, TextRule("步骤内容", 500, required=True)] | None = None
    owner_id: int | None = _ID
    due_on: date | None = None
    status: Annotated[str | None, WithJsonSchema({"type": "string", "enum": list(rules.STEP_STATUSES)})] = (
        None
    )

    def data(self) -> dict[str, Any]:
        """The fields sent (``text`` and ``status`` cannot be null)."""
        sent = self.model_fields_set - {"version"}
        return {
            k: getattr(self, k) for k in sent if k in ("owner_id", "due_on") or getattr(self, k) is not None
        }


class SavedRead(BaseModel):
    """A record written: its id and new version."""

    id: int
    version: int


class AlertItemRead(BaseModel):
    """A household on an alert list (``days``: since the last visit, overdue, difficulty level or since
    the attitude worsened)."""

    model_config = ConfigDict(from_attributes=True)
    household_id: int
    code: str
    head_name: str
    stage: str
    team_id: int | None
    team_name: str
    user_id: int | None
    user_name: str
    days: int | None
    detail: str
    due_on: date | None
    step_id: int | None


class AlertsRead(BaseModel):
    """The team alerts of a project (households within the caller's scope); ``totals`` are full counts,
    each list holds at most 200."""

    model_config = ConfigDict(from_attributes=True)
    project_id: int
    today: date
    no_visit_days: int
    no_visit: list[AlertItemRead]
    overdue_steps: list[AlertItemRead]
    hard_without_plan: list[AlertItemRead]
    worsened: list[AlertItemRead]
    totals: dict[str, int]
