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
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from anju.core.dates import today_shanghai
from anju.core.masking import mask_account
from anju.core.money import yuan_to_fen
from anju.errors import DomainError, ValidationFailed
from anju.i18n import N_, msg
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.payment import rules
from anju.payment import service as payment_service
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath, PageQuery, parse_id
from anju.web.templating import render

router = APIRouter(include_in_schema=False)
READ = requires(Permission.PAYMENT_READ)
PREPARE = requires(Permission.PAYMENT_PREPARE)
APPROVE = requires(Permission.PAYMENT_APPROVE)

OK_MESSAGES = {
    "created": N_("支付批次已编制（草稿），请核对后提交审批"),
    "edited": N_("批次已修改"),
    "submitted": N_("已提交审批"),
    "approved": N_("已审批通过，可以导出银行文件"),
    "rejected": N_("已退回编制人"),
    "cancelled": N_("批次已作废"),
    "result": N_("回盘结果已登记"),
}
STATUS_ORDER = ("submitted", "draft", "rejected", "approved", "exported", "closed", "cancelled")


def _ok(request: Request) -> str:
    return OK_MESSAGES.get(request.query_params.get("ok", ""), "")


def _masker(user: CurrentUser) -> Any:
    return (lambda v: v) if user.can(Permission.PII_READ) else mask_account


DUE_PER_PAGE = 50  # due rows per page (payments page, a batch's additions)
LINES_PER_PAGE = 100  # a batch's lines per page


def _due_filter(block_id: str, kind: str, q: str) -> payment_service.DueFilter:
    """The due list's filter from a query string or a form (blank fields: no filter)."""
    return payment_service.DueFilter(
        block_id=parse_id(block_id), kind=kind.strip()[:32], q=q.strip()[: payment_service.MAX_SEARCH]
    )


def _form_filter(form: Any) -> payment_service.DueFilter:
    return _due_filter(str(form.get("block_id", "")), str(form.get("kind", "")), str(form.get("q", "")))


def _filter_query(f: payment_service.DueFilter, **extra: str | int) -> str:
    """The filter as a query string (for page links; blank fields left out)."""
    params: dict[str, str | int] = {"q": f.q, "block_id": f.block_id or "", "kind": f.kind, **extra}
    return urlencode({k: v for k, v in params.items() if v})


def _page_numbers(page: int, pages: int) -> list[int | None]:
    """Page links to show: the first, the last and two either side of the current (None: a gap)."""
    out: list[int | None] = []
    last = 0
    for n in sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)}):
        if last and n - last > 1:
            out.append(None)
        out.append(n)
        last = n
    return out


def _due_page(
    db: Session, project_id: int, f: payment_service.DueFilter, page: int, exclude: list[int] | None = None
) -> payment_service.DuePage:
    """Page ``page`` of the filtered due list, ``DUE_PER_PAGE`` rows; a page beyond the end (the
    list shrank since the link was made) is the last one."""
    dp = payment_service.due_page(
        db,
        project_id=project_id,
        due_filter=f,
        offset=(page - 1) * DUE_PER_PAGE,
        limit=DUE_PER_PAGE,
        exclude=exclude or (),
    )
    if page > dp.pages:
        dp = payment_service.due_page(
            db,
            project_id=project_id,
            due_filter=f,
            offset=(dp.pages - 1) * DUE_PER_PAGE,
            limit=DUE_PER_PAGE,
            exclude=exclude or (),
        )
    return dp


def _filter_context(db: Session, project_id: int, f: payment_service.DueFilter) -> dict[str, Any]:
    paths = project_service.block_paths(db, project_id)
    return {
        "filter": f,
        "blocks": [(b.id, paths.get(b.id, b.name)) for b in project_service.blocks(db, project_id)],
        "filter_query": _filter_query(f),
    }


def _payments_context(
    db: Session,
    request: Request,
    project_id: int,
    due_filter: payment_service.DueFilter | None = None,
    page: int = 1,
) -> dict[str, Any]:
    user: CurrentUser = request.state.user
    project = project_service.get_project(db, project_id)
    f = due_filter or payment_service.DueFilter()
    dp = _due_page(db, project_id, f, page)
    batches = payment_service.list_batches(db, project_id=project_id)
    grouped: dict[str, list[payment_service.BatchSummary]] = {}
    for b in batches:
        grouped.setdefault(b.batch.status, []).append(b)
    return {
        **_filter_context(db, project_id, f),
        "project": project,
        "active": "payments",
        "dp": dp,
        "page_numbers": _page_numbers(dp.page, dp.pages),
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
    project_id: IdPath,
    request: Request,
    q: str = "",
    block_id: str = "",  # the filter form sends "" for "all blocks"
    kind: str = "",
    page: PageQuery = 1,
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> Response:
    """The finance page of a project: the due instalments (filtered by block, kind and a search,
    50 a page, the summary of the filter), batches by status, prepare a batch (the checked rows,
    everything the filter matches, or every due instalment)."""
    ctx = _payments_context(db, request, project_id, _due_filter(block_id, kind, q), page)
    return render(request, "payment/payments.html", ctx)


def _amount(value: str, label: str, field: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        fen = yuan_to_fen(value)
    except (ValueError, TypeError):
        fen = 0
    if fen <= 0:
        message = msg(
            "{label}的金额“{value}”无效（应为大于 0 的元数，最多两位小数）", label=label, value=value[:20]
        )
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
                N_("所选款项无效"), "invalid instalment id", details=[{"field": "instalment_id"}]
            )
        amount = _amount(
            str(form.get(f"amount_{instalment_id}", "")),
            msg("付款计划 {instalment_id}", instalment_id=instalment_id),
            f"amount_{instalment_id}",
        )
        lines.append(payment_service.LineInput(instalment_id, amount))
    return lines


@router.post("/projects/{project_id}/payment-batches")
async def create_batch(
    project_id: IdPath, request: Request, user: CurrentUser = Depends(PREPARE), db: Session = Depends(get_db)
) -> Response:
    """Prepare a batch: the checked rows (``mode=selected``), everything the posted filter matches
    (``mode=filter`` with ``q``, ``block_id``, ``kind``), or every due instalment (``mode=all``)."""
    form = await request.form()
    mode = str(form.get("mode", ""))
    due_filter = _form_filter(form)
    title = str(form.get("title", ""))[: rules.MAX_TITLE]
    note = str(form.get("note", ""))[: rules.MAX_NOTE]
    actor = user.actor(client_ip(request))
    try:
        if mode == "filter":
            batch = payment_service.create_batch_from_filter(
                db, actor=actor, project_id=project_id, due_filter=due_filter, title=title, note=note
            )
        else:
            lines = None if mode == "all" else _chosen_lines(form)
            if lines is not None and not lines:
                raise ValidationFailed(
                    N_("请勾选要支付的款项，或选择“按筛选结果编制”“全部应付款项编制”"),
                    "no line chosen",
                    details=[{"field": "instalment_id", "message": N_("未勾选款项")}],
                )
            batch = payment_service.create_batch(
                db, actor=actor, project_id=project_id, lines=lines, title=title, note=note
            )
    except DomainError as exc:
        db.rollback()
        page = parse_id(str(form.get("page", ""))) or 1
        ctx = _payments_context(db, request, project_id, due_filter, min(page, 100_000))
        ctx.update(message=exc.message_zh, problems=_problems(exc))
        return render(request, "payment/payments.html", ctx, status_code=exc.http_status)
    return RedirectResponse(f"/payment-batches/{batch.id}?ok=created", status_code=303)


def _batch_context(
    db: Session,
    request: Request,
    batch_id: int,
    due_filter: payment_service.DueFilter | None = None,
    page: int = 1,
    due_page: int = 1,
) -> dict[str, Any]:
    """A batch's page: its lines ``LINES_PER_PAGE`` a page (``page``), and while it may be edited
    the due instalments it does not hold, filtered and ``DUE_PER_PAGE`` a page (``due_page``)."""
    user: CurrentUser = request.state.user
    view = payment_service.get_batch(db, batch_id=batch_id)
    b = view.batch
    editable = b.status in rules.EDITABLE
    pages = max(1, -(-len(view.lines) // LINES_PER_PAGE))
    page = min(page, pages)
    start = (page - 1) * LINES_PER_PAGE
    f = due_filter or payment_service.DueFilter()
    ctx: dict[str, Any] = {
        "project": project_service.get_project(db, b.project_id),
        "active": "payments",
        "v": view,
        "b": b,
        "lines": view.lines[start : start + LINES_PER_PAGE],
        "line_page": page,
        "line_pages": pages,
        "line_numbers": _page_numbers(page, pages),
        "line_start": start,
        "history": payment_service.batch_history(db, batch_id=b.id),
        "statuses": rules.BATCH_STATUSES,
        "payment_statuses": rules.PAYMENT_STATUSES,
        "columns": rules.EXPORT_COLUMNS,
        "account": _masker(user),
        "can_prepare": user.can(Permission.PAYMENT_PREPARE),
        "can_approve": user.can(Permission.PAYMENT_APPROVE),
        "is_preparer": user.id in view.preparers,
        "editable": editable,
        "dp": None,
        "filter_query": "",
        "today": today_shanghai().isoformat(),
        "message_ok": _ok(request),
        "message": "",
        "problems": [],
        "result_problems": [],
    }
    if editable and ctx["can_prepare"]:
        dp = _due_page(db, b.project_id, f, due_page, exclude=[p.instalment_id for p in view.lines])
        ctx.update(_filter_context(db, b.project_id, f))
        ctx.update(dp=dp, due_numbers=_page_numbers(dp.page, dp.pages))
    return ctx


@router.get("/payment-batches/{batch_id}")
def batch_page(
    batch_id: IdPath,
    request: Request,
    page: PageQuery = 1,
    q: str = "",
    block_id: str = "",
    kind: str = "",
    dpage: PageQuery = 1,
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> Response:
    """A batch: its lines (100 a page), history and the actions the user may take; while it may
    be edited, the due instalments it does not hold (filtered like the payments page, ``dpage``)."""
    ctx = _batch_context(db, request, batch_id, _due_filter(block_id, kind, q), page, dpage)
    return render(request, "payment/batch.html", ctx)


def _failed(db: Session, request: Request, batch_id: int, exc: DomainError, form: Any = None) -> Response:
    """The batch page again with the refusal (and, for the edit form, the filter and pages it had)."""
    db.rollback()
    if form is not None:
        page = min(parse_id(str(form.get("page", ""))) or 1, 100_000)
        dpage = min(parse_id(str(form.get("dpage", ""))) or 1, 100_000)
        ctx = _batch_context(db, request, batch_id, _form_filter(form), page, dpage)
    else:
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
    """Change the lines of a draft or rejected batch.

    The batch page posts a page at a time (``paged``): ``shown`` lists the batch's instalments the
    page showed, the checked ones of them are kept with their amounts, the others dropped; lines
    on other pages stay. The additions form shows none of the batch's lines: its checked due
    instalments are added (``mode=add``), or every due instalment the posted filter (``q``,
    ``block_id``, ``kind``) matches (``mode=add_filter``). Without ``paged`` the checked
    instalments are the whole new list."""
    form = await request.form()
    actor = user.actor(client_ip(request))
    title = str(form["title"])[: rules.MAX_TITLE] if "title" in form else None
    note = str(form["note"])[: rules.MAX_NOTE] if "note" in form else None
    try:
        if form.get("paged"):
            shown = [parse_id(str(v)) for v in form.getlist("shown")]
            chosen = _chosen_lines(form)
            if form.get("mode") == "add" and not chosen:
                raise ValidationFailed(
                    N_("请勾选要加入的款项"),
                    "no line chosen",
                    details=[{"field": "instalment_id", "message": N_("未勾选款项")}],
                )
            payment_service.revise_batch(
                db,
                actor=actor,
                batch_id=batch_id,
                shown=[i for i in shown if i is not None],
                chosen=chosen,
                add_filter=_form_filter(form) if form.get("mode") == "add_filter" else None,
                expected_version=_version(form),
                title=title,
                note=note,
            )
        else:
            payment_service.update_batch(
                db,
                actor=actor,
                batch_id=batch_id,
                lines=_chosen_lines(form),
                expected_version=_version(form),
                title=title,
                note=note,
            )
    except DomainError as exc:
        return _failed(db, request, batch_id, exc, form)
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
            N_("到账日期应为日期（YYYY-MM-DD）"),
            "invalid paid_on",
            details=[{"field": "paid_on", "message": N_("应为日期（YYYY-MM-DD）")}],
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
