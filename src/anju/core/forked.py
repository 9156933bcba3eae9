"""Run pure computations in a forked child process, on another CPU core, and collect their results.

A bulk import has CPU work that needs nothing but data already in memory (the census import's
identity-number encryption and audit snapshots). Threads cannot run it beside the import's own
Python work (the GIL), and a spawned process would need that data pickled across; a forked
child simply has it. The child only computes, pickles each result into a pipe as soon as it is
ready and leaves with ``os._exit``: it never touches files, sockets, database connections or
locks that the parent's other threads may hold, and it runs no exit handlers or finalizers (so
the parent's connections are left alone).
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import warnings
from collections.abc import Callable
from typing import Any

_LENGTH = struct.Struct("<Q")


class Forked:
    """Computations running, one after another, in a child process (or, where fork is
    unavailable or not wanted, run in this process when their result is asked for)."""

    def __init__(self, *fns: Callable[[], Any], fork: bool = True) -> None:
        """Start ``fns`` in a child process, in order; with ``fork=False`` (or without fork, as
        on Windows) each runs in this process when :meth:`result` asks for it."""
        self.fns = fns
        self.results: list[Any] = []  # received so far, in order
        self.pid = 0
        self.fd = -1
        self.status = -1  # the child's wait status once reaped
        if not fork or not hasattr(os, "fork"):
            return
        read_fd, write_fd = os.pipe()
        try:
            with warnings.catch_warnings():
                # Python 3.12+ warns about fork in a threaded process; the child only runs fns
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
                for fn in fns:
                    data = pickle.dumps(fn(), protocol=pickle.HIGHEST_PROTOCOL)
                    view = memoryview(_LENGTH.pack(len(data)) + data)
                    while view:
                        view = view[os.write(write_fd, view) :]
                status = 0
            finally:
                os._exit(status)
        os.close(write_fd)
        self.pid, self.fd = pid, read_fd

    def result(self, index: int = 0) -> Any:
        """The result of ``fns[index]``: from the child, or computed here if the child could not
        run it or failed."""
        while len(self.results) <= index:
            frame = self._frame() if self.pid else None
            if frame is None:  # no child, or it stopped: the rest is computed here
                self.results.append(self.fns[len(self.results)]())
            else:
                self.results.append(pickle.loads(frame))
        return self.results[index]

    def cancel(self) -> None:
        """Stop the child and reap it, when its results are no longer wanted; safe to repeat."""
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)  # it holds nothing that needs cleaning up
            self._reap()

    def _frame(self) -> bytes | None:
        head = self._read(_LENGTH.size)
        data = self._read(_LENGTH.unpack(head)[0]) if head is not None else None
        if data is None or len(self.results) + 1 == len(self.fns):
            self._reap()  # the last result, or the child failed
            if self.status != 0:
                return None
        return data

    def _read(self, n: int) -> bytes | None:
        chunks: list[bytes] = []
        while n:
            chunk = os.read(self.fd, min(n, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _reap(self) -> None:
        os.close(self.fd)
        try:
            _, self.status = os.waitpid(self.pid, 0)
        except ChildProcessError:  # reaped by someone else: its outcome is unknown, so not trusted
            self.status = -1
        self.pid, self.fd = 0, -1
