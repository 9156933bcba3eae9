"""One transaction per request: open a session, commit on success, roll back otherwise."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response

from anju.db.session import get_sessionmaker


class UnitOfWorkMiddleware(BaseHTTPMiddleware):
    """Owns the request's database transaction.

    A response below 400 commits; anything else rolls back, so a refused or failed request
    writes nothing. A route may set ``request.state.commit_anyway`` to keep security records
    (failed-login counters) of a refused request.
    """

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.url.path.startswith("/static/"):
            return await call_next(request)
        session = get_sessionmaker()()
        request.state.db = session
        try:
            response = await call_next(request)
            if response.status_code < 400 or getattr(request.state, "commit_anyway", False):
                await run_in_threadpool(session.commit)
            else:
                await run_in_threadpool(session.rollback)
            return response
        except BaseException:
            await run_in_threadpool(session.rollback)
            raise
        finally:
            await run_in_threadpool(session.close)
