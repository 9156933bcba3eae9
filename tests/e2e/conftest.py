"""A live Anju server on a seeded SQLite database, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import unavailable
from tests.live_server import serve_world

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


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``uvicorn anju.main:create_app --factory`` on a free port, seeded with ``build_world``."""
    if not (ROOT / "src/anju/static/vendor/htmx.min.js").exists():
        unavailable("front-end vendor files (run scripts/setup.sh)")
    with serve_world(tmp_path_factory.mktemp("e2e"), start_timeout=60) as live:
        yield Server(url=live.url, world=live.world)


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
