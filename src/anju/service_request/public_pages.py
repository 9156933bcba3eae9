"""Residents' pages of the five-order loop, without an account and made for a phone (390 px):
居民点单 (category, description, a point on the map, photos), following a request by its code and
follow code (the five orders' progress, the public history, the result with photos), and 群众验单
(rate 1-5, or "not solved" to send it back). The grid boundaries for the map are public."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, RedirectResponse, Response

from anju import i18n
from anju.errors import DomainError, ValidationFailed
from anju.grid import service as grid_service
from anju.service_request import rules
from anju.service_request import service as request_service
from anju.service_request.api import public_read
from anju.service_request.pages import submit_form
from anju.web.deps import client_ip, get_db
from anju.web.templating import render

router = APIRouter(include_in_schema=False)
CODE_MAX = 32
SECRET_MAX = 32


def _new_page(
    request: Request, db: Session, values: dict[str, Any], error: str = "", status: int = 200
) -> Response:
    ctx = {
        "values": values,
        "error": error,
        "categories": request_service.active_categories(db),
        "action": "/public/requests/new",
        "staff": False,
        "grids_src": "/public/requests/grids.geojson",
    }
    return render(request, "service_request/public_new.html", ctx, status_code=status)


@router.get("/public/requests/grids.geojson")
def public_grids(db: Session = Depends(get_db)) -> Response:
    """The grids' boundaries and names for the map of the submit page (the public contact card's
    data, no building leaders)."""
    data = grid_service.grids_geojson(db, include_leaders=False)
    return JSONResponse(data, headers={"Cache-Control": "public, max-age=300"})


@router.get("/public/requests/new")
def public_new(request: Request, db: Session = Depends(get_db)) -> Response:
    """居民点单: the form a resident fills on their phone."""
    return _new_page(request, db, {})


@router.post("/public/requests/new")
async def public_submit(request: Request, db: Session = Depends(get_db)) -> Response:
    """File the request (rate-limited per address); the page shows the code and the follow code once."""
    try:
        request_service.check_submit_rate(db, address=client_ip(request))
    except DomainError as refused:
        form = await request.form()
        shown = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        return _new_page(request, db, shown, refused.message_zh, refused.http_status)
    done, values, exc = await submit_form(request, db, None, address=client_ip(request))
    if exc is not None or done is None:
        return _new_page(request, db, values, exc.message_zh if exc else "", exc.http_status if exc else 422)
    ctx = {
        "code": done.request.code,
        "secret": done.secret,
        "follow": f"/public/requests/{done.request.code}?secret={done.secret}",
        "staff": False,
    }
    return render(request, "service_request/submitted.html", ctx, status_code=201)


@router.get("/public/requests")
def public_lookup(request: Request) -> Response:
    """Find a request by its code and follow code."""
    return render(request, "service_request/public_lookup.html", {"error": "", "values": {}})


@router.get("/public/requests/go")
def public_go(
    code: str = Query("", max_length=CODE_MAX), secret: str = Query("", max_length=SECRET_MAX)
) -> Response:
    """The lookup form's target: on to the request's page."""
    return RedirectResponse(
        f"/public/requests/{quote(code.strip(), safe='')}?secret={quote(secret.strip(), safe='')}",
        status_code=303,
    )


def _follow_page(
    request: Request, db: Session, code: str, secret: str, error: str = "", status: int = 200
) -> Response:
    try:
        req = request_service.by_code(db, code=code, secret=secret)
    except DomainError as exc:
        ctx: dict[str, Any] = {"error": exc.message_zh, "values": {"code": code}}
        return render(request, "service_request/public_lookup.html", ctx, status_code=exc.http_status)
    ctx = {
        "d": public_read(db, req),
        "secret": secret,
        "orders": rules.ORDERS,
        "order_index": rules.order_index(req.status),
        "resolutions": {k: v for k, v in rules.RESOLUTIONS.items() if k != "unsolved"},
        "error": error,
        "done": request.query_params.get("done", ""),
    }
    return render(request, "service_request/public_follow.html", ctx, status_code=status)


@router.get("/public/requests/{code}")
def public_follow(
    code: str,
    request: Request,
    secret: str = Query("", max_length=SECRET_MAX),
    db: Session = Depends(get_db),
) -> Response:
    """Where the request stands, its public history and result; the verification form when the
    result is published."""
    return _follow_page(request, db, code[:CODE_MAX], secret)


async def _resident_action(request: Request, db: Session, code: str, action: str) -> Response:
    form = await request.form()
    secret = str(form.get("secret", ""))[:SECRET_MAX]
    try:
        req = request_service.by_code(db, code=code[:CODE_MAX], secret=secret)
        version = int(str(form.get("version", "0")) or 0)
        rating_raw = str(form.get("rating", "")).strip()
        if action == "verify":
            if not rating_raw.isdigit():
                raise ValidationFailed(
                    i18n.t("请选择 1 到 5 星评分"), "rating is required", details=[{"field": "rating"}]
                )
            request_service.verify(
                db,
                actor=None,
                request_id=req.id,
                version=version,
                rating=int(rating_raw),
                resolution=str(form.get("resolution", "solved")),
                comment=str(form.get("comment", "")),
                secret=secret,
            )
        else:
            request_service.reopen(
                db,
                actor=None,
                request_id=req.id,
                version=version,
                reason=str(form.get("reason", "")),
                rating=int(rating_raw) if rating_raw.isdigit() else None,
                secret=secret,
            )
    except DomainError as exc:
        db.rollback()
        return _follow_page(request, db, code, secret, exc.message_zh, exc.http_status)
    return RedirectResponse(f"/public/requests/{req.code}?secret={secret}&done={action}", status_code=303)


@router.post("/public/requests/{code}/verify")
async def public_verify(code: str, request: Request, db: Session = Depends(get_db)) -> Response:
    """群众验单: the resident rates the result 1-5 (solved or partly solved); the request closes."""
    return await _resident_action(request, db, code, "verify")


@router.post("/public/requests/{code}/reopen")
async def public_reopen(code: str, request: Request, db: Session = Depends(get_db)) -> Response:
    """Not solved: the resident sends the request back to the department with a reason."""
    return await _resident_action(request, db, code, "reopen")
