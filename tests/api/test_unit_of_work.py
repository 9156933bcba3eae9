"""The request transaction: a failed commit becomes a 500 with nothing written, never a false success."""

from __future__ import annotations

import sqlite3

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from anju.web import errors
from anju.web.middleware import UnitOfWorkMiddleware


def test_failed_commit_turns_the_response_into_a_500(monkeypatch, settings_env) -> None:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.add_middleware(UnitOfWorkMiddleware)

    @app.get("/ok")
    def ok(request: Request) -> dict[str, str]:
        return {"stored": "yes"}

    def broken_commit(self: Session) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Session, "commit", broken_commit)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/ok")
    assert r.status_code == 500
    assert r.text == "保存失败，请重试"
    assert "stored" not in r.text


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


BUSY_ZH = "系统繁忙，该记录正被他人保存，请稍后重试"


def _locked() -> OperationalError:
    return OperationalError(
        "UPDATE household SET remark=?", {}, sqlite3.OperationalError("database is locked")
    )


def _app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(UnitOfWorkMiddleware)
    errors.install(app)
    return app


def test_lock_conflict_in_a_route_is_a_409_in_json_and_html(settings_env) -> None:  # type: ignore[no-untyped-def]
    app = _app()

    @app.post("/api/v1/edit")
    def api_edit(request: Request) -> dict[str, str]:
        raise _locked()

    @app.post("/edit")
    def page_edit(request: Request) -> dict[str, str]:
        raise _locked()

    @app.post("/api/v1/broken")
    def broken(request: Request) -> dict[str, str]:
        raise OperationalError("SELECT 1", {}, sqlite3.OperationalError("no such table: household"))

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/api/v1/edit")
        assert r.status_code == 409
        assert r.json() == {
            "code": "busy",
            "message": BUSY_ZH,
            "message_en": "the record is being saved by someone else; please try again shortly",
        }
        r = client.post("/edit")
        assert r.status_code == 409 and "text/html" in r.headers["content-type"]
        assert BUSY_ZH in r.text
        r = client.post("/api/v1/broken")  # not a lock conflict: still a 500, and logged
        assert r.status_code == 500 and r.json()["code"] == "server_error"


def test_lock_conflict_at_commit_is_a_409_not_a_500(monkeypatch, settings_env) -> None:  # type: ignore[no-untyped-def]
    app = _app()

    @app.post("/api/v1/save")
    def save(request: Request) -> dict[str, str]:
        return {"stored": "yes"}

    @app.post("/save")
    def save_page(request: Request) -> dict[str, str]:
        return {"stored": "yes"}

    def locked_commit(self: Session) -> None:
        raise _locked()

    monkeypatch.setattr(Session, "commit", locked_commit)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/api/v1/save", json={})
        assert r.status_code == 409 and r.json()["code"] == "busy"
        assert "stored" not in r.text
        r = client.post("/save")
        assert r.status_code == 409 and BUSY_ZH in r.text and "stored" not in r.text


def test_writes_begin_immediate_and_reads_do_not(settings_env) -> None:  # type: ignore[no-untyped-def]
    app = _app()
    seen: dict[str, str] = {}

    @app.api_route("/tx", methods=["GET", "POST"])
    def tx(request: Request) -> dict[str, str]:
        db: Session = request.state.db
        mode = db.connection().info["anju_tx"][0]
        seen[request.method] = mode
        return {"mode": mode}

    @app.post("/validate/member/name")
    def validate(request: Request) -> dict[str, str]:
        db: Session = request.state.db
        return {"mode": db.connection().info["anju_tx"][0]}

    with TestClient(app) as client:
        assert client.get("/tx").json() == {"mode": "read"}
        # inline validation posts on every change of a field and only reads: no write lock
        assert client.post("/validate/member/name", data={"name": "张"}).json() == {"mode": "read"}
        assert client.post("/tx", content=b"x" * (3 * 1024 * 1024)).json() == {"mode": "write"}
    assert seen == {"GET": "read", "POST": "write"}


def test_a_writer_blocked_by_another_process_gets_a_409_and_readers_go_on(monkeypatch, settings_env) -> None:  # type: ignore[no-untyped-def]
    from anju.db import session as db_session

    monkeypatch.setattr(db_session, "BUSY_TIMEOUT_MS", 300)
    app = _app()

    @app.api_route("/api/v1/value", methods=["GET", "POST"])
    def value(request: Request) -> dict[str, int]:
        db: Session = request.state.db
        if request.method == "POST":
            db.execute(text("UPDATE t SET v = v + 1"))
        return {"v": int(db.execute(text("SELECT v FROM t")).scalar_one())}

    engine = db_session.get_engine()
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (v INTEGER)")
        c.exec_driver_sql("INSERT INTO t VALUES (1)")
    other = sqlite3.connect(engine.url.database or "", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process (a CLI import) holds the write lock
        other.execute("UPDATE t SET v = 100")
        with TestClient(app, raise_server_exceptions=False) as client:
            r = client.post("/api/v1/value", json={})
            assert r.status_code == 409 and r.json()["code"] == "busy"
            assert client.get("/api/v1/value").json() == {"v": 1}  # WAL: the reader does not wait
            other.execute("ROLLBACK")
            r = client.post("/api/v1/value", json={})
            assert r.status_code == 200 and r.json() == {"v": 2}
    finally:
        other.close()


def test_a_writer_queued_too_long_gets_a_409_and_the_gate_is_not_lost(monkeypatch, settings_env) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    import httpx

    from anju.web import middleware

    monkeypatch.setattr(middleware, "GATE_TIMEOUT_S", 0.3)
    app = _app()

    @app.post("/api/v1/slow")
    async def slow(request: Request) -> dict[str, str]:
        await asyncio.sleep(1.0)  # holds the write gate
        return {"done": "slow"}

    @app.post("/api/v1/quick")
    async def quick(request: Request) -> dict[str, str]:
        return {"done": "quick"}

    async def run() -> tuple[int, int, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            first = asyncio.create_task(client.post("/api/v1/slow", json={}))
            await asyncio.sleep(0.1)
            queued = await client.post("/api/v1/quick", json={})
            assert queued.json()["code"] == "busy"
            done = await first
            after = await client.post("/api/v1/quick", json={})
            return done.status_code, queued.status_code, after.status_code

    assert asyncio.run(run()) == (200, 409, 200)


def test_a_read_that_leaves_an_audit_record_takes_the_write_lock_first(settings_env) -> None:  # type: ignore[no-untyped-def]
    """A GET that audits (a ledger export) began as a read on SQLite; another writer commits while
    it reads; its audit record must still be appended (no stale-snapshot "database is locked")."""
    from anju.audit import service as audit_service
    from anju.core.actor import Actor
    from anju.db import migrate
    from anju.db.session import get_engine

    settings_env.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(str(get_engine().url))
    app = _app()

    @app.get("/api/v1/export")
    def export(request: Request) -> dict[str, int]:
        db: Session = request.state.db
        db.execute(text("SELECT count(*) FROM audit_record")).scalar_one()  # the read snapshot begins
        other = sqlite3.connect(get_engine().url.database or "")
        other.execute("CREATE TABLE IF NOT EXISTS moved (v INTEGER)")  # another writer commits meanwhile
        other.commit()
        other.close()
        seq = audit_service.record(
            db, actor=Actor.system("test"), action="export", entity="ledger", entity_id=1, changes={"n": 1}
        )
        return {"seq": seq}

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/api/v1/export")
    assert r.status_code == 200, r.text
    with get_engine().connect() as c:
        assert (
            c.execute(text("SELECT action FROM audit_record WHERE seq = :s"), {"s": r.json()["seq"]}).scalar()
            == "export"
        )
