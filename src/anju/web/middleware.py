"""One transaction per request: open a session, commit on success, roll back otherwise."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from typing import IO

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from anju.config import get_settings
from anju.db.session import BEFORE_WRITE, is_lock_error, new_session
from anju.i18n import N_, msg

log = logging.getLogger("anju")


_READS = frozenset({"GET", "HEAD"})
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
# POST routes that only read (inline form validation on every change): no write gate or lock.
_READ_ONLY_POSTS = ("/validate/",)
# A request body is kept in memory up to this size while it arrives, then in a temporary file.
_SPOOL_BYTES = 1024 * 1024
_CHUNK = 64 * 1024
# A writer waits this long for the writers queued before it in this process, then gets a 409.
GATE_TIMEOUT_S = 30.0
# A route sets ``request.state.long_lived = True`` for a response that stays open (a live event
# stream): once its status is sent it holds no session and no admission slot (see _Slot).
LONG_LIVED = "long_lived"


class _Slot:
    """An admission slot, handed back at the end of the request or earlier (once)."""

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self.slots = slots
        self.held = False

    async def __aenter__(self) -> _Slot:
        await self.slots.acquire()
        self.held = True
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.release()

    def release(self) -> None:
        if self.held:
            self.held = False
            self.slots.release()


class UnitOfWorkMiddleware:
    """Owns the request's database transaction (a pure ASGI middleware, see ADR 0001 and 0004).

    The commit happens when the route has produced its response status and before a byte of
    the response is sent: a status below 400 commits, anything else rolls back, so a refused or
    failed request writes nothing. A failed commit becomes a 409 when it lost a lock conflict
    (retry later) and a 500 otherwise, never a false success. A route may set
    ``request.state.commit_anyway`` to keep security records (failed-login counters) of a
    refused request.

    Requests with an unsafe method (POST, PUT, PATCH, DELETE) are write units of work:

    - their body is received in full first (spooled to a temporary file beyond 1 MiB), so no
      lock is held while a slow client uploads;
    - one at a time per process passes the *write gate* (waiting writers hold no database
      connection, worker thread or admission slot, so reads are never queued behind them);
    - the transaction begins before the route runs, in a thread of its own: ``BEGIN IMMEDIATE``
      on SQLite, which waits up to the busy timeout for a writer of another process (a CLI
      import, another worker) without blocking the event loop;
    - the commit runs in a thread of its own too: a writer holding locks never waits for a
      worker thread that lock waiters might occupy.
    """

    def __init__(self, app: ASGIApp, max_concurrent: int = 8) -> None:
        self.app = app
        # Requests beyond this wait here, before they hold a database connection: otherwise
        # requests parked on a pool connection can starve those that hold one of a worker thread.
        self.slots = asyncio.Semaphore(max_concurrent)
        self.write_gate = asyncio.Lock()
        # Transaction starts and commits of writers: never queued behind route code.
        self.tx_threads = anyio.CapacityLimiter(2)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        if scope.get("method", "GET") in _SAFE or scope["path"].startswith(_READ_ONLY_POSTS):
            async with _Slot(self.slots) as slot:
                await self._handle(scope, receive, send, write=False, slot=slot)
            return
        body = await self._receive_body(scope, receive, send)
        if body is None:
            return
        try:
            if not await self._enter_gate():
                log.warning("write gate not granted for %s %s", scope.get("method"), scope.get("path"))
                await _busy(scope, receive, send)
                return
            try:
                async with self.slots:
                    await self._handle(scope, _replay(body, receive), send, write=True)
            finally:
                self.write_gate.release()
        finally:
            body.close()

    async def _enter_gate(self) -> bool:
        """Wait up to :data:`GATE_TIMEOUT_S` for the write gate; whether it was granted.

        The gate is never left held by a waiter that gave up: a grant that races the timeout or a
        cancellation is kept (timeout) or handed back (cancellation).
        """
        waiter = asyncio.ensure_future(self.write_gate.acquire())
        try:
            await asyncio.wait({waiter}, timeout=GATE_TIMEOUT_S)
        except asyncio.CancelledError:
            waiter.cancel()
            if waiter.done() and not waiter.cancelled():
                self.write_gate.release()
            raise
        if waiter.done():
            return True
        waiter.cancel()
        try:
            await waiter
        except asyncio.CancelledError:
            return False
        return True  # granted just as it was given up: keep it (the caller releases it)

    async def _receive_body(self, scope: Scope, receive: Receive, send: Send) -> IO[bytes] | None:
        """The whole request body in a spooled file, or ``None`` when the request is over."""
        limit = (2 * get_settings().max_upload_mb + 1) * 1024 * 1024
        spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                spool.close()
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                spool.close()
                await _too_large(scope, send, get_settings().max_upload_mb)
                return None
            spool.write(chunk)
            if not message.get("more_body", False):
                spool.seek(0)
                return spool

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, *, write: bool, slot: _Slot | None = None
    ) -> None:
        session = new_session(write=write)
        state = scope.setdefault("state", {})
        state["db"] = session
        finished = False
        replaced = False  # the commit failed and an error was sent instead of the route's response
        gate_held = False  # a read that came to write (an audited export) queued at the gate

        def before_write() -> None:
            # Called in the route's thread before a read first writes: wait at the write gate
            # (first come, first served, a few short writes) instead of in SQLite's busy handler,
            # which other writers can overtake for seconds while this thread is held.
            nonlocal gate_held
            try:
                granted = anyio.from_thread.run(self._enter_gate)
            except RuntimeError:  # not in a worker thread: the database's own wait applies
                return
            if not granted:
                from anju.web.errors import busy_error

                raise busy_error()
            gate_held = True

        def release_gate() -> None:
            nonlocal gate_held
            if gate_held:
                gate_held = False
                self.write_gate.release()

        if not write:
            session.info[BEFORE_WRITE] = before_write

        if write and session.get_bind().dialect.name == "sqlite":
            try:
                # BEGIN IMMEDIATE now, off the event loop: dependencies that run on the loop
                # (the session cookie lookup) would otherwise wait there for the write lock.
                await anyio.to_thread.run_sync(session.connection, limiter=self.tx_threads)
            except Exception as exc:
                session.close()
                if not is_lock_error(exc):
                    raise
                log.warning(
                    "write lock not granted for %s %s: %s", scope.get("method"), scope.get("path"), exc
                )
                await _busy(scope, receive, send)
                return

        async def send_after_commit(message: Message) -> None:
            nonlocal finished, replaced
            if replaced:
                return  # drop the route's body: the client already has the error
            if message["type"] == "http.response.start" and not finished:
                finished = True
                ok = message["status"] < 400 or state.get("commit_anyway", False)
                try:
                    if ok and not write and scope.get("method") in _READS:
                        # A read's commit ends a transaction that wrote nothing (or next to
                        # nothing): cheaper here than a hop to a worker thread and back.
                        session.commit()
                    elif ok and write:
                        await anyio.to_thread.run_sync(session.commit, limiter=self.tx_threads)
                    elif ok:
                        await run_in_threadpool(session.commit)
                    else:
                        session.rollback()
                    release_gate()
                except Exception as exc:
                    session.rollback()
                    release_gate()
                    replaced = True
                    if is_lock_error(exc):
                        log.warning(
                            "commit lost a lock conflict on %s %s: %s",
                            scope.get("method"),
                            scope.get("path"),
                            exc,
                        )
                        await _busy(scope, receive, send)
                        return
                    log.exception("commit failed on %s %s", scope.get("method"), scope.get("path"))
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 500,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                        }
                    )
                    await send({"type": "http.response.body", "body": N_("保存失败，请重试").encode()})
                    return
                if ok and slot is not None and state.get(LONG_LIVED):
                    session.close()  # the stream's transaction is over: no connection while it runs
                    slot.release()  # nor an admission slot, which would starve other requests
            await send(message)

        try:
            await self.app(scope, receive, send_after_commit)
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            release_gate()


def _replay(body: IO[bytes], receive: Receive) -> Receive:
    """A ``receive`` that hands the app the buffered body, then waits on the client as before."""
    done = False

    async def replay() -> Message:
        nonlocal done
        if done:
            return await receive()
        chunk = body.read(_CHUNK)
        more = len(chunk) == _CHUNK
        if not more:
            done = True
        return {"type": "http.request", "body": chunk, "more_body": more}

    return replay


async def _busy(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer with the lock-conflict 409 (JSON or page, as the errors module renders it)."""
    from anju.web.errors import busy_error, domain_error_response

    response = domain_error_response(Request(scope, receive), busy_error())
    await response(scope, receive, send)


async def _too_large(scope: Scope, send: Send, limit_mb: int) -> None:
    body = msg("上传内容过大：单次请求不能超过 {limit_mb} MB", limit_mb=limit_mb).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})
