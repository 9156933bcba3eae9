"""What a new user met walking the second edition's pages (issue #12), each a regression test: the
policy page lists the declared facts and the subtotal lines; refusals on the household facts form
and the key handover form are in the reader's language; a key handover before the household signed
is refused; the draft form edits the bounds of declared facts with the checker's verdict."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient

from anju.core.dates import today_shanghai
from anju.db.session import unit_of_work
from anju.household.models import Household
from tests.api.conftest import login, page_csrf
from tests.api.permission_calls import audit_count
from tests.api.test_handover_api import _chosen, _deliver
from tests.factories import World

ClientAs = Callable[[str], tuple[TestClient, str, World]]

POLICY = """\
policy:
  name: 第二版页面测试
  effective_on: 2025-04-01
facts:
  ac_units: {label: 空调数量, type: count, unit: 台, required: true, max: 20, ref: 第十二条}
  reward_area: {label: 认定奖励面积, type: number, unit: ㎡, places: 2, max: 200, help: 由评估委员会认定}
  business: {label: 实际经营, type: yesno}
parameters:
  ac_fee: {label: 空调移机费, unit: 元, value: 300}
  area_rate: {label: 认定面积奖励单价, unit: 元/㎡, value: 600}
options: {cash: 货币补偿}
items:
  - {id: ac, label: 空调移机费, formula: fact.ac_units * ac_fee}
  - {id: area, label: 认定面积奖励, formula: fact.reward_area * area_rate, when: known(fact.reward_area)}
subtotals:
  - {id: moving, label: 搬迁补助小计, items: [ac, area], ref: 第十三条}
"""


def _publish(client: TestClient, world: World) -> str:
    token = login(client, "case_officer")
    r = client.post(
        f"/api/v1/projects/{world.project_id}/policies",
        json={"source": POLICY, "file_name": "second.yaml"},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 201, r.text
    return token


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_policy_page_lists_declared_facts_and_subtotals(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    _publish(client, world)
    page = client.get(f"/projects/{world.project_id}/policy")
    assert page.status_code == 200
    facts = re.search(r'<section class="card" id="declared-facts">.*?</section>', page.text, re.S)
    assert facts is not None
    text = _text(facts.group(0))
    assert "空调数量 * fact.ac_units 整数 台 0 ~ 20 第十二条" in text
    assert "认定奖励面积 fact.reward_area 由评估委员会认定 数值 ㎡ 0 ~ 200 最多 2 位小数" in text
    assert "实际经营 fact.business 是/否 — — —" in text
    subtotals = re.search(r'<section class="card" id="subtotals">.*?</section>', page.text, re.S)
    assert subtotals is not None
    assert "搬迁补助小计 空调移机费、认定面积奖励 第十三条" in _text(subtotals.group(0))
    client.cookies.set("lang", "en")
    english = _text(client.get(f"/projects/{world.project_id}/policy").text)
    assert "Facts the policy requires" in english and "Subtotal lines" in english
    assert "Whole number" in english and "Yes/no" in english and "at most 2 decimals" in english


def test_policy_facts_form_refuses_in_english_for_an_english_reader(
    world_app: tuple[TestClient, World],
) -> None:
    client, world = world_app
    _publish(client, world)
    hid = world.household_ids[0]
    client.cookies.set("lang", "en")
    form = client.get(f"/households/{hid}/policy-facts/edit")
    csrf = page_csrf(form.text)
    version = re.search(r'name="version" value="(\d+)"', form.text)
    assert version
    before = client.get(f"/api/v1/households/{hid}/policy-facts").json()
    bad = client.post(
        f"/households/{hid}/policy-facts",
        data={"fact.ac_units": "两台", "fact.reward_area": "300", "csrf_token": csrf, "version": version[1]},
    )
    assert bad.status_code == 422
    # each field's message and the summary in English, naming the fact; nothing written
    assert 'id="err-pf-ac_units">空调数量 (ac_units): a number is expected, got &#39;两台&#39;' in bad.text
    assert 'id="err-pf-reward_area">认定奖励面积 (reward_area): must be at most 200 ㎡' in bad.text
    assert "空调数量应为数字" not in bad.text and "方案事实有误" not in bad.text
    assert client.get(f"/api/v1/households/{hid}/policy-facts").json() == before
    # the inline check too
    check = client.post(
        f"/households/{hid}/policy-facts/check", data={"fact.ac_units": "2.5", "csrf_token": csrf}
    )
    assert (
        check.status_code == 200
        and check.text.startswith("空调数量 (ac_units): ")
        and "应为" not in check.text
    )
    # in Chinese (the default) the same refusal is Chinese
    client.cookies.set("lang", "zh")
    bad = client.post(
        f"/households/{hid}/policy-facts",
        data={"fact.ac_units": "两台", "csrf_token": csrf, "version": version[1]},
    )
    assert 'id="err-pf-ac_units">空调数量应为数字，却是“两台”' in bad.text


def test_a_key_handover_before_signing_is_refused_and_shown_in_the_readers_language(
    client_as: ClientAs,
) -> None:
    client, csrf, world = client_as("case_officer")
    hid, sel_id, estate_id = _chosen(world)
    today = today_shanghai()
    delivered = today - timedelta(days=40)
    signed = today - timedelta(days=20)
    _deliver(estate_id, None, delivered)
    with unit_of_work() as db:
        h = db.get(Household, hid)
        assert h is not None
        h.sign_on = signed
    before = audit_count()
    early = (signed - timedelta(days=1)).isoformat()
    r = client.post(
        f"/api/v1/selections/{sel_id}/handover",
        json={"handed_over_on": early},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 409, r.text
    message = f"交钥匙日期不能早于该户签约日期（{signed.isoformat()}）"
    assert (r.json()["code"], r.json()["message"]) == ("handover_date", message)
    assert r.json()["message_en"] == f"the key handover date cannot be before the household signed ({signed})"
    page = client.get(f"/households/{hid}/settlement")
    token = page_csrf(page.text)
    r = client.post(
        f"/selections/{sel_id}/handover",
        data={"csrf_token": token, "handed_over_on": early},
        follow_redirects=False,
    )
    assert r.status_code == 409 and message in r.text
    assert (
        f'name="handed_over_on" aria-label="交钥匙日期" value="{early}"' in r.text
    )  # the refused date stays
    # an English reader reads the refusal in English, beside the flat
    client.cookies.set("lang", "en")
    r = client.post(
        f"/selections/{sel_id}/handover",
        data={"csrf_token": token, "handed_over_on": early},
        follow_redirects=False,
    )
    assert r.status_code == 409
    assert f"the key handover date cannot be before the household signed ({signed})" in r.text
    assert "交钥匙日期不能早于" not in r.text
    r = client.post(
        f"/selections/{sel_id}/handover",
        data={"csrf_token": token, "handed_over_on": "2026-02-30"},
        follow_redirects=False,
    )
    assert (
        r.status_code == 422
        and "the key handover date &#39;2026-02-30&#39; should be written YYYY-MM-DD" in r.text
    )
    assert audit_count() == before
    # on the signing day itself it is recorded
    r = client.post(
        f"/selections/{sel_id}/handover",
        data={"csrf_token": token, "handed_over_on": signed.isoformat()},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert audit_count() == before + 1


def test_the_draft_form_edits_the_bounds_of_declared_facts(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    _publish(client, world)
    pid = world.project_id
    page = client.get(f"/projects/{pid}/policy/drafts")
    csrf = page_csrf(page.text)
    r = client.post(f"/projects/{pid}/policy/drafts", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    form = client.get(f"/projects/{pid}/policy/drafts/1").text
    assert "方案要求的事实（录入范围）" in form
    group = re.search(r'<fieldset class="pf-group" id="g-facts-ac_units">.*?</fieldset>', form, re.S)
    assert group is not None and "空调数量" in group.group(0) and "上限" in group.group(0)
    index = re.search(r'name="v\.(\d+)" value="20"', group.group(0))
    assert index is not None
    name = f"v.{index[1]}"
    # a word is refused next to the field, as is a bound the checker refuses (not a whole count)
    check = client.post(f"/projects/{pid}/policy/drafts/1/check", data={"csrf_token": csrf, name: "二十"})
    assert "“二十”不是数字" in check.text
    refused = client.post(f"/projects/{pid}/policy/drafts/1/form", data={"csrf_token": csrf, name: "-1"})
    assert refused.status_code == 422 and "max 小于 min" in refused.text
    assert client.get(f"/projects/{pid}/policy/drafts/2").status_code == 404
    saved = client.post(
        f"/projects/{pid}/policy/drafts/1/form", data={"csrf_token": csrf, name: "25"}, follow_redirects=False
    )
    assert (saved.status_code, saved.headers["location"]) == (303, f"/projects/{pid}/policy/drafts/2/diff")
    draft = client.get(f"/projects/{pid}/policy/drafts/2").text
    assert (
        "ac_units: {label: 空调数量, type: count, unit: 台, required: true, max: 25, ref: 第十二条}" in draft
    )
