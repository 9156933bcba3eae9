"""Engines and sessions. Callers at the request/CLI boundary own the transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from anju.config import get_settings


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings Anju needs on each backend."""
    if url.startswith("sqlite"):
        if ":memory:" not in url and url != "sqlite://":
            kwargs.setdefault("pool_size", max(5, 2 * get_settings().threads))
            kwargs.setdefault("max_overflow", 10)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # Every request in flight may hold one connection (the web layer admits 2 x threads at once).
    kwargs.setdefault("pool_size", max(5, 2 * get_settings().threads))
    kwargs.setdefault("max_overflow", 10)
    if url.startswith(("mysql", "mariadb")):
        kwargs.setdefault("pool_recycle", 3600)
        if "charset=" not in url:
            url += ("&" if "?" in url else "?") + "charset=utf8mb4"
    return create_engine(url, pool_pre_ping=True, **kwargs)


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    settings = get_settings()
    if settings.effective_database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.effective_database_url)


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    """Session factory bound to :func:`get_engine`; objects stay usable after commit."""
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction for a CLI command or job: commit on success, roll back on any error."""
    session = get_sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
