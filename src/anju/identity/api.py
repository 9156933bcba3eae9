"""JSON routes of identity: login, logout, who am I."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from anju.errors import NotAuthenticated, TooManyAttempts
from anju.identity import rules
from anju.identity import service as identity_service
from anju.identity.pages import set_session_cookie
from anju.identity.schemas import LoginIn, MeRead
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, current_user, get_db, verify_csrf
from anju.web.params import error_responses

router = APIRouter(prefix="/auth", tags=["identity"])


def _me(user: CurrentUser) -> MeRead:
    perms = sorted(p.value for p in rules.Permission if user.can(p))
    return MeRead(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        permissions=perms,
        csrf_token=user.csrf_token,
    )


@router.post("/login", response_model=MeRead, responses=error_responses(401, 422, 429))
def login(body: LoginIn, request: Request, db: Session = Depends(get_db)) -> JSONResponse:
    """Log in with a JSON body; sets the session cookie and returns the CSRF token."""
    ip = client_ip(request)
    try:
        user = identity_service.login(db, username=body.username, password=body.password, ip=ip)
    except (NotAuthenticated, TooManyAttempts):
        request.state.commit_anyway = True  # keep the record of the refused attempt
        raise
    token, _row = identity_service.start_session(db, user=user, ip=ip)
    me = identity_service.resolve_session(db, token)
    assert me is not None
    response = JSONResponse(_me(me).model_dump())
    set_session_cookie(response, token)
    return response


@router.post("/logout", responses=error_responses(401, 403, 422))
def logout(user: CurrentUser = Depends(verify_csrf), db: Session = Depends(get_db)) -> dict[str, bool]:
    """End the current session."""
    identity_service.end_session(db, session_id=user.session_id)
    return {"ok": True}


@router.get("/me", response_model=MeRead, responses=error_responses(401, 422))
def me(user: CurrentUser = Depends(current_user)) -> MeRead:
    """The logged-in user and permissions."""
    return _me(user)
