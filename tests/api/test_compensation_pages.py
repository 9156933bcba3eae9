"""Compensation pages and API over HTTP: publish, standards table, calculation sheet, PDF, what-if."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fastapi.testclient import TestClient

from anju.demo.policies import POLICY_DIR
from tests.api.conftest import login, page_csrf
from tests.factories import World

SOURCE = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")


def _publish(client: TestClient, world: World) -> None:
    token = login(client, "case_officer")
    r = client.post(
        f"/api/v1/projects/{world.project_id}/policies",
        json={"source": SOURCE, "file_name": "shantytown.yaml"},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 201, r.text


def test_publish_form_reports_errors_in_chinese(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    login(client, "case_officer")
    page = client.get(f"/projects/{world.project_id}/policy")
    assert "尚未发布补偿安置方案" in page.text
    bad = SOURCE.replace("formula: house_value * cash_bonus_share", "formula: house_value + relocation_rate")
    r = client.post(
        f"/projects/{world.project_id}/policy",
        data={"csrf_token": page_csrf(page.text)},
        files={"file": ("bad.yaml", bad.encode(), "text/yaml")},
    )
    assert r.status_code == 422
    assert "补偿方案有" in r.text and "行第" in r.text
    r = client.post(
        f"/projects/{world.project_id}/policy",
        data={"csrf_token": page_csrf(page.text)},
        files={"file": ("ok.yaml", SOURCE.encode(), "text/yaml")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(f"/projects/{world.project_id}/policy")
    assert "补偿标准" in page.text and "房屋价值补偿单价" in page.text and "第 1 版" in page.text


def test_calculation_api_page_and_pdf(world_app: tuple[TestClient, World], tmp_path: Path) -> None:
    client, world = world_app
    _publish(client, world)
    hid = world.household_ids[0]
    r = client.get(f"/api/v1/households/{hid}/calculation", params={"option": "cash"})
    assert r.status_code == 200
    body = r.json()
    assert body["total_fen"] == 103_187_450 and body["policy_version"] == 1
    assert {i["id"]: i["amount_fen"] for i in body["items"]}["house_value"] == 92_925_000
    # subtotal lines: the items they add up, never counted in the total
    subs = {x["id"]: x for x in body["subtotals"]}
    assert subs["house_subtotal"]["items"] == ["house_value", "business_loss"]
    assert (
        subs["house_subtotal"]["amount_fen"]
        == 92_925_000 + {i["id"]: i["amount_fen"] for i in body["items"]}["business_loss"]
    )
    assert sum(i["amount_fen"] for i in body["items"]) == body["total_fen"]
    page = client.get(f"/households/{hid}/calc")
    assert (
        page.status_code == 200
        and "1,031,874.50" in page.text
        and "壹佰零叁万壹仟捌佰柒拾肆元伍角" in page.text
    )
    assert 'data-subtotal="house_subtotal"' in page.text and "（小计，不另计入合计）" in page.text
    pdf = client.get(f"/households/{hid}/calc.pdf", params={"option": "cash"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    path = tmp_path / "sheet.pdf"
    path.write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=False).stdout
    if text:  # poppler-utils is installed in CI; the text layer must carry the Chinese and the total
        assert "征收补偿计算单" in text and "1,031,874.50" in text
        assert "房屋补偿小计" in text and "奖励合计" in text


def test_whatif_page_and_permission(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    _publish(client, world)
    r = client.get(
        f"/projects/{world.project_id}/whatif", params={"option": "cash", "k.relocation_rate": "25"}
    )
    assert r.status_code == 200
    # 6 households × 88.50 ㎡ × 10 元 more relocation
    assert "5,310.00" in r.text
    login(client, "team_member")
    assert client.get(f"/projects/{world.project_id}/whatif").status_code == 403


def test_version_diff_page_lists_changed_parameter(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    _publish(client, world)
    token = login(client, "case_officer")
    amended = SOURCE.replace(
        "relocation_rate: {label: 搬迁费, unit: 元/㎡, value: 15",
        "relocation_rate: {label: 搬迁费, unit: 元/㎡, value: 18",
    )
    r = client.post(
        f"/api/v1/projects/{world.project_id}/policies",
        json={"source": amended},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 201 and r.json()["version"] == 2
    page = client.get(f"/projects/{world.project_id}/policy/diff", params={"old": 1, "new": 2})
    assert page.status_code == 200
    assert "relocation_rate" in page.text and ">15<" in page.text and ">18<" in page.text


def test_swap_settlement_trial_on_the_calculation_page(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    token = login(client, "case_officer")
    rural = (POLICY_DIR / "rural.yaml").read_text(encoding="utf-8")
    r = client.post(
        f"/api/v1/projects/{world.project_id}/policies",
        json={"source": rural},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 201
    hid = world.household_ids[0]
    # H0001: 1 resettlement-undetermined member -> 0 persons, entitled area = 10 ㎡ improvement only.
    page = client.get(f"/households/{hid}/calc", params={"option": "swap", "flats": "12"})
    assert page.status_code == 200
    assert "应安置面积" in page.text and "10 ㎡" in page.text
    # 10 ㎡ at 2,200 + 2 ㎡ at 3,500 = 29,000; credit = buildings 88.50 × 1,200 = 106,200 -> refund 77,200
    assert "应退还被征收人：77,200.00 元" in page.text
    bad = client.get(f"/households/{hid}/calc", params={"option": "swap", "flats": "90, abc"})
    assert "第 2 套房源面积“abc”无效" in bad.text
    over = client.get(f"/households/{hid}/calc", params={"option": "swap", "flats": "50"})
    assert "最多可超 30㎡" in over.text
