"""Map domain errors to 4xx pages or JSON; anything else is a logged 500."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from anju import i18n
from anju.errors import DomainError, NotAuthenticated
from anju.web.templating import lang_of, render

log = logging.getLogger("anju")

_FIELD_LABELS = {"body": "请求体", "query": "查询参数", "path": "路径参数", "form": "表单"}


def wants_json(request: Request) -> bool:
    """API routes and htmx-less JSON clients get JSON errors; pages get HTML."""
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        if isinstance(exc, NotAuthenticated) and not wants_json(request):
            target = "/login?next=" + quote(request.url.path + ("?" + request.url.query if request.url.query else ""))
            if _is_htmx(request):
                return Response(status_code=401, headers={"HX-Redirect": target})
            return RedirectResponse(target, status_code=303)
        if wants_json(request):
            return JSONResponse(exc.to_dict(), status_code=exc.http_status)
        lang = lang_of(request)
        message = exc.message_zh if lang == "zh" else exc.message_en
        template = "components/error_fragment.html" if _is_htmx(request) else "error.html"
        return render(request, template, {"message": message, "error": exc}, status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        details = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            where = _FIELD_LABELS.get(loc[0], loc[0]) if loc else ""
            name = ".".join(loc[1:]) if len(loc) > 1 else where
            details.append({"field": name, "message": f"{where}“{name}”不合法：{err.get('msg', '')}"})
        body = {"code": "validation_failed", "message": "请求参数有误", "message_en": "invalid request", "details": details}
        if wants_json(request):
            return JSONResponse(body, status_code=422)
        msg = "请求参数有误：" + "；".join(d["message"] for d in details)
        return render(request, "error.html", {"message": msg}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        lang = lang_of(request)
        key = {404: "error.not_found", 403: "error.forbidden", 405: "error.not_found"}.get(exc.status_code)
        message = i18n.t(key, lang) if key else str(exc.detail)
        if wants_json(request):
            return JSONResponse({"code": f"http_{exc.status_code}", "message": message}, status_code=exc.status_code)
        return render(request, "error.html", {"message": message}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        message = i18n.t("error.server", lang_of(request))
        if wants_json(request):
            return JSONResponse({"code": "server_error", "message": message}, status_code=500)
        return render(request, "error.html", {"message": message}, status_code=500)
