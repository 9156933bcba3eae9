"""Census import page, its background jobs, the census API and the ledger download, over HTTP."""

from __future__ import annotations

import io
import random
import re
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from python_calamine import CalamineWorkbook

from anju.demo.generator import census_rows
from anju.household import census
from tests.factories import World

ClientAs = Callable[[str], tuple[TestClient, str, World]]


def census_file(n: int = 12, spoil: bool = False) -> bytes:
    rows = census_rows(random.Random(21), n, prefix="WEB", blocks=["E", "W"], kind="shantytown")
    if spoil:
        rows["members"][1]["id_number"] = "330102198001011230"
        rows["buildings"][2]["legal_area"] = "-1"
    buf = io.BytesIO()
    census.write_workbook(buf, rows)
    return buf.getvalue()


def wait(client: TestClient, fragment: str) -> str:
    job = re.search(r'hx-get="/imports/([0-9a-f]+)"', fragment)
    deadline = time.monotonic() + 30
    while job and time.monotonic() < deadline:
        time.sleep(0.05)
        r = client.get(f"/imports/{job.group(1)}", headers={"HX-Request": "true"})
        assert r.status_code == 200
        fragment = r.text
        job = re.search(r'hx-get="/imports/([0-9a-f]+)"', fragment)
    return fragment


def upload(client: TestClient, csrf: str, project_id: int, data: bytes) -> str:
    r = client.post(
        f"/projects/{project_id}/import",
        files={
            "file": (
                "入户调查表.xlsx",
                data,
                census.XLSX if hasattr(census, "XLSX") else "application/octet-stream",
            )
        },
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert r.status_code == 200, r.text
    return wait(client, r.text)


def household_total(client: TestClient, project_id: int) -> int:
    r = client.get(f"/api/v1/projects/{project_id}/households")
    assert r.status_code == 200
    total: int = r.json()["total"]
    return total


def test_page_check_confirm_and_result(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    page = client.get(f"/projects/{world.project_id}/import")
    assert page.status_code == 200
    assert "入户调查导入" in page.text and "下载入户调查表模板" in page.text
    template = client.get(f"/projects/{world.project_id}/census-template.xlsx")
    assert template.status_code == 200
    assert set(CalamineWorkbook.from_filelike(io.BytesIO(template.content)).sheet_names) == {
        "户",
        "成员",
        "房屋",
        "承租人",
        "宅基地",
        "评估",
        "填写说明",
    }
    before = household_total(client, world.project_id)
    checked = upload(client, csrf, world.project_id, census_file())
    assert "校验通过" in checked and "确认导入" in checked and "WEB00001" in checked
    assert household_total(client, world.project_id) == before  # a check writes nothing
    job_id = re.search(r"/imports/([0-9a-f]+)/confirm", checked)
    assert job_id
    r = client.post(
        f"/imports/{job_id.group(1)}/confirm", headers={"X-CSRF-Token": csrf, "HX-Request": "true"}
    )
    assert r.status_code == 200
    done = wait(client, r.text)
    assert "导入完成" in done
    assert household_total(client, world.project_id) == before + 12


def test_bad_file_lists_every_error_and_writes_nothing(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    before = household_total(client, world.project_id)
    result = upload(client, csrf, world.project_id, census_file(spoil=True))
    assert "有 2 处错误，未导入任何数据" in result
    assert "身份证号校验位错误" in result and "不能小于0㎡" in result
    assert re.search(r"<td[^>]*>成员</td><td[^>]*>3</td>\s*<td[^>]*>D</td><td[^>]*>身份证号</td>", result)
    assert "确认导入" not in result
    assert household_total(client, world.project_id) == before


def test_census_api_dry_run_import_and_422(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    url = f"/api/v1/projects/{world.project_id}/census"
    files = {"file": ("c.xlsx", census_file(5), "application/octet-stream")}
    r = client.post(url + "?dry_run=true", files=files, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    assert r.json()["preview"]["counts"]["户"] == 5 and r.json()["imported"] is None
    bad = client.post(
        url + "?dry_run=false",
        files={"file": ("c.xlsx", census_file(5, spoil=True))},
        headers={"X-CSRF-Token": csrf},
    )
    assert bad.status_code == 422
    details: list[dict[str, Any]] = bad.json()["details"]
    assert [(d["sheet"], d["row"], d["letter"], d["column"]) for d in details] == [
        ("成员", 3, "D", "身份证号"),
        ("房屋", 4, "H", "合法面积(㎡)"),
    ]
    r = client.post(url + "?dry_run=false", files=files, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    assert r.json()["imported"]["households"] == 5
    # without the CSRF token nothing is accepted
    assert client.post(url, files=files).status_code == 403


def test_import_needs_the_permission(client_as: ClientAs) -> None:
    for role in ("team_member", "auditor", "commander"):
        client, csrf, world = client_as(role)
        assert client.get(f"/projects/{world.project_id}/import").status_code == 403
        r = client.post(
            f"/api/v1/projects/{world.project_id}/census",
            files={"file": ("c.xlsx", census_file(2))},
            headers={"X-CSRF-Token": csrf},
        )
        assert r.status_code == 403


def test_ledger_download_scope_and_reveal(client_as: ClientAs) -> None:
    client, _csrf, world = client_as("commander")
    r = client.get(f"/projects/{world.project_id}/ledger.xlsx")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = CalamineWorkbook.from_filelike(io.BytesIO(r.content)).get_sheet_by_name("台账").to_python()
    assert [row[0] for row in rows[2:]] == [f"H{i:04d}" for i in range(1, 7)] + ["合计"]
    assert rows[1][-6:] == ["协议编号", "安置方式", "协议金额(元)", "签约顺序号", "已付(元)", "应付未付(元)"]
    assert rows[-1][:2] == ["合计", "6 户"] and rows[-1][-6] == "0 份"  # nobody signed yet
    assert client.get(f"/projects/{world.project_id}/ledger.xlsx?reveal=true").status_code == 403
    assert client.get(f"/api/v1/projects/{world.project_id}/ledger.xlsx").status_code == 200
    client, _csrf, world = client_as("auditor")
    r = client.get(f"/projects/{world.project_id}/ledger.xlsx?reveal=true")
    assert r.status_code == 200
    people = CalamineWorkbook.from_filelike(io.BytesIO(r.content)).get_sheet_by_name("家庭成员").to_python()
    assert "*" not in people[2][5] and len(people[2][5]) == 18
    client, _csrf, world = client_as("team_member")
    assert client.get(f"/projects/{world.project_id}/ledger.xlsx").status_code == 403
