"""The selection big screen (选房大屏) over HTTP: the snapshot's exact numbers after selections made
through the service, its query count independent of the event's size, the event stream (a
selection made after ``ready`` arrives; other events' and the project's other changes do not),
refusals, and the page as a CSP-clean frame linked from the event page and the console."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from anju.agreement import service as agreement_service
from anju.compensation import service as compensation_service
from anju.db import events
from anju.db.session import get_engine, unit_of_work
from anju.household import service as household_service
from anju.housing import service as housing_service
from anju.identity.service import DataScope
from tests.factories import ACTOR, World
from tests.integration.selection_world import OFFICER, RURAL, SUPERVISOR, TODAY, flat_list

ClientAs = Callable[[str], tuple[TestClient, str, World]]
ALL = DataScope.everything()
# Two buildings; types A (70 ㎡) and B (88 ㎡, beyond what a one-person household may take).
FLATS = [
    ("1幢", 1, 1, "101", "A", 70, 60),
    ("1幢", 1, 2, "201", "A", 70, 60),
    ("1幢", 2, 1, "102", "A", 70, 60),
    ("1幢", 2, 2, "202", "B", 88, 75),
    ("2幢", 1, 1, "101", "A", 70, 60),
    ("2幢", 1, 2, "201", "A", 70, 60),
    ("2幢", 1, 3, "301", "B", 88, 75),
]


def _event(
    world: World, *, flats: list[tuple[str, int, int, str, str, float, float]] = FLATS
) -> tuple[int, dict[str, int], list[int]]:
    """Every household of the world signed for a swap, an estate with ``flats``, an event by sign
    order, opened (the first household is called)."""
    with unit_of_work() as db:
        for mid in world.member_ids:
            household_service.update_member(
                db, actor=ACTOR, scope=ALL, member_id=mid, data={"resettlement_counted": True}
            )
        compensation_service.publish(
            db, actor=ACTOR, project_id=world.project_id, source=RURAL, file_name="rural.yaml"
        )
        for hid in world.household_ids:
            agreement_service.sign(
                db, actor=OFFICER, scope=ALL, household_id=hid, option="swap", sign_on=TODAY, today=TODAY
            )
        estate = housing_service.create_estate(
            db, actor=OFFICER, project_id=world.project_id, code="E1", name="安置一期"
        )
        rows = housing_service.read_flat_sheet(flat_list(flats), "房源.xlsx")
        housing_service.import_flats(db, actor=OFFICER, estate_id=estate.id, rows=rows)
        ev = housing_service.create_event(
            db,
            actor=OFFICER,
            project_id=world.project_id,
            name="第一批选房",
            order_kind="sign_order",
            estate_ids=[estate.id],
        )
        order = [e.household_id for e in housing_service.fix_order(db, actor=OFFICER, event_id=ev.id)]
        housing_service.open_event(db, actor=OFFICER, event_id=ev.id)
        codes = {r.flat.code: r.flat.id for r in housing_service.event_flats(db, event_id=ev.id)}
        return int(ev.id), codes, order


def _choose(event_id: int, household_id: int, flat_id: int, *, finish: bool = True) -> None:
    with unit_of_work() as db:
        housing_service.select_flat(
            db, actor=OFFICER, event_id=event_id, household_id=household_id, flat_id=flat_id
        )
        if finish:
            housing_service.finish_household(db, actor=OFFICER, event_id=event_id, household_id=household_id)


def _skip(event_id: int, household_id: int) -> None:
    with unit_of_work() as db:
        housing_service.skip_household(db, actor=OFFICER, event_id=event_id, household_id=household_id)


def test_the_snapshot_counts_exactly_after_selections_skips_a_freeze_and_an_undo(client_as: ClientAs) -> None:
    client, _, world = client_as("commander")
    event_id, flats, order = _event(world)
    h1, h2, h3, h4, h5, h6 = order
    _choose(event_id, h1, flats["1-1-101"])
    _skip(event_id, h2)
    _choose(event_id, h3, flats["2-1-101"])
    _choose(event_id, h4, flats["1-2-102"], finish=False)  # h4 is still choosing
    with unit_of_work() as db:
        housing_service.change_flat_status(
            db, actor=OFFICER, flat_id=flats["2-1-201"], status="frozen", reason="开发商保留样板间"
        )
        # An undone selection is neither counted nor listed.
        sel = housing_service.household_selections(db, household_id=h4)[0][0]
        housing_service.undo_selection(db, actor=SUPERVISOR, selection_id=sel.id, reason="户主改选")
    _choose(event_id, h4, flats["1-1-201"], finish=False)

    r = client.get(f"/api/v1/selection-events/{event_id}/screen")
    assert r.status_code == 200, r.text
    d = r.json()
    assert (d["event_id"], d["name"], d["status"], d["status_label"]) == (
        event_id,
        "第一批选房",
        "open",
        "进行中",
    )
    assert (d["order_kind"], d["order_kind_label"], d["seed"]) == ("sign_order", "按签约顺序号", None)
    assert d["current_position"] == 4
    cur = d["current"]
    assert (
        cur["household_id"],
        cur["code"],
        cur["name_masked"],
        cur["position"],
        cur["sign_no"],
        cur["status"],
    ) == (
        h4,
        "H0004",
        "刘**",
        4,
        4,
        "current",
    )
    assert cur["entitled_area"] is not None and cur["max_area"] is not None
    # The next households in call order: the skipped one comes again after the last.
    assert [(u["code"], u["name_masked"], u["position"], u["status"]) for u in d["upcoming"]] == [
        ("H0005", "陈**", 5, "waiting"),
        ("H0006", "杨**", 6, "waiting"),
        ("H0002", "李**", 2, "skipped"),
    ]
    assert [u["household_id"] for u in d["upcoming"]] == [h5, h6, h2]
    assert d["entry_counts"] == {"waiting": 2, "current": 1, "done": 2, "skipped": 1, "absent": 0}
    assert d["flat_counts"] == {"available": 3, "frozen": 1, "reserved": 0, "selected": 3, "delivered": 0}
    assert [e["name"] for e in d["estates"]] == ["安置一期"]
    b1, b2 = d["buildings"]
    assert (b1["code"], b1["estate_name"], b2["code"]) == ("1幢", "安置一期", "2幢")
    assert b1["counts"] == {"available": 2, "frozen": 0, "reserved": 0, "selected": 2, "delivered": 0}
    assert b2["counts"] == {"available": 1, "frozen": 1, "reserved": 0, "selected": 1, "delivered": 0}
    # By unit, floors top down.
    assert [(f["code"], f["status"]) for f in b1["flats"]] == [
        ("1-1-201", "selected"),
        ("1-1-101", "selected"),
        ("1-2-202", "available"),
        ("1-2-102", "available"),
    ]
    assert [(f["code"], f["unit"], f["floor"], f["number"], f["flat_type"]) for f in b2["flats"]] == [
        ("2-1-301", 1, 3, "301", "B"),
        ("2-1-201", 1, 2, "201", "A"),
        ("2-1-101", 1, 1, "101", "A"),
    ]
    assert [(t["code"], t["total"], t["available"]) for t in d["flat_types"]] == [("A", 5, 1), ("B", 2, 2)]
    # Newest first; h4's undone selection (1-2-102) is not listed, its flat is available again.
    assert [(s["household_code"], s["flat_code"], s["building"]) for s in d["recent"]] == [
        ("H0004", "1-1-201", "1幢"),
        ("H0003", "2-1-101", "2幢"),
        ("H0001", "1-1-101", "1幢"),
    ]
    assert "张建国" not in r.text and "刘桂兰" not in r.text  # names masked on the public wall


@contextmanager
def _counting() -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_the_snapshot_takes_as_many_queries_for_many_flats_as_for_few(client_as: ClientAs) -> None:
    _client, _, world = client_as("commander")
    many = [
        (f"{b}幢", u, fl, f"{fl}0{u}", "A", 70, 60) for b in (1, 2, 3) for u in (1, 2) for fl in range(1, 21)
    ]
    event_id, flats, order = _event(world, flats=many)
    _choose(event_id, order[0], flats["1-1-101"])
    with unit_of_work() as db, _counting() as statements:
        screen = housing_service.selection_screen(db, event_id=event_id)
    assert sum(len(b.flats) for b in screen.buildings) == 120
    big = len(statements)
    with unit_of_work() as db:
        estate = housing_service.create_estate(
            db, actor=OFFICER, project_id=world.project_id, code="E2", name="小"
        )
        rows = housing_service.read_flat_sheet(flat_list(FLATS[:2]), "房源.xlsx")
        housing_service.import_flats(db, actor=OFFICER, estate_id=estate.id, rows=rows)
        small = housing_service.create_event(
            db,
            actor=OFFICER,
            project_id=world.project_id,
            name="小",
            order_kind="sign_order",
            estate_ids=[estate.id],
        )
        small_id = small.id
    with unit_of_work() as db, _counting() as statements:
        housing_service.selection_screen(db, event_id=small_id)
    assert big <= len(statements) + 12  # the current household's entitlement; no query per flat or household
    assert big < 40


def _frames(body: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in body.split("\n\n"):
        lines = dict(
            line.split(": ", 1) for line in block.splitlines() if line.startswith(("event:", "data:"))
        )
        if "event" in lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


def _when_subscribed(client: TestClient, topic: str, write: Callable[[], None]) -> threading.Thread:
    """In another thread (as a route's commit is): once the stream listens, run ``write``."""

    def run() -> None:
        hub = client.app.state.live_hub  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while hub.subscribers(topic) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        write()

    t = threading.Thread(target=run)
    t.start()
    return t


def test_the_stream_carries_a_selection_made_after_ready(client_as: ClientAs) -> None:
    client, _, world = client_as("case_officer")
    event_id, flats, order = _event(world)
    topic = events.selection_event_topic(event_id)
    writer = _when_subscribed(
        client, topic, lambda: _choose(event_id, order[0], flats["1-1-101"], finish=False)
    )
    r = client.get(f"/api/v1/selection-events/{event_id}/events?once=true&max_seconds=20")
    writer.join()
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["cache-control"] == "no-store" and r.headers["x-accel-buffering"] == "no"
    assert r.text.startswith("retry: 2000\nevent: ready\n")
    frames = _frames(r.text)
    assert [f[0] for f in frames] == ["ready", "change"]
    assert frames[0][1]["topic"] == topic and frames[0][1]["transport"] == "memory"
    assert (frames[1][1]["topic"], frames[1][1]["kinds"], frames[1][1]["resync"]) == (
        topic,
        ["selection"],
        False,
    )
    assert "household_id" not in r.text and "1-1-101" not in r.text


def test_a_freeze_in_the_event_s_estate_reaches_the_stream_and_the_project_s_other_changes_do_not(
    client_as: ClientAs,
) -> None:
    client, _, world = client_as("commander")
    event_id, flats, _order = _event(world)

    def project_only() -> None:
        with unit_of_work() as db:
            events.notify(db, topic=events.project_topic(world.project_id), kind="visit")
            events.notify(db, topic=events.selection_event_topic(event_id + 1), kind="selection")

    writer = _when_subscribed(client, events.selection_event_topic(event_id), project_only)
    r = client.get(f"/api/v1/selection-events/{event_id}/events?once=1&max_seconds=2")
    writer.join()
    assert [f[0] for f in _frames(r.text)] == ["ready"]

    def freeze() -> None:
        with unit_of_work() as db:
            housing_service.change_flat_status(
                db, actor=OFFICER, flat_id=flats["2-1-301"], status="frozen", reason="临时冻结"
            )

    writer = _when_subscribed(client, events.selection_event_topic(event_id), freeze)
    r = client.get(f"/api/v1/selection-events/{event_id}/events?once=1&max_seconds=20")
    writer.join()
    frames = _frames(r.text)
    assert [f[0] for f in frames] == ["ready", "change"] and frames[1][1]["kinds"] == ["housing"]


def test_refusals(client_as: ClientAs) -> None:
    client, _, world = client_as("commander")
    event_id, _flats, _order = _event(world)
    for url in (
        f"/api/v1/selection-events/{event_id}/screen",
        f"/api/v1/selection-events/{event_id}/events?max_seconds=0",
    ):
        assert client.get(url).status_code == 200, url
        assert client.get(url.replace(f"/{event_id}/", "/999999/")).status_code == 404, url
        assert client.get(url.replace(f"/{event_id}/", "/0/")).status_code == 422, url
    for role in ("team_leader", "finance", "auditor", "grid_worker"):
        client, _, _ = client_as(role)
        for url in (
            f"/api/v1/selection-events/{event_id}/screen",
            f"/api/v1/selection-events/{event_id}/events?max_seconds=0",
            f"/selection-events/{event_id}/screen",
        ):
            r = client.get(url)
            assert r.status_code == 403, (role, url)
    client.cookies.clear()
    assert client.get(f"/api/v1/selection-events/{event_id}/screen").status_code == 401
    r = client.get(f"/selection-events/{event_id}/screen", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_the_page_is_a_csp_clean_frame_linked_from_the_event_page_and_the_console(
    client_as: ClientAs,
) -> None:
    client, _, world = client_as("case_officer")
    event_id, _flats, _order = _event(world)
    r = client.get(f"/selection-events/{event_id}/screen")
    assert r.status_code == 200
    html = r.text
    assert f'data-event="{event_id}"' in html and "/static/app/selection_screen.js" in html
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []  # no inline script
    assert "<style" not in html and re.findall(r"\son[a-z]+\s*=", html) == []
    for part in (
        "ss-cur-code",
        "ss-next",
        "ss-buildings",
        "ss-legend",
        "ss-recent",
        "ss-types",
        "bs-time",
        "bs-live",
    ):
        assert f'id="{part}"' in html
    link = f'href="/selection-events/{event_id}/screen"'
    assert link in client.get(f"/selection-events/{event_id}").text
    assert link in client.get(f"/selection-events/{event_id}/console").text
    client, _, _ = client_as("commander")
    assert link in client.get(f"/selection-events/{event_id}").text
    client, _, _ = client_as("finance")
    assert link not in client.get(f"/selection-events/{event_id}").text


def test_the_stream_is_documented_in_openapi(client_as: ClientAs) -> None:
    client, _, _ = client_as("commander")
    spec = client.get("/api/v1/openapi.json")
    doc = spec.json()["paths"]["/api/v1/selection-events/{event_id}/events"]["get"]
    assert doc["responses"]["200"]["content"]["text/event-stream"]["schema"]["properties"]["event"][
        "enum"
    ] == [
        "ready",
        "change",
        "resync",
    ]
    assert {"once", "max_seconds"} <= {p["name"] for p in doc["parameters"]}
    assert "/api/v1/selection-events/{event_id}/screen" in spec.json()["paths"]


def test_a_kept_snapshot_is_never_served_after_a_change(client_as: ClientAs) -> None:
    client, _, world = client_as("commander")
    event_id, flats, order = _event(world)
    url = f"/api/v1/selection-events/{event_id}/screen"
    first = client.get(url)
    assert first.headers["cache-control"] == "no-store"
    assert client.get(url).content == first.content  # unchanged: the kept rendering
    assert first.json()["flat_counts"]["selected"] == 0
    _choose(event_id, order[0], flats["1-1-101"], finish=False)
    assert client.get(url).json()["flat_counts"]["selected"] == 1
    with unit_of_work() as db:
        housing_service.finish_household(db, actor=OFFICER, event_id=event_id, household_id=order[0])
    d = client.get(url).json()
    assert (d["entry_counts"]["done"], d["current"]["code"]) == (1, "H0002")
    with unit_of_work() as db:
        housing_service.change_flat_status(
            db, actor=OFFICER, flat_id=flats["2-1-301"], status="reserved", reason="保留"
        )
    assert client.get(url).json()["flat_counts"]["reserved"] == 1
