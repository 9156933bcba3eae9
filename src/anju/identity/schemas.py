"""Pydantic schemas of the identity API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from anju.web.params import TextRule


class LoginIn(BaseModel):
    """Credentials for ``POST /api/v1/auth/login``."""

    username: Annotated[str, TextRule("用户名", 256)]
    password: Annotated[str, Field(max_length=1024)]


class MeRead(BaseModel):
    """The logged-in user, with the CSRF token to send as ``X-CSRF-Token`` on writes."""

    id: int
    username: str
    display_name: str
    role: str
    permissions: list[str]
    csrf_token: str


class PasswordChangeIn(BaseModel):
    """Body of ``POST /api/v1/auth/password``."""

    old_password: Annotated[str, Field(max_length=1024)]
    new_password: Annotated[str, Field(max_length=1024)]


class UserRead(BaseModel):
    """An account as the administrator sees it (never the password hash)."""

    id: int
    username: str
    display_name: str
    role: str
    team_id: int | None
    is_active: bool
    version: int
    created_at: datetime


class UserCreateIn(BaseModel):
    """Body of ``POST /api/v1/users``."""

    username: Annotated[str, TextRule("用户名", 64)]
    display_name: Annotated[str, TextRule("姓名", 64)] = ""
    role: Annotated[str, Field(max_length=32)]
    password: Annotated[str, Field(max_length=1024)]


class RoleIn(BaseModel):
    """A new role; ``version`` (optional) refuses a change of an account changed meanwhile."""

    role: Annotated[str, Field(max_length=32)]
    version: Annotated[int | None, Field(ge=1, le=2**53 - 1)] = None


class TeamIn(BaseModel):
    """A team id, or ``null`` for none."""

    team_id: Annotated[int | None, Field(ge=1, le=2**53 - 1)] = None
    version: Annotated[int | None, Field(ge=1, le=2**53 - 1)] = None


class UserActiveIn(BaseModel):
    """Activate (``true``) or deactivate (``false``)."""

    active: bool
    version: Annotated[int | None, Field(ge=1, le=2**53 - 1)] = None


class OneTimePasswordRead(BaseModel):
    """The one-time password of a reset, shown once."""

    password: str
