"""Browser test of the calculation sheet in words (issue #13 item 1): a live server of its own holds the
standard world, the demo shantytown policy and a household with a home and a shop. At 1366x768 and at
390 px every item, its basis in Chinese, its amount and the total are visible without sideways
scrolling (on a phone the items are cards); the formula view is behind 显示公式 for the case officer
and absent for the commander; the policy's subtotal lines (小计) follow their items. Screenshots go to
test-results/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.conftest import unavailable
from tests.e2e.conftest import ROOT, Server
from tests.e2e.test_campaign_tab import login
from tests.live_server import serve_world

pytestmark = pytest.mark.e2e
Page = Any
OpenPage = Callable[..., Page]
Shots = Callable[[Page, str], Any]

HOUSE = "证 Z00001：合法面积 88.50 ㎡ × 房屋价值补偿单价（砖混，B）10,500 元/㎡ = 929,250.00 元"
SHOP = "证 Z00001-2：合法面积 40.00 ㎡ × 房屋价值补偿单价（砖混，B）10,500 元/㎡ × 停产停业损失比例 8% = 33,600.00 元"
TOTAL = "1,530,954.50"  # 1,031,874.50 for the home + the shop: 420,000 + 42,000 + 600 + 2,880 + 33,600


def seed(db: Session, world: dict[str, Any]) -> None:
    from anju.compensation import service as compensation_service
    from anju.core.actor import Actor
    from anju.demo.policies import POLICY_DIR
    from anju.household import service as household_service
    from anju.identity.service import DataScope

    officer = Actor(
        user_id=world["users"]["case_officer"],
        username="case_officer",
        display_name="经办人",
        role="case_officer",
    )
    source = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
    compensation_service.publish(db, actor=officer, project_id=world["project_id"], source=source)
    household_service.add_building(
        db,
        actor=officer,
        scope=DataScope.everything(),
        household_id=world["household_ids"][0],
        data={"certificate_no": "Z00001-2", "structure": "砖混", "use": "营业", "legal_area": "40.00"},
    )


@pytest.fixture(scope="module")
def sheet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from anju.db.session import make_engine

    if not (ROOT / "src/anju/static/vendor/htmx.min.js").exists():
        unavailable("front-end vendor files (run scripts/setup.sh)")
    tmp = tmp_path_factory.mktemp("sheet-e2e")
    with serve_world(tmp, start_timeout=60) as live:
        engine = make_engine(f"sqlite:///{(tmp / 'data' / 'anju.db').resolve()}")
        try:
            with Session(engine) as db, db.begin():
                seed(db, live.world)
        finally:
            engine.dispose()
        yield Server(url=live.url, world=live.world)


def no_sideways_scroll(page: Page) -> None:
    width, viewport = page.evaluate("() => [document.scrollingElement.scrollWidth, innerWidth]")
    assert width <= viewport, f"page is {width}px wide in a {viewport}px viewport"


def visible_in_viewport_width(page: Page, selector: str) -> None:
    """Every element matched lies within the viewport's width (nothing cut off at the right)."""
    right = page.evaluate(
        "(s) => Math.max(...[...document.querySelectorAll(s)].map(e => e.getBoundingClientRect().right))",
        selector,
    )
    assert right <= page.evaluate("() => innerWidth"), (selector, right)


@pytest.mark.parametrize("width", [1366, 390])
def test_the_sheet_in_words_for_the_case_officer(
    sheet_server: Server, open_page: OpenPage, shots: Shots, width: int
) -> None:
    page = open_page(width, 768 if width == 1366 else 844)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, sheet_server, "case_officer")
    hid = sheet_server.world["household_ids"][0]
    page.goto(f"{sheet_server.url}/households/{hid}/calc?option=cash")
    house = page.locator("tr[data-item=house_value]")
    assert house.locator(".basis-line").all_inner_texts() == [
        HOUSE,
        "证 Z00001-2：合法面积 40.00 ㎡ × 房屋价值补偿单价（砖混，B）10,500 元/㎡ = 420,000.00 元",
        "各证合计 1,349,250.00 元",
    ]
    business = page.locator("tr[data-item=business_loss]").locator(".basis-line").all_inner_texts()
    assert business == ["证 Z00001：不适用：用途为住宅，不是营业", SHOP]
    assert page.locator("#sheet-total").inner_text() == TOTAL
    # a subtotal line (issue #12 item 4) follows the last of its items; the total does not count it
    sub = page.locator("tr[data-subtotal=house_subtotal]")
    assert sub.locator(".sheet-amount").inner_text() == "1,382,850.00"  # 1,349,250.00 + 33,600.00
    assert sub.locator(".basis-line").all_inner_texts() == [
        "房屋补偿小计 = 房屋价值补偿 1,349,250.00 元 + 停产停业损失 33,600.00 元 = 1,382,850.00 元"
    ]
    # the formula view is there for the policy author, hidden until asked for
    formula = house.locator(".formula")
    assert not formula.is_visible()
    page.check("#show-formula")
    assert formula.is_visible() and "building.legal_area * house_rate" in formula.inner_text()
    page.uncheck("#show-formula")
    assert not formula.is_visible()
    for selector in (".sheet-label", ".sheet-amount", ".basis-line", "#sheet-total"):
        visible_in_viewport_width(page, selector)
    no_sideways_scroll(page)
    if width == 390:  # the items are stacked cards: the amount sits beside the item's name
        label = house.locator(".sheet-label").bounding_box()
        amount = house.locator(".sheet-amount").bounding_box()
        basis = house.locator(".sheet-basis").bounding_box()
        assert abs(label["y"] - amount["y"]) < label["height"] and basis["y"] > label["y"]
    shots(page, f"sheet-in-words-{width}")
    assert errors == []


def test_the_commander_reads_the_words_without_the_formula_view(
    sheet_server: Server, open_page: OpenPage, shots: Shots
) -> None:
    page = open_page(390, 844)
    login(page, sheet_server, "commander")
    hid = sheet_server.world["household_ids"][0]
    page.goto(f"{sheet_server.url}/households/{hid}/calc?option=cash")
    assert page.locator("#show-formula").count() == 0 and page.locator(".formula").count() == 0
    text = page.inner_text("#sheet-items")
    assert HOUSE in text and "house_rate" not in text and TOTAL in text
    no_sideways_scroll(page)
    shots(page, "sheet-in-words-commander-390")
