"""Hostile input at the edge: huge and malformed ids, control characters, over-long text.

The routes are enumerated from the application itself, so a new route with an integer path or
query parameter is covered without anyone remembering to add it here. Every case must answer
with a 4xx whose Chinese message names the field, never a 5xx, and must write nothing (row
counts of every table, the audit log included, are compared before and after). The suite runs
on SQLite and, when configured, on PostgreSQL (which refuses NUL in text) and MariaDB.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, func, inspect, select

from anju.db import migrate
from anju.db.session import get_engine, unit_of_work
from anju.household import rules
from anju.identity.rules import ROLE_PERMISSIONS, Role
from anju.web.params import PARAM_LABELS
from tests.api.conftest import login, page_csrf
from tests.conftest import BACKENDS, new_database
from tests.factories import World, build_world, id_number

ROLE = "case_officer"  # holds every household, import and policy permission (admin holds none of them)
BAD_INTS = [str(2**63), str(2**64), "-1", "0", "abc", "9" * 400]
HUGE_PAGE = str(10**12)
# Integer parameters for which 0 is a meaningful value (an event stream that ends after its opening event; the first page).
ZERO_ALLOWED = frozenset({"max_seconds", "offset", "trend"})  # trend: 0 months = no trend attached
NUL, ESC, RLO = "\x00", "\x1b", "\u202e"
LONG = "长" * 100_000


@dataclass
class App:
    client: TestClient
    world: World
    csrf: str
    backend: str


@pytest.fixture(params=BACKENDS)
def app(request: pytest.FixtureRequest, settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """The app on a fresh database of each backend with the standard world, logged in as case officer."""
    from anju.config import get_settings
    from anju.main import create_app

    settings_env.mkdir(parents=True, exist_ok=True)
    url, handle = new_database(request.param, settings_env)
    monkeypatch.setenv("ANJU_DATABASE_URL", url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    try:
        migrate.upgrade(get_settings().effective_database_url)
        with unit_of_work() as db:
            world = build_world(db, households=2)
        with TestClient(create_app(), base_url="http://testserver") as client:
            yield App(client, world, login(client, ROLE), request.param)
    finally:
        get_engine().dispose()
        if handle is not None:
            handle.drop()


def row_counts() -> dict[str, int]:
    """Rows of every table (the audit log, login records and sessions included)."""
    engine = get_engine()
    meta = MetaData()
    meta.reflect(bind=engine)
    with engine.connect() as c:
        return {
            name: int(c.scalar(select(func.count()).select_from(table)) or 0)
            for name, table in meta.tables.items()
            if name not in ("login_attempt", "user_session", "alembic_version")
        }


# ------------------------------------------------------------------ integer parameters


def _walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for r in routes:
        if hasattr(r, "original_router") and hasattr(r, "include_context"):
            inner = list(r.original_router.routes) + list(
                getattr(r.original_router, "_low_priority_routes", [])
            )
            yield from _walk(inner, prefix + r.include_context.prefix)
        else:
            yield prefix + getattr(r, "path", ""), r


def _is_int(annotation: Any) -> bool:
    return annotation is int or str(annotation) in ("int | None", "typing.Optional[int]")


def _role_for(dependant: Any) -> str:
    """A role holding the permission the route declares (the case officer when it holds it)."""
    perms = [p for d in dependant.dependencies if (p := getattr(d.call, "permission", None)) is not None]
    if not perms or perms[0] in ROLE_PERMISSIONS[Role(ROLE)]:
        return ROLE
    return next(r.value for r, granted in ROLE_PERMISSIONS.items() if perms[0] in granted)


def int_params(client: TestClient) -> list[tuple[str, str, str, str, str]]:
    """``(role, method, path, param, where)`` for every integer path or query parameter of the app."""
    out = []
    for path, route in _walk(list(client.app.routes)):  # type: ignore[attr-defined]
        if not isinstance(route, APIRoute):
            continue
        d = route.dependant
        params = [(p, "path") for p in d.path_params] + [(p, "query") for p in d.query_params]
        for method in sorted(route.methods - {"HEAD"}):
            for p, where in params:
                if _is_int(p.field_info.annotation):
                    out.append((_role_for(d), method, path, p.alias, where))
    return sorted(out)


def _fill(path: str, world: World, override: dict[str, str]) -> str:
    good = {
        "project_id": world.project_id,
        "household_id": world.household_ids[0],
        "member_id": world.member_ids[0],
        "child_id": world.member_ids[0],
        "building_id": 1,
        "attachment_id": 1,
        "user_id": world.users[ROLE],
        "job_id": "x",
        "kind": "household",
        "field": "code",
        "lang": "zh",
    }
    return re.sub(r"{(\w+)}", lambda m: str(override.get(m.group(1), good.get(m.group(1), 1))), path)


def test_the_inventory_finds_the_integer_parameters(app: App) -> None:
    found = {(m, p, n) for _, m, p, n, _ in int_params(app.client)}
    # Anchors, so that a walker that finds nothing cannot pass the test below.
    assert ("GET", "/api/v1/households/{household_id}", "household_id") in found
    assert ("GET", "/api/v1/projects/{project_id}/households", "page") in found
    assert ("GET", "/api/v1/projects/{project_id}/households", "size") in found
    assert ("GET", "/projects/{project_id}/households", "page") in found
    assert ("POST", "/members/{child_id}/void", "child_id") in found
    assert ("GET", "/projects/{project_id}/policy/diff", "old") in found
    assert len(found) >= 60


def test_out_of_range_and_malformed_integers_are_422_naming_the_parameter(app: App) -> None:
    client, world = app.client, app.world
    before = row_counts()
    failures = []
    role = ROLE
    csrf = app.csrf
    for needs, method, path, name, where in int_params(client):
        if needs != role:
            client.cookies.clear()
            role, csrf = needs, login(client, needs)
        for bad in [*BAD_INTS, *([HUGE_PAGE] if name == "page" else [])]:
            if bad == "0" and name in ZERO_ALLOWED:
                continue
            url = _fill(path, world, {name: bad} if where == "path" else {})
            params = {name: bad} if where == "query" else {}
            if where == "query" and name in ("old", "new"):
                params = {"old": "1", "new": "1", name: bad}
            r = client.request(method, url, params=params, headers={"X-CSRF-Token": csrf})
            label = PARAM_LABELS.get(name, name)
            if r.status_code != 422 or label not in r.text or "Traceback" in r.text:
                failures.append(f"{method} {url} {params}: {r.status_code} {r.text[:200]}")
    assert failures == []
    assert row_counts() == before


def test_the_message_says_what_is_allowed(app: App) -> None:
    r = app.client.get(f"/api/v1/households/{2**63}")
    assert r.status_code == 422
    assert r.json()["details"] == [{"field": "household_id", "message": "户编号不能大于9007199254740991"}]
    r = app.client.get(
        f"/api/v1/projects/{app.world.project_id}/households", params={"page": "0", "size": "500"}
    )
    assert [d["message"] for d in r.json()["details"]] == ["页码不能小于1", "每页条数不能大于200"]
    r = app.client.get("/api/v1/households/abc")
    assert r.json()["message"] == "请求参数有误：户编号应为整数"
    r = app.client.get("/households/" + "9" * 400)
    assert r.status_code == 422 and "户编号超出范围（400位数字）" in r.text


# ------------------------------------------------------------------ text in forms


def _version(client: TestClient, household_id: int) -> int:
    version: int = client.get(f"/api/v1/households/{household_id}").json()["version"]
    return version


def _text_fields(fields: tuple[rules.Field, ...]) -> list[rules.Field]:
    return [f for f in fields if f.parse.__qualname__.startswith("_text_max")]


def _max_len(f: rules.Field) -> int:
    cells = dict(
        zip(f.parse.__code__.co_freevars, (c.cell_contents for c in f.parse.__closure__ or ()), strict=True)
    )
    n = cells["n"]
    assert isinstance(n, int)
    return n


def _expected(value: str, f: rules.Field) -> str:
    if value == LONG:
        return f"{f.label}：不能超过{_max_len(f)}个字（现有100000个字）"
    code = {NUL: "U+0000（空字符 NUL）", ESC: "U+001B（转义符 ESC）", RLO: "U+202E（文字方向控制符"}[value]
    return f"{f.label}：含有不可见的控制字符：第3个字符是 {code}"


FORM_BASE: dict[str, dict[str, str]] = {
    "household": {"code": "H0001", "head_name": "张建国", "address": "青溪路1号"},
    "member": {"name": "张小明", "relation": "子女", "id_number": id_number(77, date(2001, 2, 3))},
    "building": {"structure": "砖混", "use": "住宅", "legal_area": "10.00"},
    "tenant": {"name": "青溪小卖部", "kind": "企业"},
    "homestead": {"area": "120.00"},
    "valuation": {"firm": "青溪评估", "assessed_unit_price": "1000", "assessed_value": "10000"},
}


def _form_targets(world: World) -> list[tuple[str, str, tuple[rules.Field, ...]]]:
    hid, mid = world.household_ids[0], world.member_ids[0]
    return [
        ("household", f"/households/{hid}/edit", rules.HOUSEHOLD_FIELDS),
        ("member", f"/households/{hid}/members", rules.MEMBER_FIELDS),
        ("member", f"/members/{mid}/edit", rules.MEMBER_FIELDS),
        ("building", f"/households/{hid}/buildings", rules.BUILDING_FIELDS),
        ("building", "/buildings/1/edit", rules.BUILDING_FIELDS),
        ("tenant", f"/households/{hid}/tenants", rules.TENANT_FIELDS),
        ("homestead", f"/households/{hid}/homestead", rules.HOMESTEAD_FIELDS),
        ("valuation", "/buildings/1/valuations", rules.VALUATION_FIELDS),
    ]


def test_forms_refuse_control_characters_and_long_text_naming_the_field(app: App) -> None:
    client, world = app.client, app.world
    csrf = page_csrf(client.get(f"/households/{world.household_ids[0]}/edit").text)
    before = row_counts()
    failures = []
    for kind, url, fields in _form_targets(world):
        for f in _text_fields(fields):
            for bad in (NUL, ESC, RLO, LONG):
                value = bad if bad == LONG else f"张三{bad}丰"
                form = {**FORM_BASE[kind], f.name: value, "csrf_token": csrf, "reason": "核对"}
                if kind == "household":
                    form["version"] = str(_version(client, world.household_ids[0]))
                r = client.post(url, data=form)
                want = _expected(bad, f)
                if r.status_code != 422 or want not in r.text:
                    failures.append(f"{url} {f.name} {bad[:3]!r}: {r.status_code} {want}")
    assert failures == []
    assert row_counts() == before


def test_a_reason_over_500_characters_is_refused_not_cut(app: App) -> None:
    client, world = app.client, app.world
    hid, mid = world.household_ids[0], world.member_ids[0]
    csrf = page_csrf(client.get(f"/households/{hid}/edit").text)
    before = row_counts()
    reason = "理" * 100_000
    want = "理由不能超过500个字（现有100000个字）"
    form = {**FORM_BASE["household"], "head_name": "张建设", "reason": reason, "csrf_token": csrf}
    r = client.post(f"/households/{hid}/edit", data={**form, "version": str(_version(client, hid))})
    assert r.status_code == 422 and want in r.text
    unchanged = {**FORM_BASE["household"], "reason": reason, "csrf_token": csrf}
    r = client.post(f"/households/{hid}/edit", data={**unchanged, "version": str(_version(client, hid))})
    assert r.status_code == 422 and want in r.text  # even when nothing would change
    r = client.post(f"/members/{mid}/void", data={"reason": reason, "csrf_token": csrf})
    assert r.status_code == 422 and want in r.text
    r = client.post(f"/members/{mid}/void", data={"reason": f"死亡{NUL}", "csrf_token": csrf})
    assert r.status_code == 422 and "理由含有不可见的控制字符：第3个字符是 U+0000（空字符 NUL）" in r.text
    headers = {"X-CSRF-Token": app.csrf}
    body = {"head_name": "张建设", "version": _version(client, hid)}
    r = client.patch(f"/api/v1/households/{hid}", json={**body, "reason": reason}, headers=headers)
    assert r.status_code == 422
    assert r.json()["details"] == [{"field": "reason", "message": want}]
    r = client.post(f"/api/v1/members/{mid}/void", json={"reason": reason}, headers=headers)
    assert r.status_code == 422 and r.json()["details"][0]["message"] == want
    assert row_counts() == before
    # Exactly 500 is kept whole.
    r = client.patch(f"/api/v1/households/{hid}", json={**body, "reason": "理" * 500}, headers=headers)
    assert r.status_code == 200, r.text
    history = client.get(f"/api/v1/households/{hid}/history").json()
    assert history[0]["reason"] == "理" * 500


# ------------------------------------------------------------------ text in JSON bodies


def _api_bodies(world: World) -> list[tuple[str, str, dict[str, Any]]]:
    hid, pid, mid = world.household_ids[0], world.project_id, world.member_ids[0]
    return [
        (
            "POST",
            f"/api/v1/projects/{pid}/households",
            {"code": "H0999", "head_name": "新户", "address": "青溪路9号"},
        ),
        ("PATCH", f"/api/v1/households/{hid}", {"head_name": "张建国", "version": 1}),
        ("POST", f"/api/v1/households/{hid}/members", dict(FORM_BASE["member"])),
        ("PATCH", f"/api/v1/members/{mid}", {"name": "张建国"}),
        ("POST", f"/api/v1/households/{hid}/buildings", dict(FORM_BASE["building"])),
        ("PATCH", "/api/v1/buildings/1", {"structure": "砖混"}),
        ("POST", "/api/v1/buildings/1/valuations", dict(FORM_BASE["valuation"])),
        ("POST", f"/api/v1/households/{hid}/tenants", dict(FORM_BASE["tenant"])),
        ("PUT", f"/api/v1/households/{hid}/homestead", dict(FORM_BASE["homestead"])),
    ]


def _api_text_fields(client: TestClient, method: str, path: str) -> dict[str, dict[str, Any]]:
    """The string properties of the operation's request body, from the OpenAPI document."""
    spec = client.get("/api/v1/openapi.json").json()
    for p, ops in spec["paths"].items():
        if re.fullmatch(re.sub(r"{\w+}", r"\\d+", p), path) and method.lower() in ops:
            ref = ops[method.lower()]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
            out = {}
            for name, prop in schema["properties"].items():
                branches = prop.get("anyOf", [prop])
                text = [b for b in branches if b.get("type") == "string" and "maxLength" in b]
                if text:
                    out[name] = text[0]
            return out
    raise AssertionError(f"{method} {path} not in the OpenAPI document")


def test_json_bodies_refuse_control_characters_and_long_text_naming_the_field(app: App) -> None:
    client, world = app.client, app.world
    headers = {"X-CSRF-Token": app.csrf}
    before = row_counts()
    failures = []
    seen = 0
    for method, path, base in _api_bodies(world):
        for name, schema in _api_text_fields(client, method, path).items():
            seen += 1
            for bad in (NUL, ESC, RLO, LONG):
                value = bad if bad == LONG else f"张三{bad}丰"
                r = client.request(method, path, json={**base, name: value}, headers=headers)
                messages = [d["message"] for d in r.json().get("details", [])] if r.status_code == 422 else []
                if bad == LONG:
                    want = f"不能超过{schema['maxLength']}个字（现有100000个字）"
                else:
                    want = "含有不可见的控制字符：第3个字符是 U+"
                if not any(want in m for m in messages) or "Traceback" in r.text:
                    failures.append(f"{method} {path} {name} {bad[:3]!r}: {r.status_code} {r.text[:160]}")
    assert seen >= 25
    assert failures == []
    assert row_counts() == before


def test_newlines_are_kept_in_multi_line_text_only(app: App) -> None:
    client, world = app.client, app.world
    hid = world.household_ids[0]
    headers = {"X-CSRF-Token": app.csrf}
    version = _version(client, hid)
    r = client.patch(
        f"/api/v1/households/{hid}",
        json={"remark": "第一行\n第二行\t完", "version": version},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/households/{hid}").json()["remark"] == "第一行\n第二行\t完"
    r = client.patch(
        f"/api/v1/households/{hid}", json={"head_name": "张\n建国", "version": version + 1}, headers=headers
    )
    assert r.status_code == 422
    assert (
        r.json()["details"][0]["message"]
        == "户主姓名含有不可见的控制字符：第2个字符是 U+000A（换行符），请删除后重试"
    )


def test_login_with_control_characters_is_refused_without_a_500(app: App) -> None:
    client = app.client
    client.cookies.clear()
    r = client.post("/api/v1/auth/login", json={"username": f"case{NUL}officer", "password": "x"})
    assert r.status_code == 422
    assert r.json()["details"][0]["message"].startswith("用户名含有不可见的控制字符")
    r = client.post("/login", data={"username": f"case{NUL}officer", "password": "x"})
    assert r.status_code < 500


# ------------------------------------------------------------------ policy sources


def test_policy_sources_with_control_characters_name_line_and_column(app: App) -> None:
    client, world = app.client, app.world
    before = row_counts()
    source = "name: 测试方案\neffective_on: 2026-01-01\nlegal_ref: 第1号\x1b\n"
    r = client.post(
        f"/api/v1/projects/{world.project_id}/policies",
        json={"source": source},
        headers={"X-CSRF-Token": app.csrf},
    )
    assert r.status_code == 422
    problem = r.json()["details"][0]
    assert (problem["line"], problem["column"], problem["code"]) == (3, 15, "control_char")
    assert problem["message"] == "含有不可见的控制字符 U+001B（转义符 ESC），请删除"
    csrf = page_csrf(client.get(f"/projects/{world.project_id}/policy").text)
    r = client.post(
        f"/projects/{world.project_id}/policy",
        files={"file": ("p.yaml", source.encode(), "application/x-yaml")},
        data={"csrf_token": csrf},
    )
    assert r.status_code == 422
    assert "含有不可见的控制字符 U+001B（转义符 ESC）" in r.text and "3" in r.text
    r = client.post(
        f"/api/v1/projects/{world.project_id}/policies",
        json={"source": "a: [" * 3000},
        headers={"X-CSRF-Token": app.csrf},
    )
    assert r.status_code == 422 and "嵌套层次过深" in r.text
    assert row_counts() == before


def test_the_audit_log_is_unchanged_by_refused_input(app: App) -> None:
    # A direct check on the table the issue names, beside the row counts above.
    engine = get_engine()
    table = "audit_record"
    assert table in inspect(engine).get_table_names()
    with engine.connect() as c:
        before = c.scalar(select(func.count()).select_from(_table(table)))
    app.client.patch(
        f"/api/v1/households/{app.world.household_ids[0]}",
        json={"head_name": f"张{NUL}", "reason": "x", "version": 1},
        headers={"X-CSRF-Token": app.csrf},
    )
    with engine.connect() as c:
        after = c.scalar(select(func.count()).select_from(_table(table)))
    assert after == before


def _table(name: str) -> Any:
    meta = MetaData()
    meta.reflect(bind=get_engine(), only=[name])
    return meta.tables[name]


# ------------------------------------------------------------------ text in query strings


def str_params(client: TestClient) -> list[tuple[str, str, str, str]]:
    """``(role, method, path, param)`` for every text query parameter of a GET route."""
    out = []
    for path, route in _walk(list(client.app.routes)):  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and "GET" in route.methods:
            for p in route.dependant.query_params:
                if p.field_info.annotation in (str, str | None):
                    out.append((_role_for(route.dependant), "GET", path, p.alias))
    return sorted(out)


def test_control_characters_and_long_values_in_query_strings_are_422_naming_the_parameter(app: App) -> None:
    client, world = app.client, app.world
    found = str_params(client)
    assert ("case_officer", "GET", "/projects/{project_id}/households", "q") in found
    before = row_counts()
    failures = []
    role = ROLE
    for needs, method, path, name in found:
        if needs != role:
            client.cookies.clear()
            role = needs
            login(client, needs)
        for bad in (NUL, ESC, RLO, "长" * 5000):
            url = _fill(path, world, {})
            r = client.request(method, url, params={name: f"张{bad}"})
            label = PARAM_LABELS.get(name, f"查询参数“{name}”")
            want = (
                f"{label}不能超过2000个字" if len(bad) > 1 else f"{label}含有不可见的控制字符：第2个字符是 U+"
            )
            if r.status_code != 422 or want not in r.text:
                failures.append(f"{method} {url} {name}={bad[:3]!r}: {r.status_code}")
    assert failures == []
    assert row_counts() == before


def test_user_accounts_refuse_control_characters(app: App) -> None:
    client = app.client
    client.cookies.clear()
    login(client, "admin")
    csrf = page_csrf(client.get("/users").text)
    before = row_counts()
    for field in ("username", "display_name"):
        form = {
            "username": "zhangsan",
            "display_name": "张三",
            "role": "team_member",
            "password": "Good-Passw0rd!",
        }
        form[field] = f"张三{NUL}"
        r = client.post("/users", data={**form, "csrf_token": csrf})
        label = {"username": "用户名", "display_name": "姓名"}[field]
        assert r.status_code == 422
        assert f"{label}含有不可见的控制字符：第3个字符是 U+0000（空字符 NUL）" in r.text
    assert row_counts() == before


def test_a_body_that_cannot_be_parsed_is_a_422_in_chinese(app: App) -> None:
    """schemathesis found a malformed multipart body answered with Starlette's bare 400 in English."""
    before = row_counts()
    boundary = "ae0cb1b590afc3bee69dea212887ae28"
    broken = f"--{boundary}\r\n4.88e+16--{boundary}--\r\n".encode()
    r = app.client.post(
        f"/api/v1/projects/{app.world.project_id}/census",
        content=broken,
        headers={"X-CSRF-Token": app.csrf, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "validation_failed"
    assert body["message"] == "请求参数有误：请求体无法解析（应为 UTF-8 编码的 JSON、表单或文件上传）"
    assert body["details"] == [
        {"field": "body", "message": "请求体无法解析（应为 UTF-8 编码的 JSON、表单或文件上传）"}
    ]
    assert row_counts() == before
