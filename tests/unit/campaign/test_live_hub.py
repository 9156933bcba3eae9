"""The live hub in one process: subscriptions, coalescing, bounded queues, the hand-off from worker
threads, and events leaving only after a commit."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from anju.config import Settings
from anju.db import events
from anju.db.events import ChangeEvent
from anju.db.session import make_engine
from anju.web import live
from tests.conftest import run_async


def _settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(data_dir=tmp_path, **kw)


def _run(coro: Any) -> Any:
    return run_async(coro)


def test_the_transport_follows_the_settings(tmp_path: Path) -> None:
    assert live.Hub(_settings(tmp_path)).transport == "memory"
    pg = "postgresql+psycopg://u@127.0.0.1/x"
    assert live.Hub(_settings(tmp_path, database_url=pg)).transport == "postgres"
    assert live.Hub(_settings(tmp_path, database_url="mysql+pymysql://u@h/x")).transport == "memory"
    assert (
        live.Hub(_settings(tmp_path, database_url=pg, redis_url="redis://127.0.0.1:6379/0")).transport
        == "redis"
    )
    # The Redis channel is named after the database: servers of two databases never mix.
    a = live.Hub(_settings(tmp_path, database_url=pg, redis_url="redis://x"))
    b = live.Hub(_settings(tmp_path, database_url=pg + "2", redis_url="redis://x"))
    assert a.channel != b.channel and a.channel.startswith("anju:live:")


def test_payloads_round_trip_and_split_below_the_notify_limit() -> None:
    changes = [live.Change(f"project:{i}", "stage", 7) for i in range(500)]
    payloads = live.encode(changes)
    assert len(payloads) > 1
    assert all(len(p.encode()) <= 7000 for p in payloads)
    assert [c for p in payloads for c in live.decode(p)] == changes
    assert live.decode("not json") == []
    assert live.decode(json.dumps([{"x": 1}])) == []


def test_a_transaction_s_events_are_deduplicated_by_topic_and_kind() -> None:
    pending = [ChangeEvent("project:1", "stage", {"household_id": i}) for i in range(300)] + [
        ChangeEvent("project:1", "visit"),
        ChangeEvent("project:2", "stage"),
    ]
    changes = live.changes_of(pending)
    assert [(c.topic, c.kind) for c in changes] == [
        ("project:1", "stage"),
        ("project:1", "visit"),
        ("project:2", "stage"),
    ]


def test_a_burst_reaches_a_subscriber_as_one_batch_and_other_topics_not_at_all(tmp_path: Path) -> None:
    async def main() -> tuple[Any, Any, Any]:
        hub = live.Hub(_settings(tmp_path))
        await hub.start()
        try:
            async with hub.subscribe("project:1") as one, hub.subscribe("project:2") as two:
                assert hub.subscribers("project:1") == 1
                hub.deliver(
                    [live.Change("project:1", "stage", 1)] * 100 + [live.Change("project:1", "visit", 2)]
                )
                batch = await one.next(5)
                quiet = await two.next(0.3)
                after = await one.next(0.3)
            assert hub.subscribers("project:1") == 0
            return batch, quiet, after
        finally:
            await hub.stop()

    batch, quiet, after = _run(main())
    assert batch == live.Batch("project:1", ("stage", "visit"), 101, (1, 2), False)
    assert quiet is None  # nothing for project 2: the stream sends a heartbeat instead
    assert after is None  # the burst was one batch


def test_a_full_queue_keeps_the_newest_and_asks_for_a_resync() -> None:
    async def main() -> Any:
        sub = live.Subscription("project:1", size=4)
        for i in range(10):
            sub.put(live.Change("project:1", f"k{i}", 1))
        return await sub.next(1)

    batch = _run(main())
    assert batch.kinds == ("k6", "k7", "k8", "k9") and batch.count == 4 and batch.resync is True


def test_batches_are_spaced_at_least_min_interval_apart() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        sub = live.Subscription("t")
        times = []
        for _ in range(3):
            sub.put(live.Change("t", "stage", 1))
            await sub.next(5)
            times.append(loop.time())
        return times

    t = _run(main())
    assert t[1] - t[0] >= live.MIN_INTERVAL_S - 0.01 and t[2] - t[1] >= live.MIN_INTERVAL_S - 0.01


def test_stopping_the_hub_ends_every_stream(tmp_path: Path) -> None:
    async def main() -> tuple[Any, Any]:
        hub = live.Hub(_settings(tmp_path))
        await hub.start()
        async with hub.subscribe("project:1") as sub:
            waiting = asyncio.ensure_future(sub.next(30))
            await asyncio.sleep(0.05)
            await hub.stop()
            first = await asyncio.wait_for(waiting, 2)
        async with hub.subscribe("project:1") as late:  # a stream opened while stopping ends at once
            second = await late.next(30)
        return first, second

    assert _run(main()) == (live.CLOSED, live.CLOSED)


def test_events_committed_in_a_worker_thread_reach_the_loop_and_a_rollback_sends_nothing(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")

    def write(commit: bool, kind: str) -> None:
        with Session(engine) as s:
            s.execute(text("SELECT 1"))
            events.notify(s, topic="project:5", kind=kind, data={"n": 1})
            if commit:
                s.commit()
            else:
                s.rollback()

    async def main() -> list[Any]:
        hub = live.Hub(_settings(tmp_path))
        await hub.start()
        got = []
        try:
            async with hub.subscribe("project:5") as sub:
                for commit, kind in ((False, "rolled-back"), (True, "stage")):
                    t = threading.Thread(target=write, args=(commit, kind))
                    t.start()
                    await asyncio.to_thread(t.join)
                    got.append(await sub.next(1.0))
        finally:
            await hub.stop()
        return got

    try:
        rolled_back, committed = _run(main())
    finally:
        engine.dispose()
    assert rolled_back is None
    assert isinstance(committed, live.Batch) and committed.kinds == ("stage",) and committed.count == 1


def test_without_a_running_hub_events_are_dropped(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    seen: list[list[ChangeEvent]] = []
    try:
        with Session(engine) as s:
            events.notify(s, topic="project:1", kind="stage")
            s.commit()  # no publisher installed: nothing to do, no error
        events.set_publisher(seen.append)
        with Session(engine) as s:
            events.notify(s, topic="project:1", kind="stage")
            s.commit()
    finally:
        events.set_publisher(None)
        engine.dispose()
    assert [[e.kind for e in batch] for batch in seen] == [["stage"]]


def test_the_publisher_is_removed_when_the_last_hub_stops(tmp_path: Path) -> None:
    async def main() -> tuple[Any, Any]:
        a, b = live.Hub(_settings(tmp_path)), live.Hub(_settings(tmp_path))
        await a.start()
        await b.start()
        await a.stop()
        during = events._publisher
        await b.stop()
        return during, events._publisher

    during, after = _run(main())
    assert during is not None and after is None
