"""The main pages work under the Content-Security-Policy: no violation, no script error.

Violations are caught two ways: the ``securitypolicyviolation`` DOM event (recorded by an init
script, which the browser runs outside the page's CSP) and Chromium's console messages
("Refused to ..."). Each page is also checked for doing what it should, so a page that is broken
in a way the CSP does not report (a script that never ran) fails as well.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_browser import household_list_url, login

pytestmark = pytest.mark.e2e

Page = Any
Shots = Callable[[Page, str], Path]

_RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sourceFile || '') + ':' + e.lineNumber);
});
"""


class Watch:
    """Collects CSP violations, console errors and uncaught page errors of one page."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console: list[str] = []
        self.errors: list[str] = []
        page.add_init_script(_RECORD_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _console(self, msg: Any) -> None:
        text = msg.text
        if "Refused to" in text or "Content Security Policy" in text or msg.type == "error":
            self.console.append(f"{msg.type}: {text}")

    def check(self, where: str) -> None:
        violations = self.page.evaluate("window.__csp || []")
        assert violations == [], (where, violations)
        assert [c for c in self.console if "Refused to" in c or "Content Security Policy" in c] == [], (
            where,
            self.console,
        )
        assert self.errors == [], (where, self.errors)
        self.console.clear()


def test_main_pages_raise_no_csp_violation(
    server: Server, open_page: Callable[..., Page], shots: Shots
) -> None:
    page = open_page(1366, 768)
    watch = Watch(page)
    pid = server.world["project_id"]
    hid = server.world["household_ids"][0]

    page.goto(server.url + "/login")
    watch.check("login page")
    login(page, server, "case_officer")
    assert page.locator("main").inner_text().count("测试征收项目") >= 1
    watch.check("project list")

    page.goto(f"{server.url}/projects/{pid}")
    page.wait_for_function(
        "() => !!document.querySelector('.chart[data-chart] canvas') || !document.querySelector('.chart')"
    )
    watch.check("project overview (ECharts)")

    page.goto(household_list_url(server))
    page.locator("#q").press_sequentially("志强", delay=30)
    page.wait_for_function("() => document.querySelectorAll('#household-table tbody tr').length === 1")
    watch.check("household list and live search (htmx)")

    page.goto(f"{server.url}/households/{hid}?tab=members")
    page.click("#member-table >> text=编辑")
    page.wait_for_url(re.compile(r".*/members/\d+/edit$"))
    page.fill("#f-phone", "13700000000")
    page.fill("#f-reason", "核对电话")
    with page.expect_navigation(url=re.compile(r".*tab=members$")):
        page.click("main form >> button[type=submit]")
    assert page.locator("#member-table .member-phone").first.inner_text() == "13700000000"
    watch.check("household page and member edit")

    page.goto(f"{server.url}/projects/{pid}/import")
    assert "导入" in page.locator("main").inner_text()
    watch.check("import page")

    page.goto(f"{server.url}/projects/{pid}/policy")
    watch.check("policy page")

    page.goto(f"{server.url}/projects/{pid}/whatif")
    watch.check("policy what-if page")

    page.goto(f"{server.url}/audit")
    watch.check("audit page")

    page.goto(f"{server.url}/api/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "安居 Anju API" in page.locator(".swagger-ui .info .title").inner_text()
    shots(page, "20-api-docs")
    watch.check("API docs (Swagger UI)")


def test_phone_navigation_toggle_works_with_alpines_csp_build(
    server: Server, open_page: Callable[..., Page]
) -> None:
    page = open_page(390, 844)
    watch = Watch(page)
    login(page, server, "case_officer")
    page.click("button.nav-toggle")
    page.wait_for_function("() => document.querySelector('nav.sidenav').getBoundingClientRect().left >= 0")
    watch.check("nav toggle")


def test_a_violation_is_caught(server: Server, open_page: Callable[..., Page]) -> None:
    """The watch itself: an inline script added to the page is refused and reported."""
    page = open_page(1366, 768)
    watch = Watch(page)
    page.goto(server.url + "/login")
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';
                            document.body.appendChild(s); }""")
    page.wait_for_function("() => window.__csp.length > 0")
    assert page.evaluate("window.__ran") is None
    with pytest.raises(AssertionError):
        watch.check("planted inline script")


def test_admin_pages_raise_no_csp_violation(server: Server, open_page: Callable[..., Page]) -> None:
    page = open_page(1366, 768)
    watch = Watch(page)
    login(page, server, "admin")
    page.goto(f"{server.url}/users")
    assert "新增用户" in page.locator("main").inner_text()
    watch.check("users page")
    page.goto(f"{server.url}/audit")
    watch.check("audit page (admin)")
    response = page.goto(f"{server.url}/households/999999")
    assert response is not None and response.status in (403, 404)
    watch.check("error page")
