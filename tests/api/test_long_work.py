"""Long exports run outside the route thread pool: pages stay answered while exports run."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from anju.household import ledger
from tests.api.conftest import login
from tests.factories import World


def test_pages_are_answered_while_two_ledger_exports_run(
    world_app: tuple[TestClient, World], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, world = world_app
    login(client, "commander")
    release = threading.Event()
    started = threading.Semaphore(0)
    real_export = ledger.export_ledger

    def slow_export(*args: Any, **kwargs: Any) -> int:
        started.release()
        # Holds its thread as a 100,000-household export does, until the page below was answered.
        assert release.wait(30), "the page was never answered while the exports ran"
        return real_export(*args, **kwargs)

    monkeypatch.setattr(ledger, "export_ledger", slow_export)
    url = f"/api/v1/projects/{world.project_id}/ledger.xlsx"
    with ThreadPoolExecutor(2) as pool:
        exports = [pool.submit(client.get, url) for _ in range(2)]
        assert started.acquire(timeout=30)  # the first export holds its thread
        # The route pool has two threads (Settings.threads): without the export limiter the
        # exports would hold both, and this page would wait for them.
        page = client.get(f"/api/v1/households/{world.household_ids[0]}")
        release.set()
        results = [f.result(timeout=60) for f in exports]
    assert page.status_code == 200
    assert [r.status_code for r in results] == [200, 200]
    assert all(r.content[:2] == b"PK" for r in results)
