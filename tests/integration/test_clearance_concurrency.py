"""Clearance under concurrency on SQLite, PostgreSQL and MariaDB: several desks accept the same
household's vacating at once, or void it while another accepts: one wins, the others get a 409,
and the household ends with exactly one live vacating record and one reward."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.agreement.models import Instalment, VacateRecord
from anju.compensation import service as compensation_service
from anju.db import migrate
from anju.db.session import WRITE_OPTION, is_lock_error, make_engine
from anju.demo.policies import POLICY_DIR
from anju.errors import Conflict
from anju.household import service as household_service
from anju.identity.service import DataScope
from tests.conftest import BACKENDS, clear_data_caches, new_database
from tests.factories import ACTOR, build_world

SOURCE = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
EVERYTHING = DataScope.everything()
DESKS = 8
TODAY = date(2024, 7, 15)


@pytest.fixture(scope="module", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, list[int]]]:
    """A migrated database of the backend with a two-household world and the demo policy."""
    from anju.config import get_settings
    from anju.db.session import get_engine, get_sessionmaker

    tmp: Path = tmp_path_factory.mktemp(f"clearance-{request.param}")
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
        eng = make_engine(url, pool_size=DESKS + 2, max_overflow=0, pool_timeout=120)
        with Session(eng) as db:
            world = build_world(db, households=2, code="VC")
            compensation_service.publish(db, actor=ACTOR, project_id=world.project_id, source=SOURCE)
            db.commit()
        try:
            yield eng, list(world.household_ids)
        finally:
            eng.dispose()
            for cache in caches:
                cache.cache_clear()
            if handle is not None:
                handle.drop()


def _signed_household(engine: Engine, hid: int) -> int:
    with Session(engine, expire_on_commit=False) as db:
        agreement_service.sign(
            db, actor=ACTOR, scope=EVERYTHING, household_id=hid, option="cash", sign_on=date(2024, 4, 20)
        )
        db.commit()
    return hid


def _parallel(n: int, work: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    return results


def _write(engine: Engine, fn: Callable[[Session], Any]) -> str:
    """Run ``fn`` in its own write transaction; 'ok', or the refusal's code. A lock wait past the
    timeout is retried (the web answers it with 409 busy and the desk tries again)."""
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


def _vacate(hid: int, on: date) -> Callable[[Session], Any]:
    return lambda db: agreement_service.record_vacating(
        db,
        actor=ACTOR,
        scope=EVERYTHING,
        household_id=hid,
        vacated_on=on,
        checklist={"emptied": True},
        keys_handed=1,
        inspector="王验收",
        today=TODAY,
    )


def _state(engine: Engine, hid: int) -> tuple[int, list[tuple[str, str]], str]:
    with Session(engine) as db:
        live = int(
            db.scalar(
                select(func.count())
                .select_from(VacateRecord)
                .where(VacateRecord.household_id == hid, VacateRecord.voided_at.is_(None))
            )
            or 0
        )
        rewards = [
            (i.kind, i.status)
            for i in db.scalars(
                select(Instalment)
                .where(Instalment.household_id == hid, Instalment.kind == "reward")
                .order_by(Instalment.id)
            )
        ]
        stage = household_service.get_household(db, scope=EVERYTHING, household_id=hid).status
        return live, rewards, stage


def test_one_of_many_simultaneous_vacatings_wins(engine: tuple[Engine, list[int]]) -> None:
    engine, households = engine
    hid = _signed_household(engine, households[0])
    outcomes = _parallel(DESKS, lambda i: _write(engine, _vacate(hid, date(2024, 5, 22 + i % 3))))
    assert sorted(outcomes) == ["already_vacated"] * (DESKS - 1) + ["ok"]
    assert _state(engine, hid) == (1, [("reward", "due")], "vacated")


def test_voiding_while_others_accept_leaves_one_consistent_answer(engine: tuple[Engine, list[int]]) -> None:
    engine, households = engine
    hid = _signed_household(engine, households[1])
    assert _write(engine, _vacate(hid, date(2024, 5, 25))) == "ok"

    def work(i: int) -> str:
        if i == 0:
            return _write(
                engine,
                lambda db: agreement_service.void_vacating(
                    db, actor=ACTOR, scope=EVERYTHING, household_id=hid, reason="日期录错"
                ),
            )
        return _write(engine, _vacate(hid, date(2024, 6, 10)))

    outcomes = _parallel(4, work)
    assert outcomes[0] == "ok"
    live, rewards, stage = _state(engine, hid)
    # Either a re-acceptance came after the void (one live record, its reward due) or none did.
    if "ok" in outcomes[1:]:
        assert outcomes[1:].count("ok") == 1
        assert (live, rewards, stage) == (1, [("reward", "cancelled"), ("reward", "due")], "vacated")
    else:
        assert (live, rewards, stage) == (0, [("reward", "cancelled")], "signed")
