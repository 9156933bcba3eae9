"""Payment service part: the bank file (代发文件) of an approved batch, and the bank's result file
(回盘文件) that marks each payment paid or failed.

The bank file has the columns of :data:`anju.payment.rules.EXPORT_COLUMNS` (序号, 收款人, 账号,
开户行, 金额（元）, 协议编号, 用途), as xlsx (XlsxWriter; text stays text: no formulas, links or
numbers made of typed values) or as CSV (UTF-8 with BOM, so that Excel opens it in Chinese;
a text cell that starts like a formula gets an apostrophe). The first download moves the batch
to 已导出; every download is audited, since it carries account numbers.

The result file (xlsx or CSV) is inspected like every upload before it is parsed; every row is
checked first (序号 and/or 协议编号, 金额, 结果 成功|失败, 银行流水号, 失败原因) and any bad row
refuses the whole file with each problem named by its line: nothing is half-applied. Paid rows
move the amount from committed to paid on the instalment, failed rows release it; when every
line of the batch has its result the batch is closed, and a household whose agreement is then
paid in full gets its paid date through the household service.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from anju import uploads as upload_policy
from anju.agreement import service as agreement_service
from anju.audit import service as audit_service
from anju.core import uploads as core_uploads
from anju.core.actor import Actor
from anju.core.dates import today_shanghai, utcnow
from anju.db import events
from anju.errors import Conflict, ValidationFailed
from anju.household import service as household_service
from anju.payment import rules
from anju.payment.models import Payment, PaymentBatch
from anju.payment.service.batches import ENTITY, _live_lines, _load, _move

__all__ = [
    "BATCH_STATUSES",
    "CSV_TYPE",
    "PAYMENT_STATUSES",
    "XLSX_TYPE",
    "BankFile",
    "ResultImport",
    "ResultProblem",
    "ResultRow",
    "check_result",
    "export_batch",
    "import_result",
    "read_result_file",
]

# A row of a result file (cell texts and its line), for callers that build one without a file.
ResultRow = rules.ResultRow
BATCH_STATUSES = rules.BATCH_STATUSES
PAYMENT_STATUSES = rules.PAYMENT_STATUSES

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
MAX_RESULT_ROWS = rules.MAX_LINES + 100  # data rows of one result file (blank rows skipped)


@dataclass(frozen=True, slots=True)
class BankFile:
    """A bank file ready to download."""

    filename: str
    media_type: str
    content: bytes


def _instalments(
    session: Session, batch: PaymentBatch, lines: Sequence[Payment]
) -> dict[int, agreement_service.PayableInstalment]:
    """instalment id -> the instalment with its agreement (number, sign date) of the batch's lines."""
    return {
        i.instalment_id: i
        for i in agreement_service.payable_instalments(
            session, project_id=batch.project_id, instalment_ids=[p.instalment_id for p in lines]
        )
    }


def _rows(lines: Sequence[Payment], numbers: dict[int, str]) -> list[list[str]]:
    """The bank file's data rows (see :data:`rules.EXPORT_COLUMNS`)."""
    out = []
    for p in lines:
        agreement_no = numbers.get(p.instalment_id, "")
        out.append(
            [
                str(p.line_no),
                p.payee_name,
                p.payee_account,
                p.payee_bank,
                rules.amount_text(p.amount_fen),
                agreement_no,
                p.purpose,
            ]
        )
    return out


def _xlsx(title: str, rows: list[list[str]], total_fen: int) -> bytes:
    import xlsxwriter

    out = io.BytesIO()
    wb = xlsxwriter.Workbook(
        out,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    ws = wb.add_worksheet("代发明细")
    head = wb.add_format({"bold": True, "bg_color": "#F3E3E1", "border": 1})
    text = wb.add_format({"num_format": "@"})
    for j, (name, width) in enumerate(zip(rules.EXPORT_HEADERS, (6, 12, 24, 28, 14, 16, 36), strict=True)):
        ws.write_string(0, j, name, head)
        ws.set_column(j, j, width, text)
    for r, row in enumerate(rows, start=1):
        for j, value in enumerate(row):
            ws.write_string(r, j, value)
    ws.freeze_panes(1, 0)
    info = wb.add_worksheet("说明")
    info.write_string(0, 0, title)
    info.write_string(1, 0, f"笔数：{len(rows)}；合计金额（元）：{rules.amount_text(total_fen)}")
    info.write_string(2, 0, "金额以文本写出（元，两位小数，无千位分隔符）；账号为文本。")
    wb.close()
    return out.getvalue()


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(rules.EXPORT_HEADERS)
    for row in rows:
        w.writerow([rules.csv_safe(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def export_batch(session: Session, *, actor: Actor, batch_id: int, fmt: str) -> BankFile:
    """The bank file of an approved (or already exported) batch, as ``xlsx`` or ``csv``.

    The first export moves the batch to 已导出 (audited ``export`` with the status change);
    later downloads are audited too. Any other status is a 409 ``illegal_transition``.
    """
    if fmt not in ("xlsx", "csv"):
        raise ValidationFailed(
            "格式应为 xlsx 或 csv",
            "format must be xlsx or csv",
            details=[{"field": "format", "message": "应为 xlsx 或 csv"}],
        )
    batch = _load(session, batch_id, lock=True)
    if batch.status not in rules.EXPORTABLE:
        raise Conflict(
            f"支付批次状态为“{rules.BATCH_STATUSES.get(batch.status, batch.status)}”，审批通过后才能导出银行文件",
            "only an approved batch can be exported",
            code="illegal_transition",
        )
    lines = _live_lines(session, batch.id)
    rows = _rows(lines, {k: i.agreement_no for k, i in _instalments(session, batch, lines).items()})
    reason = f"导出银行文件（{fmt}，{len(rows)} 笔）"
    if batch.status == "approved":
        batch.exported_at = utcnow()
        _move(session, actor, batch, "exported", action="export", reason=reason)
    else:
        audit_service.record(
            session,
            actor=actor,
            action="export",
            entity=ENTITY,
            entity_id=batch.id,
            changes={},
            reason=reason,
            project_id=batch.project_id,
        )
    name = f"支付批次-{batch.project_id}-{batch.batch_no:03d}"
    if fmt == "xlsx":
        return BankFile(f"{name}.xlsx", XLSX_TYPE, _xlsx(batch.title, rows, batch.total_fen))
    return BankFile(f"{name}.csv", CSV_TYPE, _csv(rows))


# --------------------------------------------------------------------------- the result file


@dataclass(frozen=True, slots=True)
class ResultProblem:
    """A problem of one cell of the result file: line number, column, what is wrong (Chinese)."""

    row: int
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """The problem as an error detail."""
        return {
            "row": self.row,
            "column": self.column,
            "message": f"第 {self.row} 行“{self.column}”：{self.message}",
            "problem": self.message,
        }


@dataclass
class ResultImport:
    """The outcome of checking (and, unless a dry run, applying) a result file."""

    rows: list[rules.CheckedResult] = field(default_factory=list)
    problems: list[ResultProblem] = field(default_factory=list)
    paid: int = 0
    failed: int = 0
    paid_fen: int = 0
    failed_fen: int = 0
    closed: bool = False
    households_paid: list[int] = field(default_factory=list)  # households paid in full by this file

    @property
    def ok(self) -> bool:
        """Whether the file can be applied."""
        return not self.problems and bool(self.rows)


def _refuse(message: str, row: int, column: str) -> ValidationFailed:
    return ValidationFailed(message, message, details=[{"row": row, "column": column, "message": message}])


def read_result_file(data: bytes, filename: str) -> list[rules.ResultRow]:
    """The rows of a bank result file: the first sheet (or the CSV), a header row among the first
    20 naming 金额 and 结果 and 序号 and/or 协议编号 (any order; also 银行流水号, 失败原因, 账号).
    The upload is inspected before it is parsed. Raises :class:`ValidationFailed` when the header
    or the rows are missing."""
    filename = core_uploads.safe_filename(filename, "result.xlsx")
    grid = upload_policy.first_sheet(
        data, filename, unreadable="无法读取该文件，请上传银行回盘的 .xlsx 或 .csv 文件"
    )
    header_at = None
    columns: dict[str, int] = {}
    for i, row in enumerate(grid[:20]):
        keys: dict[str, int] = {}
        for j, v in enumerate(row):
            k = rules.result_header_key(v)
            if k is not None and k not in keys:
                keys[k] = j
        if "amount" in keys and "result" in keys and ("line_no" in keys or "agreement_no" in keys):
            header_at, columns = i, keys
            break
    if header_at is None:
        raise _refuse("找不到表头：第一张工作表须有“金额”“结果”两列，以及“序号”或“协议编号”列", 1, "序号")
    out: list[rules.ResultRow] = []
    for i, row in enumerate(grid[header_at + 1 :], start=header_at + 2):

        def at(key: str, row: list[Any] = row) -> str:
            j = columns.get(key)
            return rules.cell_text(row[j]) if j is not None and j < len(row) else ""

        values = {
            k: at(k)
            for k in ("line_no", "agreement_no", "amount", "result", "bank_ref", "failure_reason", "account")
        }
        if not any(values.values()):
            continue
        out.append(rules.ResultRow(line=i, **values))
        if len(out) > MAX_RESULT_ROWS:
            raise _refuse(f"回盘文件最多 {MAX_RESULT_ROWS} 行", i, "序号")
    if not out:
        raise _refuse("回盘文件中没有数据行", header_at + 2, "序号")
    return out


def check_result(
    session: Session, *, batch_id: int, rows: Sequence[rules.ResultRow], paid_on: date
) -> ResultImport:
    """Check every row of a result file against the batch (nothing is written); see
    :func:`anju.payment.rules.check_result_row`. A paid row's date may not lie before its
    agreement's signing."""
    batch = _load(session, batch_id)
    _check_importable(batch)
    lines = _live_lines(session, batch.id)
    agreement_of = _instalments(session, batch, lines)
    plines = [
        rules.PaymentLine(
            payment_id=p.id,
            line_no=p.line_no,
            agreement_no=agreement_of[p.instalment_id].agreement_no
            if p.instalment_id in agreement_of
            else "",
            amount_fen=p.amount_fen,
            account=p.payee_account,
            status=p.status,
        )
        for p in lines
    ]
    by_line = {p.line_no: p for p in plines}
    by_agreement: dict[str, list[rules.PaymentLine]] = {}
    for p in plines:
        by_agreement.setdefault(p.agreement_no, []).append(p)
    sign_on = {p.id: agreement_of[p.instalment_id].sign_on for p in lines if p.instalment_id in agreement_of}
    out = ResultImport()
    seen: dict[int, int] = {}
    for row in rows:
        checked, problems = rules.check_result_row(
            row, by_line_no=by_line, by_agreement=by_agreement, seen=seen
        )
        out.problems.extend(ResultProblem(row.line, column, message) for column, message in problems)
        if checked is None:
            continue
        signed = sign_on.get(checked.payment_id)
        if checked.outcome == "paid" and signed is not None and paid_on < signed:
            out.problems.append(
                ResultProblem(
                    row.line, "结果", f"到账日期 {paid_on.isoformat()} 早于协议签约日期 {signed.isoformat()}"
                )
            )
            continue
        out.rows.append(checked)
    return out


def _check_importable(batch: PaymentBatch) -> None:
    if batch.status != "exported":
        raise Conflict(
            f"支付批次状态为“{rules.BATCH_STATUSES.get(batch.status, batch.status)}”，"
            "导出银行文件后才能导入回盘结果",
            "only an exported batch takes a result file",
            code="illegal_transition",
        )


def import_result(
    session: Session,
    *,
    actor: Actor,
    batch_id: int,
    rows: Sequence[rules.ResultRow],
    paid_on: date | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> ResultImport:
    """Apply a bank result file to an exported batch, all or nothing.

    ``paid_on`` (到账日期, default today) may not lie after today (409 ``paid_on``). Every row is
    checked first (:func:`check_result`); any problem refuses the whole file with
    :class:`ValidationFailed` listing each line's problem, and nothing is written. Then paid
    rows settle their instalments, failed rows release theirs; the batch closes when every line
    has its result; households whose agreement is paid in full get ``paid_on`` recorded.
    Audited per payment (``payment_result``) and for the batch (``result``).
    """
    today = today or today_shanghai()
    paid_on = paid_on or today
    if paid_on > today:
        raise Conflict(
            f"到账日期不能晚于今天（{today.isoformat()}）",
            "paid_on after today",
            code="paid_on",
            details=[{"field": "paid_on", "message": "不能晚于今天"}],
        )
    batch = _load(session, batch_id, lock=True)
    _check_importable(batch)
    check = check_result(session, batch_id=batch_id, rows=rows, paid_on=paid_on)
    if not check.problems and not check.rows:
        raise _refuse("回盘文件中没有数据行", 2, "序号")
    if check.problems:
        n = len(check.problems)
        first = "；".join(p.as_dict()["message"] for p in check.problems[:3])
        raise ValidationFailed(
            f"回盘文件有 {n} 处错误，未登记任何一笔：{first}" + ("……" if n > 3 else ""),
            f"{n} problems in the result file; nothing applied",
            details=[p.as_dict() for p in check.problems],
        )
    at = now or utcnow()
    payments = {p.id: p for p in _live_lines(session, batch.id)}
    paid = [(r, payments[r.payment_id]) for r in check.rows if r.outcome == "paid"]
    failed = [(r, payments[r.payment_id]) for r in check.rows if r.outcome == "failed"]
    reason = f"支付批次第 {batch.batch_no} 批银行回盘"
    agreements = (
        agreement_service.settle_payments(
            session,
            actor=actor,
            charges=[(p.instalment_id, p.amount_fen) for _, p in paid],
            paid_on=paid_on,
            reason=reason,
        )
        if paid
        else []
    )
    if failed:
        agreement_service.release_payments(
            session, actor=actor, charges=[(p.instalment_id, p.amount_fen) for _, p in failed], reason=reason
        )
    entries = []
    for r, p in [*paid, *failed]:
        before = p.status
        p.status = r.outcome
        p.bank_ref = r.bank_ref[: rules.MAX_BANK_REF]
        p.failure_reason = (r.failure_reason or ("银行未说明原因" if r.outcome == "failed" else ""))[
            : rules.MAX_FAILURE_REASON
        ]
        p.result_at = at
        p.version = int(p.version or 1) + 1
        entries.append(
            audit_service.AuditEntry(
                action="payment_result",
                entity="payment",
                entity_id=str(p.id),
                changes={
                    "status": [before, p.status],
                    "bank_ref": ["", p.bank_ref],
                    "failure_reason": ["", p.failure_reason],
                    "amount_fen": [p.amount_fen, p.amount_fen],
                },
                reason=f"{reason}（第 {r.line} 行）",
                project_id=batch.project_id,
                household_id=p.household_id,
            )
        )
    session.flush()
    audit_service.record_many(session, actor=actor, entries=entries)
    check.paid, check.failed = len(paid), len(failed)
    check.paid_fen = sum(p.amount_fen for _, p in paid)
    check.failed_fen = sum(p.amount_fen for _, p in failed)
    remaining = [p for p in payments.values() if p.status == "approved"]
    extra: dict[str, list[Any]] = {
        "paid": [0, check.paid],
        "failed": [0, check.failed],
        "paid_fen": [0, check.paid_fen],
        "paid_on": [None, paid_on.isoformat()],
    }
    if not remaining:
        batch.closed_at = at
        _move(session, actor, batch, "closed", action="result", reason=reason, extra=extra)
        check.closed = True
    else:
        batch.version = int(batch.version or 1) + 1
        audit_service.record(
            session,
            actor=actor,
            action="result",
            entity=ENTITY,
            entity_id=batch.id,
            changes={**extra, "remaining": [len(payments), len(remaining)]},
            reason=reason,
            project_id=batch.project_id,
        )
    households = {p.agreement_id: p.household_id for _, p in paid}
    for agreement_id in agreements:
        hid = households[agreement_id]
        household_service.record_paid(
            session, actor=actor, household_id=hid, paid_on=paid_on, reason=f"补偿款已付清（{reason}）"
        )
        check.households_paid.append(hid)
    events.notify(
        session,
        topic=events.project_topic(batch.project_id),
        kind="payment",
        data={"batch_id": batch.id, "paid": check.paid, "failed": check.failed},
    )
    return check
