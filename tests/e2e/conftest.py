"""A live Anju server on a seeded SQLite database, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "test-results"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Server:
    """The running server and the ids of the world it was seeded with."""

    url: str
    world: dict[str, Any]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``uvicorn anju.main:create_app --factory`` on a free port, seeded with ``build_world``."""
    if not (ROOT / "src/anju/static/vendor/htmx.min.js").exists():
        unavailable("front-end vendor files (run scripts/setup.sh)")
    tmp = tmp_path_factory.mktemp("e2e")
    port = _free_port()
    world_file = tmp / "world.json"
    log = (tmp / "server.log").open("w")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ANJU_ENV": "test"}
    env.pop("ANJU_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/e2e/serve_world.py"), str(tmp / "data"), str(port), str(world_file)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}:\n{(tmp / 'server.log').read_text()}")
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                    if r.status == 200 and world_file.exists():
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server did not answer /healthz:\n{(tmp / 'server.log').read_text()}")
            time.sleep(0.2)
        yield Server(url=url, world=json.loads(world_file.read_text(encoding="utf-8")))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium (never a downloaded one)."""
    executable = os.environ.get("ANJU_CHROMIUM") or "/usr/bin/chromium"
    if not Path(executable).exists():
        unavailable("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright")
        raise
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """``open_page(width, height)``: a fresh browser context (no cookies) in Chinese."""
    contexts: list[Any] = []

    def _open(width: int = 1366, height: int = 768) -> Any:
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        ctx.set_default_timeout(10_000)
        contexts.append(ctx)
        return ctx.new_page()

    yield _open
    for ctx in contexts:
        ctx.close()


@pytest.fixture(scope="session")
def shots() -> Callable[[Any, str], Path]:
    """``shots(page, name)`` saves a full-page screenshot into test-results/ (git-ignored)."""
    RESULTS.mkdir(exist_ok=True)

    def _shot(page: Any, name: str) -> Path:
        path = RESULTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot
