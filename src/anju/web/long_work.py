"""Long requests (a whole project's ledger export) run on threads of their own, one at a time per process.

Route code runs on a small thread pool (``Settings.threads``, 2 by default). An export of 100,000
households takes minutes under load; two of them on one worker process took both route threads, and
every other request that reached that process waited for minutes (the mixed-load benchmark,
bench/RESULTS.md). Long work therefore queues on a limiter of its own and leaves the route threads free.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import TypeVar

import anyio

T = TypeVar("T")

# One limiter per event loop (a worker process has one; tests start several).
_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _limiter() -> anyio.CapacityLimiter:
    loop = asyncio.get_running_loop()
    limiter = _LIMITERS.get(loop)
    if limiter is None:
        limiter = _LIMITERS[loop] = anyio.CapacityLimiter(1)
    return limiter


async def run_long(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a thread outside the route pool, after the long work queued before it in this process."""
    return await anyio.to_thread.run_sync(fn, limiter=_limiter())
