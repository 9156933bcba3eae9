"""The request transaction: a failed commit becomes a 500 with nothing written, never a false success."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from anju.web.middleware import UnitOfWorkMiddleware


def test_failed_commit_turns_the_response_into_a_500(monkeypatch, settings_env) -> None:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.add_middleware(UnitOfWorkMiddleware)

    @app.get("/ok")
    def ok(request: Request) -> dict[str, str]:
        return {"saved": "yes"}

    def broken_commit(self: Session) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Session, "commit", broken_commit)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/ok")
    assert r.status_code == 500
    assert r.text == "保存失败，请重试"
    assert "saved" not in r.text


def test_refused_request_rolls_back(monkeypatch, settings_env) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []
    app = FastAPI()
    app.add_middleware(UnitOfWorkMiddleware)

    @app.get("/refused", status_code=409)
    def refused(request: Request) -> dict[str, str]:
        return {"state": "conflict"}

    monkeypatch.setattr(Session, "commit", lambda self: calls.append("commit"))
    monkeypatch.setattr(Session, "rollback", lambda self: calls.append("rollback"))
    with TestClient(app) as client:
        r = client.get("/refused")
    assert r.status_code == 409
    assert "commit" not in calls and "rollback" in calls
