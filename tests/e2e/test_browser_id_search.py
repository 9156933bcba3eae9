"""In the browser: a search by identity number keeps the number out of the address bar."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_browser import household_list_url, login
from tests.factories import id_number

pytestmark = pytest.mark.e2e


def test_search_by_identity_number_shows_the_household_and_a_token_in_the_url(
    server: Server, open_page: Callable[..., Any]
) -> None:
    page = open_page(1366, 768)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    login(page, server, "case_officer")
    page.goto(household_list_url(server))
    number = id_number(3)  # 王志强, the third household's head
    page.fill("#q", number)
    page.press("#q", "Enter")
    page.wait_for_function("() => document.querySelectorAll('#household-table tbody tr').length === 1")
    assert page.locator("#household-table tbody tr td").nth(1).inner_text() == "王志强"
    page.wait_for_url(re.compile(r".*\?qt=[A-Za-z0-9_-]+$"))
    assert number not in page.url
    assert not [u for u in requests if number in u or number[:15] in u]
    # reloading the kept address shows the same household without the number
    page.reload()
    assert page.locator("#household-table tbody tr").count() == 1
    assert number not in page.content()
