"""With English chosen, page content is English: every role's navigation pages and the household
file's tabs are rendered with the ``lang=en`` cookie, and no text of the page may be a message id
of the catalog (Chinese catalog text left untranslated). Data values (names, addresses) are Chinese
legitimately and are not message ids, so they pass."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

from fastapi.testclient import TestClient

from anju import i18n
from anju.identity.rules import Role
from tests.factories import World

ClientAs = Callable[[str], tuple[TestClient, str, World]]
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


class _Text(HTMLParser):
    """The text nodes of a page, outside scripts and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.texts.append(" ".join(data.split()))


def _catalog_chinese() -> set[str]:
    """Chinese text of the catalog: the Chinese message ids and the Chinese of the dotted keys."""
    ids = {k for k in i18n.catalog("en") if HAN.search(k)}
    return ids | {v for v in i18n.catalog("zh").values() if HAN.search(v)}


def untranslated(html: str, catalog: set[str]) -> list[str]:
    """Text nodes of ``html`` that are Chinese catalog text (after dropping edge punctuation)."""
    parser = _Text()
    parser.feed(html)
    out = []
    for text in parser.texts:
        for part in re.split(r"\s*[·|:：]\s*", text):
            part = part.strip(" .。*")
            if part and HAN.search(part) and part in catalog:
                out.append(part)
    return out


def test_the_scan_finds_catalog_text_and_passes_data() -> None:
    catalog = {"签约日期", "户主"}
    html = (
        "<h1>Households</h1><p>签约日期：2026</p><td>张建国</td><td>甲方（户主）姓名</td>"
        "<script>'户主'</script><i title='户主'>x</i>"
    )
    assert untranslated(html, catalog) == ["签约日期"]


def _nav_links(html: str) -> list[str]:
    nav = re.search(r'<nav class="sidenav".*?</nav>', html, re.S)
    return re.findall(r'href="([^"]+)"', nav.group(0)) if nav else []


def test_every_role_reads_its_pages_in_english(client_as: ClientAs) -> None:
    catalog = _catalog_chinese()
    seen: set[str] = set()
    failures: list[str] = []
    for role in Role:
        client, _token, world = client_as(role.value)
        client.cookies.set("lang", "en")
        hid = world.household_ids[0]
        pages = ["/projects", f"/projects/{world.project_id}", "/account/password"]
        for start in ("/projects", f"/projects/{world.project_id}"):
            r = client.get(start)
            if r.status_code == 200:
                pages += _nav_links(r.text)
        pid = world.project_id
        pages += [f"/households/{hid}"] + [
            f"/households/{hid}?tab={tab}"
            for tab in ("members", "buildings", "tenants", "attachments", "history")
        ]
        pages += [
            f"/households/{hid}/{detail}"
            for detail in ("edit", "agreement", "campaign", "visits", "visits/new", "demolition", "vacate")
        ]
        pages += [
            f"/projects/{pid}/{detail}"
            for detail in ("funds", "payment-batches", "receivables", "signing-terms", "conditions")
        ]
        pages += ["/projects/new", "/users"]
        # pages of housing, compensation, grids, requests and the time bank the navigation does not link
        pages += [
            f"/projects/{pid}/scenarios",
            f"/projects/{pid}/policy/drafts",
            f"/households/{hid}/calculator",
            "/mediation/new",
            "/grids/import",
            "/service-requests",
            "/service-requests/new",
            "/time-bank/volunteers",
            "/time-bank/moral",
            "/public/time-bank",
            "/public/grids",
            "/public/board",
            "/public/requests/new",
        ]
        for page in pages:
            if page in seen or page.endswith((".xlsx", "/api/docs")):
                continue
            r = client.get(page, follow_redirects=False)
            if r.status_code != 200 or "text/html" not in r.headers.get("content-type", ""):
                continue
            seen.add(page)
            left = untranslated(r.text, catalog)
            if left:
                failures.append(f"{role.value} {page}: {sorted(set(left))}")
    assert len(seen) >= 20, sorted(seen)
    assert not failures, "untranslated catalog text on English pages:\n" + "\n".join(failures)


def test_chinese_stays_the_default(client_as: ClientAs) -> None:
    client, _token, world = client_as("case_officer")
    html = client.get(f"/projects/{world.project_id}/households").text
    assert "一户一档" in html and 'lang="zh-CN"' in html and "data-messages" not in html
    client.cookies.set("lang", "en")
    html = client.get(f"/projects/{world.project_id}/households").text
    assert "Household files" in html and 'lang="en"' in html and "一户一档" not in html
    # the scripts' text comes with the page, translated; Chinese pages need none
    messages = re.search(r"data-messages='([^']*)'", html)
    assert messages is not None and '"\\u7d2f\\u8ba1\\u7b7e\\u7ea6": "Signed (cumulative)"' in messages.group(
        1
    )
