"""The project overview counts stages cumulatively (issue #13 item 8): 已调查 includes every household
surveyed so far, whatever stage it has reached since; the page says so; the project API and the
campaign progress (the dashboard and the big screen) give the same cumulative numbers."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from anju.core.dates import today_shanghai
from anju.db.session import unit_of_work
from anju.household import rules as household_rules
from anju.household import service as household_service
from anju.identity.service import DataScope
from tests.factories import ACTOR, World

# Household i (blocks alternate 东片区 / 西片区; registered as 已调查) is moved to the stage at position i.
TARGETS = ["surveyed", "surveyed", "valued", "signed", "vacated", "demolished"]
PATH = ["surveyed", "valued", "negotiating", "signed", "vacated", "demolished"]

# Cumulative: a household counts for its stage and every stage before it.
PROJECT = {
    "surveyed": 6,
    "valued": 4,
    "negotiating": 3,
    "signed": 3,
    "vacated": 2,
    "demolished": 1,
    "archived": 0,
}
EAST = {
    "surveyed": 3,
    "valued": 2,
    "negotiating": 1,
    "signed": 1,
    "vacated": 1,
    "demolished": 0,
    "archived": 0,
}
WEST = {
    "surveyed": 3,
    "valued": 2,
    "negotiating": 2,
    "signed": 2,
    "vacated": 1,
    "demolished": 1,
    "archived": 0,
}


def _staged(world: World) -> None:
    day = today_shanghai() - timedelta(days=3)
    with unit_of_work() as db:
        for hid, target in zip(world.household_ids, TARGETS, strict=True):
            for stage in PATH[1 : PATH.index(target) + 1]:
                household_service.set_stage(
                    db, actor=ACTOR, scope=DataScope.everything(), household_id=hid, stage=stage, on=day
                )


@pytest.fixture
def staged(client_as: Callable[[str], tuple[TestClient, str, World]]) -> tuple[TestClient, World]:
    client, _csrf, world = client_as("commander")
    _staged(world)
    return client, world


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)).strip()


def test_reached_counts_adds_every_later_stage() -> None:
    counts = household_rules.reached_counts(
        {"pending": 1, "surveyed": 2, "signed": 3, "archived": 1, "odd": 9}
    )
    assert counts == {
        "pending": 7,
        "surveyed": 6,
        "valued": 4,
        "negotiating": 4,
        "signed": 4,
        "vacated": 1,
        "demolished": 1,
        "archived": 1,
    }
    assert household_rules.reached_counts({}) == dict.fromkeys(household_rules.STAGE_ORDER, 0)


def test_the_overview_cards_and_table_count_cumulatively_and_say_so(staged: tuple[TestClient, World]) -> None:
    client, world = staged
    page = client.get(f"/projects/{world.project_id}")
    assert page.status_code == 200, page.text
    assert (
        page.text.lstrip().lower().startswith("<!doctype html>")
    )  # the page is the layout, nothing before it
    assert page.text.count('<div class="stat"') == 4 and "各区块进度" not in page.text
    cards = re.search(r'<div class="grid grid-4"[^>]*id="stage-cards">(.*?)</div>\s*<p', page.text, re.S)
    assert cards
    assert _text(cards.group(1)) == "6 被征收户 6 已调查（累计） 4 已评估（累计） 3 已签约（累计）"
    note = re.search(r'<p class="muted" id="cumulative-note"[^>]*>(.*?)</p>', page.text, re.S)
    assert note and note.group(1).startswith("累计：含已进入后续环节的户。")
    rows = dict(re.findall(r'<tr data-block="(\d+)">(.*?)</tr>', page.text, re.S))
    for code, expected in (("E", EAST), ("W", WEST)):
        row = rows[str(world.block_ids[code])]
        cells = dict(re.findall(r'data-stage="(\w+)">(\d+)</td>', row))
        assert cells == {"pending": "0"} | {
            k: str(v) for k, v in expected.items() if k not in ("pending", "archived")
        } | {"archived": "0"}
    # The chart still shows where each household is now, each counted once (6 in all).
    chart = re.search(r"data-chart='([^']*)'", page.text)
    assert chart and "各区块当前环节" in page.text


def test_the_project_api_gives_both_counts(staged: tuple[TestClient, World]) -> None:
    client, world = staged
    detail = client.get(f"/api/v1/projects/{world.project_id}").json()
    assert detail["households_by_status"] == {
        "surveyed": 2,
        "valued": 1,
        "signed": 1,
        "vacated": 1,
        "demolished": 1,
    }
    assert detail["households_reached"] == {"pending": 6} | PROJECT
    listed = client.get("/api/v1/projects").json()
    assert [p["households_reached"] for p in listed] == [{"pending": 6} | PROJECT]


def test_the_dashboard_numbers_with_the_same_names_agree(staged: tuple[TestClient, World]) -> None:
    client, world = staged
    progress = client.get(f"/api/v1/projects/{world.project_id}/progress").json()
    stages = ("surveyed", "valued", "negotiating", "signed", "vacated", "demolished")
    assert {k: progress["totals"][k] for k in stages} == {k: PROJECT[k] for k in stages}
    by_block = {b["id"]: b for b in progress["blocks"]}
    for code, expected in (("E", EAST), ("W", WEST)):
        got = by_block[world.block_ids[code]]
        assert {k: got[k] for k in stages} == {k: expected[k] for k in stages}
