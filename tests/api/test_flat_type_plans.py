"""Flat types over HTTP: rename one, upload its plan image (only PNG/JPEG/WebP/GIF by content), fetch
it; a refused file changes nothing; the estate page shows the plan and the form."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import text

from anju.db.session import unit_of_work
from tests.api.conftest import page_csrf
from tests.api.permission_calls import PNG, audit_count
from tests.api.test_housing_api import GOOD, _estate, _upload, flat_list
from tests.factories import World

ClientAs = Callable[[str], tuple[TestClient, str, World]]


def _types(estate_id: int) -> dict[str, int]:
    with unit_of_work(write=False) as db:
        rows = db.execute(text("SELECT code, id FROM flat_type WHERE estate_id = :e"), {"e": estate_id})
        return {str(c): int(i) for c, i in rows}


def test_name_and_plan_of_a_flat_type(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    eid = _estate(client, csrf, world)
    assert _upload(client, csrf, eid, flat_list(GOOD), dry_run=False).status_code == 200
    a = _types(eid)["A"]
    assert client.get(f"/api/v1/flat-types/{a}/plan").status_code == 404  # no plan yet

    r = client.patch(f"/api/v1/flat-types/{a}", json={"name": "三室两厅"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["name"] == "三室两厅" and r.json()["plan_url"] is None
    r = client.put(
        f"/api/v1/flat-types/{a}/plan",
        files={"file": ("A户型.png", PNG, "image/png")},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["plan_url"], r.json()["plan_filename"]) == (f"/flat-types/{a}/plan", "A户型.png")
    image = client.get(f"/api/v1/flat-types/{a}/plan")
    assert image.status_code == 200 and image.content == PNG and image.headers["content-type"] == "image/png"
    assert client.get(f"/flat-types/{a}/plan").content == PNG

    # a document or a script dressed as an image is refused, and nothing changes
    before = audit_count()
    for name, data, declared in (
        ("plan.png", b"%PDF-1.4 not an image", "image/png"),
        (
            "plan.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image/svg+xml",
        ),
    ):
        bad = client.put(
            f"/api/v1/flat-types/{a}/plan",
            files={"file": (name, data, declared)},
            headers={"X-CSRF-Token": csrf},
        )
        assert bad.status_code in (415, 422), bad.text
    long_name = client.patch(
        f"/api/v1/flat-types/{a}", json={"name": "长" * 65}, headers={"X-CSRF-Token": csrf}
    )
    assert long_name.status_code == 422
    assert audit_count() == before and client.get(f"/api/v1/flat-types/{a}/plan").content == PNG

    # the estate page: the plan, the name and (for the case officer) the form
    page = client.get(f"/estates/{eid}")
    assert f'src="/flat-types/{a}/plan"' in page.text and "三室两厅" in page.text
    b = _types(eid)["B"]
    r = client.post(
        f"/flat-types/{b}",
        data={"name": "四室两厅", "csrf_token": page_csrf(page.text)},
        files={"plan": ("B.png", PNG, "image/png")},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/estates/{eid}?ok=flat_type#flat-types"
    shown = client.get(r.headers["location"])
    assert "户型已保存" in shown.text and f'src="/flat-types/{b}/plan"' in shown.text


def test_only_housing_managers_change_flat_types(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    eid = _estate(client, csrf, world)
    assert _upload(client, csrf, eid, flat_list(GOOD), dry_run=False).status_code == 200
    a = _types(eid)["A"]
    viewer, vcsrf, _ = client_as("commander")
    r = viewer.patch(f"/api/v1/flat-types/{a}", json={"name": "改名"}, headers={"X-CSRF-Token": vcsrf})
    assert r.status_code == 403
    page = viewer.get(f"/estates/{eid}")
    assert page.status_code == 200 and f'action="/flat-types/{a}"' not in page.text
