"""Login throttling: normalised keys, progressive pair locks, address and account limits, records.

The service-level tests run on every configured database (``db`` fixture); the HTTP tests on the
SQLite test app.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.db.session import unit_of_work
from anju.errors import NotAuthenticated, TooManyAttempts
from anju.identity import service as identity_service
from anju.identity import throttle
from anju.identity.models import LoginAttempt
from tests.api.conftest import page_csrf
from tests.factories import ACTOR, PASSWORD, World

WRONG = "Wrong-Passw0rd!"


# --------------------------------------------------------------- keys


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("finance", "finance"),
        ("finance ", "finance"),
        ("  Finance\t", "finance"),
        ("ＦＩＮＡＮＣＥ", "finance"),  # full-width letters (NFKC)
        ("ß", "ss"),
    ],
)
def test_account_key_normalises(typed: str, key: str) -> None:
    assert throttle.account_key(typed) == key


def test_long_and_control_character_names_get_a_digest_key_that_fits() -> None:
    long_name = "a" * 65
    key = throttle.account_key(long_name)
    assert key.startswith("~") and len(key) == 41
    assert throttle.account_key(long_name.upper() + " ") == key  # normalised before the digest
    assert throttle.account_key("a" * 64) == "a" * 64
    nul = throttle.account_key("fin\x00ance")
    assert nul.startswith("~") and "\x00" not in nul and len(nul) == 41


# --------------------------------------------------------------- service level, every database


@pytest.fixture
def users(db: Session) -> Iterator[Session]:
    for name in ("alice", "bob"):
        identity_service.create_user(
            db, actor=ACTOR, username=name, display_name=name, password=PASSWORD, role="finance"
        )
    db.flush()
    yield db


def _login(db: Session, username: str, password: str, ip: str) -> str:
    """``ok``, ``bad`` or the refusal's Chinese message."""
    try:
        identity_service.login(db, username=username, password=password, ip=ip)
    except NotAuthenticated:
        return "bad"
    except TooManyAttempts as exc:
        return exc.message_zh
    return "ok"


def _rows(db: Session, key: str) -> list[tuple[str, str]]:
    rows = db.execute(
        select(LoginAttempt.ip, LoginAttempt.outcome)
        .where(LoginAttempt.username == key)
        .order_by(LoginAttempt.id)
    )
    return [(str(ip), str(outcome)) for ip, outcome in rows]


def _age(db: Session, minutes: int) -> None:
    """Move every recorded attempt ``minutes`` into the past (time passes)."""
    # Row by row in Python: date arithmetic in SQL differs between the databases.
    for row in db.scalars(select(LoginAttempt)):
        row.at = row.at - timedelta(minutes=minutes)
    db.flush()


def test_variants_of_a_locked_name_are_locked_too(users: Session) -> None:
    db = users
    for _ in range(5):
        assert _login(db, "alice", WRONG, "10.0.0.1") == "bad"
    for variant in ("alice", "alice ", "ALICE", "ａｌｉｃｅ"):
        assert _login(db, variant, PASSWORD, "10.0.0.1") == "登录失败次数过多，请 15 分钟后再试"
    assert _rows(db, "alice") == [("10.0.0.1", "failure")] * 5 + [("10.0.0.1", "throttled")] * 4
    # the same account from another address is not affected by this pair's lock
    assert _login(db, "alice", PASSWORD, "10.0.0.2") == "ok"


def test_long_usernames_are_counted(users: Session) -> None:
    db = users
    name = "x" * 200
    for _ in range(5):
        assert _login(db, name, WRONG, "10.0.0.3") == "bad"
    assert _login(db, name, WRONG, "10.0.0.3").startswith("登录失败次数过多")
    assert len(_rows(db, throttle.account_key(name))) == 6


def test_pair_lock_doubles_with_each_further_failure_and_waiting_is_not_prolonged(users: Session) -> None:
    db = users
    ip = "10.0.0.4"
    for _ in range(5):
        assert _login(db, "bob", WRONG, ip) == "bad"
    assert _login(db, "bob", PASSWORD, ip) == "登录失败次数过多，请 15 分钟后再试"
    _age(db, 10)
    # attempts during the lock are refused and recorded, but do not extend it
    assert _login(db, "bob", PASSWORD, ip) == "登录失败次数过多，请 5 分钟后再试"
    _age(db, 6)
    assert _login(db, "bob", WRONG, ip) == "bad"  # the 6th failure: 30 minutes
    assert _login(db, "bob", PASSWORD, ip) == "登录失败次数过多，请 30 分钟后再试"
    _age(db, 31)
    assert _login(db, "bob", WRONG, ip) == "bad"  # the 7th failure: 60 minutes
    assert _login(db, "bob", PASSWORD, ip) == "登录失败次数过多，请 60 分钟后再试"
    _age(db, 61)
    assert _login(db, "bob", PASSWORD, ip) == "ok"
    # a success resets the pair's count
    assert _login(db, "bob", WRONG, ip) == "bad"
    assert _login(db, "bob", PASSWORD, ip) == "ok"
    outcomes = [o for _, o in _rows(db, "bob")]
    assert outcomes == ["failure"] * 5 + ["throttled"] * 2 + [
        "failure",
        "throttled",
        "failure",
        "throttled",
    ] + ["success", "failure", "success"]


def test_a_stranger_cannot_lock_a_user_out_of_an_address_they_logged_in_from(users: Session) -> None:
    db = users
    assert _login(db, "alice", PASSWORD, "10.1.1.1") == "ok"  # alice's usual computer
    for n in range(20):  # guessing spread over 20 addresses: no pair reaches its limit
        assert _login(db, "alice", WRONG, f"198.51.100.{n}") == "bad"
    refused = _login(db, "alice", PASSWORD, "203.0.113.9")
    assert refused.startswith("该账号近期登录失败次数过多，已暂停从新的网络地址登录，请 15 分钟后再试")
    assert _login(db, "alice", PASSWORD, "10.1.1.1") == "ok"
    # another account is not affected
    assert _login(db, "bob", PASSWORD, "203.0.113.9") == "ok"
    # the soft limit ends by itself
    _age(db, 16)
    assert _login(db, "alice", PASSWORD, "203.0.113.9") == "ok"


def test_one_address_trying_many_accounts_is_locked(users: Session) -> None:
    db = users
    ip = "198.51.100.77"
    for n in range(20):
        assert _login(db, f"guess{n}", WRONG, ip) == "bad"
    assert _login(db, "bob", PASSWORD, ip) == "此网络地址登录失败次数过多，请 15 分钟后再试"
    assert _login(db, "bob", PASSWORD, "10.0.0.9") == "ok"
    _age(db, 16)
    assert _login(db, "bob", PASSWORD, ip) == "ok"


def test_an_address_an_account_logged_in_from_is_exempt_from_the_address_limit(users: Session) -> None:
    db = users
    ip = "10.2.2.2"  # an office behind one NAT address
    assert _login(db, "alice", PASSWORD, ip) == "ok"
    for n in range(20):
        assert _login(db, f"typo{n}", WRONG, ip) == "bad"
    assert _login(db, "alice", PASSWORD, ip) == "ok"
    assert _login(db, "bob", PASSWORD, ip).startswith("此网络地址")


# --------------------------------------------------------------- HTTP


def _form_login(client: TestClient, username: str, password: str) -> Any:
    token = page_csrf(client.get("/login").text)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def test_trailing_space_does_not_bypass_the_lock_over_http(world_app: tuple[TestClient, World]) -> None:
    client, _world = world_app
    for i in range(5):
        assert _form_login(client, "finance", f"wrong-{i}").status_code == 401
    r = _form_login(client, "finance ", PASSWORD)
    assert r.status_code == 429 and "登录失败次数过多，请 15 分钟后再试" in r.text
    assert "anju_session" not in r.headers.get("set-cookie", "")
    r = client.post("/api/v1/auth/login", json={"username": " FINANCE", "password": PASSWORD})
    assert r.status_code == 429
    body = r.json()
    assert body["code"] == "too_many_attempts" and body["message"] == "登录失败次数过多，请 15 分钟后再试"
    assert body["details"] == {"limit": "pair", "retry_after_minutes": 15}
    with unit_of_work() as db:
        outcomes = list(db.scalars(select(LoginAttempt.outcome).where(LoginAttempt.username == "finance")))
    assert outcomes == ["failure"] * 5 + ["throttled"] * 2


def test_every_attempt_is_logged_without_the_password(
    world_app: tuple[TestClient, World], caplog: pytest.LogCaptureFixture
) -> None:
    client, _world = world_app
    caplog.set_level(logging.INFO, logger="anju.login")
    assert _form_login(client, "commander", "Secret-Guess-1").status_code == 401
    assert (
        client.post("/api/v1/auth/login", json={"username": "commander", "password": PASSWORD}).status_code
        == 200
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "anju.login"]
    assert lines == [
        "login failure: account='commander' address=testclient",
        "login success: account='commander' address=testclient",
    ]
    assert not any("Secret-Guess-1" in line or PASSWORD in line for line in caplog.text.splitlines())
    with unit_of_work() as db:
        rows = db.execute(
            select(LoginAttempt.outcome, LoginAttempt.succeeded).where(LoginAttempt.username == "commander")
        )
        assert [tuple(r) for r in rows] == [("failure", False), ("success", True)]
