"""JSON routes of identity: login, logout, who am I."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from anju.errors import NotAuthenticated, TooManyAttempts
from anju.identity import rules
from anju.identity import service as identity_service
from anju.identity.pages import set_session_cookie
from anju.identity.schemas import (
    LoginIn,
    MeRead,
    OneTimePasswordRead,
    PasswordChangeIn,
    RoleIn,
    TeamIn,
    UserActiveIn,
    UserCreateIn,
    UserRead,
)
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, current_user, get_db, requires, verify_csrf
from anju.web.params import WRITE_ERRORS, IdPath, error_responses

auth_router = APIRouter(prefix="/auth", tags=["identity"])
users_router = APIRouter(prefix="/users", tags=["identity"])


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


@auth_router.post("/login", response_model=MeRead, responses=error_responses(401, 422, 429))
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


@auth_router.post("/logout", responses=error_responses(401, 403, 422))
def logout(user: CurrentUser = Depends(verify_csrf), db: Session = Depends(get_db)) -> dict[str, bool]:
    """End the current session."""
    identity_service.end_session(db, session_id=user.session_id)
    return {"ok": True}


@auth_router.get("/me", response_model=MeRead, responses=error_responses(401, 422))
def me(user: CurrentUser = Depends(current_user)) -> MeRead:
    """The logged-in user and permissions."""
    return _me(user)


@auth_router.post("/password", responses=error_responses(401, 403, 422))
def change_password(
    body: PasswordChangeIn,
    request: Request,
    user: CurrentUser = Depends(verify_csrf),
    db: Session = Depends(get_db),
) -> dict[str, bool]:
    """Change one's own password (the old one required); the caller's other sessions end."""
    identity_service.change_own_password(
        db,
        actor=user.actor(client_ip(request)),
        user_id=user.id,
        session_id=user.session_id,
        old_password=body.old_password,
        new_password=body.new_password,
    )
    return {"ok": True}


@users_router.get("", response_model=list[UserRead], responses=error_responses(401, 403))
def list_users(
    user: CurrentUser = Depends(requires(rules.Permission.USER_MANAGE)), db: Session = Depends(get_db)
) -> list[UserRead]:
    """Every account with its role, team and state."""
    return [UserRead.model_validate(u, from_attributes=True) for u in identity_service.list_users(db)]


@users_router.post("", response_model=UserRead, status_code=201, responses=error_responses(*WRITE_ERRORS))
def create_user(
    body: UserCreateIn,
    request: Request,
    user: CurrentUser = Depends(requires(rules.Permission.USER_MANAGE)),
    db: Session = Depends(get_db),
) -> UserRead:
    """Create an account (the password must meet the strength rules)."""
    created = identity_service.create_user(
        db,
        actor=user.actor(client_ip(request)),
        username=body.username.strip(),
        display_name=body.display_name.strip(),
        password=body.password,
        role=body.role,
    )
    return UserRead.model_validate(created, from_attributes=True)


@users_router.post("/{user_id}/role", response_model=UserRead, responses=error_responses(*WRITE_ERRORS))
def set_role(
    user_id: IdPath,
    body: RoleIn,
    request: Request,
    user: CurrentUser = Depends(requires(rules.Permission.USER_MANAGE)),
    db: Session = Depends(get_db),
) -> UserRead:
    """Change the role (409 for the last active administrator, or a stale ``version``)."""
    changed = identity_service.set_role(
        db,
        actor=user.actor(client_ip(request)),
        user_id=user_id,
        role=body.role,
        expected_version=body.version,
    )
    return UserRead.model_validate(changed, from_attributes=True)


@users_router.post("/{user_id}/team", response_model=UserRead, responses=error_responses(*WRITE_ERRORS))
def set_team(
    user_id: IdPath,
    body: TeamIn,
    request: Request,
    user: CurrentUser = Depends(requires(rules.Permission.USER_MANAGE)),
    db: Session = Depends(get_db),
) -> UserRead:
    """Put the user in a team (``team_id``) or none (``null``): the data scope of team roles."""
    changed = identity_service.set_team(
        db,
        actor=user.actor(client_ip(request)),
        user_id=user_id,
        team_id=body.team_id,
        expected_version=body.version,
    )
    return UserRead.model_validate(changed, from_attributes=True)


@users_router.post("/{user_id}/active", response_model=UserRead, responses=error_responses(*WRITE_ERRORS))
def set_active(
    user_id: IdPath,
    body: UserActiveIn,
    request: Request,
    user: CurrentUser = Depends(requires(rules.Permission.USER_MANAGE)),
    db: Session = Depends(get_db),
) -> UserRead:
    """Activate or deactivate (never oneself, never the last active administrator)."""
    changed = identity_service.set_active(
        db,
        actor=user.actor(client_ip(request)),
        user_id=user_id,
        active=body.active,
        expected_version=body.version,
    )
    return UserRead.model_validate(changed, from_attributes=True)


@users_router.post(
    "/{user_id}/password-reset", response_model=OneTimePasswordRead, responses=error_responses(*WRITE_ERRORS)
)
def reset_password(
    user_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(rules.Permission.USER_MANAGE)),
    db: Session = Depends(get_db),
) -> JSONResponse:
    """A one-time password for the user (returned once, never stored in clear); their sessions end."""
    password = identity_service.reset_password(db, actor=user.actor(client_ip(request)), user_id=user_id)
    return JSONResponse({"password": password}, headers={"Cache-Control": "no-store"})


router = APIRouter()
router.include_router(auth_router)
router.include_router(users_router)
