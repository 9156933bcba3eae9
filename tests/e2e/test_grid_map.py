"""Browser tests of the grid map and the public contact cards on a live server: the map draws every
grid coloured by community and shows a grid's card on click (1366x768); the public card and list
work without a login on a 390 px phone, without sideways scrolling."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.conftest import unavailable
from tests.e2e.conftest import ROOT, Server
from tests.factories import ACTOR, PASSWORD
from tests.live_server import serve_world

OpenPage = Callable[..., Any]
Shots = Callable[[Any, str], Path]


def square(x0: float, y0: float, d: float = 0.005) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[x0, y0], [x0 + d, y0], [x0 + d, y0 + d], [x0, y0 + d], [x0, y0]]],
    }


def seed_grids(db: Session, world: dict[str, Any]) -> None:
    """Two communities of two grids each (a 2 x 2 block), buildings with leaders."""
    from anju.grid import service as grid_service

    for k, name in enumerate(("东埠社区", "西河社区")):
        c = grid_service.create_community(db, actor=ACTOR, values={"code": f"SQ{k + 1}", "name": name})
        for n in range(2):
            g = grid_service.create_grid(
                db,
                actor=ACTOR,
                community_id=c.id,
                values={
                    "code": f"SQ{k + 1}-{n + 1}",
                    "name": f"{name.removesuffix('社区')}第{n + 1}网格",
                    "boundary": square(120.1 + 0.005 * n, 30.2 + 0.005 * k),
                    "worker_user_id": world["users"]["grid_worker"],
                    "public_phone": f"0570-8700{k}{n}",
                },
            )
            for b, party in ((1, True), (2, False)):
                grid_service.add_building(
                    db,
                    actor=ACTOR,
                    grid_id=g.id,
                    values={
                        "name": f"幸福里 {b} 幢",
                        "households": 20,
                        "leader_name": "王红梅" if party else "李建军",
                        "leader_phone": "13900001111",
                        "leader_party_member": party,
                    },
                )


@pytest.fixture(scope="module")
def grid_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A live server of its own, seeded with the grids above."""
    from anju.db.session import make_engine

    if not (ROOT / "src/anju/static/vendor/leaflet.js").exists():
        unavailable("front-end vendor files (run scripts/setup.sh)")
    tmp = tmp_path_factory.mktemp("grid-e2e")
    with serve_world(tmp, start_timeout=60) as live:
        engine = make_engine(f"sqlite:///{(tmp / 'data' / 'anju.db').resolve()}")
        try:
            with Session(engine) as db, db.begin():
                seed_grids(db, live.world)
        finally:
            engine.dispose()
        yield Server(url=live.url, world=live.world)


def login(page: Any, server: Server, username: str) -> None:
    page.goto(server.url + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation(url=re.compile(r".*/projects$")):
        page.click("form[action='/login'] button[type=submit]")


def test_grid_map_draws_grids_by_community_and_opens_a_card(
    grid_server: Server, open_page: OpenPage, shots: Shots
) -> None:
    page = open_page(1366, 768)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, grid_server, "community")
    page.goto(grid_server.url + "/grids/map")
    page.wait_for_selector("#grid-map[data-ready='1']")
    shapes = page.locator("path.grid-shape")
    assert shapes.count() == 4
    fills = [shapes.nth(i).get_attribute("fill") for i in range(4)]
    assert fills[0] == fills[1] and fills[2] == fills[3] and fills[0] != fills[2]
    assert page.locator("#grid-map-status").inner_text() == "共 4 个网格"
    shapes.nth(2).click()
    card = page.locator("#grid-card")
    card.locator("h2", has_text="西河第1网格").wait_for()
    text = card.inner_text()
    assert "测试grid_worker" in text and "0570-870010" in text and "王红梅" in text and "党员" in text
    assert page.evaluate("() => typeof window.AnjuGridMap.addRequests") == "function"
    shots(page, "grid-map-1366")
    assert errors == []


def test_public_card_on_a_phone_without_login(grid_server: Server, open_page: OpenPage, shots: Shots) -> None:
    page = open_page(390, 844)
    page.goto(grid_server.url + "/public/grids")
    page.click("text=东埠第2网格")
    page.wait_for_url(re.compile(r".*/public/grids/SQ1-2$"))
    assert page.locator("h1").inner_text() == "东埠第2网格"
    assert page.locator(".public-worker-name").inner_text() == "测试grid_worker"
    assert page.locator(".public-call").get_attribute("href") == "tel:0570-870001"
    leaders = page.locator(".public-leaders li").all_inner_texts()
    assert [" ".join(t.split()) for t in leaders] == ["幸福里 1 幢 王红梅 党员", "幸福里 2 幢 李建军"]
    assert "13900001111" not in page.content()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390
    shots(page, "grid-public-card-390")
