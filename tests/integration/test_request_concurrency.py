"""Two members of a department take the same request at once (SQLite, PostgreSQL, MariaDB): one
wins, the other gets a 409 and nothing of theirs is written; the same for a resident verifying while
the office's clock closes the request."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from anju.db import migrate
from anju.db.session import WRITE_OPTION, is_lock_error, make_engine
from anju.errors import Conflict
from anju.service_request import service as request_service
from anju.service_request.models import RequestEvent, ServiceRequest
from tests.conftest import BACKENDS, clear_data_caches, new_database
from tests.integration.request_world import T0, RequestWorld, build_requests, file

TAKERS = 2


@pytest.fixture(scope="module", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, RequestWorld]]:
    """A migrated database of the backend with the request world committed."""
    from anju.config import get_settings
    from anju.db.session import get_engine, get_sessionmaker

    tmp: Path = tmp_path_factory.mktemp(f"requests-{request.param}")
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
        eng = make_engine(url, pool_size=TAKERS + 4, max_overflow=0, pool_timeout=120)
        with Session(eng, expire_on_commit=False) as db:
            world = build_requests(db)
            db.commit()
        try:
            yield eng, world
        finally:
            eng.dispose()
            for cache in caches:
                cache.cache_clear()
            if handle is not None:
                handle.drop()


def _parallel(works: list[Callable[[], str]]) -> list[str]:
    barrier = threading.Barrier(len(works))
    results: list[str] = [""] * len(works)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = works[i]()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(works))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    return results


def _write(engine: Engine, fn: Callable[[Session], Any]) -> str:
    """Run ``fn`` in its own write transaction: 'ok', or the refusal's code (lock timeouts retried)."""
    writer = engine.execution_options(**{WRITE_OPTION: True})  # BEGIN IMMEDIATE on SQLite
    for _attempt in range(20):
        try:
            with Session(writer, expire_on_commit=False) as db:
                try:
                    fn(db)
                except Conflict as exc:
                    db.rollback()
                    return exc.code
                db.commit()
                return "ok"
        except OperationalError as exc:
            if not is_lock_error(exc):
                raise
    raise AssertionError("never got the lock")


def _dispatched(engine: Engine, w: RequestWorld) -> int:
    with Session(engine, expire_on_commit=False) as db:
        req = file(db, w).request
        request_service.accept(db, actor=w.desk, request_id=req.id, version=1, now=T0)
        db.commit()
        return req.id


def _rows(engine: Engine, rid: int) -> tuple[str, int, list[tuple[str, int | None]]]:
    with Session(engine) as db:
        req = db.get(ServiceRequest, rid)
        assert req is not None
        events = db.execute(
            select(RequestEvent.action, RequestEvent.actor_user_id)
            .where(RequestEvent.request_id == rid)
            .order_by(RequestEvent.id)
        ).all()
        return req.status, req.version, [(a, u) for a, u in events]


def test_two_members_take_the_same_request(engine: tuple[Engine, RequestWorld]) -> None:
    eng, w = engine
    rid = _dispatched(eng, w)
    takers = [w.dept, w.dept2]
    results = _parallel(
        [
            (
                lambda a=a: _write(
                    eng, lambda db: request_service.take(db, actor=a, request_id=rid, version=2, now=T0)
                )
            )
            for a in takers
        ]
    )
    assert sorted(results) == ["ok", "stale_version"]
    winner = takers[results.index("ok")]
    status, version, events = _rows(eng, rid)
    assert (status, version) == ("in_progress", 3)
    assert events == [("submit", None), ("accept", w.desk.user_id), ("take", winner.user_id)]


def test_two_members_take_without_a_version(engine: tuple[Engine, RequestWorld]) -> None:
    """Without a version the state machine still lets one through: the other finds it in progress."""
    eng, w = engine
    rid = _dispatched(eng, w)
    takers = [w.dept, w.dept2]
    results = _parallel(
        [
            (
                lambda a=a: _write(
                    eng, lambda db: request_service.take(db, actor=a, request_id=rid, version=None, now=T0)
                )
            )
            for a in takers
        ]
    )
    assert sorted(results) == ["illegal_transition", "ok"]
    assert [a for a, _ in _rows(eng, rid)[2]] == ["submit", "accept", "take"]
