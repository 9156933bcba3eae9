"""Payments over HTTP: the JSON routes and the pages, with finance preparing and a leader approving."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date
from typing import get_args

import pytest
from fastapi.testclient import TestClient

from anju.agreement import rules as agreement_rules
from anju.agreement import service as agreement_service
from anju.compensation import service as compensation_service
from anju.core.dates import today_shanghai
from anju.db.session import unit_of_work
from anju.demo.policies import POLICY_DIR
from anju.household import service as household_service
from anju.identity.service import DataScope
from anju.payment import pages as payment_pages
from anju.payment import schemas as payment_schemas
from tests.api.conftest import page_csrf
from tests.factories import ACTOR, World

ClientAs = Callable[[str], tuple[TestClient, str, World]]
ALL = DataScope.everything()
ACCOUNT = "6222021234567890123"
MASKED = "6222***********0123"


@pytest.fixture
def paying(client_as: ClientAs) -> tuple[ClientAs, World, list[int]]:
    """The test world with the shantytown policy and two households signed with a payee; returns
    the on-signing instalment ids."""
    _client, _csrf, world = client_as("finance")
    ids = []
    with unit_of_work() as db:
        compensation_service.publish(
            db,
            actor=ACTOR,
            project_id=world.project_id,
            source=(POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8"),
        )
        for hid in world.household_ids[:2]:
            a = agreement_service.sign(
                db,
                actor=ACTOR,
                scope=ALL,
                household_id=hid,
                option="cash",
                sign_on=today_shanghai(),
                payee=agreement_service.Payee(bank="青溪农商银行", account=ACCOUNT),
            )
            ids.append(agreement_service.instalments(db, a.id)[0].id)
    return client_as, world, ids


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def result_file(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["序号", "协议编号", "金额（元）", "结果", "银行流水号", "失败原因"])
    w.writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode()


def test_prepare_approve_export_and_import_over_the_api(paying: tuple[ClientAs, World, list[int]]) -> None:
    client_as, world, ids = paying
    pid = world.project_id
    client, csrf, _ = client_as("finance")
    h = {"X-CSRF-Token": csrf}
    due = client.get(f"/api/v1/projects/{pid}/due-instalments").json()
    assert [d["instalment_id"] for d in due] == ids
    assert [d["payee_account"] for d in due] == [ACCOUNT, ACCOUNT] and all(d["payee_complete"] for d in due)
    r = client.post(f"/api/v1/projects/{pid}/payment-batches", json={"title": "首批签约款"}, headers=h)
    assert r.status_code == 201, r.text
    batch = r.json()
    assert (batch["batch_no"], batch["status"], batch["status_label"], batch["item_count"]) == (
        1,
        "draft",
        "草稿",
        2,
    )
    assert [line["agreement_no"] for line in batch["lines"]] == ["P1-0001", "P1-0002"]
    total = batch["total_fen"]
    bid = batch["id"]
    # finance cannot approve (the role); the leader can, once it is submitted
    r = client.post(f"/api/v1/payment-batches/{bid}/approve", json={}, headers=h)
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    r = client.post(f"/api/v1/payment-batches/{bid}/submit", json={"version": batch["version"]}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    # a second batch for the same money, with explicit amounts
    items = [
        {"instalment_id": line["instalment_id"], "amount_fen": line["amount_fen"]} for line in batch["lines"]
    ]
    r = client.post(f"/api/v1/projects/{pid}/payment-batches", json={"items": items}, headers=h)
    assert r.status_code == 201, r.text
    second = r.json()["id"]
    assert client.post(f"/api/v1/payment-batches/{second}/submit", headers=h).status_code == 200
    leader, lcsrf, _ = client_as("commander")
    lh = {"X-CSRF-Token": lcsrf}
    r = leader.post(f"/api/v1/payment-batches/{bid}/approve", json={"note": "同意"}, headers=lh)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["approved_by_name"]) == ("approved", "测试commander")
    assert [line["payee_account"] for line in body["lines"]] == [MASKED, MASKED]  # the leader lacks pii.read
    r = leader.post(f"/api/v1/payment-batches/{second}/approve", headers=lh)
    assert r.status_code == 409 and r.json()["code"] == "overpay"
    assert r.json()["message"].startswith(
        "支付金额超过应付金额，未作任何更改：协议 P1-0001 的“签约后支付”应付"
    )
    assert leader.get(f"/api/v1/payment-batches/{second}").json()["status"] == "submitted"
    r = leader.post(f"/api/v1/payment-batches/{second}/reject", json={"reason": "与第 1 批重复"}, headers=lh)
    assert r.status_code == 200 and r.json()["rejection"] == "与第 1 批重复"
    # the bank file
    client, csrf, _ = client_as("finance")
    h = {"X-CSRF-Token": csrf}
    r = client.get(f"/api/v1/payment-batches/{bid}/export", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment; filename*=UTF-8''" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["序号", "收款人", "账号", "开户行", "金额（元）", "协议编号", "用途"]
    assert [row[:3] + row[5:6] for row in rows[1:]] == [
        ["1", "张建国", ACCOUNT, "P1-0001"],
        ["2", "李秀英", ACCOUNT, "P1-0002"],
    ]
    assert sum(int(row[4].replace(".", "")) for row in rows[1:]) == total
    r = client.get(f"/api/v1/payment-batches/{bid}/export")
    assert r.status_code == 200 and r.content[:2] == b"PK"
    assert client.get(f"/api/v1/payment-batches/{bid}").json()["status"] == "exported"
    # the result file: a bad row refuses the whole file, named by its line
    amounts = [row[4] for row in rows[1:]]
    bad = result_file(
        [["1", "P1-0001", amounts[0], "成功", "BK1", ""], ["2", "P1-0002", "1.00", "成功", "BK2", ""]]
    )
    r = client.post(
        f"/api/v1/payment-batches/{bid}/result", files={"file": ("回盘.csv", bad, "text/csv")}, headers=h
    )
    assert r.status_code == 422, r.text
    assert (
        r.json()["details"][0]["message"]
        == f"第 3 行“金额”：1.00 元与本批次序号 2 的金额 {amounts[1]} 元不符"
    )
    assert client.get(f"/api/v1/payment-batches/{bid}").json()["status"] == "exported"
    good = result_file(
        [
            ["1", "P1-0001", amounts[0], "成功", "BK1", ""],
            ["2", "P1-0002", amounts[1], "失败", "", "账户已销户"],
        ]
    )
    r = client.post(
        f"/api/v1/payment-batches/{bid}/result?dry_run=true",
        files={"file": ("回盘.csv", good, "text/csv")},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["ok"] is True and r.json()["batch"]["status"] == "exported"
    r = client.post(
        f"/api/v1/payment-batches/{bid}/result",
        files={"file": ("回盘.csv", good, "text/csv")},
        data={"paid_on": today_shanghai().isoformat()},
        headers=h,
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["paid"], got["failed"], got["closed"], got["batch"]["status"]) == (1, 1, True, "closed")
    assert got["paid_fen"] == int(amounts[0].replace(".", ""))
    lines = client.get(f"/api/v1/payment-batches/{bid}").json()["lines"]
    assert [(x["status"], x["bank_ref"], x["failure_reason"]) for x in lines] == [
        ("paid", "BK1", ""),
        ("failed", "", "账户已销户"),
    ]
    funds = client.get(f"/api/v1/projects/{pid}/funds").json()
    assert funds["total"]["paid_fen"] == got["paid_fen"] and funds["total"]["committed_fen"] == 0
    assert funds["total"]["budget_fen"] > funds["total"]["signed_fen"] > 0
    assert [b["label"] for b in funds["blocks"]] == ["东片区", "西片区"]
    # the lists
    listed = client.get(f"/api/v1/projects/{pid}/payment-batches").json()
    assert [(b["batch_no"], b["status"]) for b in listed] == [(2, "rejected"), (1, "closed")]
    assert [b["id"] for b in client.get(f"/api/v1/projects/{pid}/payment-batches?status=closed").json()] == [
        bid
    ]


def test_the_pages_prepare_approve_and_refuse_a_bad_result_file(
    paying: tuple[ClientAs, World, list[int]],
) -> None:
    client_as, world, ids = paying
    pid = world.project_id
    client, _csrf, _ = client_as("finance")
    page = client.get(f"/projects/{pid}/payments")
    assert page.status_code == 200
    assert "应付款项（2 笔）" in page.text and ACCOUNT in page.text and "按勾选的款项编制批次" in page.text
    csrf = page_csrf(page.text)
    # nothing chosen: the page again with the reason
    r = client.post(f"/projects/{pid}/payment-batches", data={"csrf_token": csrf, "mode": "selected"})
    assert r.status_code == 422 and "请勾选要支付的款项" in r.text
    r = client.post(
        f"/projects/{pid}/payment-batches",
        data={
            "csrf_token": csrf,
            "mode": "selected",
            "instalment_id": [str(ids[0])],
            f"amount_{ids[0]}": "1,000.50",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    url = r.headers["location"]
    assert url.endswith("?ok=created")
    page = client.get(url)
    assert "支付批次已编制（草稿）" in page.text and "1,000.50" in page.text and "壹仟元伍角" in page.text
    bid = int(url.split("/")[-1].split("?")[0])
    r = client.post(
        f"/payment-batches/{bid}/submit", data={"csrf_token": csrf, "version": ""}, follow_redirects=False
    )
    assert r.status_code == 303
    # the leader sees the account masked, and approves
    leader, _l, _ = client_as("commander")
    page = leader.get(f"/payment-batches/{bid}")
    assert page.status_code == 200 and MASKED in page.text and ACCOUNT not in page.text
    assert "审批通过（1,000.50 元）" in page.text
    lcsrf = page_csrf(page.text)
    inbox = leader.get("/payments/batches?status=submitted")
    assert inbox.status_code == 200 and f"/payment-batches/{bid}" in inbox.text
    r = leader.post(
        f"/payment-batches/{bid}/approve", data={"csrf_token": lcsrf, "note": ""}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?ok=approved")
    client, _csrf, _ = client_as("finance")
    page = client.get(f"/payment-batches/{bid}")
    assert "下载 Excel（.xlsx）" in page.text
    csrf = page_csrf(page.text)
    assert client.get(f"/api/v1/payment-batches/{bid}/export?format=xlsx").status_code == 200
    page = client.get(f"/payment-batches/{bid}")
    assert "导入回盘结果" in page.text
    bad = result_file([["1", "P1-0009", "1000.50", "成功", "", ""]])
    r = client.post(
        f"/payment-batches/{bid}/result",
        data={"csrf_token": csrf, "paid_on": ""},
        files={"file": ("回盘.csv", bad, "text/csv")},
    )
    assert r.status_code == 422
    assert "回盘文件有 2 处错误，未登记任何一笔" in r.text
    assert (
        "“P1-0009”与本批次序号 1 的协议编号“P1-0001”不符" in r.text
        and "支付成功的款项须有银行流水号" in r.text
    )
    good = result_file([["1", "P1-0001", "1000.50", "成功", "BK77", ""]])
    r = client.post(
        f"/payment-batches/{bid}/result",
        data={"csrf_token": csrf, "paid_on": today_shanghai().isoformat()},
        files={"file": ("回盘.csv", good, "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "回盘结果已登记" in page.text and "BK77" in page.text and "已办结" in page.text
    funds = client.get(f"/projects/{pid}/funds")
    assert funds.status_code == 200 and "1,000.50" in funds.text and "东片区" in funds.text


def test_full_payment_over_the_api_records_the_household_paid_date(
    paying: tuple[ClientAs, World, list[int]],
) -> None:
    client_as, world, _ids = paying
    with unit_of_work() as db:
        for hid in world.household_ids[:1]:
            for i in agreement_service.instalments_of_household(db, hid):
                agreement_service.make_due(db, actor=ACTOR, instalment=i, due_on=today_shanghai())
    client, csrf, _ = client_as("finance")
    h = {"X-CSRF-Token": csrf}
    due = [
        d
        for d in client.get(f"/api/v1/projects/{world.project_id}/due-instalments").json()
        if d["household_id"] == world.household_ids[0]
    ]
    assert len(due) == 2
    r = client.post(
        f"/api/v1/projects/{world.project_id}/payment-batches",
        json={"items": [{"instalment_id": d["instalment_id"]} for d in due]},
        headers=h,
    )
    bid = r.json()["id"]
    client.post(f"/api/v1/payment-batches/{bid}/submit", headers=h)
    leader, lcsrf, _ = client_as("commander")
    assert (
        leader.post(f"/api/v1/payment-batches/{bid}/approve", headers={"X-CSRF-Token": lcsrf}).status_code
        == 200
    )
    client, csrf, _ = client_as("finance")
    lines = client.get(f"/api/v1/payment-batches/{bid}").json()["lines"]
    client.get(f"/api/v1/payment-batches/{bid}/export?format=csv")
    good = result_file(
        [[str(x["line_no"]), "", yuan(x["amount_fen"]), "成功", f"BK{x['line_no']}", ""] for x in lines]
    )
    r = client.post(
        f"/api/v1/payment-batches/{bid}/result",
        files={"file": ("回盘.csv", good, "text/csv")},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200 and r.json()["households_paid"] == [world.household_ids[0]]
    with unit_of_work() as db:
        h0 = household_service.get_household(db, scope=ALL, household_id=world.household_ids[0])
        assert h0.paid_on == today_shanghai() and isinstance(h0.paid_on, date)


# --------------------------------------------------------------------------- the due list at scale


def _vacate_due(world: World) -> int:
    """H0001's after-vacating instalment made due; its id."""
    with unit_of_work() as db:
        i = agreement_service.instalments_of_household(db, world.household_ids[0])[1]
        agreement_service.make_due(db, actor=ACTOR, instalment=i, due_on=today_shanghai())
        return int(i.id)


def test_the_instalment_kinds_of_the_api_are_the_agreement_domains() -> None:
    assert set(get_args(payment_schemas.DueKind)) == set(agreement_rules.INSTALMENT_KINDS)


def test_the_due_list_api_filters_and_pages(paying: tuple[ClientAs, World, list[int]]) -> None:
    client_as, world, ids = paying
    vacate = _vacate_due(world)
    pid = world.project_id
    client, _csrf, _ = client_as("finance")
    url = f"/api/v1/projects/{pid}/due-instalments"

    def got(query: str) -> tuple[list[int], str]:
        r = client.get(f"{url}?{query}")
        assert r.status_code == 200, r.text
        return [d["instalment_id"] for d in r.json()], r.headers["X-Total-Count"]

    east, west = world.block_ids["E"], world.block_ids["W"]
    assert got("") == ([ids[0], vacate, ids[1]], "3")
    assert got(f"block_id={east}") == ([ids[0], vacate], "2")
    assert got(f"block_id={west}") == ([ids[1]], "1")
    assert got("kind=after_vacate") == ([vacate], "1")
    assert got(f"kind=on_sign&block_id={east}") == ([ids[0]], "1")
    assert got("q=h0002") == ([ids[1]], "1")
    assert got("q=%E5%BC%A0%E5%BB%BA%E5%9B%BD") == ([ids[0], vacate], "2")  # 张建国
    assert got("q=P1-0002") == ([ids[1]], "1")
    assert got("block_id=999999") == ([], "0")
    assert got("kind=reward") == ([], "0")
    # paged: the count is the filter's, whatever the page
    assert got("limit=1") == ([ids[0]], "3")
    assert got("limit=1&offset=1") == ([vacate], "3")
    assert got("limit=2&offset=2") == ([ids[1]], "3")
    assert got("offset=3") == ([], "3")
    assert got(f"block_id={east}&limit=1&offset=1") == ([vacate], "2")
    for bad in ("kind=bogus", "limit=0", "limit=2001", "offset=-1", "q=" + "x" * 101, "block_id=0"):
        r = client.get(f"{url}?{bad}")
        assert r.status_code == 422, (bad, r.text)
    assert client.get("/api/v1/projects/999999/due-instalments?limit=1").status_code == 404
    doc = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/projects/{project_id}/due-instalments"][
        "get"
    ]
    assert {p["name"] for p in doc["parameters"]} >= {"block_id", "kind", "q", "limit", "offset"}
    assert "X-Total-Count" in doc["responses"]["200"]["headers"]


def test_the_payments_page_filters_pages_and_prepares_a_batch_of_the_filter(
    paying: tuple[ClientAs, World, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client_as, world, ids = paying
    vacate = _vacate_due(world)
    monkeypatch.setattr(payment_pages, "DUE_PER_PAGE", 1)
    pid = world.project_id
    east = world.block_ids["E"]
    client, _csrf, _ = client_as("finance")

    def rows(text: str) -> list[int]:
        return [int(m) for m in re.findall(r'name="instalment_id" value="(\d+)"', text)]

    page = client.get(f"/projects/{pid}/payments")
    assert page.status_code == 200
    assert "应付款项（3 笔）" in page.text and "共 3 笔，第 1–1 笔" in page.text
    assert rows(page.text) == [ids[0]] and f'href="/projects/{pid}/payments?page=2#due"' in page.text
    assert "全部应付款项编制批次（3 笔" in page.text
    assert rows(client.get(f"/projects/{pid}/payments?page=2").text) == [vacate]
    assert rows(client.get(f"/projects/{pid}/payments?page=999").text) == [ids[1]]  # the last page
    page = client.get(f"/projects/{pid}/payments?block_id={east}&page=2")
    assert rows(page.text) == [vacate]
    assert "筛选出 2 笔，全项目 3 笔" in page.text and "按筛选结果编制批次（2 笔" in page.text
    assert f'href="/projects/{pid}/payments?block_id={east}&amp;page=1#due"' in page.text
    assert f'<option value="{east}" selected>' in page.text
    page = client.get(f"/projects/{pid}/payments?q=H0002&kind=on_sign")
    assert rows(page.text) == [ids[1]] and "筛选出 1 笔" in page.text
    assert "没有符合筛选条件的应付款项" in client.get(f"/projects/{pid}/payments?q=nobody").text
    # everything the east block holds, over two pages, goes into one batch
    csrf = page_csrf(page.text)
    form = {
        "csrf_token": csrf,
        "mode": "filter",
        "block_id": str(east),
        "kind": "",
        "q": "",
        "title": "东片区",
    }
    r = client.post(f"/projects/{pid}/payment-batches", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    bid = int(r.headers["location"].split("/")[-1].split("?")[0])
    batch = client.get(f"/api/v1/payment-batches/{bid}").json()
    assert [x["instalment_id"] for x in batch["lines"]] == [ids[0], vacate] and batch["title"] == "东片区"
    # again: all of it is in the open batch; the page again, with the filter, nothing written
    r = client.post(f"/projects/{pid}/payment-batches", data=form)
    assert r.status_code == 409 and "筛选出的应付款项中没有可列入批次的" in r.text
    assert f'<option value="{east}" selected>' in r.text
    assert len(client.get(f"/api/v1/projects/{pid}/payment-batches").json()) == 1


def test_the_batch_page_pages_its_lines_and_is_edited_a_page_at_a_time(
    paying: tuple[ClientAs, World, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client_as, world, ids = paying
    vacate = _vacate_due(world)
    monkeypatch.setattr(payment_pages, "LINES_PER_PAGE", 1)
    monkeypatch.setattr(payment_pages, "DUE_PER_PAGE", 1)
    pid = world.project_id
    client, csrf, _ = client_as("finance")
    r = client.post(f"/api/v1/projects/{pid}/payment-batches", json={}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    bid = r.json()["id"]

    def lines() -> list[int]:
        return [x["instalment_id"] for x in client.get(f"/api/v1/payment-batches/{bid}").json()["lines"]]

    assert lines() == [ids[0], vacate, ids[1]]
    page = client.get(f"/payment-batches/{bid}?page=2")
    assert page.status_code == 200 and "共 3 笔，第 2–2 笔" in page.text
    assert re.findall(r'name="shown" value="(\d+)"', page.text) == [str(vacate)]
    assert "没有其他应付款项" in page.text  # everything due is in this batch
    csrf = page_csrf(page.text)
    base = {"csrf_token": csrf, "paged": "1", "page": "2", "dpage": "1", "q": "", "block_id": "", "kind": ""}
    # the second page's line unchecked: it leaves, the lines on the other pages stay
    r = client.post(
        f"/payment-batches/{bid}/items",
        data={**base, "version": "1", "shown": [str(vacate)]},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert lines() == [ids[0], ids[1]]
    page = client.get(f"/payment-batches/{bid}?q=H0001")
    assert re.findall(r'name="instalment_id" value="(\d+)"', page.text)[-1] == str(vacate)  # to add
    assert "加入应付款项（本批次以外，筛选出 1 笔，共 3 笔）" in page.text
    # the additions form with nothing checked is refused; with the filter, everything it matches is added
    r = client.post(f"/payment-batches/{bid}/items", data={**base, "version": "2", "mode": "add"})
    assert r.status_code == 422 and "请勾选要加入的款项" in r.text
    assert lines() == [ids[0], ids[1]]
    r = client.post(
        f"/payment-batches/{bid}/items",
        data={**base, "version": "2", "mode": "add_filter", "q": "H0001"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert lines() == [ids[0], ids[1], vacate]
    # a stale version: the page again, naming who changed the batch, nothing changed
    r = client.post(f"/payment-batches/{bid}/items", data={**base, "version": "2", "shown": [str(ids[0])]})
    assert r.status_code == 409 and "支付批次已被 测试finance" in r.text
    assert lines() == [ids[0], ids[1], vacate]
    # without ``paged`` the checked instalments are the whole new list (as before)
    r = client.post(
        f"/payment-batches/{bid}/items",
        data={"csrf_token": csrf, "version": "3", "instalment_id": [str(ids[1])]},
        follow_redirects=False,
    )
    assert r.status_code == 303 and lines() == [ids[1]]
