"""HTML page of the desk calculator (算账器), shown to a family at the signing desk on a phone or
a screen: cash versus swap from its own facts, its entitlement, and what each group of available
flats would cost or refund, with the rules that refuse a flat named."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju import i18n
from anju.errors import NotFound
from anju.household import service as household_service
from anju.housing import service as housing_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import get_db, requires
from anju.web.params import IdPath
from anju.web.templating import lang_of, render

router = APIRouter(include_in_schema=False)


@router.get("/households/{household_id}/calculator")
def calculator_page(
    household_id: IdPath,
    request: Request,
    as_of: date | None = None,
    only_allowed: bool = False,
    user: CurrentUser = Depends(requires(Permission.POLICY_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """The household's calculator; without a published policy the page says so (200)."""
    file = household_service.get_household_file(db, scope=user.scope, household_id=household_id)
    project = project_service.get_project(db, file.household.project_id)
    ctx: dict[str, object] = {"project": project, "h": file.household, "active": "households"}
    try:
        calc = housing_service.calculator(db, scope=user.scope, household_id=household_id, as_of=as_of)
    except NotFound as exc:
        if exc.message_en != "no policy published for this project":
            raise
        missing = i18n.t(exc.message_zh, lang_of(request))
        return render(request, "housing/calculator.html", {**ctx, "missing": missing})
    totals = [o.total_fen for o in calc.options]
    diff = abs(totals[0] - totals[1]) if len(totals) == 2 and None not in totals else None  # type: ignore[operator]
    offers = [o for o in calc.offers if o.allowed] if only_allowed else calc.offers
    ctx.update(
        {
            "c": calc,
            "offers": offers,
            "allowed_count": sum(1 for o in calc.offers if o.allowed),
            "diff": diff,
            "as_of": as_of,
            "only_allowed": only_allowed,
        }
    )
    return render(request, "housing/calculator.html", ctx)
