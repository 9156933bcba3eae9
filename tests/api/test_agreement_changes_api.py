"""Amendments, cancellations and conditions over HTTP: the flag and the difference, a request by a
case officer and its approval by a leader, the approvals inbox and the changes page, the scope of a
team member, and the conditions check."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

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
SIGN_ON = date(2026, 11, 20)


def _signed(w: World, *indexes: int) -> list[int]:
    """Publish the demo policy and sign the households; their agreement ids."""
    with unit_of_work() as db:
        source = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
        compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=source)
        return [
            agreement_service.sign(
                db, actor=ACTOR, scope=ALL, household_id=w.household_ids[i], option="cash", sign_on=SIGN_ON
            ).id
            for i in indexes
        ]


def _set_area(w: World, index: int, area: str) -> None:
    with unit_of_work() as db:
        f = household_service.get_household_file(db, scope=ALL, household_id=w.household_ids[index])
        household_service.update_building(
            db, actor=ACTOR, scope=ALL, building_id=f.buildings[0].building.id, data={"legal_area": area}
        )


def _h(csrf: str) -> dict[str, str]:
    return {"X-CSRF-Token": csrf}


def _agreement(client: TestClient, agreement_id: int) -> dict[str, Any]:
    r = client.get(f"/api/v1/agreements/{agreement_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_the_flag_and_the_difference_then_an_amendment_approved_by_a_leader(client_as: As) -> None:
    client, csrf, w = client_as("case_officer")
    (aid,) = _signed(w, 0)
    signed_total = _agreement(client, aid)["total_fen"]
    _set_area(w, 0, "90.00")

    r = client.get(f"/api/v1/agreements/{aid}/amendment")
    assert r.status_code == 200, r.text
    am = r.json()
    assert (am["flag"], am["live"], am["signed_total_fen"], am["open_change"]) == (
        True,
        True,
        signed_total,
        None,
    )
    assert am["diff_fen"] == am["current_total_fen"] - signed_total > 0
    house = next(i for i in am["items"] if i["id"] == "house_value")
    assert (house["signed_fen"], house["current_fen"], house["diff_fen"]) == (
        92_925_000,
        94_500_000,
        1_575_000,
    )
    assert am["facts"] == [
        {
            "path": "buildings[0].legal_area",
            "label": "房屋1（Z00001） 合法面积",
            "signed": "88.50",
            "current": "90.00",
        }
    ]
    a = _agreement(client, aid)
    assert (a["total_fen"], a["amendment_flag"], a["amendment_diff_fen"]) == (
        signed_total,
        True,
        am["diff_fen"],
    )
    page = client.get(f"/agreements/{aid}/changes")
    assert page.status_code == 200
    assert "可能需要变更协议" in page.text and "+15,750.00" in page.text  # house value: 1.50 ㎡ × 10,500
    assert "房屋1（Z00001） 合法面积" in page.text and 'id="amend-form"' in page.text

    r = client.post(
        f"/api/v1/agreements/{aid}/changes",
        json={"kind": "amend", "reason": "复测面积增加"},
        headers=_h(csrf),
    )
    assert r.status_code == 201, r.text
    change = r.json()
    assert (change["kind"], change["status"], change["requested_by"]) == (
        "amend",
        "requested",
        "测试case_officer",
    )
    # the case officer may not approve (a leader's permission), the leader may not ask
    r = client.post(f"/api/v1/agreement-changes/{change['id']}/approve", json={}, headers=_h(csrf))
    assert (r.status_code, r.json()["code"]) == (403, "permission_denied")
    r = client.post(
        f"/api/v1/agreements/{aid}/changes", json={"kind": "cancel", "reason": "再次"}, headers=_h(csrf)
    )
    assert (r.status_code, r.json()["code"]) == (409, "change_waiting")

    client, csrf, _ = client_as("commander")
    r = client.post(
        f"/api/v1/agreements/{aid}/changes", json={"kind": "cancel", "reason": "x"}, headers=_h(csrf)
    )
    assert r.status_code == 403
    inbox = client.get("/approvals")
    assert inbox.status_code == 200 and f'id="change-{change["id"]}"' in inbox.text
    assert "复测面积增加" in inbox.text and "增加 " in inbox.text
    r = client.post(
        f"/api/v1/agreement-changes/{change['id']}/approve", json={"note": "同意"}, headers=_h(csrf)
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["decided_by"], r.json()["decision_note"]) == (
        "approved",
        "测试commander",
        "同意",
    )
    a = _agreement(client, aid)
    assert a["total_fen"] == signed_total + am["diff_fen"]
    assert (a["revisions"], a["snapshot"]["revision"], a["amendment_flag"], a["sign_on"]) == (
        2,
        2,
        False,
        SIGN_ON.isoformat(),
    )
    adjustment = [i for i in a["instalments"] if i["kind"] == "adjustment"]
    assert [(i["amount_fen"], i["status"]) for i in adjustment] == [(am["diff_fen"], "due")]
    r = client.post(
        f"/api/v1/agreement-changes/{change['id']}/reject", json={"note": "晚了"}, headers=_h(csrf)
    )
    assert (r.status_code, r.json()["code"]) == (409, "already_decided")
    r = client.post(f"/api/v1/agreement-changes/{change['id']}/reject", json={"note": " "}, headers=_h(csrf))
    assert r.status_code == 422
    history = client.get(f"/api/v1/agreements/{aid}/changes").json()
    assert [(c["kind"], c["status"]) for c in history] == [("amend", "approved")]


def test_a_cancellation_through_the_pages_returns_the_household_to_negotiating(client_as: As) -> None:
    client, _csrf, w = client_as("case_officer")
    (aid,) = _signed(w, 1)
    page = client.get(f"/agreements/{aid}/changes")
    assert 'id="amendment-none"' in page.text and 'id="amend-form"' not in page.text
    # without a reason: refused on the page, nothing written
    r = client.post(
        f"/agreements/{aid}/changes",
        data={"csrf_token": page_csrf(page.text), "kind": "cancel", "reason": " "},
        follow_redirects=False,
    )
    assert r.status_code == 422 and "理由必填" in r.text
    assert client.get(f"/api/v1/agreements/{aid}/changes").json() == []
    r = client.post(
        f"/agreements/{aid}/changes",
        data={
            "csrf_token": page_csrf(page.text),
            "kind": "cancel",
            "reason": "户主病故，家属协商解除",
            "next": "",
        },
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, f"/agreements/{aid}/changes#changes")
    page = client.get(f"/agreements/{aid}/changes")
    assert 'id="change-waiting"' in page.text and 'id="cancel-form"' not in page.text
    assert "户主病故" in page.text

    client, _csrf, _ = client_as("commander")
    inbox = client.get("/approvals")
    assert "户主病故，家属协商解除" in inbox.text and "该户回到“协商中”" in inbox.text
    change_id = int(inbox.text.split('id="change-', 1)[1].split('"', 1)[0])
    r = client.post(
        f"/agreement-changes/{change_id}/reject",
        data={"csrf_token": page_csrf(inbox.text), "note": ""},
        follow_redirects=False,
    )
    assert r.status_code == 422 and "驳回理由必填" in r.text
    r = client.post(
        f"/agreement-changes/{change_id}/approve",
        data={"csrf_token": page_csrf(inbox.text), "note": "同意解除", "version": "1"},
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, f"/approvals#change-{change_id}")
    a = _agreement(client, aid)
    assert a["status"] == "cancelled"
    assert {i["status"] for i in a["instalments"]} == {"cancelled"}
    with unit_of_work() as db:
        h = household_service.get_household(db, scope=ALL, household_id=w.household_ids[1])
        assert (h.status, h.sign_on) == ("negotiating", None)
    inbox = client.get("/approvals")
    assert 'id="waiting-none"' in inbox.text and "同意解除" in inbox.text


def test_a_team_member_sees_only_the_agreements_of_their_households(client_as: As) -> None:
    client, csrf, w = client_as("case_officer")
    mine, other = _signed(w, 0, 4)
    r = client.post(
        f"/api/v1/agreements/{other}/changes", json={"kind": "cancel", "reason": "协商"}, headers=_h(csrf)
    )
    assert r.status_code == 201
    client, csrf, _ = client_as("team_member")
    assert client.get(f"/api/v1/agreements/{mine}/amendment").status_code == 200
    assert client.get(f"/api/v1/agreements/{mine}/changes").json() == []
    for url in (f"/api/v1/agreements/{other}/amendment", f"/api/v1/agreements/{other}/changes"):
        r = client.get(url)
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), url
    assert client.get(f"/agreements/{other}/changes").status_code == 404
    r = client.post(
        f"/api/v1/agreements/{mine}/changes", json={"kind": "cancel", "reason": "x"}, headers=_h(csrf)
    )
    assert r.status_code == 403
    assert client.get("/approvals").status_code == 403
    listed = client.get(f"/api/v1/projects/{w.project_id}/agreement-changes")
    assert listed.status_code == 200 and listed.json() == []


def test_the_conditions_check_and_board(client_as: As) -> None:
    client, csrf, w = client_as("case_officer")
    with unit_of_work() as db:
        agreement_service.set_signing_terms(
            db,
            actor=ACTOR,
            project_id=w.project_id,
            agreement_prefix="P1",
            on_sign_share_bp=7000,
            condition_kind="project_rate",
            condition_rate_bp=5000,
            condition_deadline_on=today_shanghai() + timedelta(days=30),
            expected_version=0,
        )
    htmx = {"HX-Request": "true"}
    empty = client.get(f"/projects/{w.project_id}/conditions", headers=htmx)
    assert empty.status_code == 200 and "附生效条件的协议" not in empty.text  # nothing conditional yet
    assert "<html" not in empty.text  # the fragment the dashboard swaps in
    # opened directly: a page with the layout that says there is nothing
    page = client.get(f"/projects/{w.project_id}/conditions")
    assert page.status_code == 200 and "<html" in page.text and "本项目没有附生效条件的协议" in page.text
    ids = _signed(w, 0, 1)
    panel = client.get(f"/projects/{w.project_id}/conditions", headers=htmx)
    assert "全项目签约率达 50%" in panel.text and "2 / 6" in panel.text and "尚差 1" in panel.text
    assert "张建国" not in panel.text and "<html" not in panel.text  # counts only
    page = client.get(f"/projects/{w.project_id}/conditions")
    assert (
        page.status_code == 200
        and "<html" in page.text
        and f'href="/projects/{w.project_id}/campaign"' in page.text
    )
    assert "全项目签约率达 50%" in page.text and "本项目没有附生效条件的协议" not in page.text
    board = client.get(f"/api/v1/projects/{w.project_id}/conditions").json()
    assert (board["pending"], board["effective"], board["void"]) == (2, 0, 0)
    assert [
        (g["pending"], g["progress"]["signed"], g["progress"]["total"], g["progress"]["needed"])
        for g in board["groups"]
    ] == [(2, 2, 6, 3)]
    r = client.post(
        f"/api/v1/projects/{w.project_id}/conditions/check",
        json={"on": (today_shanghai() + timedelta(days=1)).isoformat()},
        headers=_h(csrf),
    )
    assert (r.status_code, r.json()["code"]) == (409, "check_date")
    r = client.post(f"/api/v1/projects/{w.project_id}/conditions/check", json={}, headers=_h(csrf))
    assert r.status_code == 200 and (r.json()["effective"], r.json()["waiting"]) == ([], 2)
    ids += _signed_more(w, 2)
    r = client.post(f"/api/v1/projects/{w.project_id}/conditions/check", json={}, headers=_h(csrf))
    assert sorted(r.json()["effective"]) == sorted(ids)
    a = _agreement(client, ids[0])
    assert a["status"] == "effective"
    on_sign = next(i for i in a["instalments"] if i["kind"] == "on_sign")
    assert (on_sign["status"], on_sign["due_on"]) == ("due", SIGN_ON.isoformat())
    assert (
        client.post("/api/v1/projects/999999/conditions/check", json={}, headers=_h(csrf)).status_code == 404
    )


def _signed_more(w: World, *indexes: int) -> list[int]:
    with unit_of_work() as db:
        return [
            agreement_service.sign(
                db, actor=ACTOR, scope=ALL, household_id=w.household_ids[i], option="cash", sign_on=SIGN_ON
            ).id
            for i in indexes
        ]


def test_publishing_a_policy_that_pays_more_flags_the_signed_agreements(client_as: As) -> None:
    client, csrf, w = client_as("case_officer")
    ids = _signed(w, 0, 1)
    assert [_agreement(client, i)["amendment_flag"] for i in ids] == [False, False]
    source = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
    richer = source.replace(
        "relocation_rate: {label: 搬迁费, unit: 元/㎡, value: 15",
        "relocation_rate: {label: 搬迁费, unit: 元/㎡, value: 18",
    )
    assert richer != source
    r = client.post(
        f"/api/v1/projects/{w.project_id}/policies",
        json={"source": richer, "file_name": "v2.yaml"},
        headers=_h(csrf),
    )
    assert r.status_code == 201, r.text
    flagged = [_agreement(client, i) for i in ids]
    # 88.50 ㎡ × 3 元/㎡ more removal money each; the agreements themselves do not change
    assert [(a["amendment_flag"], a["amendment_diff_fen"], a["snapshot"]["revision"]) for a in flagged] == [
        (True, 26_550, 1),
        (True, 26_550, 1),
    ]
