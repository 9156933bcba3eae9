"""The selection big screen (选房大屏) in Chromium at 1920x1080: selections and finishes made through
the JSON API of the running server show on the screen within 2 seconds (the flat turns red, the
next household comes up, the counts move), on one server on SQLite and on two server workers with
Redis (a write handled by the worker that does not serve the screen reaches it too). Each delay is
measured from just before the API request to the DOM change, printed (``pytest -s``) and written to
test-results/selection-screen-delays.txt; a screenshot goes to test-results/selection-screen.png."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import unavailable
from tests.e2e.conftest import RESULTS, ROOT
from tests.e2e.test_bigscreen import App, _env
from tests.factories import PASSWORD
from tests.live_server import free_port

pytestmark = pytest.mark.e2e

LIMIT_S = 2.0
HOUSEHOLDS = 12

# A signed world, an estate of 3 buildings (2 units x 6 floors, 70 ㎡ and 88 ㎡ types) and an open event.
SEED = (
    """
import json
from anju.config import get_settings
from anju.db import migrate
from anju.db.session import unit_of_work
from anju.housing import service as housing_service
from tests.integration.selection_world import make_event
migrate.upgrade(get_settings().effective_database_url)
flats = [
    (f"{b}幢", u, fl, f"{fl}0{u}", "A" if (fl + u) % 3 else "B", 70 if (fl + u) % 3 else 88, 60)
    for b in (1, 2, 3) for u in (1, 2) for fl in range(1, 7)
]
with unit_of_work() as db:
    sw = make_event(db, households=HOUSEHOLDS, flats=flats)
    available = [
        r.flat.id for r in housing_service.event_flats(db, event_id=sw.event_id, status="available")
        if r.flat.gross_area <= 75
    ]
print(json.dumps({"event_id": sw.event_id, "order": sw.order, "flats": available}))
"""
).replace("HOUSEHOLDS", str(HOUSEHOLDS))


def _seed(app: App) -> None:
    Path(app.env["ANJU_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [sys.executable, "-c", SEED], cwd=ROOT, env=app.env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    app.world = json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[App]:
    app = App(_env(tmp_path / "data", None), free_port(), tmp_path / "server.log")
    _seed(app)
    app.start()
    try:
        yield app
    finally:
        if app.proc is not None and app.proc.poll() is None:
            app.stop()
    assert "Traceback" not in app.log.read_text(), app.log.read_text()[-4000:]


class Operator:
    """The case officer's JSON API client at the console: select a flat for the household being
    served, then finish it; one request per new connection (so that, with several workers, the
    kernel spreads them over the workers)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.session = requests.Session()
        r = self.session.post(
            app.url + "/api/v1/auth/login",
            json={"username": "case_officer", "password": PASSWORD},
            timeout=30,
        )
        r.raise_for_status()
        self.csrf = r.json()["csrf_token"]
        self.base = f"{app.url}/api/v1/selection-events/{app.world['event_id']}"
        self.households = list(app.world["order"])
        self.flats = list(app.world["flats"])

    def post(self, path: str, body: dict[str, int]) -> dict[str, Any]:
        r = self.session.post(
            self.base + path,
            json=body,
            headers={"X-CSRF-Token": self.csrf, "Connection": "close"},
            timeout=30,
        )
        assert r.status_code in (200, 201), r.text
        result: dict[str, Any] = r.json()
        return result


def _open_screen(app: App, open_page: Callable[..., Any]) -> Any:
    page = open_page(1920, 1080)
    page.goto(app.url + "/login")
    page.fill("input[name=username]", "commander")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/projects**")
    page.goto(f"{app.url}/selection-events/{app.world['event_id']}/screen")
    page.wait_for_function(
        "() => document.body.dataset.live === 'live' && document.body.dataset.renders !== '0'", timeout=30_000
    )
    return page


def _select_and_finish(page: Any, op: Operator) -> tuple[float, float, str]:
    """One household's selection and finish through the API; seconds until the screen showed each,
    and the pid of the worker that handled the selection (as the screen's stream reported it)."""
    household, flat = op.households.pop(0), op.flats.pop(0)
    started = time.monotonic()
    op.post("/selections", {"household_id": household, "flat_id": flat})
    page.wait_for_function(
        f"() => !!document.querySelector('.ss-cell[data-flat=\"{flat}\"].st-selected')", timeout=10_000
    )
    selected = time.monotonic() - started
    origin = str(page.evaluate("document.body.dataset.origins"))
    before = page.evaluate("document.body.dataset.current")
    started = time.monotonic()
    op.post("/finish", {"household_id": household})
    page.wait_for_function("(b) => document.body.dataset.current !== b", arg=before, timeout=10_000)
    return selected, time.monotonic() - started, origin


def _record(name: str, lines: list[str]) -> None:
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / "selection-screen-delays.txt").open("a", encoding="utf-8") as f:
        for line in lines:
            f.write(f"{name}: {line}\n")
    for line in lines:
        print(f"{name}: {line}")


def _text(page: Any, id_: str) -> str:
    return str(page.evaluate(f"document.getElementById('{id_}').textContent"))


def test_one_server_on_sqlite_the_screen_follows_selections_within_2_seconds(
    sqlite_app: App, open_page: Callable[..., Any]
) -> None:
    page = _open_screen(sqlite_app, open_page)
    assert page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]") == [
        1920,
        1080,
    ]
    assert (_text(page, "ss-cur-code"), _text(page, "ss-cur-pos"), _text(page, "ss-cur-name")) == (
        "H0001",
        "1",
        "张**",
    )
    assert page.locator(".ss-cell").count() == 36 and page.locator(".ss-bld").count() == 3
    assert page.locator(".ss-next-list li").count() == 8
    assert (_text(page, "ss-done"), _text(page, "ss-n-available"), _text(page, "ss-n-selected")) == (
        "0",
        "36",
        "0",
    )
    op = Operator(sqlite_app)
    delays = [_select_and_finish(page, op) for _ in range(3)]
    _record(
        "sqlite, 1 worker",
        [
            f"household {i + 1}: flat {s * 1000:.0f} ms, next household {f * 1000:.0f} ms"
            for i, (s, f, _) in enumerate(delays)
        ],
    )
    assert max(max(s, f) for s, f, _ in delays) < LIMIT_S, delays
    assert (_text(page, "ss-cur-code"), _text(page, "ss-cur-pos")) == ("H0004", "4")
    assert (_text(page, "ss-done"), _text(page, "ss-n-available"), _text(page, "ss-n-selected")) == (
        "3",
        "33",
        "3",
    )
    assert page.locator(".ss-cell.st-selected").count() == 3
    assert page.locator(".ss-recent-list li").count() == 3
    assert page.locator(".ss-recent-list li b").first.text_content() == page.evaluate(
        f"document.querySelector('.ss-cell[data-flat=\"{sqlite_app.world['flats'][2]}\"]').title.split(' ')[0]"
    )
    page.screenshot(path=str(RESULTS / "selection-screen.png"))


def test_two_workers_on_sqlite_with_redis_a_selection_on_either_worker_reaches_the_screen(
    tmp_path: Path, open_page: Callable[..., Any]
) -> None:
    redis_url = os.environ.get("ANJU_TEST_REDIS_URL")
    if not redis_url:
        unavailable("Redis (set ANJU_TEST_REDIS_URL, e.g. redis://127.0.0.1:6379/15)")
    env = {**_env(tmp_path / "data", None), "ANJU_REDIS_URL": str(redis_url)}
    app = App(env, free_port(), tmp_path / "server.log", workers=2)
    _seed(app)
    app.start()
    try:
        page = _open_screen(app, open_page)
        screen_worker = str(page.evaluate("document.body.dataset.worker"))
        op = Operator(app)
        lines, worst, origins = [], 0.0, []
        while len(op.households) > 1:
            s, f, origin = _select_and_finish(page, op)
            origins.append(origin)
            worst = max(worst, s, f)
            where = "same worker" if origin == screen_worker else "other worker"
            lines.append(
                f"selection handled by pid {origin} ({where}): {s * 1000:.0f} ms, finish {f * 1000:.0f} ms"
            )
            if len(set(origins)) >= 2 and len(origins) >= 3:
                break
        _record("sqlite, 2 workers (Redis)", [f"screen served by pid {screen_worker}", *lines])
        assert worst < LIMIT_S, lines
        assert len(set(origins)) == 2 and any(o != screen_worker for o in origins), lines
    finally:
        app.stop()
    assert "Traceback" not in app.log.read_text(), app.log.read_text()[-4000:]
