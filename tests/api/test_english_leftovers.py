"""Leftovers of the new-user walk (issue #12/#13 item 4: with English chosen, page content is
English): the policy page's rounding, tier and band words, a group-measure refusal, the settlement
balance, and the key handover date's lower bound on the settlement page."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient

from anju.core.dates import today_shanghai
from anju.db.session import unit_of_work
from anju.household.models import Household
from tests.api.conftest import login, page_csrf
from tests.api.test_handover_api import _chosen, _deliver
from tests.api.test_settlement_api import _finished
from tests.factories import World
from tests.integration.test_group_measures import SOURCE as MEASURES
from tests.unit.compensation.test_standards_english import POLICY as STANDARDS

ClientAs = Callable[[str], tuple[TestClient, str, World]]


def _publish(client: TestClient, world: World, source: str) -> str:
    token = login(client, "case_officer")
    r = client.post(
        f"/api/v1/projects/{world.project_id}/policies",
        json={"source": source, "file_name": "p.yaml"},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 201, r.text
    return token


def _text(html: str) -> str:
    return html_lib.unescape(" ".join(re.sub(r"<[^>]+>", " ", html).split()))


def test_the_policy_page_words_are_english(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    _publish(client, world, STANDARDS)
    chinese = _text(client.get(f"/projects/{world.project_id}/policy").text)
    assert (
        "四舍五入，精确到元" in chinese and "按签约日期，自“本片区签约期开始”起计（当日计为第1日）" in chinese
    )
    assert "第30日以内（含）" in chinese and "超过 2 人、不超过 4 人" in chinese
    assert "2025-01-01起：10" in chinese
    client.cookies.set("lang", "en")
    english = _text(client.get(f"/projects/{world.project_id}/policy").text)
    assert "round half up, to the yuan" in english
    assert 'by the signing date, counted from "本片区签约期开始" (the day itself is day 1)' in english
    assert "within day 30 (inclusive)" in english and "after day 30, up to day 45" in english
    assert "up to 2 人" in english and "over 2 人, up to 4 人" in english
    assert "from 2025-01-01: 10" in english
    for zh in ("四舍五入", "精确到", "按签约日期", "第30日以内", "不超过", "起："):
        assert zh not in english, zh


def test_a_group_measure_refusal_names_the_field_in_english(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    token = _publish(client, world, MEASURES)
    url = f"/api/v1/projects/{world.project_id}/group-measures"
    body = {
        "measure_id": "整片腾空率",
        "block_id": world.block_ids["E"],
        "effective_on": "2024-06-01",
        "value": "101",
        "reason": "街道认定文件",
    }
    r = client.post(url, json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 422
    assert (r.json()["message"], r.json()["message_en"]) == (
        "指标值百分比不能超过 100",
        "value: a percentage cannot exceed 100",
    )
    r = client.post(url, json={**body, "value": "90", "reason": " "}, headers={"X-CSRF-Token": token})
    assert r.json()["message_en"].startswith("reason: is required")
    r = client.post(url, json={**body, "measure_id": "没有"}, headers={"X-CSRF-Token": token})
    assert r.json()["message_en"].startswith("measure: not a measure of this project's policy (choices: ")
    # the page's form, read in English
    client.cookies.set("lang", "en")
    page = client.get(f"/projects/{world.project_id}/policy")
    r = client.post(
        f"/projects/{world.project_id}/group-measures",
        data={
            "csrf_token": page_csrf(page.text),
            "target": "整片腾空率|project",
            "effective_on": "2024-06-02",
            "value": "八十",
            "reason": "r",
        },
    )
    assert r.status_code == 422 and "value: a number is expected" in r.text
    assert "invalid value" not in r.text and "指标值应为数值" not in r.text


def test_the_settlement_balance_reads_in_english(client_as: ClientAs) -> None:
    client, _csrf, world = client_as("case_officer")
    hid, _estate = _finished(world)
    assert "该户应补交 60,800.00 元" in client.get(f"/households/{hid}/settlement").text
    client.cookies.set("lang", "en")
    page = client.get(f"/households/{hid}/settlement").text
    assert "the household pays 60,800.00 yuan" in page and "该户应补交" not in page
    # the API keeps the Chinese
    assert (
        client.get(f"/api/v1/households/{hid}/settlement").json()["balance_text"] == "该户应补交 60,800.00 元"
    )


def test_the_handover_date_cannot_be_picked_before_delivery_or_signing(client_as: ClientAs) -> None:
    client, _csrf, world = client_as("case_officer")
    hid, sel_id, estate_id = _chosen(world)
    today = today_shanghai()
    delivered, signed = today - timedelta(days=40), today - timedelta(days=20)
    _deliver(estate_id, None, delivered)

    def bound() -> str | None:
        html = client.get(f"/households/{hid}/settlement").text
        field = re.search(
            rf'<form method="post" action="/selections/{sel_id}/handover".*?</form>', html, re.S
        )
        assert field is not None
        low = re.search(r'name="handed_over_on"[^>]*\smin="([^"]+)"', field.group(0))
        return low.group(1) if low else None

    with unit_of_work() as db:
        h = db.get(Household, hid)
        assert h is not None
        h.sign_on = None
    assert bound() == delivered.isoformat()  # not signed: the delivery
    with unit_of_work() as db:
        h = db.get(Household, hid)
        assert h is not None
        h.sign_on = signed
    assert bound() == signed.isoformat()  # signed after the delivery: the signing date
    with unit_of_work() as db:
        h = db.get(Household, hid)
        assert h is not None
        h.sign_on = delivered - timedelta(days=5)
    assert bound() == delivered.isoformat()  # signed before: the delivery
