"""Login and logout pages."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.config import get_settings
from anju.errors import DomainError, NotAuthenticated, TooManyAttempts
from anju.identity import service as identity_service
from anju.identity.rules import Permission, Role
from anju.identity.service import CurrentUser
from anju.web.deps import SESSION_COOKIE, client_ip, get_db, optional_user, requires, verify_csrf
from anju.web.params import IdPath
from anju.web.templating import render

router = APIRouter(include_in_schema=False)
PRELOGIN_COOKIE = "anju_prelogin"


def _safe_next(target: str, default: str = "/projects") -> str:
    """``target`` if it is a path on this site, else ``default``: an open redirect is a phishing aid.

    Only a path starting with one ``/`` passes: ``//host`` and ``/\\host`` are other sites to a
    browser (it reads a backslash as a slash), and a scheme or control character is refused.
    """
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 or ord(c) == 127 for c in target)
    ):
        return default
    return target


def _same_site_path(request: Request, url: str) -> str:
    """The path and query of ``url`` when it points at this site (the language switch's Referer)."""
    if not url:
        return "/projects"
    parts = urlsplit(url)
    if (parts.scheme or parts.netloc) and (
        parts.scheme not in ("http", "https") or parts.netloc != request.url.netloc
    ):
        return "/projects"
    path = parts.path or "/"
    return _safe_next(path + ("?" + parts.query if parts.query else ""))


def _login_page(request: Request, next_url: str, message: str = "", status_code: int = 200) -> Response:
    token = secrets.token_urlsafe(16)
    response = render(
        request,
        "identity/login.html",
        {"next": next_url, "message": message, "prelogin": token, "demo": get_settings().env != "production"},
        status_code=status_code,
    )
    response.set_cookie(PRELOGIN_COOKIE, token, httponly=True, samesite="strict", max_age=3600)
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/projects", user: CurrentUser | None = Depends(optional_user)) -> Response:
    """The login page (already logged-in users go straight on)."""
    if user is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, _safe_next(next))


@router.post("/login")
def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    next: str = Form("/projects"),
    csrf_token: str = Form(""),
    db: Session = Depends(get_db),
) -> Response:
    """Check credentials, open a session and set the HttpOnly, SameSite cookie."""
    expected = request.cookies.get(PRELOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return _login_page(request, _safe_next(next), "页面已过期，请重新登录", status_code=403)
    ip = client_ip(request)
    try:
        user = identity_service.login(db, username=username, password=password, ip=ip)
    except TooManyAttempts as exc:
        request.state.commit_anyway = True  # keep the record of the refused attempt
        return _login_page(request, _safe_next(next), exc.message_zh, status_code=429)
    except NotAuthenticated as exc:
        request.state.commit_anyway = True  # keep the failure counter of a refused login
        return _login_page(request, _safe_next(next), exc.message_zh, status_code=401)
    token, _row = identity_service.start_session(db, user=user, ip=ip)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, token)
    response.delete_cookie(PRELOGIN_COOKIE)
    return response


def set_session_cookie(response: Response, token: str) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Secure in production."""
    settings = get_settings()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.env == "production",
        max_age=settings.session_hours * 3600,
    )


@router.post("/logout")
def logout(user: CurrentUser = Depends(verify_csrf), db: Session = Depends(get_db)) -> Response:
    """End the session."""
    identity_service.end_session(db, session_id=user.session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{lang}")
def switch_language(lang: str, request: Request) -> Response:
    """Switch the interface language (zh / en)."""
    # Back to the page the switch was clicked on, but never to another site (open redirect).
    response = RedirectResponse(_same_site_path(request, request.headers.get("referer") or ""), status_code=303)
    if lang in ("zh", "en"):
        response.set_cookie("lang", lang, samesite="lax", max_age=365 * 86400)
    return response


@router.get("/users")
def users_page(
    request: Request,
    user: CurrentUser = Depends(requires(Permission.USER_MANAGE)),
    db: Session = Depends(get_db),
) -> Response:
    """User accounts and their roles (admin)."""
    return render(
        request,
        "identity/users.html",
        {"users": identity_service.list_users(db), "roles": list(Role), "active": "users", "errors": {}, "values": {}},
    )


@router.post("/users")
def users_create(
    request: Request,
    username: str = Form(""),
    display_name: str = Form(""),
    role: str = Form(""),
    password: str = Form(""),
    user: CurrentUser = Depends(requires(Permission.USER_MANAGE)),
    db: Session = Depends(get_db),
) -> Response:
    """Create a user account."""
    try:
        identity_service.create_user(
            db, actor=user.actor(client_ip(request)), username=username.strip(), display_name=display_name.strip(),
            password=password, role=role,
        )
    except DomainError as exc:
        errors = {d.get("field", ""): d.get("message", "") for d in (exc.details or [])} or {"username": exc.message_zh}
        return render(
            request,
            "identity/users.html",
            {
                "users": identity_service.list_users(db), "roles": list(Role), "active": "users", "errors": errors,
                "values": {"username": username, "display_name": display_name, "role": role},
                "message": exc.message_zh,
            },
            status_code=exc.http_status,
        )
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{user_id}/active")
def users_set_active(
    user_id: IdPath,
    request: Request,
    active: bool = Form(...),
    user: CurrentUser = Depends(requires(Permission.USER_MANAGE)),
    db: Session = Depends(get_db),
) -> Response:
    """Enable or disable an account."""
    identity_service.set_active(db, actor=user.actor(client_ip(request)), user_id=user_id, active=active)
    return RedirectResponse("/users", status_code=303)
