"""The household's policy facts and its key handover in Chromium, through the pages only: the case
officer opens the household file's "方案要求的事实", types a word and an out-of-range count (each
refused beside its field, nothing written), saves in a second tab so that the first is stale (409
naming who changed it), then saves; on the settlement page a key handover before the household
signed is refused beside the flat, and a good date is saved and shown in the file's key dates.
Screenshots at 1366x768 and 390x844 go to test-results/.

The world is the selection world (every household signed for a swap on 2024-06-01 under the demo
rural policy, which declares the facts 空调数量, 水表数量, 认定奖励面积); the first household chose
flat 1-1-101, whose estate was delivered on 2024-01-10 (before the signing).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.e2e.conftest import Server
from tests.e2e.test_browser import login
from tests.e2e.test_campaign_tab import no_sideways_scroll
from tests.factories import World
from tests.live_server import serve_world

pytestmark = pytest.mark.e2e

Page = Any
OpenPage = Callable[..., Page]
Shots = Callable[[Page, str], Any]
DELIVERED = date(2024, 1, 10)
SIGNED = date(2024, 6, 1)


def seed(db: Session, world: World) -> dict[str, object]:
    """``ANJU_TEST_SEED`` hook: the selection world, the first household's flat chosen, its estate
    delivered before the signing day."""
    from anju.housing import service as housing_service
    from tests.integration.selection_world import OFFICER, seed_live_event

    ids = seed_live_event(db, world)
    event_id, flats, order = ids["event_id"], ids["flats"], ids["order"]
    assert isinstance(event_id, int) and isinstance(flats, dict) and isinstance(order, list)
    hid = order[0]
    sel = housing_service.select_flat(
        db, actor=OFFICER, event_id=event_id, household_id=hid, flat_id=flats["1-1-101"]
    )
    housing_service.finish_household(db, actor=OFFICER, event_id=event_id, household_id=hid)
    estate = housing_service.get_estate(db, estate_id=int(str(ids["estate_id"])))
    housing_service.update_estate_delivery(
        db,
        actor=OFFICER,
        estate_id=estate.id,
        expected_version=estate.version,
        changes={"planned_delivery_on": date(2023, 12, 31), "actual_delivery_on": DELIVERED},
        today=SIGNED,
    )
    return {"household_id": hid, "selection_id": int(sel.id)}


@pytest.fixture(scope="module")
def flow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve_world(
        tmp_path_factory.mktemp("facts_handover"),
        start_timeout=120,
        seed="tests.e2e.test_facts_handover_flow:seed",
    ) as live:
        yield Server(url=live.url, world=live.world)


def test_policy_facts_then_key_handover(flow_server: Server, open_page: OpenPage, shots: Shots) -> None:
    hid = flow_server.world["seed"]["household_id"]
    sel_id = flow_server.world["seed"]["selection_id"]
    url = flow_server.url
    page = open_page(1366, 768)
    login(page, flow_server, "case_officer")
    page.goto(f"{url}/households/{hid}")
    section = page.locator("#policy-facts")
    assert "方案要求的事实" in section.inner_text() and "空调数量" in section.inner_text()
    page.click("#policy-facts a.btn")
    page.wait_for_url(re.compile(rf".*/households/{hid}/policy-facts/edit$"))
    # a second tab reads the same version
    other = page.context.new_page()
    other.goto(f"{url}/households/{hid}/policy-facts/edit")

    # a word in a count, an out-of-range area: each refused beside its field, nothing written
    page.fill("#pf-ac_units", "两台")
    page.fill("#pf-reward_area", "250")
    page.fill("#f-reason", "入户核实")
    page.click("#policy-facts-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#err-pf-ac_units").inner_text() == "空调数量应为数字，却是“两台”"
    assert page.locator("#err-pf-reward_area").inner_text() == "认定奖励面积不能大于 200 ㎡，却是“250”"
    assert page.input_value("#pf-reward_area") == "250"  # what was typed stays
    shots(page, "facts_handover_1_refused")

    # the second tab saves first
    other.fill("#pf-ac_units", "3")
    other.fill("#f-reason", "另一位经办人录入")
    other.click("#policy-facts-form button[type=submit]")
    other.wait_for_url(re.compile(rf".*/households/{hid}(#policy-facts)?$"))
    # the first tab is now stale: 409 naming who changed it, nothing of it written
    page.fill("#pf-ac_units", "2")
    page.fill("#pf-reward_area", "12.5")
    page.click("#policy-facts-form button[type=submit]")
    page.wait_for_load_state()
    alert = page.locator(".alert-error").first.inner_text()
    assert "case_officer" in alert or "测试case_officer" in alert, alert
    shots(page, "facts_handover_2_stale")
    page.goto(f"{url}/households/{hid}")
    assert "3 台" in page.locator("#policy-facts").inner_text()
    assert "12.50" not in page.locator("#policy-facts").inner_text()
    # read again and saved
    page.goto(f"{url}/households/{hid}/policy-facts/edit")
    page.fill("#pf-reward_area", "12.5")
    page.fill("#f-reason", "评估委员会认定")
    page.click("#policy-facts-form button[type=submit]")
    page.wait_for_url(re.compile(rf".*/households/{hid}(#policy-facts)?$"))
    facts = page.locator("#policy-facts").inner_text()
    assert "3 台" in facts and "12.50 ㎡" in facts
    shots(page, "facts_handover_3_saved")

    # the settlement page: a key handover before the household signed is refused beside the flat
    page.goto(f"{url}/households/{hid}/settlement#handover")
    form = page.locator(f"#handover-{sel_id} form")
    day = form.locator("input[name=handed_over_on]")
    # the browser already holds the date back (min = the later of delivery and signing) ...
    assert day.get_attribute("min") == SIGNED.isoformat()
    day.fill("2024-05-20")
    assert day.evaluate("e => e.validity.rangeUnderflow") is True
    # ... and the server refuses it too when a client skips that check
    day.evaluate("e => e.removeAttribute('min')")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert (
        page.locator(f"#handover-{sel_id} .alert-error").inner_text()
        == f"交钥匙日期不能早于该户签约日期（{SIGNED.isoformat()}）"
    )
    assert page.locator(f"#handover-{sel_id} input[name=handed_over_on]").input_value() == "2024-05-20"
    shots(page, "facts_handover_4_refused")
    form = page.locator(f"#handover-{sel_id} form")
    form.locator("input[name=handed_over_on]").fill("2024-06-20")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/settlement\?ok=handover#handover$"))
    assert "交钥匙日期已保存" in page.locator("#handover").inner_text()
    page.goto(f"{url}/households/{hid}")
    assert page.locator("#event-move_back_on").inner_text().startswith("2024-06-20")
    assert page.locator("#event-delivery_actual_on").inner_text().startswith(DELIVERED.isoformat())
    shots(page, "facts_handover_5_key_dates")

    # on a phone: no sideways scroll on the facts form, the settlement and the file
    phone = open_page(390, 844)
    login(phone, flow_server, "case_officer")
    for path, name in (
        (f"/households/{hid}/policy-facts/edit", "facts_handover_6_phone_form"),
        (f"/households/{hid}/settlement", "facts_handover_7_phone_settlement"),
        (f"/households/{hid}", "facts_handover_8_phone_file"),
    ):
        phone.goto(url + path)
        no_sideways_scroll(phone)
        shots(phone, name)
