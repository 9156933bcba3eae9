"""Browser test of the desk calculator (算账器) shown to a family at the signing desk: a live server
of its own holds the standard world plus the rural policy, a four-person household and an estate
whose flats are grouped by type and area. Screenshots at 390 px and 1366x768 go to test-results/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.conftest import unavailable
from tests.e2e.conftest import ROOT, Server
from tests.e2e.test_campaign_tab import login, no_sideways_scroll
from tests.live_server import serve_world

pytestmark = pytest.mark.e2e
Page = Any
OpenPage = Callable[..., Page]
Shots = Callable[[Page, str], Any]


def seed(db: Session, world: dict[str, Any]) -> None:
    from anju.compensation import service as compensation_service
    from anju.core.actor import Actor
    from anju.demo.policies import POLICY_DIR
    from anju.household import service as household_service
    from anju.housing import service as housing_service
    from anju.identity.service import DataScope
    from tests.factories import id_number
    from tests.integration.test_housing_calculator import _rows
    from tests.integration.test_housing_stock import flat_list

    everything = DataScope.everything()
    officer = Actor(
        user_id=world["users"]["case_officer"],
        username="case_officer",
        display_name="经办人",
        role="case_officer",
    )
    source = (POLICY_DIR / "rural.yaml").read_text(encoding="utf-8")
    compensation_service.publish(db, actor=officer, project_id=world["project_id"], source=source)
    hid, head = world["household_ids"][0], world["member_ids"][0]
    household_service.update_member(
        db, actor=officer, scope=everything, member_id=head, data={"resettlement_counted": True}
    )
    for i in range(3):
        household_service.add_member(
            db,
            actor=officer,
            scope=everything,
            household_id=hid,
            data={
                "name": f"家人{i}",
                "relation": "子女",
                "id_number": id_number(700 + i),
                "resettlement_counted": True,
            },
        )
    # household 3: the head alone (60 ㎡, one flat of at most 75 ㎡)
    household_service.update_member(
        db,
        actor=officer,
        scope=everything,
        member_id=world["member_ids"][2],
        data={"resettlement_counted": True},
    )
    estate = housing_service.create_estate(
        db, actor=officer, project_id=world["project_id"], code="qx", name="青溪苑"
    )
    sheet = housing_service.read_flat_sheet(flat_list(_rows()), "房源.xlsx")
    housing_service.import_flats(db, actor=officer, estate_id=estate.id, rows=sheet)


@pytest.fixture(scope="module")
def calc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from anju.db.session import make_engine

    if not (ROOT / "src/anju/static/vendor/htmx.min.js").exists():
        unavailable("front-end vendor files (run scripts/setup.sh)")
    tmp = tmp_path_factory.mktemp("calculator-e2e")
    with serve_world(tmp, start_timeout=60) as live:
        engine = make_engine(f"sqlite:///{(tmp / 'data' / 'anju.db').resolve()}")
        try:
            with Session(engine) as db, db.begin():
                seed(db, live.world)
        finally:
            engine.dispose()
        yield Server(url=live.url, world=live.world)


@pytest.mark.parametrize("width", [390, 1366])
def test_calculator_at_the_desk(calc_server: Server, open_page: OpenPage, shots: Shots, width: int) -> None:
    page = open_page(width, 844 if width == 390 else 768)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, calc_server, "case_officer")
    hid = calc_server.world["household_ids"][0]
    page.goto(f"{calc_server.url}/projects/{calc_server.world['project_id']}/signing?household_id={hid}")
    href = page.locator("#calculator-link a").get_attribute("href")
    assert href == f"/households/{hid}/calculator"
    page.goto(calc_server.url + href)
    assert "170.00 ㎡" in page.inner_text("#calc-entitlement")
    offers = page.locator(".calc-offer")
    assert offers.count() == 3
    assert "可退还" in offers.nth(0).inner_text()  # 59.80 ㎡ against 170 ㎡: refunded
    assert page.locator(".calc-offer.refused").count() == 0
    no_sideways_scroll(page)
    shots(page, f"calculator-{width}")
    assert errors == []


def test_refused_flats_on_a_phone(calc_server: Server, open_page: OpenPage, shots: Shots) -> None:
    page = open_page(390, 844)
    login(page, calc_server, "case_officer")
    hid = calc_server.world["household_ids"][2]
    page.goto(f"{calc_server.url}/households/{hid}/calculator")
    refused = page.locator(".calc-offer.refused")
    assert refused.count() == 2  # 89.56 ㎡ and 120 ㎡
    assert "应安置面积60㎡及以下的，所选房源每套不超过75㎡" in refused.nth(0).inner_text()
    page.get_by_role("link", name="只看符合资格的").click()
    page.wait_for_url("**only_allowed=true**")
    assert page.locator(".calc-offer").count() == 1
    page.get_by_role("link", name="全部").click()
    page.wait_for_url("**only_allowed=false**")
    no_sideways_scroll(page)
    shots(page, "calculator-refused-390")
