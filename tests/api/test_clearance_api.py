"""Clearance over HTTP: vacating acceptance (JSON and the form with a photo), demolition, tenant clearance
one by one and in bulk; refusals (409 with nothing written), a team member's 403, outside scope 404."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
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
from tests.api.permission_calls import PNG
from tests.factories import ACTOR, World

ClientAs = Callable[[str], tuple[TestClient, str, World]]
SOURCE = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
EVERYTHING = DataScope.everything()
SIGN_ON = date(2024, 4, 20)
IN_15_DAYS = date(2024, 5, 25)  # the demo policy's 腾空奖励: 5000 元 within 15 days of 2024-05-21


def _signed(world: World, *indexes: int) -> list[int]:
    """Publish the demo policy and sign the given households on 2024-04-20 (agreement ids)."""
    with unit_of_work() as db:
        compensation_service.publish(db, actor=ACTOR, project_id=world.project_id, source=SOURCE)
        return [
            agreement_service.sign(
                db,
                actor=ACTOR,
                scope=EVERYTHING,
                household_id=world.household_ids[i],
                option="cash",
                sign_on=SIGN_ON,
            ).id
            for i in indexes
        ]


def _clearance(client: TestClient, hid: int) -> Any:
    r = client.get(f"/api/v1/households/{hid}/clearance")
    assert r.status_code == 200, r.text
    return r.json()


def _post(client: TestClient, csrf: str, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json=body, headers={"X-CSRF-Token": csrf})


VACATE = {
    "vacated_on": IN_15_DAYS.isoformat(),
    "checklist": {"utilities_settled": True, "emptied": True, "keys_handed": True},
    "keys_handed": 3,
    "inspector": "王验收",
    "note": "门窗完好",
}


def test_vacating_through_the_api(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    _signed(world, 0)
    hid = world.household_ids[0]
    before = _clearance(client, hid)
    assert (before["stage"], before["vacate"], before["agreement_no"]) == ("signed", None, "P1-0001")
    total = sum(i["amount_fen"] for i in before["instalments"])

    # refused: a date after today, a date before the signing: 409 and nothing written
    tomorrow = date.fromordinal(today_shanghai().toordinal() + 1).isoformat()
    for on, message in (
        (tomorrow, "腾空日期不能晚于今天"),
        ("2024-04-19", "腾空日期不能早于签约日期（2024-04-20）"),
    ):
        r = _post(client, csrf, f"/api/v1/households/{hid}/vacate", {**VACATE, "vacated_on": on})
        assert (r.status_code, r.json()["code"]) == (409, "vacate_date"), r.text
        assert r.json()["message"].startswith(message)
    assert _clearance(client, hid) == before
    # schema-valid but the checklist names an item that does not exist: 422 from the schema
    r = _post(client, csrf, f"/api/v1/households/{hid}/vacate", {**VACATE, "checklist": {"painted": True}})
    assert r.status_code == 422

    r = _post(client, csrf, f"/api/v1/households/{hid}/vacate", VACATE)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["stage"], body["stage_label"]) == ("vacated", "已腾空")
    assert body["reward_items"] == {"vacate_reward": 500_000}
    assert body["reward_labels"] == {"vacate_reward": "腾空奖励"}
    reward = body["reward"]
    assert (reward["kind"], reward["amount_fen"], reward["status"], reward["due_on"], reward["purpose"]) == (
        "reward",
        500_000,
        "due",
        IN_15_DAYS.isoformat(),
        "P1-0001 腾空奖励",
    )
    assert [(i["kind"], i["status"], i["due_on"]) for i in body["made_due"]] == [
        ("after_vacate", "due", IN_15_DAYS.isoformat())
    ]
    assert [(c["key"], c["done"]) for c in body["record"]["checklist"]] == [
        ("utilities_settled", True),
        ("registration_moved", False),
        ("emptied", True),
        ("doors_windows_intact", False),
        ("keys_handed", True),
    ]
    after = _clearance(client, hid)
    assert after["stage"] == "vacated" and after["vacate"]["vacated_on"] == IN_15_DAYS.isoformat()
    assert sum(i["amount_fen"] for i in after["instalments"]) == total + 500_000
    # the agreement's total is what was signed (the reward is an instalment, not an amendment)
    agreement = client.get(f"/api/v1/agreements/{after['agreement_id']}").json()
    assert agreement["total_fen"] == total and agreement["snapshot"]["total_fen"] == total
    # twice: 409; void; void again: 409
    assert _post(client, csrf, f"/api/v1/households/{hid}/vacate", VACATE).json()["code"] == "already_vacated"
    r = _post(client, csrf, f"/api/v1/households/{hid}/vacate/void", {"reason": "日期录错"})
    assert r.status_code == 200 and r.json()["void_reason"] == "日期录错"
    voided = _clearance(client, hid)
    assert voided["stage"] == "signed" and voided["vacate"] is None
    assert [(v["vacated_on"], v["void_reason"]) for v in voided["vacate_history"]] == [
        (IN_15_DAYS.isoformat(), "日期录错")
    ]
    assert [i["status"] for i in voided["instalments"]] == ["due", "scheduled", "cancelled"]
    r = _post(client, csrf, f"/api/v1/households/{hid}/vacate/void", {"reason": "日期录错"})
    assert (r.status_code, r.json()["code"]) == (409, "no_vacate_record")
    assert _post(client, csrf, f"/api/v1/households/{hid}/vacate/void", {"reason": " "}).status_code == 422


def test_demolition_through_the_api(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    _signed(world, 0)
    hid = world.household_ids[0]
    demolish = {"demolished_on": "2024-06-01", "contractor": "青溪拆除工程公司"}
    before = _clearance(client, hid)
    r = _post(client, csrf, f"/api/v1/households/{hid}/demolition", demolish)
    assert (r.status_code, r.json()["code"]) == (409, "not_vacated")
    assert _clearance(client, hid) == before
    assert _post(client, csrf, f"/api/v1/households/{hid}/vacate", VACATE).status_code == 201
    r = _post(
        client, csrf, f"/api/v1/households/{hid}/demolition", {**demolish, "demolished_on": "2024-05-24"}
    )
    assert (r.status_code, r.json()["code"]) == (409, "demolition_date")
    r = _post(client, csrf, f"/api/v1/households/{hid}/demolition", demolish)
    assert r.status_code == 201, r.text
    assert (r.json()["demolished_on"], r.json()["contractor"]) == ("2024-06-01", "青溪拆除工程公司")
    assert _clearance(client, hid)["stage"] == "demolished"
    r = _post(client, csrf, f"/api/v1/households/{hid}/vacate/void", {"reason": "x"})
    assert (r.status_code, r.json()["code"]) == (409, "demolished")
    r = _post(client, csrf, f"/api/v1/households/{hid}/demolition/void", {"reason": "登记错户"})
    assert r.status_code == 200
    assert _clearance(client, hid)["stage"] == "vacated"


def test_tenant_clearance_through_the_api_and_the_list(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    with unit_of_work() as db:
        tenants = [
            household_service.add_tenant(
                db,
                actor=ACTOR,
                scope=EVERYTHING,
                household_id=world.household_ids[i],
                data={"name": name, "kind": "enterprise", "area": "30.00"},
            ).id
            for i, name in ((0, "青溪五金厂"), (1, "东风汽修"), (4, "老李面馆"))
        ]
    today = today_shanghai().isoformat()
    r = _post(
        client,
        csrf,
        f"/api/v1/tenants/{tenants[0]}/clearance",
        {"cleared_on": today, "checklist": {"rent_settled": True}, "inspector": "王验收"},
    )
    assert r.status_code == 201, r.text
    again = _post(
        client, csrf, f"/api/v1/tenants/{tenants[0]}/clearance", {"cleared_on": today, "inspector": "王"}
    )
    assert (again.status_code, again.json()["code"]) == (409, "already_cleared")
    lst = client.get(f"/api/v1/projects/{world.project_id}/tenant-clearances").json()
    assert (lst["total"], lst["cleared"], lst["open"], lst["cleared_today"]) == (3, 1, 2, 1)
    assert lst["daily"] == [{"day": today, "count": 1}]
    # the page's quick entry: the other two at once
    page = client.get(f"/projects/{world.project_id}/tenants?show=open")
    assert page.status_code == 200 and "东风汽修" in page.text and "青溪五金厂" not in page.text
    r = client.post(
        f"/projects/{world.project_id}/tenants/clearances",
        data={
            "csrf_token": page_csrf(page.text),
            "tenant_id": [str(tenants[1]), str(tenants[2])],
            "cleared_on": today,
            "inspector": "李验收",
            "check_keys_handed": "on",
            "back": "show=open",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    lst = client.get(f"/api/v1/projects/{world.project_id}/tenant-clearances").json()
    assert (lst["cleared"], lst["cleared_today"]) == (3, 3)
    page = client.get(f"/projects/{world.project_id}/tenants?show=cleared")
    assert 'id="count-cleared">3<' in page.text and 'id="count-today">3<' in page.text

    # the team member sees only the tenants of their households and may not record
    client.cookies.clear()
    from tests.api.conftest import login

    member_csrf = login(client, "team_member")
    lst = client.get(f"/api/v1/projects/{world.project_id}/tenant-clearances").json()
    assert [t["name"] for t in lst["tenants"]] == ["青溪五金厂", "东风汽修"]
    r = _post(client, member_csrf, f"/api/v1/tenants/{tenants[1]}/clearance/void", {"reason": "x"})
    assert (r.status_code, r.json()["code"]) == (403, "permission_denied")


def test_a_team_member_cannot_record_and_other_households_are_not_found(client_as: ClientAs) -> None:
    client, csrf, world = client_as("team_member")
    _signed(world, 0, 4)
    own, other = world.household_ids[0], world.household_ids[4]
    r = _post(client, csrf, f"/api/v1/households/{own}/vacate", VACATE)
    assert (r.status_code, r.json()["code"]) == (403, "permission_denied")
    assert client.get(f"/households/{own}/vacate").status_code == 403
    assert _clearance(client, own)["stage"] == "signed"
    r = client.get(f"/api/v1/households/{other}/clearance")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    # outside the case officer's reach nothing: a household that does not exist
    client, csrf, _ = client_as("case_officer")
    r = _post(client, csrf, "/api/v1/households/999999/vacate", VACATE)
    assert (r.status_code, r.json()["code"]) == (404, "not_found")


def test_the_vacating_form_with_a_photo(client_as: ClientAs) -> None:
    client, _csrf, world = client_as("case_officer")
    _signed(world, 0)
    hid = world.household_ids[0]
    page = client.get(f"/households/{hid}/vacate")
    assert page.status_code == 200 and 'id="vacate-form"' in page.text
    token = page_csrf(page.text)
    form = {
        "csrf_token": token,
        "vacated_on": IN_15_DAYS.isoformat(),
        "inspector": "王验收",
        "keys_handed": "2",
        "check_emptied": "on",
        "check_keys_handed": "on",
    }
    # not an image: refused on the form (422), nothing written
    bad = client.post(
        f"/households/{hid}/vacate",
        data=form,
        files={"photos": ("协议.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n", "application/pdf")},
        follow_redirects=False,
    )
    assert bad.status_code == 422 and "不是图片" in bad.text and 'value="王验收"' in bad.text
    assert _clearance(client, hid)["vacate"] is None
    r = client.post(
        f"/households/{hid}/vacate",
        data=form,
        files={"photos": ("现场.png", PNG, "image/png")},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/households/{hid}/vacate?saved=1"
    shown = client.get(r.headers["location"])
    assert "已登记腾空验收" in shown.text and "5,000.00" in shown.text
    record = _clearance(client, hid)["vacate"]
    (photo,) = record["photo_ids"]
    assert f'src="/attachments/{photo}"' in shown.text
    assert client.get(f"/attachments/{photo}").headers["content-type"] == "image/png"
    # the demolition form is next
    page = client.get(f"/households/{hid}/demolition")
    assert 'id="demolition-form"' in page.text
    # a demolition refused keeps what was typed; a void without a reason is refused on the page
    bad = client.post(
        f"/households/{hid}/demolition",
        data={"demolished_on": "2024-13-40", "contractor": "城建拆除公司", "note": "", "csrf_token": token},
    )
    assert bad.status_code == 422 and "拆除日期应为日期" in bad.text and 'value="城建拆除公司"' in bad.text
    assert _clearance(client, hid)["demolition"] is None
    refused = client.post(f"/households/{hid}/vacate/void", data={"reason": "", "csrf_token": token})
    assert refused.status_code == 422 and _clearance(client, hid)["vacate"] is not None
    voided = client.post(
        f"/households/{hid}/vacate/void",
        data={"reason": "验收登记有误", "csrf_token": token},
        follow_redirects=False,
    )
    assert voided.status_code == 303 and voided.headers["location"] == f"/households/{hid}/vacate?voided=1"
    assert _clearance(client, hid)["vacate"] is None
