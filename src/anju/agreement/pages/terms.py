"""The signing terms page (签约设置): agreement number prefix, the share paid on signing, the condition
new agreements carry. Thin over :func:`anju.agreement.service.set_signing_terms`; a refused form comes
back with the Chinese reason next to each field (422) or above the form (409), as typed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.agreement import rules
from anju.agreement import service as agreement_service
from anju.errors import DomainError, ValidationFailed
from anju.i18n import N_, msg
from anju.identity import service as identity_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath
from anju.web.templating import render

router = APIRouter(include_in_schema=False)
MANAGE = requires(Permission.AGREEMENT_SIGN)
FIELDS = (
    "agreement_prefix",
    "on_sign_share",
    "condition_kind",
    "condition_rate",
    "condition_deadline_on",
    "reason",
)


def percent_to_bp(text: str, label: str, field: str) -> int:
    """``"70"`` / ``"70.5%"`` -> basis points; a Chinese error naming ``label`` otherwise."""
    value = text.strip().removesuffix("%").removesuffix("％").strip()
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = Decimal(-1)
    if not number.is_finite() or not 0 <= number <= 100 or number != number.quantize(Decimal("0.01")):
        raise ValidationFailed(
            msg("{label}应为 0 至 100 之间的百分数，最多两位小数", label=label),
            f"invalid {field}",
            details=[
                {
                    "field": field,
                    "message": msg("{label}应为 0 至 100 之间的百分数，最多两位小数", label=label),
                }
            ],
        )
    return int(number * 100)


def _bp_text(bp: int) -> str:
    return f"{Decimal(bp) / 100:f}".rstrip("0").rstrip(".") if bp % 100 else str(bp // 100)


def _page(
    request: Request,
    db: Session,
    project_id: int,
    *,
    values: dict[str, str] | None = None,
    error: DomainError | None = None,
    version: int | None = None,
) -> Response:
    project = project_service.get_project(db, project_id)
    terms = agreement_service.signing_terms(db, project_id)
    if values is None:
        values = {
            "agreement_prefix": terms.agreement_prefix,
            "on_sign_share": _bp_text(terms.on_sign_share_bp),
            "condition_kind": terms.condition_kind,
            "condition_rate": _bp_text(terms.condition_rate_bp)
            if terms.condition_kind in rules.RATE_CONDITIONS
            else "",
            "condition_deadline_on": terms.condition_deadline_on.isoformat()
            if terms.condition_deadline_on
            else "",
            "reason": "",
        }
    field_errors: dict[str, str] = {}
    if isinstance(error, ValidationFailed):
        for d in error.details or []:
            if isinstance(d, dict) and d.get("field"):
                name = {"on_sign_share_bp": "on_sign_share", "condition_rate_bp": "condition_rate"}.get(
                    str(d["field"]), str(d["field"])
                )
                field_errors.setdefault(name, str(d.get("message", "")))
    context: dict[str, Any] = {
        "project": project,
        "active": "signing_terms",
        "terms": terms,
        "version": terms.version if version is None else version,
        "values": values,
        "errors": field_errors,
        "message": error.message_zh if error is not None and not field_errors else "",
        "saved": request.query_params.get("ok") == "saved",
        "kinds": rules.CONDITION_KINDS,
        "updated_by": identity_service.user_names(db).get(terms.updated_by or 0, "")
        if terms.updated_by
        else "",
    }
    return render(request, "agreement/terms.html", context, status_code=error.http_status if error else 200)


@router.get("/projects/{project_id}/signing-terms")
def terms_page(
    project_id: IdPath, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """The project's signing terms as a form."""
    return _page(request, db, project_id)


@router.post("/projects/{project_id}/signing-terms")
def save_terms(
    project_id: IdPath,
    request: Request,
    agreement_prefix: Annotated[str, Form()] = "",
    on_sign_share: Annotated[str, Form()] = "",
    condition_kind: Annotated[str, Form()] = "none",
    condition_rate: Annotated[str, Form()] = "",
    condition_deadline_on: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    """Save the terms (all at once; audited); back to the page with a confirmation."""
    values = {
        "agreement_prefix": agreement_prefix,
        "on_sign_share": on_sign_share,
        "condition_kind": condition_kind,
        "condition_rate": condition_rate,
        "condition_deadline_on": condition_deadline_on,
        "reason": reason,
    }
    seen = int(version) if version.isascii() and version.isdigit() and len(version) < 10 else None
    try:
        share = percent_to_bp(on_sign_share, N_("签约后支付比例"), "on_sign_share")
        rated = condition_kind in rules.RATE_CONDITIONS
        rate = percent_to_bp(condition_rate, N_("签约率"), "condition_rate") if rated else 0
        try:
            deadline = (
                date.fromisoformat(condition_deadline_on.strip()) if condition_deadline_on.strip() else None
            )
        except ValueError:
            raise ValidationFailed(
                N_("截止日期应为 YYYY-MM-DD"),
                "invalid condition_deadline_on",
                details=[{"field": "condition_deadline_on", "message": N_("截止日期应为 YYYY-MM-DD")}],
            ) from None
        agreement_service.set_signing_terms(
            db,
            actor=user.actor(client_ip(request)),
            project_id=project_id,
            agreement_prefix=agreement_prefix,
            on_sign_share_bp=share,
            condition_kind=condition_kind,
            condition_rate_bp=rate,
            condition_deadline_on=deadline if condition_kind != "none" else None,
            expected_version=seen,
            reason=reason,
        )
    except DomainError as exc:
        db.rollback()  # nothing of the refused save is kept (a failed insert leaves PostgreSQL's transaction unusable)
        return _page(request, db, project_id, values=values, error=exc, version=seen)
    return RedirectResponse(f"/projects/{project_id}/signing-terms?ok=saved", status_code=303)
