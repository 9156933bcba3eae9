"""Columns read as numbers for numpy, on every supported backend.

Services that aggregate a whole project in memory (campaign progress: 100,000 households) spend
most of their time turning database values into Python ``date``/``datetime`` objects one by one.
These SQL expressions hand back plain integers instead, computed by the database:

- :class:`day_number`: a ``DATE`` as its proleptic Gregorian ordinal (``date.toordinal()``:
  0001-01-01 is 1); NULL stays NULL (wrap in ``func.coalesce(..., 0)``).
- :class:`epoch_microseconds`: a naive-UTC ``DATETIME`` (:class:`anju.db.base.UTCDateTime`) as
  microseconds since 1970-01-01 00:00 UTC.
- :class:`office_day_number`: the office date (Asia/Shanghai, UTC+8 without daylight saving since
  1991) of a naive-UTC ``DATETIME``, as an ordinal.

:func:`fetch_int_columns` reads such a result into int64 arrays without a Python object per value
(:func:`utc_microseconds` / :func:`microseconds_of` for instants, which SQLite gives as text), and
:func:`equals_most` / :func:`in_most` keep SQLite from reaching most of a table through an index.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, ColumnElement, Executable, Integer, false, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

__all__ = [
    "day_number",
    "epoch_microseconds",
    "equals_most",
    "fetch_int_columns",
    "fetch_rows",
    "forget_scan_decisions",
    "in_most",
    "int_columns",
    "microseconds_of",
    "office_day_number",
    "paused_gc",
    "utc_microseconds",
]

# julianday('0001-01-01') = 1721425.5 (days start at noon in the Julian day count)
_SQLITE_ORDINAL_SHIFT = "1721424.5"
# TO_DAYS('0001-01-01') = 366 (MySQL counts from year 0)
_MYSQL_ORDINAL_SHIFT = "365"


class day_number(FunctionElement[int]):
    """``date.toordinal()`` of a DATE column, computed by the database."""

    type = Integer()
    inherit_cache = True


class epoch_microseconds(FunctionElement[int]):
    """Microseconds since 1970-01-01 00:00 of a naive-UTC DATETIME column, computed by the database."""

    type = BigInteger()
    inherit_cache = True


class office_day_number(FunctionElement[int]):
    """``date.toordinal()`` of the Asia/Shanghai date of a naive-UTC DATETIME column (exact: no
    rounding of fractional seconds), computed by the database."""

    type = Integer()
    inherit_cache = True


def _arg(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = element.clauses
    return str(compiler.process(arg, **kw))


@compiles(day_number)
def _day_number_default(element: day_number, compiler: SQLCompiler, **kw: Any) -> str:
    # PostgreSQL family (openGauss, KingbaseES): date - date is an integer count of days.
    return f"(({_arg(element, compiler, **kw)}) - DATE '0001-01-01' + 1)"


@compiles(day_number, "sqlite")
def _day_number_sqlite(element: day_number, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(julianday({_arg(element, compiler, **kw)}) - {_SQLITE_ORDINAL_SHIFT} AS INTEGER)"


@compiles(day_number, "mysql")
@compiles(day_number, "mariadb")
def _day_number_mysql(element: day_number, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(TO_DAYS({_arg(element, compiler, **kw)}) - {_MYSQL_ORDINAL_SHIFT})"


@compiles(epoch_microseconds)
def _epoch_default(element: epoch_microseconds, compiler: SQLCompiler, **kw: Any) -> str:
    # A TIMESTAMP WITHOUT TIME ZONE's epoch is taken as UTC, which is how the column stores it.
    return f"CAST(ROUND(EXTRACT(EPOCH FROM {_arg(element, compiler, **kw)}) * 1000000) AS BIGINT)"


@compiles(epoch_microseconds, "sqlite")
def _epoch_sqlite(element: epoch_microseconds, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as text 'YYYY-MM-DD HH:MM:SS[.ffffff]': whole seconds from strftime of the first 19
    # characters (given the fraction, strftime rounds 59.9999 up to the next second), the fraction
    # (right-padded, so '.5' is 500000 and no fraction is 0) from characters 21-26.
    arg = _arg(element, compiler, **kw)
    return (
        f"(CAST(strftime('%s', substr({arg}, 1, 19)) AS INTEGER) * 1000000"
        f" + CAST(substr({arg} || '000000', 21, 6) AS INTEGER))"
    )


@compiles(epoch_microseconds, "mysql")
@compiles(epoch_microseconds, "mariadb")
def _epoch_mysql(element: epoch_microseconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {_arg(element, compiler, **kw)})"


@compiles(office_day_number)
def _office_default(element: office_day_number, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(CAST(({_arg(element, compiler, **kw)}) + INTERVAL '8 hours' AS DATE) - DATE '0001-01-01' + 1)"


@compiles(office_day_number, "sqlite")
def _office_sqlite(element: office_day_number, compiler: SQLCompiler, **kw: Any) -> str:
    # The UTC date, plus one from 16:00 UTC on (00:00 office time): text only, no rounding of the
    # fractional seconds (julianday() with '+8 hours' rounds to the millisecond, and is no faster).
    arg = _arg(element, compiler, **kw)
    return (
        f"(CAST(julianday(substr({arg}, 1, 10)) - {_SQLITE_ORDINAL_SHIFT} AS INTEGER)"
        f" + (substr({arg}, 12, 2) >= '16'))"
    )


@compiles(office_day_number, "mysql")
@compiles(office_day_number, "mariadb")
def _office_mysql(element: office_day_number, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(TO_DAYS(({_arg(element, compiler, **kw)}) + INTERVAL 8 HOUR) - {_MYSQL_ORDINAL_SHIFT})"


def int_columns(rows: Any, width: int) -> list[np.ndarray]:
    """The ``width`` columns of ``rows`` (a result or a list of rows whose values are all integers, no
    NULL: coalesce in SQL) as int64 arrays, without a Python object per value."""
    data = rows if isinstance(rows, list) else list(rows)
    flat = np.fromiter(chain.from_iterable(data), dtype=np.int64, count=len(data) * width)
    table = flat.reshape(len(data), width)
    return [np.ascontiguousarray(table[:, k]) for k in range(width)]


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = True


@contextmanager
def paused_gc() -> Iterator[None]:
    """Keep the cyclic garbage collector from running while a bulk read allocates its rows.

    Reading 100,000 rows creates that many tuples, which trigger collections that walk every
    object of the process (a third of the read's time). Rows hold no cycles; the collection is
    only deferred (nested and concurrent pauses end with the last one).
    """
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def fetch_rows(session: Session, stmt: Executable) -> list[Any]:
    """Run ``stmt`` and return the driver's own row tuples (no ``Row`` object and no result
    processing per row: at 100,000 rows that costs more than the query). Executed on the session's
    connection as a Core statement; pending ORM changes are flushed first, as the session's own
    ``execute`` would. Call it inside :func:`paused_gc` when converting the rows too."""
    if session.autoflush:
        session.flush()
    with paused_gc():
        result = session.connection().execute(stmt)
        try:
            return list(result.cursor.fetchall())
        finally:
            result.close()


def fetch_int_columns(session: Session, stmt: Executable, width: int) -> list[np.ndarray]:
    """Run ``stmt`` (``width`` integer columns, no NULL) and return its columns as int64 arrays."""
    with paused_gc():
        return int_columns(fetch_rows(session, stmt), width)


def utc_microseconds(session: Session, column: Any) -> Any:
    """What to select for a naive-UTC DATETIME column read as microseconds since 1970 (convert the
    fetched values with :func:`microseconds_of`): :class:`epoch_microseconds`, but on SQLite the
    stored text itself, which numpy parses exactly in a fraction of the time SQLite's strftime takes."""
    return column if session.get_bind().dialect.name == "sqlite" else epoch_microseconds(column)


def microseconds_of(values: Sequence[Any]) -> np.ndarray:
    """int64 microseconds since 1970 of values selected with :func:`utc_microseconds` (integers, or
    SQLite's ISO text); no NULL."""
    if len(values) and isinstance(values[0], str):
        return np.array(values, dtype="datetime64[us]").astype(np.int64)
    return np.fromiter(values, np.int64, len(values))


def equals_most(session: Session, column: Any, value: Any, *, share: float = 0.3) -> ColumnElement[bool]:
    """``column == value`` for a query that reads every row where it holds; on SQLite, written so the
    table is scanned instead of searched through an index on ``column`` when those rows are more than
    ``share`` of the table.

    Without planner statistics SQLite takes any index on an equality, and reaching most of a table
    through an index costs twice a plain scan (100,000 households of one project: 250 ms instead of
    130 ms). The share is estimated from a count through the index and the highest id of the table
    (``id`` primary keys).
    """
    return in_most(session, column, [value], share=share)


# (database, table, column, values, share) -> (scan or not, when decided): a share changes slowly.
_SCAN: dict[tuple[Any, ...], tuple[bool, float]] = {}
_SCAN_FOR = 300.0  # seconds a decision is kept


def forget_scan_decisions() -> None:
    """Forget the kept decisions of :func:`in_most` (tests that reuse a database)."""
    _SCAN.clear()


def in_most(
    session: Session, column: Any, values: Sequence[Any], *, share: float = 0.3
) -> ColumnElement[bool]:
    """``column IN values``, written for a scan on SQLite when most of the table matches (see
    :func:`equals_most`; the decision is kept for a few minutes per process); no values match
    nothing."""
    if not values:
        return false()
    cond: ColumnElement[bool] = column == values[0] if len(values) == 1 else column.in_(list(values))
    if session.get_bind().dialect.name != "sqlite":
        return cond
    table = column.table
    key = (str(session.get_bind().engine.url), table.name, column.key, tuple(values), share)
    now = time.monotonic()
    known = _SCAN.get(key)
    if known is None or now - known[1] > _SCAN_FOR:
        wanted = session.scalar(select(func.count()).select_from(table).where(cond)) or 0
        highest = session.scalar(select(func.max(table.c.id))) or 0
        known = _SCAN[key] = (wanted > share * highest, now)
        while len(_SCAN) > 256:
            _SCAN.pop(next(iter(_SCAN)))
    if known[0]:
        bare = column + 0  # an expression: no index use
        return bare == values[0] if len(values) == 1 else bare.in_(list(values))  # type: ignore[no-any-return]
    return cond
