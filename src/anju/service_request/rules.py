"""The five orders (五单工作法) as an explicit state machine, with the GB/T 30428 step of each action and
the Open311 status of each state. Pure: no I/O; time and actors are passed in.

    居民点单 submit   -> submitted   (信息收集 / 采集)
    组织定单 accept   -> dispatched  (立案, 派遣: classified, prioritised, a department and deadlines set)
             reject   -> rejected    (不予立案, with the reason the resident sees; final)
             merge    -> merged      (a duplicate joins an earlier request; final, the resident follows that one)
    部门接单 take     -> in_progress (处置)
             send_back -> submitted  ("not our department", with a reason: back to 定单, never closed; counted)
    党员晒单 publish  -> published   (反馈: the result with photos on the public board)
    群众验单 verify   -> closed      (核查, 结案: the resident rates 1-5, solved or partly solved)
             reopen   -> in_progress (not solved: back to the same department; counted as 返工)
             auto_close -> closed    (the verification window passed without an answer: 核查 by the office)

Postponing (延期) is asked by the department and decided by the community (approve moves the
deadline; both are counted); it changes no state. Overdue is a flag beside the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from anju.core.dates import SHANGHAI
from anju.errors import Conflict

STATUSES: dict[str, str] = {
    "submitted": "待定单",
    "dispatched": "待接单",
    "in_progress": "办理中",
    "published": "待验单",
    "closed": "已办结",
    "rejected": "不予受理",
    "merged": "已合并",
}
FINAL = frozenset({"closed", "rejected", "merged"})
OPEN = frozenset(STATUSES) - FINAL

#: The five orders by name, and which states belong to each (for the resident's progress bar).
ORDERS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("submit", "居民点单", frozenset({"submitted"})),
    ("accept", "组织定单", frozenset({"dispatched"})),
    ("take", "部门接单", frozenset({"in_progress"})),
    ("publish", "党员晒单", frozenset({"published"})),
    ("verify", "群众验单", frozenset({"closed"})),
)


@dataclass(frozen=True, slots=True)
class Action:
    """One action of the machine: the states it starts from, the state it leads to, the GB/T 30428
    step it stands for, who may take it, and whether a reason is required."""

    name: str
    label: str
    sources: frozenset[str]
    target: str
    gb_step: str
    actors: frozenset[str]
    needs_reason: bool = False


# Actor kinds: resident (by the follow code), grid_worker, community (组织: community or subdistrict
# office; it also verifies on a resident's behalf, e.g. by phone), department (a member of the
# request's department), system (clock-driven jobs).
ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action(
            "submit",
            "居民点单",
            frozenset({""}),
            "submitted",
            "信息收集",
            frozenset({"resident", "grid_worker"}),
        ),
        Action(
            "accept", "组织定单", frozenset({"submitted"}), "dispatched", "立案派遣", frozenset({"community"})
        ),
        Action(
            "reject",
            "不予受理",
            frozenset({"submitted"}),
            "rejected",
            "不予立案",
            frozenset({"community"}),
            True,
        ),
        Action(
            "merge",
            "合并重复",
            frozenset({"submitted", "dispatched"}),
            "merged",
            "不予立案",
            frozenset({"community"}),
            True,
        ),
        Action(
            "take", "部门接单", frozenset({"dispatched"}), "in_progress", "处置", frozenset({"department"})
        ),
        Action(
            "send_back",
            "退回重派",
            frozenset({"dispatched", "in_progress"}),
            "submitted",
            "退回",
            frozenset({"department"}),
            True,
        ),
        Action(
            "publish", "党员晒单", frozenset({"in_progress"}), "published", "反馈", frozenset({"department"})
        ),
        Action(
            "verify",
            "群众验单",
            frozenset({"published"}),
            "closed",
            "核查结案",
            frozenset({"resident", "grid_worker", "community"}),
        ),
        Action(
            "reopen",
            "未解决，重新办理",
            frozenset({"published"}),
            "in_progress",
            "核查不通过",
            frozenset({"resident", "grid_worker", "community"}),
            True,
        ),
        Action(
            "auto_close",
            "逾期未验，系统结案",
            frozenset({"published"}),
            "closed",
            "核查结案",
            frozenset({"system"}),
        ),
    )
}

#: GB/T 30428 vocabulary for reports: the step each state is in.
GB_STEP_OF_STATUS: dict[str, str] = {
    "submitted": "信息收集",
    "dispatched": "派遣",
    "in_progress": "处置",
    "published": "核查",
    "closed": "结案",
    "rejected": "不予立案",
    "merged": "不予立案",
}

#: Open311 GeoReport v2 knows two statuses.
OPEN311_STATUS: dict[str, str] = {s: ("closed" if s in FINAL else "open") for s in STATUSES}

PRIORITIES: dict[str, str] = {"urgent": "紧急", "routine": "一般"}
KINDS: dict[str, str] = {"component": "部件", "event": "事件"}
STEPS: dict[str, str] = {"accept": "定单", "take": "接单", "handle": "办理", "verify": "验单"}
CALENDARS: dict[str, str] = {
    "calendar_days": "自然日",
    "working_days": "工作日",
    "working_hours": "工作时",
}
RESOLUTIONS: dict[str, str] = {"solved": "已解决", "partly": "部分解决", "unsolved": "未解决"}
MIN_RATING, MAX_RATING = 1, 5
#: History rows outside the machine (they keep the state): labels for the history.
EXTRA_ACTIONS: dict[str, str] = {
    "postpone": "申请延期",
    "postpone_approve": "同意延期",
    "postpone_deny": "不同意延期",
    "overdue": "超期",
    "escalate": "督办升级",
}


def check_action(status: str, action: str, actor: str) -> str:
    """The state ``action`` leads to from ``status`` when taken by an ``actor`` kind; raises
    :class:`Conflict` (409 ``illegal_transition`` / ``not_allowed``) naming the states in Chinese."""
    a = ACTIONS.get(action)
    if a is None:
        raise Conflict(f"未知的操作“{action}”", f"unknown action {action}", code="illegal_transition")
    if status not in a.sources:
        now = STATUSES.get(status, status) if status else "未提交"
        raise Conflict(
            f"诉求当前为“{now}”，不能{a.label}",
            f"illegal transition {status or 'new'} --{action}-->",
            code="illegal_transition",
        )
    if actor not in a.actors:
        raise Conflict(f"无权{a.label}", f"{actor} may not {action}", code="not_allowed")
    return a.target


def order_index(status: str) -> int:
    """How many of the five orders are done (0..5) for the resident's progress bar; a request sent
    back or reopened goes back with its state."""
    for i, (_, _, states) in enumerate(ORDERS):
        if status in states:
            return i + 1
    return 0


# ---------------------------------------------------------------- time limits (时限)

#: Working hours of the offices, Asia/Shanghai (上午 9:00-12:00, 下午 13:30-17:30).
WORK_WINDOWS: tuple[tuple[time, time], ...] = ((time(9, 0), time(12, 0)), (time(13, 30), time(17, 30)))
END_OF_DAY = WORK_WINDOWS[-1][1]

#: Limits used where a category has no row in service_time_limit: (amount, calendar) per priority and step.
DEFAULT_LIMITS: dict[tuple[str, str], tuple[int, str]] = {
    ("routine", "accept"): (1, "working_days"),
    ("routine", "take"): (1, "working_days"),
    ("routine", "handle"): (5, "working_days"),
    ("routine", "verify"): (3, "calendar_days"),
    ("urgent", "accept"): (2, "working_hours"),
    ("urgent", "take"): (2, "working_hours"),
    ("urgent", "handle"): (1, "working_days"),
    ("urgent", "verify"): (3, "calendar_days"),
}

#: Escalation (督办) levels: 1 on the first overdue check, +1 per further full day late, at most 3.
ESCALATION_LEVELS: dict[int, str] = {0: "", 1: "社区督办", 2: "街道督办", 3: "挂牌督办"}
MAX_ESCALATION = 3


def is_working_day(
    day: date, holidays: frozenset[date] = frozenset(), workdays: frozenset[date] = frozenset()
) -> bool:
    """Monday to Friday, except the given holidays; a weekend day in ``workdays`` (调休, a make-up
    working day) is a working day."""
    if day in workdays:
        return True
    return day.weekday() < 5 and day not in holidays


def deadline(
    start: datetime,
    amount: int,
    calendar: str,
    holidays: frozenset[date] = frozenset(),
    workdays: frozenset[date] = frozenset(),
) -> datetime:
    """The instant (UTC) a step started at ``start`` must be done by, on ``calendar``:

    - ``calendar_days``: ``amount`` x 24 hours after ``start``;
    - ``working_days``: 17:30 (Asia/Shanghai) of the ``amount``-th working day after the day of
      ``start`` (the start day itself never counts, whatever the hour; 0 = 17:30 of the start day,
      or of the next working day when the start day is not one);
    - ``working_hours``: ``amount`` hours counted only inside 9:00-12:00 and 13:30-17:30 of working
      days; time before a window counts from its opening, and a deadline that falls exactly on a
      window's end stays there (12:00, not 13:30).
    """
    if amount < 0:
        raise ValueError("amount must be >= 0")
    if start.tzinfo is None:
        raise ValueError("naive datetime given to deadline")
    if calendar == "calendar_days":
        return (start + timedelta(days=amount)).astimezone(UTC)
    local = start.astimezone(SHANGHAI)
    if calendar == "working_days":
        day = local.date()
        left = amount
        if left == 0:
            while not is_working_day(day, holidays, workdays):
                day += timedelta(days=1)
        while left > 0:
            day += timedelta(days=1)
            if is_working_day(day, holidays, workdays):
                left -= 1
        return datetime.combine(day, END_OF_DAY, SHANGHAI).astimezone(UTC)
    if calendar == "working_hours":
        left_time = timedelta(hours=amount)
        day = local.date()
        clock = local.replace(tzinfo=None)
        while True:
            if is_working_day(day, holidays, workdays):
                for opens, closes in WORK_WINDOWS:
                    w_start = datetime.combine(day, opens)
                    w_end = datetime.combine(day, closes)
                    begin = max(w_start, clock)
                    if begin >= w_end:
                        continue
                    available = w_end - begin
                    if left_time <= available:
                        return (begin + left_time).replace(tzinfo=SHANGHAI).astimezone(UTC)
                    left_time -= available
            day += timedelta(days=1)
            clock = datetime.combine(day, time(0, 0))
    raise ValueError(f"unknown calendar {calendar}")


def escalation_level(due_at: datetime, now: datetime, current: int = 0) -> int:
    """The escalation level of a request whose step was due at ``due_at``: 0 while on time, then 1
    and one more per further full day late (at most :data:`MAX_ESCALATION`); never lower than
    ``current`` (a level once reached is not taken back by the clock)."""
    if now <= due_at:
        return current
    days = int((now - due_at) // timedelta(days=1))
    return max(current, min(MAX_ESCALATION, 1 + days))
