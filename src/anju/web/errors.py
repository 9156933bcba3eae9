"""Map domain errors to 4xx pages or JSON; anything else is a logged 500."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from anju import i18n
from anju.db.session import is_lock_error
from anju.errors import Conflict, DomainError, NotAuthenticated, PasswordChangeRequired
from anju.i18n import N_
from anju.web import params
from anju.web.templating import lang_of, render

log = logging.getLogger("anju")


def wants_json(request: Request) -> bool:
    """API routes and htmx-less JSON clients get JSON errors; pages get HTML."""
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def busy_error() -> Conflict:
    """The 409 for a lock conflict (SQLite busy, deadlock, lock timeout): retry later, never a 500."""
    return Conflict(
        N_("系统繁忙，该记录正被他人保存，请稍后重试"),
        "the record is being saved by someone else; please try again shortly",
        code="busy",
    )


def domain_error_response(request: Request, exc: DomainError) -> Response:
    """``exc`` as JSON (API, JSON clients) or as a page / htmx fragment in the user's language."""
    if wants_json(request):
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)
    lang = lang_of(request)
    message = exc.message_zh if lang == "zh" else exc.message_en
    template = "components/error_fragment.html" if _is_htmx(request) else "error.html"
    return render(request, template, {"message": message, "error": exc}, status_code=exc.http_status)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        if isinstance(exc, NotAuthenticated) and not wants_json(request):
            target = "/login?next=" + quote(
                request.url.path + ("?" + request.url.query if request.url.query else "")
            )
            if _is_htmx(request):
                return Response(status_code=401, headers={"HX-Redirect": target})
            return RedirectResponse(target, status_code=303)
        if isinstance(exc, PasswordChangeRequired) and not wants_json(request):
            if _is_htmx(request):
                return Response(status_code=403, headers={"HX-Redirect": "/account/password"})
            return RedirectResponse("/account/password", status_code=303)
        return domain_error_response(request, exc)

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> Response:
        # A lock conflict is a 409 the user can retry; any other database error stays a 500.
        if is_lock_error(exc):
            log.warning("lock conflict on %s %s: %s", request.method, request.url.path, exc.orig)
            return domain_error_response(request, busy_error())
        return await server_error(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        details = []
        for err in exc.errors():
            # Worded in Chinese with the field's name (anju.web.params); the input is never echoed.
            name, message = params.describe_validation_error(dict(err))
            details.append({"field": name, "message": message})
        msg = N_("请求参数有误：") + "；".join(dict.fromkeys(d["message"] for d in details))
        body = {
            "code": "validation_failed",
            "message": msg,
            "message_en": "invalid request",
            "details": details,
        }
        if wants_json(request):
            return JSONResponse(body, status_code=422)
        return render(request, "error.html", {"message": msg}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        lang = lang_of(request)
        if exc.status_code == 400:
            # Only request parsing raises a bare 400 (FastAPI's body parser, Starlette's form and
            # multipart parser: "Invalid multipart data.", a missing boundary...); our own code raises
            # DomainErrors. A body that cannot be parsed is bad input like any other: 422, in Chinese.
            details = [
                {"field": "body", "message": N_("请求体无法解析（应为 UTF-8 编码的 JSON、表单或文件上传）")}
            ]
            body = {"code": "validation_failed", "message": N_("请求参数有误：") + details[0]["message"]}
            if wants_json(request):
                english = f"malformed request body: {exc.detail}"
                return JSONResponse({**body, "message_en": english, "details": details}, 422)
            return render(request, "error.html", {"message": body["message"]}, status_code=422)
        key = {404: "error.not_found", 403: "error.forbidden", 405: "error.not_found"}.get(exc.status_code)
        message = i18n.t(key, lang) if key else str(exc.detail)
        if wants_json(request):
            return JSONResponse(
                {"code": f"http_{exc.status_code}", "message": message}, status_code=exc.status_code
            )
        return render(request, "error.html", {"message": message}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        message = i18n.t("error.server", lang_of(request))
        if wants_json(request):
            return JSONResponse({"code": "server_error", "message": message}, status_code=500)
        return render(request, "error.html", {"message": message}, status_code=500)
