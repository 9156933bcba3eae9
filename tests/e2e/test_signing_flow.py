"""The signing issue end to end in Chromium, through the pages only: the case officer signs a household
at the signing desk and prints its agreement; finance prepares a payment batch of the on-signing
instalment and submits it; the commander (a different user) approves it; the case officer records
the vacating; the household's schedule then shows the after-vacating instalment and the vacating
reward (腾空奖励) due. Screenshots of each step go to test-results/.

The world is the standard one with the demo shantytown policy published, its clocks moved to this
week so that vacating today earns the 15-day reward (5,000 元).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from tests.conftest import unavailable
from tests.e2e.conftest import RESULTS, ROOT, Server
from tests.factories import PASSWORD
from tests.live_server import serve_world

pytestmark = pytest.mark.e2e

Page = Any
OpenPage = Callable[..., Page]
Shots = Callable[[Page, str], Any]
REWARD = "5,000.00"


def policy_source(today: date) -> str:
    """The demo policy with its dates moved so that signing and vacating today fall in the windows."""
    from anju.demo.policies import POLICY_DIR

    source = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
    moves = {
        "effective_on: 2024-04-01": f"effective_on: {today - timedelta(days=30)}",
        "signing_start: {label: 签约期开始, date: 2024-04-01}": (
            f"signing_start: {{label: 签约期开始, date: {today - timedelta(days=10)}}}"
        ),
        "agreements_effective: {label: 协议生效日, date: 2024-05-20}": (
            f"agreements_effective: {{label: 协议生效日, date: {today - timedelta(days=1)}}}"
        ),
        "sign_deadline: {label: 集体签约截止日, date: 2024-05-31}": (
            f"sign_deadline: {{label: 集体签约截止日, date: {today + timedelta(days=20)}}}"
        ),
        "vacate_deadline: {label: 整地块腾空截止日, date: 2024-06-30}": (
            f"vacate_deadline: {{label: 整地块腾空截止日, date: {today + timedelta(days=30)}}}"
        ),
    }
    for old, new in moves.items():
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    return source


def seed(db: Session, world: dict[str, Any], today: date) -> None:
    from anju.compensation import service as compensation_service
    from anju.core.actor import Actor

    officer = Actor(
        user_id=world["users"]["case_officer"],
        username="case_officer",
        display_name="测试case_officer",
        role="case_officer",
    )
    compensation_service.publish(
        db, actor=officer, project_id=world["project_id"], source=policy_source(today), file_name="e2e.yaml"
    )


@pytest.fixture(scope="module")
def flow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from anju.db.session import make_engine

    if not (ROOT / "src/anju/static/vendor/htmx.min.js").exists():
        unavailable("front-end vendor files (run scripts/setup.sh)")
    tmp = tmp_path_factory.mktemp("signing-flow-e2e")
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


def schedule(page: Page) -> dict[str, tuple[str, str, str]]:
    """kind -> (status, amount, due date) of the household's payment schedule on its agreement tab."""
    rows = page.locator("#instalments tbody tr[data-kind]")
    out = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        cells = row.locator("td")
        out[row.get_attribute("data-kind")] = (
            row.get_attribute("data-status"),
            cells.nth(2).inner_text(),
            cells.nth(6).inner_text(),
        )
    return out


def pdf_text(pdf: bytes, tmp: Path) -> str:
    path = tmp / "agreement.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    # a picture of the first page, to look at
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(path), str(RESULTS / "signing-flow-pdf")],
        check=True,
    )
    return out.stdout


def test_sign_print_pay_approve_vacate_and_the_reward_becomes_due(
    flow_server: Server, open_page: OpenPage, shots: Shots, tmp_path: Path
) -> None:
    pid = flow_server.world["project_id"]
    hid = flow_server.world["household_ids"][0]
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    errors: list[str] = []

    # 1. the case officer signs H0001 at the desk (from the menu), with the payee's bank account
    officer = open_page(1366, 768)
    officer.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(officer, flow_server, "case_officer")
    officer.goto(f"{flow_server.url}/projects/{pid}")
    with officer.expect_navigation():
        officer.locator("nav.sidenav").get_by_role("link", name="签约台").click()
    with officer.expect_navigation():
        officer.locator("#desk-queue").get_by_role("link", name=re.compile("H0001")).click()
    assert "货币补偿 · 补偿计算单" in officer.inner_text("#desk-sheet")
    assert "腾空奖励" in officer.inner_text("#desk-sheet")
    officer.fill("#payee_bank", "青溪农商银行东埠支行")
    officer.fill("#payee_account", "6222 0202 1234 5678")
    no_sideways_scroll(officer)
    shots(officer, "signing-flow-1-desk")
    with officer.expect_navigation():
        officer.click("#to-review")
    review = officer.inner_text("#desk-review")
    assert "张建国" in review and "青溪农商银行东埠支行" in review and "6222020212345678" in review
    shots(officer, "signing-flow-2-review")
    with officer.expect_navigation():
        officer.click("#confirm-sign")
    assert officer.inner_text("#sign-no") == "1"
    agreement_no = officer.inner_text("#agreement-no")
    total = officer.inner_text("#agreement-total")
    assert agreement_no == "P1-0001"
    shots(officer, "signing-flow-3-signed")

    # 2. its agreement prints: the PDF names the household, the total and its capital form
    print_url = officer.get_attribute("#print-link", "href")
    assert re.fullmatch(r"/agreements/\d+/print", print_url or "")
    r = officer.request.get(flow_server.url + str(print_url))
    assert r.status == 200 and r.headers["content-type"].startswith("application/pdf")
    text = pdf_text(r.body(), tmp_path)
    flat = re.sub(r"\s+", "", text)
    assert "张建国" in text and agreement_no in text and total.replace(",", "") in flat.replace(",", "")
    assert "大写" in text and "腾空奖励" in text

    # the household's agreement tab: on-signing share due, the rest after vacating, no reward yet
    officer.goto(f"{flow_server.url}/households/{hid}/agreement")
    before = schedule(officer)
    assert [(k, s[0]) for k, s in before.items()] == [("on_sign", "due"), ("after_vacate", "scheduled")]
    on_sign_amount = before["on_sign"][1]

    # 3. finance prepares a batch of the on-signing instalment and submits it
    finance = open_page(1366, 768)
    finance.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(finance, flow_server, "finance")
    finance.goto(f"{flow_server.url}/projects/{pid}")
    with finance.expect_navigation():
        finance.locator("nav.sidenav").get_by_role("link", name="补偿款支付").click()
    row = finance.locator("#due tbody tr").filter(has_text="H0001")
    assert row.count() == 1 and on_sign_amount in row.inner_text()
    row.locator("input[type=checkbox]").check()
    shots(finance, "signing-flow-4-payments")
    with finance.expect_navigation():
        finance.get_by_role("button", name="按勾选的款项编制批次").click()
    assert "/payment-batches/" in finance.url
    batch_url = finance.url.split("?")[0]
    with finance.expect_navigation():
        finance.get_by_role("button", name="提交审批").click()
    # finance cannot approve its own batch: no approve button for the preparer
    assert finance.get_by_role("button", name=re.compile("审批通过")).count() == 0
    shots(finance, "signing-flow-5-submitted")

    # 4. the commander approves it from the approvals inbox
    commander = open_page(1366, 768)
    commander.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(commander, flow_server, "commander")
    with commander.expect_navigation():
        commander.locator("nav.sidenav").get_by_role("link", name="领导审批").click()
    with commander.expect_navigation():
        commander.click("#payment-batches-link")
    with commander.expect_navigation():
        commander.get_by_role("link", name=re.compile("第 1 批")).first.click()
    assert commander.url.split("?")[0] == batch_url
    with commander.expect_navigation():
        commander.get_by_role("button", name=re.compile("审批通过")).click()
    assert "已审批" in commander.inner_text("h1")
    shots(commander, "signing-flow-6-approved")

    # 5. the case officer records the vacating from the household's agreement tab
    officer.goto(f"{flow_server.url}/households/{hid}/agreement")
    with officer.expect_navigation():
        officer.get_by_role("link", name="登记腾空验收").click()
    officer.fill("#v-vacated_on", today)
    officer.fill("#v-inspector", "李验收")
    officer.fill("#v-keys_handed", "3")
    for box in officer.locator("#vacate-form input[type=checkbox]").all():
        box.check()
    shots(officer, "signing-flow-7-vacate-form")
    with officer.expect_navigation():
        officer.click("#vacate-submit")
    assert REWARD in officer.inner_text("#vacate-saved")

    # 6. the schedule: after vacating and the vacating reward are due today; on signing is approved
    officer.goto(f"{flow_server.url}/households/{hid}/agreement")
    after = schedule(officer)
    assert after["after_vacate"][0] == "due" and after["after_vacate"][2] == today
    assert after["reward"] == ("due", REWARD, today)
    # the on-signing share is approved, not yet paid: the bank's result closes it
    assert after["on_sign"][0] == "due"
    on_sign_row = officer.locator("#instalments tbody tr[data-kind=on_sign] td")
    assert on_sign_row.nth(4).inner_text() == on_sign_amount  # 已审批待付
    assert "腾空验收后支付" in officer.inner_text("#instalments") and "奖励" in officer.inner_text(
        "#instalments"
    )
    assert "李验收" in officer.inner_text("#vacate-record")
    no_sideways_scroll(officer)
    shots(officer, "signing-flow-8-schedule")

    # 7. the team member of the household reads the same tab on a phone: no actions, account masked
    phone = open_page(390, 844)
    phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(phone, flow_server, "team_member")
    phone.goto(f"{flow_server.url}/households/{hid}/agreement")
    assert phone.inner_text("#sign-no") == "1" and schedule(phone)["reward"] == ("due", REWARD, today)
    assert "6222********5678" in phone.inner_text("#agreement")
    assert phone.get_by_role("link", name="填写拆除登记").count() == 0
    no_sideways_scroll(phone)
    shots(phone, "signing-flow-9-phone")
    assert errors == []
