"""The live hub across processes: PostgreSQL LISTEN/NOTIFY (events sent inside the committing
transaction) and Redis pub/sub. A write committed by another process reaches the subscribers of
every hub; a rolled-back one reaches none; a listener that loses its connection comes back by itself
and tells its subscribers to resync."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from anju.config import Settings
from anju.db.events import ChangeEvent
from anju.web import live
from tests.conftest import ServerDatabase, run_async, unavailable

ROOT = Path(__file__).resolve().parents[2]

# Run in a separate process: a write that queues events, committed or rolled back.
WRITER = """
import sys
import time
from sqlalchemy import text
from sqlalchemy.orm import Session
import anju.web.live  # installs the before-commit hook (pg_notify inside the transaction)
from anju.db import events
from anju.db.session import make_engine

url, topic, kind, commit = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
engine = make_engine(url)
with Session(engine) as s:
    s.execute(text("SELECT 1"))
    for _ in range(50):
        events.notify(s, topic=topic, kind=kind, data={"household_id": 1})
    s.commit() if commit else s.rollback()
print(time.time())
engine.dispose()
"""


def _write(url: str, topic: str, kind: str, *, commit: bool) -> float:
    """Run WRITER in a new process; the time of its commit."""
    p = subprocess.run(
        [sys.executable, "-c", WRITER, url, topic, kind, "1" if commit else "0"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    return float(p.stdout.strip())


@pytest.fixture
def pg_url() -> Iterator[str]:
    server = os.environ.get("ANJU_TEST_POSTGRES_URL")
    if not server:
        unavailable("postgres (set ANJU_TEST_POSTGRES_URL)")
    assert server
    try:
        db = ServerDatabase("postgres", server)
        url = db.create()
    except Exception as exc:
        unavailable(f"postgres server ({exc})")
        raise
    try:
        yield url
    finally:
        db.drop()


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("ANJU_TEST_REDIS_URL")
    if not url:
        unavailable("Redis (set ANJU_TEST_REDIS_URL, e.g. redis://127.0.0.1:6379/15)")
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except Exception as exc:
        unavailable(f"redis server ({exc})")
    return url


async def _batch(sub: live.Subscription, timeout: float = 5.0) -> Any:
    return await sub.next(timeout)


def test_postgres_a_commit_in_another_process_reaches_every_worker_s_hub_and_a_rollback_none(
    pg_url: str, tmp_path: Path
) -> None:
    async def main() -> dict[str, Any]:
        # Two hubs: two worker processes' listeners, each on its own connection.
        hubs = [live.Hub(Settings(data_dir=tmp_path, database_url=pg_url)) for _ in range(2)]
        for h in hubs:
            await h.start()
            assert h.transport == "postgres" and await h.wait_ready(10)
        out: dict[str, Any] = {}
        try:
            async with hubs[0].subscribe("project:9") as a, hubs[1].subscribe("project:9") as b:
                await asyncio.to_thread(_write, pg_url, "project:9", "rolled-back", commit=False)
                out["after_rollback"] = await a.next(1.0)
                writer = asyncio.ensure_future(
                    asyncio.to_thread(_write, pg_url, "project:9", "stage", commit=True)
                )
                out["a"] = await _batch(a, 60)
                received = time.time()
                out["b"] = await _batch(b)
                out["delay"] = received - await writer
                # The listener's connection dies (a database restart): it reconnects, subscribers resync.
                admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
                with admin.connect() as c:
                    killed = c.execute(
                        text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'"
                        )
                    ).scalar()
                admin.dispose()
                out["killed"] = killed
                out["resync"] = await _batch(a, 10)
                assert await hubs[0].wait_ready(10)
                await asyncio.to_thread(_write, pg_url, "project:9", "visit", commit=True)
                out["again"] = await _batch(a, 10)
        finally:
            for h in hubs:
                await h.stop()
        return out

    out = run_async(main())
    print(f"PostgreSQL NOTIFY from another process's commit to a subscriber: {out['delay'] * 1000:.0f} ms")
    assert out["delay"] < 1.0
    assert out["after_rollback"] is None
    for key in ("a", "b"):
        batch = out[key]
        assert isinstance(batch, live.Batch)
        # 50 events of one kind in one transaction: one notification, one batch.
        assert batch.kinds == ("stage",) and batch.count == 1 and batch.resync is False
        assert batch.origins[0] != os.getpid()
    assert out["killed"] == 2
    assert isinstance(out["resync"], live.Batch) and out["resync"].resync is True
    assert isinstance(out["again"], live.Batch) and out["again"].kinds == ("visit",)


def test_postgres_notifications_stay_in_their_database(pg_url: str, tmp_path: Path) -> None:
    server = os.environ["ANJU_TEST_POSTGRES_URL"]
    other = ServerDatabase("postgres", server)
    other_url = other.create()

    async def main() -> Any:
        hub = live.Hub(Settings(data_dir=tmp_path, database_url=pg_url))
        await hub.start()
        try:
            assert await hub.wait_ready(10)
            async with hub.subscribe("project:9") as sub:
                await asyncio.to_thread(_write, other_url, "project:9", "stage", commit=True)
                return await sub.next(1.0)
        finally:
            await hub.stop()

    try:
        assert run_async(main()) is None
    finally:
        other.drop()


def test_redis_a_publish_reaches_every_hub_of_the_same_database_only(redis_url: str, tmp_path: Path) -> None:
    async def main() -> dict[str, Any]:
        db = f"sqlite:///{tmp_path / 'a.db'}"
        same = [live.Hub(Settings(data_dir=tmp_path, database_url=db, redis_url=redis_url)) for _ in range(2)]
        other = live.Hub(Settings(data_dir=tmp_path, database_url=db + "x", redis_url=redis_url))
        for h in [*same, other]:
            await h.start()
            assert h.transport == "redis" and await h.wait_ready(10)
        out: dict[str, Any] = {}
        try:
            async with (
                same[0].subscribe("project:3") as a,
                same[1].subscribe("project:3") as b,
                other.subscribe("project:3") as c,
            ):
                started = time.monotonic()
                same[0].publish(
                    [ChangeEvent("project:3", "stage")] * 20 + [ChangeEvent("project:4", "stage")]
                )
                out["a"], out["b"] = await _batch(a), await _batch(b)
                out["delay"] = time.monotonic() - started
                out["c"] = await c.next(0.5)
                # The subscriber's connection is cut: it comes back and its subscribers resync.
                import redis.asyncio as aioredis

                admin = aioredis.from_url(redis_url)
                for client in await admin.client_list(_type="pubsub"):
                    await admin.client_kill_filter(_id=client["id"])
                await admin.aclose()
                out["resync"] = await _batch(a, 10)
                assert await same[0].wait_ready(10)
                same[1].publish([ChangeEvent("project:3", "visit")])
                out["again"] = await _batch(a, 10)
        finally:
            for h in [*same, other]:
                await h.stop()
        return out

    out = run_async(main())
    print(f"Redis publish to two hubs: {out['delay'] * 1000:.0f} ms")
    for key in ("a", "b"):
        assert out[key] == live.Batch("project:3", ("stage",), 1, (os.getpid(),), False)
    assert out["c"] is None
    assert isinstance(out["resync"], live.Batch) and out["resync"].resync is True
    assert isinstance(out["again"], live.Batch) and "visit" in out["again"].kinds
