"""Household file pages part: the facts the project's policy declares (a form generated from the
policy, inline validation while typing, all-or-nothing save with every bad field marked in place)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju import i18n
from anju.compensation import service as compensation_service
from anju.errors import Conflict, PermissionDenied, ValidationFailed
from anju.household import service as household_service
from anju.household.pages import (
    _errors_of,
    _file_context,
    _form_version,
    _policy_fact_groups,
    _policy_fact_rows,
)
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath
from anju.web.templating import lang_of, render

router = APIRouter(include_in_schema=False)


def _all_rows(ctx: dict[str, Any]) -> list[dict[str, Any]]:
    """The household's rows and those of each building and member, as one list (form fields)."""
    return [*ctx["policy_facts"], *(r for g in ctx["policy_fact_groups"] for r in g["rows"])]


def _policy_facts_page(
    request: Request,
    ctx: dict[str, Any],
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str = "",
    status_code: int = 200,
) -> Response:
    rows = _all_rows(ctx)
    if values is not None:
        for r in rows:
            r["text"] = values.get(r["field"], r["text"])
    ctx.update({"errors": errors or {}, "message": message})
    return render(request, "household/policy_facts_form.html", ctx, status_code=status_code)


@router.get("/households/{household_id}/policy-facts/edit")
def policy_facts_form(
    household_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_WRITE)),
    db: Session = Depends(get_db),
) -> Response:
    """Edit the facts the project's policy declares (a form generated from the policy)."""
    ctx = _file_context(db, user, household_id)
    ctx["policy_facts"] = _policy_fact_rows(db, user, ctx["h"].project_id, household_id)
    ctx["policy_fact_groups"] = _policy_fact_groups(db, user, ctx)
    ctx["form_version"] = ctx["h"].version
    return _policy_facts_page(request, ctx)


@router.post("/households/{household_id}/policy-facts/check")
async def policy_fact_check(
    household_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_WRITE)),
    db: Session = Depends(get_db),
) -> Response:
    """Inline validation of one field while typing (htmx): the Chinese message, or nothing."""
    form = await request.form()
    ctx = _file_context(db, user, household_id)
    decls = compensation_service.declared_facts(db, ctx["h"].project_id)
    data = {
        k: str(v)
        for k, v in form.items()
        if k.startswith(household_service.FACT_PREFIX) or k.startswith(("building.", "member."))
    }
    _, errors = household_service.clean_policy_facts(decls, data)
    lang = lang_of(request)
    text = ("; " if lang == "en" else "；").join(i18n.t(e["message"], lang) for e in errors)
    return HTMLResponse(str(Markup.escape(text)))


@router.post("/households/{household_id}/policy-facts")
async def policy_facts_save(
    household_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_WRITE)),
    db: Session = Depends(get_db),
) -> Response:
    """Save the declared facts: all or nothing, every bad field marked in place."""
    form = await request.form()
    ctx = _file_context(db, user, household_id)
    ctx["policy_facts"] = _policy_fact_rows(db, user, ctx["h"].project_id, household_id)
    ctx["policy_fact_groups"] = _policy_fact_groups(db, user, ctx)
    decls = compensation_service.declared_facts(db, ctx["h"].project_id)
    raw = {
        r["field"]: ("true" if form.get(r["field"]) == "true" else "false")
        if r["type"] == "yesno" and form.get(r["field"]) not in (None, "")
        else str(form.get(r["field"], "") or "")
        for r in _all_rows(ctx)
    }
    version = ctx["form_version"] = _form_version(form)
    try:
        household_service.set_policy_facts(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            household_id=household_id,
            decls=decls,
            data=raw,
            reason=str(form.get("reason", "")),
            expected_version=version,
        )
    except ValidationFailed as exc:
        return _policy_facts_page(
            request, ctx, values=raw, errors=_errors_of(exc), message=exc.message_zh, status_code=422
        )
    except (Conflict, PermissionDenied) as exc:
        return _policy_facts_page(
            request,
            ctx,
            values=raw,
            errors=_errors_of(exc),
            message=exc.message_zh,
            status_code=exc.http_status,
        )
    return RedirectResponse(f"/households/{household_id}#policy-facts", status_code=303)
