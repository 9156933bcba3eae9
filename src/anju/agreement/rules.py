"""Pure rules of signing: agreement states, options, conditions, the payment schedule split.

No I/O: dates, users and amounts are passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from anju.errors import Conflict

OPTIONS: dict[str, str] = {"cash": "货币补偿", "swap": "产权调换"}
OPTION_DOCUMENT_TITLES: dict[str, str] = {"cash": "货币补偿协议", "swap": "产权调换协议"}

STATUSES: dict[str, str] = {
    "pending": "待生效",  # conditional: waits for its condition to be decided
    "effective": "已生效",
    "void": "未生效（条件未成就）",
    "cancelled": "已解除",
}
# Which status may follow which; anything else is refused (void and cancelled are final).
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"effective", "void", "cancelled"}),
    "effective": frozenset({"cancelled"}),
    "void": frozenset(),
    "cancelled": frozenset(),
}
# Statuses of an agreement that binds (a household with one of these may not sign again).
LIVE_STATUSES = frozenset({"pending", "effective"})

CONDITION_KINDS: dict[str, str] = {
    "none": "无附生效条件",
    "block_rate": "所在片区签约率达到约定比例",
    "project_rate": "全项目签约率达到约定比例",
    "all_signed": "全部被征收户签约（整区域）",
}

INSTALMENT_KINDS: dict[str, str] = {
    "on_sign": "签约后支付",
    "after_vacate": "腾空验收后支付",
    "reward": "奖励（条件成就后支付）",
    "adjustment": "协议变更差额",
    "collective": "集体奖励（片区/项目达标后支付）",
    # Resettlement flats (#11): the refund of a swap settlement (选房结算退还差额, due when the
    # household's selection is finished) and monthly transition fees (过渡费, scheduled month by month).
    "settlement": "选房结算退还差额",
    "transition": "过渡费（按月）",
}
# Money the household owes the office (应收款), e.g. the settlement difference it pays (补差价).
RECEIVABLE_KINDS: dict[str, str] = {"settlement": "选房结算补交差价"}
RECEIVABLE_STATUSES: dict[str, str] = {"open": "待收", "received": "已收讫", "cancelled": "已作废"}

INSTALMENT_STATUSES: dict[str, str] = {
    "scheduled": "未到期",
    "due": "应付",
    "paid": "已付清",
    "cancelled": "已取消",
}


# Which instalment status may follow which. scheduled -> due when its event happens (signing of an
# effective agreement, vacating, a condition met); due -> scheduled only when that event is voided
# (a vacating record voided) and nothing was paid or committed; due -> paid when paid in full;
# cancelled and paid are final.
INSTALMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    "scheduled": frozenset({"due", "cancelled"}),
    "due": frozenset({"scheduled", "paid", "cancelled"}),
    "paid": frozenset(),
    "cancelled": frozenset(),
}


def check_instalment_transition(current: str, target: str) -> None:
    """Raise :class:`Conflict` unless an instalment may go from ``current`` to ``target``."""
    if target not in INSTALMENT_TRANSITIONS.get(current, frozenset()):
        raise Conflict(
            f"付款计划的状态不能从“{INSTALMENT_STATUSES.get(current, current)}”"
            f"变为“{INSTALMENT_STATUSES.get(target, target)}”",
            f"illegal instalment transition {current} -> {target}",
            code="illegal_transition",
        )


def check_transition(current: str, target: str) -> None:
    """Raise :class:`Conflict` unless an agreement may go from ``current`` to ``target``."""
    if target not in TRANSITIONS.get(current, frozenset()):
        raise Conflict(
            f"协议状态不能从“{STATUSES.get(current, current)}”变为“{STATUSES.get(target, target)}”",
            f"illegal agreement transition {current} -> {target}",
            code="illegal_transition",
        )


def agreement_no(prefix: str, sign_no: int) -> str:
    """The printed agreement number: ``<prefix>-<sign_no, 4 digits>`` (e.g. ``DP-0012``)."""
    return f"{prefix}-{sign_no:04d}"


@dataclass(frozen=True, slots=True)
class Split:
    """How a signed total is split over the schedule: paid on signing, and after vacating."""

    on_sign_fen: int
    after_vacate_fen: int


def split_total(total_fen: int, on_sign_share_bp: int) -> Split:
    """Split ``total_fen`` by a share in basis points; the on-signing part is rounded down to the
    yuan (banks are paid whole yuan first) and the remainder, fen included, falls after vacating.
    A negative total (the family owes a difference) is not split: it is settled after vacating."""
    if not 0 <= on_sign_share_bp <= 10000:
        raise ValueError("share must be 0..10000 basis points")
    if total_fen <= 0:
        return Split(0, total_fen)
    on_sign = total_fen * on_sign_share_bp // 10000 // 100 * 100
    return Split(on_sign, total_fen - on_sign)


def initial_status(condition_kind: str) -> str:
    """A conditional agreement starts pending; any other is effective on signing."""
    return "effective" if condition_kind == "none" else "pending"


def condition_met(
    kind: str, *, rate_bp: int, signed: int, total: int, deadline_on: date | None, on: date
) -> bool | None:
    """Whether a condition is decided on ``on``: True (met), False (failed), None (not yet).

    ``signed`` counts households of the condition's area that signed by ``on`` (within the deadline
    when it has passed), ``total`` all households of the area. Met as soon as the rate is reached;
    failed only after the deadline has passed without it.
    """
    if kind == "none":
        return True
    needed = 10000 if kind == "all_signed" else rate_bp
    if total > 0 and signed * 10000 >= needed * total:
        return True
    if deadline_on is not None and on > deadline_on:
        return False
    return None


# --- clearance (交验空房 / 腾空验收, 拆除, 承租企业清退)

# The vacating acceptance checklist: key -> what the inspector checks. Stored as JSON {key: bool};
# an item left unchecked is kept as evidence of what was still open, not refused.
VACATE_CHECKLIST: dict[str, str] = {
    "utilities_settled": "水电气已结清",
    "registration_moved": "户口/营业执照已迁出",
    "emptied": "室内物品已搬空",
    "doors_windows_intact": "门窗完好",
    "keys_handed": "钥匙已交",
}
# A tenant's (承租人 / 承租企业) clearance checklist.
TENANT_CHECKLIST: dict[str, str] = {
    "rent_settled": "租金、水电已结清",
    "license_moved": "营业执照/经营场所已迁出",
    "emptied": "物品设备已搬空",
    "keys_handed": "钥匙已交",
}


def checklist_problem(checklist: dict[str, object], known: dict[str, str]) -> str | None:
    """What is wrong with a checklist (unknown items, values that are not true/false), or ``None``."""
    unknown = [k for k in checklist if k not in known]
    if unknown:
        return "未知的检查项：" + "、".join(unknown[:10]) + "（可选：" + "、".join(known) + "）"
    odd = [known[k] for k, v in checklist.items() if not isinstance(v, bool)]
    if odd:
        return "检查项应为是/否：" + "、".join(odd)
    return None


def full_checklist(checklist: dict[str, bool], known: dict[str, str]) -> dict[str, bool]:
    """Every known item in order, unchecked ones false (what is stored)."""
    return {k: bool(checklist.get(k, False)) for k in known}


def event_date_problem(on: date, *, today: date, after: date | None, after_label: str) -> str | None:
    """What is wrong with the date of a clearance event, or ``None``: not after ``today`` (the
    office date) and not before the event it follows (``after``: the signing for vacating, the
    vacating for demolition)."""
    if on > today:
        return f"不能晚于今天（{today.isoformat()}）"
    if after is not None and on < after:
        return f"不能早于{after_label}（{after.isoformat()}）"
    return None


def item_increases(signed: dict[str, int], recomputed: dict[str, int]) -> dict[str, int]:
    """Items whose amount grew when the frozen facts were recomputed (say, with the vacating date
    set): item id -> increase in fen, in the recomputed order. Items that shrank or vanished give
    nothing back: a vacating never lowers what was signed."""
    return {k: v - signed.get(k, 0) for k, v in recomputed.items() if v > signed.get(k, 0)}


# --- signing terms and payee: the rules the signing service and the API schemas share

# The printed agreement number's prefix: letters, digits, CJK, brackets, - and _ (it also names files).
PREFIX_PATTERN = r"^[0-9A-Za-z\u4e00-\u9fff〔〕（）()_-]{1,24}$"
MAX_PREFIX = 24
MAX_PAYEE_NAME = 64
MAX_PAYEE_BANK = 128
MAX_PAYEE_ACCOUNT = 64  # as typed, separators included; stored as 6 to 32 digits
# An account number as typed: empty (not known yet), or 6 to 32 digits with spaces or dashes between.
PAYEE_ACCOUNT_PATTERN = r"^(?:[ -]*(?:[0-9][ -]*){6,32})?$"
RATE_CONDITIONS = frozenset({"block_rate", "project_rate"})


def normalize_account(value: str) -> str | None:
    """A bank account number without its spaces and dashes; ``""`` when blank; ``None`` when it is
    not 6 to 32 digits (or is longer than :data:`MAX_PAYEE_ACCOUNT` as typed)."""
    if len(value) > MAX_PAYEE_ACCOUNT:
        return None
    digits = value.replace(" ", "").replace("-", "")
    if not digits:
        return "" if not value.strip(" -") else None
    if not digits.isascii() or not digits.isdigit() or not 6 <= len(digits) <= 32:
        return None
    return digits


def terms_problems(
    *,
    agreement_prefix: str,
    on_sign_share_bp: int,
    condition_kind: str,
    condition_rate_bp: int,
    condition_deadline_on: date | None,
) -> list[tuple[str, str]]:
    """``(field, Chinese message)`` for every problem of a set of signing terms (empty when fine).

    The share paid on signing is 0..10000 basis points (0%..100%); a rate condition needs a rate
    of 1..10000 basis points; every condition needs its deadline; no condition has neither.
    """
    out: list[tuple[str, str]] = []
    if not re.fullmatch(PREFIX_PATTERN, agreement_prefix):
        out.append(
            ("agreement_prefix", f"协议编号前缀应为 1 至 {MAX_PREFIX} 个字母、数字、汉字或 - _ 〔〕（）")
        )
    if isinstance(on_sign_share_bp, bool) or not 0 <= on_sign_share_bp <= 10000:
        out.append(("on_sign_share_bp", "签约后支付比例应在 0% 至 100% 之间"))
    if condition_kind not in CONDITION_KINDS:
        out.append(("condition_kind", "生效条件应为 " + " / ".join(CONDITION_KINDS)))
        return out
    if condition_kind in RATE_CONDITIONS and not 1 <= condition_rate_bp <= 10000:
        out.append(("condition_rate_bp", "签约率条件应在 0.01% 至 100% 之间"))
    if condition_kind not in RATE_CONDITIONS and condition_rate_bp not in (0, 10000):
        out.append(("condition_rate_bp", f"“{CONDITION_KINDS[condition_kind]}”不设签约率"))
    if condition_kind != "none" and condition_deadline_on is None:
        out.append(("condition_deadline_on", "附生效条件须填写条件成就的截止日期"))
    if condition_kind == "none" and condition_deadline_on is not None:
        out.append(("condition_deadline_on", "无附生效条件时不填截止日期"))
    return out
