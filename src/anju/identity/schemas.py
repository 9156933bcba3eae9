"""Pydantic schemas of the identity API."""

from __future__ import annotations

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
