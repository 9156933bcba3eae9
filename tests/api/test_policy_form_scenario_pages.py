"""Policy draft form (#13 item 5) and named what-if scenarios (#13 item 6) over HTTP."""

from __future__ import annotations

import io
import re

from fastapi.testclient import TestClient
from python_calamine import CalamineWorkbook

from anju.demo.policies import POLICY_DIR
from tests.api.conftest import login, page_csrf
from tests.factories import World

SOURCE = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")


def _publish(client: TestClient, world: World) -> str:
    token = login(client, "case_officer")
    r = client.post(
        f"/api/v1/projects/{world.project_id}/policies",
        json={"source": SOURCE, "file_name": "shantytown.yaml"},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 201, r.text
    return token


def test_draft_form_checks_inline_saves_and_diffs(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    _publish(client, world)
    pid = world.project_id
    page = client.get(f"/projects/{pid}/policy/drafts")
    assert page.status_code == 200 and "以已发布版本为底稿开始修改" in page.text
    csrf = page_csrf(page.text)
    r = client.post(f"/projects/{pid}/policy/drafts", data={"csrf_token": csrf}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"/projects/{pid}/policy/drafts/1")
    form = client.get(f"/projects/{pid}/policy/drafts/1")
    text = form.text
    # every value with its label, unit and legal reference
    assert "搬迁费" in text and "元/㎡" in text and "依据：方案第十条" in text
    assert "结构=砖混 · 区位=A" in text and "第2个时间窗 · 超过第…日" in text and 'type="date"' in text
    names = re.findall(
        r'<label for="f-(\d+)">([^<]*)</label>\s*<input id="f-\d+" name="(v\.\d+)" value="([^"]*)"', text
    )
    assert len(names) == 47  # every value of the demo policy
    rate = next(n for n in names if n[3] == "15")
    idx, field = rate[0], rate[2]
    # inline check: the message is swapped in next to the field (htmx out-of-band), in Chinese
    r = client.post(
        f"/projects/{pid}/policy/drafts/1/check",
        data={"csrf_token": csrf, field: "十五"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    assert f'id="msg-{idx}" role="alert" hx-swap-oob="true">“十五”不是数字</span>' in r.text
    r = client.post(
        f"/projects/{pid}/policy/drafts/1/check",
        data={"csrf_token": csrf, field: "18"},
        headers={"HX-Request": "true"},
    )
    assert "检查通过：已修改 1 处" in r.text
    # a refused save keeps the typed value and shows the message on the field; nothing is saved
    r = client.post(f"/projects/{pid}/policy/drafts/1/form", data={"csrf_token": csrf, field: "abc"})
    assert r.status_code == 422 and "“abc”不是数字" in r.text and 'value="abc"' in r.text
    assert client.get(f"/projects/{pid}/policy/drafts/2").status_code == 404
    r = client.post(
        f"/projects/{pid}/policy/drafts/1/form",
        data={"csrf_token": csrf, field: "18", "note": ""},
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, f"/projects/{pid}/policy/drafts/2/diff")
    diff = client.get(f"/projects/{pid}/policy/drafts/2/diff")
    assert "已发布第 1 版" in diff.text and "草稿第 2 稿" in diff.text
    rows = re.findall(r"<tr><td data-label=\"类别\">(.*?)</td><td data-label=\"名称\">(.*?)</td>", diff.text)
    assert rows == [("参数", "relocation_rate")]
    # the YAML editor is still accepted, and reports problems with line and column
    r = client.post(
        f"/projects/{pid}/policy/drafts/2/yaml", data={"csrf_token": csrf, "source": SOURCE + "\nbogus: 1\n"}
    )
    assert r.status_code == 422 and "行第" in r.text and "不认识的字段“bogus”" in r.text
    r = client.post(
        f"/projects/{pid}/policy/drafts/2/publish", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    versions = client.get(f"/api/v1/projects/{pid}/policies").json()
    assert [v["version"] for v in versions] == [2, 1]


def test_draft_pages_need_the_publish_permission(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    _publish(client, world)
    login(client, "commander")
    assert client.get(f"/projects/{world.project_id}/policy/drafts").status_code == 403


def test_scenario_api_lifecycle(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    token = _publish(client, world)
    pid = world.project_id
    h = {"X-CSRF-Token": token}
    base = f"/api/v1/projects/{pid}/scenarios"
    r = client.post(
        base, json={"name": "搬迁费18", "option": "cash", "overrides": {"relocation_rate": "18"}}, headers=h
    )
    assert r.status_code == 201, r.text
    a = r.json()
    assert (a["name"], a["version"], a["overrides"], a["archived"]) == (
        "搬迁费18",
        1,
        {"relocation_rate": "18"},
        False,
    )
    r = client.post(base, json={"name": "搬迁费18", "option": "cash", "overrides": {}}, headers=h)
    assert (r.status_code, r.json()["code"]) == (409, "duplicate_name")
    b = client.post(base, json={"name": "原方案", "option": "cash", "overrides": {}}, headers=h).json()
    assert [s["id"] for s in client.get(base).json()] == [b["id"], a["id"]]
    run = client.get(f"{base}/{a['id']}/run").json()
    assert run["delta_fen"] == 6 * 8_850 * 3 and run["households_affected"] == 6
    assert {p["key"]: p["delta_fen"] for p in run["by_item"]}["relocation_cash"] == 6 * 8_850 * 3
    cmp = client.get(f"{base}/compare", params=[("ids", a["id"]), ("ids", b["id"])])
    assert cmp.status_code == 200
    assert [(c["name"], c["delta_fen"]) for c in cmp.json()] == [("搬迁费18", 159_300), ("原方案", 0)]
    assert client.get(f"{base}/compare", params=[("ids", a["id"])]).status_code == 422
    x = client.get(f"{base}/compare.xlsx", params=[("ids", a["id"]), ("ids", b["id"])])
    assert x.status_code == 200 and x.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert CalamineWorkbook.from_filelike(io.BytesIO(x.content)).sheet_names == [
        "汇总",
        "按项目",
        "按区块",
        "参数",
    ]
    r = client.patch(f"{base}/{a['id']}", json={"version": 1, "note": "领导要求测算"}, headers=h)
    assert (r.status_code, r.json()["version"], r.json()["note"]) == (200, 2, "领导要求测算")
    r = client.delete(f"{base}/{a['id']}", params={"version": 1}, headers=h)
    assert r.status_code == 409
    r = client.delete(f"{base}/{a['id']}", params={"version": 2}, headers=h)
    assert (r.status_code, r.json()["archived"]) == (200, True)
    assert [s["id"] for s in client.get(base).json()] == [b["id"]]
    assert [s["id"] for s in client.get(base, params={"archived": "true"}).json()] == [a["id"]]
    # the auditor reads but never writes
    login(client, "auditor")
    assert client.get(f"{base}/{b['id']}/run").status_code == 200
    auditor_token = login(client, "auditor")
    r = client.post(
        base,
        json={"name": "审计", "option": "cash", "overrides": {}},
        headers={"X-CSRF-Token": auditor_token},
    )
    assert r.status_code == 403


def test_scenario_pages_save_compare_archive(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    _publish(client, world)
    pid = world.project_id
    page = client.get(f"/projects/{pid}/whatif")
    assert "保存为测算" in page.text
    csrf = page_csrf(page.text)
    r = client.post(
        f"/projects/{pid}/scenarios",
        data={"csrf_token": csrf, "name": "甲", "option": "cash", "k.relocation_rate": "18"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 204
    sid = int(r.headers["HX-Redirect"].rsplit("/", 1)[1])
    r = client.post(
        f"/projects/{pid}/scenarios",
        data={"csrf_token": csrf, "name": "甲", "option": "cash"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200 and "已有名为“甲”的测算" in r.text
    r = client.post(
        f"/projects/{pid}/scenarios",
        data={"csrf_token": csrf, "name": "乙", "option": "swap", "k.relocation_rate": "20"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    sid2 = int(r.headers["location"].rsplit("/", 1)[1])
    one = client.get(f"/projects/{pid}/scenarios/{sid}")
    assert "1,593.00" in one.text  # 6 × 88.50 ㎡ × 3 元, in 元
    assert one.text.index('id="scenario-totals"') < one.text.index('id="scenario-inputs"')
    assert "在测算页中打开并调整" in one.text and "k.relocation_rate=18" in one.text
    listing = client.get(f"/projects/{pid}/scenarios")
    assert "甲" in listing.text and "乙" in listing.text
    cmp = client.get(f"/projects/{pid}/scenarios/compare", params=[("ids", sid), ("ids", sid2)])
    assert cmp.status_code == 200 and "测算比较" in cmp.text and "导出 Excel" in cmp.text
    assert "159,300.00" not in cmp.text and "1,593.00" in cmp.text  # 元, not fen
    one_only = client.get(f"/projects/{pid}/scenarios/compare", params=[("ids", sid)])
    assert one_only.status_code == 422 and "请选择 2–4 个测算" in one_only.text
    x = client.get(f"/projects/{pid}/scenarios/compare.xlsx", params=[("ids", sid), ("ids", sid2)])
    assert x.status_code == 200
    r = client.post(
        f"/projects/{pid}/scenarios/{sid}/archive",
        data={"csrf_token": csrf, "version": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    listing = client.get(f"/projects/{pid}/scenarios").text
    assert f'/scenarios/{sid}"' not in listing and f'/scenarios/{sid2}"' in listing
    assert f'/scenarios/{sid}"' in client.get(f"/projects/{pid}/scenarios", params={"archived": "true"}).text
