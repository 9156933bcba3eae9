"""Visits over HTTP: the JSON API (201 / 200 replay / 409 / 422 / 404 outside the scope) and the pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from tests.api.conftest import page_csrf
from tests.factories import World

ClientAs = Callable[[str], tuple[TestClient, str, World]]


def body(**over: Any) -> dict[str, Any]:
    at = datetime.now(UTC) - timedelta(hours=2)
    b: dict[str, Any] = {
        "visited_at": at.isoformat(timespec="seconds"),
        "duration_min": 50,
        "place": "户主家中",
        "staff": "测试team_member",
        "persuaders": [{"name": "张国庆", "relation": "relative"}, {"name": "李卫东", "relation": "comrade"}],
        "concern_tags": ["area", "standard"],
        "concern_text": "阁楼面积",
        "attitude": "resist",
        "outcome": "未同意",
        "next_step": "请老战友再谈",
        "next_due_on": None,
    }
    b.update(over)
    return b


def post(client: TestClient, csrf: str, hid: int, data: dict[str, Any], key: str | None) -> Any:
    headers = {"X-CSRF-Token": csrf}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(f"/api/v1/households/{hid}/visits", json=data, headers=headers)


def listed(client: TestClient, hid: int) -> list[dict[str, Any]]:
    r = client.get(f"/api/v1/households/{hid}/visits")
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = r.json()
    return out


def test_created_then_replayed_then_conflicting_key(client_as: ClientAs) -> None:
    client, csrf, w = client_as("team_member")
    hid = w.household_ids[0]
    first = post(client, csrf, hid, body(), "dev-1:abc.DEF_2")
    assert first.status_code == 201, first.text
    v = first.json()
    assert [(p["name"], p["relation_label"]) for p in v["persuaders"]] == [
        ("张国庆", "亲属"),
        ("李卫东", "战友"),
    ]
    assert v["concern_labels"] == ["面积认定", "补偿标准"]
    assert (v["attitude"], v["attitude_label"], v["team_name"], v["recorder_name"]) == (
        "resist",
        "抵触",
        "第一专班",
        "测试team_member",
    )
    again = post(client, csrf, hid, body(visited_at=v["visited_at"]), "dev-1:abc.DEF_2")
    assert again.status_code == 200, again.text
    assert again.json()["id"] == v["id"]
    other = post(client, csrf, hid, body(visited_at=v["visited_at"], outcome="同意了"), "dev-1:abc.DEF_2")
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
    assert "幂等键" in other.json()["message"]
    assert [x["id"] for x in listed(client, hid)] == [v["id"]]


def test_bad_input_is_a_chinese_422_naming_the_field_and_writes_nothing(client_as: ClientAs) -> None:
    client, csrf, w = client_as("team_member")
    hid = w.household_ids[0]
    future = (datetime.now(UTC) + timedelta(hours=3)).isoformat(timespec="seconds")
    r = post(client, csrf, hid, body(visited_at=future, duration_min=2000, attitude="不置可否"), "k-bad")
    assert r.status_code == 422
    fields = [d["field"] for d in r.json()["details"]]
    assert fields == ["visited_at", "duration_min", "attitude"]
    assert r.json()["message"].startswith("走访记录有误：走访时间不能晚于当前时间")
    r = post(client, csrf, hid, body(), None)
    assert r.status_code == 422
    assert r.json()["details"][0]["message"] == "幂等键（Idempotency-Key）必填"
    r = post(client, csrf, hid, body(), "has space")
    assert r.status_code == 422
    assert "幂等键" in r.json()["message"]
    r = post(client, csrf, hid, body(duration_min="半小时"), "k-x")
    assert r.status_code == 422
    assert r.json()["details"][0]["message"] == "走访时长应为整数"
    r = post(client, csrf, hid, body(place="堂屋\u202e"), "k-y")
    assert r.status_code == 422
    assert r.json()["details"][0]["message"].startswith("走访地点含有不可见的控制字符")
    assert listed(client, hid) == []


def test_a_team_member_cannot_reach_visits_outside_their_assignment(client_as: ClientAs) -> None:
    client, csrf, w = client_as("case_officer")
    other = w.household_ids[2]  # assigned to the team, not to the team member
    stored = post(client, csrf, other, body(), "officer-1").json()
    client, csrf, w = client_as("team_member")
    for r in (
        post(client, csrf, other, body(), "member-1"),
        post(
            client, csrf, other, body(visited_at=stored["visited_at"]), "officer-1"
        ),  # a replay of a known key
        client.get(f"/api/v1/households/{other}/visits"),
        client.post(
            f"/api/v1/visits/{stored['id']}/void", json={"reason": "误录"}, headers={"X-CSRF-Token": csrf}
        ),
        client.get(f"/households/{other}/visits/new"),
        client.get(f"/households/{other}/visits"),
        client.post(f"/households/{other}/visits", data={"csrf_token": csrf, "attitude": "wait"}),
        client.post(f"/visits/{stored['id']}/void", data={"csrf_token": csrf, "reason": "误录"}),
    ):
        assert r.status_code == 404, (r.request.url, r.status_code, r.text[:200])
        assert "不存在" in r.text
        assert "张国庆" not in r.text
    client, csrf, w = client_as("team_leader")
    assert [x["id"] for x in listed(client, other)] == [stored["id"]]  # untouched, and the leader sees it
    assert client.get(f"/api/v1/households/{w.household_ids[4]}/visits").status_code == 404


def test_void_over_the_api(client_as: ClientAs) -> None:
    client, csrf, w = client_as("team_leader")
    hid = w.household_ids[2]
    v = post(client, csrf, hid, body(), "lead-1").json()
    h = {"X-CSRF-Token": csrf}
    assert client.post(f"/api/v1/visits/{v['id']}/void", json={"reason": ""}, headers=h).status_code == 422
    r = client.post(f"/api/v1/visits/{v['id']}/void", json={"reason": "录错户"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["void_reason"] == "录错户" and r.json()["voided_at"]
    assert (
        client.post(f"/api/v1/visits/{v['id']}/void", json={"reason": "再作废"}, headers=h).status_code == 409
    )
    assert listed(client, hid) == []
    client, csrf, _ = client_as("auditor")
    r = client.post(f"/api/v1/visits/{v['id']}/void", json={"reason": "x"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403


def test_phone_form_defaults_and_the_form_without_script(client_as: ClientAs) -> None:
    client, _csrf, w = client_as("team_member")
    hid = w.household_ids[0]
    page = client.get(f"/households/{hid}/visits/new")
    assert page.status_code == 200
    html = page.text
    assert "<script>" not in html and " onclick=" not in html and "<style" not in html
    assert '<script src="/static/app/visits.js" defer></script>' in html
    assert 'value="青溪路1号"' in html  # place: the household's address
    assert 'id="vf-staff" name="staff" value="测试team_member"' in html
    now = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    assert f'name="visited_at" value="{now:%Y-%m-%d}T' in html
    for label in (
        "面积认定",
        "补偿标准",
        "安置房",
        "家庭内部矛盾",
        "历史遗留",
        "评估价格",
        "过渡安置",
        "其他",
        "支持",
        "观望",
        "抵触",
        "战友",
    ):
        assert label in html
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    assert key
    form = {
        "csrf_token": page_csrf(html),
        "idempotency_key": key.group(1),
        "visited_at": f"{now - timedelta(hours=1):%Y-%m-%dT%H:%M}",
        "duration_min": "35",
        "place": "村委会",
        "staff": "测试team_member",
        "persuader_name": ["王老支书", "", ""],
        "persuader_relation": ["elder", "", ""],
        "concern_tags": ["flat", "transition"],
        "concern_text": "想要两套安置房",
        "attitude": "wait",
        "outcome": "愿意再谈",
        "next_step": "算清安置面积",
        "next_due_on": "",
    }
    r = client.post(f"/households/{hid}/visits", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    assert r.headers["location"] == f"/households/{hid}/visits?saved=1"
    # pressing "back" and sending the same form again stores nothing new
    r = client.post(f"/households/{hid}/visits", data=form, follow_redirects=False)
    assert r.status_code == 303
    [v] = listed(client, hid)
    assert [(p["name"], p["relation"]) for p in v["persuaders"]] == [("王老支书", "elder")]
    assert v["concern_tags"] == ["flat", "transition"]
    timeline = client.get(f"/households/{hid}/visits?saved=1").text
    assert "走访已保存" in timeline and "王老支书" in timeline and "村贤 / 长辈" in timeline
    assert "安置房" in timeline and "过渡安置" in timeline and "观望" in timeline
    fragment = client.get(f"/households/{hid}/visits", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith("{#") is False
    assert "<html" not in fragment.text and "王老支书" in fragment.text
    # a wrong form comes back with the values and the reasons
    bad = {**form, "idempotency_key": "another-key", "attitude": "", "duration_min": "0"}
    r = client.post(f"/households/{hid}/visits", data=bad)
    assert r.status_code == 422
    assert "请选择态度" in r.text and "走访时长应为 1 至 1440 分钟" in r.text and "想要两套安置房" in r.text
    assert len(listed(client, hid)) == 1


def test_household_page_links_the_visit_form_and_the_service_worker_is_served(client_as: ClientAs) -> None:
    client, _csrf, w = client_as("team_member")
    html = client.get(f"/households/{w.household_ids[0]}").text
    assert f'href="/households/{w.household_ids[0]}/visits/new">＋ 登记走访' in html
    client, _csrf, w = client_as("auditor")
    assert "登记走访" not in client.get(f"/households/{w.household_ids[0]}").text
    client.cookies.clear()
    sw = client.get("/visits-sw.js")
    assert sw.status_code == 200
    assert sw.headers["content-type"].startswith("text/javascript")
    assert "anju-visits" in sw.text
