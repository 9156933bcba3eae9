"""Pure rules of the campaign: vocabularies, the visit's off-hours flag, attitude trends, alerts.

No I/O: times, users and ids are passed in. The household stages and their transitions are the
household file's status (``anju.household.rules.STATUSES`` / ``STATUS_TRANSITIONS``); the campaign
reads them through the household service and shows their timeline.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

OFFICE_TZ = ZoneInfo("Asia/Shanghai")

ATTITUDES = {"support": "支持", "wait": "观望", "resist": "抵触"}
# Higher is better; a visit whose attitude ranks lower than the one before is a worsening.
ATTITUDE_RANK = {"resist": 0, "wait": 1, "support": 2}

CONCERN_TAGS = {
    "area": "面积认定",
    "standard": "补偿标准",
    "flat": "安置房",
    "family": "家庭内部矛盾",
    "legacy": "历史遗留",
    "valuation": "评估价格",
    "transition": "过渡安置",
    "other": "其他",
}

PERSUADER_RELATIONS = {
    "relative": "亲属",
    "friend": "朋友",
    "comrade": "战友",
    "elder": "村贤 / 长辈",
    "colleague": "老同事",
    "classmate": "同学",
    "neighbour": "邻居",
    "cadre": "村组干部",
    "other": "其他",
}

DIFFICULTY_LEVELS = {0: "一般户", 1: "难点户（一般）", 2: "难点户（较难）", 3: "难点户（特难）"}

PLAN_STATUSES = {"active": "推进中", "done": "已完成"}
STEP_STATUSES = {"todo": "未开始", "doing": "进行中", "done": "已完成", "dropped": "已取消"}

TEAM_KINDS = {"group": "大组", "squad": "小组"}

# Evening visits start at 18:00 and end before 7:00 office time.
EVENING_FROM = time(18, 0)
MORNING_UNTIL = time(7, 0)

MAX_PERSUADERS = 30
MAX_VISIT_MINUTES = 24 * 60
IDEMPOTENCY_KEY_MAX = 64


def office_time(at: datetime) -> datetime:
    """``at`` in office time (Asia/Shanghai)."""
    return at.astimezone(OFFICE_TZ)


def is_off_hours(at: datetime) -> bool:
    """Whether a visit at ``at`` was in the evening (18:00-7:00) or on a weekend, office time.

    Public holidays are not known here; weekends are Saturday and Sunday.
    """
    local = office_time(at)
    if local.weekday() >= 5:
        return True
    t = local.time()
    return t >= EVENING_FROM or t < MORNING_UNTIL


def off_hours_kind(at: datetime) -> str:
    """'' for working hours, else 周末 / 晚间 / 周末晚间 (shown on the timeline)."""
    local = office_time(at)
    weekend = local.weekday() >= 5
    t = local.time()
    evening = t >= EVENING_FROM or t < MORNING_UNTIL
    if weekend and evening:
        return "周末晚间"
    if weekend:
        return "周末"
    return "晚间" if evening else ""


def attitude_worsened(before: str, after: str) -> bool:
    """Whether the attitude went down (支持 → 观望 / 抵触, 观望 → 抵触); unknown values never count."""
    if before not in ATTITUDE_RANK or after not in ATTITUDE_RANK:
        return False
    return ATTITUDE_RANK[after] < ATTITUDE_RANK[before]


def days_since(then: datetime | None, today: date) -> int | None:
    """Whole office days from ``then`` to ``today`` (same day is 0); ``None`` when never."""
    if then is None:
        return None
    return (today - office_time(then).date()).days


def no_visit_overdue(last_visit_at: datetime | None, today: date, limit_days: int) -> bool:
    """A household is stale when it was never visited or the last visit is ``limit_days`` or more ago."""
    d = days_since(last_visit_at, today)
    return d is None or d >= limit_days


def step_overdue(due_on: date | None, status: str, today: date) -> bool:
    """A next step or plan step is overdue when its due date has passed and it is not finished."""
    return due_on is not None and due_on < today and status not in ("done", "dropped")


# --- stage moves (added by the campaign-tab part) ------------------------------------------------

# The campaign's stages in order: the household status without 已归档 (the archive's, not the campaign's).
STAGES = ("pending", "surveyed", "valued", "negotiating", "signed", "vacated", "demolished")
# Stages whose move records the household's date of it (its sign_on, vacate_on, demolish_on).
DATED_STAGES = frozenset({"signed", "vacated", "demolished"})
# Signing, vacating and demolition rest on an agreement or an inspection: only the office's records
# (CAMPAIGN_MANAGE callers: signing and clearance) set them; field teams move up to 协商中.
MANAGED_STAGES = DATED_STAGES
# Stages before signing: the households a team still has to win (visit alerts count only these).
OPEN_STAGES = ("pending", "surveyed", "valued", "negotiating")


def stage_move_refusal(to_stage: str, label: str, *, manage: bool) -> str | None:
    """Why a user may not record a move to ``to_stage`` (``label`` its Chinese name), or ``None``.

    ``manage``: the user holds CAMPAIGN_MANAGE (case officer). Others (team leaders and members with
    VISIT_WRITE) may move a household up to 协商中.
    """
    if to_stage in MANAGED_STAGES and not manage:
        return f"“{label}”须由征迁办经办人登记，专班只能将阶段推进到“协商中”"
    return None


# Stages a manual move (the stage form and the stage API) may not set: each is the consequence of a
# record kept elsewhere, the place named here (the signing desk's agreement, the vacating acceptance,
# the demolition record). Those records move the stage themselves through the service.
RECORDED_STAGES: dict[str, str] = {"signed": "签约台", "vacated": "腾空验收", "demolished": "拆除登记"}
_RECORDED_HOW = {
    "signed": "在签约台签订协议时自动记录",
    "vacated": "登记腾空验收时自动记录",
    "demolished": "填写拆除登记时自动记录",
}


def manual_move_refusal(to_stage: str, label: str) -> str | None:
    """Why a manual stage move (form or API) may not go to ``to_stage`` (``label`` its Chinese
    name), or ``None``: 已签约 / 已腾空 / 已拆除 are recorded by the signing desk, the vacating
    acceptance and the demolition record (see :data:`RECORDED_STAGES`)."""
    if to_stage in RECORDED_STAGES:
        return f"“{label}”不能手动推进，须在“{RECORDED_STAGES[to_stage]}”登记（{_RECORDED_HOW[to_stage]}）"
    return None


def stage_date_problem(on: date, *, today: date, previous_on: date | None, previous_label: str) -> str | None:
    """What is wrong with the date a stage was reached, or ``None``.

    Not after ``today`` (office date) and not before the date the previous stage was reached.
    """
    if on > today:
        return f"不能晚于今天（{today.isoformat()}）"
    if previous_on is not None and on < previous_on:
        return f"不能早于上一阶段“{previous_label}”的日期（{previous_on.isoformat()}）"
    return None


def may_set_step_status(current: str, target: str) -> bool:
    """Plan steps move freely between todo / doing / done / dropped, except that nothing leaves a
    dropped step but reopening it (todo)."""
    if target not in STEP_STATUSES:
        return False
    return current != "dropped" or target in ("dropped", "todo")
