"""Pydantic schemas of the identity API."""

from __future__ import annotations

from pydantic import BaseModel


class LoginIn(BaseModel):
    """Credentials for ``POST /api/v1/auth/login``."""

    username: str
    password: str


class MeRead(BaseModel):
    """The logged-in user, with the CSRF token to send as ``X-CSRF-Token`` on writes."""

    id: int
    username: str
    display_name: str
    role: str
    permissions: list[str]
    csrf_token: str
