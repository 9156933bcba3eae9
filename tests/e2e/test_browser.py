"""Browser tests on real pages in Chinese: the acceptance flow, scope, layout, inline validation, glyphs."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

Page = Any
OpenPage = Callable[..., Page]
Shots = Callable[[Page, str], Path]


def login(page: Page, server: Server, username: str) -> None:
    """Log in through the login form, as a person does."""
    page.goto(server.url + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation(url=re.compile(r".*/projects$")):
        page.click("form[action='/login'] button[type=submit]")


def follow(page: Page, selector: str, url_pattern: str) -> None:
    """Click a link or button and wait for the page it leads to."""
    with page.expect_navigation(url=re.compile(url_pattern)):
        page.click(selector)


def household_list_url(server: Server) -> str:
    return f"{server.url}/projects/{server.world['project_id']}/households"


def test_acceptance_search_open_edit_phone_and_see_history(
    server: Server, open_page: OpenPage, shots: Shots
) -> None:
    page = open_page(1366, 768)
    page.goto(server.url + "/projects")
    page.wait_for_url(re.compile(r".*/login\?next=.*"))
    assert page.locator("h1").inner_text().startswith("安居")
    shots(page, "01-login")

    login(page, server, "case_officer")
    shots(page, "02-projects")
    follow(page, "main >> text=测试征收项目", rf".*/projects/{server.world['project_id']}$")
    follow(page, "nav.sidenav >> text=一户一档", r".*/households$")
    rows = page.locator("#household-table tbody tr")
    assert rows.count() == 6
    assert "一户一档" in page.locator("h1").inner_text()

    # live search: typing part of the head's name swaps #results without a page load
    page.evaluate("window.__marker = 'same page'")
    page.locator("#q").press_sequentially("志强", delay=50)
    page.wait_for_function("() => document.querySelectorAll('#household-table tbody tr').length === 1")
    assert page.evaluate("window.__marker") == "same page"
    assert rows.first.locator("td").nth(1).inner_text() == "王志强"
    assert "q=" in page.url  # hx-push-url keeps the search in the address bar
    shots(page, "03-search")

    follow(page, "#household-table >> text=王志强", r".*/households/\d+$")
    assert page.locator("h1").inner_text().startswith("王志强")
    assert page.locator("nav.tabs").inner_text().split("\n") == [
        "基本信息",
        "家庭成员 (1)",
        "房屋 (1)",
        "承租人 (0)",
        "附件 (0)",
        "修改记录",
        "协议",
        "攻坚",
    ]
    shots(page, "04-detail")

    follow(page, "nav.tabs >> text=家庭成员", r".*tab=members$")
    assert page.locator("#member-table .member-phone").first.inner_text() == "13800000000"
    follow(page, "#member-table >> text=编辑", r".*/members/\d+/edit$")
    assert page.locator("h1").inner_text() == "编辑家庭成员"
    page.fill("#f-phone", "13912345678")
    page.fill("#f-reason", "户主更换手机号")
    shots(page, "05-edit-member")
    follow(page, "main form >> button[type=submit]", r".*tab=members$")
    assert page.locator("#member-table .member-phone").first.inner_text() == "13912345678"

    follow(page, "nav.tabs >> text=修改记录", r".*tab=history$")
    body = page.locator("main").inner_text()
    assert "13912345678" in body and "13800000000" in body and "户主更换手机号" in body
    assert "修改记录" in body and "case_officer" in body
    shots(page, "06-history")


def test_team_member_sees_only_their_two_households(
    server: Server, open_page: OpenPage, shots: Shots
) -> None:
    page = open_page(1366, 768)
    login(page, server, "team_member")
    page.goto(household_list_url(server))
    names = page.locator("#household-table tbody tr td:nth-child(2)").all_inner_texts()
    assert sorted(names) == sorted(["张建国", "李秀英"])
    shots(page, "07-team-member-list")
    # the other households do not open either
    other = server.world["household_ids"][4]
    response = page.goto(f"{server.url}/households/{other}")
    assert response is not None and response.status == 404
    assert "不存在" in page.locator("main").inner_text()


SIZES = [(1366, 768), (1920, 1080), (390, 844)]


@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_layout_has_no_horizontal_overflow(
    server: Server, open_page: OpenPage, shots: Shots, width: int, height: int
) -> None:
    page = open_page(width, height)
    login(page, server, "case_officer")
    hid = server.world["household_ids"][0]
    for name, url in [
        ("list", household_list_url(server)),
        ("detail", f"{server.url}/households/{hid}"),
        ("members", f"{server.url}/households/{hid}?tab=members"),
        ("buildings", f"{server.url}/households/{hid}?tab=buildings"),
        ("history", f"{server.url}/households/{hid}?tab=history"),
    ]:
        page.goto(url)
        sizes = page.evaluate(
            "({body: document.body.scrollWidth, doc: document.documentElement.scrollWidth, inner: innerWidth})"
        )
        assert sizes["body"] <= sizes["inner"] and sizes["doc"] <= sizes["inner"], (name, sizes)
        if name in ("list", "detail"):
            shots(page, f"08-layout-{width}x{height}-{name}")

    nav = page.locator("nav.sidenav")
    toggle = page.locator("button.nav-toggle")
    if width <= 720:
        # phone: the side navigation is off screen until the ☰ toggle opens it
        assert toggle.is_visible()
        assert toggle.inner_text() == "☰"
        assert page.evaluate("document.querySelector('nav.sidenav').getBoundingClientRect().right") <= 0
        toggle.click()
        page.wait_for_function(
            "() => document.querySelector('nav.sidenav').getBoundingClientRect().left >= 0"
        )
        assert nav.locator("text=一户一档").is_visible()
        shots(page, f"09-phone-nav-open-{width}x{height}")
        toggle.click()
        page.wait_for_function(
            "() => document.querySelector('nav.sidenav').getBoundingClientRect().right <= 0"
        )
    else:
        assert not toggle.is_visible()
        box = nav.bounding_box()
        assert box is not None and box["x"] >= 0 and box["width"] >= 180
        assert nav.locator("text=一户一档").is_visible()


def test_inline_validation_shows_the_check_digit_message_without_submitting(
    server: Server, open_page: OpenPage, shots: Shots
) -> None:
    page = open_page(1366, 768)
    login(page, server, "case_officer")
    hid = server.world["household_ids"][5]
    page.goto(f"{server.url}/households/{hid}/members/new")
    form_url = page.url
    requests: list[str] = []
    page.on("request", lambda r: requests.append(f"{r.method} {r.url}"))
    page.fill("#f-name", "杨小明")
    page.fill("#f-id_number", "110105194912310021")  # the last character should be X
    page.locator("#f-id_number").blur()  # htmx validates on change
    page.wait_for_function("() => document.querySelector('#err-id_number').textContent.trim() !== ''")
    assert page.locator("#err-id_number").inner_text() == "身份证号校验位错误（应为X）"
    assert page.url == form_url
    posts = [r for r in requests if r.startswith("POST")]
    assert f"POST {server.url}/validate/member/id_number" in posts
    assert all(p.startswith(f"POST {server.url}/validate/member/") for p in posts), posts  # nothing submitted
    shots(page, "10-inline-validation")
    # a good number clears the message
    page.fill("#f-id_number", "11010519491231002x")
    page.locator("#f-id_number").blur()
    page.wait_for_function("() => document.querySelector('#err-id_number').textContent.trim() === ''")
    # nothing was saved: the household still has its one member
    page.goto(f"{server.url}/households/{hid}?tab=members")
    assert page.locator("#member-table tbody tr").count() == 1


_INK_JS = """async (b64) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + b64;
  await img.decode();
  const c = document.createElement('canvas');
  c.width = img.width; c.height = img.height;
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let dark = 0;
  for (let i = 0; i < d.length; i += 4) { if (d[i] + d[i + 1] + d[i + 2] < 384) dark++; }
  return dark;
}"""


def _dark_pixels(page: Page, png: bytes) -> int:
    return int(page.evaluate(_INK_JS, base64.b64encode(png).decode()))


def test_chinese_glyphs_render_and_are_not_tofu(server: Server, open_page: OpenPage, shots: Shots) -> None:
    """Screenshots of single characters in the app's font: real glyphs differ, tofu boxes are all alike."""
    page = open_page(1366, 768)
    login(page, server, "case_officer")
    page.goto(household_list_url(server))
    chars = ["一", "户", "档", "修", "改", "记", "录"]
    missing = ["\ue000", "\ue001"]  # private-use code points: no font has them, so they render as tofu
    page.evaluate(
        """(chars) => {
          const box = document.createElement('div');
          box.id = 'glyphs';
          box.style.cssText = 'position:fixed;top:0;left:0;background:#fff;z-index:99;padding:4px';
          chars.forEach((ch, i) => {
            const s = document.createElement('span');
            s.id = 'g' + i; s.textContent = ch;
            s.style.cssText = 'display:inline-block;font-size:48px;line-height:56px;width:56px;color:#000';
            box.appendChild(s);
          });
          document.body.appendChild(box);
        }""",
        chars + missing,
    )
    shots_dir = shots(page, "11-glyphs").parent
    images = [page.locator(f"#g{i}").screenshot() for i in range(len(chars) + len(missing))]
    real, tofu = images[: len(chars)], images[len(chars) :]
    (shots_dir / "11-glyph-hu.png").write_bytes(real[1])
    assert len(set(real)) == len(real), "two different Chinese characters rendered identically (tofu)"
    assert not set(real) & set(tofu), "a Chinese character rendered like a missing glyph"
    inks = [_dark_pixels(page, png) for png in real]
    assert min(inks) > 30, inks  # every character has visible strokes
    assert inks[2] > inks[0] * 3  # 档 has many more strokes than 一
    # and the page's own heading uses a CJK font that the browser actually has
    family = page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily")
    assert "Noto Sans CJK SC" in family or "WenQuanYi" in family
    assert page.evaluate("document.fonts.check('16px \"Noto Sans CJK SC\"', '一户一档')") is True
