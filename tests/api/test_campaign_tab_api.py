"""The campaign tab over HTTP: the JSON routes (campaign, stages, plan, steps, alerts) and the pages
(the 攻坚 tab, its forms, the team's start page), with roles and data scopes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi.testclient import TestClient

from anju.agreement import service as agreement_service
from anju.compensation import service as compensation_service
from anju.core.dates import today_shanghai
from anju.db.session import unit_of_work
from anju.demo.policies import POLICY_DIR
from anju.household import service as household_service
from anju.identity.service import DataScope
from tests.api.conftest import page_csrf
from tests.factories import ACTOR, World

As = Callable[[str], tuple[TestClient, str, World]]
ALL = DataScope.everything()


def status_of(hid: int) -> tuple[str, date | None]:
    with unit_of_work() as db:
        h = household_service.get_household(db, scope=ALL, household_id=hid)
        return h.status, h.sign_on


def sign(w: World, hid: int, on: date) -> str:
    """Sign the household at the signing desk's service (publishing the demo policy first): the way
    a household reaches 已签约 now that the stage cannot be moved there by hand."""
    with unit_of_work() as db:
        if not compensation_service.versions(db, w.project_id):
            source = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
            compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=source)
    with unit_of_work() as db:
        a = agreement_service.sign(db, actor=ACTOR, scope=ALL, household_id=hid, option="cash", sign_on=on)
        return a.agreement_no


def test_campaign_json_and_stage_moves(client_as: As) -> None:
    client, csrf, w = client_as("team_member")
    hid = w.household_ids[0]
    h = {"X-CSRF-Token": csrf}
    r = client.get(f"/api/v1/households/{hid}/campaign")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["code"], body["stage"], body["stage_label"], body["version"], body["plan"]) == (
        "H0001",
        "surveyed",
        "已调查",
        0,
        None,
    )
    assert [n["stage"] for n in body["stages"]["next"] if n["allowed"]] == ["valued", "negotiating"]
    r = client.post(
        f"/api/v1/households/{hid}/stage",
        json={"to_stage": "negotiating", "on": "2026-12-01", "note": "开始协商"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["changed"], r.json()["label"], r.json()["change"]["from_label"]) == (
        True,
        "协商中",
        "已调查",
    )
    # nobody records a signing by moving the stage: the signing desk does
    r = client.post(
        f"/api/v1/households/{hid}/stage", json={"to_stage": "signed", "on": "2026-12-01"}, headers=h
    )
    assert (r.status_code, r.json()["code"], r.json()["message"]) == (
        409,
        "recorded_stage",
        "“已签约”不能手动推进，须在“签约台”登记（在签约台签订协议时自动记录）",
    )
    assert status_of(hid) == ("negotiating", None)
    # outside the member's households: 404, nothing moved
    other = w.household_ids[2]
    r = client.post(
        f"/api/v1/households/{other}/stage", json={"to_stage": "valued", "on": "2026-12-01"}, headers=h
    )
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert status_of(other) == ("surveyed", None)
    assert client.get(f"/api/v1/households/{other}/campaign").status_code == 404
    assert client.get(f"/api/v1/households/{other}/stages").status_code == 404


def test_signed_vacated_demolished_are_recorded_not_moved_and_illegal_moves_are_409(client_as: As) -> None:
    client, csrf, w = client_as("case_officer")
    hid = w.household_ids[1]
    h = {"X-CSRF-Token": csrf}
    r = client.post(f"/api/v1/households/{hid}/stage", json={"to_stage": "signed"}, headers=h)
    assert r.status_code == 422 and r.json()["message"] == "请求参数有误：日期必填"
    # even the case officer (campaign.manage) cannot move to a recorded stage, whatever the date
    for stage, where in (("signed", "签约台"), ("vacated", "腾空验收"), ("demolished", "拆除登记")):
        for on in ("2026-12-01", "2999-01-01"):
            r = client.post(f"/api/v1/households/{hid}/stage", json={"to_stage": stage, "on": on}, headers=h)
            assert (r.status_code, r.json()["code"]) == (409, "recorded_stage"), r.text
            assert f"须在“{where}”登记" in r.json()["message"]
    assert status_of(hid) == ("surveyed", None)
    nxt = client.get(f"/api/v1/households/{hid}/stages").json()["next"]
    assert [(n["stage"], n["allowed"], n["recorded_in"]) for n in nxt] == [
        ("valued", True, ""),
        ("negotiating", True, ""),
        ("signed", False, "签约台"),
    ]
    assert client.get(f"/api/v1/households/{hid}/stages").json()["changes"] == []
    # signing records the stage with the agreement's date
    agreement_no = sign(w, hid, date(2026, 12, 1))
    assert status_of(hid) == ("signed", date(2026, 12, 1))
    r = client.post(
        f"/api/v1/households/{hid}/stage", json={"to_stage": "negotiating", "on": "2026-12-02"}, headers=h
    )
    assert r.status_code == 409
    assert r.json()["code"] == "illegal_transition"
    assert r.json()["message"] == "该户阶段不能从“已签约”变为“协商中”，当前可变为：“已腾空”"
    assert status_of(hid) == ("signed", date(2026, 12, 1))
    r = client.post(
        f"/api/v1/households/{hid}/stage", json={"to_stage": "nonsense", "on": "2026-12-02"}, headers=h
    )
    assert r.status_code == 422
    stages = client.get(f"/api/v1/households/{hid}/stages").json()
    assert [(c["from_stage"], c["to_stage"], c["reached_on"], c["note"]) for c in stages["changes"]] == [
        ("surveyed", "signed", "2026-12-01", f"签订协议 {agreement_no}（签约顺序号 1）")
    ]
    assert [b["state"] for b in stages["bar"]] == ["done"] * 4 + ["current", "todo", "todo"]


def test_difficulty_needs_campaign_manage_and_a_fresh_version(client_as: As) -> None:
    client, csrf, w = client_as("team_leader")
    hid = w.household_ids[0]
    r = client.patch(
        f"/api/v1/households/{hid}/campaign",
        json={"version": 0, "difficulty": 2},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 403
    client, csrf, w = client_as("commander")
    h = {"X-CSRF-Token": csrf}
    r = client.patch(
        f"/api/v1/households/{hid}/campaign",
        json={
            "version": 0,
            "difficulty": 2,
            "difficulty_reason": "面积争议",
            "escalated_to": w.users["case_officer"],
        },
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1
    r = client.patch(f"/api/v1/households/{hid}/campaign", json={"version": 0, "difficulty": 3}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "stale_version"
    r = client.patch(
        f"/api/v1/households/{hid}/campaign",
        json={"version": 1, "escalated_to": w.users["team_member"]},
        headers=h,
    )
    assert r.status_code == 409 and r.json()["message"] == "包案领导不是可选的人员"
    body = client.get(f"/api/v1/households/{hid}/campaign").json()
    assert (body["difficulty"], body["difficulty_label"], body["escalation"], body["version"]) == (
        2,
        "难点户（较难）",
        "测试case_officer",
        1,
    )


def test_plan_and_steps_over_the_api(client_as: As) -> None:
    client, csrf, w = client_as("team_member")
    hid = w.household_ids[0]
    h = {"X-CSRF-Token": csrf}
    r = client.put(
        f"/api/v1/households/{hid}/plan",
        json={"version": 0, "summary": "请战友出面", "owner_id": w.users["team_leader"]},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["version"] == 1
    r = client.post(
        f"/api/v1/households/{hid}/plan/steps",
        json={"text": "复核阁楼面积", "due_on": "2026-12-06"},
        headers=h,
    )
    assert r.status_code == 201
    step = r.json()
    r = client.patch(f"/api/v1/plan-steps/{step['id']}", json={"version": 1, "status": "done"}, headers=h)
    assert r.status_code == 200 and r.json()["version"] == 2
    r = client.patch(f"/api/v1/plan-steps/{step['id']}", json={"version": 1, "status": "doing"}, headers=h)
    assert r.status_code == 409
    r = client.post(f"/api/v1/households/{hid}/plan/steps", json={"text": ""}, headers=h)
    assert r.status_code == 422 and "步骤内容" in r.json()["message"]
    plan = client.get(f"/api/v1/households/{hid}/campaign").json()["plan"]
    assert (plan["summary"], plan["owner_name"], [(s["text"], s["status"]) for s in plan["steps"]]) == (
        "请战友出面",
        "测试team_leader",
        [("复核阁楼面积", "done")],
    )
    # a step of another household is not found for the member
    client2, csrf2, _ = client_as("case_officer")
    other = client2.post(
        f"/api/v1/households/{w.household_ids[4]}/plan/steps",
        json={"text": "上门"},
        headers={"X-CSRF-Token": csrf2},
    ).json()
    client, csrf, _ = client_as("team_member")
    r = client.patch(
        f"/api/v1/plan-steps/{other['id']}",
        json={"version": 1, "status": "done"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 404


def test_alerts_hold_only_households_in_scope(client_as: As) -> None:
    client, _, w = client_as("team_member")
    r = client.get(f"/api/v1/projects/{w.project_id}/alerts", params={"today": "2026-12-04"})
    assert r.status_code == 200, r.text
    a = r.json()
    assert (a["no_visit_days"], [i["code"] for i in a["no_visit"]], a["totals"]["no_visit"]) == (
        7,
        ["H0001", "H0002"],
        2,
    )
    assert a["no_visit"][0]["detail"] == "从未走访" and a["no_visit"][0]["user_name"] == "测试team_member"
    client, _, w = client_as("commander")
    a = client.get(f"/api/v1/projects/{w.project_id}/alerts").json()
    assert a["totals"]["no_visit"] == 6 and a["today"] == today_shanghai().isoformat()


def test_tab_page_and_its_forms(client_as: As) -> None:
    client, _, w = client_as("case_officer")
    hid = w.household_ids[0]
    r = client.get(f"/households/{hid}/campaign")
    assert r.status_code == 200
    assert "攻坚概况" in r.text and "推进到“协商中”" in r.text and "一户一策" in r.text
    # no button moves to 已签约: a link to the signing desk instead
    assert "推进到“已签约”" not in r.text and 'value="signed"' not in r.text
    assert f'href="/projects/{w.project_id}/signing?household_id={hid}"' in r.text
    assert "“已签约”由签约台登记后自动记录" in r.text
    assert f'hx-get="/households/{hid}/visits"' in r.text
    csrf = page_csrf(r.text)
    r = client.post(
        f"/households/{hid}/stage",
        data={"csrf_token": csrf, "to_stage": "signed", "on": today_shanghai().isoformat(), "note": "签约"},
        follow_redirects=False,
    )
    assert r.status_code == 409 and "“已签约”不能手动推进，须在“签约台”登记" in r.text
    assert status_of(hid) == ("surveyed", None)
    agreement_no = sign(w, hid, today_shanghai())
    r = client.post(
        f"/households/{hid}/campaign",
        data={
            "csrf_token": csrf,
            "version": "0",
            "difficulty": "3",
            "difficulty_reason": "历史遗留",
            "escalated_to_name": "王副书记",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.post(
        f"/households/{hid}/plan/steps",
        data={"csrf_token": csrf, "text": "请村贤出面", "due_on": "2026-12-10"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(f"/households/{hid}/campaign").text
    assert "难点户（特难）" in page and "王副书记" in page and "请村贤出面" in page
    assert "当前：<strong>已签约</strong>" in page and f"签订协议 {agreement_no}" in page
    # after signing the next stage is recorded by the vacating acceptance (a case officer's link)
    assert f'href="/households/{hid}/vacate"' in page and "登记腾空验收" in page
    # the htmx request gets the tab body only
    frag = client.get(f"/households/{hid}/campaign", headers={"HX-Request": "true"}).text
    assert frag.lstrip().startswith("{#") is False and 'id="campaign-tab"' in frag and "<html" not in frag
    # the household file links to the tab
    assert f'href="/households/{hid}/campaign"' in client.get(f"/households/{hid}").text


def test_team_start_page(client_as: As) -> None:
    client, _, w = client_as("team_member")
    r = client.get(f"/projects/{w.project_id}/my")
    assert r.status_code == 200
    assert "今日提醒" in r.text and "我的包户" in r.text
    assert "张建国" in r.text and "李秀英" in r.text and "王志强" not in r.text
    assert f'href="/households/{w.household_ids[0]}/visits/new"' in r.text
    client, _, w = client_as("auditor")
    assert client.get(f"/projects/{w.project_id}/my").status_code == 403
