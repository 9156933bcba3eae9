"""JSON routes of payments (补偿款支付): batches (prepare, edit, submit, approve, reject, cancel),
the bank file, the bank's result file, the due list and the funds view.

Two people, always: the user who prepared (created, edited or submitted) a batch cannot approve or
reject it; the server refuses with **403** ``same_person`` (it is about who acts, not about the
data). Paying more than is due is a **409** ``overpay`` naming each agreement and its amounts;
nothing changes. Payee account numbers are shown masked to roles without ``pii.read``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from anju.core.dates import today_shanghai
from anju.core.masking import mask_account
from anju.core.text import SINGLE_LINE_PATTERN
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.payment import rules
from anju.payment import schemas as s
from anju.payment import service as payment_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import READ_ERRORS, WRITE_ERRORS, IdPath, OptionalIdQuery, error_responses

router = APIRouter(tags=["payments"], responses=error_responses(*READ_ERRORS))
READ = requires(Permission.PAYMENT_READ)
PREPARE = requires(Permission.PAYMENT_PREPARE)
APPROVE = requires(Permission.PAYMENT_APPROVE)
XLSX_TYPE = payment_service.XLSX_TYPE
StatusQuery = Literal["draft", "submitted", "rejected", "approved", "exported", "closed", "cancelled"]
SearchQuery = Annotated[
    str,
    Query(
        max_length=payment_service.MAX_SEARCH,
        pattern=SINGLE_LINE_PATTERN,
        description="户号、户主姓名或协议编号的一部分（不分大小写）",
    ),
]
LimitQuery = Annotated[
    int | None,
    Query(ge=1, le=rules.MAX_LINES, description=f"最多返回的条数（1 至 {rules.MAX_LINES}；不填为全部）"),
]
OffsetQuery = Annotated[int, Query(ge=0, le=10**9, description="跳过的条数（按签约顺序）")]
TOTAL_HEADER = {
    "X-Total-Count": {
        "description": "符合筛选条件的总条数（不受 limit、offset 影响）",
        "schema": {"type": "integer"},
    }
}


def _account(user: CurrentUser, value: str) -> str:
    return value if user.can(Permission.PII_READ) else mask_account(value)


def summary_read(b: payment_service.BatchSummary) -> s.BatchSummaryRead:
    """A batch of a list as its API shape."""
    batch = b.batch
    return s.BatchSummaryRead(
        id=batch.id,
        project_id=batch.project_id,
        project_name=b.project_name,
        batch_no=batch.batch_no,
        title=batch.title,
        status=batch.status,
        status_label=b.status_label,
        total_fen=batch.total_fen,
        item_count=batch.item_count,
        prepared_by=batch.prepared_by,
        prepared_by_name=b.prepared_by_name,
        prepared_at=batch.prepared_at,
        approved_by=batch.approved_by,
        approved_by_name=b.approved_by_name,
        approved_at=batch.approved_at,
        version=batch.version,
    )


def batch_read(db: Session, user: CurrentUser, batch_id: int) -> s.BatchRead:
    """A batch with its lines (accounts masked for roles without pii.read) and its history."""
    v = payment_service.get_batch(db, batch_id=batch_id)
    b = v.batch
    summary = summary_read(
        payment_service.BatchSummary(b, v.project_name, v.name_of(b.prepared_by), v.name_of(b.approved_by))
    )
    return s.BatchRead(
        **summary.model_dump(),
        submitted_at=b.submitted_at,
        exported_at=b.exported_at,
        closed_at=b.closed_at,
        note=b.note,
        rejection=v.rejection,
        lines=[
            s.BatchLineRead(
                id=p.id,
                line_no=p.line_no,
                instalment_id=p.instalment_id,
                agreement_id=p.agreement_id,
                agreement_no=v.agreement_no(p),
                household_id=p.household_id,
                household_code=v.labels.get(p.household_id, ("", ""))[0],
                head_name=v.labels.get(p.household_id, ("", ""))[1],
                payee_name=p.payee_name,
                payee_bank=p.payee_bank,
                payee_account=_account(user, p.payee_account),
                amount_fen=p.amount_fen,
                purpose=p.purpose,
                status=p.status,
                status_label=rules.PAYMENT_STATUSES.get(p.status, p.status),
                bank_ref=p.bank_ref,
                failure_reason=p.failure_reason,
                result_at=p.result_at,
            )
            for p in v.lines
        ],
        history=[
            s.BatchEventRead(at=r.at, action=r.action, actor=r.actor_name, reason=r.reason)
            for r in payment_service.batch_history(db, batch_id=b.id)
        ],
    )


def _lines(items: list[s.LineCreate] | None) -> list[payment_service.LineInput] | None:
    if items is None:
        return None
    return [payment_service.LineInput(i.instalment_id, i.amount_fen) for i in items]


@router.get("/projects/{project_id}/payment-batches", response_model=list[s.BatchSummaryRead])
def list_batches(
    project_id: IdPath,
    status: StatusQuery | None = None,
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> list[s.BatchSummaryRead]:
    """The project's payment batches, newest first (optionally of one ``status``)."""
    return [summary_read(b) for b in payment_service.list_batches(db, project_id=project_id, status=status)]


@router.get(
    "/projects/{project_id}/due-instalments",
    response_model=list[s.DueInstalmentRead],
    responses={200: {"headers": TOTAL_HEADER}},
)
def due_instalments(
    project_id: IdPath,
    response: Response,
    block_id: OptionalIdQuery = None,
    kind: s.DueKind | None = None,
    q: SearchQuery = "",
    limit: LimitQuery = None,
    offset: OffsetQuery = 0,
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> list[s.DueInstalmentRead]:
    """The due list: instalments due with money left to pay, and what open batches hold of each,
    in sign order. Narrowed by ``block_id`` (the block and the blocks below it; a block of another
    project matches nothing), ``kind`` and ``q`` (part of the household code, head name or
    agreement number); paged by ``limit`` and ``offset``. The header ``X-Total-Count`` is the
    number of rows the filter matches."""
    page = payment_service.due_page(
        db,
        project_id=project_id,
        due_filter=payment_service.DueFilter(block_id=block_id, kind=kind or "", q=q),
        offset=offset,
        limit=limit,
    )
    response.headers["X-Total-Count"] = str(page.total)
    return [
        s.DueInstalmentRead(
            instalment_id=d.instalment.instalment_id,
            agreement_id=d.instalment.agreement_id,
            agreement_no=d.instalment.agreement_no,
            household_id=d.instalment.household_id,
            household_code=d.household_code,
            head_name=d.head_name,
            kind=d.instalment.kind,
            kind_label=d.instalment.kind_label,
            purpose=d.instalment.purpose,
            due_on=d.instalment.due_on,
            amount_fen=d.instalment.amount_fen,
            paid_fen=d.instalment.paid_fen,
            committed_fen=d.instalment.committed_fen,
            remainder_fen=d.instalment.remainder_fen,
            open_fen=d.open_fen,
            open_batches=list(d.open_batches),
            payee_name=d.instalment.payee_name,
            payee_bank=d.instalment.payee_bank,
            payee_account=_account(user, d.instalment.payee_account),
            payee_complete=all(
                x.strip()
                for x in (d.instalment.payee_name, d.instalment.payee_bank, d.instalment.payee_account)
            ),
        )
        for d in page.items
    ]


@router.post(
    "/projects/{project_id}/payment-batches",
    response_model=s.BatchRead,
    status_code=201,
    responses=error_responses(409),
)
def create_batch(
    project_id: IdPath,
    body: s.BatchCreate,
    request: Request,
    user: CurrentUser = Depends(PREPARE),
    db: Session = Depends(get_db),
) -> s.BatchRead:
    """Prepare a batch (draft) from due instalments: ``items`` or, left out, every due one not yet
    held by an open batch; each line's amount defaults to what is left to pay. The payee (收款人,
    开户行, 账号) comes from each agreement: missing ones are a 409 ``payee_missing`` naming the
    households; an amount above what is left is a 409 ``overpay``; an instalment not due a 409
    ``not_payable``; an instalment that is not the project's a 404."""
    batch = payment_service.create_batch(
        db,
        actor=user.actor(client_ip(request)),
        project_id=project_id,
        lines=_lines(body.items),
        title=body.title,
        note=body.note,
    )
    return batch_read(db, user, batch.id)


@router.get("/payment-batches/{batch_id}", response_model=s.BatchRead)
def get_batch(
    batch_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> s.BatchRead:
    """A batch with its lines and its history (who prepared, submitted, decided, exported, and why)."""
    return batch_read(db, user, batch_id)


@router.put("/payment-batches/{batch_id}/items", response_model=s.BatchRead, responses=error_responses(409))
def edit_batch(
    batch_id: IdPath,
    body: s.BatchEdit,
    request: Request,
    user: CurrentUser = Depends(PREPARE),
    db: Session = Depends(get_db),
) -> s.BatchRead:
    """Replace the lines of a draft or rejected batch (a rejected one becomes a draft again)."""
    payment_service.update_batch(
        db,
        actor=user.actor(client_ip(request)),
        batch_id=batch_id,
        lines=_lines(body.items) or [],
        expected_version=body.version,
        title=body.title,
        note=body.note,
    )
    return batch_read(db, user, batch_id)


@router.post("/payment-batches/{batch_id}/submit", response_model=s.BatchRead, responses=error_responses(409))
def submit_batch(
    batch_id: IdPath,
    request: Request,
    body: s.BatchDecision | None = None,
    user: CurrentUser = Depends(PREPARE),
    db: Session = Depends(get_db),
) -> s.BatchRead:
    """Submit a draft for approval; lines no longer payable are a 409 ``not_payable``."""
    payment_service.submit_batch(
        db,
        actor=user.actor(client_ip(request)),
        batch_id=batch_id,
        expected_version=body.version if body else None,
    )
    return batch_read(db, user, batch_id)


@router.post(
    "/payment-batches/{batch_id}/approve", response_model=s.BatchRead, responses=error_responses(409)
)
def approve_batch(
    batch_id: IdPath,
    request: Request,
    body: s.BatchDecision | None = None,
    user: CurrentUser = Depends(APPROVE),
    db: Session = Depends(get_db),
) -> s.BatchRead:
    """Approve a submitted batch. **403** ``same_person`` when the approver prepared or submitted it;
    **409** ``overpay`` when paid + approved would exceed an instalment's amount (the message names
    the agreement, what is due, paid, approved and asked); nothing changes on a refusal."""
    payment_service.approve_batch(
        db,
        actor=user.actor(client_ip(request)),
        batch_id=batch_id,
        expected_version=body.version if body else None,
        note=body.note if body else "",
    )
    return batch_read(db, user, batch_id)


@router.post("/payment-batches/{batch_id}/reject", response_model=s.BatchRead, responses=error_responses(409))
def reject_batch(
    batch_id: IdPath,
    body: s.BatchReject,
    request: Request,
    user: CurrentUser = Depends(APPROVE),
    db: Session = Depends(get_db),
) -> s.BatchRead:
    """Send a submitted batch back to the preparer with a reason (**403** ``same_person`` for a preparer)."""
    payment_service.reject_batch(
        db,
        actor=user.actor(client_ip(request)),
        batch_id=batch_id,
        reason=body.reason,
        expected_version=body.version,
    )
    return batch_read(db, user, batch_id)


@router.post("/payment-batches/{batch_id}/cancel", response_model=s.BatchRead, responses=error_responses(409))
def cancel_batch(
    batch_id: IdPath,
    body: s.BatchReject,
    request: Request,
    user: CurrentUser = Depends(PREPARE),
    db: Session = Depends(get_db),
) -> s.BatchRead:
    """Cancel (作废) a draft, submitted or rejected batch with a reason; approved money cannot be cancelled."""
    payment_service.cancel_batch(
        db,
        actor=user.actor(client_ip(request)),
        batch_id=batch_id,
        reason=body.reason,
        expected_version=body.version,
    )
    return batch_read(db, user, batch_id)


@router.get(
    "/payment-batches/{batch_id}/export",
    response_class=Response,
    responses={
        200: {"content": {XLSX_TYPE: {}, "text/csv": {}}, "description": "银行代发文件"},
        **error_responses(409),
    },
)
def export_batch(
    batch_id: IdPath,
    request: Request,
    fmt: Literal["xlsx", "csv"] = Query("xlsx", alias="format", description="xlsx 或 csv（UTF-8，带 BOM）"),
    user: CurrentUser = Depends(PREPARE),
    db: Session = Depends(get_db),
) -> Response:
    """The bank file (代发文件) of an approved batch; the first download marks it 已导出, every
    download is audited. Columns, in this order:

    | 列 | 内容 |
    |---|---|
    | 序号 | the payment's line number in the batch (1, 2, ...); the result file names it |
    | 收款人 | payee name (from the agreement) |
    | 账号 | payee account, digits only, written as text |
    | 开户行 | payee bank |
    | 金额（元） | amount in yuan, two decimals, no thousands separator, written as text |
    | 协议编号 | agreement number |
    | 用途 | purpose: agreement number and instalment (签约后支付, 腾空验收后支付...) |

    xlsx: sheet 代发明细 (plus a 说明 sheet with the count and total); text is never turned into
    formulas, links or numbers. csv: UTF-8 with BOM, CRLF, a text cell starting with = + - @ gets an
    apostrophe. Not approved: 409."""
    f = payment_service.export_batch(db, actor=user.actor(client_ip(request)), batch_id=batch_id, fmt=fmt)
    return Response(
        f.content,
        media_type=f.media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(f.filename)}"},
    )


@router.post(
    "/payment-batches/{batch_id}/result",
    response_model=s.ResultImportRead,
    responses=error_responses(*WRITE_ERRORS, 413),
)
async def import_result(
    batch_id: IdPath,
    request: Request,
    dry_run: bool = False,
    file: UploadFile = File(
        ...,
        description="银行回盘文件 .xlsx 或 .csv：列 序号和/或协议编号、金额、结果（成功/失败）、银行流水号、失败原因",
    ),
    paid_on: date | None = Form(None, description="到账日期（默认今天，不能晚于今天）"),
    user: CurrentUser = Depends(PREPARE),
    db: Session = Depends(get_db),
) -> s.ResultImportRead:
    """Import the bank's result file of an exported batch, all or nothing: every row is checked
    first and any bad row refuses the file (422 with each problem's line number, column and
    Chinese message in ``details``; nothing is written). ``dry_run=true`` only checks. Paid rows
    count towards their instalments, failed rows release their amount for a later batch; the
    batch closes when every line has its result; a household whose agreement is then paid in full
    gets ``paid_on`` as its paid date."""
    content = await file.read()
    filename = file.filename or "result.xlsx"
    actor = user.actor(client_ip(request))

    def work() -> s.ResultImportRead:
        rows = payment_service.read_result_file(content, filename)
        if dry_run:
            result = payment_service.check_result(
                db, batch_id=batch_id, rows=rows, paid_on=paid_on or today_shanghai()
            )
        else:
            result = payment_service.import_result(
                db, actor=actor, batch_id=batch_id, rows=rows, paid_on=paid_on
            )
        view = payment_service.get_batch(db, batch_id=batch_id)
        b = view.batch
        return s.ResultImportRead(
            dry_run=dry_run,
            ok=result.ok,
            rows=len(result.rows),
            paid=result.paid,
            failed=result.failed,
            paid_fen=result.paid_fen,
            failed_fen=result.failed_fen,
            closed=result.closed,
            households_paid=result.households_paid,
            problems=[
                s.ResultProblemRead(row=p.row, column=p.column, message=p.message) for p in result.problems
            ],
            batch=summary_read(
                payment_service.BatchSummary(
                    b, view.project_name, view.name_of(b.prepared_by), view.name_of(b.approved_by)
                )
            ),
        )

    return await run_in_threadpool(work)


def funds_line_read(line: payment_service.FundsLine) -> s.FundsLineRead:
    """A funds line as its API shape."""
    return s.FundsLineRead(
        label=line.label,
        block_id=line.block_id,
        households=line.households,
        signed_households=line.signed_households,
        budget_fen=line.budget_fen,
        signed_fen=line.signed_fen,
        paid_fen=line.paid_fen,
        committed_fen=line.committed_fen,
        due_fen=line.due_fen,
        scheduled_fen=line.scheduled_fen,
        unpaid_fen=line.unpaid_fen,
    )


@router.get("/projects/{project_id}/funds", response_model=s.FundsRead)
def funds(
    project_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> s.FundsRead:
    """The funds view (资金情况): budget (the what-if base total of the latest published policy;
    null without one), signed (totals of live agreements), paid, committed (approved, waiting for
    the bank), due (due and not yet paid), scheduled (waiting for vacating or a condition); per
    block."""
    f = payment_service.project_funds(db, project_id=project_id)
    return s.FundsRead(
        project_id=f.project_id,
        budget_note=f.budget_note,
        total=funds_line_read(f.total),
        blocks=[funds_line_read(b) for b in f.blocks],
    )
