"""Flat selection under concurrency over HTTP (issue #11 acceptance), on a live server
(tests/live_server.py) on SQLite, PostgreSQL and MariaDB: fifty clients, released together, POST
``/api/v1/selection-events/{id}/selections`` for the same flat for the household being served.
Exactly one gets 201; the 49 others get 409 ``flat_taken`` "该房源已被选定：<flat>" (a client that
gets 409 ``busy`` tries again, as a desk does); the flat, its one live selection and the audit
agree. No request may be a 500 (the server log has no traceback)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from anju.audit.models import AuditRecord
from anju.housing.models import Flat, Selection
from tests.conftest import BACKENDS, new_database
from tests.factories import PASSWORD
from tests.live_server import LiveWorld, serve_world

CLIENTS = 50
MAX_TRIES = 30
SEED = "tests.integration.selection_world:seed_live_event"
FLAT = "1-1-101"


@pytest.fixture(params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[LiveWorld, str]]:
    url, handle = new_database(request.param, tmp_path)
    served_url = None if request.param == "sqlite" else url
    try:
        with serve_world(
            tmp_path, start_timeout=180, database_url=served_url, households=3, seed=SEED
        ) as world:
            yield world, (url if served_url else f"sqlite:///{tmp_path / 'data' / 'anju.db'}")
            log = world.log_path.read_text()
            assert "Traceback" not in log, log[-4000:]
    finally:
        if handle is not None:
            handle.drop()


def _login(base: str) -> tuple[dict[str, str], str]:
    r = requests.post(
        base + "/api/v1/auth/login", json={"username": "case_officer", "password": PASSWORD}, timeout=60
    )
    r.raise_for_status()
    return dict(r.cookies), str(r.json()["csrf_token"])


def test_fifty_http_clients_select_one_flat_exactly_one_succeeds(live: tuple[LiveWorld, str]) -> None:
    world, db_url = live
    seed: dict[str, Any] = world.world["seed"]
    event_id, household_id, flat_id = seed["event_id"], seed["order"][0], seed["flats"][FLAT]
    cookies, csrf = _login(world.url)
    url = f"{world.url}/api/v1/selection-events/{event_id}/selections"
    barrier = threading.Barrier(CLIENTS)
    answers: list[tuple[int, dict[str, Any]]] = [(0, {})] * CLIENTS
    retries: Counter[str] = Counter()
    errors: list[BaseException] = []

    def client(i: int) -> None:
        with requests.Session() as s:
            s.cookies.update(cookies)
            barrier.wait()
            try:
                for _ in range(MAX_TRIES):
                    r = s.post(
                        url,
                        json={"household_id": household_id, "flat_id": flat_id},
                        headers={"X-CSRF-Token": csrf},
                        timeout=300,
                    )
                    body = r.json()
                    if r.status_code == 409 and body.get("code") == "busy":
                        retries["busy"] += 1
                        continue
                    answers[i] = (r.status_code, body)
                    return
                raise AssertionError("always busy")
            except BaseException as exc:  # reported below
                errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    assert not errors, errors[:3]
    statuses = Counter(status for status, _ in answers)
    assert statuses == Counter({201: 1, 409: CLIENTS - 1}), statuses
    [(_, won)] = [a for a in answers if a[0] == 201]
    assert (won["flat_code"], won["household_id"], won["status"]) == (FLAT, household_id, "confirmed")
    lost = {(b["code"], b["message"]) for status, b in answers if status == 409}
    assert lost == {("flat_taken", f"该房源已被选定：{FLAT}")}

    engine = create_engine(db_url)
    try:
        with Session(engine) as db:
            flat = db.get(Flat, flat_id)
            assert flat is not None
            assert (flat.status, flat.household_id, flat.selection_id) == (
                "selected",
                household_id,
                won["id"],
            )
            live_rows = list(db.scalars(select(Selection).where(Selection.flat_id == flat_id)))
            assert [(s.id, s.status, s.flat_lock) for s in live_rows] == [(won["id"], "confirmed", flat_id)]
            audits = list(
                db.scalars(
                    select(AuditRecord).where(
                        AuditRecord.action == "select", AuditRecord.entity == "selection"
                    )
                )
            )
            assert [(a.entity_id, a.household_id) for a in audits] == [(str(won["id"]), household_id)]
            others = db.scalars(select(Flat.status).where(Flat.id != flat_id)).all()
            assert set(others) == {"available"}
    finally:
        engine.dispose()
    print(f"\n{CLIENTS} HTTP clients, one flat: busy retries {retries['busy']}")
