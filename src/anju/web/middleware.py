"""One transaction per request: open a session, commit on success, roll back otherwise."""

from __future__ import annotations

import asyncio
import logging

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from anju.db.session import get_sessionmaker

log = logging.getLogger("anju")


_READS = frozenset({"GET", "HEAD"})


class UnitOfWorkMiddleware:
    """Owns the request's database transaction (a pure ASGI middleware, see ADR 0001).

    The commit happens when the route has produced its response status and before a byte of
    the response is sent: a status below 400 commits, anything else rolls back, so a refused or
    failed request writes nothing and a failed commit becomes a 500 instead of a false success.
    A route may set ``request.state.commit_anyway`` to keep security records (failed-login
    counters) of a refused request.
    """

    def __init__(self, app: ASGIApp, max_concurrent: int = 8) -> None:
        self.app = app
        # Requests beyond this wait here, before they hold a database connection: otherwise
        # requests parked on a pool connection can starve those that hold one of a worker thread.
        self.slots = asyncio.Semaphore(max_concurrent)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        async with self.slots:
            await self._handle(scope, receive, send)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = get_sessionmaker()()
        state = scope.setdefault("state", {})
        state["db"] = session
        finished = False
        replaced = False  # the commit failed and a 500 was sent instead of the route's response

        async def send_after_commit(message: Message) -> None:
            nonlocal finished, replaced
            if replaced:
                return  # drop the route's body: the client already has the 500
            if message["type"] == "http.response.start" and not finished:
                finished = True
                ok = message["status"] < 400 or state.get("commit_anyway", False)
                try:
                    if ok and scope.get("method") in _READS:
                        # A read's commit ends a transaction that wrote nothing (or next to
                        # nothing): cheaper here than a hop to a worker thread and back.
                        session.commit()
                    elif ok:
                        await run_in_threadpool(session.commit)
                    else:
                        session.rollback()
                except Exception:
                    log.exception("commit failed on %s %s", scope.get("method"), scope.get("path"))
                    session.rollback()
                    message = {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                    }
                    replaced = True
                    await send(message)
                    await send({"type": "http.response.body", "body": "保存失败，请重试".encode()})
                    return
            await send(message)

        try:
            await self.app(scope, receive, send_after_commit)
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
