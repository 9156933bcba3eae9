"""Flat selection under concurrency on SQLite, PostgreSQL and MariaDB (issue #11 acceptance).

Fifty operator desks (one household each, allowed out of turn) select the same flat at the same
moment, each in its own thread and transaction: exactly one succeeds, the 49 others get "该房源已被
选定：<flat>", and the flat, the selections and the audit agree. Then a randomized run: many desks
select random flats for random households while a supervisor undoes some: no flat is ever held by
two live selections, each flat names its one live selection, and no household exceeds its
entitlement's number of flats.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from anju.audit.models import AuditRecord
from anju.db import migrate
from anju.db.session import WRITE_OPTION, is_lock_error, make_engine
from anju.errors import Conflict
from anju.housing import service as housing_service
from anju.housing.models import Flat, Selection
from tests.conftest import BACKENDS, clear_data_caches, new_database
from tests.integration.selection_world import OFFICER, SUPERVISOR, SelectionWorld, make_event

CLIENTS = 50
# PostgreSQL's default max_connections is 100 and other suites share the server.
CONNECTIONS = {"sqlite": CLIENTS, "postgres": 30, "mariadb": CLIENTS}
MAX_TRIES = 30


@dataclass
class Db:
    backend: str
    engine: Engine

    @property
    def writer(self) -> Engine:
        return self.engine.execution_options(**{WRITE_OPTION: True})  # BEGIN IMMEDIATE on SQLite


@pytest.fixture(params=BACKENDS)
def cdb(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    from anju.config import get_settings
    from anju.db.session import get_engine, get_sessionmaker

    tmp = tmp_path_factory.mktemp(f"selection-{request.param}")
    url, handle = new_database(request.param, tmp)
    caches = (get_settings, get_engine, get_sessionmaker)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ANJU_DATA_DIR", str(tmp / "data"))
        mp.setenv("ANJU_ENV", "test")
        mp.setenv("ANJU_DATABASE_URL", url)
        for cache in caches:
            cache.cache_clear()
        clear_data_caches()
        (tmp / "data").mkdir()
        migrate.upgrade(url)
        engine = make_engine(url, pool_size=CONNECTIONS[request.param], max_overflow=0, pool_timeout=300)
        try:
            yield Db(request.param, engine)
        finally:
            engine.dispose()
            for cache in caches:
                cache.cache_clear()
            if handle is not None:
                handle.drop()


def _setup(
    cdb: Db, code: str, households: int, flats: list[tuple[str, int, int, str, str, float, float]]
) -> SelectionWorld:
    with Session(cdb.engine, expire_on_commit=False) as db:
        sw = make_event(db, households=households, flats=flats, code=code)
        db.commit()
        return sw


def _run_parallel(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` for i in 0..n-1 in threads released together; results in order of i."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors[:3]
    return results


def _with_retry(cdb: Db, fn: Callable[[Session], Any], retries: Counter[str]) -> Any:
    """Run ``fn`` in its own transaction and commit; a lock wait past the timeout is tried again
    (as a desk does after a 409 busy). A domain error is returned, not raised."""
    for _ in range(MAX_TRIES):
        try:
            with Session(cdb.writer, expire_on_commit=False) as db:
                try:
                    out = fn(db)
                except Conflict as exc:
                    db.rollback()
                    return exc
                db.commit()
                return out
        except OperationalError as exc:
            if not is_lock_error(exc):
                raise
            retries["lock"] += 1
    raise AssertionError("never got the lock")


def test_fifty_desks_select_one_flat_at_once_exactly_one_succeeds(cdb: Db) -> None:
    sw = _setup(cdb, "CC", CLIENTS, [("1幢", 1, 1, "101", "A", 70, 60), ("1幢", 1, 2, "201", "A", 70, 60)])
    target = sw.flats["1-1-101"]
    retries: Counter[str] = Counter()

    def select_it(i: int) -> Any:
        return _with_retry(
            cdb,
            lambda db: housing_service.select_flat(
                db,
                actor=OFFICER,
                event_id=sw.event_id,
                household_id=sw.order[i],
                flat_id=target,
                out_of_turn=True,
            ),
            retries,
        )

    results = _run_parallel(CLIENTS, select_it)
    won = [r for r in results if isinstance(r, Selection)]
    lost = [r for r in results if isinstance(r, Conflict)]
    assert (len(won), len(lost)) == (1, CLIENTS - 1), results[:3]
    assert {(c.code, c.message_zh) for c in lost} == {("flat_taken", "该房源已被选定：1-1-101")}
    (winner,) = won
    with Session(cdb.engine) as db:
        flat = db.get(Flat, target)
        assert flat is not None
        assert (flat.status, flat.household_id, flat.selection_id) == (
            "selected",
            winner.household_id,
            winner.id,
        )
        live = list(db.scalars(select(Selection).where(Selection.flat_id == target)))
        assert [(s.id, s.status, s.flat_lock) for s in live] == [(winner.id, "confirmed", target)]
        audits = list(
            db.scalars(
                select(AuditRecord).where(AuditRecord.action == "select", AuditRecord.entity == "selection")
            )
        )
        assert [(a.entity_id, a.household_id) for a in audits] == [(str(winner.id), winner.household_id)]
        other = db.get(Flat, sw.flats["1-1-201"])
        assert other is not None and other.status == "available"
    print(f"\n[{cdb.backend}] {CLIENTS} desks, one flat: lock retries {retries['lock']}")


def test_randomized_run_never_double_books_a_flat(cdb: Db) -> None:
    households, flats, desks, attempts = 24, 16, 12, 10
    rows = [("2幢", 1 + i % 2, 1 + i // 2, f"{1 + i // 2}0{1 + i % 2}", "A", 70, 60) for i in range(flats)]
    sw = _setup(cdb, "CR", households, rows)
    flat_ids = sorted(sw.flats.values())
    retries: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def desk(i: int) -> None:
        rnd = random.Random(1000 + i)
        for _ in range(attempts):
            hid, fid = rnd.choice(sw.order), rnd.choice(flat_ids)
            if rnd.random() < 0.15:  # a supervisor undoes the flat's live selection, if any

                def undo(db: Session, fid: int = fid) -> Any:
                    sid = db.scalar(select(Selection.id).where(Selection.flat_lock == fid))
                    if sid is None:
                        return None
                    return housing_service.undo_selection(
                        db, actor=SUPERVISOR, selection_id=sid, reason="现场更正"
                    )

                out = _with_retry(cdb, undo, retries)
                kind = "undo" if isinstance(out, Selection) else "undo-miss"
            else:
                out = _with_retry(
                    cdb,
                    lambda db, hid=hid, fid=fid: housing_service.select_flat(
                        db,
                        actor=OFFICER,
                        event_id=sw.event_id,
                        household_id=hid,
                        flat_id=fid,
                        out_of_turn=True,
                    ),
                    retries,
                )
                kind = "selected" if isinstance(out, Selection) else f"refused:{out.code}"
            with lock:
                outcomes[kind] += 1

    _run_parallel(desks, desk)
    assert (
        outcomes["selected"] > 0 and outcomes["refused:flat_taken"] + outcomes["refused:selection_rule"] > 0
    ), outcomes
    with Session(cdb.engine) as db:
        live = list(db.scalars(select(Selection).where(Selection.status == "confirmed")))
        per_flat = Counter(s.flat_id for s in live)
        assert max(per_flat.values()) == 1  # never double-booked
        # One person per household under the rural policy: at most one flat each.
        assert max(Counter(s.household_id for s in live).values()) == 1
        for f in db.scalars(select(Flat).where(Flat.id.in_(flat_ids))):
            mine = [s for s in live if s.flat_id == f.id]
            if mine:
                assert (f.status, f.selection_id, f.household_id) == (
                    "selected",
                    mine[0].id,
                    mine[0].household_id,
                )
            else:
                assert (f.status, f.selection_id, f.household_id) == ("available", None, None)
        total = db.scalar(select(func.count()).select_from(Selection))
        undone = db.scalar(select(func.count()).select_from(Selection).where(Selection.status == "undone"))
        assert (total, undone) == (outcomes["selected"], outcomes["undo"])
        assert (
            db.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "select"))
            == total
        )
        assert (
            db.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "undo"))
            == undone
        )
    print(f"\n[{cdb.backend}] randomized: {dict(outcomes)}, lock retries {retries['lock']}")
