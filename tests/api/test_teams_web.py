"""Teams and 包户到人 over HTTP (JSON API, the teams page and its forms) and from the command line,
with the data scope the assignments drive: a team member sees only the households assigned to them,
including households this feature assigned."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import xlsxwriter
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from anju.campaign import service as campaign_service
from anju.cli import app as cli_app
from anju.db.session import unit_of_work
from anju.identity import service as identity_service
from tests.api.conftest import page_csrf
from tests.factories import ACTOR, PASSWORD, World

As = Callable[[str], tuple[TestClient, str, World]]
HEADS = ["张建国", "李秀英", "王志强", "刘桂兰", "陈国华", "杨丽娟"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx(rows: list[list[Any]]) -> bytes:
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True})
    ws = wb.add_worksheet()
    for i, row in enumerate(rows):
        ws.write_row(i, 0, row)
    wb.close()
    return out.getvalue()


def _assignments() -> list[tuple[int, int | None, int | None, bool]]:
    with unit_of_work() as db:
        return [
            (int(h), t, u, bool(a))
            for h, t, u, a in db.execute(
                text("SELECT household_id, team_id, user_id, active FROM household_assignment ORDER BY id")
            )
        ]


def _second_team_with_member(w: World) -> tuple[int, int]:
    """A second team of the project with a new team member ``zuyuan2``."""
    with unit_of_work() as db:
        team = campaign_service.create_team(db, actor=ACTOR, project_id=w.project_id, name="第二专班")
        user = identity_service.create_user(
            db,
            actor=ACTOR,
            username="zuyuan2",
            display_name="组员二",
            password=PASSWORD,
            role="team_member",
            team_id=team.id,
        )
        return team.id, user.id


def test_a_team_member_sees_only_households_this_feature_assigned_to_them(client_as: As) -> None:
    client, csrf, w = client_as("commander")
    team_id, member_id = _second_team_with_member(w)
    hids = w.household_ids
    r = client.post(
        f"/api/v1/projects/{w.project_id}/assignments",
        json={
            "household_ids": [hids[4], hids[1]],
            "team_id": team_id,
            "user_id": member_id,
            "reason": "力量调整",
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"households": 2, "changed": 2}
    # the new member: exactly those two, in lists, search, files and histories
    client, csrf, _ = client_as("zuyuan2")
    r = client.get(f"/api/v1/projects/{w.project_id}/households?size=100")
    assert sorted(i["id"] for i in r.json()["items"]) == sorted([hids[1], hids[4]]) and r.json()["total"] == 2
    page = client.get(f"/projects/{w.project_id}/households")
    assert page.status_code == 200 and "李秀英" in page.text and "陈国华" in page.text
    assert not any(name in page.text for name in ("张建国", "王志强", "刘桂兰", "杨丽娟"))
    assert client.get(f"/api/v1/households/{hids[0]}").status_code == 404
    assert client.get(f"/api/v1/households/{hids[0]}/assignments").status_code == 404
    history = client.get(f"/api/v1/households/{hids[1]}/assignments")
    assert history.status_code == 200
    assert [(s["team_name"], s["user_name"], s["from_team_name"], s["reason"]) for s in history.json()] == [
        ("第二专班", "组员二", "第一专班", "力量调整"),
        ("第一专班", "测试team_member", "", ""),
    ]
    # the old member lost H0002 and kept H0001
    client, csrf, _ = client_as("team_member")
    r = client.get(f"/api/v1/projects/{w.project_id}/households?size=100")
    assert [i["id"] for i in r.json()["items"]] == [hids[0]]
    assert client.get(f"/api/v1/households/{hids[1]}").status_code == 404
    # the team member cannot reach the teams routes at all
    before = _assignments()
    r = client.post(
        f"/api/v1/projects/{w.project_id}/assignments",
        json={"household_ids": [hids[2]], "team_id": w.team_id, "user_id": w.users["team_member"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    assert client.get(f"/projects/{w.project_id}/teams").status_code == 403
    assert _assignments() == before


def test_team_api_create_edit_members_and_the_tree(client_as: As) -> None:
    client, csrf, w = client_as("case_officer")
    h = {"X-CSRF-Token": csrf}
    r = client.post(
        f"/api/v1/projects/{w.project_id}/teams", json={"name": "东片大组", "kind": "group"}, headers=h
    )
    assert r.status_code == 201, r.text
    group = r.json()["id"]
    r = client.post(
        f"/api/v1/projects/{w.project_id}/teams",
        json={"name": "东片一组", "parent_id": group, "leader_id": w.users["team_leader"]},
        headers=h,
    )
    assert r.status_code == 201, r.text
    squad = r.json()["id"]
    r = client.post(f"/api/v1/projects/{w.project_id}/teams", json={"name": "东片一组"}, headers=h)
    assert r.status_code == 409 and r.json()["message"] == "本项目已有名为“东片一组”的专班"
    r = client.post(f"/api/v1/projects/{w.project_id}/teams", json={"name": "x", "kind": "army"}, headers=h)
    assert r.status_code == 422
    r = client.patch(f"/api/v1/teams/{squad}", json={"sort": 2, "version": 1}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["changes"] == {"sort": [0, 2]} and r.json()["version"] == 2
    r = client.patch(f"/api/v1/teams/{squad}", json={"sort": 3, "version": 1}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "stale_version"
    r = client.put(
        f"/api/v1/teams/{squad}/members",
        json={"user_ids": [w.users["team_leader"], w.users["team_member"]], "version": 2},
        headers=h,
    )
    assert r.status_code == 200, r.text
    # the member's two households (H0001, H0002) follow them into the squad
    assert r.json() == {
        "added": [w.users["team_member"]],
        "removed": [],
        "households": sorted(w.household_ids[:2]),
        "version": 3,
    }
    r = client.post(
        f"/api/v1/projects/{w.project_id}/assignments",
        json={"block_id": w.block_ids["W"], "team_id": squad, "reason": "西片划归东片一组"},
        headers=h,
    )
    assert r.json() == {"households": 3, "changed": 3}
    tree = client.get(f"/api/v1/projects/{w.project_id}/teams").json()
    assert (tree["households"], tree["unassigned"]) == (6, 1)  # H0005 was never assigned
    assert [(t["name"], t["households"], t["households_total"]) for t in tree["teams"]] == [
        ("第一专班", 1, 1),
        ("东片大组", 0, 4),
    ]
    child = tree["teams"][1]["children"][0]
    assert (child["name"], child["kind_label"], child["leader_name"], child["households"]) == (
        "东片一组",
        "小组",
        "测试team_leader",
        4,
    )
    assert [(m["username"], m["households"]) for m in child["members"]] == [
        ("team_leader", 0),
        ("team_member", 1),
    ]


def test_api_import_checks_then_imports_all_or_nothing(client_as: As) -> None:
    client, csrf, w = client_as("commander")
    team_id, _member = _second_team_with_member(w)
    url = f"/api/v1/projects/{w.project_id}/assignments/import"
    h = {"X-CSRF-Token": csrf}
    bad = _xlsx([["户编号", "专班", "责任人"], ["H0005", "第二专班", "zuyuan2"], ["H0404", "第二专班", ""]])
    r = client.post(url, files={"file": ("名单.xlsx", bad, XLSX)}, headers=h)
    assert r.status_code == 200 and r.json()["ok"] is False
    assert r.json()["problems"] == [
        {
            "row": 3,
            "column": "户编号",
            "message": "本项目没有户编号为“H0404”的户（或已作废、不在您的权限范围内）",
        }
    ]
    before = _assignments()
    r = client.post(url + "?dry_run=false", files={"file": ("名单.xlsx", bad, XLSX)}, headers=h)
    assert r.status_code == 422 and r.json()["details"][0]["row"] == 3
    assert _assignments() == before
    r = client.post(url, files={"file": ("名单.pdf", b"%PDF-1.4", "application/pdf")}, headers=h)
    assert r.status_code == 422 and "不是Excel 工作簿" in r.json()["message"]
    good = _xlsx([["户编号", "专班", "责任人"], ["H0005", "第二专班", "组员二"], ["H0006", "第二专班", ""]])
    r = client.post(
        url + "?dry_run=false", files={"file": ("名单.xlsx", good, XLSX)}, data={"reason": "名单"}, headers=h
    )
    assert r.status_code == 200, r.text
    assert (r.json()["changed"], r.json()["ok"]) == (2, True)
    assert _assignments()[-2:] == [
        (w.household_ids[4], team_id, identity_service_user("zuyuan2"), True),
        (w.household_ids[5], team_id, None, True),
    ]


def identity_service_user(username: str) -> int:
    with unit_of_work() as db:
        return int(identity_service.get_user_by_username(db, username).id)


def test_teams_page_forms_and_the_xlsx_preview(client_as: As) -> None:
    client, _csrf, w = client_as("commander")
    page = client.get(f"/projects/{w.project_id}/teams")
    assert page.status_code == 200
    assert "专班与包户" in page.text and "第一专班" in page.text and "未分配" in page.text
    csrf = page_csrf(page.text)
    r = client.post(
        f"/projects/{w.project_id}/teams",
        data={
            "csrf_token": csrf,
            "name": "西片大组",
            "kind": "group",
            "parent_id": "",
            "leader_id": "",
            "sort": "1",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("/teams?ok=team_created")
    r = client.post(
        f"/projects/{w.project_id}/teams",
        data={"csrf_token": csrf, "name": "", "kind": "group"},
        follow_redirects=False,
    )
    assert r.status_code == 422 and "专班名称必填" in r.text
    # selection: the unassigned list, then tick two
    page = client.get(f"/projects/{w.project_id}/teams?team=none")
    assert (
        "陈国华" in page.text and "杨丽娟" in page.text and "张建国" not in page.text.split('id="select"')[1]
    )
    r = client.post(
        f"/projects/{w.project_id}/assignments",
        data={
            "csrf_token": csrf,
            "mode": "selection",
            "household_ids": [str(w.household_ids[4]), str(w.household_ids[5])],
            "team_id": str(w.team_id),
            "user_id": "",
            "reason": "",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?ok=assigned&n=2")
    assert "已分配 2 户" in client.get(r.headers["location"]).text
    r = client.post(
        f"/projects/{w.project_id}/assignments",
        data={"csrf_token": csrf, "mode": "selection", "team_id": str(w.team_id)},
        follow_redirects=False,
    )
    assert r.status_code == 422 and "请至少勾选一户" in r.text
    # the xlsx list: errors listed by row and column, nothing written; then a preview and confirm
    before = _assignments()
    bad = _xlsx([["户编号", "专班"], ["H0001", "第九专班"]])
    r = client.post(
        f"/projects/{w.project_id}/assignments/import",
        data={"csrf_token": csrf, "reason": ""},
        files={"file": ("名单.xlsx", bad, XLSX)},
    )
    assert r.status_code == 200 and "发现 1 处错误" in r.text and "本项目没有名为“第九专班”的专班" in r.text
    assert "确认导入" not in r.text
    good = _xlsx([["户编号", "专班", "责任人"], ["H0003", "第一专班", "team_member"]])
    r = client.post(
        f"/projects/{w.project_id}/assignments/import",
        data={"csrf_token": csrf, "reason": "补包到人"},
        files={"file": ("名单.xlsx", good, XLSX)},
    )
    assert r.status_code == 200 and "校验通过：1 户" in r.text and "确认导入" in r.text
    assert _assignments() == before
    rows = json.dumps([[2, "H0003", "第一专班", "team_member"]], ensure_ascii=False)
    r = client.post(
        f"/projects/{w.project_id}/assignments/import/confirm",
        data={"csrf_token": csrf, "rows": rows, "reason": "补包到人"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?ok=imported&n=1")
    assert _assignments()[-1] == (w.household_ids[2], w.team_id, w.users["team_member"], True)
    r = client.post(
        f"/projects/{w.project_id}/assignments/import/confirm",
        data={"csrf_token": csrf, "rows": "[[1, 2]]"},
        follow_redirects=False,
    )
    assert r.status_code == 422 and "确认的名单数据无效" in r.text
    template = client.get(f"/projects/{w.project_id}/assignments/template.xlsx")
    assert template.status_code == 200 and template.content[:2] == b"PK"


def test_members_form_says_how_many_households_move_then_moves_them(client_as: As) -> None:
    client, _csrf, w = client_as("commander")
    second, _other = _second_team_with_member(w)
    page = client.get(f"/projects/{w.project_id}/teams")
    csrf = page_csrf(page.text)
    form = page.text.split(f'action="/teams/{second}/members"')[1].split("</form>")[0]
    member = w.users["team_member"]
    assert "调入人员名下的包户随人转入本组；移出人员名下的包户留在本组，待重新落实到人" in form
    assert (
        f'value="{member}" data-households="2" data-member="0" >测试team_member'
        '<span class="muted">（第一专班 · 包户 2 户）</span>'
    ) in form
    before = _assignments()
    r = client.post(
        f"/teams/{second}/members",
        data={"csrf_token": csrf, "user_ids": [str(_other), str(member)], "version": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?ok=members_moved&n=2")
    assert "成员已保存，2 户包户随人员调整改派" in client.get(r.headers["location"]).text
    after = _assignments()
    assert after[: len(before)] != before  # the two old rows were ended
    assert after[len(before) :] == [(h, second, member, True) for h in sorted(w.household_ids[:2])]
    # a stale form is refused and moves nobody
    r = client.post(
        f"/teams/{second}/members",
        data={"csrf_token": csrf, "user_ids": [str(_other)], "version": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 409 and _assignments() == after


def test_dissolve_a_team_through_the_api_and_the_page(client_as: As) -> None:
    client, csrf, w = client_as("commander")
    h = {"X-CSRF-Token": csrf}
    r = client.post(f"/api/v1/teams/{w.team_id}/dissolve", json={}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "team_in_use"
    assert r.json()["message"] == (
        "专班“第一专班”不能解散：在包 4 户（请先改派给其他专班）、包户记录 4 条；有包户或走访记录的专班为保留历史不能解散"
    )
    r = client.post(f"/api/v1/projects/{w.project_id}/teams", json={"name": "临时专班"}, headers=h)
    spare = r.json()["id"]
    r = client.post(f"/api/v1/teams/{spare}/dissolve", json={"version": 2}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "stale_version"
    r = client.post(f"/api/v1/teams/{spare}/dissolve", json={"version": 1, "reason": "建错了"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {"id": spare, "name": "临时专班", "members": []}
    assert client.post(f"/api/v1/teams/{spare}/dissolve", json={}, headers=h).status_code == 404

    # the page: a button that asks first, then the team is gone (or the page says why not)
    r = client.post(f"/api/v1/projects/{w.project_id}/teams", json={"name": "临时专班二"}, headers=h)
    spare = r.json()["id"]
    page = client.get(f"/projects/{w.project_id}/teams")
    form = page.text.split(f'action="/teams/{spare}/dissolve"')[1].split("</form>")[0]
    assert 'data-confirm="解散后专班“临时专班二”将被删除，0 名成员不再属于任何专班。确认解散？"' in form
    token = page_csrf(page.text)
    r = client.post(f"/teams/{w.team_id}/dissolve", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 409 and "专班“第一专班”不能解散：在包 4 户" in r.text
    r = client.post(
        f"/teams/{spare}/dissolve", data={"csrf_token": token, "version": "1"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"].endswith("/teams?ok=team_dissolved")
    page = client.get(r.headers["location"])
    assert "专班已解散" in page.text and "临时专班二" not in page.text


def test_cli_team_add_and_assign(world_app: tuple[TestClient, World], tmp_path: Path) -> None:
    _client, w = world_app
    runner = CliRunner()
    r = runner.invoke(cli_app, ["campaign", "team-add", "P1", "--name", "北片大组", "--kind", "大组"])
    assert r.exit_code == 0, r.output
    assert "已新建大组“北片大组”" in r.output
    r = runner.invoke(
        cli_app,
        [
            "campaign",
            "team-add",
            "P1",
            "--name",
            "北片一组",
            "--parent",
            "北片大组",
            "--leader",
            "team_leader",
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli_app, ["campaign", "team-add", "P1", "--name", "北片二组", "--parent", "第一专班"])
    assert r.exit_code == 2 and "上级专班“第一专班”不是大组" in r.output
    r = runner.invoke(
        cli_app,
        ["campaign", "assign", "P1", "--households", "H0005,H0006", "--team", "北片一组", "--reason", "新组"],
    )
    assert r.exit_code == 0, r.output
    assert "共 2 户，2 户的包户有变化" in r.output
    r = runner.invoke(cli_app, ["campaign", "assign", "P1", "--block", "E", "--user", "team_member"])
    assert r.exit_code == 0, r.output  # H0001, H0003, H0005 to the member (and their 第一专班)
    assert "共 3 户，2 户的包户有变化" in r.output
    sheet = tmp_path / "名单.xlsx"
    sheet.write_bytes(_xlsx([["户编号", "专班", "责任人"], ["H0002", "北片一组", "无此人"]]))
    before = _assignments()
    r = runner.invoke(cli_app, ["campaign", "assign", "P1", "--xlsx", str(sheet)])
    assert (
        r.exit_code == 2 and "第 2 行“责任人”：找不到用户名或姓名为“无此人”的专班组长或专班成员" in r.output
    )
    assert _assignments() == before
    r = runner.invoke(cli_app, ["campaign", "assign", "P1", "--households", "H0404", "--team", "北片一组"])
    assert r.exit_code == 2 and "找不到这些户编号：H0404" in r.output
    r = runner.invoke(cli_app, ["campaign", "teams", "P1"])
    assert r.exit_code == 0 and "北片一组" in r.output and "未分配 0 户" in r.output
    with unit_of_work() as db:
        amap = campaign_service.assignment_map(db, project_id=w.project_id)
        n_audit = db.scalar(text("SELECT COUNT(*) FROM audit_record WHERE entity = 'household_assignment'"))
    assert amap[w.household_ids[4]] == (w.team_id, w.users["team_member"])
    assert amap[w.household_ids[5]][1] is None
    # the world's four, two by --households, two by --block (H0001 was already the member's)
    assert n_audit == 4 + 2 + 2
