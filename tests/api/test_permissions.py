"""The role x action permission matrix, data scopes, CSRF, login throttling and sessions.

The reference is the declared table ``docs/permissions/matrix.yaml`` (rendered as
``docs/permissions.md``): every route of the application (pages and ``/api/v1``, every method,
enumerated from the app itself) must be declared there with what it requires, the roles'
permissions and scopes in the code must equal the declared ones, and every role gets the declared
outcome in every scope case (own household, the team's, another team's, another project's) from
real requests. A new route without a declared entry fails with the YAML line to add.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from anju.db import migrate
from anju.db.session import unit_of_work
from anju.identity import service as identity_service
from anju.identity.rules import ROLE_PERMISSIONS, ROLE_SCOPE, WRITE_PERMISSIONS, Permission, Role
from anju.web import permission_matrix as pm
from anju.web.permission_matrix import PUBLIC, AppRoute, Case, Outcome, Scope
from tests.api.conftest import login, page_csrf
from tests.api.permission_calls import (
    CSRF_ZH,
    HEADS,
    OTHER_PROJECT_HEAD,
    Targets,
    assert_forbidden,
    assign_to_another_team,
    audit_count,
    json_of,
    other_project_targets,
    prepare,
    send,
    snapshot,
    targets_for,
    xlsx_text,
)
from tests.conftest import new_database
from tests.factories import ACTOR, PASSWORD, World, build_world, id_number

MATRIX_FILE = Path(__file__).resolve().parents[2] / pm.DEFAULT_TABLE
UNSAFE = pm.UNSAFE
# The test world seen by the team member: households[0:2] are assigned to them (and their team),
# [2:4] to their team only, [4:6] to a second team; P2's one household to a team of P2.
CASE_INDEX = {Case.OWN: 0, Case.TEAM: 2, Case.OTHER: 4}
CASE_HEADS = {
    Case.OWN: HEADS[0:2],
    Case.TEAM: HEADS[2:4],
    Case.OTHER: HEADS[4:6],
    Case.OTHER_PROJECT: [OTHER_PROJECT_HEAD],
}


# Routes that render a document or compute a whole project (0.1-0.3 s a call): a permitted call is
# made in the farthest scope case the role reaches only, since the nearer ones add nothing.
RENDER_ONCE = frozenset(
    {
        "GET /households/{household_id}/calc.pdf",
        "GET /projects/{project_id}/whatif",
        "GET /api/v1/projects/{project_id}/dispatch-reports/{report_on}.pdf",
        "GET /api/v1/projects/{project_id}/dispatch-reports/{report_on}.docx",
        "GET /agreements/{agreement_id}/print",
        "GET /api/v1/agreements/{agreement_id}/document",
        # each permitted call builds an event in which a new household finished (permission_housing)
        "GET /selection-events/{event_id}/households/{household_id}/confirmation.pdf",
        "GET /api/v1/selection-events/{event_id}/households/{household_id}/confirmation.pdf",
    }
)


@pytest.fixture(scope="module")
def matrix() -> pm.Matrix:
    return pm.load(MATRIX_FILE)


@pytest.fixture(scope="module")
def routes() -> list[AppRoute]:
    from anju.main import create_app

    return pm.app_routes(create_app())


def _declared(matrix: pm.Matrix, route: AppRoute) -> pm.RouteDecl:
    """The route's declared entry, or what the code requires when it is undeclared (reported above)."""
    return matrix.routes.get(route.key) or pm.RouteDecl(
        route.method, route.path, route.access, pm.guess_scope(route)
    )


def protected(routes: list[AppRoute]) -> list[AppRoute]:
    """Routes that require a permission."""
    return [r for r in routes if r.permissions]


# --------------------------------------------------------------- the declared table against the code


def test_every_route_is_declared_and_every_entry_is_a_route(
    routes: list[AppRoute], matrix: pm.Matrix
) -> None:
    diff = pm.compare(routes, matrix)
    assert diff.ok, (
        "\nThe app's routes differ from the declared permission matrix.\n"
        + pm.missing_skeleton(diff, pm.DEFAULT_TABLE)
        + "\nA new route that needs a request body or a path value to succeed: add them in"
        " tests/api/permission_calls.py (_page_form, _api_json, path_values)."
    )
    assert set(matrix.routes) >= RENDER_ONCE, "RENDER_ONCE names a route that is not declared"


def test_inventory_finds_the_known_routes(routes: list[AppRoute]) -> None:
    by_key = {r.key: r.access for r in routes}
    # A few anchors, so that a broken walker (finding nothing) cannot pass the checks above.
    assert by_key["GET /projects"] == "project.read"
    assert by_key["GET /api/v1/projects/{project_id}/households"] == "household.read"
    assert by_key["PATCH /api/v1/members/{member_id}"] == "household.write"
    assert by_key["POST /households/{household_id}/attachments"] == "attachment.write"
    assert by_key["POST /members/{member_id}/reveal"] == "pii.read"
    assert by_key["GET /api/v1/audit/verify"] == "audit.verify"
    assert by_key["GET /api/v1/auth/me"] == "login"
    assert by_key["POST /logout"] == "login"
    assert by_key["GET /healthz"] == PUBLIC
    assert by_key["MOUNT /static"] == PUBLIC
    assert len(protected(routes)) >= 45


def test_every_route_requires_at_most_one_permission(routes: list[AppRoute]) -> None:
    # two would make the matrix ambiguous
    assert [str(r) for r in routes if len(r.permissions) > 1] == []


def test_roles_and_permissions_in_the_code_equal_the_declared_table(matrix: pm.Matrix) -> None:
    assert set(matrix.permissions) == set(Permission), "declare every Permission under permissions:"
    assert set(matrix.roles) == set(Role), "declare every Role under roles:"
    changed = [
        f"{role.value}: code {sorted(p.value for p in ROLE_PERMISSIONS[role])} "
        f"!= declared {sorted(p.value for p in matrix.roles[role].permissions)}"
        for role in Role
        if ROLE_PERMISSIONS[role] != matrix.roles[role].permissions
    ]
    assert changed == []
    assert {r: d.scope for r, d in matrix.roles.items()} == ROLE_SCOPE
    assert matrix.write_permissions == WRITE_PERMISSIONS
    assert not (matrix.roles[Role.AUDITOR].permissions & matrix.write_permissions)


def test_unsafe_routes_write_or_are_declared_reads(routes: list[AppRoute], matrix: pm.Matrix) -> None:
    odd = [
        str(r)
        for r in protected(routes)
        if r.method in UNSAFE and r.permission not in WRITE_PERMISSIONS and not _declared(matrix, r).reads
    ]
    assert odd == []


def test_household_scope_is_declared_for_every_route_naming_a_household(
    routes: list[AppRoute], matrix: pm.Matrix
) -> None:
    # A route whose path names a household record must be tried outside the user's reach.
    undeclared = [
        str(r)
        for r in protected(routes)
        if set(r.params) & pm.HOUSEHOLD_PARAMS and _declared(matrix, r).scope is not Scope.HOUSEHOLD
    ]
    assert undeclared == []


# --------------------------------------------------------------- the declared table against real requests


def _cases(scope: Scope) -> list[Case]:
    if scope is Scope.HOUSEHOLD:
        return list(Case)
    if scope is Scope.PROJECT:
        return [Case.OWN, Case.OTHER_PROJECT]
    return [Case.OWN]


def _hidden_heads(matrix: pm.Matrix, role: Role | None) -> list[str]:
    """Heads of household the role must never see in any response."""
    reach = matrix.reach[matrix.roles[role].scope] if role is not None else frozenset()
    return [name for case, names in CASE_HEADS.items() if case not in reach for name in names]


def _body_text(r: Any) -> str:
    ctype = r.headers.get("content-type", "")
    if "spreadsheetml" in ctype:
        return xlsx_text(r.content)
    if ctype.startswith(("text/", "application/json")):
        return str(r.text)
    return ""


def _check(route: AppRoute, scope: Scope, outcome: Outcome, specified: bool, r: Any) -> str | None:
    """What is wrong with response ``r`` for the declared ``outcome``, or ``None``."""
    got = f"{r.status_code} {r.text[:200]}"
    if outcome is Outcome.ALLOW:
        if r.status_code in (401, 403) or r.status_code >= 500:
            return f"expected allow, got {got}"
        if specified and r.status_code >= 400:
            return f"expected allow (a realistic request), got {got}"
        if scope is Scope.HOUSEHOLD and r.status_code == 404:
            return f"expected allow on a household in reach, got {got}"
        return None
    if outcome is Outcome.DENY:
        try:
            assert_forbidden(route, r)
        except AssertionError as exc:
            return f"expected deny: {exc}"
        return None
    if outcome is Outcome.NOT_FOUND:
        if r.status_code != 404:
            return f"expected not_found (404), got {got}"
        if route.is_api and json_of(r).get("code") != "not_found":
            return f"expected code not_found, got {got}"
        if not route.is_api and "不存在" not in r.text:
            return f"expected a Chinese not-found page, got {got}"
        return None
    if route.is_api:
        if r.status_code != 401 or json_of(r).get("code") != "not_authenticated":
            return f"expected 401 not_authenticated, got {got}"
    elif r.status_code != 303 or not r.headers.get("location", "").startswith("/login?next="):
        return f"expected a redirect to /login, got {got}"
    return None


def exercise(
    client: TestClient,
    csrf: str | None,
    role: Role | None,
    routes: list[AppRoute],
    matrix: pm.Matrix,
    targets: dict[Case, Targets],
) -> tuple[list[str], int]:
    """Send every route in every scope case it has as ``role``; returns the problems and the count.

    Refusals go first, against a snapshot: a refused request must change nothing. Unsafe routes
    that need no permission (login, logout) are left to the tests of those routes below.
    """
    plan: list[tuple[AppRoute, Scope, Case, Outcome]] = []
    problems: list[str] = []
    for route in routes:
        decl = matrix.routes.get(route.key)
        if decl is None:
            problems.append(
                f"{route}: not declared (see test_every_route_is_declared_and_every_entry_is_a_route)"
            )
            continue
        if route.method == "MOUNT" or (route.method in UNSAFE and not route.permissions):
            continue
        steps = [
            (route, decl.scope, case, matrix.expected(route.key, role, case)) for case in _cases(decl.scope)
        ]
        if route.key in RENDER_ONCE:  # permitted: only the farthest case reached; refusals in every case
            allowed = [step for step in steps if step[3] is Outcome.ALLOW]
            steps = [step for step in steps if step[3] is not Outcome.ALLOW] + allowed[-1:]
        plan += steps
    hidden = _hidden_heads(matrix, role)
    before = snapshot()
    for refused in (True, False):
        for route, scope, case, outcome in plan:
            if (outcome is not Outcome.ALLOW) != refused:
                continue
            call = prepare(route, targets[case], csrf, spare=not refused)
            r = send(client, call)
            problem = _check(route, scope, outcome, call.specified, r)
            text = _body_text(r)
            leaked = [name for name in hidden if name in text]
            if leaked:
                problem = f"{problem or ''} response names {leaked}, outside the role's reach"
            if problem:
                problems.append(f"{route} [{case.value}]: {problem}")
        if refused and snapshot() != before:
            problems.append("a refused request changed the household facts, the users or the audit log")
    return problems, len(plan)


@pytest.fixture(scope="module")
def scope_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, World, dict[Case, Targets]]]:
    """The standard world plus a second team and a second project, with targets for every scope case.

    One world per database for the whole matrix (a fresh one per role cost more than the
    requests): a role's permitted writes only add records (voids take spare children), and the
    user that ``/users/{user_id}/active`` deactivates is a spare one, so no role changes another's
    outcome. The parameter is the backend (SQLite unless given; servers skip when not configured).
    """
    from anju.config import get_settings
    from anju.db.session import get_engine, get_sessionmaker
    from anju.main import create_app

    backend = getattr(request, "param", "sqlite")
    url, handle = new_database(backend, tmp_path_factory.mktemp("matrix"))
    caches = (get_settings, get_engine, get_sessionmaker)
    try:
        with pytest.MonkeyPatch.context() as mp:
            data = tmp_path_factory.mktemp("matrix-data")
            mp.setenv("ANJU_DATA_DIR", str(data))
            mp.setenv("ANJU_ENV", "test")
            mp.setenv("ANJU_DATABASE_URL", url)
            for cache in caches:
                cache.cache_clear()
            _clear_data_caches()  # in-process caches keyed by ids, which every new database reuses
            migrate.upgrade(url)
            with unit_of_work() as db:
                world = build_world(db, households=6)
                spare_user = identity_service.create_user(
                    db,
                    actor=ACTOR,
                    username="spare_clerk",
                    display_name="备用用户",
                    password=PASSWORD,
                    role="department",
                ).id
            assign_to_another_team(world, [4, 5])
            targets = {case: targets_for(world, index) for case, index in CASE_INDEX.items()}
            targets[Case.OTHER_PROJECT] = other_project_targets(world)
            for t in targets.values():
                t.user_id = spare_user
            # a 500 is reported as one problem among the others instead of ending the role's run
            with TestClient(
                create_app(), base_url="http://testserver", raise_server_exceptions=False
            ) as client:
                yield client, world, targets
            get_engine().dispose()
    finally:
        for cache in caches:
            cache.cache_clear()
        if handle is not None:
            handle.drop()


def _clear_data_caches() -> None:
    from anju.compensation import budget, group_cache
    from anju.household import listing
    from anju.project import service as project_service

    listing.clear()
    project_service.clear_caches()
    budget.clear()
    group_cache.clear()


def _login_as(client: TestClient, role: Role | None) -> str | None:
    client.cookies.clear()
    return login(client, role.value) if role is not None else None


@pytest.mark.parametrize("role", [*Role, None], ids=[*(r.value for r in Role), "anonymous"])
@pytest.mark.parametrize("scope_world", ["sqlite"], indirect=True)
def test_permission_matrix(
    role: Role | None,
    routes: list[AppRoute],
    matrix: pm.Matrix,
    scope_world: tuple[TestClient, World, dict[Case, Targets]],
) -> None:
    """Each role (and anonymous) against every route in every scope case: the declared outcome."""
    client, _world, targets = scope_world
    csrf = _login_as(client, role)
    problems, checked = exercise(client, csrf, role, routes, matrix, targets)
    assert problems == []
    assert checked >= 150


@pytest.mark.parametrize("scope_world", ["sqlite"], indirect=True)
def test_exercise_catches_a_wrong_declaration(
    routes: list[AppRoute], matrix: pm.Matrix, scope_world: tuple[TestClient, World, dict[Case, Targets]]
) -> None:
    """The matrix test can fail: a table granting the team member too much, or reaching too far."""
    client, _world, targets = scope_world
    csrf = _login_as(client, Role.TEAM_MEMBER)
    member = matrix.roles[Role.TEAM_MEMBER]
    wrong = pm.Matrix(
        matrix.permissions,
        {
            **matrix.roles,
            Role.TEAM_MEMBER: pm.RoleDecl(
                member.name, member.scope, member.permissions | {Permission.PII_READ}
            ),
        },
        {**matrix.reach, member.scope: frozenset({Case.OWN, Case.TEAM})},
        matrix.routes,
    )
    reveal, page = "POST /members/{member_id}/reveal", "GET /households/{household_id}"
    subset = [r for r in routes if r.key in (reveal, page, "GET /api/v1/auth/me")]
    problems, checked = exercise(client, csrf, Role.TEAM_MEMBER, subset, wrong, targets)
    assert checked == 9
    assert sorted(p.split(":")[0] for p in problems) == sorted(
        [f"{page} [team]"] + [f"{reveal} [{c.value}]" for c in Case]
    )
    # ...while the declared table holds for the same requests
    assert exercise(client, csrf, Role.TEAM_MEMBER, subset, matrix, targets) == ([], 9)


# On PostgreSQL and MariaDB the roles whose reach is decided by the scope's SQL; the other roles'
# outcomes do not depend on the database. (Servers skip when not configured.)
@pytest.mark.parametrize("role", [Role.TEAM_LEADER, Role.TEAM_MEMBER], ids=["team_leader", "team_member"])
@pytest.mark.parametrize("scope_world", ["postgres", "mariadb"], indirect=True)
def test_permission_matrix_of_scoped_roles_on_servers(
    role: Role,
    routes: list[AppRoute],
    matrix: pm.Matrix,
    scope_world: tuple[TestClient, World, dict[Case, Targets]],
) -> None:
    client, _world, targets = scope_world
    problems, checked = exercise(client, _login_as(client, role), role, routes, matrix, targets)
    assert problems == []
    assert checked >= 150


def test_allow_listed_auth_routes_still_need_a_session(world_app: tuple[TestClient, World]) -> None:
    client, _world = world_app
    assert client.get("/api/v1/auth/me").status_code == 401
    r = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": "x"})
    assert r.status_code == 401
    assert client.get("/healthz").json() == {"status": "ok"}


# --------------------------------------------------------------- auditor


def test_auditor_cannot_write_anything(
    routes: list[AppRoute], matrix: pm.Matrix, client_as: Callable[[str], tuple[TestClient, str, World]]
) -> None:
    client, csrf, world = client_as("auditor")
    assert not (ROLE_PERMISSIONS[Role.AUDITOR] & WRITE_PERMISSIONS)
    t = targets_for(world, 0)
    before = snapshot()
    writes = [r for r in protected(routes) if r.method in UNSAFE and not _declared(matrix, r).reads]
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


@pytest.mark.parametrize(
    ("role", "outside_index"), [("team_member", 2), ("team_member", 5), ("team_leader", 4)]
)
def test_every_tab_of_an_outside_household_is_404(
    role: str, outside_index: int, client_as: Callable[[str], tuple[TestClient, str, World]]
) -> None:
    client, _csrf, world = client_as(role)
    hid = world.household_ids[outside_index]
    for tab in ("basic", "members", "buildings", "tenants", "attachments", "history", "no-such-tab"):
        r = client.get(f"/households/{hid}?tab={tab}")
        assert r.status_code == 404, tab
        assert "该户不存在或不在您的权限范围内" in r.text and HEADS[outside_index] not in r.text, tab


def test_team_member_list_search_and_counts_stay_inside_the_assignment(
    client_as: Callable[[str], tuple[TestClient, str, World]],
) -> None:
    client, csrf, world = client_as("team_member")
    pid = world.project_id
    r = client.get(f"/api/v1/projects/{pid}/households?size=100")
    assert r.status_code == 200
    assert sorted(i["id"] for i in r.json()["items"]) == sorted(world.assigned) and r.json()["total"] == 2
    page = client.get(f"/projects/{pid}/households")
    assert page.status_code == 200
    assert "张建国" in page.text and "李秀英" in page.text
    for outside in ("王志强", "刘桂兰", "陈国华", "杨丽娟", "H0003", "H0004", "H0005", "H0006"):
        assert outside not in page.text

    def search(q: str) -> tuple[list[str], str]:
        # by POST, so that the identity number stays out of the URL
        api = client.post(
            f"/api/v1/projects/{pid}/households/search", json={"q": q}, headers={"X-CSRF-Token": csrf}
        )
        assert api.status_code == 200, api.text
        html = client.post(
            f"/projects/{pid}/households/search",
            data={"q": q, "csrf_token": csrf},
            headers={"HX-Request": "true"},
        )
        assert html.status_code == 200, html.text
        return [i["code"] for i in api.json()["items"]], html.text

    # full identity number of a member outside the assignment: no result, in the API and the page
    for serial in (3, 6):
        codes, html = search(id_number(serial))
        assert codes == [] and f"H000{serial}" not in html and HEADS[serial - 1] not in html
    # ...while the member's own household is found by its full number
    codes, html = search(id_number(1))
    assert codes == ["H0001"] and "H0001" in html and "张建国" in html
    # counts on the overview and the project API only count what the member may see
    detail = client.get(f"/api/v1/projects/{pid}").json()
    assert sum(detail["households_by_status"].values()) == 2
    listed = client.get("/api/v1/projects").json()
    assert sum(listed[0]["households_by_status"].values()) == 2


def test_ledger_export_holds_only_households_in_scope(
    routes: list[AppRoute], client_as: Callable[[str], tuple[TestClient, str, World]]
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
                content = xlsx_text(r.content)
                assert "张建国" in content and "王志强" not in content and "H0005" not in content
            else:
                assert_forbidden(route, r)
        client, _csrf, world = client_as("case_officer")
        r = client.get(route.path.format(project_id=world.project_id))
        assert r.status_code == 200, route
        content = xlsx_text(r.content)
        assert "王志强" in content and "H0006" in content


# --------------------------------------------------------------- CSRF


def test_unsafe_routes_without_csrf_token_are_refused_and_write_nothing(
    routes: list[AppRoute], client_as: Callable[[str], tuple[TestClient, str, World]]
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
        f"/api/v1/households/{world.household_ids[0]}",
        json={"remark": "x"},
        headers={"X-CSRF-Token": other_token},
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
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
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
    assert (
        client2.post(
            f"/api/v1/members/{mid}/void", json={"reason": "重复登记"}, headers={"X-CSRF-Token": csrf2}
        ).status_code
        == 200
    )
    count = audit_count()
    r = client2.post(f"/members/{mid}/reveal", headers={"X-CSRF-Token": csrf2})
    assert r.status_code == 404 and "家庭成员不存在" in r.text
    assert audit_count() == count
