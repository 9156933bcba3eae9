"""Several server processes on one port, for ``anju serve --workers N``.

Each worker opens its own listening socket on the port with ``SO_REUSEPORT``, so the kernel spreads
new connections over the workers. With one shared socket (uvicorn's multi-process mode) every
worker waits on the same socket and the event loop that wakes first accepts all pending
connections at once: a burst of browsers' keep-alive connections then lands in one process and the
other cores idle (measured: with 20 clients every request went to one of two workers).

Where ``SO_REUSEPORT`` does not exist, the shared socket is used.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
import threading
import time
from typing import Any

#: A worker that exits this soon after it started is failing at start-up: stop instead of restarting.
FAST_EXIT_SECONDS = 10.0


def _socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A TCP socket bound to ``host:port``.

    Created with ``IPPROTO_TCP`` so that asyncio sets ``TCP_NODELAY`` on accepted connections (it
    only does for sockets whose protocol is TCP); without it every response body waits ~40 ms for
    the client's delayed ACK of the headers.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _config(host: str, port: int, workers: int = 1) -> Any:
    import uvicorn

    return uvicorn.Config(
        "anju.main:create_app", factory=True, host=host, port=port, workers=workers, log_level="info"
    )


def _worker(host: str, port: int) -> None:  # pragma: no cover - runs in a child process
    import uvicorn

    sock = _socket(host, port, reuse_port=True)
    uvicorn.Server(_config(host, port)).run(sockets=[sock])


def serve(host: str, port: int, workers: int) -> int:
    """Run ``workers`` server processes on ``host:port`` until SIGINT/SIGTERM; returns the exit code.

    A worker that dies is started again, unless it died within :data:`FAST_EXIT_SECONDS` of its
    start (a start-up failure would otherwise loop): then all workers stop and the code is 1.
    """
    if not hasattr(socket, "SO_REUSEPORT"):  # pragma: no cover - not on Linux
        return _serve_shared_socket(host, port, workers)
    # Fail now, with the system's message, if the port is taken. A plain bind (without
    # SO_REUSEPORT) also fails when another server shares the port by SO_REUSEPORT, so two
    # instances never split the traffic of one port between them.
    try:
        _socket(host, port, reuse_port=False).close()
    except OSError as exc:
        # not page text (a file name, a check or the terminal)
        print(f"无法监听 {host}:{port}（端口可能已被占用）：{exc.strerror or exc}", file=sys.stderr)
        return 2
    ctx = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def start() -> tuple[Any, float]:
        p = ctx.Process(target=_worker, args=(host, port), name="anju-worker")
        p.start()
        return p, time.monotonic()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    procs = [start() for _ in range(workers)]
    code = 0
    while not stop.wait(0.5):
        for k, (p, started) in enumerate(procs):
            if p.is_alive() or stop.is_set():
                continue
            if time.monotonic() - started < FAST_EXIT_SECONDS:
                # not page text (a file name, a check or the terminal)
                print(f"工作进程启动失败（退出码 {p.exitcode}），服务停止", file=sys.stderr)
                code = 1
                stop.set()
                break
            # not page text (a file name, a check or the terminal)
            print(f"工作进程退出（退出码 {p.exitcode}），重新启动", file=sys.stderr)
            procs[k] = start()
    for p, _ in procs:
        if p.is_alive():
            p.terminate()  # SIGTERM: uvicorn finishes the requests in flight
    for p, _ in procs:
        p.join(30)
        if p.is_alive():  # pragma: no cover - a worker stuck in a request
            p.kill()
    return code


def _serve_shared_socket(host: str, port: int, workers: int) -> int:  # pragma: no cover - not on Linux
    from uvicorn.supervisors import Multiprocess

    sock = _socket(host, port, reuse_port=False)
    sock.set_inheritable(True)
    Multiprocess(_config(host, port, workers), sockets=[sock]).run()
    return 0
