"""A real server on a free port with the standard test world (``tests/e2e/serve_world.py``), for the
browser tests and the schemathesis run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class LiveWorld:
    """The server's address, the world it was seeded with, and its log (``server.log``)."""

    url: str
    world: dict[str, Any]
    log_path: Path


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_world(
    tmp: Path,
    *,
    start_timeout: float = 90,
    database_url: str | None = None,
    households: int = 6,
    seed: str | None = None,
) -> Iterator[LiveWorld]:
    """Start ``serve_world.py`` on a fresh SQLite database under ``tmp`` (or the empty server
    database ``database_url``) with ``households`` households, seeded further by ``seed``
    (``module:function``, see serve_world.py); stop it on exit."""
    port = free_port()
    world_file = tmp / "world.json"
    log_path = tmp / "server.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ANJU_ENV": "test"}
    env.pop("ANJU_DATABASE_URL", None)
    env["ANJU_TEST_WORLD_HOUSEHOLDS"] = str(households)
    for name, value in (("ANJU_TEST_DATABASE_URL", database_url), ("ANJU_TEST_SEED", seed)):
        if value:
            env[name] = value
        else:
            env.pop(name, None)
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "tests/e2e/serve_world.py"),
                str(tmp / "data"),
                str(port),
                str(world_file),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                    if r.status == 200 and world_file.exists():
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server did not answer /healthz:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield LiveWorld(url, json.loads(world_file.read_text(encoding="utf-8")), log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
