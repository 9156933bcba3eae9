"""Security headers on every response, and the API documentation behind a login in production.

The Content-Security-Policy allows scripts only from this site (no inline script, no eval): the
front end is built for it (Alpine's CSP build, htmx with ``allowEval`` off, Swagger UI started by
a script file). ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` stop clickjacking of
buttons such as "reveal identity number". Every response except static files and the health check
gets ``Cache-Control: no-store``: pages and API answers carry personal data, and a shared office
computer's browser cache must not keep them. See docs/security.md.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from anju.config import Settings, get_settings
from anju.errors import NotAuthenticated
from anju.i18n import N_
from anju.identity.service import CurrentUser
from anju.web.deps import optional_user

#: Paths whose responses may be cached: versioned third-party and app files without personal data.
CACHEABLE_PREFIXES = ("/static/",)
CACHEABLE_EXACT = frozenset({"/healthz"})

OPENAPI_URL = "/api/v1/openapi.json"
DOCS_URL = "/api/docs"


def tile_source(map_tile_url: str) -> str:
    """The CSP source of a Leaflet tile URL template, or ``""`` when there is none or it is malformed.

    ``https://{s}.tile.example.org/{z}/{x}/{y}.png`` becomes ``https://*.tile.example.org``: the
    ``{s}`` subdomain placeholder stands for several hosts.
    """
    if not map_tile_url:
        return ""
    parts = urlsplit(map_tile_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    if parts.scheme not in ("http", "https") or not host:
        return ""
    labels = host.split(".")
    if any("{" in label for label in labels[1:]) or any(c in host for c in " ;,'\""):
        return ""
    if "{" in labels[0]:
        labels[0] = "*"
    return f"{parts.scheme}://{'.'.join(labels)}"


def content_security_policy(settings: Settings) -> str:
    """The Content-Security-Policy header value for ``settings``.

    Style *attributes* are allowed (``style-src-attr 'unsafe-inline'``): templates and ECharts'
    tooltips use them, and they cannot run script; ``<style>`` elements are not allowed.
    """
    img = ["'self'", "data:"]
    tiles = tile_source(settings.map_tile_url)
    if tiles:
        img.append(tiles)
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src " + " ".join(img),
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
    return "; ".join(directives)


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    """The headers every response gets (Cache-Control is added separately, by path)."""
    headers = {
        "content-security-policy": content_security_policy(settings),
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
        "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-resource-policy": "same-origin",
    }
    if settings.env == "production":
        # One year; no includeSubDomains: other services of an office's domain may still be plain HTTP.
        headers["strict-transport-security"] = "max-age=31536000"
    return [(k.encode(), v.encode()) for k, v in headers.items()]


def cacheable(path: str) -> bool:
    """Whether a response to ``path`` may be cached by the browser (no personal data in it)."""
    return path in CACHEABLE_EXACT or path.startswith(CACHEABLE_PREFIXES)


class SecurityHeadersMiddleware:
    """A pure ASGI middleware adding :func:`security_headers` and ``Cache-Control: no-store``.

    A header the route already set is left as it is (a route may, say, send a stricter
    ``Content-Security-Policy: sandbox`` for an attachment).
    """

    def __init__(self, app: ASGIApp, settings: Settings | None = None) -> None:
        self.app = app
        self.settings = settings or get_settings()
        self.headers = security_headers(self.settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(self.headers)
        if not cacheable(scope.get("path", "")):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend((k, v) for k, v in extra if k not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


# not page text (the API reference for developers, served as is)
_DOCS_PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <title>安居 Anju API</title>
  <link rel="icon" href="/static/app/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/static/vendor/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui" data-openapi-url="{openapi}"></div>
  <script src="/static/vendor/swagger-ui-bundle.js"></script>
  <script src="/static/app/swagger-init.js"></script>
</body>
</html>
"""


def _docs_visible(user: CurrentUser | None) -> bool:
    # Development and test keep the documents open (API clients and schema tests read them);
    # production shows them to logged-in users only: they map every route an attacker could try.
    return user is not None or get_settings().env != "production"


def install_api_docs(app: FastAPI) -> None:
    """Serve the OpenAPI document and Swagger UI (behind a login in production).

    The app must be created with ``openapi_url=None`` and ``docs_url=None``: these routes replace
    FastAPI's, whose Swagger page starts the UI with an inline script that the CSP refuses.
    """

    @app.get(OPENAPI_URL, include_in_schema=False)
    def openapi_document(user: CurrentUser | None = Depends(optional_user)) -> JSONResponse:
        if not _docs_visible(user):
            raise NotAuthenticated(N_("请先登录后查看接口文档"), "login required for the API documentation")
        return JSONResponse(app.openapi())

    @app.get(DOCS_URL, include_in_schema=False)
    def api_docs(user: CurrentUser | None = Depends(optional_user)) -> Response:
        # Swagger UI from the npm-installed static copy (no CDN), started by swagger-init.js.
        if not _docs_visible(user):
            # A page for people: to the login form and back (the error handler would answer JSON
            # under /api/).
            return RedirectResponse("/login?next=" + DOCS_URL, status_code=303)
        return HTMLResponse(_DOCS_PAGE.replace("{openapi}", OPENAPI_URL))


def install(app: FastAPI) -> None:
    """Add the security headers middleware and the API documentation routes to ``app``."""
    app.add_middleware(SecurityHeadersMiddleware)
    install_api_docs(app)
