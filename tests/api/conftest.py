"""An application on a migrated SQLite file with the standard test world, and logged-in clients."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from anju.db import migrate
from anju.db.session import unit_of_work
from tests.factories import PASSWORD, World, build_world


@pytest.fixture
def world_app(settings_env: Path) -> Iterator[tuple[TestClient, World]]:
    """A fresh app whose database holds the standard test world."""
    from anju.config import get_settings
    from anju.main import create_app

    settings_env.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(get_settings().effective_database_url)
    with unit_of_work() as db:
        world = build_world(db, households=6)
    with TestClient(create_app(), base_url="http://testserver") as client:
        yield client, world


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the JSON API; returns the CSRF token."""
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    token: str = r.json()["csrf_token"]
    return token


def page_csrf(html: str) -> str:
    """The CSRF token a page embeds in its forms."""
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no csrf token in page"
    return m.group(1)


@pytest.fixture
def client_as(world_app: tuple[TestClient, World]) -> Callable[[str], tuple[TestClient, str, World]]:
    """``client_as(role)`` logs the app's client in as that role's user."""
    client, world = world_app

    def _as(role: str) -> tuple[TestClient, str, World]:
        client.cookies.clear()
        return client, login(client, role), world

    return _as
