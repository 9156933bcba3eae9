"""The five orders in a real browser on a 390 px phone: a resident submits with a photo and a point
tapped on the map; the desk accepts; the department takes and publishes a result with a photo; the
resident rates it on the follow page; the public board shows the result and the month's indicators
count it. No page scrolls sideways. Screenshots go to test-results/."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.core.actor import Actor
from tests.api.permission_calls import PNG
from tests.e2e.conftest import Server
from tests.factories import PASSWORD
from tests.factories_requests import build_place
from tests.live_server import serve_world

pytestmark = pytest.mark.e2e

Page = Any
OpenPage = Callable[..., Page]
Shots = Callable[[Page, str], Path]


@pytest.fixture(scope="module")
def loop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from anju.db.session import make_engine
    from anju.identity.models import User
    from anju.service_request import service as request_service
    from anju.service_request.models import Department, ServiceCategory

    tmp = tmp_path_factory.mktemp("request-loop-e2e")
    with serve_world(tmp, start_timeout=60) as live:
        engine = make_engine(f"sqlite:///{(tmp / 'data' / 'anju.db').resolve()}")
        try:
            with Session(engine) as db, db.begin():
                place = build_place(db)  # two grids with boundaries for the map
                # its own 路灯不亮 category would share the catalogue's name: only the catalogue's is offered
                own = db.get(ServiceCategory, place.category_id)
                assert own is not None
                own.active = False
                actor = Actor.system("test")
                request_service.load_catalogue(db, actor=actor)
                lamp = db.scalar(select(ServiceCategory).where(ServiceCategory.code == "lamp"))
                uid = db.scalar(select(User.id).where(User.username == "department"))
                assert lamp is not None and uid is not None
                dep = db.get(Department, lamp.department_id)
                assert dep is not None
                request_service.add_member(db, actor=actor, department_code=dep.code, user_id=uid)
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


def test_the_loop_on_a_phone(loop_server: Server, open_page: OpenPage, shots: Shots, tmp_path: Path) -> None:
    photo = tmp_path / "现场.png"
    photo.write_bytes(PNG)
    url = loop_server.url

    # 居民点单: category, description, a tap on the map, a photo
    resident = open_page(390, 844)
    resident.goto(url + "/public/requests/new")
    resident.wait_for_selector("#req-map[data-ready='1']")
    no_sideways_scroll(resident)
    resident.select_option("#rq-cat", label="路灯不亮")
    resident.fill("#rq-desc", "3 幢北侧路灯不亮，晚上很黑")
    box = resident.locator("#req-map").bounding_box()
    assert box is not None
    resident.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    point = resident.get_attribute("#req-map", "data-point")
    assert point and re.fullmatch(r"-?\d+\.\d{6},-?\d+\.\d{6}", point)
    assert resident.input_value("#rq-lng") == point.split(",")[0]
    resident.set_input_files("#rq-photos", str(photo))
    resident.fill("#rq-addr", "幸福里 3 幢北侧")
    shots(resident, "request-loop-1-submit-390")
    resident.click("button.req-submit")
    resident.wait_for_selector("#req-secret")
    code = resident.locator(".req-code").first.inner_text().strip()
    resident.click("#req-follow")
    resident.wait_for_selector(".req-steps")
    follow_url = resident.url
    assert "待定单" in resident.inner_text(".req-status-line")
    assert resident.locator(".board-photos img").count() == 1
    no_sideways_scroll(resident)

    # 组织定单 on a phone too (a community officer in the field)
    desk = open_page(390, 844)
    login(desk, loop_server, "community")
    desk.goto(url + "/service-requests?tab=submitted")
    desk.click(f"text={code}")
    desk.wait_for_selector("#form-accept")
    desk.click("#form-accept button[type=submit]")
    desk.wait_for_selector(".alert-ok")
    no_sideways_scroll(desk)

    # 部门接单 and 党员晒单 with a photo
    dept = open_page(390, 844)
    login(dept, loop_server, "department")
    dept.goto(url + "/service-requests?tab=dispatched")
    dept.click(f"text={code}")
    dept.click("#form-take button[type=submit]")
    dept.wait_for_selector("#form-publish")
    dept.fill("#pb-result", "更换 LED 灯具 2 盏，已恢复照明")
    dept.set_input_files("#pb-photos", str(photo))
    dept.click("#form-publish button[type=submit]")
    dept.wait_for_selector(".alert-ok")
    assert "待验单" in dept.inner_text(".req-status-line")
    no_sideways_scroll(dept)
    shots(dept, "request-loop-2-department-390")

    # 群众验单: the resident rates five stars
    resident.goto(follow_url)
    resident.wait_for_selector("#verify-form")
    assert "更换 LED 灯具 2 盏" in resident.inner_text(".req-result")
    resident.check("#verify-form input[name=rating][value='5']")
    resident.click("#verify-form button[type=submit]")
    resident.wait_for_selector(".alert-ok")
    assert "已办结" in resident.inner_text(".req-status-line")
    assert resident.locator(".req-steps li.current").count() == 0 or "群众验单" in resident.inner_text(
        ".req-steps"
    )
    shots(resident, "request-loop-3-verified-390")

    # the public board shows the result with its rating; the indicators count it
    board = open_page(390, 844)
    board.goto(url + "/public/board")
    item = board.locator(".board-item", has_text=code)
    assert item.count() == 1
    assert "更换 LED 灯具 2 盏" in item.inner_text()
    assert item.locator(".board-rating").get_attribute("aria-label") == "评分 5 分"
    no_sideways_scroll(board)
    desk.goto(url + "/service-requests/dashboard")
    headline = desk.inner_text("#rq-headline")
    received = re.search(r"受理\s*(\d+)", headline)
    closed = re.search(r"办结\s*(\d+)", headline)
    assert received and int(received.group(1)) >= 1
    assert closed and int(closed.group(1)) >= 1
    shots(desk, "request-loop-4-indicators-390")
