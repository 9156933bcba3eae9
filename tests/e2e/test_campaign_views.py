"""Browser tests of the campaign dashboard (攻坚进度) and the battle map (战果图) on a live server.

The server holds the standard test world plus a campaign: launch and deadline dates, parcels in a
grid with block boundaries, households signed on earlier days, a hard case, visits with concerns.
Screenshots at 1366x768 and 390 px go to test-results/.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from tests.conftest import unavailable
from tests.e2e.conftest import ROOT, Server
from tests.factories import ACTOR, PASSWORD
from tests.live_server import serve_world

pytestmark = pytest.mark.e2e

Page = Any
OpenPage = Callable[..., Page]
Shots = Callable[[Page, str], Path]

LON, LAT = 120.1500, 30.2800  # the grid's south-west corner
CELL = 0.0005  # degrees; parcels are 80% of a cell


def rect(x0: float, y0: float, x1: float, y1: float) -> str:
    return json.dumps(
        {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}
    )


def seed_campaign(db: Session, world: dict[str, Any], today: date) -> None:
    """Campaign facts on the world: parcels for households 1-5 (6 has none), block E west of block W,
    households 1 and 3 signed, 2 negotiating, 5 a hard case, visits with concern tags."""
    from anju.campaign import service as campaign_service
    from anju.campaign.models import HouseholdCampaign
    from anju.campaign.schemas import VisitCreate
    from anju.household import service as household_service
    from anju.identity.service import DataScope
    from anju.project import service as project_service
    from anju.project.models import Block, Project

    everything = DataScope.everything()
    pid, hids = world["project_id"], world["household_ids"]
    project = db.get(Project, pid)
    assert project is not None
    project.launched_on = today - timedelta(days=12)
    project.deadline_on = today + timedelta(days=18)
    blocks = {"E": world["block_ids"]["E"], "W": world["block_ids"]["W"]}
    # E holds households 1, 3, 5 (column 0); W holds 2, 4, 6 (column 1)
    for col, code in enumerate(["E", "W"]):
        block = db.get(Block, blocks[code])
        assert block is not None
        x0 = LON + col * 3 * CELL
        block.geometry = rect(x0 - CELL * 0.2, LAT - CELL * 0.2, x0 + 2.8 * CELL, LAT + 3 * CELL)
    links = {}
    for i, hid in enumerate(hids[:5]):
        col, row = i % 2, i // 2
        x0, y0 = LON + col * 3 * CELL + (row % 2) * CELL, LAT + row * CELL
        parcel = project_service.add_parcel(
            db,
            actor=ACTOR,
            project_id=pid,
            block_id=blocks["EW"[col]],
            code=f"ZD{i + 1:03d}",
            geometry=rect(x0, y0, x0 + 0.8 * CELL, y0 + 0.8 * CELL),
        )
        links[hid] = parcel.id
    household_service.link_parcels(db, actor=ACTOR, project_id=pid, parcel_of=links)
    household_service.set_stage(
        db, actor=ACTOR, scope=everything, household_id=hids[0], stage="signed", on=today - timedelta(days=9)
    )
    household_service.set_stage(
        db, actor=ACTOR, scope=everything, household_id=hids[2], stage="signed", on=today - timedelta(days=3)
    )
    household_service.set_stage(
        db, actor=ACTOR, scope=everything, household_id=hids[1], stage="negotiating", on=None
    )
    now = datetime.now(UTC).replace(microsecond=0)
    for n, (hid, tags, attitude) in enumerate(
        [
            (hids[1], ["standard", "flat"], "wait"),
            (hids[3], ["standard"], "resist"),
            (hids[4], ["area"], "resist"),
        ]
    ):
        campaign_service.record_visit(
            db,
            actor=ACTOR,
            scope=everything,
            household_id=hid,
            data=VisitCreate(
                visited_at=(now - timedelta(hours=30 + n)).isoformat(),
                duration_min=40,
                concern_tags=tags,
                attitude=attitude,
            ),
            idempotency_key=f"e2e-campaign-{n}",
            now=now,
        )
    db.flush()
    row = db.query(HouseholdCampaign).filter_by(household_id=hids[4]).one()
    row.difficulty = 2


@pytest.fixture(scope="module")
def campaign_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A live server of its own (the shared one stays campaign-free), seeded as above."""
    from anju.db.session import make_engine

    if not (ROOT / "src/anju/static/vendor/leaflet.js").exists():
        unavailable("front-end vendor files (run scripts/setup.sh)")
    tmp = tmp_path_factory.mktemp("campaign-e2e")
    with serve_world(tmp, start_timeout=60) as live:
        engine = make_engine(f"sqlite:///{(tmp / 'data' / 'anju.db').resolve()}")
        try:
            with Session(engine) as db, db.begin():
                seed_campaign(db, live.world, datetime.now(ZoneInfo("Asia/Shanghai")).date())
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
    width = page.evaluate("() => document.documentElement.scrollWidth")
    viewport = page.evaluate("() => window.innerWidth")
    assert width <= viewport, f"page is {width}px wide in a {viewport}px viewport"


# --------------------------------------------------------------- battle map


def open_map(page: Page, server: Server, query: str = "") -> None:
    page.goto(f"{server.url}/projects/{server.world['project_id']}/map{query}")
    page.wait_for_selector("#battle-map.map-ready")


def test_battle_map_draws_parcels_by_stage_and_opens_the_card(
    campaign_server: Server, open_page: OpenPage, shots: Shots
) -> None:
    page = open_page(1366, 768)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, campaign_server, "commander")
    open_map(page, campaign_server)
    assert page.locator("path.parcel").count() == 5
    assert page.locator("path.parcel-signed").count() == 2
    assert page.locator("path.parcel-negotiating").count() == 1
    assert page.locator("path.parcel-hard").count() == 1
    assert page.locator(".map-hard-mark").count() == 1
    assert page.locator("path.block-line").count() == 2
    assert page.locator(".map-block-label").all_inner_texts() == ["东片区", "西片区"]
    # the unmapped household is listed beside the map
    assert "H0006" in page.locator(".map-unmapped").inner_text()
    shots(page, "campaign-map-1366")

    page.locator("path.parcel-negotiating").click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    page.wait_for_timeout(300)  # the popup fades in
    text = popup.inner_text()
    assert "H0002" in text and "李秀英" in text and "协商中" in text and "观望" in text and "第一专班" in text
    assert popup.locator("a", has_text="查看户档案").get_attribute("href") == (
        f"/households/{campaign_server.world['household_ids'][1]}"
    )
    shots(page, "campaign-map-card-1366")
    assert errors == []

    # filter by block: only the east block's parcels and boundary
    page.select_option("select[name=block_id]", str(campaign_server.world["block_ids"]["E"]))
    with page.expect_navigation():
        page.click(".map-filters button[type=submit]")
    page.wait_for_selector("#battle-map.map-ready")
    assert page.locator("path.parcel").count() == 3
    assert page.locator("path.block-line").count() == 1


def test_battle_map_for_a_team_member_on_a_phone(
    campaign_server: Server, open_page: OpenPage, shots: Shots
) -> None:
    page = open_page(390, 844)
    login(page, campaign_server, "team_member")
    open_map(page, campaign_server)
    assert page.locator("path.parcel").count() == 2  # households 1 and 2 only
    no_sideways_scroll(page)
    shots(page, "campaign-map-390")
    page.locator("path.parcel-signed").click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    page.wait_for_timeout(300)
    assert "H0001" in popup.inner_text() and "已签约" in popup.inner_text()
    no_sideways_scroll(page)
    shots(page, "campaign-map-card-390")


# --------------------------------------------------------------- dashboard


def open_dashboard(page: Page, server: Server, query: str = "") -> None:
    page.goto(f"{server.url}/projects/{server.world['project_id']}/campaign{query}")
    page.wait_for_selector("#dash-burnup[data-drawn] canvas")


def test_dashboard_shows_numbers_and_draws_the_charts(
    campaign_server: Server, open_page: OpenPage, shots: Shots
) -> None:
    page = open_page(1366, 768)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, campaign_server, "commander")
    open_dashboard(page, campaign_server)
    headline = page.locator("#dash-headline").inner_text()
    assert "已签约" in headline and "33.3%" in headline  # 2 of 6
    for chart in ("#dash-burnup", "#dash-blocks", "#dash-concerns"):
        assert page.locator(f"{chart} canvas").count() == 1, chart
    ranking = page.locator(".dash-rank").first.inner_text()
    assert "第一专班" in ranking
    assert page.locator("#dash-blocks-table tbody tr").count() == 2
    assert errors == []
    shots(page, "campaign-dashboard-1366")

    # as of four days ago: one signature (household 1), not two
    day = page.evaluate("() => document.querySelector('#dash-on').max")
    earlier = (date.fromisoformat(day) - timedelta(days=4)).isoformat()
    page.fill("#dash-on", earlier)
    with page.expect_navigation():
        page.click(".dash-date button[type=submit]")
    page.wait_for_selector("#dash-burnup[data-drawn] canvas")
    assert f"截至 {earlier}" in page.locator(".dash-head").inner_text()
    assert "16.7%" in page.locator("#dash-headline").inner_text()


def test_dashboard_on_a_phone_for_a_team_member(
    campaign_server: Server, open_page: OpenPage, shots: Shots
) -> None:
    page = open_page(390, 844)
    login(page, campaign_server, "team_member")
    open_dashboard(page, campaign_server)
    assert "仅含您负责的户" in page.locator(".dash-head").inner_text()
    assert page.locator("#dash-blocks canvas").count() == 1
    no_sideways_scroll(page)
    shots(page, "campaign-dashboard-390")
