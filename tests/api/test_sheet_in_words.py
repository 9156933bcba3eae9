"""The calculation sheet speaks Chinese (issue #13 item 1) over HTTP: the page, the JSON API, the PDF
and the agreement documents show each item's basis in words; the formula view is offered only to
roles that may publish policy; a snapshot signed before the wording gets its words from its frozen
facts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.conftest import login
from tests.api.test_compensation_pages import _publish
from tests.factories import World

EXPECTED = {
    "house_value": ["合法面积 88.50 ㎡ × 房屋价值补偿单价（砖混，B）10,500 元/㎡ = 929,250.00 元"],
    "cash_bonus": ["房屋价值补偿 929,250.00 元 × 选择货币补偿奖励比例 10% = 92,925.00 元"],
    "relocation_cash": ["各证合法面积合计 88.50 ㎡ × 搬迁费 15 元/㎡ = 1,327.50 元"],
    "transition_cash": [
        "各证合法面积合计 88.50 ㎡ × 临时安置费 12 元/㎡/月 × 货币补偿过渡期 6 月 = 6,372.00 元"
    ],
    "business_loss": ["不适用：用途为住宅，不是营业"],
    "special_groups": ["家庭成员中低保的 0 人 × 低保补助 5,000 元/人 = 0.00 元"],
    "shidu": ["不适用：家庭成员中没有失独的"],
    "appliance": ["空调热水器等移机费 2,000 元"],
    "sign_reward": ["不适用：尚未签约"],
    "vacate_reward": ["尚未腾空，腾空奖励按 0 元计"],
    "block_vacate": ["本区块截至2024年6月30日的腾空率 0% 低于 100%，计 0.00 元"],
    "collective_sign": ["本片区截至2024年5月31日的签约率 0% 低于 集体签约率门槛 85%，计 0.00 元"],
}


def _basis(page: str) -> dict[str, list[str]]:
    rows = re.findall(r'<tr class="sheet-item[^"]*" data-item="(\w+)">(.*?)</tr>', page, re.S)
    return {
        item: [
            re.sub(r"<[^>]+>", "", line).strip()
            for line in re.findall(r'<div class="basis-line">(.*?)</div>', row)
        ]
        for item, row in rows
    }


def test_the_page_shows_the_basis_in_words_and_the_formula_only_to_policy_authors(
    world_app: tuple[TestClient, World],
) -> None:
    client, world = world_app
    _publish(client, world)
    hid = world.household_ids[0]
    login(client, "commander")
    page = client.get(f"/households/{hid}/calc", params={"option": "cash"})
    assert page.status_code == 200, page.text
    basis = _basis(page.text)
    assert basis == EXPECTED
    assert 'id="show-formula"' not in page.text and "house_rate" not in page.text
    assert "sign_rate(" not in page.text and "/ rounding" not in page.text
    for role in ("case_officer",):
        login(client, role)
        page = client.get(f"/households/{hid}/calc", params={"option": "cash"})
        assert 'id="show-formula"' in page.text and "building.legal_area * house_rate" in page.text
        assert _basis(page.text) == EXPECTED
    login(client, "team_member")  # household 1 is assigned to the team member
    page = client.get(f"/households/{hid}/calc", params={"option": "cash"})
    assert page.status_code == 200 and _basis(page.text) == EXPECTED and 'id="show-formula"' not in page.text


def test_the_api_and_the_pdf_carry_the_words(world_app: tuple[TestClient, World], tmp_path: Path) -> None:
    client, world = world_app
    _publish(client, world)
    hid = world.household_ids[0]
    body = client.get(f"/api/v1/households/{hid}/calculation", params={"option": "cash"}).json()
    assert {i["id"]: i["basis"] for i in body["items"]} == EXPECTED
    pdf = client.get(f"/households/{hid}/calc.pdf", params={"option": "cash"})
    assert pdf.status_code == 200
    path = tmp_path / "sheet.pdf"
    path.write_bytes(pdf.content)
    text = subprocess.run(
        ["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = re.sub(r"\s+", "", text)
    for lines in EXPECTED.values():
        for line in lines:
            assert re.sub(r"\s+", "", line) in flat, line
    assert "house_rate" not in text and "*" not in text and "计算依据" in text
