"""Security headers, no-store caching, the language switch's redirect, and the API docs' login."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from anju.config import Settings
from anju.db import migrate
from anju.db.session import unit_of_work
from anju.web import security
from tests.api.conftest import login
from tests.factories import World, build_world

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def _assert_common(headers: dict[str, str] | object) -> None:
    h = headers  # httpx.Headers: case-insensitive
    assert h["content-security-policy"] == CSP  # type: ignore[index]
    assert h["x-frame-options"] == "DENY"  # type: ignore[index]
    assert h["x-content-type-options"] == "nosniff"  # type: ignore[index]
    assert h["referrer-policy"] == "same-origin"  # type: ignore[index]
    assert h["permissions-policy"].startswith("camera=(), microphone=(), geolocation=()")  # type: ignore[index]


def test_pages_api_answers_and_errors_carry_the_headers_and_no_store(
    world_app: tuple[TestClient, World],
) -> None:
    client, world = world_app
    for path, status in [
        ("/login", 200),
        ("/api/v1/auth/me", 401),
        ("/projects", 303),
        ("/no-such-page", 404),
    ]:
        r = client.get(path, follow_redirects=False)
        assert r.status_code == status, path
        _assert_common(r.headers)
        assert r.headers["cache-control"] == "no-store", path
        assert "strict-transport-security" not in r.headers  # not outside production
    login(client, "case_officer")
    r = client.get(f"/households/{world.household_ids[0]}?tab=members")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    r = client.get(f"/api/v1/households/{world.household_ids[0]}")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    _assert_common(r.headers)


def test_static_files_and_health_check_may_be_cached(world_app: tuple[TestClient, World]) -> None:
    client, _world = world_app
    for path in ("/static/app/app.css", "/healthz"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "no-store" not in r.headers.get("cache-control", ""), path
        _assert_common(r.headers)


def test_a_header_the_route_set_is_kept() -> None:
    import asyncio

    sent: list[dict[str, object]] = []

    async def app(scope: object, receive: object, send: object) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,  # type: ignore[operator]
                "headers": [
                    (b"cache-control", b"private, max-age=60"),
                    (b"content-security-policy", b"sandbox"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    mw = security.SecurityHeadersMiddleware(app, Settings(env="test"))  # type: ignore[arg-type]
    asyncio.run(mw({"type": "http", "path": "/files/1"}, None, send))  # type: ignore[arg-type]
    headers = dict(sent[0]["headers"])  # type: ignore[call-overload]
    assert headers[b"cache-control"] == b"private, max-age=60"
    assert headers[b"content-security-policy"] == b"sandbox"
    assert headers[b"x-frame-options"] == b"DENY"


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("", ""),
        ("https://tiles.example.org/{z}/{x}/{y}.png", "https://tiles.example.org"),
        ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "https://*.tile.example.org"),
        ("http://10.1.2.3:8080/tiles/{z}/{x}/{y}.png", "http://10.1.2.3:8080"),
        ("javascript:alert(1)", ""),
        ("https://a.example.org; script-src *", ""),
        ("/tiles/{z}/{x}/{y}.png", ""),  # same site: 'self' already covers it
    ],
)
def test_tile_source(url: str, source: str) -> None:
    assert security.tile_source(url) == source


def test_the_map_tile_host_is_allowed_for_images() -> None:
    csp = security.content_security_policy(
        Settings(env="test", map_tile_url="https://{s}.tiles.example.org/{z}/{x}/{y}.png")
    )
    assert "img-src 'self' data: https://*.tiles.example.org;" in csp
    assert "script-src 'self';" in csp


# --------------------------------------------------------------- language switch


@pytest.mark.parametrize(
    ("referer", "location"),
    [
        (None, "/projects"),
        ("http://testserver/households/3?tab=members", "/households/3?tab=members"),
        ("http://testserver/", "/"),
        ("https://evil.example/phish", "/projects"),
        ("http://testserver.evil.example/x", "/projects"),
        ("//evil.example/x", "/projects"),
        ("/\\evil.example/x", "/projects"),
        ("http://testserver//evil.example/x", "/projects"),
        ("http://testserver/\\evil.example", "/projects"),
        ("javascript:alert(1)", "/projects"),
        ("ftp://testserver/x", "/projects"),
        ("/projects/1", "/projects/1"),
    ],
)
def test_language_switch_redirects_only_within_the_site(
    world_app: tuple[TestClient, World], referer: str | None, location: str
) -> None:
    client, _world = world_app
    headers = {"referer": referer} if referer is not None else {}
    r = client.get("/lang/en", headers=headers, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == location
    assert "lang=en" in r.headers["set-cookie"]


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "/\\evil.example", "https://evil.example", "/x/\\evil", "javascript:alert(1)"],
)
def test_login_next_stays_on_the_site(world_app: tuple[TestClient, World], target: str) -> None:
    client, _world = world_app
    login(client, "commander")
    r = client.get("/login", params={"next": target}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/projects"


def test_safe_next_refuses_control_characters() -> None:
    # (over HTTP the edge validation already answers 422 for a control character in a query)
    from anju.identity.pages import _safe_next

    assert _safe_next("/x\r\nSet-Cookie: a=b") == "/projects"
    assert _safe_next("/x\x7f") == "/projects"
    assert _safe_next("/households/1?tab=members") == "/households/1?tab=members"


# --------------------------------------------------------------- API docs


def _no_inline_script(html: str) -> None:
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S)
    assert scripts and all(body.strip() == "" for body in scripts)
    assert all("src=" in tag for tag in re.findall(r"<script\b[^>]*>", html))
    assert not re.search(r"\son[a-z]+=", html)


def test_api_docs_are_open_outside_production_and_start_from_a_script_file(
    world_app: tuple[TestClient, World],
) -> None:
    client, _world = world_app
    r = client.get("/api/docs")
    assert r.status_code == 200
    _no_inline_script(r.text)
    assert '<script src="/static/app/swagger-init.js"></script>' in r.text
    assert 'data-openapi-url="/api/v1/openapi.json"' in r.text
    assert client.get("/static/app/swagger-init.js").status_code == 200
    doc = client.get("/api/v1/openapi.json")
    assert doc.status_code == 200 and doc.json()["info"]["title"] == "安居 Anju API"
    assert doc.headers["cache-control"] == "no-store"


@pytest.fixture
def production_app(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The app in production mode (HTTPS base URL: the session cookie is Secure there)."""
    from anju.config import get_settings
    from anju.main import create_app

    monkeypatch.setenv("ANJU_ENV", "production")
    monkeypatch.setenv("ANJU_SECRET_KEY", "p" * 40)
    monkeypatch.setenv("ANJU_AUDIT_KEYS", "k1:" + "ab" * 32)  # production refuses to start without one
    get_settings.cache_clear()
    settings_env.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(get_settings().effective_database_url)
    with unit_of_work() as db:
        build_world(db, households=1)
    with TestClient(create_app(), base_url="https://testserver") as client:
        yield client


def test_api_docs_need_a_login_in_production(production_app: TestClient) -> None:
    client = production_app
    r = client.get("/api/docs", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/api/docs"
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 401
    assert r.json()["code"] == "not_authenticated" and r.json()["message"] == "请先登录后查看接口文档"
    assert "paths" not in r.text
    login(client, "team_member")
    assert client.get("/api/docs").status_code == 200
    doc = client.get("/api/v1/openapi.json")
    assert doc.status_code == 200 and "/api/v1/auth/login" in doc.json()["paths"]


def test_production_sends_hsts(production_app: TestClient) -> None:
    r = production_app.get("/login")
    assert r.headers["strict-transport-security"] == "max-age=31536000"
    _assert_common(r.headers)


# --------------------------------------------------------------- templates stay CSP-clean

TEMPLATES = Path(__file__).resolve().parents[2] / "src/anju/templates"
_CSP_BREAKERS = [
    (re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I), "inline <script> (use a file under static/app)"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "inline event handler (use a listener in static/app/app.js)"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
    (re.compile(r"\bhx-on", re.I), "hx-on attribute (needs eval)"),
    (
        re.compile(r"""hx-(?:vals|headers)\s*=\s*['"]\s*(?:js|javascript):""", re.I),
        "hx-vals/hx-headers js: (needs eval)",
    ),
    (re.compile(r"<style", re.I), "<style> element (put the rules in static/app/app.css)"),
]


def test_templates_hold_nothing_the_csp_refuses() -> None:
    problems = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            problems += [
                f"{path.relative_to(TEMPLATES)}:{n}: {why}" for rx, why in _CSP_BREAKERS if rx.search(line)
            ]
    assert problems == []


def test_the_template_check_can_fail() -> None:
    bad = '<button onclick="x()">a</button><script>alert(1)</script><a href="javascript:void(0)">'
    assert [why for rx, why in _CSP_BREAKERS if rx.search(bad)] == [
        "inline <script> (use a file under static/app)",
        "inline event handler (use a listener in static/app/app.js)",
        "javascript: URL",
    ]
    assert _CSP_BREAKERS[0][0].search('<script src="/static/app/app.js" defer></script>') is None
