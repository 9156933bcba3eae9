"""Housing over HTTP (API and pages): estates, the flat list import (dry run, all or nothing with
every row named, hostile files refused), the export, status by hand, selection events with the
lottery commitment and the fixed order that the page explains and the API hands out whole."""

from __future__ import annotations

import contextlib
import hashlib
import html
import io
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import xlsxwriter
from fastapi.testclient import TestClient
from python_calamine import CalamineWorkbook

from anju.agreement import service as agreement_service
from anju.compensation import service as compensation_service
from anju.db.session import unit_of_work
from anju.demo.policies import POLICY_DIR
from anju.housing import rules
from anju.identity.service import DataScope
from tests.api.permission_calls import audit_count
from tests.factories import ACTOR, World
from tests.integration.test_hostile_files import a1_xfd

ClientAs = Callable[[str], tuple[TestClient, str, World]]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEAD = ["楼栋", "单元", "楼层", "房号", "户型", "建筑面积", "套内面积", "公摊面积", "朝向", "价格档"]
SEED = "2026-12-20 福彩3D 开奖号 7 0 2"


def flat_list(rows: list[list[Any]]) -> bytes:
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False})
    ws = wb.add_worksheet("房源")
    ws.write_row(0, 0, HEAD)
    for i, r in enumerate(rows, start=1):
        ws.write_row(i, 0, r)
    wb.close()
    return out.getvalue()


GOOD = [["3幢", 1, f, f"{f}01", "A", 89.56, 72.3, 17.26, "南", "standard"] for f in (1, 2, 3)] + [
    ["3幢", 2, f, f"{f}02", "B", 120, 98.5, "", "南北", "extra"] for f in (1, 2, 3)
]


def _estate(client: TestClient, csrf: str, world: World, code: str = "QX") -> int:
    r = client.post(
        f"/api/v1/projects/{world.project_id}/estates",
        json={
            "code": code,
            "name": "青溪安置小区",
            "address": "青溪路88号",
            "planned_delivery_on": "2027-06-30",
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _upload(client: TestClient, csrf: str, estate_id: int, data: bytes, *, dry_run: bool) -> Any:
    return client.post(
        f"/api/v1/estates/{estate_id}/flats/import?dry_run={'true' if dry_run else 'false'}",
        files={"file": ("房源表.xlsx", data, XLSX)},
        headers={"X-CSRF-Token": csrf},
    )


def test_estates_and_the_flat_list_over_the_api(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    eid = _estate(client, csrf, world)
    again = client.post(
        f"/api/v1/projects/{world.project_id}/estates",
        json={"code": "qx", "name": "重复"},
        headers={"X-CSRF-Token": csrf},
    )
    assert again.status_code == 409 and again.json()["code"] == "duplicate_code"
    # dry run: checked, nothing written
    before = audit_count()
    r = _upload(client, csrf, eid, flat_list(GOOD), dry_run=True)
    assert r.status_code == 200, r.text
    assert (r.json()["ok"], r.json()["rows"], r.json()["imported"], r.json()["problems"]) == (True, 6, 0, [])
    assert client.get(f"/api/v1/estates/{eid}/flats").json() == [] and audit_count() == before
    # a bad list: 422 naming every row and column, nothing written
    bad = [
        *GOOD[:2],
        ["3幢", 1, 1, "101", "A", 89.56, 72.3, 17.26, "南", ""],
        ["3幢", 9, 4, "401", "A", "八十", 60, "", "", ""],
    ]
    r = _upload(client, csrf, eid, flat_list(bad), dry_run=False)
    assert r.status_code == 422, r.text
    assert r.json()["details"] == [
        {"row": 4, "column": "房号", "message": "第 4 行“房号”：房源 3-1-101 与第 2 行重复"},
        {
            "row": 5,
            "column": "建筑面积",
            "message": "第 5 行“建筑面积”：“八十”不是有效的面积（㎡，大于 0，最多两位小数）",
        },
    ]
    assert client.get(f"/api/v1/estates/{eid}/flats").json() == [] and audit_count() == before
    # the good list is imported
    r = _upload(client, csrf, eid, flat_list(GOOD), dry_run=False)
    assert r.status_code == 200, r.text
    assert (r.json()["imported"], r.json()["buildings_created"], r.json()["flat_types_created"]) == (6, 1, 2)
    flats = client.get(f"/api/v1/estates/{eid}/flats").json()
    assert [f["code"] for f in flats] == ["3-1-101", "3-1-201", "3-1-301", "3-2-102", "3-2-202", "3-2-302"]
    assert (
        flats[3]["gross_area"] == "120.00"
        and flats[3]["shared_area"] == "21.50"
        and flats[3]["price_tier"] == "extra"
    )
    listed = client.get(f"/api/v1/projects/{world.project_id}/estates").json()
    assert [(e["code"], e["flats"], e["buildings"], e["counts"]["available"]) for e in listed] == [
        ("QX", 6, 1, 6)
    ]
    # the same list again: every flat is already there
    r = _upload(client, csrf, eid, flat_list(GOOD), dry_run=True)
    assert r.json()["ok"] is False and len(r.json()["problems"]) == 6
    # status by hand
    fid, version = flats[0]["id"], flats[0]["version"]
    r = client.patch(
        f"/api/v1/flats/{fid}",
        json={"status": "frozen", "reason": "开发商整改", "version": version},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200 and (r.json()["status"], r.json()["status_label"], r.json()["version"]) == (
        "frozen",
        "冻结",
        version + 1,
    )
    r = client.patch(
        f"/api/v1/flats/{fid}", json={"status": "reserved", "reason": "试"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
    r = client.patch(
        f"/api/v1/flats/{fid}",
        json={"status": "available", "reason": "整改完", "version": version},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 409 and r.json()["code"] == "stale_version"
    assert [f["code"] for f in client.get(f"/api/v1/estates/{eid}/flats?status=frozen").json()] == ["3-1-101"]
    # the export: every flat, with its status
    r = client.get(f"/api/v1/estates/{eid}/flats.xlsx")
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    grid = CalamineWorkbook.from_filelike(io.BytesIO(r.content)).get_sheet_by_name("房源").to_python()
    assert [row[0] for row in grid[1:]] == [f["code"] for f in flats] and grid[1][13] == "冻结"


def test_hostile_and_wrong_files_are_refused_before_reading(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    eid = _estate(client, csrf, world)
    before = audit_count()
    r = _upload(client, csrf, eid, a1_xfd(), dry_run=False)
    assert r.status_code == 422 and r.json()["code"] == "upload_too_large"
    r = _upload(client, csrf, eid, b"<!DOCTYPE html><html><body>x</body></html>", dry_run=False)
    assert r.status_code == 422 and r.json()["code"] == "upload_wrong_type"
    page = client.post(
        f"/estates/{eid}/flats/import",
        data={"csrf_token": csrf},
        files={"file": ("房源表.xlsx", a1_xfd(), XLSX)},
    )
    assert page.status_code == 422 and "已拒绝" in page.text
    assert audit_count() == before and client.get(f"/api/v1/estates/{eid}/flats").json() == []


def test_the_pages_show_estates_grids_and_the_import_problems(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    r = client.post(
        f"/projects/{world.project_id}/estates",
        data={
            "csrf_token": csrf,
            "code": "E2",
            "name": "二期安置小区",
            "address": "",
            "planned_delivery_on": "2027-01-31",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/projects/{world.project_id}/housing?ok=estate"
    page = client.get(r.headers["location"])
    assert "安置小区已添加" in page.text and "二期安置小区" in page.text and "2027-01-31" in page.text
    eid = int(re.search(r'href="/estates/(\d+)"', page.text).group(1))  # type: ignore[union-attr]
    # a bad list shows every problem on the estate page, nothing is written
    bad = [["3幢", 1, 1, "101", "A", 90, 95, "", "", ""]]
    r = client.post(
        f"/estates/{eid}/flats/import",
        data={"csrf_token": csrf},
        files={"file": ("房源表.xlsx", flat_list(bad), XLSX)},
    )
    assert r.status_code == 422 and "第 2 行“套内面积”：套内面积 95.00㎡ 大于建筑面积 90.00㎡" in r.text
    # check only, then import
    r = client.post(
        f"/estates/{eid}/flats/import",
        data={"csrf_token": csrf, "check": "1"},
        files={"file": ("房源表.xlsx", flat_list(GOOD), XLSX)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "ok=checked&n=6" in r.headers["location"]
    assert client.get(f"/api/v1/estates/{eid}/flats").json() == []
    r = client.post(
        f"/estates/{eid}/flats/import",
        data={"csrf_token": csrf},
        files={"file": ("房源表.xlsx", flat_list(GOOD), XLSX)},
    )
    assert r.status_code == 200 and "房源已导入（6 套）" in r.text
    # the grid: building 3幢, floors 3..1, units 1 and 2, each flat coloured by its status
    assert (
        "3幢" in r.text
        and "3 层 · 2 个单元" in r.text
        and r.text.count('class="hs-flat flat-available"') == 6
    )
    flat = client.get(f"/api/v1/estates/{eid}/flats").json()[0]
    r = client.post(
        f"/flats/{flat['id']}/status",
        data={"csrf_token": csrf, "status": "frozen", "reason": "渗水整改", "version": str(flat["version"])},
    )
    assert r.status_code == 200 and "房源状态已更改" in r.text and r.text.count("flat-frozen") >= 2
    assert "渗水整改" in r.text
    # the team member reads the grid but has no forms
    client, _csrf, _world = client_as("team_member")
    page = client.get(f"/estates/{eid}")
    assert (
        page.status_code == 200
        and "3-1-101" in page.text
        and "/flats/" not in page.text.replace("/flats.xlsx", "")
    )


def _swap_households(world: World, indexes: list[int]) -> list[str]:
    """Sign swap agreements (sign order follows ``indexes``); returns the household codes."""
    source = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
    with unit_of_work() as db:
        compensation_service.publish(db, actor=ACTOR, project_id=world.project_id, source=source)
        for i in indexes:
            agreement_service.sign(
                db,
                actor=ACTOR,
                scope=DataScope.everything(),
                household_id=world.household_ids[i],
                option="swap",
                sign_on=date(2024, 4, 20),
                today=date(2024, 4, 20),
            )
    return [f"H{i + 1:04d}" for i in indexes]


def test_a_lottery_event_from_commitment_to_the_published_order(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    codes = _swap_households(world, [3, 0, 2, 1])
    eid = _estate(client, csrf, world)
    assert _upload(client, csrf, eid, flat_list(GOOD), dry_run=False).status_code == 200
    h = {"X-CSRF-Token": csrf}
    r = client.post(
        "/api/v1/selection-events",
        json={
            "project_id": world.project_id,
            "name": "第一批选房",
            "order_kind": "lottery",
            "estate_ids": [eid],
            "held_on": "2027-07-01",
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    event = r.json()
    assert (
        event["status"],
        event["order_kind_label"],
        event["households"],
        event["flat_counts"]["available"],
    ) == (
        "planned",
        "公开摇号",
        0,
        6,
    )
    ev = event["id"]
    r = client.post(f"/api/v1/selection-events/{ev}/order", json={"seed": SEED}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "not_committed"
    commitment = hashlib.sha256(SEED.encode()).hexdigest()
    r = client.post(
        f"/api/v1/selection-events/{ev}/commitment",
        json={
            "seed_source": "2026-12-20 福彩3D 开奖号（三位数字，空格分隔）",
            "seed_hash": commitment,
            "version": event["version"],
        },
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["seed_committed_hash"], r.json()["households"], r.json()["seed"]) == (
        commitment,
        4,
        None,
    )
    assert r.json()["roster_hash"] == rules.roster_hash(codes)
    # before the draw the page shows the commitment and the roster
    page = client.get(f"/selection-events/{ev}")
    assert (
        page.status_code == 200
        and commitment in page.text
        and "参加户名单" in page.text
        and "张**" in page.text
    )
    r = client.post(f"/api/v1/selection-events/{ev}/order", json={"seed": SEED + "!"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "seed_mismatch"
    r = client.post(f"/api/v1/selection-events/{ev}/order", json={"seed": SEED}, headers=h)
    assert r.status_code == 200, r.text
    order = r.json()
    expected = rules.lottery_order(SEED, codes)
    assert [(x["position"], x["code"], x["draw_key"]) for x in order["lines"]] == [
        (p.position, p.code, p.draw_key) for p in expected
    ]
    assert (order["seed"], order["seed_committed_hash"], order["verify_command"]) == (
        SEED,
        commitment,
        f"anju housing verify-order --event {ev}",
    )
    assert order["formula"] == rules.FORMULA_ZH and all("*" in x["head_name_masked"] for x in order["lines"])
    assert client.get(f"/api/v1/selection-events/{ev}/order").json() == order
    r = client.post(f"/api/v1/selection-events/{ev}/order", json={"seed": SEED}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "order_fixed"
    # the page explains how to check it, with the seed and the codes ready to paste
    page = client.get(f"/selection-events/{ev}")
    assert "如何核对选房顺序" in page.text and f"anju housing verify-order --event {ev}" in page.text
    assert expected[0].draw_key in page.text
    # ...and the Python on the page, run as a reader would paste it, prints the commitment and the order
    snippet = html.unescape(re.search(r"<pre>(.*?)</pre>", page.text, re.S).group(1))  # type: ignore[union-attr]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(snippet, {})
    out = printed.getvalue().splitlines()
    assert out[0] == commitment and out[1] == rules.roster_hash(codes)
    assert out[2:] == [f"{p.position} {p.code} {p.draw_key}" for p in expected]
    # flats the event offers
    r = client.get(f"/api/v1/selection-events/{ev}/flats?status=available")
    assert r.status_code == 200 and len(r.json()) == 6
    assert [
        e["id"] for e in client.get(f"/api/v1/selection-events?project_id={world.project_id}").json()
    ] == [ev]
    # a reader (the department) sees the order but no forms and no full names
    client, _csrf, _world = client_as("department")
    page = client.get(f"/selection-events/{ev}")
    assert page.status_code == 200 and "确定顺序" not in page.text and "张建国" not in page.text


def test_a_sign_order_event_through_the_page_forms(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    codes = _swap_households(world, [2, 0])
    eid = _estate(client, csrf, world)
    r = client.post(
        f"/projects/{world.project_id}/selection-events",
        data={
            "csrf_token": csrf,
            "name": "按签约顺序选房",
            "order_kind": "sign_order",
            "held_on": "",
            "estate_id": [str(eid)],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    ev = int(r.headers["location"].split("/")[-1].split("?")[0])
    page = client.get(r.headers["location"])
    assert "选房活动已创建" in page.text and "确定顺序" in page.text
    r = client.post(f"/selection-events/{ev}/order", data={"csrf_token": csrf, "seed": "x", "version": ""})
    assert r.status_code == 409 and "按签约顺序号选房的活动不使用种子" in r.text
    r = client.post(f"/selection-events/{ev}/order", data={"csrf_token": csrf, "seed": "", "version": ""})
    assert r.status_code == 200 and "选房顺序已确定" in r.text
    lines = client.get(f"/api/v1/selection-events/{ev}/order").json()["lines"]
    assert [(x["position"], x["code"], x["sign_no"]) for x in lines] == [(1, codes[0], 1), (2, codes[1], 2)]
    assert "按签约顺序号从小到大排列" in r.text
