"""HTML pages of the campaign: logging a visit on a phone (also offline), and the visit timeline.

The form posts through ``/static/app/visits.js`` to the JSON API with an idempotency key made on the
device; without signal the visit waits in the device's queue and is sent when the connection
returns. Without script the form posts here as a normal form (the key then comes from the page).
The service worker ``/visits-sw.js`` keeps the form and its files, so a form opened once also opens
without signal.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from anju.campaign import rules
from anju.campaign import service as campaign_service
from anju.campaign.schemas import VisitCreate
from anju.core.dates import utcnow
from anju.errors import Conflict, ValidationFailed
from anju.household import service as household_service
from anju.i18n import N_
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath, describe_validation_error
from anju.web.templating import render, render_fragment

router = APIRouter(include_in_schema=False)
READ = requires(Permission.CAMPAIGN_READ)
WRITE = requires(Permission.VISIT_WRITE)
SERVICE_WORKER = Path(__file__).resolve().parents[2] / "static" / "app" / "visits-sw.js"
PERSUADER_ROWS = 2  # empty persuader rows of the form without script (the script adds rows)


def _office_minute(at: datetime) -> str:
    return rules.office_time(at).strftime("%Y-%m-%dT%H:%M")


def _household_context(db: Session, user: CurrentUser, household_id: int) -> dict[str, Any]:
    h = household_service.get_household(db, scope=user.scope, household_id=household_id)
    return {"h": h, "project": project_service.get_project(db, h.project_id), "active": "households"}


def _form_page(
    request: Request,
    ctx: dict[str, Any],
    *,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    message: str = "",
    status_code: int = 200,
) -> Response:
    persuaders = list(values.get("persuaders") or [])
    while len(persuaders) < PERSUADER_ROWS:
        persuaders.append({"name": "", "relation": ""})
    ctx.update(
        values=values,
        persuaders=persuaders,
        errors=errors or {},
        message=message,
        attitudes=rules.ATTITUDES,
        concern_tags=rules.CONCERN_TAGS,
        relations=rules.PERSUADER_RELATIONS,
        api_url=f"/api/v1/households/{ctx['h'].id}/visits",
        timeline_url=f"/households/{ctx['h'].id}/visits",
    )
    return render(request, "campaign/visit_form.html", ctx, status_code=status_code)


@router.get("/households/{household_id}/visits/new")
def visit_form(
    household_id: IdPath, request: Request, user: CurrentUser = Depends(WRITE), db: Session = Depends(get_db)
) -> Response:
    """The phone form: now, the household's address and the user as defaults."""
    ctx = _household_context(db, user, household_id)
    values = {
        "visited_at": _office_minute(utcnow()),
        "duration_min": "30",
        "place": ctx["h"].address,
        "staff": user.display_name,
        "concern_tags": [],
        "attitude": "",
        "idempotency_key": str(uuid.uuid4()),
    }
    return _form_page(request, ctx, values=values)


def _submitted(form: FormData) -> dict[str, Any]:
    """The form's values in the shape of :class:`VisitCreate` (plus the key)."""
    names = [str(v) for v in form.getlist("persuader_name")]
    relations = [str(v) for v in form.getlist("persuader_relation")]
    persuaders = [
        {"name": n, "relation": relations[i] if i < len(relations) else ""}
        for i, n in enumerate(names)
        if n.strip() or (i < len(relations) and relations[i])
    ]

    def one(name: str) -> str:
        value = form.get(name)
        return value if isinstance(value, str) else ""

    return {
        "visited_at": one("visited_at"),
        "duration_min": one("duration_min").strip(),
        "place": one("place"),
        "staff": one("staff"),
        "persuaders": persuaders,
        "concern_tags": [str(v) for v in form.getlist("concern_tags")],
        "concern_text": one("concern_text"),
        "attitude": one("attitude"),
        "outcome": one("outcome"),
        "next_step": one("next_step"),
        "next_due_on": one("next_due_on").strip() or None,
        "idempotency_key": one("idempotency_key").strip(),
    }


@router.post("/households/{household_id}/visits")
async def visit_submit(
    household_id: IdPath, request: Request, user: CurrentUser = Depends(WRITE), db: Session = Depends(get_db)
) -> Response:
    """The form without script: store the visit (the page's key makes a double submit harmless)."""
    form = await request.form()
    raw = _submitted(form)
    ctx = _household_context(db, user, household_id)
    try:
        data = VisitCreate.model_validate({k: v for k, v in raw.items() if k != "idempotency_key"})
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            name, text = describe_validation_error(dict(err))
            errors.setdefault(name or "form", text)
        return _form_page(
            request,
            ctx,
            values=raw,
            errors=errors,
            message=N_("走访记录有误：") + "；".join(errors.values()),
            status_code=422,
        )
    try:
        campaign_service.record_visit(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            household_id=household_id,
            data=data,
            idempotency_key=raw["idempotency_key"],
            now=utcnow(),
        )
    except (ValidationFailed, Conflict) as exc:
        errors = {}
        for d in exc.details or []:
            errors.setdefault(str(d.get("field", "")).split(".")[0], str(d.get("message", "")))
        return _form_page(
            request, ctx, values=raw, errors=errors, message=exc.message_zh, status_code=exc.http_status
        )
    return RedirectResponse(f"/households/{household_id}/visits?saved=1", status_code=303)


@router.get("/households/{household_id}/visits")
def visit_timeline(
    household_id: IdPath, request: Request, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """The household's visit timeline: a fragment for htmx (the campaign tab), else a page of its own."""
    visits = campaign_service.list_visits(db, scope=user.scope, household_id=household_id)
    if request.headers.get("hx-request") == "true":
        h = household_service.get_household(db, scope=user.scope, household_id=household_id)
        return HTMLResponse(
            render_fragment(request, "campaign/visit_timeline.html", {"h": h, "visits": visits})
        )
    ctx = _household_context(db, user, household_id)
    ctx.update(visits=visits, saved=request.query_params.get("saved") == "1")
    return render(request, "campaign/visit_timeline_page.html", ctx)


@router.post("/visits/{visit_id}/void")
async def visit_void(
    visit_id: IdPath, request: Request, user: CurrentUser = Depends(WRITE), db: Session = Depends(get_db)
) -> Response:
    """Void a visit from the timeline (the reason is asked for first); back to the timeline."""
    form = await request.form()
    reason = form.get("reason")
    visit = campaign_service.void_visit(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        visit_id=visit_id,
        reason=reason if isinstance(reason, str) else "",
        now=utcnow(),
    )
    return RedirectResponse(f"/households/{visit.household_id}/visits", status_code=303)


@router.get("/visits-sw.js")
def visit_service_worker() -> Response:
    """The service worker that keeps the visit form for use without signal.

    Served from the root (not ``/static/``) so that its scope may cover ``/households/``.
    """
    return FileResponse(SERVICE_WORKER, media_type="text/javascript")
