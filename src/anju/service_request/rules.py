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
# office), department (a member of the request's department), system (clock-driven jobs).
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
            frozenset({"resident", "grid_worker"}),
        ),
        Action(
            "reopen",
            "未解决，重新办理",
            frozenset({"published"}),
            "in_progress",
            "核查不通过",
            frozenset({"resident", "grid_worker"}),
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
