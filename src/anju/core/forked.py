"""Run a pure computation in a forked child process, on another CPU core, and collect its result.

A bulk import has CPU work that needs nothing but data already in memory (the census import's
audit snapshots). Threads cannot run it beside the import's own Python work (the GIL), and a
spawned process would need that data pickled across; a forked child simply has it. The child
only computes, pickles the result into a pipe and leaves with ``os._exit``: it never touches
files, sockets, database connections or locks that the parent's other threads may hold, and it
runs no exit handlers or finalizers (so the parent's connections are left alone).
"""

from __future__ import annotations

import os
import pickle
import signal
import warnings
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Forked(Generic[T]):
    """A computation running in a child process (or, where fork is unavailable, not yet run)."""

    def __init__(self, fn: Callable[[], T], *, fork: bool = True) -> None:
        """Start ``fn()`` in a child process; with ``fork=False`` (or without fork, as on Windows)
        it runs in this process when :meth:`result` is called."""
        self.fn = fn
        self.pid = 0
        self.fd = -1
        self.status = -1  # the child's wait status once reaped
        if not fork or not hasattr(os, "fork"):
            return
        read_fd, write_fd = os.pipe()
        try:
            with warnings.catch_warnings():
                # Python 3.12+ warns about fork in a threaded process; the child only runs fn
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            return
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            status = 1
            try:
                os.close(read_fd)
                data = pickle.dumps(fn(), protocol=pickle.HIGHEST_PROTOCOL)
                view = memoryview(data)
                while view:
                    view = view[os.write(write_fd, view) :]
                status = 0
            finally:
                os._exit(status)
        os.close(write_fd)
        self.pid, self.fd = pid, read_fd

    def result(self) -> T:
        """Wait for the child's result; computed here instead if the child could not run or failed."""
        if not self.pid:
            return self.fn()
        chunks: list[bytes] = []
        try:
            while chunk := os.read(self.fd, 1 << 20):
                chunks.append(chunk)
        finally:
            self._reap()
        if self.status == 0 and chunks:
            result: T = pickle.loads(b"".join(chunks))
            return result
        return self.fn()

    def cancel(self) -> None:
        """Stop the child and reap it, when its result is no longer wanted; safe to repeat."""
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)  # it holds nothing that needs cleaning up
            self._reap()

    def _reap(self) -> None:
        os.close(self.fd)
        _, self.status = os.waitpid(self.pid, 0)
        self.pid, self.fd = 0, -1
