"""Browser tests of the request indicators dashboard and the public board on a live server seeded
with the constructed month of tests/integration/test_request_indicators.py (March 2031): the charts
and the map draw, the phone layout has no sideways scroll. Screenshots go to test-results/."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.conftest import unavailable
from tests.e2e.conftest import ROOT, Server
from tests.factories import PASSWORD
from tests.integration.test_request_indicators import build_month
from tests.live_server import serve_world

pytestmark = pytest.mark.e2e

Page = Any
OpenPage = Callable[..., Page]
Shots = Callable[[Page, str], Path]


@pytest.fixture(scope="module")
def request_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from anju.db.session import make_engine

    if not (ROOT / "src/anju/static/vendor/echarts.min.js").exists():
        unavailable("front-end vendor files (run scripts/setup.sh)")
    tmp = tmp_path_factory.mktemp("requests-e2e")
    with serve_world(tmp, start_timeout=60) as live:
        engine = make_engine(f"sqlite:///{(tmp / 'data' / 'anju.db').resolve()}")
        try:
            with Session(engine) as db, db.begin():
                build_month(db)
        finally:
            engine.dispose()
        yield Server(url=live.url, world=live.world)


def login(page: Page, server: Server, username: str) -> None:
    page.goto(server.url + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation(url=re.compile(r".*/projects$")):
        page.click("form[action='/login'] button[type=submit]")


def no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth") <= page.evaluate(
        "() => window.innerWidth"
    )


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (390, 844)])
def test_dashboard_draws(
    request_server: Server, open_page: OpenPage, shots: Shots, width: int, height: int
) -> None:
    page = open_page(width, height)
    login(page, request_server, "community")
    page.goto(request_server.url + "/service-requests/dashboard?month=2031-03")
    page.wait_for_selector("#rq-trend canvas")
    page.wait_for_selector("#rq-rank-grid canvas")
    page.wait_for_selector("#rq-map.map-ready")
    assert page.get_attribute("#rq-map", "data-grids") == "2"
    assert page.locator("#rq-table tr.total td").nth(6).inner_text() == "50.0%"  # 按期结案率 of the total
    if width < 600:
        no_sideways_scroll(page)
    shots(page, f"request-dashboard-{width}")


def test_public_board_on_a_phone(request_server: Server, open_page: OpenPage, shots: Shots) -> None:
    page = open_page(390, 844)
    page.goto(request_server.url + "/public/board")
    assert page.locator(".board-item").count() == 5
    assert "张三" not in page.content()
    no_sideways_scroll(page)
    shots(page, "public-board-390")
