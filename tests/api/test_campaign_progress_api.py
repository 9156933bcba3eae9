"""The progress, daily series, rankings and forecast routes: numbers, scope, dates and refusals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import update

from anju.campaign import service as campaign_service
from anju.db.session import unit_of_work
from anju.identity.service import DataScope
from anju.project.models import Project
from tests.factories import ACTOR, World

ClientAs = Callable[[str], tuple[TestClient, str, World]]
TODAY = date(2026, 12, 4)


def history(world: World) -> None:
    """Households 1 and 3 signed (12-01, 12-03), household 2 negotiating; launched 11-20."""
    with unit_of_work() as db:
        db.execute(
            update(Project)
            .where(Project.id == world.project_id)
            .values(launched_on=date(2026, 11, 20), deadline_on=date(2026, 12, 10))
        )
        for i, to, on in (
            (0, "signed", date(2026, 12, 1)),
            (2, "signed", date(2026, 12, 3)),
            (1, "negotiating", date(2026, 11, 30)),
        ):
            campaign_service.move_stage(
                db,
                actor=ACTOR,
                scope=DataScope.everything(),
                household_id=world.household_ids[i],
                to_stage=to,
                on=on,
                today=TODAY,
                manage=True,
            )


def test_progress_for_a_date(client_as: ClientAs) -> None:
    client, _csrf, world = client_as("commander")
    history(world)
    r = client.get(f"/api/v1/projects/{world.project_id}/progress?on=2026-12-03")
    assert r.status_code == 200, r.text
    body = r.json()
    t = body["totals"]
    assert (t["households"], t["signed"], t["negotiating"], t["signed_on_day"], t["change"]) == (
        6,
        2,
        3,
        1,
        1,
    )
    assert t["rates"]["signed"] == "0.3333" and body["days_since_launch"] == 14 and body["scope"] == "all"
    east = next(b for b in body["blocks"] if b["code"] == "E")
    assert (east["households"], east["signed"], east["rates"]["signed"]) == (3, 2, "0.6667")
    assert body["schedule"]["days_left"] == 7 and body["schedule"]["remaining"] == 4
    assert body["schedule"]["required_per_day"] == "0.57"
    assert [c["tag"] for c in body["concerns"]][:1] and all(c["visits"] == 0 for c in body["concerns"])
    before = client.get(f"/api/v1/projects/{world.project_id}/progress?on=2026-11-30").json()
    assert before["totals"]["signed"] == 0 and before["totals"]["negotiating"] == 1


def test_team_member_counts_only_assigned_households(client_as: ClientAs) -> None:
    client, _csrf, world = client_as("team_member")
    history(world)
    body = client.get(f"/api/v1/projects/{world.project_id}/progress?on=2026-12-04").json()
    assert body["scope"] == "assigned"
    assert (body["totals"]["households"], body["totals"]["signed"]) == (2, 1)
    series = client.get(f"/api/v1/projects/{world.project_id}/progress/daily?until=2026-12-04").json()
    assert series["households"] == 2 and series["series"]["signed"][-1] == 1
    f = client.get(f"/api/v1/projects/{world.project_id}/forecast?on=2026-12-04").json()
    assert f["project"]["households"] == 2


def test_daily_rankings_and_forecast(client_as: ClientAs) -> None:
    client, _csrf, world = client_as("case_officer")
    history(world)
    pid = world.project_id
    series = client.get(f"/api/v1/projects/{pid}/progress/daily?until=2026-12-04").json()
    assert (
        series["start"] == "2026-11-20" and series["days"][-1] == "2026-12-04" and len(series["days"]) == 15
    )
    assert series["series"]["signed"][-4:] == [1, 1, 2, 2] and series["signed_per_day"][-4:] == [1, 0, 1, 0]
    ranks = client.get(f"/api/v1/projects/{pid}/rankings?on=2026-12-04").json()
    assert ranks["groups"] == [] and [
        (t["name"], t["signed"], t["rank_signed"]) for t in ranks["squads"]
    ] == [("第一专班", 2, 1)]
    f = client.get(f"/api/v1/projects/{pid}/forecast?on=2026-12-04")
    assert f.status_code == 200, f.text
    body = f.json()
    assert body["project"]["method"] == "insufficient" and body["project"]["date"] is None
    assert "数据不足" in body["project"]["note"] and [b["name"] for b in body["blocks"]] == [
        "东片区",
        "西片区",
    ]


def test_bad_dates_and_unknown_projects(client_as: ClientAs) -> None:
    client, _csrf, world = client_as("commander")
    pid = world.project_id
    r = client.get(f"/api/v1/projects/{pid}/progress?on=2026-13-01")
    assert r.status_code == 422 and "日期" in r.json()["message"]
    history(world)
    # any real date is answered: nothing had happened by 0001-01-01, everything by 9999-12-31
    early = client.get(f"/api/v1/projects/{pid}/progress?on=0001-01-01").json()
    assert early["totals"]["surveyed"] == 0 and early["days_since_launch"] == 0
    late = client.get(f"/api/v1/projects/{pid}/progress?on=9999-12-31&concerns_from=0001-01-01").json()
    assert (
        late["totals"]["signed"] == 2 and late["schedule"]["days_left"] == 0 and late["schedule"]["overdue"]
    )
    series = client.get(f"/api/v1/projects/{pid}/progress/daily?until=9999-12-31").json()
    assert len(series["days"]) == 1000 and series["days"][-1] == "9999-12-31"
    assert client.get(f"/api/v1/projects/{pid}/progress/daily?until=0001-01-01").json()["days"] == [
        "0001-01-01"
    ]
    for on in ("0001-01-01", "9999-12-31"):
        assert client.get(f"/api/v1/projects/{pid}/forecast?on={on}").status_code == 200
        assert client.get(f"/api/v1/projects/{pid}/rankings?on={on}").status_code == 200
    # a concern window that starts after the date is empty
    r = client.get(f"/api/v1/projects/{pid}/progress?on=2026-12-01&concerns_from=2026-12-02")
    assert r.status_code == 200 and all(c["visits"] == 0 for c in r.json()["concerns"])
    for path in ("progress", "progress/daily", "rankings", "forecast"):
        r = client.get(f"/api/v1/projects/999999/{path}")
        assert r.status_code == 404, path
        assert r.json()["message"] == "项目不存在"


def test_roles_without_campaign_read_are_refused(client_as: ClientAs) -> None:
    client, _csrf, world = client_as("grid_worker")
    for path in ("progress", "progress/daily", "rankings", "forecast"):
        r = client.get(f"/api/v1/projects/{world.project_id}/{path}")
        assert r.status_code == 403 and r.json()["message"] == "您没有执行此操作的权限"


def test_cli_progress_and_forecast(client_as: ClientAs) -> None:
    import json

    from typer.testing import CliRunner

    from anju.cli import app

    _client, _csrf, world = client_as("commander")
    history(world)
    runner = CliRunner(env={"COLUMNS": "200"})
    out = runner.invoke(app, ["campaign", "progress", "P1", "--on", "2026-12-03"])
    assert out.exit_code == 0, out.output
    assert (
        "截至 2026-12-03（攻坚第 14 天）" in out.output
        and "东片区" in out.output
        and "第一专班" in out.output
    )
    assert "倒排计划：目标 6 户，尚余 4 户，距 2026-12-10 还有 7 天，每日需签 0.57 户" in out.output
    data = runner.invoke(app, ["campaign", "progress", "P1", "--on", "2026-12-03", "--json"])
    assert data.exit_code == 0 and json.loads(data.output)["totals"]["signed"] == 2
    f = runner.invoke(app, ["campaign", "forecast", "P1", "--on", "2026-12-04"])
    assert f.exit_code == 0 and "数据不足" in f.output and "全项目" in f.output
    bad = runner.invoke(app, ["campaign", "progress", "P1", "--on", "12/03"])
    assert bad.exit_code == 2 and "统计日期格式应为 YYYY-MM-DD：12/03" in bad.output
    unknown = runner.invoke(app, ["campaign", "forecast", "NOPE"])
    assert unknown.exit_code == 2
