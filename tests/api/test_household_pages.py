"""Household pages as the browser uses them: the list's filter form and live search, the history tab."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.api.conftest import page_csrf
from tests.factories import World

HTMX = {"HX-Request": "true", "HX-Target": "results"}


def test_live_search_with_the_empty_filters_the_form_sends(
    client_as: Callable[[str], tuple[TestClient, str, World]],
) -> None:
    # Regression: "block_id=" (all blocks) was refused with 422, so live search showed nothing.
    client, _csrf, world = client_as("case_officer")
    url = f"/projects/{world.project_id}/households"
    r = client.get(url, params={"q": "志强", "block_id": "", "status": "", "sort": "code"}, headers=HTMX)
    assert r.status_code == 200
    assert "<html" not in r.text and 'id="household-table"' in r.text  # only the results fragment
    assert "王志强" in r.text and "张建国" not in r.text
    r = client.get(url, params={"q": "", "block_id": "", "status": "", "sort": "code"})
    assert r.status_code == 200 and "<html" in r.text
    assert all(name in r.text for name in ("张建国", "李秀英", "王志强", "刘桂兰", "陈国华", "杨丽娟"))


def test_block_filter_from_the_form(client_as: Callable[[str], tuple[TestClient, str, World]]) -> None:
    client, _csrf, world = client_as("case_officer")
    url = f"/projects/{world.project_id}/households"
    r = client.get(url, params={"block_id": str(world.block_ids["W"]), "status": ""}, headers=HTMX)
    assert r.status_code == 200
    assert [n for n in ("张建国", "李秀英", "王志强", "刘桂兰", "陈国华", "杨丽娟") if n in r.text] == [
        "李秀英",
        "刘桂兰",
        "杨丽娟",
    ]
    # a malformed block id is ignored rather than an error page
    r = client.get(url, params={"block_id": "abc"})
    assert r.status_code == 200 and "陈国华" in r.text


def _after(label: str, value: str) -> str:
    return f'<li>{label}：<span class="after">{value}</span>'


def test_history_labels_fields_by_entity_and_shows_words_not_codes(
    client_as: Callable[[str], tuple[TestClient, str, World]],
) -> None:
    # Regression: a member's name was labelled 承租人 and a building's certificate 宅基地证号, and codes
    # such as brick_concrete / surveyed / False were shown as stored.
    client, csrf, world = client_as("case_officer")
    hid = world.household_ids[0]
    r = client.post(
        f"/api/v1/households/{hid}/tenants",
        json={"name": "青溪小卖部", "kind": "enterprise", "reason": "补登"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 201
    html = client.get(f"/households/{hid}?tab=history").text
    for label, value in [
        ("姓名", "张建国"),  # member
        ("与户主关系", "户主"),
        ("低保", "否"),
        ("产权证号", "Z00001"),  # building
        ("结构", "砖混"),
        ("用途", "住宅"),
        ("未登记面积认定", "待认定"),
        ("户主姓名", "张建国"),  # household
        ("状态", "已调查"),
        ("承租人", "青溪小卖部"),  # tenant
        ("类型", "企业"),
    ]:
        assert _after(label, value) in html, (label, value)
    for wrong in (
        '承租人：<span class="after">张建国',
        "宅基地证号",
        "brick_concrete",
        "residential",
        ">surveyed<",
        ">False<",
        ">enterprise<",
    ):
        assert wrong not in html, wrong


def test_cached_result_table_follows_edits_and_language(
    client_as: Callable[[str], tuple[TestClient, str, World]],
) -> None:
    # The result table of a whole-project list is cached per project data version: an edit must
    # show on the next request, and each language keeps its own table.
    client, csrf, world = client_as("case_officer")
    url = f"/projects/{world.project_id}/households"
    assert "张建国" in client.get(url).text
    assert "张建国" in client.get(url, params={"q": "建国"}, headers=HTMX).text
    version = client.get(f"/api/v1/households/{world.household_ids[0]}").json()["version"]
    r = client.patch(
        f"/api/v1/households/{world.household_ids[0]}",
        json={"head_name": "张建设", "reason": "户主姓名更正", "version": version},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    full = client.get(url).text
    assert "张建设" in full and "张建国" not in full
    assert "张建设" in client.get(url, params={"q": "建设"}, headers=HTMX).text
    client.cookies.set("lang", "en")
    english = client.get(url, headers=HTMX).text
    client.cookies.set("lang", "zh")
    chinese = client.get(url, headers=HTMX).text
    assert "in total" in english and "共 6 条" in chinese and "in total" not in chinese


def test_team_member_list_is_never_served_from_the_whole_project_table(
    client_as: Callable[[str], tuple[TestClient, str, World]],
) -> None:
    officer, _csrf, world = client_as("case_officer")
    url = f"/projects/{world.project_id}/households"
    everyone = officer.get(url).text  # fills the cache for the whole project
    assert all(n in everyone for n in ("张建国", "李秀英", "王志强"))
    member, _csrf, _world = client_as("team_member")
    scoped = member.get(url).text
    shown = [n for n in ("张建国", "李秀英", "王志强", "刘桂兰", "陈国华", "杨丽娟") if n in scoped]
    assert len(shown) < 6


def test_a_stale_edit_form_is_refused_with_who_changed_it(
    client_as: Callable[[str], tuple[TestClient, str, World]],
) -> None:
    client, csrf, world = client_as("case_officer")
    hid = world.household_ids[0]
    form = client.get(f"/households/{hid}/edit").text
    version = int(re.search(r'name="version" value="(\d+)"', form).group(1))  # type: ignore[union-attr]
    # someone else saves first
    r = client.patch(
        f"/api/v1/households/{hid}",
        json={"remark": "先保存的", "version": version},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200 and r.json()["version"] == version + 1
    r = client.post(
        f"/households/{hid}/edit",
        data={
            "csrf_token": page_csrf(form),
            "version": str(version),
            "head_name": "张建国",
            "address": "青溪路1号",
            "code": "H0001",
            "remark": "后保存的",
        },
        follow_redirects=False,
    )
    assert r.status_code == 409
    assert "该户信息已被 测试case_officer 于 " in r.text and "修改，请刷新页面后重试" in r.text
    # the form keeps the version it was read at: saving again does not overwrite either
    assert f'name="version" value="{version}"' in r.text
    assert client.get(f"/api/v1/households/{hid}").json()["remark"] == "先保存的"
