"""Browser test of the dispatch report page (调度通报): pick a date, write the commentary, 签发 after
the confirmation, the archive; at 1366x768 and on a 390 px phone, with screenshots in test-results/."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from anju.core.dates import today_shanghai
from tests.e2e.conftest import Server
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

Page = Any


def login(page: Page, server: Server, username: str) -> None:
    page.goto(server.url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


def test_commander_writes_and_issues_a_report(
    server: Server, open_page: Callable[..., Page], shots: Callable[[Page, str], Path]
) -> None:
    day = today_shanghai() - timedelta(days=3)
    pid = server.world["project_id"]
    page = open_page(1366, 768)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, server, "commander")
    page.goto(f"{server.url}/projects/{pid}/dispatch")
    page.fill("#dispatch-on", day.isoformat())
    page.click("text=查看通报")
    page.wait_for_url(f"**/projects/{pid}/dispatch/{day.isoformat()}")
    assert page.inner_text("#dispatch-status") == "草稿"
    assert page.inner_text("#dispatch-headline [data-k=households]") == "6"
    page.fill("#dispatch-commentary", "一、各专班今晚集中入户。\n二、难点户明日上报。")
    page.click("#dispatch-save")
    page.wait_for_selector(".alert-ok")
    assert page.input_value("#dispatch-commentary") == "一、各专班今晚集中入户。\n二、难点户明日上报。"
    no_sideways_scroll(page)
    shots(page, "dispatch-draft-1366")

    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click("#dispatch-issue")
    page.wait_for_timeout(300)
    assert asked == ["签发后通报的数字和讲评将冻结归档，不能再修改。确认签发？"]
    assert page.inner_text("#dispatch-status") == "草稿"  # declined: nothing issued
    page.once("dialog", lambda d: d.accept())
    page.click("#dispatch-issue")
    page.wait_for_selector("text=通报已签发并归档")
    assert page.inner_text("#dispatch-status") == "已签发"
    assert (
        page.query_selector("#dispatch-commentary") is None and page.query_selector("#dispatch-issue") is None
    )
    paragraphs = page.locator("#dispatch-commentary-text p.dispatch-para").all_inner_texts()
    assert paragraphs == ["一、各专班今晚集中入户。", "二、难点户明日上报。"]
    shots(page, "dispatch-issued-1366")
    page.goto(f"{server.url}/projects/{pid}/dispatch")
    row = page.inner_text("#dispatch-archive tbody")
    assert day.isoformat() in row and "已签发" in row and "测试commander" in row
    assert errors == []

    phone = open_page(390, 844)
    login(phone, server, "team_member")
    phone.goto(f"{server.url}/projects/{pid}/dispatch/{day.isoformat()}")
    assert phone.inner_text("#dispatch-status") == "已签发"
    assert phone.query_selector("#dispatch-issue") is None  # no DISPATCH_WRITE
    no_sideways_scroll(phone)
    shots(phone, "dispatch-issued-390")
