"""Shared fixtures: databases (SQLite always; PostgreSQL and MariaDB when configured), app clients.

Environment:
- ``ANJU_TEST_POSTGRES_URL`` / ``ANJU_TEST_MARIADB_URL``: server URLs; each test session creates
  its own database there and drops it at the end.
- ``ANJU_REQUIRE_ALL_SUITES=1``: a backend or browser that is not available fails instead of skipping
  (CI sets it).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from anju.db import migrate
from anju.db.session import make_engine

# After the session: no plaintext identity number in its logs or app data folders (tests/pii_scan.py).
pytest_plugins = ["tests.pii_scan"]

REQUIRE_ALL = os.environ.get("ANJU_REQUIRE_ALL_SUITES") == "1"
BACKENDS = ("sqlite", "postgres", "mariadb")


def unavailable(what: str) -> None:
    """Skip, or fail when every suite is required."""
    if REQUIRE_ALL:
        pytest.fail(f"{what} is required (ANJU_REQUIRE_ALL_SUITES=1) but not available")
    pytest.skip(f"{what} not available")


def _server_url(backend: str) -> str | None:
    return os.environ.get({"postgres": "ANJU_TEST_POSTGRES_URL", "mariadb": "ANJU_TEST_MARIADB_URL"}[backend])


class ServerDatabase:
    """A throw-away database on a PostgreSQL or MariaDB server."""

    def __init__(self, backend: str, server_url: str) -> None:
        self.backend = backend
        self.name = f"anju_t_{uuid.uuid4().hex[:10]}"
        base = make_url(server_url)
        self.admin = create_engine(base, isolation_level="AUTOCOMMIT")
        self.url = base.set(database=self.name).render_as_string(hide_password=False)

    def create(self) -> str:
        with self.admin.connect() as c:
            if self.backend == "mariadb":
                c.execute(
                    text(f"CREATE DATABASE {self.name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
                )
            else:
                c.execute(text(f"CREATE DATABASE {self.name} ENCODING 'UTF8'"))
        return self.url

    def drop(self) -> None:
        with self.admin.connect() as c:
            if self.backend == "postgres":
                c.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                    {"n": self.name},
                )
            c.execute(text(f"DROP DATABASE IF EXISTS {self.name}"))
        self.admin.dispose()


def new_database(backend: str, tmp_dir: Path) -> tuple[str, ServerDatabase | None]:
    """Create an empty database of ``backend``; returns its URL and the handle to drop it."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / ('anju-' + uuid.uuid4().hex[:8] + '.db')}", None
    server = _server_url(backend)
    if not server:
        unavailable(f"{backend} (set ANJU_TEST_{backend.upper()}_URL)")
        raise AssertionError  # unreachable
    try:
        db = ServerDatabase(backend, server)
        return db.create(), db
    except Exception as exc:  # server down
        unavailable(f"{backend} server ({exc.__class__.__name__}: {exc})")
        raise AssertionError from exc


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A freshly migrated database per backend, shared by the session's integration tests."""
    url, handle = new_database(request.param, tmp_path_factory.mktemp("db"))
    migrate.upgrade(url)
    yield url
    if handle is not None:
        handle.drop()


@pytest.fixture(scope="session")
def engine_for(migrated_url: str) -> Iterator[Engine]:
    """Engine on the migrated database."""
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


def run_async(coro: Any) -> Any:
    """``asyncio.run(coro)`` on a thread of its own: in a whole run the browser tests' Playwright (sync
    API) keeps an event loop running on the main thread, where ``asyncio.run`` refuses to start."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def clear_data_caches() -> None:
    """Empty the per-process caches keyed on (project id, data version): rolled-back tests and fresh
    test databases reuse ids and versions, so a cached answer of another test would be served."""
    from anju.campaign import service as campaign_service
    from anju.compensation import budget, group_cache
    from anju.household import listing
    from anju.project import service as project_service

    listing.clear()
    project_service.clear_caches()
    budget.clear()
    group_cache.clear()
    campaign_service.clear_progress_caches()


@pytest.fixture
def db(engine_for: Engine, settings_env: Path) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test (services never commit)."""
    clear_data_caches()
    conn = engine_for.connect()
    trans = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        if trans.is_active:
            trans.rollback()
        conn.close()


@pytest.fixture
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the settings at a temporary data folder (attachments, SQLite file) for one test."""
    from anju.config import get_settings
    from anju.db.session import get_engine, get_sessionmaker

    clear_data_caches()  # a fresh database reuses the ids and versions of the last test's
    monkeypatch.setenv("ANJU_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ANJU_ENV", "test")
    monkeypatch.delenv("ANJU_DATABASE_URL", raising=False)
    # tests file many public requests from one test client: the per-address limit has its own test
    monkeypatch.setenv("ANJU_PUBLIC_REQUESTS_PER_HOUR", "0")
    monkeypatch.setenv("ANJU_PUBLIC_REQUESTS_PER_DAY", "0")
    get_settings.cache_clear()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
