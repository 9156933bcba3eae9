"""schemathesis over the OpenAPI document, against a live server seeded with the standard world.

Every operation of ``/api/v1`` is called with generated requests (valid and invalid) as a logged-in
user (session cookie and ``X-CSRF-Token``), and every answer must be: not a 5xx, a status code the
document declares, a body that conforms to the declared schema, the declared content type; and a
request the document calls valid must not be refused (``positive_data_acceptance``).

Bounded for CI: 25 examples per operation, derandomized (the same requests on every run), about
a minute in all. The document is taken from the application itself at collection time (the same
one the server publishes at ``/api/v1/openapi.json``, compared in a test below), so collection
needs no server.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import PASSWORD, id_number
from tests.live_server import serve_world

ROOT = Path(__file__).resolve().parents[2]


def _document() -> dict[str, Any]:
    from anju.config import get_settings
    from anju.main import create_app

    try:
        spec: dict[str, Any] = create_app().openapi()
    finally:
        get_settings.cache_clear()  # built at collection: leave no settings cached for the other tests
    return spec


SCHEMA = schemathesis.openapi.from_dict(_document())
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance,
]
# Operations whose valid input cannot be described by a schema: the policy text is a YAML
# document checked by the policy engine (422 lists every problem with line and column), and the
# census upload (like the other uploads, the bank's result file) is a workbook checked row by
# row. For them only "valid data is accepted" is off.
CONTENT_CHECKED = {
    # Service requests (#14): what an action accepts depends on the request's state and version (the
    # five orders), a filing on the category and the photos' content: a valid body may be a 409 or 422.
    ("POST", "/api/v1/service-requests"),
    *(
        ("POST", f"/api/v1/service-requests/{{request_id}}/{action}")
        for action in (
            "accept",
            "reject",
            "merge",
            "postpone-decision",
            "take",
            "send-back",
            "postpone",
            "publish",
            "verify",
            "reopen",
        )
    ),
    ("POST", "/api/v1/public/requests"),
    ("POST", "/api/v1/public/requests/{code}/verify"),
    ("POST", "/api/v1/public/requests/{code}/reopen"),
    ("POST", "/api/v1/projects/{project_id}/policies"),
    # a group measure's id, level and block come from the project's published policy (422 names which)
    ("POST", "/api/v1/projects/{project_id}/group-measures"),
    # which household facts exist, their types and ranges come from the project's policy (422 names each)
    ("PUT", "/api/v1/households/{household_id}/policy-facts"),
    ("POST", "/api/v1/projects/{project_id}/census"),
    # census corrections: the workbook, and on apply the versions the preview returned (JSON)
    ("POST", "/api/v1/projects/{project_id}/census/corrections"),
    ("POST", "/api/v1/projects/{project_id}/assignments/import"),
    ("POST", "/api/v1/projects/{project_id}/parcels/import"),
    ("POST", "/api/v1/payment-batches/{batch_id}/result"),
    ("POST", "/api/v1/estates/{estate_id}/flats/import"),
    ("PUT", "/api/v1/flat-types/{flat_type_id}/plan"),  # an image, checked by its content
    # the old password must be the account's own and the new one strong: 422 names which is wrong
    ("POST", "/api/v1/auth/password"),
    # filter values are codes of the label registry and ISO dates: 422 names the field otherwise
    ("GET", "/api/v1/audit/records"),
    ("GET", "/api/v1/audit/records.xlsx"),
    # Grids (#14): a boundary is a GeoJSON geometry checked ring by ring, an import a file checked
    # feature by feature, and a case closed as 转交 needs a note saying where it went.
    ("POST", "/api/v1/grids"),
    ("PATCH", "/api/v1/grids/{grid_id}"),
    ("POST", "/api/v1/grids/import"),
    ("POST", "/api/v1/mediation-cases/{case_id}/close"),
}
# Ending the session would log the remaining cases out: logout is tested in test_permissions.
# Ends the session it runs in: each of its cases logs in a session of its own.
OWN_SESSION = frozenset({("POST", "/api/v1/auth/logout")})
# Event streams stay open (the big screen's): each case asks for one that ends after its opening event.
STREAMS = frozenset(
    {("GET", "/api/v1/projects/{project_id}/events"), ("GET", "/api/v1/selection-events/{event_id}/events")}
)
ROLE_FOR = {
    "/api/v1/audit/verify": "auditor",
    "/api/v1/selections/{selection_id}/undo": "commander",  # a supervisor undoes a selection
}  # the case officer holds every other API permission but the grid and time-bank ones:
GRID_PATHS = ("/api/v1/communities", "/api/v1/grids", "/api/v1/grid-buildings", "/api/v1/mediation-cases")
TIME_BANK_PATHS = ("/api/v1/time-bank/",)  # 社区受理员 holds every time-bank permission
# Service requests (#14): the community desk, but a department member takes, sends back, postpones, publishes.
GRID_PATHS += ("/api/v1/service-requests",)
ROLE_FOR.update(
    {
        f"/api/v1/service-requests/{{request_id}}/{a}": "department"
        for a in ("take", "send-back", "postpone", "publish")
    }
)


def role_for(path: str) -> str:
    """The role whose session calls an operation (the community desk for grids, mediation and the time bank)."""
    if path in ROLE_FOR:
        return ROLE_FOR[path]
    return "community" if path.startswith(GRID_PATHS + TIME_BANK_PATHS) else "case_officer"


@dataclass
class Live:
    """The running server, its world, and one logged-in session per role used."""

    url: str
    world: dict[str, Any]
    sessions: dict[str, tuple[requests.Session, str]]

    def session(self, role: str) -> tuple[requests.Session, str]:
        if role not in self.sessions:
            self.sessions[role] = self.new_session(role)
        return self.sessions[role]

    def new_session(self, role: str) -> tuple[requests.Session, str]:
        s = requests.Session()
        r = s.post(f"{self.url}/api/v1/auth/login", json={"username": role, "password": PASSWORD}, timeout=30)
        r.raise_for_status()
        return s, r.json()["csrf_token"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """``tests/e2e/serve_world.py``: a fresh SQLite database with the standard world, served by uvicorn."""
    with serve_world(tmp_path_factory.mktemp("schemathesis")) as server:
        live = Live(server.url, server.world, {})
        for role in {"case_officer", "community", *ROLE_FOR.values()}:
            live.session(role)  # before the login operation's failures count against this address
        yield live
        server_log = server.log_path.read_text()
    assert "Traceback" not in server_log, server_log[-4000:]


def _realistic(case: Any, live: Live) -> None:
    """Facts no schema can state, made real: an identity number with its check digit, a block of the project,
    a visit's time in the past."""
    body = case.body
    if not isinstance(body, dict):
        return
    if isinstance(body.get("id_number"), str):
        body["id_number"] = id_number(7000 + len(body["id_number"]), date(1990, 1, 2))
    if isinstance(body.get("block_id"), int) and not isinstance(body.get("block_id"), bool):
        body["block_id"] = next(iter(live.world["block_ids"].values()))
    if isinstance(body.get("visited_at"), str):  # a visit happened in the past, its next step after it
        body["visited_at"] = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
        if isinstance(body.get("next_due_on"), str):
            body["next_due_on"] = (date.today() + timedelta(days=7)).isoformat()


def test_the_document_is_the_one_the_server_publishes(live: Live) -> None:
    with urllib.request.urlopen(live.url + "/api/v1/openapi.json", timeout=10) as r:
        assert json.loads(r.read()) == _document()


@SCHEMA.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_document(case: Any, live: Live) -> None:
    key = (case.method.upper(), case.operation.path)
    role = role_for(case.operation.path)
    session, csrf = live.new_session(role) if key in OWN_SESSION else live.session(role)
    _realistic(case, live)
    if key in STREAMS:
        case.query = {**(case.query or {}), "max_seconds": 0}  # the stream ends after its opening event
    case.call_and_validate(
        base_url=live.url,
        session=session,
        headers={"X-CSRF-Token": csrf},
        checks=CHECKS,
        excluded_checks=[positive_data_acceptance] if key in CONTENT_CHECKED else None,
        timeout=30,
    )
