"""Pure rules of payments: batch and payment states, the four-eyes rule, the bank file columns,
and the checks of one row of the bank's result file.

No I/O: users, amounts and cell values are passed in.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from anju.core import text
from anju.core.money import yuan_to_fen
from anju.errors import Conflict, PermissionDenied

BATCH_STATUSES: dict[str, str] = {
    "draft": "草稿",
    "submitted": "待审批",
    "rejected": "已退回",
    "approved": "已审批",
    "exported": "已导出",
    "closed": "已办结",
    "cancelled": "已作废",
}
# Which status may follow which; anything else is refused. A rejected batch goes back to draft
# when the preparer edits it; approved money can only leave through the bank file.
BATCH_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"submitted", "cancelled"}),
    "submitted": frozenset({"approved", "rejected", "cancelled"}),
    "rejected": frozenset({"draft", "cancelled"}),
    "approved": frozenset({"exported"}),
    "exported": frozenset({"closed"}),
    "closed": frozenset(),
    "cancelled": frozenset(),
}
EDITABLE = frozenset({"draft", "rejected"})  # lines may change (a rejected batch becomes a draft again)
EXPORTABLE = frozenset({"approved", "exported"})  # the bank file may be (re)downloaded
OPEN = frozenset({"draft", "submitted", "rejected"})  # prepared, not yet approved: nothing committed

PAYMENT_STATUSES: dict[str, str] = {
    "pending": "待审批",
    "approved": "待银行处理",
    "paid": "已支付",
    "failed": "支付失败",
    "cancelled": "已作废",
}

MAX_LINES = 2000  # payments in one batch (a bank file of one submission)
MAX_TITLE = 200
MAX_NOTE = 500
MAX_BANK_REF = 64
MAX_FAILURE_REASON = 200


def check_transition(current: str, target: str) -> None:
    """Raise :class:`Conflict` (``illegal_transition``) unless a batch may go ``current -> target``."""
    if target not in BATCH_TRANSITIONS.get(current, frozenset()):
        raise Conflict(
            f"支付批次状态为“{BATCH_STATUSES.get(current, current)}”，"
            f"不能变为“{BATCH_STATUSES.get(target, target)}”",
            f"illegal batch transition {current} -> {target}",
            code="illegal_transition",
        )


def check_four_eyes(preparers: frozenset[int], actor_user_id: int | None, action: str = "审批") -> None:
    """The decider is never one of the preparers (两人办理: whoever created, edited or submitted
    the batch): raise :class:`PermissionDenied` (403, ``same_person``) otherwise. A system job
    (no user) never decides a batch."""
    if actor_user_id is None or actor_user_id in preparers:
        raise PermissionDenied(
            f"支付批次须由编制人以外的另一人{action}：您参与了本批次的编制或提交，不能{action}",
            f"a preparer of a batch cannot {'approve' if action == '审批' else 'reject'} it",
            code="same_person",
        )


def overpays(*, amount_fen: int, committed_fen: int, paid_fen: int, add_fen: int) -> bool:
    """Whether adding ``add_fen`` would take what is paid and approved beyond the instalment's amount."""
    return add_fen <= 0 or committed_fen + paid_fen + add_fen > amount_fen


# --------------------------------------------------------------------------- the bank file

# Columns of the bank file (导出给银行的代发文件), in this order. Documented in the user guide
# (docs/guide.md, 补偿款支付) and the export route's docstring; the result file's columns below
# are read by name in any order.
EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("序号", "line number of the payment in the batch, 1, 2, ..."),
    ("收款人", "payee name"),
    ("账号", "payee bank account, digits only, as text"),
    ("开户行", "payee bank"),
    ("金额（元）", "amount in yuan, two decimals, no thousands separator, as text"),
    ("协议编号", "agreement number"),
    ("用途", "purpose: agreement number and instalment"),
)
EXPORT_HEADERS: tuple[str, ...] = tuple(c for c, _ in EXPORT_COLUMNS)


def amount_text(fen: int) -> str:
    """``7363120`` -> ``"73631.20"``: exact, two decimals, no separators (what bank systems read)."""
    whole, part = divmod(fen, 100)
    return f"{whole}.{part:02d}"


def csv_safe(value: str) -> str:
    """A text cell that a spreadsheet opening the CSV will not run as a formula (OWASP CSV
    injection): a leading ``= + - @`` (or tab / CR) gets an apostrophe in front."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# The result file (银行回盘文件): header names (and common variants) -> field.
RESULT_HEADERS: dict[str, str] = {
    "序号": "line_no",
    "协议编号": "agreement_no",
    "协议号": "agreement_no",
    "金额": "amount",
    "交易金额": "amount",
    "结果": "result",
    "处理结果": "result",
    "交易结果": "result",
    "银行流水号": "bank_ref",
    "流水号": "bank_ref",
    "交易流水号": "bank_ref",
    "失败原因": "failure_reason",
    "备注": "failure_reason",
    "账号": "account",
    "收款账号": "account",
    "收款人": "payee",
}
RESULT_LABELS: dict[str, str] = {
    "line_no": "序号",
    "agreement_no": "协议编号",
    "amount": "金额",
    "result": "结果",
    "bank_ref": "银行流水号",
    "failure_reason": "失败原因",
    "account": "账号",
    "payee": "收款人",
}
RESULT_VALUES: dict[str, str] = {"成功": "paid", "失败": "failed"}


def result_header_key(value: Any) -> str | None:
    """The field a header cell names (``金额（元）`` -> ``amount``), or ``None``."""
    name = re.split(r"[（(]", unicodedata.normalize("NFKC", cell_text(value)))[0]
    return RESULT_HEADERS.get(re.sub(r"[\s*＊]", "", name))


def cell_text(value: Any) -> str:
    """A cell as text: whole floats without ``.0`` (spreadsheets store 12 as 12.0), stripped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One row of the bank's result file as read (line number in the sheet, cell texts)."""

    line: int
    line_no: str = ""
    agreement_no: str = ""
    amount: str = ""
    result: str = ""
    bank_ref: str = ""
    failure_reason: str = ""
    account: str = ""


@dataclass(frozen=True, slots=True)
class PaymentLine:
    """What the batch says about one payment, for checking a result row against it."""

    payment_id: int
    line_no: int
    agreement_no: str
    amount_fen: int
    account: str
    status: str


@dataclass(frozen=True, slots=True)
class CheckedResult:
    """A result row that passed every check: which payment, paid or failed, reference, reason."""

    line: int
    payment_id: int
    outcome: str  # paid | failed
    bank_ref: str
    failure_reason: str


def _digits(value: str) -> str:
    return value.replace(" ", "").replace("-", "")


def check_result_row(
    row: ResultRow,
    *,
    by_line_no: dict[int, PaymentLine],
    by_agreement: dict[str, list[PaymentLine]],
    seen: dict[int, int],
) -> tuple[CheckedResult | None, list[tuple[str, str]]]:
    """Check one result row against the batch; returns the checked row or its problems as
    ``(column label, Chinese message)``. ``seen`` maps payment id -> first line naming it (updated)."""
    problems: list[tuple[str, str]] = []
    for field in ("line_no", "agreement_no", "amount", "result", "bank_ref", "failure_reason", "account"):
        value = getattr(row, field)
        limit = MAX_FAILURE_REASON if field == "failure_reason" else MAX_BANK_REF
        if found := text.text_problem(value, max_len=limit):
            problems.append((RESULT_LABELS[field], found))
    if problems:
        return None, problems
    line: PaymentLine | None = None
    if row.line_no:
        if not row.line_no.isascii() or not row.line_no.isdigit() or len(row.line_no) > 7:
            problems.append(("序号", f"“{row.line_no}”不是有效的序号"))
        elif (line := by_line_no.get(int(row.line_no))) is None:
            problems.append(("序号", f"本批次没有序号 {int(row.line_no)}"))
        elif row.agreement_no and row.agreement_no != line.agreement_no:
            problems.append(
                (
                    "协议编号",
                    f"“{row.agreement_no}”与本批次序号 {line.line_no} 的协议编号“{line.agreement_no}”不符",
                )
            )
    elif row.agreement_no:
        named = by_agreement.get(row.agreement_no, [])
        if not named:
            problems.append(("协议编号", f"本批次没有协议编号为“{row.agreement_no}”的款项"))
        elif len(named) > 1:
            problems.append(
                ("序号", f"协议“{row.agreement_no}”在本批次有 {len(named)} 笔款项，请填写序号以区分")
            )
        else:
            line = named[0]
    else:
        problems.append(("序号", "序号和协议编号不能都为空"))
    if line is not None:
        if line.payment_id in seen:
            problems.append(("序号", f"序号 {line.line_no} 的款项与第 {seen[line.payment_id]} 行重复"))
        else:
            seen[line.payment_id] = row.line
        if line.status != "approved":
            problems.append(
                (
                    "结果",
                    f"序号 {line.line_no} 的款项已登记为“{PAYMENT_STATUSES.get(line.status, line.status)}”",
                )
            )
    if not row.amount:
        problems.append(("金额", "不能为空"))
    else:
        try:
            fen = yuan_to_fen(row.amount)
        except (ValueError, TypeError):
            problems.append(("金额", f"“{row.amount}”不是有效的金额（元，最多两位小数）"))
        else:
            if line is not None and fen != line.amount_fen:
                problems.append(
                    (
                        "金额",
                        f"{amount_text(fen)} 元与本批次序号 {line.line_no} 的金额 {amount_text(line.amount_fen)} 元不符",
                    )
                )
    outcome = RESULT_VALUES.get(row.result)
    if outcome is None:
        shown = f"“{row.result}”" if row.result else "空"
        problems.append(("结果", f"应为“成功”或“失败”，现为{shown}"))
    if outcome == "paid" and not row.bank_ref:
        problems.append(("银行流水号", "支付成功的款项须有银行流水号"))
    if line is not None and row.account and _digits(row.account) != _digits(line.account):
        problems.append(("账号", f"与本批次序号 {line.line_no} 的收款账号不符"))
    if problems or line is None or outcome is None:
        return None, problems
    reason = row.failure_reason if outcome == "failed" else ""
    return CheckedResult(row.line, line.payment_id, outcome, row.bank_ref, reason or ""), []
