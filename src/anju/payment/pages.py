"""HTML pages of payments (补偿款支付): the finance payments page of a project (the due list,
batches by status, the form that prepares a batch), a batch's page (lines, history, the actions
of the preparer and of the approver, the bank file links, the result upload), the list of batches
across projects (the approvals inbox links to its 待审批 view), and the funds view.

Every form posts and comes back (303) with a short confirmation, or shows the page again with
the Chinese error and the error's status. Account numbers are masked for roles without pii.read.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from anju.core.dates import today_shanghai
from anju.core.masking import mask_account
from anju.core.money import yuan_to_fen
from anju.errors import DomainError, ValidationFailed
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.payment import rules
from anju.payment import service as payment_service
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath, parse_id
from anju.web.templating import render

router = APIRouter(include_in_schema=False)
READ = requires(Permission.PAYMENT_READ)
PREPARE = requires(Permission.PAYMENT_PREPARE)
APPROVE = requires(Permission.PAYMENT_APPROVE)

OK_MESSAGES = {
    "created": "支付批次已编制（草稿），请核对后提交审批",
    "edited": "批次已修改",
    "submitted": "已提交审批",
    "approved": "已审批通过，可以导出银行文件",
    "rejected": "已退回编制人",
    "cancelled": "批次已作废",
    "result": "回盘结果已登记",
}
STATUS_ORDER = ("submitted", "draft", "rejected", "approved", "exported", "closed", "cancelled")


def _ok(request: Request) -> str:
    return OK_MESSAGES.get(request.query_params.get("ok", ""), "")


def _masker(user: CurrentUser) -> Any:
    return (lambda v: v) if user.can(Permission.PII_READ) else mask_account


def _payments_context(db: Session, request: Request, project_id: int) -> dict[str, Any]:
    user: CurrentUser = request.state.user
    project = project_service.get_project(db, project_id)
    due = payment_service.due_items(db, project_id=project_id)
    batches = payment_service.list_batches(db, project_id=project_id)
    grouped: dict[str, list[payment_service.BatchSummary]] = {}
    for b in batches:
        grouped.setdefault(b.batch.status, []).append(b)
    return {
        "project": project,
        "active": "payments",
        "due": due,
        "due_total": sum(d.instalment.remainder_fen for d in due),
        "submitted_count": len(grouped.get("submitted", [])),
        "grouped": [(s, rules.BATCH_STATUSES[s], grouped[s]) for s in STATUS_ORDER if s in grouped],
        "can_prepare": user.can(Permission.PAYMENT_PREPARE),
        "account": _masker(user),
        "message_ok": _ok(request),
        "message": "",
        "problems": [],
    }


def _problems(exc: DomainError) -> list[str]:
    details = exc.details if isinstance(exc.details, list) else []
    return [str(d.get("message", "")) for d in details if isinstance(d, dict) and d.get("message")]


@router.get("/projects/{project_id}/payments")
def payments_page(
    project_id: IdPath, request: Request, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """The finance page of a project: due instalments, batches by status, prepare a batch."""
    return render(request, "payment/payments.html", _payments_context(db, request, project_id))


def _amount(value: str, label: str, field: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        fen = yuan_to_fen(value)
    except (ValueError, TypeError):
        fen = 0
    if fen <= 0:
        message = f"{label}的金额“{value[:20]}”无效（应为大于 0 的元数，最多两位小数）"
        raise ValidationFailed(
            message, f"invalid amount {field}", details=[{"field": field, "message": message}]
        )
    return fen


def _chosen_lines(form: Any) -> list[payment_service.LineInput]:
    """The checked instalments of a form and their amounts (``amount_<id>`` in yuan, blank: the rest)."""
    lines = []
    for raw in form.getlist("instalment_id"):
        instalment_id = parse_id(str(raw))
        if instalment_id is None:
            raise ValidationFailed(
                "所选款项无效", "invalid instalment id", details=[{"field": "instalment_id"}]
            )
        amount = _amount(
            str(form.get(f"amount_{instalment_id}", "")),
            f"付款计划 {instalment_id}",
            f"amount_{instalment_id}",
        )
        lines.append(payment_service.LineInput(instalment_id, amount))
    return lines


@router.post("/projects/{project_id}/payment-batches")
async def create_batch(
    project_id: IdPath, request: Request, user: CurrentUser = Depends(PREPARE), db: Session = Depends(get_db)
) -> Response:
    """Prepare a batch: every due instalment (``mode=all``) or the checked ones."""
    form = await request.form()
    try:
        lines = None if form.get("mode") == "all" else _chosen_lines(form)
        if lines is not None and not lines:
            raise ValidationFailed(
                "请勾选要支付的款项，或选择“全部应付款项”",
                "no line chosen",
                details=[{"field": "instalment_id", "message": "未勾选款项"}],
            )
        batch = payment_service.create_batch(
            db,
            actor=user.actor(client_ip(request)),
            project_id=project_id,
            lines=lines,
            title=str(form.get("title", ""))[: rules.MAX_TITLE],
            note=str(form.get("note", ""))[: rules.MAX_NOTE],
        )
    except DomainError as exc:
        db.rollback()
        ctx = _payments_context(db, request, project_id)
        ctx.update(message=exc.message_zh, problems=_problems(exc))
        return render(request, "payment/payments.html", ctx, status_code=exc.http_status)
    return RedirectResponse(f"/payment-batches/{batch.id}?ok=created", status_code=303)


def _batch_context(db: Session, request: Request, batch_id: int) -> dict[str, Any]:
    user: CurrentUser = request.state.user
    view = payment_service.get_batch(db, batch_id=batch_id)
    b = view.batch
    editable = b.status in rules.EDITABLE
    return {
        "project": project_service.get_project(db, b.project_id),
        "active": "payments",
        "v": view,
        "b": b,
        "history": payment_service.batch_history(db, batch_id=b.id),
        "statuses": rules.BATCH_STATUSES,
        "payment_statuses": rules.PAYMENT_STATUSES,
        "columns": rules.EXPORT_COLUMNS,
        "account": _masker(user),
        "can_prepare": user.can(Permission.PAYMENT_PREPARE),
        "can_approve": user.can(Permission.PAYMENT_APPROVE),
        "is_preparer": user.id in view.preparers,
        "editable": editable,
        "due": payment_service.due_items(db, project_id=b.project_id) if editable else [],
        "today": today_shanghai().isoformat(),
        "message_ok": _ok(request),
        "message": "",
        "problems": [],
        "result_problems": [],
    }


@router.get("/payment-batches/{batch_id}")
def batch_page(
    batch_id: IdPath, request: Request, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """A batch: its lines, history and the actions the user may take."""
    return render(request, "payment/batch.html", _batch_context(db, request, batch_id))


def _failed(db: Session, request: Request, batch_id: int, exc: DomainError) -> Response:
    db.rollback()
    ctx = _batch_context(db, request, batch_id)
    ctx.update(message=exc.message_zh, problems=_problems(exc))
    return render(request, "payment/batch.html", ctx, status_code=exc.http_status)


def _back(batch_id: int, ok: str) -> RedirectResponse:
    return RedirectResponse(f"/payment-batches/{batch_id}?ok={ok}", status_code=303)


def _version(form: Any) -> int | None:
    value = str(form.get("version", "")).strip()
    return int(value) if value.isascii() and value.isdigit() and 0 < len(value) < 10 else None


@router.post("/payment-batches/{batch_id}/items")
async def edit_batch(
    batch_id: IdPath, request: Request, user: CurrentUser = Depends(PREPARE), db: Session = Depends(get_db)
) -> Response:
    """Change the lines of a draft or rejected batch (checked instalments and amounts)."""
    form = await request.form()
    try:
        payment_service.update_batch(
            db,
            actor=user.actor(client_ip(request)),
            batch_id=batch_id,
            lines=_chosen_lines(form),
            expected_version=_version(form),
            title=str(form["title"])[: rules.MAX_TITLE] if "title" in form else None,
            note=str(form["note"])[: rules.MAX_NOTE] if "note" in form else None,
        )
    except DomainError as exc:
        return _failed(db, request, batch_id, exc)
    return _back(batch_id, "edited")


@router.post("/payment-batches/{batch_id}/submit")
async def submit_batch(
    batch_id: IdPath, request: Request, user: CurrentUser = Depends(PREPARE), db: Session = Depends(get_db)
) -> Response:
    """Submit a draft for approval."""
    form = await request.form()
    try:
        payment_service.submit_batch(
            db, actor=user.actor(client_ip(request)), batch_id=batch_id, expected_version=_version(form)
        )
    except DomainError as exc:
        return _failed(db, request, batch_id, exc)
    return _back(batch_id, "submitted")


@router.post("/payment-batches/{batch_id}/approve")
async def approve_batch(
    batch_id: IdPath, request: Request, user: CurrentUser = Depends(APPROVE), db: Session = Depends(get_db)
) -> Response:
    """Approve a submitted batch (another person than its preparer; the overpay guard)."""
    form = await request.form()
    try:
        payment_service.approve_batch(
            db,
            actor=user.actor(client_ip(request)),
            batch_id=batch_id,
            expected_version=_version(form),
            note=str(form.get("note", ""))[: rules.MAX_NOTE],
        )
    except DomainError as exc:
        return _failed(db, request, batch_id, exc)
    return _back(batch_id, "approved")


@router.post("/payment-batches/{batch_id}/reject")
async def reject_batch(
    batch_id: IdPath, request: Request, user: CurrentUser = Depends(APPROVE), db: Session = Depends(get_db)
) -> Response:
    """Send a submitted batch back with a reason."""
    form = await request.form()
    try:
        payment_service.reject_batch(
            db,
            actor=user.actor(client_ip(request)),
            batch_id=batch_id,
            reason=str(form.get("reason", ""))[: rules.MAX_NOTE],
            expected_version=_version(form),
        )
    except DomainError as exc:
        return _failed(db, request, batch_id, exc)
    return _back(batch_id, "rejected")


@router.post("/payment-batches/{batch_id}/cancel")
async def cancel_batch(
    batch_id: IdPath, request: Request, user: CurrentUser = Depends(PREPARE), db: Session = Depends(get_db)
) -> Response:
    """Cancel a batch that is not approved yet, with a reason."""
    form = await request.form()
    try:
        payment_service.cancel_batch(
            db,
            actor=user.actor(client_ip(request)),
            batch_id=batch_id,
            reason=str(form.get("reason", ""))[: rules.MAX_NOTE],
            expected_version=_version(form),
        )
    except DomainError as exc:
        return _failed(db, request, batch_id, exc)
    return _back(batch_id, "cancelled")


def _paid_on(value: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            "到账日期应为日期（YYYY-MM-DD）",
            "invalid paid_on",
            details=[{"field": "paid_on", "message": "应为日期（YYYY-MM-DD）"}],
        ) from None


@router.post("/payment-batches/{batch_id}/result")
async def import_result(
    batch_id: IdPath,
    request: Request,
    file: UploadFile = File(...),
    user: CurrentUser = Depends(PREPARE),
    db: Session = Depends(get_db),
) -> Response:
    """Upload the bank's result file: every row checked; a bad row refuses the file by its line."""
    form = await request.form()
    content = await file.read()
    filename = file.filename or "result.xlsx"
    actor = user.actor(client_ip(request))

    def work() -> Response:
        try:
            rows = payment_service.read_result_file(content, filename)
            payment_service.import_result(
                db, actor=actor, batch_id=batch_id, rows=rows, paid_on=_paid_on(str(form.get("paid_on", "")))
            )
        except DomainError as exc:
            db.rollback()
            ctx = _batch_context(db, request, batch_id)
            details = exc.details if isinstance(exc.details, list) else []
            rows_ = [d for d in details if isinstance(d, dict) and "row" in d and "column" in d]
            ctx.update(
                message=exc.message_zh, result_problems=rows_, problems=[] if rows_ else _problems(exc)
            )
            return render(request, "payment/batch.html", ctx, status_code=exc.http_status)
        return _back(batch_id, "result")

    return await run_in_threadpool(work)


@router.get("/payments/batches")
def all_batches(
    request: Request,
    status: str = "",
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> Response:
    """Batches of every project, newest first; ``?status=submitted`` lists those waiting for approval."""
    chosen = status if status in rules.BATCH_STATUSES else ""
    return render(
        request,
        "payment/batches.html",
        {
            "active": "payments",
            "batches": payment_service.list_batches(db, status=chosen or None),
            "status": chosen,
            "statuses": rules.BATCH_STATUSES,
        },
    )


@router.get("/projects/{project_id}/funds")
def funds_page(
    project_id: IdPath, request: Request, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """The funds view: budget, signed, paid, approved, due, scheduled; per block."""
    return render(
        request,
        "payment/funds.html",
        {
            "project": project_service.get_project(db, project_id),
            "active": "funds",
            "f": payment_service.project_funds(db, project_id=project_id),
        },
    )
