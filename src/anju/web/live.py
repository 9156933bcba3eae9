"""The live hub: change events of committed writes, fanned out to live pages (big screens, consoles).

A service queues events in its transaction (:func:`anju.db.events.notify`); nothing leaves before the
commit and a rollback drops them. Each server process runs one :class:`Hub` (started in the app's
lifespan) that receives those events and hands them to the subscribers of their topic
(``project:12`` ...), in every worker process, through one of three transports:

- **PostgreSQL** (the database is PostgreSQL): the events of a transaction are sent with
  ``pg_notify`` *inside* that transaction (a ``before_commit`` hook), so PostgreSQL delivers them
  exactly when, and only if, the transaction commits: no window between commit and publish in which a
  crash loses them, no extra connection per write, and identical notifications of one transaction are
  merged by the server. Each process keeps one listening connection (``LISTEN anju_live``) and
  reconnects by itself; a write made by any process on the database (a CLI job too, where its hook is
  installed) reaches every screen. The channel lives in the database, so two databases on one server
  never mix.
- **Redis** (``ANJU_REDIS_URL`` is set; it takes precedence): after the commit the events are
  published on a channel named after the database (``anju:live:<hash of the database URL>``, so
  servers of different databases sharing one Redis never mix) and every process subscribes to it.
- **In-process** (the SQLite default, and MariaDB): events reach the screens served by the same
  process only (run a single worker, or configure Redis).

Events come from the thread that committed (route code runs in worker threads), so they are handed
to the event loop with ``call_soon_threadsafe``; everything else happens on the loop.

A subscriber (one SSE stream) has a bounded queue and receives *batches*: a burst of 500 events on
its topic becomes a message or two ("project 12 changed: stage, visit"), never 500; a subscriber
that falls behind loses the oldest entries and is told to refetch everything. After a transport
reconnects (events may have been missed meanwhile) every subscriber gets a ``resync``.

When the server is told to stop (SIGTERM/SIGINT) every stream ends at once, so the server's graceful
shutdown does not wait on open streams; the browsers reconnect to the new server by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from anju.config import Settings
from anju.db import events
from anju.db.events import ChangeEvent

log = logging.getLogger("anju.live")

PG_CHANNEL = "anju_live"
#: Seconds a subscriber waits after the first event of a burst for the rest of it.
COALESCE_S = 0.05
#: A subscriber gets at most one batch per this many seconds (a storm of writes moves a screen
#: at this rate, and its refetches with it).
MIN_INTERVAL_S = 0.3
#: Entries a subscriber keeps between two batches; beyond, the oldest go and the batch says "resync".
QUEUE_SIZE = 256
#: Largest NOTIFY payload sent (PostgreSQL's limit is 8000 bytes); more events go in several.
_PG_PAYLOAD = 7000
_RECONNECT_MAX_S = 5.0
_COMPACT = (",", ":")

TRANSPORTS = ("memory", "postgres", "redis")


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change as it travels between processes: topic, kind, and the pid that wrote it."""

    topic: str
    kind: str
    origin: int

    def wire(self) -> dict[str, Any]:
        return {"t": self.topic, "k": self.kind, "p": self.origin}


@dataclass(frozen=True, slots=True)
class Batch:
    """What a subscriber receives: the kinds of change on its topic since the last batch.

    ``resync`` means changes may have been missed (a queue overflow or a transport reconnect): the
    client should refetch everything (a big screen always does).
    """

    topic: str
    kinds: tuple[str, ...]
    count: int
    origins: tuple[int, ...]
    resync: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "kinds": list(self.kinds),
            "count": self.count,
            "origins": list(self.origins),
            "resync": self.resync,
        }


CLOSED = object()
"""Returned by :meth:`Subscription.next` when the hub stops (the stream should end)."""


def changes_of(pending: Iterable[ChangeEvent]) -> list[Change]:
    """The distinct (topic, kind) pairs of a transaction's events, in first-seen order."""
    pid = os.getpid()
    seen: dict[tuple[str, str], Change] = {}
    for e in pending:
        seen.setdefault((e.topic, e.kind), Change(e.topic, e.kind, pid))
    return list(seen.values())


def encode(changes: list[Change], limit: int = _PG_PAYLOAD) -> list[str]:
    """JSON payloads of at most ``limit`` bytes carrying ``changes`` (several when there are many)."""
    out: list[str] = []
    chunk: list[dict[str, Any]] = []
    size = 2
    for c in changes:
        item = c.wire()
        n = len(json.dumps(item, ensure_ascii=False, separators=_COMPACT).encode()) + 1
        if chunk and size + n > limit:
            out.append(json.dumps(chunk, ensure_ascii=False, separators=_COMPACT))
            chunk, size = [], 2
        chunk.append(item)
        size += n
    if chunk:
        out.append(json.dumps(chunk, ensure_ascii=False, separators=_COMPACT))
    return out


def decode(payload: str | bytes) -> list[Change]:
    """The changes of a payload from another process; an unreadable payload gives none."""
    try:
        items = json.loads(payload)
        return [Change(str(i["t"]), str(i["k"]), int(i.get("p", 0))) for i in items]
    except (ValueError, TypeError, KeyError):
        log.warning("live: unreadable payload dropped: %.200r", payload)
        return []


class Subscription:
    """One client's view of a topic: a bounded queue of changes, read as coalesced batches."""

    def __init__(self, topic: str, *, size: int = QUEUE_SIZE) -> None:
        self.topic = topic
        self._queue: deque[Change] = deque(maxlen=size)
        self._resync = False
        self._closed = False
        self._wake = asyncio.Event()
        self._last = 0.0

    def put(self, change: Change) -> None:
        """Queue a change (on the loop); a full queue drops its oldest and marks a resync."""
        if len(self._queue) == self._queue.maxlen:
            self._resync = True
        self._queue.append(change)
        self._wake.set()

    def resync(self) -> None:
        """Changes may have been missed: the next batch tells the client to refetch everything."""
        self._resync = True
        self._wake.set()

    def close(self) -> None:
        self._closed = True
        self._wake.set()

    @property
    def closed(self) -> bool:
        return self._closed

    async def next(self, timeout: float) -> Batch | object | None:
        """The next batch; ``None`` after ``timeout`` seconds without one; :data:`CLOSED` at the end.

        After the first change it waits :data:`COALESCE_S` for the rest of a burst, and never
        returns batches closer together than :data:`MIN_INTERVAL_S`.
        """
        if not self._wake.is_set():
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                return None
        if self._closed:
            return CLOSED
        delay = max(COALESCE_S, self._last + MIN_INTERVAL_S - time.monotonic())
        await asyncio.sleep(delay)
        if self._closed:
            return CLOSED
        changes = list(self._queue)
        self._queue.clear()
        resync, self._resync = self._resync, False
        self._wake.clear()
        self._last = time.monotonic()
        return Batch(
            topic=self.topic,
            kinds=tuple(dict.fromkeys(c.kind for c in changes)),
            count=len(changes),
            origins=tuple(dict.fromkeys(c.origin for c in changes)),
            resync=resync,
        )


class Hub:
    """One process's fan-out of committed changes to its subscribers (see the module text)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = settings.effective_database_url
        if settings.redis_url:
            self.transport = "redis"
        elif make_url(url).get_backend_name() == "postgresql":
            self.transport = "postgres"
        else:
            self.transport = "memory"
        self.database_url = url
        self.channel = "anju:live:" + hashlib.sha256(url.encode()).hexdigest()[:16]
        self._subs: dict[str, set[Subscription]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listening = asyncio.Event()
        self._closing = False
        self._redis: Any = None
        self._signals: dict[int, Any] = {}

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the transport's listener (on the running loop) and take the committed events."""
        self._loop = asyncio.get_running_loop()
        if self.transport == "postgres":
            self._spawn(self._listen_postgres())
        elif self.transport == "redis":
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(self.settings.redis_url, health_check_interval=30)
            self._spawn(self._listen_redis())
        else:
            self._listening.set()
            if multiprocessing.current_process().name == "anju-worker":  # `anju serve --workers N`
                log.warning(
                    "live: several server workers without PostgreSQL or ANJU_REDIS_URL: a big screen only "
                    "sees the writes handled by its own worker (and refetches every minute); set ANJU_REDIS_URL"
                )
        _install(self)
        self._chain_signals()
        if self.transport != "memory" and not await self.wait_ready(3.0):
            log.warning("live: the %s listener is not up yet; it keeps trying", self.transport)

    async def wait_ready(self, timeout: float = 10.0) -> bool:
        """Whether the transport listens (within ``timeout`` seconds); for tests and start-up."""
        try:
            await asyncio.wait_for(self._listening.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        """End every stream, stop listening, and take no more events."""
        _uninstall(self)
        self._restore_signals()
        self.close_streams()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
            self._redis = None

    def close_streams(self) -> None:
        """End every open stream now (the server is going down; browsers reconnect)."""
        self._closing = True
        for subs in self._subs.values():
            for sub in subs:
                sub.close()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _chain_signals(self) -> None:
        """On SIGTERM/SIGINT end the streams first, then do what the server does on that signal.

        The server's graceful shutdown waits for open responses to finish; an event stream never
        does by itself. Only in the main thread (where the server installed its handlers).
        """
        if threading.current_thread() is not threading.main_thread():
            return
        loop = self._loop
        assert loop is not None
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)

            def handler(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(self.close_streams)
                if callable(previous):
                    previous(signum, frame)
                elif previous == signal.SIG_DFL:
                    signal.signal(signum, signal.SIG_DFL)
                    signal.raise_signal(signum)

            self._signals[sig] = (previous, handler)
            signal.signal(sig, handler)

    def _restore_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, (previous, handler) in self._signals.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, previous)
        self._signals.clear()

    # -- subscribers --------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[Subscription]:
        """A subscription to ``topic`` for the duration of the block (one per client)."""
        sub = Subscription(topic)
        if self._closing:
            sub.close()
        self._subs.setdefault(topic, set()).add(sub)
        try:
            yield sub
        finally:
            subs = self._subs.get(topic)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[topic]

    def subscribers(self, topic: str) -> int:
        """How many clients follow ``topic`` in this process."""
        return len(self._subs.get(topic, ()))

    def deliver(self, changes: Iterable[Change]) -> None:
        """Hand ``changes`` to this process's subscribers (on the loop)."""
        for c in changes:
            for sub in self._subs.get(c.topic, ()):
                sub.put(c)

    def _resync_all(self) -> None:
        for subs in self._subs.values():
            for sub in subs:
                sub.resync()

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, pending: list[ChangeEvent]) -> None:
        """Take the events of a committed transaction (from any thread)."""
        if self.transport == "postgres":
            return  # sent by pg_notify inside the transaction itself (see _notify_in_transaction)
        changes = changes_of(pending)
        loop = self._loop
        if not changes or loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (shutdown)
            loop.call_soon_threadsafe(self._send, changes)

    def _send(self, changes: list[Change]) -> None:
        if self.transport == "redis" and self._redis is not None:
            self._spawn(self._publish_redis(changes))
        else:
            self.deliver(changes)

    async def _publish_redis(self, changes: list[Change]) -> None:
        try:
            for payload in encode(changes, limit=1 << 20):
                await self._redis.publish(self.channel, payload)
        except Exception as exc:
            # Redis is away: this process's screens still move; the others resync when it returns.
            log.warning("live: redis publish failed (%s); delivered in this process only", exc)
            self.deliver(changes)

    def receive(self, payload: str | bytes) -> None:
        """A payload from the transport (on the loop)."""
        self.deliver(decode(payload))

    # -- listeners ----------------------------------------------------------------------------

    async def _listen_postgres(self) -> None:
        import psycopg

        dsn = make_url(self.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        backoff = 0.2
        connected_before = False
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    dsn,
                    autocommit=True,
                    keepalives=1,
                    keepalives_idle=30,
                    keepalives_interval=10,
                    keepalives_count=3,
                )
                async with conn:
                    await conn.execute(f"LISTEN {PG_CHANNEL}")
                    if connected_before:
                        self._resync_all()
                        log.info("live: PostgreSQL listener reconnected")
                    connected_before = True
                    backoff = 0.2
                    self._listening.set()
                    async for note in conn.notifies():
                        self.receive(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live: PostgreSQL listener lost (%s); reconnecting in %.1f s", exc, backoff)
            self._listening.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _RECONNECT_MAX_S)

    async def _listen_redis(self) -> None:
        backoff = 0.2
        connected_before = False
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if connected_before:
                    self._resync_all()
                    log.info("live: Redis subscriber reconnected")
                connected_before = True
                backoff = 0.2
                self._listening.set()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.receive(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live: Redis subscriber lost (%s); reconnecting in %.1f s", exc, backoff)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            self._listening.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _RECONNECT_MAX_S)


# -- the process's hubs and the hooks into the session --------------------------------------------

_hubs: list[Hub] = []
_lock = threading.Lock()


def _install(hub: Hub) -> None:
    with _lock:
        _hubs.append(hub)
        events.set_publisher(_publish_to_hubs)


def _uninstall(hub: Hub) -> None:
    with _lock:
        if hub in _hubs:
            _hubs.remove(hub)
        if not _hubs:
            events.set_publisher(None)


def _publish_to_hubs(pending: list[ChangeEvent]) -> None:
    for hub in list(_hubs):
        hub.publish(pending)


@event.listens_for(Session, "before_commit")
def _notify_in_transaction(session: Session) -> None:
    """On PostgreSQL, send the transaction's events with ``pg_notify`` as its last statements:
    PostgreSQL delivers them to the listeners when (and only if) the transaction commits.

    Also in a process without a hub (a CLI job that imported this module), so its writes reach the
    screens; not where this process's hubs use Redis instead.
    """
    pending: list[ChangeEvent] = session.info.get(events._PENDING) or []
    if not pending or session.get_bind().dialect.name != "postgresql":
        return
    hubs = list(_hubs)
    if hubs and not any(h.transport == "postgres" for h in hubs):
        return
    for payload in encode(changes_of(pending)):
        session.execute(select(func.pg_notify(PG_CHANNEL, payload)))


def hub_of(app_state: Any) -> Hub | None:
    """The hub the app's lifespan started (``None`` when it did not run, e.g. in some tests)."""
    hub: Hub | None = getattr(app_state, "live_hub", None)
    return hub


@contextlib.asynccontextmanager
async def running(app_state: Any, settings: Settings) -> AsyncIterator[Hub]:
    """Run a hub for the app's lifespan (kept on ``app.state.live_hub``)."""
    hub = Hub(settings)
    await hub.start()
    app_state.live_hub = hub
    try:
        yield hub
    finally:
        await hub.stop()
        app_state.live_hub = None
