"""Browser tests of #13 items 5 and 6: the policy draft form (values checked inline, saved as a new
draft, diffed against the published version) and named what-if scenarios (saved, compared side by
side, results before inputs on a phone). Screenshots at 1366x768 and 390 px go to test-results/."""

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


@pytest.fixture(scope="module")
def policy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The standard world (6 households of 88.50 ㎡) with the demo's shantytown policy published."""
    from anju.compensation import service as compensation_service
    from anju.core.actor import Actor
    from anju.db.session import make_engine
    from anju.demo.policies import POLICY_DIR

    if not (ROOT / "src/anju/static/vendor/htmx.min.js").exists():
        unavailable("front-end vendor files (run scripts/setup.sh)")
    tmp = tmp_path_factory.mktemp("policyform-e2e")
    with serve_world(tmp, start_timeout=60) as live:
        engine = make_engine(f"sqlite:///{(tmp / 'data' / 'anju.db').resolve()}")
        officer = Actor(
            user_id=live.world["users"]["case_officer"],
            username="case_officer",
            display_name="经办人",
            role="case_officer",
        )
        try:
            with Session(engine) as db, db.begin():
                compensation_service.publish(
                    db,
                    actor=officer,
                    project_id=live.world["project_id"],
                    source=(POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8"),
                    file_name="shantytown.yaml",
                )
        finally:
            engine.dispose()
        yield Server(url=live.url, world=live.world)


def _y(page: Page, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return float(box["y"])


def test_policy_values_edited_in_the_form(policy_server: Server, open_page: OpenPage, shots: Shots) -> None:
    page = open_page(1366, 768)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, policy_server, "case_officer")
    pid = policy_server.world["project_id"]
    page.goto(f"{policy_server.url}/projects/{pid}/policy")
    page.click("#edit-in-form")
    page.click("#start-draft")
    page.wait_for_url(f"**/projects/{pid}/policy/drafts/1")
    group = page.locator("#g-parameters-relocation_rate")
    assert "依据：方案第十条" in group.inner_text()
    assert "元/㎡" in group.inner_text()
    rate = group.locator("input")
    assert rate.input_value() == "15"
    # a wrong value: the checker's message appears next to the field, in Chinese
    rate.fill("十八")
    rate.dispatch_event("change")
    msg = group.locator(".field-msg")
    msg.filter(has_text="“十八”不是数字").wait_for()
    # overlapping windows: the checker's own message lands on the window bound that was changed
    upto = (
        page.locator("#g-tiers-sign_reward_rate .pf-row")
        .filter(has_text="第1个时间窗 · 不超过第…日")
        .locator("input")
    )
    upto.fill("40")
    upto.dispatch_event("change")
    page.locator("#g-tiers-sign_reward_rate .field-msg").filter(has_text="重叠").wait_for()
    shots(page, "policy-form-errors-1366")
    upto.fill("30")
    rate.fill("18")
    rate.dispatch_event("change")
    page.locator("#check-summary").filter(has_text="检查通过：已修改 1 处").wait_for()
    assert msg.inner_text() == ""
    assert "changed" in (group.locator(".pf-row").get_attribute("class") or "")
    shots(page, "policy-form-1366")
    page.click("#save-form")
    page.wait_for_url(f"**/projects/{pid}/policy/drafts/2/diff")
    rows = page.locator("#policy-diff tbody tr")
    assert rows.count() == 1
    assert "relocation_rate" in rows.first.inner_text() and "18" in rows.first.inner_text()
    shots(page, "policy-form-diff-1366")
    assert errors == []


def test_policy_form_on_a_phone(policy_server: Server, open_page: OpenPage, shots: Shots) -> None:
    page = open_page(390, 844)
    login(page, policy_server, "case_officer")
    pid = policy_server.world["project_id"]
    page.goto(f"{policy_server.url}/projects/{pid}/policy/drafts")
    if page.locator("#start-draft").count():
        page.click("#start-draft")
    page.locator("#draft-form").wait_for()
    no_sideways_scroll(page)
    page.set_viewport_size({"width": 390, "height": 844})
    shots(page, "policy-form-390")


@pytest.mark.parametrize("width", [1366, 390])
def test_scenarios_saved_and_compared(
    policy_server: Server, open_page: OpenPage, shots: Shots, width: int
) -> None:
    page = open_page(width, 768 if width == 1366 else 844)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, policy_server, "case_officer")
    pid = policy_server.world["project_id"]
    names = []
    for rate in ("18", "20"):
        page.goto(f"{policy_server.url}/projects/{pid}/whatif")
        if width == 390:  # on a phone the results come before the inputs
            assert _y(page, "#whatif-result") < _y(page, ".knobs")
        knob = page.locator("input[name='k.relocation_rate']")
        knob.fill(rate)
        knob.dispatch_event("input")
        page.locator("#whatif-totals").filter(has_text="-" if rate == "0" else "元").wait_for()
        name = f"搬迁费{rate}元-{width}"
        names.append(name)
        page.fill("#sc-name", name)
        page.click("#scenario-save-btn")
        page.wait_for_url(f"**/projects/{pid}/scenarios/*")
        totals = page.locator("#scenario-totals").inner_text()
        assert ("1,593.00" if rate == "18" else "2,655.00") in totals  # 6 × 88.50 ㎡ × 3 (or 5) 元
        assert page.locator("#scenario-affected").inner_text() == "6"
        assert _y(page, "#scenario-totals") < _y(page, "#scenario-inputs")
        no_sideways_scroll(page)
    shots(page, f"scenario-{width}")
    page.goto(f"{policy_server.url}/projects/{pid}/scenarios")
    for name in names:
        page.get_by_label(f"比较 {name}").check()
    page.click("#compare-btn")
    page.wait_for_url("**/scenarios/compare?**")
    head = page.locator("#compare-totals thead").inner_text()
    assert names[0] in head and names[1] in head
    delta = page.locator("#compare-totals tbody tr").nth(3).inner_text()
    assert "1,593.00" in delta and "2,655.00" in delta
    # columns in list order (newest first)
    assert page.locator("#compare-params tbody tr").first.inner_text().split("\t")[1:] == ["15", "20", "18"]
    no_sideways_scroll(page)
    shots(page, f"scenario-compare-{width}")
    with page.expect_download() as dl:
        page.click("#export-xlsx")
    assert dl.value.suggested_filename.endswith(".xlsx")
    if width == 390:
        page.goto(f"{policy_server.url}/projects/{pid}/whatif")
        shots(page, "whatif-390")
    assert errors == []
