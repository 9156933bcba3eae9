"""HTML page of a household's settlement (选房结算，多退少补) and monthly transition fees (过渡费)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.agreement import service as agreement_service
from anju.core.dates import today_shanghai
from anju.household import service as household_service
from anju.housing import service as housing_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import get_db, requires
from anju.web.params import IdPath
from anju.web.templating import render

router = APIRouter(include_in_schema=False)


def settlement_context(db: Session, request: Request, user: CurrentUser, household_id: int) -> dict[str, Any]:
    """What the settlement page shows (also rendered again by a refused handover, with its message)."""
    h = household_service.get_household(db, scope=user.scope, household_id=household_id)
    view = housing_service.household_settlement(db, scope=user.scope, household_id=household_id)
    s = view.settlement
    return {
        "h": h,
        "project": project_service.get_project(db, h.project_id),
        "active": "households",
        "v": view,
        "balance": housing_service.balance_text(s.balance_fen) if s else "",
        "t": housing_service.household_transition(db, household_id=household_id, as_of=today_shanghai()),
        "INSTALMENT_STATUSES": agreement_service.INSTALMENT_STATUSES,
        "RECEIVABLE_STATUSES": agreement_service.RECEIVABLE_STATUSES,
        # the key handover (交钥匙) of each chosen flat
        "handovers": housing_service.household_handovers(db, scope=user.scope, household_id=household_id),
        "can_handover": user.can(Permission.HOUSING_MANAGE),
        "handover_ok": request.query_params.get("ok") == "handover",
        "handover_error": {},
        "handover_typed": {},
        "today": today_shanghai(),
    }


@router.get("/households/{household_id}/settlement")
def settlement_page(
    household_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """The household's settlement: lines (area, price, amount), credit, refund, balance and where it
    was recorded; its transition fees by today, month by month, and the instalments scheduled; the
    key handover of each chosen flat (交钥匙登记)."""
    return render(request, "housing/settlement.html", settlement_context(db, request, user, household_id))
