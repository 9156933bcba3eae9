"""HTML page of receivables (应收款): what households owe the office (e.g. the difference they pay for
their chosen flats), for finance to record each receipt (收款登记)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.agreement import service as agreement_service
from anju.core.dates import today_shanghai
from anju.core.money import yuan_to_fen
from anju.errors import DomainError, ValidationFailed
from anju.household import service as household_service
from anju.i18n import N_, msg
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath
from anju.web.templating import render

router = APIRouter(include_in_schema=False)


def _context(db: Session, user: CurrentUser, project_id: int) -> dict[str, Any]:
    project = project_service.get_project(db, project_id)
    rows = agreement_service.open_receivables(db, project_id, scope=user.scope)
    labels = household_service.household_labels(db, household_ids=[r.receivable.household_id for r in rows])
    return {
        "project": project,
        "active": "payments",
        "rows": [(r, *labels.get(r.receivable.household_id, ("", ""))) for r in rows],
        "total_fen": sum(r.outstanding_fen for r in rows),
        "can_prepare": user.can(Permission.PAYMENT_PREPARE),
        "today": today_shanghai(),
        "message": "",
        "message_ok": "",
    }


@router.get("/projects/{project_id}/receivables")
def receivables_page(
    project_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.PAYMENT_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """The project's open receivables (待收), with a receipt form for finance."""
    ctx = _context(db, user, project_id)
    if request.query_params.get("ok") == "receipt":
        ctx["message_ok"] = N_("收款已登记")
    return render(request, "agreement/receivables.html", ctx)


def _form_amount(value: str) -> int:
    try:
        fen = yuan_to_fen(value.strip())
    except (ValueError, TypeError, ArithmeticError):
        fen = 0
    if fen <= 0:
        raise ValidationFailed(
            msg("收款金额“{value}”无效（应为大于 0 的元数，最多两位小数）", value=value[:20]),
            "invalid amount",
            details=[{"field": "amount", "message": N_("收款金额无效")}],
        )
    return fen


def _form_date(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(
            N_("收款日期应为 YYYY-MM-DD"),
            "bad date",
            details=[{"field": "received_on", "message": N_("收款日期格式不正确")}],
        ) from None


@router.post("/receivables/{receivable_id}/receipt")
async def record_receipt(
    receivable_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.PAYMENT_PREPARE)),
    db: Session = Depends(get_db),
) -> Response:
    """Record a receipt (收款登记) and return to the project's receivables."""
    form = await request.form()
    r = agreement_service.get_receivable(db, receivable_id)
    household_service.get_household(db, scope=user.scope, household_id=r.household_id)
    project_id = r.project_id
    version = str(form.get("version", "")).strip()
    try:
        agreement_service.record_receipt(
            db,
            actor=user.actor(client_ip(request)),
            receivable_id=receivable_id,
            amount_fen=_form_amount(str(form.get("amount", ""))),
            received_on=_form_date(str(form.get("received_on", ""))),
            receipt_ref=str(form.get("receipt_ref", "")),
            expected_version=int(version) if version.isdigit() and len(version) < 10 else None,
        )
    except DomainError as exc:
        db.rollback()
        ctx = _context(db, user, project_id)
        ctx["message"] = exc.message_zh
        return render(request, "agreement/receivables.html", ctx, status_code=exc.http_status)
    return RedirectResponse(f"/projects/{project_id}/receivables?ok=receipt", status_code=303)
