"""更正导入 over HTTP: the page's preview and confirmation, the API's preview, apply and refusals."""

from __future__ import annotations

import copy
import io
import json
import random
import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from anju.demo.generator import census_rows
from anju.household import census
from tests.factories import World

ClientAs = Callable[[str], tuple[TestClient, str, World]]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _rows() -> dict[str, list[dict[str, Any]]]:
    return census_rows(random.Random(31), 3, prefix="FIX", blocks=["E"], kind="shantytown")


def _xlsx(rows: dict[str, list[dict[str, Any]]]) -> bytes:
    buf = io.BytesIO()
    census.write_workbook(buf, rows)
    return buf.getvalue()


def _imported(client: TestClient, csrf: str, project_id: int) -> dict[str, list[dict[str, Any]]]:
    rows = _rows()
    r = client.post(
        f"/api/v1/projects/{project_id}/census?dry_run=false",
        files={"file": ("原始.xlsx", _xlsx(rows), XLSX)},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 201, r.text
    return rows


def _renamed(rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    fixed = copy.deepcopy(rows)
    fixed["households"][0]["head_name"] = "更正后"
    return fixed


def _head_name(client: TestClient, project_id: int, code: str) -> str:
    r = client.get(f"/api/v1/projects/{project_id}/households", params={"q": code})
    assert r.status_code == 200
    item = next(i for i in r.json()["items"] if i["code"] == code)
    name: str = item["head_name"]
    return name


def test_page_previews_each_change_and_confirms(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    rows = _imported(client, csrf, world.project_id)
    code, old = rows["households"][0]["code"], rows["households"][0]["head_name"]
    page = client.get(f"/projects/{world.project_id}/import")
    assert "更正已有的户（更正导入）" in page.text
    r = client.post(
        f"/projects/{world.project_id}/import/corrections",
        files={"file": ("更正.xlsx", _xlsx(_renamed(rows)), XLSX)},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert r.status_code == 200, r.text
    assert "将修改 1 户，2 户没有改动" in r.text
    cells = re.findall(r'<td data-label="[^"]+">(?:<strong>)?([^<]*)', r.text)
    assert cells == ["户", "户主姓名", old, "更正后"]
    assert _head_name(client, world.project_id, code) == old  # the preview wrote nothing
    action = re.search(r'hx-post="(/projects/\d+/import/corrections/[0-9a-f]+)"', r.text)
    assert action is not None
    done = client.post(action.group(1), headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert done.status_code == 200, done.text
    assert "更正完成" in done.text and "已修改 1 户（1 个字段，新增 0 条记录）" in done.text
    assert _head_name(client, world.project_id, code) == "更正后"
    again = client.post(action.group(1), headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert again.status_code == 404 and "更正预览不存在或已过期" in again.text


def test_api_preview_apply_and_refusals(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    rows = _imported(client, csrf, world.project_id)
    code, old = rows["households"][0]["code"], rows["households"][0]["head_name"]
    url = f"/api/v1/projects/{world.project_id}/census/corrections"
    data = _xlsx(_renamed(rows))
    r = client.post(url, files={"file": ("更正.xlsx", data, XLSX)}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [h["code"] for h in body["households"]] == [code]
    assert body["households"][0]["records"][0]["changes"] == [
        {"field": "head_name", "label": "户主姓名", "before": old, "after": "更正后"}
    ]
    versions = body["versions"]

    missing = client.post(
        url + "?dry_run=false", files={"file": ("更正.xlsx", data, XLSX)}, headers={"X-CSRF-Token": csrf}
    )
    assert missing.status_code == 422 and missing.json()["details"][0]["field"] == "versions"
    stale = {k: v - 1 for k, v in versions.items()}
    refused = client.post(
        url + "?dry_run=false",
        files={"file": ("更正.xlsx", data, XLSX)},
        data={"versions": json.dumps(stale)},
        headers={"X-CSRF-Token": csrf},
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["message"].startswith(f"预览之后这些户已被修改：{code}。")
    assert _head_name(client, world.project_id, code) == old

    bad = copy.deepcopy(rows)
    bad["buildings"][0]["legal_area"] = "-1"
    invalid = client.post(url, files={"file": ("坏.xlsx", _xlsx(bad), XLSX)}, headers={"X-CSRF-Token": csrf})
    assert invalid.status_code == 422
    assert [d["sheet"] for d in invalid.json()["details"]] == ["房屋"]

    ok = client.post(
        url + "?dry_run=false",
        files={"file": ("更正.xlsx", data, XLSX)},
        data={"versions": json.dumps(versions)},
        headers={"X-CSRF-Token": csrf},
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["applied"]["households"] == 1
    assert _head_name(client, world.project_id, code) == "更正后"


def test_cli_update_previews_then_applies(client_as: ClientAs, tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from anju.cli import app

    client, csrf, world = client_as("case_officer")
    rows = _imported(client, csrf, world.project_id)
    code, old = rows["households"][0]["code"], rows["households"][0]["head_name"]
    path = tmp_path / "更正.xlsx"
    path.write_bytes(_xlsx(_renamed(rows)))
    preview = CliRunner().invoke(
        app, ["import", "census", str(path), "--project", "P1", "--update", "--dry-run"]
    )
    assert preview.exit_code == 0, preview.output
    assert "1 户有改动，2 户无改动" in preview.output and "校验通过（试运行，未写入）" in preview.output
    assert _head_name(client, world.project_id, code) == old
    done = CliRunner().invoke(app, ["import", "census", str(path), "--project", "P1", "--update"])
    assert done.exit_code == 0, done.output
    assert "已更正 1 户：修改 1 个字段，新增 0 条记录" in done.output
    assert _head_name(client, world.project_id, code) == "更正后"
    bad = copy.deepcopy(rows)
    bad["households"][1]["code"] = "NOPE9"
    path.write_bytes(_xlsx(bad))
    refused = CliRunner().invoke(app, ["import", "census", str(path), "--project", "P1", "--update"])
    assert refused.exit_code == 1 and "NOPE9" in refused.output and "未导入任何数据" in refused.output
