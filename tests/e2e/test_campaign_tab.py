"""Browser tests of the household's campaign tab (攻坚) and the team's start page (我的包户).

A live server of its own holds the standard world plus: household 1 negotiating, a hard case with
a 一户一策 plan (one step overdue), a worsened attitude; household 3 a hard case without a plan.
Screenshots at 1366x768 and 390 px go to test-results/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from tests.conftest import unavailable
from tests.e2e.conftest import ROOT, Server
from tests.factories import PASSWORD
from tests.live_server import serve_world

pytestmark = pytest.mark.e2e

Page = Any
OpenPage = Callable[..., Page]
Shots = Callable[[Page, str], Any]


def seed(db: Session, world: dict[str, Any], today: date) -> None:
    from anju.campaign import service as campaign_service
    from anju.campaign.models import HouseholdCampaign
    from anju.compensation import service as compensation_service
    from anju.core.actor import Actor
    from anju.demo.policies import POLICY_DIR
    from anju.identity.service import DataScope

    everything = DataScope.everything()
    hids, users = world["household_ids"], world["users"]
    officer = Actor(
        user_id=users["case_officer"],
        username="case_officer",
        display_name="测试case_officer",
        role="case_officer",
    )
    # signing (at the desk the tab links to) needs the project's published policy
    source = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
    compensation_service.publish(db, actor=officer, project_id=world["project_id"], source=source)
    campaign_service.move_stage(
        db,
        actor=officer,
        scope=everything,
        household_id=hids[0],
        to_stage="negotiating",
        on=today - timedelta(days=5),
        manage=True,
    )
    campaign_service.update_campaign(
        db,
        actor=officer,
        scope=everything,
        household_id=hids[0],
        expected_version=0,
        data={"difficulty": 2, "difficulty_reason": "阁楼面积认定争议", "escalated_to": users["commander"]},
    )
    campaign_service.save_plan(
        db,
        actor=officer,
        scope=everything,
        household_id=hids[0],
        expected_version=0,
        data={"summary": "先复核阁楼面积，再请战友出面", "owner_id": users["team_leader"]},
    )
    campaign_service.add_step(
        db,
        actor=officer,
        scope=everything,
        household_id=hids[0],
        data={
            "text": "评估公司复核阁楼面积",
            "due_on": today - timedelta(days=2),
            "owner_id": users["team_member"],
        },
    )
    campaign_service.update_campaign(
        db, actor=officer, scope=everything, household_id=hids[2], expected_version=0, data={"difficulty": 1}
    )
    row = db.query(HouseholdCampaign).filter_by(household_id=hids[0]).one()
    row.previous_attitude, row.attitude = "support", "resist"
    row.attitude_changed_at = datetime.now(UTC) - timedelta(days=1)
    row.last_visit_at = datetime.now(UTC) - timedelta(days=1)
    row.visit_count = 2
    row.next_step, row.next_due_on = "再次上门算账", today - timedelta(days=1)


@pytest.fixture(scope="module")
def tab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from anju.db.session import make_engine

    if not (ROOT / "src/anju/static/vendor/htmx.min.js").exists():
        unavailable("front-end vendor files (run scripts/setup.sh)")
    tmp = tmp_path_factory.mktemp("campaign-tab-e2e")
    with serve_world(tmp, start_timeout=60) as live:
        engine = make_engine(f"sqlite:///{(tmp / 'data' / 'anju.db').resolve()}")
        try:
            with Session(engine) as db, db.begin():
                seed(db, live.world, datetime.now(ZoneInfo("Asia/Shanghai")).date())
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


def stage_bar(page: Page) -> list[tuple[str, str]]:
    """(label, state) of the seven stages."""
    items = page.locator(".ct-stagebar li")
    return [
        (
            items.nth(i).locator(".ct-stage-label").inner_text(),
            items.nth(i).get_attribute("class").split()[-1],
        )
        for i in range(items.count())
    ]


def test_case_officer_signs_from_the_tab_at_the_signing_desk(
    tab_server: Server, open_page: OpenPage, shots: Shots
) -> None:
    page = open_page(1366, 768)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, tab_server, "case_officer")
    hid = tab_server.world["household_ids"][0]
    page.goto(f"{tab_server.url}/households/{hid}/campaign")
    assert stage_bar(page) == [
        ("未入户", "ct-done"),
        ("已调查", "ct-done"),
        ("已评估", "ct-done"),
        ("协商中", "ct-current"),
        ("已签约", "ct-todo"),
        ("已腾空", "ct-todo"),
        ("已拆除", "ct-todo"),
    ]
    assert "态度转差" in page.inner_text("#difficulty")
    assert "难点户（较难）" in page.inner_text("#difficulty")
    no_sideways_scroll(page)
    shots(page, "campaign-tab-1366")
    # the signing is recorded on household 3 (a team household): household 1 stays for the phone test.
    # No button moves the stage to 已签约: the tab links to the signing desk, which records it.
    hid = tab_server.world["household_ids"][2]
    page.goto(f"{tab_server.url}/households/{hid}/campaign")
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    assert page.locator("form.ct-move").filter(has_text="已签约").count() == 0
    assert "“已签约”由签约台登记后自动记录" in page.inner_text("#stages")
    with page.expect_navigation():
        page.get_by_role("link", name="去签约台签约").click()
    assert f"/signing?household_id={hid}" in page.url
    assert "货币补偿 · 补偿计算单" in page.inner_text("#desk-sheet")
    no_sideways_scroll(page)
    shots(page, "signing-desk-1366")
    with page.expect_navigation():
        page.locator("#to-review").click()
    assert "请与被征收人逐项核对" in page.inner_text("#desk-review")
    with page.expect_navigation():
        page.locator("#confirm-sign").click()
    assert page.inner_text("#sign-no") == "1"
    shots(page, "signing-desk-signed-1366")
    page.goto(f"{tab_server.url}/households/{hid}/campaign")
    assert ("已签约", "ct-current") in stage_bar(page)
    assert today in page.locator(".ct-stagebar li.ct-current").inner_text()
    assert "阶段变更记录（1）" in page.inner_text("#stages")
    assert page.get_by_role("link", name="登记腾空验收").get_attribute("href") == f"/households/{hid}/vacate"
    assert errors == []


def test_team_member_start_page_and_tab_on_a_phone(
    tab_server: Server, open_page: OpenPage, shots: Shots
) -> None:
    page = open_page(390, 844)
    login(page, tab_server, "team_member")
    pid = tab_server.world["project_id"]
    page.goto(f"{tab_server.url}/projects/{pid}/my")
    counts = page.locator(".ct-count")
    assert [counts.nth(i).inner_text().split() for i in range(counts.count())] == [
        ["1", "久未走访"],
        ["2", "下一步逾期"],
        ["0", "难点户未制定一户一策"],
        ["1", "态度转差"],
    ]
    items = page.locator(".ct-my-item")
    assert items.count() == 2
    assert "登记走访" in items.nth(0).inner_text()
    no_sideways_scroll(page)
    shots(page, "campaign-my-390")
    # into the tab: no signing button for a team member, but the step can be marked done
    page.locator(".ct-my-item").filter(has_text="张建国").get_by_role("link", name="攻坚").click()
    page.wait_for_selector("#campaign-tab")
    assert page.locator("form.ct-move").filter(has_text="已签约").count() == 0
    assert "“已签约”由签约台登记后自动记录，不能手动推进" in page.inner_text("#stages")
    assert page.get_by_role("link", name="去签约台签约").count() == 0
    no_sideways_scroll(page)
    shots(page, "campaign-tab-390")
    with page.expect_navigation():
        page.locator(".ct-steps form").filter(has_text="完成").first.locator("button").click()
    assert "已完成" in page.inner_text("#plan")
