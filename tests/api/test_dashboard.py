"""The campaign dashboard page /projects/{id}/campaign: numbers without JavaScript, the chart data,
the 截至日期, scopes and refusals."""

from __future__ import annotations

import html as html_lib
import json
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from anju.core.dates import today_shanghai
from anju.db.session import unit_of_work
from anju.household import service as household_service
from anju.identity.service import DataScope
from anju.project.models import Project
from tests.factories import ACTOR, World

HEADS = ["张建国", "李秀英", "王志强", "刘桂兰", "陈国华", "杨丽娟"]


def signed_world(world: World, today: date) -> None:
    """Launch 10 days ago, deadline in 20 days; household 1 signed 6 days ago, 3 and 4 two days ago."""
    with unit_of_work() as db:
        project = db.get(Project, world.project_id)
        assert project is not None
        project.launched_on = today - timedelta(days=10)
        project.deadline_on = today + timedelta(days=20)
        for i, days_ago in ((0, 6), (2, 2), (3, 2)):
            household_service.set_stage(
                db,
                actor=ACTOR,
                scope=DataScope.everything(),
                household_id=world.household_ids[i],
                stage="signed",
                on=today - timedelta(days=days_ago),
            )


@pytest.fixture
def dash(
    client_as: Callable[[str], tuple[TestClient, str, World]],
) -> Callable[[str], tuple[TestClient, World]]:
    _c, _t, world = client_as("commander")
    signed_world(world, today_shanghai())

    def _as(role: str) -> tuple[TestClient, World]:
        client, _csrf, w = client_as(role)
        return client, w

    return _as


def chart_of(page: str) -> dict[str, Any]:
    m = re.search(r"data-chart='([^']*)'", page)
    assert m, "no chart data in the page"
    data: dict[str, Any] = json.loads(html_lib.unescape(m.group(1)))
    return data


def headline(page: str) -> str:
    m = re.search(r'<table class="data dash-headline" id="dash-headline">(.*?)</table>', page, re.S)
    assert m
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m.group(1)))


def test_the_commander_sees_the_numbers_without_javascript(
    dash: Callable[[str], tuple[TestClient, World]],
) -> None:
    client, world = dash("commander")
    r = client.get(f"/projects/{world.project_id}/campaign")
    assert r.status_code == 200, r.text
    today = today_shanghai()
    assert f"截至 {today.isoformat()}" in r.text and "攻坚第 <strong>11</strong> 天" in r.text
    text = headline(r.text)
    assert "被征收户 6" in text
    assert "已签约 3 50.0%" in text
    assert "近 7 日签约 3" in text
    assert f"签约目标 6 （{(today + timedelta(days=20)).isoformat()} 前）" in text
    assert "尚需签约 3 剩 20 天" in text
    assert 'src="/static/app/dashboard.js"' in r.text and 'src="/static/vendor/echarts.min.js"' in r.text
    assert "<script>" not in r.text and "<style" not in r.text and " onclick=" not in r.text
    # the block table and the ranking are in the page too
    assert re.search(
        r'data-label="区块"[^>]*>东片区</td>\s*<td class="num" data-label="户数">3</td>\s*'
        r'<td class="num" data-label="已签约">2</td>\s*<td class="num" data-label="签约率">66.7%</td>',
        r.text,
    )
    assert "第一专班" in r.text


def test_the_chart_data(dash: Callable[[str], tuple[TestClient, World]]) -> None:
    client, world = dash("commander")
    today = today_shanghai()
    data = chart_of(client.get(f"/projects/{world.project_id}/campaign").text)
    assert (data["on"], data["target"], data["households"]) == (today.isoformat(), 6, 6)
    assert data["deadline"] == (today + timedelta(days=20)).isoformat()
    signed = data["burnup"]["signed"]
    assert signed[0] == [(today - timedelta(days=10)).isoformat(), 0]
    assert signed[-1] == [today.isoformat(), 3]
    assert [v for d, v in signed if d == (today - timedelta(days=6)).isoformat()] == [1]
    plan = data["burnup"]["plan"]
    assert plan[-1] == [(today + timedelta(days=20)).isoformat(), 6]  # the straight line ends on the target
    assert plan[0][0] == (today - timedelta(days=10)).isoformat()
    assert data["blocks"]["names"] == ["东片区", "西片区"]
    assert data["blocks"]["signed"] == [66.7, 33.3]
    assert data["blocks"]["counts"] == [[2, 0, 3], [1, 0, 3]]


def test_as_of_an_earlier_date(dash: Callable[[str], tuple[TestClient, World]]) -> None:
    client, world = dash("commander")
    earlier = today_shanghai() - timedelta(days=4)
    r = client.get(f"/projects/{world.project_id}/campaign", params={"on": earlier.isoformat()})
    assert r.status_code == 200
    assert f"截至 {earlier.isoformat()}" in r.text
    assert "已签约 1 16.7%" in headline(r.text)
    assert chart_of(r.text)["burnup"]["signed"][-1] == [earlier.isoformat(), 1]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-13-01", "截至日期应为日期（YYYY-MM-DD）"),
        ("tomorrow", "截至日期应为日期（YYYY-MM-DD）"),
        ("1999-12-31", "截至日期不能早于 2000 年"),
    ],
)
def test_a_bad_date_is_a_chinese_message(
    dash: Callable[[str], tuple[TestClient, World]], value: str, message: str
) -> None:
    client, world = dash("commander")
    r = client.get(f"/projects/{world.project_id}/campaign", params={"on": value})
    assert r.status_code == 422
    assert message in r.text


def test_a_future_date_is_refused(dash: Callable[[str], tuple[TestClient, World]]) -> None:
    client, world = dash("commander")
    future = today_shanghai() + timedelta(days=1)
    r = client.get(f"/projects/{world.project_id}/campaign", params={"on": future.isoformat()})
    assert r.status_code == 422
    assert f"截至日期不能晚于今天（{today_shanghai().isoformat()}）" in r.text


def test_a_team_member_sees_only_their_households(dash: Callable[[str], tuple[TestClient, World]]) -> None:
    client, world = dash("team_member")
    r = client.get(f"/projects/{world.project_id}/campaign")
    assert r.status_code == 200
    assert "仅含您负责的户" in r.text
    assert "被征收户 2" in headline(r.text) and "已签约 1 50.0%" in headline(r.text)
    for name in HEADS[2:]:
        assert name not in r.text
    assert chart_of(r.text)["households"] == 2


def test_refused_without_campaign_read_and_404_for_an_unknown_project(
    dash: Callable[[str], tuple[TestClient, World]],
) -> None:
    client, world = dash("department")
    assert client.get(f"/projects/{world.project_id}/campaign").status_code == 403
    client, _world = dash("commander")
    r = client.get("/projects/999999/campaign")
    assert r.status_code == 404 and "不存在" in r.text
