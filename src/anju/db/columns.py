"""Columns read as numbers for numpy, on every supported backend.

Services that aggregate a whole project in memory (campaign progress: 100,000 households) spend
most of their time turning database values into Python ``date``/``datetime`` objects one by one.
These SQL expressions hand back plain integers instead, computed by the database:

- :class:`day_number`: a ``DATE`` as its proleptic Gregorian ordinal (``date.toordinal()``:
  0001-01-01 is 1); NULL stays NULL (wrap in ``func.coalesce(..., 0)``).
- :class:`epoch_microseconds`: a naive-UTC ``DATETIME`` (:class:`anju.db.base.UTCDateTime`) as
  microseconds since 1970-01-01 00:00 UTC.

:func:`fetch_int_columns` reads such a result into int64 arrays without a Python object per value,
and :func:`equals_most` keeps SQLite from reaching most of a table through an index.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, ColumnElement, Executable, Integer, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

__all__ = ["day_number", "epoch_microseconds", "equals_most", "fetch_int_columns", "int_columns"]

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


def int_columns(rows: Any, width: int) -> list[np.ndarray]:
    """The ``width`` columns of ``rows`` (a result or a list of rows whose values are all integers, no
    NULL: coalesce in SQL) as int64 arrays, without a Python object per value."""
    data = rows if isinstance(rows, list) else list(rows)
    flat = np.fromiter(chain.from_iterable(data), dtype=np.int64, count=len(data) * width)
    table = flat.reshape(len(data), width)
    return [np.ascontiguousarray(table[:, k]) for k in range(width)]


def fetch_int_columns(session: Session, stmt: Executable, width: int) -> list[np.ndarray]:
    """Run ``stmt`` (integer columns, no NULL) and return its ``width`` columns as int64 arrays.

    Executed on the session's connection as a Core statement (the ORM's per-row result processing
    costs more than the query at 100,000 rows); pending ORM changes are flushed first, as the
    session's own ``execute`` would.
    """
    if session.autoflush:
        session.flush()
    return int_columns(session.connection().execute(stmt).all(), width)


def equals_most(session: Session, column: Any, value: Any, *, share: float = 0.3) -> ColumnElement[bool]:
    """``column == value`` for a query that reads every row where it holds; on SQLite, written so the
    table is scanned instead of searched through an index on ``column`` when those rows are more than
    ``share`` of the table.

    Without planner statistics SQLite takes any index on an equality, and reaching most of a table
    through an index costs twice a plain scan (100,000 households of one project: 250 ms instead of
    130 ms). The share is estimated from a count through the index and the highest id of the table
    (``id`` primary keys).
    """
    if session.get_bind().dialect.name != "sqlite":
        return column == value  # type: ignore[no-any-return]
    table = column.table
    wanted = session.scalar(select(func.count()).select_from(table).where(column == value)) or 0
    highest = session.scalar(select(func.max(table.c.id))) or 0
    if wanted > share * highest:
        return column + 0 == value  # type: ignore[no-any-return]  # an expression: no index use
    return column == value  # type: ignore[no-any-return]
