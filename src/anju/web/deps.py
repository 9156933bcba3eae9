"""Request-scoped dependencies: the unit of work, the current user, permissions and CSRF.

The database session is opened by :class:`~anju.web.middleware.UnitOfWorkMiddleware` and
committed there when the response is a success; routes and services never commit. Dependencies
that do no I/O are ``async`` so they run on the event loop instead of hopping to a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from anju.errors import DomainError, NotAuthenticated, PasswordChangeRequired
from anju.i18n import N_
from anju.identity import service as identity_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser

SESSION_COOKIE = "anju_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRejected(DomainError):
    """An unsafe request without a valid CSRF token."""

    code = "csrf_rejected"
    http_status = 403


async def get_db(request: Request) -> Session:
    """The request's session (one transaction per request)."""
    session: Session = request.state.db
    return session


def client_ip(request: Request) -> str:
    """The peer address (a reverse proxy in production sets it via uvicorn's proxy headers)."""
    return request.client.host if request.client else ""


def _resolve_user(request: Request) -> CurrentUser | None:
    """The request's user, resolved from the session cookie once and kept on the request."""
    if hasattr(request.state, "user"):
        cached: CurrentUser | None = request.state.user
        return cached
    user = identity_service.resolve_session(request.state.db, request.cookies.get(SESSION_COOKIE, ""))
    request.state.user = user
    return user


async def optional_user(request: Request, db: Session = Depends(get_db)) -> CurrentUser | None:
    """The logged-in user, or ``None``.

    One indexed lookup, run on the event loop: handing it to a worker thread costs more than
    the query itself on every request.
    """
    return _resolve_user(request)


async def _csrf_token_of(request: Request) -> str | None:
    token = request.headers.get(CSRF_HEADER)
    if token:
        return token
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def current_user(user: CurrentUser | None = Depends(optional_user)) -> CurrentUser:
    """The logged-in user; raises :class:`NotAuthenticated` otherwise."""
    if user is None:
        raise NotAuthenticated(N_("请先登录"), "login required")
    return user


async def _check_csrf(request: Request, user: CurrentUser) -> None:
    if request.method not in SAFE_METHODS:
        token = await _csrf_token_of(request)
        if not identity_service.csrf_ok(user, token):
            raise CsrfRejected(
                N_("页面已过期或请求来源无效，请刷新页面后重试"), "CSRF token missing or invalid"
            )


async def verify_csrf(request: Request, user: CurrentUser = Depends(current_user)) -> CurrentUser:
    """Refuse unsafe methods whose CSRF token (form field or header) is missing or wrong."""
    await _check_csrf(request, user)
    return user


def requires(permission: Permission) -> Callable[..., Any]:
    """Dependency declaring that a route needs ``permission``; checks it (and CSRF on writes).

    The returned function carries ``.permission`` so tests can list every route's requirement.
    It does the work of :func:`current_user` and :func:`verify_csrf` itself rather than through
    nested dependencies: every route has it, and each dependency level costs on every request.
    """

    async def dependency(request: Request) -> CurrentUser:
        user = _resolve_user(request)
        if user is None:
            raise NotAuthenticated(N_("请先登录"), "login required")
        await _check_csrf(request, user)
        if user.must_change_password:
            # A one-time password set by an administrator opens only the password form (and logout).
            raise PasswordChangeRequired(
                N_("请先修改密码：管理员重置的一次性密码只能用来设置您自己的新密码"),
                "change your password first: a one-time password only opens the password form",
            )
        identity_service.require(user, permission)
        return user

    dependency.permission = permission  # type: ignore[attr-defined]
    dependency.__name__ = f"requires_{permission.value.replace('.', '_')}"
    return dependency
