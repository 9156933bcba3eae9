"""Login and logout pages."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.config import get_settings
from anju.errors import DomainError, NotAuthenticated, TooManyAttempts
from anju.i18n import N_
from anju.identity import service as identity_service
from anju.identity.rules import Permission, Role
from anju.identity.service import CurrentUser
from anju.web.deps import (
    SESSION_COOKIE,
    client_ip,
    current_user,
    get_db,
    optional_user,
    requires,
    verify_csrf,
)
from anju.web.params import MAX_ID, IdPath, parse_id
from anju.web.templating import render

router = APIRouter(include_in_schema=False)
# The version of the account the administrator saw: a change on an older one is a 409.
VersionForm = Annotated[int | None, Form(ge=1, le=MAX_ID)]
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
def login_form(
    request: Request, next: str = "/projects", user: CurrentUser | None = Depends(optional_user)
) -> Response:
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
        return _login_page(request, _safe_next(next), N_("页面已过期，请重新登录"), status_code=403)
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
    response = RedirectResponse(
        _same_site_path(request, request.headers.get("referer") or ""), status_code=303
    )
    if lang in ("zh", "en"):
        response.set_cookie("lang", lang, samesite="lax", max_age=365 * 86400)
    return response


def _users_page(
    request: Request,
    db: Session,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    message: str = "",
    notice: str = "",
    one_time: tuple[str, str] | None = None,
    row_error: tuple[int, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "identity/users.html",
        {
            "users": identity_service.list_users(db),
            "roles": list(Role),
            "teams": identity_service.team_choices(db),
            "active": "users",
            "errors": errors or {},
            "values": values or {},
            "message": message,
            "notice": notice,
            "one_time": one_time,
            "row_error": row_error,
        },
        status_code=status_code,
    )


@router.get("/users")
def users_page(
    request: Request,
    user: CurrentUser = Depends(requires(Permission.USER_MANAGE)),
    db: Session = Depends(get_db),
) -> Response:
    """User accounts: create, change role and team (the data scope), reset a password, (de)activate."""
    return _users_page(request, db)


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
            db,
            actor=user.actor(client_ip(request)),
            username=username.strip(),
            display_name=display_name.strip(),
            password=password,
            role=role,
        )
    except DomainError as exc:
        errors = {d.get("field", ""): d.get("message", "") for d in (exc.details or [])} or {
            "username": exc.message_zh
        }
        return _users_page(
            request,
            db,
            errors=errors,
            values={"username": username, "display_name": display_name, "role": role},
            message=exc.message_zh,
            status_code=exc.http_status,
        )
    return RedirectResponse("/users", status_code=303)


def _row_change(
    request: Request, db: Session, user_id: int, change: Callable[[], object], done: str
) -> Response:
    """Run one change of a user row; a refusal is shown next to that row, nothing is written."""
    try:
        change()
    except DomainError as exc:
        return _users_page(request, db, row_error=(user_id, exc.message_zh), status_code=exc.http_status)
    return RedirectResponse(f"/users?done={quote(done)}#user-{user_id}", status_code=303)


@router.post("/users/{user_id}/active")
def users_set_active(
    user_id: IdPath,
    request: Request,
    active: bool = Form(...),
    version: VersionForm = None,
    user: CurrentUser = Depends(requires(Permission.USER_MANAGE)),
    db: Session = Depends(get_db),
) -> Response:
    """Enable or disable an account (never the last active administrator)."""
    actor = user.actor(client_ip(request))
    return _row_change(
        request,
        db,
        user_id,
        lambda: identity_service.set_active(
            db, actor=actor, user_id=user_id, active=active, expected_version=version
        ),
        N_("已启用") if active else N_("已停用"),
    )


@router.post("/users/{user_id}/role")
def users_set_role(
    user_id: IdPath,
    request: Request,
    role: str = Form(""),
    version: VersionForm = None,
    user: CurrentUser = Depends(requires(Permission.USER_MANAGE)),
    db: Session = Depends(get_db),
) -> Response:
    """Change a user's role (never away from the last active administrator)."""
    actor = user.actor(client_ip(request))
    return _row_change(
        request,
        db,
        user_id,
        lambda: identity_service.set_role(
            db, actor=actor, user_id=user_id, role=role, expected_version=version
        ),
        N_("角色已修改"),
    )


@router.post("/users/{user_id}/team")
def users_set_team(
    user_id: IdPath,
    request: Request,
    team_id: str = Form(""),
    version: VersionForm = None,
    user: CurrentUser = Depends(requires(Permission.USER_MANAGE)),
    db: Session = Depends(get_db),
) -> Response:
    """Put a user in a team (专班) or none: the households a team role sees follow the team."""
    actor = user.actor(client_ip(request))
    team = parse_id(team_id) if team_id.strip() else None
    if team_id.strip() and team is None:
        return _users_page(request, db, row_error=(user_id, N_("专班无效")), status_code=422)
    return _row_change(
        request,
        db,
        user_id,
        lambda: identity_service.set_team(
            db, actor=actor, user_id=user_id, team_id=team, expected_version=version
        ),
        N_("专班已修改"),
    )


@router.post("/users/{user_id}/password-reset")
def users_reset_password(
    user_id: IdPath,
    request: Request,
    version: VersionForm = None,
    user: CurrentUser = Depends(requires(Permission.USER_MANAGE)),
    db: Session = Depends(get_db),
) -> Response:
    """Give the user a one-time password, shown once on this page (and ended their sessions)."""
    try:
        password = identity_service.reset_password(
            db, actor=user.actor(client_ip(request)), user_id=user_id, expected_version=version
        )
    except DomainError as exc:
        return _users_page(request, db, row_error=(user_id, exc.message_zh), status_code=exc.http_status)
    target = identity_service.get_user(db, user_id)
    response = _users_page(request, db, one_time=(target.display_name, password))
    response.headers["Cache-Control"] = "no-store"  # the password is shown once, never cached
    return response


@router.get("/account/password")
def account_password_form(request: Request, user: CurrentUser = Depends(current_user)) -> Response:
    """Change one's own password (every logged-in user)."""
    return render(
        request, "identity/password.html", {"errors": {}, "message": "", "done": False, "active": "account"}
    )


@router.post("/account/password")
def account_password(
    request: Request,
    old_password: str = Form(""),
    new_password: str = Form(""),
    confirm_password: str = Form(""),
    user: CurrentUser = Depends(verify_csrf),
    db: Session = Depends(get_db),
) -> Response:
    """Check the old password, the strength and the confirmation; other sessions of the user end."""
    errors: dict[str, str] = {}
    message = ""
    status_code = 200
    if new_password != confirm_password:
        errors["confirm_password"] = N_("两次输入的新密码不一致")
        message, status_code = N_("两次输入的新密码不一致"), 422
    else:
        try:
            identity_service.change_own_password(
                db,
                actor=user.actor(client_ip(request)),
                user_id=user.id,
                session_id=user.session_id,
                old_password=old_password,
                new_password=new_password,
            )
        except DomainError as exc:
            errors = {d.get("field", ""): d.get("message", "") for d in (exc.details or [])}
            message, status_code = exc.message_zh, exc.http_status
    return render(
        request,
        "identity/password.html",
        {"errors": errors, "message": message, "done": not message, "active": "account"},
        status_code=status_code,
    )
