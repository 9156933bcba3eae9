"""The signing JSON API: sign, read, list, the project's signing terms; refusals and masking."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from anju.compensation import service as compensation_service
from anju.core.dates import today_shanghai
from anju.core.money import format_yuan, to_chinese_capital
from anju.db.session import unit_of_work
from anju.demo.policies import POLICY_DIR
from tests.factories import ACTOR, World

ClientAs = Callable[[str], tuple[TestClient, str, World]]
SOURCE = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")


def _publish(world: World) -> None:
    with unit_of_work() as db:
        compensation_service.publish(db, actor=ACTOR, project_id=world.project_id, source=SOURCE)


def _sign(client: TestClient, csrf: str, hid: int, **body: object) -> Any:
    payload: dict[str, object] = {"option": "cash", "sign_on": today_shanghai().isoformat(), **body}
    return client.post(f"/api/v1/households/{hid}/agreements", json=payload, headers={"X-CSRF-Token": csrf})


def test_sign_read_and_list_through_the_api(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    _publish(world)
    hid = world.household_ids[0]
    today = today_shanghai()
    r = _sign(client, csrf, hid, payee_bank="青溪农商银行", payee_account="6222 0202 0001 2345")
    assert r.status_code == 201, r.text
    a = r.json()
    total = a["total_fen"]
    assert total > 0
    assert {
        k: a[k] for k in ("sign_no", "agreement_no", "status", "option", "sign_on", "household_code")
    } == {
        "sign_no": 1,
        "agreement_no": "P1-0001",
        "status": "effective",
        "option": "cash",
        "sign_on": today.isoformat(),
        "household_code": "H0001",
    }
    assert (a["total_yuan"], a["total_capital"]) == (format_yuan(total), to_chinese_capital(total))
    assert (a["payee_name"], a["payee_bank"], a["payee_account"]) == (
        "张建国",
        "青溪农商银行",
        "6222020200012345",
    )
    assert (a["status_label"], a["option_label"], a["sign_no_issued_by"]) == (
        "已生效",
        "货币补偿",
        "测试case_officer",
    )
    assert a["snapshot"]["revision"] == 1 and a["revisions"] == 1
    assert a["snapshot"]["policy_hash"] == compensation_service.content_hash(SOURCE)
    assert sum(i["amount_fen"] for i in a["snapshot"]["items"]) == total
    assert [(i["kind"], i["status"]) for i in a["instalments"]] == [
        ("on_sign", "due"),
        ("after_vacate", "scheduled"),
    ]
    assert sum(i["amount_fen"] for i in a["instalments"]) == total

    # the same household again, a date after today, a form error: refused, nothing written
    again = _sign(client, csrf, hid)
    assert again.status_code == 409 and again.json()["code"] == "already_signed"
    other = world.household_ids[4]
    late = _sign(client, csrf, other, sign_on=(today + timedelta(days=1)).isoformat())
    assert late.status_code == 409 and late.json()["code"] == "sign_date"
    bad = _sign(client, csrf, other, payee_account="12-34")
    assert bad.status_code == 422
    assert bad.json()["details"][0]["field"] == "payee_account"
    bad = _sign(client, csrf, other, option="rent")
    assert bad.status_code == 422
    second = _sign(client, csrf, other, option="swap")
    assert second.status_code == 201 and second.json()["sign_no"] == 2
    other_id = second.json()["id"]

    listed = client.get(f"/api/v1/projects/{world.project_id}/agreements").json()
    assert [(x["sign_no"], x["household_id"]) for x in listed] == [(1, hid), (2, other)]
    assert (
        client.get(f"/api/v1/projects/{world.project_id}/agreements", params={"status": "void"}).json() == []
    )
    assert client.get(f"/api/v1/households/{hid}/agreements").json()[0]["id"] == a["id"]
    assert client.get(f"/api/v1/projects/{10**9}/agreements").status_code == 404

    # the commander reads it with the account masked; the team member only within reach
    client, _csrf, _ = client_as("commander")
    seen = client.get(f"/api/v1/agreements/{a['id']}").json()
    assert seen["payee_account"] == "************2345"
    assert seen["total_fen"] == total and seen["snapshot"]["items"] == a["snapshot"]["items"]
    client, _csrf, _ = client_as("team_member")
    assert client.get(f"/api/v1/agreements/{a['id']}").status_code == 200
    hidden = client.get(f"/api/v1/agreements/{other_id}")
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    assert [x["id"] for x in client.get(f"/api/v1/projects/{world.project_id}/agreements").json()] == [
        a["id"]
    ]


def test_signing_terms_through_the_api(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    _publish(world)
    url = f"/api/v1/projects/{world.project_id}/signing-terms"
    h = {"X-CSRF-Token": csrf}
    assert client.get(url).json() == {
        "project_id": world.project_id,
        "saved": False,
        "version": 0,
        "agreement_prefix": "P1",
        "on_sign_share_bp": 7000,
        "condition_kind": "none",
        "condition_label": "无附生效条件",
        "condition_rate_bp": 0,
        "condition_deadline_on": None,
        "updated_by": "",
        "updated_at": None,
    }
    deadline = (today_shanghai() + timedelta(days=30)).isoformat()
    body = {
        "agreement_prefix": "青征协",
        "on_sign_share_bp": 8000,
        "condition": {"kind": "project_rate", "rate_bp": 8000, "deadline_on": deadline},
        "version": 0,
        "reason": "指挥部会议",
    }
    # schema: a rate condition needs its rate and deadline
    r = client.put(url, json={**body, "condition": {"kind": "project_rate"}}, headers=h)
    assert r.status_code == 422
    r = client.put(url, json={**body, "on_sign_share_bp": 10001}, headers=h)
    assert r.status_code == 422
    past = (today_shanghai() - timedelta(days=1)).isoformat()
    r = client.put(url, json={**body, "condition": {"kind": "all_signed", "deadline_on": past}}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "deadline_passed"
    r = client.put(url, json=body, headers=h)
    assert r.status_code == 200, r.text
    saved = r.json()
    assert (saved["saved"], saved["version"], saved["condition_kind"], saved["condition_rate_bp"]) == (
        True,
        1,
        "project_rate",
        8000,
    )
    assert saved["updated_by"] == "测试case_officer"
    stale = client.put(url, json=body, headers=h)
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    assert "本项目的签约设置已被 测试case_officer 于 " in stale.json()["message"]
    # a new agreement carries the condition and the prefix
    a = _sign(client, csrf, world.household_ids[0]).json()
    assert (a["agreement_no"], a["status"], a["condition_kind"], a["condition_deadline_on"]) == (
        "青征协-0001",
        "pending",
        "project_rate",
        deadline,
    )
    assert [i["status"] for i in a["instalments"]] == ["scheduled", "scheduled"]
    # the team member may read the terms, not change them
    client, csrf, _ = client_as("team_member")
    assert client.get(url).json()["version"] == 1
    assert client.put(url, json={**body, "version": 1}, headers={"X-CSRF-Token": csrf}).status_code == 403


def test_signing_without_a_published_policy_is_a_conflict(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    r = _sign(client, csrf, world.household_ids[0])
    assert r.status_code == 409
    assert r.json() == {
        "code": "no_policy",
        "message": "本项目尚未发布补偿方案，不能签约",
        "message_en": "no policy published for this project",
    }
    assert client.get(f"/api/v1/households/{world.household_ids[0]}/agreements").json() == []
