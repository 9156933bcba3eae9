"""Which database errors are lock conflicts (a 409 the user may retry) and which are not (a 500)."""

from __future__ import annotations

import sqlite3

import psycopg
import pymysql
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from anju.db.session import is_lock_error


def _wrapped(orig: BaseException) -> OperationalError:
    return OperationalError("UPDATE household SET ...", {}, orig)


@pytest.mark.parametrize(
    "orig",
    [
        sqlite3.OperationalError("database is locked"),
        sqlite3.OperationalError("database table is locked"),
        psycopg.errors.SerializationFailure("could not serialize access"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
        pymysql.err.OperationalError(1205, "Lock wait timeout exceeded; try restarting transaction"),
        pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock"),
    ],
    ids=["sqlite-busy", "sqlite-locked", "pg-40001", "pg-40P01", "pg-55P03", "mysql-1205", "mysql-1213"],
)
def test_lock_conflicts_are_recognised(orig: BaseException) -> None:
    assert is_lock_error(_wrapped(orig))
    assert is_lock_error(orig)
    # also when it is the cause of another error (a failed commit re-raised by the middleware)
    try:
        try:
            raise _wrapped(orig)
        except OperationalError as exc:
            raise RuntimeError("commit failed") from exc
    except RuntimeError as outer:
        assert is_lock_error(outer)


@pytest.mark.parametrize(
    "exc",
    [
        _wrapped(sqlite3.OperationalError("no such table: household")),
        _wrapped(sqlite3.OperationalError("disk I/O error")),
        _wrapped(psycopg.errors.UndefinedTable("relation does not exist")),
        _wrapped(pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")),
        IntegrityError("INSERT ...", {}, sqlite3.IntegrityError("UNIQUE constraint failed")),
        RuntimeError("disk full"),
    ],
    ids=["sqlite-no-table", "sqlite-io", "pg-undefined-table", "mysql-lost-connection", "integrity", "other"],
)
def test_other_errors_are_not_lock_conflicts(exc: BaseException) -> None:
    assert not is_lock_error(exc)
