"""Acceptance (issue #9): on a phone (390x844) a team member logs a visit with two outside persuaders
while the browser is offline; after going online it is stored exactly once; the team leader sees it
in the timeline. Also: the form opens again without signal (service worker), and a second send of
the same queued visit (same idempotency key) stores nothing new.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_csp import Watch
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

Page = Any
Shots = Callable[[Page, str], Path]
PHONE = {"width": 390, "height": 844}
QUEUE = "anju.visits.queue.v1"


def phone_page(browser: Any, contexts: list[Any]) -> Page:
    ctx = browser.new_context(viewport=PHONE, locale="zh-CN", has_touch=True, is_mobile=True)
    ctx.set_default_timeout(15_000)
    contexts.append(ctx)
    return ctx.new_page()


def login(page: Page, server: Server, username: str) -> None:
    page.goto(server.url + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation(url=re.compile(r".*/projects$")):
        page.click("form[action='/login'] button[type=submit]")


def no_sideways_scroll(page: Page) -> None:
    sizes = page.evaluate(
        "({body: document.body.scrollWidth, doc: document.documentElement.scrollWidth, inner: innerWidth})"
    )
    assert sizes["body"] <= sizes["inner"] and sizes["doc"] <= sizes["inner"], sizes


def queue(page: Page) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(page.evaluate(f"localStorage.getItem('{QUEUE}') || '[]'"))
    return items


def test_offline_visit_with_two_persuaders_is_stored_once_and_the_leader_sees_it(
    server: Server, browser: Any, shots: Shots
) -> None:
    contexts: list[Any] = []
    try:
        _run(server, browser, shots, contexts)
    finally:
        for ctx in contexts:
            ctx.close()


def _run(server: Server, browser: Any, shots: Shots, contexts: list[Any]) -> None:
    hid = server.world["household_ids"][0]  # 张建国, assigned to the team member
    page = phone_page(browser, contexts)
    watch = Watch(page)  # no CSP violation, no script error on the way
    login(page, server, "team_member")

    # From the household's page to the form, with signal: the service worker takes the form and its files.
    page.goto(f"{server.url}/households/{hid}")
    with page.expect_navigation(url=re.compile(r".*/visits/new$")):
        page.click("#log-visit")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    assert page.locator("h1").inner_text().startswith("登记走访")
    assert page.input_value("#vf-place") == "青溪路1号"
    assert page.input_value("#vf-staff") == "测试team_member"
    no_sideways_scroll(page)
    watch.check("form online")
    shots(page, "visit-01-form-390x844")

    # No signal: the form still opens (kept by the service worker) and the visit is queued on the device.
    page.context.set_offline(True)
    # a form never opened with signal is not there (and says so in Chinese)...
    never = page.goto(f"{server.url}/households/{server.world['household_ids'][1]}/visits/new")
    assert never is not None and never.status == 503 and never.from_service_worker
    assert "无网络" in page.locator("body").inner_text()
    # ...the one opened before is
    response = page.goto(f"{server.url}/households/{hid}/visits/new")
    assert response is not None and response.status == 200 and response.from_service_worker
    page.wait_for_selector("#visit-form")
    assert page.evaluate("navigator.onLine") is False
    page.fill("#vf-duration_min", "45")
    names = page.locator("input[name=persuader_name]")
    relations = page.locator("select[name=persuader_relation]")
    names.nth(0).fill("张国庆")
    relations.nth(0).select_option("relative")
    names.nth(1).fill("李卫东")
    relations.nth(1).select_option("comrade")
    page.click(".vf-chip:has-text('面积认定')")
    page.click(".vf-chip:has-text('补偿标准')")
    page.fill("#vf-concern_text", "认为阁楼应计入面积")
    page.click(".vf-seg-wait")
    page.fill("#vf-outcome", "同意评估公司再量一次")
    page.fill("#vf-next_step", "约评估公司复核阁楼")
    shots(page, "visit-02-filled-offline")
    page.click("#vf-submit")
    page.wait_for_selector("#visit-queue:not([hidden])")
    assert page.locator("#visit-queue-count").inner_text() == "待同步 1 条"
    assert "无网络" in page.locator("#visit-status").inner_text()
    [item] = queue(page)
    assert [p["name"] for p in item["body"]["persuaders"]] == ["张国庆", "李卫东"]
    assert re.fullmatch(r"[0-9a-f-]{36}", item["key"])
    # the form is empty again, ready for the next visit
    assert page.input_value("input[name=persuader_name] >> nth=0") == ""
    watch.check("queued offline")
    shots(page, "visit-03-queued-offline")

    # Signal again: the queue empties by itself.
    page.context.set_offline(False)
    page.wait_for_function(f"() => JSON.parse(localStorage.getItem('{QUEUE}') || '[]').length === 0")
    page.wait_for_selector("#visit-queue", state="hidden")
    assert "已全部同步" in page.locator("#visit-status").inner_text()
    watch.check("synced")
    visits = page.request.get(f"{server.url}/api/v1/households/{hid}/visits").json()
    mine = [v for v in visits if v["idempotency_key"] == item["key"]]
    assert len(mine) == 1
    stored = mine[0]
    assert [(p["name"], p["relation"]) for p in stored["persuaders"]] == [
        ("张国庆", "relative"),
        ("李卫东", "comrade"),
    ]
    assert stored["concern_tags"] == ["area", "standard"]
    assert (stored["attitude"], stored["duration_min"], stored["recorder_name"]) == (
        "wait",
        45,
        "测试team_member",
    )

    # A second send of the same queued visit (another tab, a retry after a timeout): the stored one, once.
    csrf = page.request.get(f"{server.url}/api/v1/auth/me").json()["csrf_token"]
    again = page.request.post(
        f"{server.url}/api/v1/households/{hid}/visits",
        data=json.dumps(item["body"]),
        headers={"Content-Type": "application/json", "X-CSRF-Token": csrf, "Idempotency-Key": item["key"]},
    )
    assert again.status == 200 and again.json()["id"] == stored["id"]
    visits = page.request.get(f"{server.url}/api/v1/households/{hid}/visits").json()
    assert [v["id"] for v in visits if v["idempotency_key"] == item["key"]] == [stored["id"]]
    assert sum(1 for v in visits if "张国庆" in [p["name"] for p in v["persuaders"]]) == 1

    # The team leader opens the household's timeline on a phone and sees the visit.
    leader = phone_page(browser, contexts)
    leader_watch = Watch(leader)
    login(leader, server, "team_leader")
    leader.goto(f"{server.url}/households/{hid}/visits")
    entry = leader.locator(f"article[data-visit-id='{stored['id']}']")
    text = entry.inner_text()
    for expected in (
        "张国庆",
        "（亲属）",
        "李卫东",
        "（战友）",
        "面积认定",
        "补偿标准",
        "观望",
        "45 分钟",
        "约评估公司复核阁楼",
    ):
        assert expected in text, (expected, text)
    assert "测试team_member" in text
    no_sideways_scroll(leader)
    leader_watch.check("leader timeline")
    shots(leader, "visit-04-leader-timeline-390x844")
