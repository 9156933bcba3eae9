"""The role x action permission matrix, data scopes, CSRF, login throttling and sessions.

Every route of the application is enumerated from the app itself (pages and ``/api/v1``) with
the permission its ``requires(...)`` dependency declares, so a new route is covered (or the
inventory test fails) without anyone remembering to add it here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from starlette.routing import Mount

import anju
from anju.db.session import unit_of_work
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.identity.rules import ROLE_PERMISSIONS, WRITE_PERMISSIONS, Permission, Role
from tests.api.conftest import login, page_csrf
from tests.factories import ACTOR, PASSWORD, World, id_number

HEADS = ["张建国", "李秀英", "王志强", "刘桂兰", "陈国华", "杨丽娟"]  # tests.factories.build_world
ALL_SCOPE = identity_service.DataScope.everything()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
FORBIDDEN_ZH = "您没有执行此操作的权限"
CSRF_ZH = "页面已过期或请求来源无效"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Routes that need no permission: login/logout, language switch, health, docs, static files.
PUBLIC_EXACT = frozenset(
    {
        ("GET", "/"),
        ("GET", "/login"),
        ("POST", "/login"),
        ("POST", "/logout"),
        ("GET", "/lang/{lang}"),
        ("GET", "/healthz"),
        ("GET", "/api/docs"),
        ("GET", "/docs/oauth2-redirect"),  # Swagger UI's OAuth helper page, static HTML
        ("GET", "/api/v1/openapi.json"),
    }
)
PUBLIC_PREFIXES = ("/static", "/api/v1/auth/")
# POST routes that read (and are audited as reads) rather than change facts.
READ_VIA_POST = frozenset({("POST", "/members/{member_id}/reveal"), ("POST", "/validate/{kind}/{field}")})


# --------------------------------------------------------------- route inventory


@dataclass(frozen=True)
class RouteInfo:
    """One (method, path) of the app and the permission its ``requires`` dependency declares."""

    method: str
    path: str
    permissions: tuple[Permission, ...]
    is_api: bool
    required_query: tuple[str, ...] = ()

    @property
    def permission(self) -> Permission | None:
        return self.permissions[0] if self.permissions else None

    @property
    def params(self) -> list[str]:
        return re.findall(r"{([^}:]+)(?::[^}]*)?}", self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _declared_permissions(dependant: Any) -> list[Permission]:
    out: list[Permission] = []
    for sub in dependant.dependencies:
        perm = getattr(sub.call, "permission", None)
        if perm is not None:
            out.append(perm)
        out.extend(_declared_permissions(sub))
    return out


def _required_query(dependant: Any) -> list[str]:
    out = [p.alias for p in dependant.query_params if p.field_info.is_required()]
    for sub in dependant.dependencies:
        out.extend(_required_query(sub))
    return out


def _walk(routes: list[Any], prefix: str, extra: list[Permission]) -> Iterator[tuple[str, Any, list[Permission]]]:
    for r in routes:
        if hasattr(r, "original_router") and hasattr(r, "include_context"):
            # FastAPI >= 0.16x keeps included routers lazily; the prefix lives in the include context.
            ctx = r.include_context
            perms = extra + [p for d in ctx.dependencies if (p := getattr(d.dependency, "permission", None))]
            inner = list(r.original_router.routes) + list(getattr(r.original_router, "_low_priority_routes", []))
            yield from _walk(inner, prefix + ctx.prefix, perms)
        else:
            yield prefix, r, extra


def app_routes(app: FastAPI) -> list[RouteInfo]:
    """Every (method, path, permission) of ``app``; mounts are listed with method ``MOUNT``."""
    out: list[RouteInfo] = []
    for prefix, r, extra in _walk(list(app.routes), "", []):
        path = prefix + r.path
        if isinstance(r, Mount):
            out.append(RouteInfo("MOUNT", path, (), False))
            continue
        perms = list(extra)
        query: list[str] = []
        if isinstance(r, APIRoute):
            perms += _declared_permissions(r.dependant)
            query = _required_query(r.dependant)
        for method in sorted((getattr(r, "methods", None) or set()) - {"HEAD"}):
            out.append(
                RouteInfo(method, path, tuple(dict.fromkeys(perms)), path.startswith("/api/"), tuple(query))
            )
    return out


def is_public(route: RouteInfo) -> bool:
    return (route.method, route.path) in PUBLIC_EXACT or route.path.startswith(PUBLIC_PREFIXES)


@pytest.fixture(scope="module")
def routes() -> list[RouteInfo]:
    from anju.main import create_app

    return app_routes(create_app())


def protected(routes: list[RouteInfo]) -> list[RouteInfo]:
    return [r for r in routes if not is_public(r)]


def test_inventory_finds_the_known_routes(routes: list[RouteInfo]) -> None:
    by_key = {(r.method, r.path): r.permission for r in routes}
    # A few anchors, so that a broken walker (finding nothing) cannot pass the checks below.
    assert by_key[("GET", "/projects")] is Permission.PROJECT_READ
    assert by_key[("GET", "/api/v1/projects/{project_id}/households")] is Permission.HOUSEHOLD_READ
    assert by_key[("PATCH", "/api/v1/members/{member_id}")] is Permission.HOUSEHOLD_WRITE
    assert by_key[("POST", "/households/{household_id}/attachments")] is Permission.ATTACHMENT_WRITE
    assert by_key[("POST", "/members/{member_id}/reveal")] is Permission.PII_READ
    assert by_key[("GET", "/api/v1/audit/verify")] is Permission.AUDIT_VERIFY
    assert by_key[("GET", "/audit")] is Permission.AUDIT_READ
    assert ("MOUNT", "/static") in by_key
    assert len(protected(routes)) >= 45


def test_every_route_declares_a_permission_or_is_allow_listed(routes: list[RouteInfo]) -> None:
    undeclared = [str(r) for r in routes if not r.permissions and not is_public(r)]
    assert undeclared == [], "routes without requires(...) that are not allow-listed"
    # exactly one permission per route: two would make the matrix ambiguous
    assert [str(r) for r in routes if len(r.permissions) > 1] == []
    # the allow-list must not hide a route that does declare one
    assert [str(r) for r in routes if is_public(r) and r.permissions] == []


def test_unsafe_routes_write_or_are_known_reads(routes: list[RouteInfo]) -> None:
    odd = [
        str(r)
        for r in protected(routes)
        if r.method in UNSAFE and r.permission not in WRITE_PERMISSIONS and (r.method, r.path) not in READ_VIA_POST
    ]
    assert odd == []


# --------------------------------------------------------------- targets and requests


def _commit(fn: Callable[[Any], Any]) -> Any:
    with unit_of_work() as db:
        return fn(db)


@dataclass
class Targets:
    """Ids of one household and its child records, used to fill path parameters."""

    project_id: int
    block_id: int
    household_id: int
    member_id: int
    building_id: int
    tenant_id: int
    attachment_id: int
    user_id: int
    head_name: str
    code: str
    serial: list[int] = field(default_factory=lambda: [500])

    def next_serial(self) -> int:
        self.serial[0] += 1
        return self.serial[0]

    # Spare children, so that voiding one does not take away what the next route needs.
    def spare(self, kind: str) -> int:
        hid = self.household_id
        n = self.next_serial()
        if kind == "member":
            return int(
                _commit(
                    lambda db: household_service.add_member(
                        db, actor=ACTOR, scope=ALL_SCOPE, household_id=hid,
                        data={"name": f"备用{n}", "relation": "子女", "id_number": id_number(n, date(2001, 2, 3))},
                    ).id
                )
            )
        if kind == "building":
            return int(
                _commit(
                    lambda db: household_service.add_building(
                        db, actor=ACTOR, scope=ALL_SCOPE, household_id=hid,
                        data={"structure": "砖木", "use": "住宅", "legal_area": "10.00"},
                    ).id
                )
            )
        if kind == "tenant":
            return _tenant(hid, f"备用承租人{n}")
        if kind == "attachment":
            return _attachment(hid, PNG + str(n).encode())
        raise AssertionError(f"no spare for {kind}")


def _tenant(hid: int, name: str) -> int:
    return int(
        _commit(
            lambda db: household_service.add_tenant(
                db, actor=ACTOR, scope=ALL_SCOPE, household_id=hid,
                data={"name": name, "kind": "企业", "credential": "91330100MA2XXXXX1X", "area": "20.00"},
            ).id
        )
    )


def _attachment(hid: int, content: bytes) -> int:
    return int(
        _commit(
            lambda db: household_service.add_attachment(
                db, actor=ACTOR, scope=ALL_SCOPE, household_id=hid, filename="现场照片.png",
                content_type="image/png", content=content, kind="photo",
            ).id
        )
    )


def publish_example_policy(world: World) -> None:
    """Publish the state-land example plan, so the calculation routes have something to compute."""
    from anju.compensation import service as compensation_service

    source = (Path(anju.__file__).parent / "policy" / "examples" / "state_land.yaml").read_text(encoding="utf-8")
    _commit(
        lambda db: compensation_service.publish(
            db, actor=ACTOR, project_id=world.project_id, source=source, file_name="state_land.yaml"
        )
    )


def targets_for(world: World, index: int) -> Targets:
    """Targets for ``world.household_ids[index]`` (adds a tenant and an attachment to it).

    The first call for a world also publishes the example policy.
    """
    hid = world.household_ids[index]
    if not getattr(world, "_policy_published", False):
        publish_example_policy(world)
        world._policy_published = True  # type: ignore[attr-defined]
    building_id = _commit(
        lambda db: household_service.get_household_file(db, scope=ALL_SCOPE, household_id=hid).buildings[0].building.id
    )
    return Targets(
        project_id=world.project_id,
        block_id=world.block_ids["E"],
        household_id=hid,
        member_id=world.member_ids[index],
        building_id=int(building_id),
        tenant_id=_tenant(hid, f"承租人{index}"),
        attachment_id=_attachment(hid, PNG + f"main{index}".encode()),
        user_id=world.users["department"],
        head_name=HEADS[index],
        code=f"H{index + 1:04d}",
        serial=[500 + 100 * index],
    )


# Parameters naming things the test world does not hold (a census import job lives in server memory):
# a call with them can only be checked for the permission, not for success.
PLACEHOLDER_PARAMS = {"job_id": "no-such-job"}
# Values of required query parameters.
QUERY_VALUES = {"option": "cash", "old": 1, "new": 1}
CHILD_KIND = {"members": "member", "buildings": "building", "tenants": "tenant", "attachments": "attachment"}


def path_values(route: RouteInfo, t: Targets, *, spare: bool) -> dict[str, Any]:
    """Realistic values for every path parameter; an unknown parameter name fails the test."""
    first = route.path.removeprefix("/api/v1").split("/")[1]
    values: dict[str, Any] = {}
    for name in route.params:
        if name == "child_id" or (name.endswith("_id") and name[:-3] == CHILD_KIND.get(first)):
            kind = CHILD_KIND[first] if name == "child_id" else name[:-3]
            values[name] = t.spare(kind) if spare else getattr(t, f"{kind}_id")
        elif name in ("project_id", "household_id", "member_id", "building_id", "tenant_id", "attachment_id",
                      "block_id", "user_id"):
            values[name] = getattr(t, name)
        elif name == "kind":
            values[name] = "member"
        elif name == "field":
            values[name] = "id_number"
        elif name == "lang":
            values[name] = "zh"
        elif name in PLACEHOLDER_PARAMS:
            values[name] = PLACEHOLDER_PARAMS[name]
        else:
            raise AssertionError(f"{route}: no test value for path parameter {name!r}; add one here")
    return values


@dataclass
class Call:
    """One prepared request."""

    method: str
    url: str
    kwargs: dict[str, Any]
    specified: bool  # a realistic body is known, so the call must succeed when permitted


def _page_form(route: RouteInfo, t: Targets) -> dict[str, Any] | None:
    n = t.next_serial()
    p = route.path
    if p == "/households/{household_id}/edit":
        return {"code": t.code, "head_name": t.head_name, "address": "青溪路1号之一",
                "contact_phone": "13900000001", "remark": "", "reason": "核对地址"}
    if p == "/households/{household_id}/members":
        return {"name": f"新成员{n}", "relation": "子女", "id_number": id_number(n, date(2010, 1, 2)), "phone": ""}
    if p == "/members/{child_id}/edit":
        return {"name": t.head_name, "relation": "户主", "id_number": "", "phone": f"139{n:08d}", "reason": "换号"}
    if p in ("/households/{household_id}/buildings", "/buildings/{child_id}/edit"):
        return {"structure": "砖混", "use": "住宅", "legal_area": "66.60", "reason": "测绘"}
    if p == "/households/{household_id}/tenants":
        return {"name": f"承租企业{n}", "kind": "enterprise", "area": "30.00"}
    if p == "/households/{household_id}/homestead":
        return {"area": "120.00", "approved_year": "1998", "certificate_no": "ZJD-1"}
    if p == "/buildings/{building_id}/valuations":
        return {"firm": "青溪评估", "assessed_unit_price": "8000.00", "assessed_value": "708000.00"}
    if p.endswith("/void"):
        return {"reason": "登记错误"}
    if p == "/validate/{kind}/{field}":
        return {"id_number": "330102198005170011"}
    if p == "/members/{member_id}/reveal":
        return {}
    if p == "/users":
        return {"username": f"new_user_{n}", "display_name": f"新用户{n}", "role": "grid_worker",
                "password": "Strong-Passw0rd!"}
    if p == "/users/{user_id}/active":
        return {"active": "false"}
    return None


def _api_json(route: RouteInfo, t: Targets) -> dict[str, Any] | None:
    n = t.next_serial()
    key = (route.method, route.path.removeprefix("/api/v1"))
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/projects/{project_id}/households"): {
            "code": f"N{n}", "head_name": "新户主", "address": f"青溪路{n}号", "block_id": t.block_id,
        },
        ("PATCH", "/households/{household_id}"): {"contact_phone": f"137{n:08d}", "reason": "更新"},
        ("POST", "/households/{household_id}/members"): {
            "name": f"新成员{n}", "relation": "子女", "id_number": id_number(n, date(2012, 3, 4)),
        },
        ("PATCH", "/members/{member_id}"): {"phone": f"136{n:08d}", "reason": "换号"},
        ("POST", "/members/{member_id}/void"): {"reason": "登记错误"},
        ("POST", "/households/{household_id}/buildings"): {"structure": "简易", "use": "非住宅", "legal_area": "12.30"},
        ("PATCH", "/buildings/{building_id}"): {"legal_area": "90.10", "reason": "复测"},
        ("POST", "/buildings/{building_id}/valuations"): {
            "firm": "青溪评估", "assessed_unit_price": "7000.00", "assessed_value": "619500.00",
        },
        ("POST", "/households/{household_id}/tenants"): {"name": f"承租人{n}", "kind": "个人"},
        ("PUT", "/households/{household_id}/homestead"): {"area": "150.00"},
    }
    return bodies.get(key)


def prepare(route: RouteInfo, t: Targets, csrf: str | None, *, spare: bool = True) -> Call:
    """A realistic request for ``route``; ``csrf`` None sends no token at all."""
    url = route.path.format(**path_values(route, t, spare=spare and route.path.endswith("/void")))
    kwargs: dict[str, Any] = {"follow_redirects": False}
    specified = not set(route.params) & set(PLACEHOLDER_PARAMS)
    query = {}
    for name in route.required_query:
        if name not in QUERY_VALUES:
            raise AssertionError(f"{route}: no test value for query parameter {name!r}; add one to QUERY_VALUES")
        query[name] = QUERY_VALUES[name]
    if route.path == "/api/v1/projects/{project_id}/households":
        query["q"] = "建国"
    if query:
        kwargs["params"] = query
    if route.method == "GET":
        return Call("GET", url, kwargs, specified)
    if route.is_api:
        body = _api_json(route, t)
        specified = specified and body is not None
        kwargs["json"] = body or {}
        if csrf is not None:
            kwargs["headers"] = {"X-CSRF-Token": csrf}
        return Call(route.method, url, kwargs, specified)
    form = _page_form(route, t)
    specified = specified and form is not None
    data = dict(form or {})
    if csrf is not None:
        data["csrf_token"] = csrf
    if route.path == "/households/{household_id}/attachments":
        kwargs["files"] = {"file": ("照片.png", PNG + str(t.next_serial()).encode(), "image/png")}
        data["kind"] = "photo"
        specified = True
    kwargs["data"] = data
    return Call(route.method, url, kwargs, specified)


def send(client: TestClient, call: Call) -> Any:
    return client.request(call.method, call.url, **call.kwargs)


def assert_forbidden(route: RouteInfo, r: Any) -> None:
    assert r.status_code == 403, f"{route}: expected 403, got {r.status_code} {r.text[:200]}"
    if route.is_api:
        assert r.json()["code"] == "permission_denied", f"{route}: {r.text[:200]}"
    else:
        assert r.headers["content-type"].startswith("text/html"), route
        assert FORBIDDEN_ZH in r.text, f"{route}: no Chinese refusal in page"


# --------------------------------------------------------------- snapshots


FACT_TABLES = (
    "household", "member", "building", "valuation", "tenant", "homestead", "attachment", '"user"', "team",
    "household_assignment",
)


def snapshot() -> dict[str, Any]:
    """Every row of the household-fact tables plus the audit record count."""
    with unit_of_work() as db:
        out: dict[str, Any] = {
            t: sorted(tuple(map(str, row)) for row in db.execute(text(f"SELECT * FROM {t}")))
            for t in FACT_TABLES
        }
        out["audit_count"] = db.scalar(text("SELECT COUNT(*) FROM audit_record"))
        out["session_count"] = db.scalar(text("SELECT COUNT(*) FROM user_session"))
    return out


def audit_count() -> int:
    with unit_of_work() as db:
        return int(db.scalar(text("SELECT COUNT(*) FROM audit_record")) or 0)


# --------------------------------------------------------------- the matrix


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_permission_matrix(
    role: str, routes: list[RouteInfo], client_as: Callable[[str], tuple[TestClient, str, World]]
) -> None:
    """Each role against every protected route: 403 without the permission, success with it."""
    client, csrf, world = client_as(role)
    t = targets_for(world, 0)  # inside the team member's and the team's assignment
    granted = ROLE_PERMISSIONS[Role(role)]
    problems: list[str] = []
    checked = 0
    for route in protected(routes):
        if route.method == "MOUNT":
            continue
        call = prepare(route, t, csrf)
        r = send(client, call)
        checked += 1
        if route.permission not in granted:
            try:
                assert_forbidden(route, r)
            except AssertionError as exc:
                problems.append(str(exc))
        elif r.status_code in (401, 403) or r.status_code >= 500:
            problems.append(f"{route}: permitted but got {r.status_code} {r.text[:200]}")
        elif call.specified and r.status_code >= 400:
            problems.append(f"{route}: permitted realistic call failed {r.status_code} {r.text[:300]}")
    assert problems == []
    assert checked == len([r for r in protected(routes) if r.method != "MOUNT"])


def test_anonymous_is_sent_to_login_or_gets_401(
    routes: list[RouteInfo], world_app: tuple[TestClient, World]
) -> None:
    client, world = world_app
    t = targets_for(world, 0)
    before = snapshot()
    for route in protected(routes):
        if route.method == "MOUNT":
            continue
        r = send(client, prepare(route, t, "whatever", spare=False))
        if route.is_api:
            assert r.status_code == 401 and r.json()["code"] == "not_authenticated", route
        else:
            assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), route
    assert snapshot() == before


def test_allow_listed_auth_routes_still_need_a_session(world_app: tuple[TestClient, World]) -> None:
    client, _world = world_app
    assert client.get("/api/v1/auth/me").status_code == 401
    r = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": "x"})
    assert r.status_code == 401
    assert client.get("/healthz").json() == {"status": "ok"}


# --------------------------------------------------------------- auditor


def test_auditor_cannot_write_anything(
    routes: list[RouteInfo], client_as: Callable[[str], tuple[TestClient, str, World]]
) -> None:
    client, csrf, world = client_as("auditor")
    assert not (ROLE_PERMISSIONS[Role.AUDITOR] & WRITE_PERMISSIONS)
    t = targets_for(world, 0)
    before = snapshot()
    writes = [r for r in protected(routes) if r.method in UNSAFE and (r.method, r.path) not in READ_VIA_POST]
    assert len(writes) >= 20
    for route in writes:
        r = send(client, prepare(route, t, csrf, spare=False))
        assert_forbidden(route, r)
    after = snapshot()
    assert after == before
    # ...while reading works, including the audit log and the chain verification
    assert client.get(f"/households/{t.household_id}?tab=history").status_code == 200
    assert client.get("/api/v1/audit/verify").json()["ok"] is True
    assert client.get("/audit").status_code == 200


# --------------------------------------------------------------- data scope


def _outside_and_inside(world: World) -> tuple[Targets, Targets]:
    # households[2] is the team's but not the member's own; households[5] is nobody's
    return targets_for(world, 2), targets_for(world, 0)


def _id_routes(routes: list[RouteInfo]) -> list[RouteInfo]:
    keys = {"household_id", "member_id", "building_id", "tenant_id", "attachment_id", "child_id"}
    return [r for r in protected(routes) if keys & set(r.params)]


@pytest.mark.parametrize(("role", "outside_index"), [("team_member", 2), ("team_member", 5), ("team_leader", 4)])
def test_scoped_roles_get_404_outside_their_households(
    role: str,
    outside_index: int,
    routes: list[RouteInfo],
    client_as: Callable[[str], tuple[TestClient, str, World]],
) -> None:
    client, csrf, world = client_as(role)
    outside = targets_for(world, outside_index)
    granted = ROLE_PERMISSIONS[Role(role)]
    id_routes = _id_routes(routes)
    assert len(id_routes) >= 25
    before = snapshot()
    leaked: list[str] = []
    for route in id_routes:
        r = send(client, prepare(route, outside, csrf, spare=False))
        expected = 404 if route.permission in granted else 403
        if r.status_code != expected:
            leaked.append(f"{route}: {r.status_code} (expected {expected}) {r.text[:150]}")
        elif expected == 404 and not route.is_api:
            assert "该户不存在或不在您的权限范围内" in r.text or "不存在" in r.text, route
        outside_head = "王志强" if outside_index == 2 else ("陈国华" if outside_index == 4 else "杨丽娟")
        if outside_head in r.text:
            leaked.append(f"{route}: response names the outside head of household")
    # every detail tab and the API history of the outside household
    for tab in ("basic", "members", "buildings", "tenants", "attachments", "history"):
        r = client.get(f"/households/{outside.household_id}?tab={tab}")
        if r.status_code != 404:
            leaked.append(f"tab {tab}: {r.status_code}")
    assert leaked == []
    assert snapshot() == before


def test_team_member_list_search_and_counts_stay_inside_the_assignment(
    client_as: Callable[[str], tuple[TestClient, str, World]],
) -> None:
    client, _csrf, world = client_as("team_member")
    pid = world.project_id
    r = client.get(f"/api/v1/projects/{pid}/households?size=100")
    assert r.status_code == 200
    assert sorted(i["id"] for i in r.json()["items"]) == sorted(world.assigned) and r.json()["total"] == 2
    page = client.get(f"/projects/{pid}/households")
    assert page.status_code == 200
    assert "张建国" in page.text and "李秀英" in page.text
    for outside in ("王志强", "刘桂兰", "陈国华", "杨丽娟", "H0003", "H0004", "H0005", "H0006"):
        assert outside not in page.text
    # full identity number of a member outside the assignment: no result, in the API and the page
    for serial in (3, 6):
        r = client.get(f"/api/v1/projects/{pid}/households", params={"q": id_number(serial)})
        assert r.json()["items"] == [] and r.json()["total"] == 0
        html = client.get(f"/projects/{pid}/households", params={"q": id_number(serial)}).text
        assert f"H000{serial}" not in html
    # ...while the member's own household is found by its full number
    r = client.get(f"/api/v1/projects/{pid}/households", params={"q": id_number(1)})
    assert [i["code"] for i in r.json()["items"]] == ["H0001"]
    # counts on the overview and the project API only count what the member may see
    detail = client.get(f"/api/v1/projects/{pid}").json()
    assert sum(detail["households_by_status"].values()) == 2
    listed = client.get("/api/v1/projects").json()
    assert sum(listed[0]["households_by_status"].values()) == 2


def test_team_member_routes_work_inside_the_assignment(
    routes: list[RouteInfo], client_as: Callable[[str], tuple[TestClient, str, World]]
) -> None:
    client, csrf, world = client_as("team_member")
    inside = targets_for(world, 1)
    granted = ROLE_PERMISSIONS[Role.TEAM_MEMBER]
    failed = []
    for route in _id_routes(routes):
        if route.permission not in granted:
            continue
        call = prepare(route, inside, csrf)
        r = send(client, call)
        if r.status_code >= 400:
            failed.append(f"{route}: {r.status_code} {r.text[:200]}")
    assert failed == []
    r = client.get(f"/households/{inside.household_id}?tab=members")
    assert "李秀英" in r.text
    r = client.get(f"/attachments/{inside.attachment_id}")
    assert r.status_code == 200 and r.content.startswith(PNG)


def test_ledger_export_holds_only_households_in_scope(
    routes: list[RouteInfo], client_as: Callable[[str], tuple[TestClient, str, World]]
) -> None:
    ledgers = [r for r in routes if r.method == "GET" and "ledger" in r.path]
    if not ledgers:
        pytest.skip("no ledger export route yet")
    for route in ledgers:
        for role in ("team_member", "team_leader"):
            client, _csrf, world = client_as(role)
            r = client.get(route.path.format(project_id=world.project_id))
            if route.permission in ROLE_PERMISSIONS[Role(role)]:
                assert r.status_code == 200
                content = _xlsx_text(r.content)
                assert "张建国" in content and "王志强" not in content and "H0005" not in content
            else:
                assert_forbidden(route, r)
        client, _csrf, world = client_as("case_officer")
        r = client.get(route.path.format(project_id=world.project_id))
        assert r.status_code == 200, route
        content = _xlsx_text(r.content)
        assert "王志强" in content and "H0006" in content


def _xlsx_text(data: bytes) -> str:
    import io

    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    cells = []
    for name in wb.sheet_names:
        for row in wb.get_sheet_by_name(name).to_python():
            cells.extend(str(c) for c in row)
    return "\n".join(cells)


# --------------------------------------------------------------- CSRF


def test_unsafe_routes_without_csrf_token_are_refused_and_write_nothing(
    routes: list[RouteInfo], client_as: Callable[[str], tuple[TestClient, str, World]]
) -> None:
    client, csrf, world = client_as("case_officer")
    t = targets_for(world, 0)
    unsafe = [r for r in protected(routes) if r.method in UNSAFE]
    assert len(unsafe) >= 20
    before = snapshot()
    for token in (None, "wrong-" + csrf[:10], ""):
        for route in unsafe:
            r = send(client, prepare(route, t, token, spare=False))
            assert r.status_code == 403, f"{route} token={token!r}: {r.status_code}"
            if route.is_api:
                assert r.json()["code"] == "csrf_rejected", route
            else:
                assert CSRF_ZH in r.text, route
    # the page logout and the API logout are CSRF-protected too
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    r = client.post("/api/v1/auth/logout")
    assert r.status_code == 403 and r.json()["code"] == "csrf_rejected"
    assert snapshot() == before
    # ...and the same requests with the token go through (the token, not something else, decided)
    r = client.patch(
        f"/api/v1/members/{t.member_id}", json={"phone": "13911112222"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 200 and audit_count() == before["audit_count"] + 1


def test_token_of_another_session_is_refused(
    client_as: Callable[[str], tuple[TestClient, str, World]], world_app: tuple[TestClient, World]
) -> None:
    client, other_token, world = client_as("team_leader")
    client.cookies.clear()
    own = login(client, "case_officer")
    assert own != other_token
    r = client.patch(
        f"/api/v1/households/{world.household_ids[0]}", json={"remark": "x"}, headers={"X-CSRF-Token": other_token}
    )
    assert r.status_code == 403 and r.json()["code"] == "csrf_rejected"


def test_login_form_needs_the_prelogin_token(world_app: tuple[TestClient, World]) -> None:
    client, _world = world_app
    before = snapshot()
    form = {"username": "case_officer", "password": PASSWORD, "next": "/projects"}
    # no pre-login cookie and no token
    r = client.post("/login", data=form, follow_redirects=False)
    assert r.status_code == 403 and "页面已过期，请重新登录" in r.text
    assert "anju_session" not in r.headers.get("set-cookie", "")
    # cookie present (from the login page) but a wrong token
    client.get("/login")
    r = client.post("/login", data={**form, "csrf_token": "forged"}, follow_redirects=False)
    assert r.status_code == 403 and "anju_session" not in r.headers.get("set-cookie", "")
    # the token without its cookie
    token = page_csrf(client.get("/login").text)
    client.cookies.delete("anju_prelogin")
    r = client.post("/login", data={**form, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 403
    assert snapshot()["session_count"] == before["session_count"]
    assert client.get("/api/v1/auth/me").status_code == 401
    # with both, the same form logs in
    token = page_csrf(client.get("/login").text)
    r = client.post("/login", data={**form, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/projects"


# --------------------------------------------------------------- throttling and sessions


def _login_attempts(username: str) -> int:
    from anju.identity.models import LoginAttempt

    with unit_of_work() as db:
        return int(db.scalar(select(func.count()).where(LoginAttempt.username == username)) or 0)


def _form_login(client: TestClient, username: str, password: str) -> Any:
    token = page_csrf(client.get("/login").text)
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}, follow_redirects=False
    )


def test_login_form_throttles_after_five_failures(world_app: tuple[TestClient, World]) -> None:
    client, _world = world_app
    for i in range(5):
        r = _form_login(client, "finance", f"wrong-{i}")
        assert r.status_code == 401 and "用户名或密码错误" in r.text
        assert _login_attempts("finance") == i + 1  # counted although the request was refused
    r = _form_login(client, "finance", PASSWORD)
    assert r.status_code == 429
    assert "登录失败次数过多" in r.text and "分钟后再试" in r.text
    assert "anju_session" not in r.headers.get("set-cookie", "")
    # the API refuses as well, with the code; another user is not affected
    r = client.post("/api/v1/auth/login", json={"username": "finance", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["code"] == "too_many_attempts"
    assert "登录失败次数过多" in r.json()["message"]
    assert _form_login(client, "commander", PASSWORD).status_code == 303


def test_api_login_failures_count_too(world_app: tuple[TestClient, World]) -> None:
    client, _world = world_app
    for i in range(5):
        r = client.post("/api/v1/auth/login", json={"username": "auditor", "password": f"bad{i}"})
        assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
    assert _login_attempts("auditor") == 5
    r = client.post("/api/v1/auth/login", json={"username": "auditor", "password": PASSWORD})
    assert r.status_code == 429
    assert _form_login(client, "auditor", PASSWORD).status_code == 429


def test_four_failures_do_not_lock(world_app: tuple[TestClient, World]) -> None:
    client, _world = world_app
    for i in range(4):
        assert _form_login(client, "commander", f"nope{i}").status_code == 401
    assert _form_login(client, "commander", PASSWORD).status_code == 303


def test_session_cookie_flags_and_logout_revokes(world_app: tuple[TestClient, World]) -> None:
    client, _world = world_app
    r = _form_login(client, "case_officer", PASSWORD)
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("anju_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=" in cookie
    r = client.post("/api/v1/auth/login", json={"username": "case_officer", "password": PASSWORD})
    api_cookie = r.headers["set-cookie"]
    assert "HttpOnly" in api_cookie and "SameSite=lax" in api_cookie
    old = client.cookies.get("anju_session")
    assert old
    page = client.get("/projects")
    assert page.status_code == 200
    r = client.post("/logout", data={"csrf_token": page_csrf(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    # replaying the old cookie: the session is revoked server-side, not just forgotten by the browser
    client.cookies.clear()
    client.cookies.set("anju_session", old)
    r = client.get("/projects", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert client.get("/api/v1/auth/me").status_code == 401
    # API logout revokes as well
    client.cookies.clear()
    token = login(client, "finance")
    old = client.cookies.get("anju_session")
    assert client.get("/api/v1/auth/me").json()["username"] == "finance"
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": token}).json() == {"ok": True}
    client.cookies.clear()
    client.cookies.set("anju_session", old)
    assert client.get("/api/v1/auth/me").status_code == 401


def test_reveal_shows_the_full_number_once_per_audited_request(
    client_as: Callable[[str], tuple[TestClient, str, World]],
) -> None:
    client, csrf, world = client_as("finance")
    mid = world.member_ids[0]
    before = audit_count()
    r = client.post(f"/members/{mid}/reveal", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.text == f'<span class="mono">{id_number(1)}</span>'
    assert audit_count() == before + 1
    history = client.get(f"/api/v1/households/{world.household_ids[0]}/history").json()
    assert history[0]["action"] == "reveal" and history[0]["entity_id"] == str(mid)
    # the masked number is all the detail page shows
    page = client.get(f"/households/{world.household_ids[0]}?tab=members").text
    assert id_number(1) not in page and "330102********" in page
    # a voided member cannot be revealed any more, and nothing is audited for the refusal
    client2, csrf2, _ = client_as("case_officer")
    assert client2.post(f"/api/v1/members/{mid}/void", json={"reason": "重复登记"},
                        headers={"X-CSRF-Token": csrf2}).status_code == 200
    count = audit_count()
    r = client2.post(f"/members/{mid}/reveal", headers={"X-CSRF-Token": csrf2})
    assert r.status_code == 404 and "家庭成员不存在" in r.text
    assert audit_count() == count
