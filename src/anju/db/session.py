"""Engines and sessions. Callers at the request/CLI boundary own the transaction.

Concurrency (see docs/adr/0004-concurrent-writes.md):

- SQLite: the driver's own transaction handling is switched off and Anju emits ``BEGIN`` itself
  (the SQLAlchemy recipe for the sqlite3 driver). A session that will write starts its
  transaction with ``BEGIN IMMEDIATE``: it takes the database's write lock before it reads, so
  what it reads cannot change under it and it never fails half-way with "database is locked"
  on its first write. Other sessions start with a plain ``BEGIN``; in WAL mode they read a
  snapshot and never wait for writers. A writer waits at most ``busy_timeout`` for the lock.
- PostgreSQL: READ COMMITTED (the default); writes lock the rows they change with
  ``SELECT ... FOR UPDATE`` and guard the UPDATE with the row's version.
- MySQL/MariaDB: READ COMMITTED instead of InnoDB's REPEATABLE READ, so that every statement
  after a row lock sees the committed state (under REPEATABLE READ a plain read after the lock
  would still see the snapshot taken at the transaction's first read).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from anju.config import get_settings

#: Execution option naming a session whose transaction will write (``BEGIN IMMEDIATE`` on SQLite).
WRITE_OPTION = "anju_write"
#: How long a SQLite writer waits for the write lock before giving up (ms).
BUSY_TIMEOUT_MS = 10000
#: ``session.info`` key of a callable that :func:`begin_write` calls once, before a read session
#: first writes: the web layer queues such a request with the process's writers (its write gate).
BEFORE_WRITE = "anju_before_write"


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # No implicit BEGIN from the driver: _sqlite_begin emits it (and SAVEPOINTs then nest in it).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    write = bool(conn.get_execution_options().get(WRITE_OPTION))
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
    raw = conn.connection.dbapi_connection
    conn.info["anju_tx"] = ("write" if write else "read", getattr(raw, "total_changes", 0))


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings Anju needs on each backend."""
    if url.startswith("sqlite"):
        if ":memory:" not in url and url != "sqlite://":
            kwargs.setdefault("pool_size", max(5, 2 * get_settings().threads))
            kwargs.setdefault("max_overflow", 10)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # Every request in flight may hold one connection (the web layer admits 2 x threads at once).
    kwargs.setdefault("pool_size", max(5, 2 * get_settings().threads))
    kwargs.setdefault("max_overflow", 10)
    # A writer waits for a row lock as long as a SQLite writer waits for the database (then 409).
    wait_s = BUSY_TIMEOUT_MS // 1000
    if url.startswith("postgresql"):
        kwargs.setdefault("connect_args", {"options": f"-c lock_timeout={BUSY_TIMEOUT_MS}"})
    if url.startswith(("mysql", "mariadb")):
        kwargs.setdefault("pool_recycle", 3600)
        kwargs.setdefault("isolation_level", "READ COMMITTED")
        kwargs.setdefault(
            "connect_args", {"init_command": f"SET SESSION innodb_lock_wait_timeout = {wait_s}"}
        )
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


@lru_cache(maxsize=8)
def _write_engine(engine: Engine) -> Engine:
    # Shares the engine's pool and event listeners; its connections carry WRITE_OPTION.
    return engine.execution_options(**{WRITE_OPTION: True})


def new_session(*, write: bool) -> Session:
    """A session on the configured database; ``write`` marks a unit of work that will write."""
    return get_sessionmaker()(bind=_write_engine(get_engine()) if write else get_engine())


def set_write_intent(session: Session, write: bool) -> None:
    """Declare whether ``session``'s next transaction writes (``BEGIN IMMEDIATE`` on SQLite).

    Takes effect when the next transaction begins: a transaction under way keeps its connection
    (changing the bind then would start a second transaction beside it). A session bound to a
    connection (tests) keeps the transaction it was given.
    """
    bind = session.bind
    if session.in_transaction() or not isinstance(bind, Engine):
        return
    if bool(bind.get_execution_options().get(WRITE_OPTION)) != write:
        session.bind = bind.execution_options(**{WRITE_OPTION: write})


def is_sqlite(session: Session) -> bool:
    """Whether ``session`` is bound to SQLite."""
    return session.get_bind().dialect.name == "sqlite"


def _tx_mode(session: Session) -> str:
    """``write`` or ``read``: how the session's SQLite transaction began."""
    mode, _changes = session.connection().info.get("anju_tx", ("read", 0))
    return str(mode)


def _wrote(session: Session) -> bool:
    """Whether the session's SQLite transaction has written (or is about to)."""
    if session.new or session.dirty or session.deleted:
        return True
    conn = session.connection()
    _mode, changes_at_begin = conn.info.get("anju_tx", ("read", 0))
    return bool(getattr(conn.connection.dbapi_connection, "total_changes", 0) != changes_at_begin)


def _own_sqlite_transaction(session: Session) -> bool:
    # A session bound to a connection (the test fixture) runs in a transaction it must keep.
    return isinstance(session.bind, Engine) and session.in_transaction() and is_sqlite(session)


def begin_read(session: Session) -> None:
    """Let a long job read and check without holding SQLite's write lock (see :func:`begin_write`).

    Called at the start of the job: a transaction that has not begun will begin as a read
    transaction, and a write transaction that has not written anything yet (a web request's
    ``BEGIN IMMEDIATE``) is ended, releasing the lock. A transaction that wrote is kept (the
    job then runs under its lock). Elsewhere nothing changes.
    """
    if _own_sqlite_transaction(session) and _tx_mode(session) == "write" and not _wrote(session):
        session.rollback()
    set_write_intent(session, False)


def begin_write(session: Session) -> None:
    """Make sure the session's transaction may write, taking SQLite's write lock now.

    Long jobs (the census import) read and validate in a read transaction that holds no lock,
    then call this right before writing: on SQLite the read transaction (if it wrote nothing)
    ends and a ``BEGIN IMMEDIATE`` transaction starts with the next statement, so the write lock
    is held only for the write phase. Whatever the job read before must be checked again inside
    the write transaction. A transaction that already wrote holds the lock and is kept.
    Elsewhere this only records the intent (rows are locked as they are written).
    """
    before_write = session.info.pop(BEFORE_WRITE, None)
    if before_write is not None:
        before_write()
    if _own_sqlite_transaction(session) and _tx_mode(session) == "read" and not _wrote(session):
        session.rollback()
    set_write_intent(session, True)
    if isinstance(session.bind, Engine) and is_sqlite(session):
        session.connection()  # BEGIN IMMEDIATE now: the lock is taken here, not mid-write


def is_lock_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a lock conflict a later retry may not meet (never a bug).

    SQLite "database is locked"/busy, PostgreSQL serialization failure (40001), deadlock (40P01)
    or lock timeout (55P03), MySQL/MariaDB lock wait timeout (1205) or deadlock (1213).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        orig = current.orig if isinstance(current, DBAPIError) else current
        if orig is not None and _is_lock_dbapi_error(orig):
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_lock_dbapi_error(orig: BaseException) -> bool:
    text = str(orig).lower()
    name = type(orig).__module__ + "." + type(orig).__name__
    if name.startswith("sqlite3."):
        code = getattr(orig, "sqlite_errorcode", None)
        # SQLITE_BUSY (5) with its extended codes, SQLITE_LOCKED (6) with its extended codes
        if code is not None and code & 0xFF in (5, 6):
            return True
        return "database is locked" in text or "database table is locked" in text
    sqlstate = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "diag", None), "sqlstate", None)
    if sqlstate in ("40001", "40P01", "55P03"):
        return True
    args = getattr(orig, "args", ())
    return bool(args and isinstance(args[0], int) and args[0] in (1205, 1213))


@contextmanager
def unit_of_work(*, write: bool = True) -> Iterator[Session]:
    """One transaction for a CLI command or job: commit on success, roll back on any error.

    ``write`` (the default) starts the transaction as a write transaction (see the module
    docstring); pass ``write=False`` for a command that only reads.
    """
    session = new_session(write=write)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
