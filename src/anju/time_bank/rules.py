"""Pure rules of the time bank and the moral bank: units, transfers that sum to zero, the yearly cap,
the two-reviewer approval, award publicity and the masking of public names. No I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from anju.core.masking import mask_name
from anju.errors import Conflict, PermissionDenied, ValidationFailed

MINUTES = "minutes"
POINTS = "points"
UNITS = (MINUTES, POINTS)
OWNER_KINDS = ("volunteer", "family", "team", "pool", "bank")
#: Only the issuer may go below zero: every credit comes out of it.
MAY_BE_NEGATIVE = frozenset({"bank"})

CATEGORIES = ("疫情防控", "帮困助残", "环境整治", "敬老爱老", "文明劝导", "平安巡逻", "文化教育", "其他")
ITEM_KINDS = ("service", "goods")

#: Defaults of the configurable rules (``bank_setting`` rows override them).
DEFAULT_SETTINGS: dict[str, int] = {
    "min_balance_minutes": 600,  # 10 hours saved before the first redemption
    "yearly_cap_minutes": 1500 * 60,  # hours credited above it in a calendar year go to the pool
    "publicity_days": 7,  # 公示 period of a moral-bank award
    "name_mask": 1,  # public names: 0 full, 1 masked (张*强)
}
SETTING_LABELS = {
    "min_balance_minutes": "兑换前最低余额（分钟）",
    "yearly_cap_minutes": "年度入账上限（分钟，超出部分捐入公益池）",
    "publicity_days": "道德积分公示天数",
    "name_mask": "公开榜单姓名脱敏（0 不脱敏，1 脱敏）",
}


def check_setting(key: str, value: int) -> None:
    """A setting must be known and not negative."""
    if key not in DEFAULT_SETTINGS:
        raise ValidationFailed(f"未知的规则项：{key}", details=[{"field": "key", "message": "未知"}])
    if value < 0 or (key == "name_mask" and value not in (0, 1)):
        raise Conflict(
            f"规则项“{SETTING_LABELS[key]}”的值无效：{value}", code="setting_range", details=[{"field": key}]
        )


def check_legs(legs: Sequence[tuple[int, int]]) -> None:
    """The legs (account id, amount) of one transfer: at least two, none zero, summing to zero."""
    if len(legs) < 2 or any(amount == 0 for _, amount in legs):
        raise ValidationFailed("一笔转账至少两条非零分录")
    if sum(amount for _, amount in legs) != 0:
        raise ValidationFailed("一笔转账的分录合计必须为零")


def check_same_unit(units: Sequence[str]) -> None:
    """A transfer never mixes hours and points (points are never convertible to hours)."""
    if len(set(units)) != 1:
        raise ValidationFailed("时长与道德积分不能互相转换")


def check_balances(after: Mapping[int, tuple[str, int]]) -> None:
    """After a transfer no account but the issuer may be negative: {account id: (owner kind, balance)}."""
    for account_id, (kind, balance) in after.items():
        if balance < 0 and kind not in MAY_BE_NEGATIVE:
            raise Conflict(f"账户 {account_id} 余额不足", code="insufficient_balance")


def split_for_cap(*, credited_this_year: int, minutes: int, cap: int) -> tuple[int, int]:
    """(to the volunteer, to the pool): what would take the year's credits above ``cap`` is donated."""
    room = max(0, cap - credited_this_year)
    kept = min(minutes, room)
    return kept, minutes - kept


def check_redeemable(*, balance: int, price: int, minimum: int) -> None:
    """A redemption needs the minimum saved first, and never overdraws."""
    if balance < minimum:
        raise Conflict(f"余额 {balance} 未达兑换门槛 {minimum}", code="below_minimum")
    if balance < price:
        raise Conflict(f"余额 {balance} 不足以兑换（需 {price}）", code="insufficient_balance")


def check_review(
    *, status: str, reviewer_id: int, volunteer_user_ids: frozenset[int], first_reviewer_id: int | None
) -> str:
    """The next status of an hours claim reviewed by ``reviewer_id``: ``first_approved`` or ``credited``.

    Two different reviewers, neither the volunteer; one reviewer can never approve twice.
    """
    if reviewer_id in volunteer_user_ids:
        raise PermissionDenied("志愿者本人不能审核自己的服务时长", code="own_hours")
    if status == "pending":
        return "first_approved"
    if status == "first_approved":
        if first_reviewer_id == reviewer_id:
            raise Conflict("同一审核人不能两次审核同一时长，须另一人复核", code="same_reviewer")
        return "credited"
    raise Conflict(f"该时长已处理（{STATUS_LABELS.get(status, status)}）", code="claim_closed")


STATUS_LABELS = {
    "pending": "待初审",
    "first_approved": "待复核",
    "credited": "已入账",
    "rejected": "已驳回",
    "signed": "已报名",
    "checked_in": "已签到",
    "checked_out": "已签退",
    "cancelled": "已取消",
    "publicity": "公示中",
    "objected": "有异议",
    "counted": "已生效",
    "withdrawn": "已撤销",
}


def worked_minutes(*, checked_in_minute: int, checked_out_minute: int, offered: int) -> int:
    """Minutes claimed for a sign-up: the time between check-in and check-out, at most ``offered``."""
    if checked_out_minute <= checked_in_minute:
        raise Conflict("签退时间必须晚于签到时间", code="time_order")
    return min(offered, checked_out_minute - checked_in_minute)


def publicity_end(day: date, days: int) -> date:
    """Last day of the 公示 period that starts on ``day`` (``days`` inclusive of the first day)."""
    return day + timedelta(days=max(1, days) - 1)


def award_counts(*, status: str, ends_on: date, today: date) -> bool:
    """An award counts when its 公示 has ended without an objection pending."""
    return status == "publicity" and today > ends_on


def public_name(name: str, mask: int) -> str:
    """A name as shown on the public leaderboard."""
    return mask_name(name) if mask else name


def hours_text(minutes: int) -> str:
    """Minutes shown as hours with one decimal (display only)."""
    sign = "-" if minutes < 0 else ""
    m = abs(minutes)
    return f"{sign}{m // 60}.{(m % 60) * 10 // 60}"
