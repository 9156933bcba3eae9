"""Time-bank pages around one volunteer: registering, the community's verification, a gift of hours
within a verified family, a donation to the pool, the ledger shown with its sum, the rules form; each
refusal is a Chinese message on the page and writes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from anju.db.session import unit_of_work
from anju.grid.models import Community
from anju.time_bank import rules
from anju.time_bank import service as tb
from anju.time_bank.models import Volunteer
from tests.api.conftest import page_csrf
from tests.factories import ACTOR, World

Client = Callable[[str], tuple[TestClient, str, World]]


def _community() -> int:
    with unit_of_work() as db:
        c = Community(code="DB01", name="东埠社区", created_at=datetime(2026, 1, 1, tzinfo=UTC))
        db.add(c)
        db.flush()
        return c.id


def _post(client: TestClient, page: str, action: str, data: dict[str, str]) -> str:
    html = client.get(page).text
    r = client.post(action, data={"csrf_token": page_csrf(html), **data}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return client.get(r.headers["location"]).text


def _volunteer(phone: str) -> Volunteer:
    with unit_of_work() as db:
        v = db.scalar(select(Volunteer).where(Volunteer.phone == phone))
        assert v is not None
        db.expunge(v)
        return v


def test_register_verify_gift_donate(client_as: Client) -> None:
    cid = _community()
    client, _, _ = client_as("community")
    page = _post(client, "/time-bank/volunteers", "/time-bank/volunteers", {
        "name": "王秀兰", "phone": "13800000001", "community_id": str(cid), "family_code": "F001"})  # fmt: skip
    assert "志愿者已登记" in page and "待核验" in page
    again = _post(client, "/time-bank/volunteers", "/time-bank/volunteers", {
        "name": "王二", "phone": "13800000001", "community_id": str(cid)})  # fmt: skip
    assert "已登记为志愿者" in again
    _post(client, "/time-bank/volunteers", "/time-bank/volunteers", {
        "name": "王建国", "phone": "13800000002", "community_id": str(cid), "family_code": "F001"})  # fmt: skip
    giver, taker = _volunteer("13800000001"), _volunteer("13800000002")
    # hours credited as the two reviews would (the review flow has its own tests)
    with unit_of_work() as db:
        acc = tb.volunteer_account(db, db.get(Volunteer, giver.id), rules.MINUTES)
        tb.credit_hours(db, actor=ACTOR, account_=acc, minutes=600, memo="测试入账")

    path = f"/time-bank/volunteers/{giver.id}"
    # gifts need both verified: refused first, nothing written
    refused = _post(client, path, f"{path}/gift", {"to_volunteer_id": str(taker.id), "hours": "2"})
    assert "alert-error" in refused
    for v in (giver, taker):
        p = f"/time-bank/volunteers/{v.id}"
        html = client.get(p).text
        version = re.search(r'name="version" value="(\d+)"', html)
        assert version
        done = _post(client, p, f"{p}/verify", {"family_code": "F001", "version": version.group(1)})
        assert "已核验" in done
    page = _post(client, path, f"{path}/gift", {"to_volunteer_id": str(taker.id), "hours": "2"})
    assert "已转赠 2.0 小时" in page
    page = _post(client, path, f"{path}/donate", {"hours": "1.5"})
    assert "已捐入公益池 1.5 小时" in page
    bad = _post(client, path, f"{path}/donate", {"hours": "0.2"})
    assert "时长须为大于零的整点或半小时" in bad
    too_much = _post(client, path, f"{path}/donate", {"hours": "100"})
    assert "alert-error" in too_much
    with unit_of_work() as db:
        g = tb.volunteer_account(db, db.get(Volunteer, giver.id), rules.MINUTES)
        t = tb.volunteer_account(db, db.get(Volunteer, taker.id), rules.MINUTES)
        assert (g.balance, t.balance) == (600 - 120 - 90, 120)
        assert tb.ledger_sum(db, account_id=g.id) == g.balance
    assert "家庭转赠" in page and "捐入公益池" in page and "6.5 小时" in page


def test_rules_form_and_refusals_by_role(client_as: Client) -> None:
    _community()
    client, _, _ = client_as("community")
    page = _post(
        client, "/time-bank", "/time-bank/settings", {"min_balance_minutes": "120", "name_mask": "1"}
    )
    assert "规则已保存" in page
    with unit_of_work() as db:
        assert tb.settings(db)["min_balance_minutes"] == 120
    bad = _post(client, "/time-bank", "/time-bank/settings", {"publicity_days": "-3"})
    assert "无效" in bad
    client, _, _ = client_as("grid_worker")  # manages the bank, does not review
    html = client.get("/time-bank").text
    r = client.post("/time-bank/settings", data={"csrf_token": page_csrf(html), "name_mask": "0"})
    assert r.status_code == 403


def test_moral_bank_rules_awards_and_objections(client_as: Client) -> None:
    cid = _community()
    client, _, _ = client_as("community")
    _post(client, "/time-bank/volunteers", "/time-bank/volunteers", {
        "name": "李桂英", "phone": "13800000009", "community_id": str(cid)})  # fmt: skip
    v = _volunteer("13800000009")
    page = _post(
        client,
        "/time-bank/moral",
        "/time-bank/moral/rules",
        {"code": "JYYW", "name": "见义勇为", "points": "50"},
    )
    assert "积分规则已添加" in page and "见义勇为" in page
    dup = _post(
        client, "/time-bank/moral", "/time-bank/moral/rules", {"code": "JYYW", "name": "重复", "points": "5"}
    )
    assert "规则编号 JYYW 已存在" in dup
    with unit_of_work() as db:
        rule_id = tb.earning_rules(db)[0].id
    empty = _post(client, "/time-bank/moral", "/time-bank/moral/awards", {
        "volunteer_id": str(v.id), "rule_id": str(rule_id), "deed": " "})  # fmt: skip
    assert "须写明事迹" in empty
    page = _post(client, "/time-bank/moral", "/time-bank/moral/awards", {
        "volunteer_id": str(v.id), "rule_id": str(rule_id), "deed": "河边救起落水儿童"})  # fmt: skip
    assert "已提交，进入公示" in page and "公示中" in page
    with unit_of_work() as db:
        award_id = tb.awards(db)[0][0].id
    page = _post(
        client, "/time-bank/moral", f"/time-bank/moral/awards/{award_id}/objection", {"objection": "事迹不实"}
    )
    assert "异议已登记" in page and "有异议" in page and "事迹不实" in page
    page = _post(client, "/time-bank", "/time-bank/catalogue", {
        "name": "上门理发", "kind": "service", "unit": "minutes", "price": "1"})  # fmt: skip
    assert "兑换项目已添加" in page and "上门理发" in page
    with unit_of_work() as db:
        item = next(i for i in tb.catalogue(db) if i.name == "上门理发")
        assert (item.unit, item.price) == ("minutes", 60)
