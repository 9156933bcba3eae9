"""``anju serve --workers N``: every worker takes connections, and the server stops cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts sockets in /proc")

ANJU = str(Path(sys.executable).parent / "anju")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(conn: socket.socket) -> bytes:
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    data = b""
    while not data.endswith(b'{"status":"ok"}'):
        chunk = conn.recv(4096)
        assert chunk, data
        data += chunk
    return data


def _burst(port: int, n: int) -> list[socket.socket]:
    """``n`` connections opened at once, as browsers or a load test do."""
    conns = []
    for _ in range(n):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        conns.append(c)
    time.sleep(0.5)  # all handshakes done: the connections wait in the accept queue together
    for c in conns:
        c.setblocking(True)
        c.settimeout(10)
    return conns


def _listening(port: int) -> int:
    """How many sockets listen on ``port`` (IPv4), from /proc/net/tcp."""
    hexport = f"{port:04X}"
    n = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        n += fields[1].endswith(":" + hexport) and fields[3] == "0A"
    return n


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[1] == str(pid):
                out.append(int(stat.parent.name))
        except (OSError, IndexError):
            continue
    return out


def _sockets(pid: int) -> int:
    n = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            n += os.readlink(fd).startswith("socket:")
        except OSError:
            continue
    return n


def _start(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, ANJU_DATA_DIR=str(tmp_path / "data"), ANJU_ENV="test")
    env.pop("ANJU_DATABASE_URL", None)
    return subprocess.Popen(
        [ANJU, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                _get(c)
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail("server did not answer")


def test_connections_are_spread_over_the_workers_and_sigterm_stops_them(tmp_path: Path) -> None:
    port = _free_port()
    proc = _start(tmp_path, port)
    try:
        _wait_ready(port, proc)
        time.sleep(2)  # both workers listening
        conns = _burst(port, 16)
        for c in conns:
            assert b"200 OK" in _get(c)
        workers = [w for w in _children(proc.pid) if _sockets(w) > 0]
        assert len(workers) == 2
        # One listening socket per worker: the kernel spreads new connections over them. With one
        # shared socket, the worker that wakes first accepts every pending connection, and a burst
        # of keep-alive connections (20 clients in bench/list_bench.py) all went to one worker.
        assert _listening(port) == 2
        # Each worker holds its listening socket plus the connections it accepted: with one
        # shared socket, a burst of connections all went to one worker.
        assert all(_sockets(w) > 1 for w in workers), [_sockets(w) for w in workers]
        for c in conns:
            c.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert not [w for w in workers if Path(f"/proc/{w}").exists()]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_taken_port_is_refused_with_a_message(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = int(holder.getsockname()[1])
        proc = _start(tmp_path, port)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "无法监听" in err.decode()
