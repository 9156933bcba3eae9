"""``GET /api/v1/projects/{id}/events``: the big screen's event stream (server-sent events)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from anju.campaign.api import live as live_api
from anju.db import events
from anju.db.session import get_engine, unit_of_work
from tests.factories import World

ClientAs = Callable[[str], tuple[TestClient, str, World]]


def _frames(body: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in body.split("\n\n"):
        lines = dict(
            line.split(": ", 1) for line in block.splitlines() if line.startswith(("event:", "data:"))
        )
        if "event" in lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


def _commit_when_subscribed(
    client: TestClient, topic: str, kinds: list[str], *, subscribers: int = 1
) -> threading.Thread:
    """In another thread (as a route's commit is): once the stream listens, commit a write with events."""

    def run() -> None:
        hub = client.app.state.live_hub  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while hub.subscribers(topic) < subscribers and time.monotonic() < deadline:
            time.sleep(0.02)
        for kind in kinds:
            with unit_of_work() as db:
                events.notify(db, topic=topic, kind=kind, data={"household_id": 1})

    t = threading.Thread(target=run)
    t.start()
    return t


def test_the_stream_opens_with_retry_and_ready_and_ends_when_asked(client_as: ClientAs) -> None:
    client, _, world = client_as("commander")
    r = client.get(f"/api/v1/projects/{world.project_id}/events?max_seconds=0")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["cache-control"] == "no-store" and r.headers["x-accel-buffering"] == "no"
    assert r.text.startswith("retry: 2000\nevent: ready\n")
    [(name, data)] = _frames(r.text)
    assert (
        name == "ready" and data["topic"] == f"project:{world.project_id}" and data["transport"] == "memory"
    )


def test_a_committed_write_arrives_as_one_change_without_household_data(client_as: ClientAs) -> None:
    client, _, world = client_as(
        "team_member"
    )  # campaign.read, scope limited: the stream says only "changed"
    topic = events.project_topic(world.project_id)
    writer = _commit_when_subscribed(client, topic, ["stage", "visit", "stage"])
    started = time.monotonic()
    r = client.get(f"/api/v1/projects/{world.project_id}/events?once=true&max_seconds=20")
    writer.join()
    assert time.monotonic() - started < 5
    frames = _frames(r.text)
    assert [f[0] for f in frames] == ["ready", "change"]
    change = frames[1][1]
    assert change["topic"] == topic and change["resync"] is False
    assert set(change["kinds"]) <= {"stage", "visit"} and "stage" in change["kinds"]
    assert "household_id" not in r.text


def test_other_projects_changes_do_not_reach_the_stream_and_heartbeats_keep_it_open(
    client_as: ClientAs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_api, "HEARTBEAT_S", 0.3)
    client, _, world = client_as("commander")
    writer = _commit_when_subscribed(client, events.project_topic(world.project_id + 1000), ["stage"])
    r = client.get(f"/api/v1/projects/{world.project_id}/events?once=1&max_seconds=2")
    writer.join()
    assert [f[0] for f in _frames(r.text)] == ["ready"]
    assert r.text.count(": keep-alive\n\n") >= 3


@pytest.mark.parametrize(
    ("role", "project", "status"),
    [
        (None, "own", 401),
        ("grid_worker", "own", 403),
        ("commander", "missing", 404),
        ("commander", "bad", 422),
    ],
)
def test_refusals(client_as: ClientAs, role: str | None, project: str, status: int) -> None:
    client, _, world = client_as(role or "commander")
    if role is None:
        client.cookies.clear()
    pid = {"own": world.project_id, "missing": 999_999, "bad": 0}[project]
    r = client.get(f"/api/v1/projects/{pid}/events?max_seconds=0")
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/json")


def test_a_too_long_or_negative_duration_is_refused(client_as: ClientAs) -> None:
    client, _, world = client_as("commander")
    for value in ("-1", "86401", "x"):
        r = client.get(f"/api/v1/projects/{world.project_id}/events?max_seconds={value}")
        assert r.status_code == 422, value


def test_open_streams_hold_no_connection_and_no_admission_slot(client_as: ClientAs) -> None:
    """More streams than the unit of work admits requests at once (2 x threads = 4), and other
    requests are still answered at once; no database connection is checked out meanwhile."""
    client, _, world = client_as("commander")
    topic = events.project_topic(world.project_id)
    bodies: list[str] = []

    def follow() -> None:
        bodies.append(client.get(f"/api/v1/projects/{world.project_id}/events?once=1&max_seconds=20").text)

    streams = [threading.Thread(target=follow) for _ in range(6)]
    for t in streams:
        t.start()
    hub = client.app.state.live_hub  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while hub.subscribers(topic) < 6 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hub.subscribers(topic) == 6
    assert get_engine().pool.checkedout() == 0  # type: ignore[attr-defined]
    started = time.monotonic()
    assert client.get(f"/api/v1/projects/{world.project_id}").status_code == 200
    assert time.monotonic() - started < 2
    with unit_of_work() as db:
        events.notify(db, topic=topic, kind="stage")
    for t in streams:
        t.join(10)
    assert len(bodies) == 6 and all("event: change" in b for b in bodies)
    assert hub.subscribers(topic) == 0


def test_the_big_screen_page_is_a_csp_clean_frame(client_as: ClientAs) -> None:
    import re

    client, _, world = client_as("commander")
    r = client.get(f"/projects/{world.project_id}/bigscreen")
    assert r.status_code == 200
    html = r.text
    assert f'data-project="{world.project_id}"' in html
    assert "/static/app/bigscreen.js" in html and "/static/vendor/echarts.min.js" in html
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []  # no inline script
    assert "<style" not in html
    assert re.findall(r"\son[a-z]+\s*=", html) == []  # no inline handlers
    for kpi in (
        "kpi-signed",
        "kpi-rate",
        "kpi-today",
        "kpi-vacated",
        "kpi-demolished",
        "kpi-days",
        "kpi-required",
    ):
        assert f'id="{kpi}"' in html


def test_the_big_screen_page_needs_campaign_read(client_as: ClientAs) -> None:
    client, _, world = client_as("grid_worker")
    assert client.get(f"/projects/{world.project_id}/bigscreen").status_code == 403
    assert client.get(f"/api/v1/projects/{world.project_id}/bigscreen").status_code == 403
    client.cookies.clear()
    r = client.get(f"/projects/{world.project_id}/bigscreen", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_the_big_screen_data_counts_the_households_in_scope(client_as: ClientAs) -> None:
    client, _, world = client_as("commander")
    everything = client.get(f"/api/v1/projects/{world.project_id}/bigscreen")
    assert everything.status_code == 200
    d = everything.json()
    assert (
        d["project_id"] == world.project_id and d["totals"]["households"] == 6 and d["totals"]["signed"] == 0
    )
    assert [b["households"] for b in d["blocks"]] == [3, 3]
    client, _, world = client_as("team_member")  # assigned the first two households personally
    assert client.get(f"/api/v1/projects/{world.project_id}/bigscreen").json()["totals"]["households"] == 2
    assert client.get("/api/v1/projects/999999/bigscreen").status_code == 404
