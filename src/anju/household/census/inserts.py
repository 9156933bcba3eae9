"""Census import part: the bulk INSERT machinery: statements compiled once, values converted by the column
types' own bind processors, run in order on a thread of their own.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from itertools import chain, repeat
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from anju.household.census.spec import BATCH

__all__: list[str] = []  # used by the other parts only


# rows per multi-row INSERT on SQLite: ``executemany`` retook the GIL after every row and starved the
# insert thread (bench/RESULTS.md, "Census import", session 3: part of 4.99x -> 2.96x); 5,000 rows
# measured no better than 500.
_MULTIROW = 500


# Types whose equal values are interchangeable (unlike Decimal("1.0") == Decimal("1.00")), so a
# bind processor's result can be shared between equal values of a column.
_FEW_VALUES = frozenset({bool, type(None), date, str})


def _sqlite_date_text(v: Any) -> Any:
    """The text Python's sqlite3 module stores for a date or datetime parameter (its default
    adapters: ``isoformat()`` and ``isoformat(" ")``), given here once per distinct value instead
    of by an adapter call per row on the insert thread. SQLAlchemy leaves these to the driver."""
    if v.__class__ is datetime:
        return v.isoformat(" ")
    if v.__class__ is date:
        return v.isoformat()
    return v


def _holds_dates(type_: Any) -> bool:
    try:
        return type_.python_type in (date, datetime)
    except NotImplementedError:
        return False


class _Same:
    """A column value shared by every row of an insert (converted for the driver once)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class _Writer:
    """Runs an import's INSERTs in order on a second thread while this thread prepares the next table.

    The drivers release the GIL while the database works (SQLite's B-tree inserts, a server's
    round trips), so converting and hashing the next rows overlaps with storing the previous
    ones. The connection is used by one thread at a time: the caller reads from the database
    only after :meth:`wait`, and :meth:`close` re-raises the first error of the thread.
    """

    def __init__(self, session: Session, tick: Callable[[int], None]) -> None:
        self.conn = session.connection()
        self.tick = tick
        self.jobs: queue.SimpleQueue[tuple[str, Any, int] | threading.Event | None] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="census-insert", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            if isinstance(job, threading.Event):
                job.set()
                continue
            if self.error is not None:
                continue
            sql, params, rows = job
            try:
                self.conn.exec_driver_sql(sql, params)
                self.tick(rows)
            except BaseException as exc:  # handed to the importing thread by wait()/close()
                self.error = exc

    def insert(self, table: Any, columns: Mapping[str, list[Any] | _Same], n: int) -> None:
        """Queue a bulk INSERT of ``n`` rows given column by column (``executemany`` in batches).

        The statement is compiled once for the dialect and the column types' own bind
        processors convert the values (dates, UTC datetimes, areas, booleans), so the rows are
        stored exactly as the ORM would store them; a value shared by all rows (``_Same``) is
        converted once. Skipping SQLAlchemy's per-row parameter assembly roughly halves the write.
        """
        if not n:
            return
        dialect = self.conn.dialect
        keys = list(columns)
        compiled = insert(table).compile(dialect=dialect, column_keys=keys)
        sql = str(compiled)
        ready: dict[str, Iterable[Any]] = {}
        text = _sqlite_date_text if dialect.name == "sqlite" and dialect.driver == "pysqlite" else None
        for k, col in columns.items():
            p = table.c[k].type.bind_processor(dialect)
            if isinstance(col, _Same):
                v = p(col.value) if p is not None else col.value
                ready[k] = repeat(text(v) if text is not None else v, n)
            elif p is None and (text is None or not _holds_dates(table.c[k].type)):
                ready[k] = col
            elif set(map(type, col)) <= _FEW_VALUES:
                # booleans, dates, codes: convert each distinct value once
                converted = {v: p(v) if p is not None else v for v in set(col)}
                if text is not None:
                    converted = {v: text(c) for v, c in converted.items()}
                ready[k] = list(map(converted.__getitem__, col))
            elif p is None:
                ready[k] = list(map(_sqlite_date_text, col))
            else:
                ready[k] = list(map(p, col))
        params: list[Any]
        if compiled.positional:
            params = list(zip(*[ready[k] for k in compiled.positiontup or ()], strict=False))
        else:
            params = [
                dict(zip(keys, values, strict=True))
                for values in zip(*[ready[k] for k in keys], strict=False)
            ]
        width = len(compiled.positiontup or ())
        per_statement = self._rows_per_statement(sql, width) if compiled.positional else 0
        if per_statement > 1:
            self._queue_multirow(sql, params, per_statement)
            return
        for start in range(0, n, BATCH):
            chunk = params[start : start + BATCH]
            self.jobs.put((sql, chunk, len(chunk)))

    def _rows_per_statement(self, sql: str, width: int) -> int:
        """How many rows one multi-row INSERT may carry on SQLite (0 elsewhere).

        ``executemany`` takes the GIL back after every row that SQLite stores, and while this
        thread prepares the next table it holds the GIL for up to the switch interval each
        time: one statement of many rows takes it back once per few hundred rows instead.
        (psycopg pipelines ``executemany``; PyMySQL already rewrites it to multi-row VALUES.)
        """
        if self.conn.dialect.name != "sqlite" or " VALUES (" not in sql:
            return 0
        import sqlite3

        getlimit = getattr(self.conn.connection.dbapi_connection, "getlimit", None)
        limit = getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if getlimit is not None else 999
        return min(_MULTIROW, int(limit) // max(1, width))

    def _queue_multirow(self, sql: str, params: list[Any], per_statement: int) -> None:
        head, group = sql.split(" VALUES ", 1)
        statements: dict[int, str] = {}
        for start in range(0, len(params), per_statement):
            rows = params[start : start + per_statement]
            text = statements.get(len(rows))
            if text is None:
                text = statements[len(rows)] = f"{head} VALUES {', '.join([group] * len(rows))}"
            self.jobs.put((text, tuple(chain.from_iterable(rows)), len(rows)))

    def wait(self) -> None:
        """Return once every queued INSERT has run; raise the first error."""
        done = threading.Event()
        self.jobs.put(done)
        while not done.wait(0.5):
            if not self.thread.is_alive():  # pragma: no cover - the thread only ends on close()
                break
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Stop the thread (after the queued INSERTs) and raise the first error."""
        if self.thread.is_alive():
            self.jobs.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error
