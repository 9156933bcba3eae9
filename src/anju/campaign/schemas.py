"""Pydantic shapes of the campaign API (one section per concern; keep to your section)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from anju.campaign import rules
from anju.web.params import MAX_ID, PARAM_LABELS, NotNull, RequiredReason, TextRule

# --- teams and assignments ----------------------------------------------------------------
for _name, _label in {
    "team_id": "专班编号",
    "parent_id": "上级大组",
    "leader_id": "组长",
    "user_ids": "专班成员",
    "household_ids": "户编号列表",
    "kind": "专班类型",
    "sort": "排序",
    "dry_run": "仅校验",
    "unassigned": "仅未分配",
}.items():
    PARAM_LABELS.setdefault(_name, _label)

_TeamId = Annotated[int, Field(ge=1, le=MAX_ID)]
_TeamName = Annotated[str, TextRule("专班名称", 64, required=True)]
_TeamKind = Literal["group", "squad"]
_TeamSort = Annotated[int, Field(ge=0, le=1_000_000)]
_AssignReason = Annotated[str, TextRule("理由", 500, multiline=True)]


class TeamCreate(BaseModel):
    """A new team: ``kind`` group (大组) or squad (小组, optionally under a 大组 ``parent_id``);
    ``leader_id`` a 专班组长 user, who joins the team."""

    model_config = ConfigDict(extra="forbid")

    name: _TeamName
    kind: _TeamKind = "squad"
    parent_id: _TeamId | None = None
    leader_id: _TeamId | None = None
    sort: _TeamSort = 0


class TeamUpdate(BaseModel):
    """Change a team: only the fields sent change (``parent_id``/``leader_id`` null clears them);
    ``version`` as read (a stale one is a 409)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[_TeamName | None, NotNull("专班名称")] = None
    kind: Annotated[_TeamKind | None, NotNull("专班类型")] = None
    parent_id: _TeamId | None = None
    leader_id: _TeamId | None = None
    sort: Annotated[_TeamSort | None, NotNull("排序")] = None
    version: Annotated[
        int, Field(ge=1, le=2**31 - 1, description="The team's version as read; a stale one is a 409.")
    ]

    def values(self) -> dict[str, Any]:
        """The fields sent, without ``version``."""
        return {k: getattr(self, k) for k in self.model_fields_set if k != "version"}


class TeamMembersPut(BaseModel):
    """The team's members after the change (专班组长 / 专班成员 users; others leave the team)."""

    model_config = ConfigDict(extra="forbid")

    user_ids: Annotated[list[_TeamId], Field(max_length=1000)]
    version: Annotated[int | None, Field(ge=1, le=2**31 - 1, description="The team's version as read.")] = (
        None
    )


class TeamMemberRead(BaseModel):
    """A member of a team."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: str
    is_active: bool
    households: int = 0


class TeamRead(BaseModel):
    """A team with its members, household counts and (for a 大组) its 小组."""

    id: int
    name: str
    kind: str
    kind_label: str
    parent_id: int | None
    leader_id: int | None
    leader_name: str
    sort: int
    version: int
    households: int  # live households assigned to this team itself
    households_total: int  # with its 小组
    members: list[TeamMemberRead]
    children: list[TeamRead] = []


class TeamsRead(BaseModel):
    """A project's team tree and its assignment counts."""

    teams: list[TeamRead]
    households: int
    unassigned: int


class TeamSaved(BaseModel):
    """A team written: its id, its version, and the audited diff (updates)."""

    id: int
    version: int
    changes: dict[str, list[Any]] = {}


class TeamMembersRead(BaseModel):
    """Who joined and who left the team."""

    added: list[int]
    removed: list[int]
    version: int


class AssignmentCreate(BaseModel):
    """包户到人 in bulk: ``household_ids`` and/or ``block_id`` (every live household of the block and
    its sub-blocks), to ``team_id`` and/or ``user_id`` (a person of the team; alone: the person's
    team). Neither team nor person ends the households' assignments. ``reason`` is kept in the history."""

    model_config = ConfigDict(extra="forbid")

    household_ids: Annotated[list[_TeamId] | None, Field(max_length=5000)] = None
    block_id: _TeamId | None = None
    team_id: _TeamId | None = None
    user_id: _TeamId | None = None
    reason: _AssignReason = ""


class AssignmentResultRead(BaseModel):
    """Households named, and those whose assignment changed (the others already were so)."""

    households: int
    changed: int


class AssignmentImportRowRead(BaseModel):
    """A checked row of an assignment list: the household, its new and its previous assignment."""

    model_config = ConfigDict(from_attributes=True)

    row: int
    household_id: int
    code: str
    head_name: str
    team_id: int
    team_name: str
    user_id: int | None
    user_name: str
    from_team_name: str
    from_user_name: str


class AssignmentProblemRead(BaseModel):
    """A problem of an assignment list: row number, column, and the Chinese message."""

    row: int
    column: str
    message: str


class AssignmentImportRead(BaseModel):
    """The check (``dry_run``) or the import of an assignment list."""

    dry_run: bool
    ok: bool
    rows: list[AssignmentImportRowRead]
    problems: list[AssignmentProblemRead]
    changed: int


class AssignmentStepRead(BaseModel):
    """One step of a household's assignment history (newest first)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    assigned_on: date
    ended_on: date | None
    active: bool
    team_id: int | None
    team_name: str
    user_id: int | None
    user_name: str
    from_team_id: int | None
    from_team_name: str
    from_user_id: int | None
    from_user_name: str
    assigned_by: int | None
    assigned_by_name: str
    reason: str


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
    on: date = Field(description="到达该阶段的日期（YYYY-MM-DD，办公日期；不得晚于今天，不得早于当前阶段的日期）")
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
    difficulty: Annotated[int | None, WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 3})] = Field(
        default=None, ge=0, le=3
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
    status: Annotated[str | None, WithJsonSchema({"type": "string", "enum": list(rules.STEP_STATUSES)})] = None

    def data(self) -> dict[str, Any]:
        """The fields sent (``text`` and ``status`` cannot be null)."""
        sent = self.model_fields_set - {"version"}
        return {k: getattr(self, k) for k in sent if k in ("owner_id", "due_on") or getattr(self, k) is not None}


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
