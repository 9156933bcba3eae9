"""The key handover form (交钥匙登记) of a chosen flat, on the household's settlement page, and the
household's key dates (关键日期) shown in its file."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from anju.core.dates import today_shanghai
from anju.errors import DomainError, NotFound, ValidationFailed
from anju.housing import service as housing_service
from anju.housing.settlement_pages import settlement_context
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath
from anju.web.templating import render

router = APIRouter(include_in_schema=False)


def _handover_date(value: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            f"交钥匙日期“{value[:20]}”应为 YYYY-MM-DD",
            f"the key handover date '{value[:20]}' should be written YYYY-MM-DD",
            details=[{"field": "handed_over_on", "message": "交钥匙日期格式不正确"}],
        ) from None


@router.post("/selections/{selection_id}/handover")
async def record_handover(
    selection_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.HOUSING_MANAGE)),
    db: Session = Depends(get_db),
) -> Response:
    """Save the key handover date of a chosen flat (empty clears it); a refusal shows the settlement
    page again with the reason beside that flat, nothing written."""
    rows = housing_service.household_handovers(db, scope=user.scope, selection_id=selection_id)
    if not rows:
        raise NotFound("没有这条选房记录", "no such selection")
    household_id = rows[0].household_id
    form = await request.form()
    typed = str(form.get("handed_over_on", ""))
    try:
        housing_service.record_handover(
            db,
            actor=user.actor(client_ip(request)),
            selection_id=selection_id,
            handed_over_on=_handover_date(typed),
            today=today_shanghai(),
        )
    except DomainError as exc:
        db.rollback()
        ctx = settlement_context(db, request, user, household_id)
        ctx["handover_error"] = {selection_id: exc.message_zh}
        ctx["handover_typed"] = {selection_id: typed[:20]}  # the refused date stays in its field
        return render(request, "housing/settlement.html", ctx, status_code=exc.http_status)
    return RedirectResponse(f"/households/{household_id}/settlement?ok=handover#handover", status_code=303)
