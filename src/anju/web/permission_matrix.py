"""The declared permission matrix: who may call which route, on which households.

The reference is ``docs/permissions/matrix.yaml``, reviewed by people: the roles with their
permissions and data-scope kinds, which scope cases each kind reaches, and for every route of
the application (pages and ``/api/v1``, every method) what it requires. A change of code
cannot silently change who may do what: ``tests/api/test_permissions.py`` compares the code's
``ROLE_PERMISSIONS``, ``ROLE_SCOPE`` and each route's ``requires(...)`` with the file and then
sends real requests for every role and scope case. ``anju docs permissions`` renders the file
as ``docs/permissions.md`` and prints the entries missing for new routes (``--missing``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from anju import i18n
from anju.identity.rules import WRITE_PERMISSIONS, Permission, Role, ScopeKind

DEFAULT_TABLE = Path("docs/permissions/matrix.yaml")
DEFAULT_DOC = Path("docs/permissions.md")

PUBLIC = "public"  # no login needed
LOGIN = "login"  # any logged-in user, no permission
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "MOUNT")
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Path parameters that name one household or a record of one household.
HOUSEHOLD_PARAMS = frozenset(
    {"household_id", "member_id", "building_id", "tenant_id", "attachment_id", "homestead_id", "child_id"}
)


class Scope(StrEnum):
    """What a route's data scope is about."""

    HOUSEHOLD = "household"  # one household (or one of its records): outside the user's reach -> 404
    PROJECT = "project"  # a project's households: lists and counts hold only those in reach
    NONE = "none"  # not about households


class Case(StrEnum):
    """The scope cases every route is tried in, seen from the user making the request."""

    OWN = "own"  # a household assigned to the user personally (project P1)
    TEAM = "team"  # a household assigned to the user's team, not to the user
    OTHER = "other"  # a household of another team in the same project
    OTHER_PROJECT = "other_project"  # a household of another project


class Outcome(StrEnum):
    """The class of response a request must get."""

    ALLOW = "allow"  # 2xx / 3xx
    DENY = "deny"  # 403 with the Chinese refusal (API code permission_denied)
    NOT_FOUND = "not_found"  # 404: the household exists but is outside the user's reach
    LOGIN = "login"  # anonymous: 303 to /login (pages) or 401 not_authenticated (API)


class MatrixError(ValueError):
    """The matrix file is malformed; the message names the entry."""


@dataclass(frozen=True)
class RoleDecl:
    """A role as the matrix declares it."""

    name: Role
    scope: ScopeKind
    permissions: frozenset[Permission]


@dataclass(frozen=True)
class RouteDecl:
    """One declared (method, path): what it requires and what its scope is about."""

    method: str
    path: str
    access: str  # a Permission value, PUBLIC or LOGIN
    scope: Scope
    reads: bool = False  # an unsafe method that only reads (audited as a read)
    note: str = ""

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def permission(self) -> Permission | None:
        return None if self.access in (PUBLIC, LOGIN) else Permission(self.access)

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")


@dataclass(frozen=True)
class Matrix:
    """The whole declared table."""

    permissions: dict[Permission, tuple[str, bool]]  # label (zh), writes
    roles: dict[Role, RoleDecl]
    reach: dict[ScopeKind, frozenset[Case]]
    routes: dict[str, RouteDecl]

    def expected(self, key: str, role: Role | None, case: Case = Case.OWN) -> Outcome:
        """The outcome the declared table gives ``role`` (``None``: anonymous) on route ``key``."""
        route = self.routes[key]
        if route.access == PUBLIC:
            return Outcome.ALLOW
        if role is None:
            return Outcome.LOGIN
        if route.access == LOGIN:
            return Outcome.ALLOW
        decl = self.roles[role]
        if route.permission not in decl.permissions:
            return Outcome.DENY
        if route.scope is Scope.HOUSEHOLD and case not in self.reach[decl.scope]:
            return Outcome.NOT_FOUND
        return Outcome.ALLOW

    @property
    def write_permissions(self) -> frozenset[Permission]:
        return frozenset(p for p, (_label, writes) in self.permissions.items() if writes)


# --------------------------------------------------------------- loading


def _route_key(raw: Any) -> tuple[str, str]:
    text = str(raw)
    m = re.fullmatch(r"([A-Z]+) (/\S*)", text)
    if not m or m.group(1) not in METHODS:
        raise MatrixError(f"路由“{text}”格式不对：应为“方法 路径”，方法取 {'/'.join(METHODS)}")
    return m.group(1), m.group(2)


def _mapping(value: Any, where: str) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise MatrixError(f"{where} 应为映射（键: 值）")
    return value


def _enum(kind: type[Any], value: Any, where: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = "、".join(str(v.value) for v in kind)
        raise MatrixError(f"{where}：未知取值“{value}”，可用：{allowed}") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice (two helpers declaring one route differently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise MatrixError(f"“{key}”重复声明（第 {key_node.start_mark.line + 1} 行）")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse(text: str) -> Matrix:
    """Parse and check the matrix file's text; :class:`MatrixError` names what is wrong."""
    try:
        data = _mapping(yaml.load(text, Loader=_UniqueKeyLoader), "权限矩阵文件")  # a SafeLoader
    except yaml.YAMLError as exc:
        raise MatrixError(f"权限矩阵文件不是合法的 YAML：{exc}") from None
    for section in ("permissions", "roles", "reach", "routes"):
        if section not in data:
            raise MatrixError(f"权限矩阵文件缺少“{section}”一节")
    permissions: dict[Permission, tuple[str, bool]] = {}
    for name, spec in _mapping(data["permissions"], "permissions").items():
        perm = _enum(Permission, name, "permissions")
        spec = _mapping(spec, f"permissions.{name}")
        permissions[perm] = (str(spec.get("label", "")), bool(spec.get("write", False)))
    roles: dict[Role, RoleDecl] = {}
    for name, spec in _mapping(data["roles"], "roles").items():
        role = _enum(Role, name, "roles")
        spec = _mapping(spec, f"roles.{name}")
        perms = frozenset(
            _enum(Permission, p, f"roles.{name}.permissions") for p in spec.get("permissions") or []
        )
        roles[role] = RoleDecl(role, _enum(ScopeKind, spec.get("scope"), f"roles.{name}.scope"), perms)
    reach: dict[ScopeKind, frozenset[Case]] = {}
    for name, cases in _mapping(data["reach"], "reach").items():
        kind = _enum(ScopeKind, name, "reach")
        reach[kind] = frozenset(_enum(Case, c, f"reach.{name}") for c in cases or [])
    missing_kinds = [k.value for k in ScopeKind if k not in reach]
    if missing_kinds:
        raise MatrixError(f"reach 缺少数据范围：{'、'.join(missing_kinds)}")
    routes: dict[str, RouteDecl] = {}
    for raw, spec in _mapping(data["routes"], "routes").items():
        method, path = _route_key(raw)
        spec = _mapping(spec, f"routes.{raw}")
        unknown = set(spec) - {"access", "scope", "reads", "note"}
        if unknown:
            raise MatrixError(f"routes.{raw}：未知字段 {'、'.join(sorted(unknown))}")
        access = str(spec.get("access", ""))
        if access not in (PUBLIC, LOGIN):
            _enum(Permission, access, f"routes.{raw}.access")
        route = RouteDecl(
            method,
            path,
            access,
            _enum(Scope, spec.get("scope", "none"), f"routes.{raw}.scope"),
            bool(spec.get("reads", False)),
            str(spec.get("note", "")),
        )
        routes[route.key] = route
    return Matrix(permissions, roles, reach, routes)


def load(path: Path = DEFAULT_TABLE) -> Matrix:
    """Read and parse the matrix file at ``path``."""
    return parse(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------- the application's routes


@dataclass(frozen=True)
class AppRoute:
    """One (method, path) of the application and what its dependencies require."""

    method: str
    path: str
    permissions: tuple[Permission, ...]
    needs_login: bool  # depends on current_user / verify_csrf without a permission
    required_query: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def permission(self) -> Permission | None:
        return self.permissions[0] if self.permissions else None

    @property
    def access(self) -> str:
        """What the code requires, in the matrix's terms (two permissions join with ``+``)."""
        if self.permissions:
            return "+".join(p.value for p in self.permissions)
        return LOGIN if self.needs_login else PUBLIC

    @property
    def params(self) -> list[str]:
        return re.findall(r"{([^}:]+)(?::[^}]*)?}", self.path)

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")

    def __str__(self) -> str:
        return self.key


_LOGIN_DEPENDENCIES = frozenset({"current_user", "verify_csrf"})


def _dependency_facts(dependant: Any) -> tuple[list[Permission], bool]:
    perms: list[Permission] = []
    login = False
    for sub in dependant.dependencies:
        perm = getattr(sub.call, "permission", None)
        if perm is not None:
            perms.append(perm)
        elif getattr(sub.call, "__name__", "") in _LOGIN_DEPENDENCIES:
            login = True
        inner_perms, inner_login = _dependency_facts(sub)
        perms.extend(inner_perms)
        login = login or inner_login
    return perms, login


def _required_query(dependant: Any) -> list[str]:
    out = [p.alias for p in dependant.query_params if p.field_info.is_required()]
    for sub in dependant.dependencies:
        out.extend(_required_query(sub))
    return out


def _walk(
    routes: list[Any], prefix: str, extra: list[Permission]
) -> Iterator[tuple[str, Any, list[Permission]]]:
    for r in routes:
        if hasattr(r, "original_router") and hasattr(r, "include_context"):
            # FastAPI >= 0.16x keeps included routers lazily; the prefix lives in the include context.
            ctx = r.include_context
            perms = extra + [p for d in ctx.dependencies if (p := getattr(d.dependency, "permission", None))]
            inner = list(r.original_router.routes) + list(
                getattr(r.original_router, "_low_priority_routes", [])
            )
            yield from _walk(inner, prefix + ctx.prefix, perms)
        else:
            yield prefix, r, extra


def app_routes(app: Any) -> list[AppRoute]:
    """Every (method, path) of ``app`` with what it requires; mounts are listed with method ``MOUNT``."""
    from fastapi.routing import APIRoute
    from starlette.routing import Mount

    out: list[AppRoute] = []
    for prefix, r, extra in _walk(list(app.routes), "", []):
        path = prefix + r.path
        if isinstance(r, Mount):
            out.append(AppRoute("MOUNT", path, (), False))
            continue
        perms = list(extra)
        login = False
        query: list[str] = []
        if isinstance(r, APIRoute):
            found, login = _dependency_facts(r.dependant)
            perms += found
            query = _required_query(r.dependant)
        for method in sorted((getattr(r, "methods", None) or set()) - {"HEAD"}):
            out.append(AppRoute(method, path, tuple(dict.fromkeys(perms)), login, tuple(query)))
    return out


def guess_scope(route: AppRoute) -> Scope:
    """The scope a new route most likely has, from its path parameters (a reviewer confirms it)."""
    params = set(route.params)
    if params & HOUSEHOLD_PARAMS:
        return Scope.HOUSEHOLD
    if "project_id" in params:
        return Scope.PROJECT
    return Scope.NONE


def entry_line(route: AppRoute) -> str:
    """The YAML line declaring ``route`` as its code stands, for pasting under ``routes:``."""
    scope = guess_scope(route)
    fields = [f"access: {route.access}"] + ([f"scope: {scope.value}"] if scope is not Scope.NONE else [])
    if route.method in UNSAFE and route.permission is not None and route.permission not in WRITE_PERMISSIONS:
        fields.append("reads: true")  # a POST under a read permission: a search, a reveal
    return f"  {route.key}: {{{', '.join(fields)}}}"


@dataclass(frozen=True)
class Comparison:
    """How the application's routes differ from the declared table."""

    missing: list[AppRoute]  # in the app, not declared
    stale: list[str]  # declared, not in the app
    changed: list[tuple[AppRoute, RouteDecl]]  # declared with another access than the code requires

    @property
    def ok(self) -> bool:
        return not (self.missing or self.stale or self.changed)


def compare(routes: list[AppRoute], matrix: Matrix) -> Comparison:
    """Compare the app's routes with the table."""
    in_app = {r.key: r for r in routes}
    missing = [r for r in routes if r.key not in matrix.routes]
    stale = [k for k in matrix.routes if k not in in_app]
    changed = [
        (r, matrix.routes[r.key])
        for r in routes
        if r.key in matrix.routes and matrix.routes[r.key].access != r.access
    ]
    return Comparison(missing, stale, changed)


def missing_skeleton(comparison: Comparison, table: Path = DEFAULT_TABLE) -> str:
    """What to change in the table so that it matches the app, as text for a developer."""
    lines: list[str] = []
    if comparison.missing:
        lines.append(
            f"Add under `routes:` in {table} (check the scope; `reads: true` for a POST that only reads):"
        )
        lines.extend(entry_line(r) for r in comparison.missing)
    if comparison.changed:
        lines.append(f"The code now requires something else; if that is intended, change in {table}:")
        for route, decl in comparison.changed:
            lines.append(f"  {route.key}: access {decl.access} -> {route.access}")
    if comparison.stale:
        lines.append(f"Remove from {table} (no such route any more):")
        lines.extend(f"  {key}" for key in comparison.stale)
    if lines:
        lines.append("Then run `anju docs permissions` to render docs/permissions.md.")
    return "\n".join(lines)


# --------------------------------------------------------------- rendering


_METHOD_ORDER = {m: i for i, m in enumerate(METHODS)}
_SCOPE_LABEL = {Scope.HOUSEHOLD: "单户", Scope.PROJECT: "项目", Scope.NONE: "—"}
_KIND_LABEL = {
    ScopeKind.ALL: "全部户",
    ScopeKind.TEAM: "本专班被分配的户",
    ScopeKind.ASSIGNED: "本人被分配的户",
    ScopeKind.NONE: "无户数据",
}
_CASE_LABEL = {
    Case.OWN: "分配给本人的户",
    Case.TEAM: "分配给本专班（非本人）的户",
    Case.OTHER: "同项目其他专班的户",
    Case.OTHER_PROJECT: "其他项目的户",
}
# A permitted household route reaches, by scope kind: the cell shows how far.
_REACH_CELL = {
    ScopeKind.ALL: "✓",
    ScopeKind.TEAM: "本组",
    ScopeKind.ASSIGNED: "本人",
    ScopeKind.NONE: "无数据",
}


def _cell(matrix: Matrix, route: RouteDecl, role: Role) -> str:
    if matrix.expected(route.key, role) is Outcome.DENY:
        return "✗"
    if route.scope is Scope.NONE or route.permission is None:
        return "✓"
    return _REACH_CELL[matrix.roles[role].scope]


def _access_label(matrix: Matrix, route: RouteDecl) -> str:
    if route.access == PUBLIC:
        return "公开"
    if route.access == LOGIN:
        return "登录即可"
    perm = Permission(route.access)
    return f"{matrix.permissions[perm][0]}（`{perm.value}`）"


def _route_sort(route: RouteDecl) -> tuple[str, int]:
    return route.path, _METHOD_ORDER.get(route.method, 99)


def render_markdown(matrix: Matrix) -> str:
    """The matrix as the Markdown page ``docs/permissions.md`` (deterministic: same table, same text)."""
    table = DEFAULT_TABLE
    roles = [r for r in Role if r in matrix.roles]
    names = [i18n.t(f"role.{r.value}") for r in roles]
    out = [
        "# 权限矩阵",
        "",
        f"<!-- 由 `anju docs permissions` 根据 {table.as_posix()} 生成，请勿手工修改。 -->",
        "",
        f"本页由 `{table.as_posix()}` 生成。该文件是“谁可以做什么”的依据，经人工审阅；"
        "`tests/api/test_permissions.py` 在每次提交时核对代码中的角色权限、每条路由所需的权限与该文件一致，"
        "并以每个角色、每种范围情形向真实应用发出请求，核对结果。新增路由若未在该文件中声明，测试失败；"
        "`anju docs permissions --missing` 打印应补充的条目。",
        "",
        "## 角色与权限",
        "",
        "| 权限 | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for perm, (label, writes) in matrix.permissions.items():
        mark = "，写" if writes else ""
        cells = ["✓" if perm in matrix.roles[r].permissions else "✗" for r in roles]
        out.append(f"| {label}（`{perm.value}`{mark}） | " + " | ".join(cells) + " |")
    out.append("| 数据范围 | " + " | ".join(_KIND_LABEL[matrix.roles[r].scope] for r in roles) + " |")
    out += [
        "",
        "## 范围情形",
        "",
        "“单户”路由以下列四种户逐一检验（从发出请求的用户看）；表中为各数据范围的结果：",
        "",
        "| 情形 | 说明 | " + " | ".join(_KIND_LABEL[k] for k in ScopeKind) + " |",
        "|---|---|" + "---|" * len(ScopeKind),
    ]
    for case in Case:
        cells = ["可访问" if case in matrix.reach[k] else "404" for k in ScopeKind]
        out.append(f"| `{case.value}` | {_CASE_LABEL[case]} | " + " | ".join(cells) + " |")
    out += [
        "",
        "## 图例",
        "",
        "- ✓：允许（2xx/3xx）。",
        "- ✗：拒绝，403，页面显示“您没有执行此操作的权限”，接口返回 `permission_denied`。",
        "- 本组 / 本人：允许，但只及本专班 / 本人被分配的户；“单户”路由对范围外的户返回 404"
        "（不透露该户是否存在），“项目”路由的列表与统计只含范围内的户。",
        "- 无数据：允许，但不及任何户（项目的户数统计为零）。",
        "- 登录：未登录时页面跳转到 `/login?next=…`（303），接口返回 401 `not_authenticated`。",
        "- 写操作（POST/PUT/PATCH/DELETE）另需 CSRF 令牌。",
    ]
    for title, api in (("页面", False), ("接口（/api/v1）", True)):
        routes = sorted((r for r in matrix.routes.values() if r.is_api == api), key=_route_sort)
        out += [
            "",
            f"## {title}",
            "",
            "| 方法 | 路径 | 所需权限 | 范围 | 未登录 | " + " | ".join(names) + " |",
            "|---|---|---|---|---|" + "---|" * len(roles),
        ]
        for route in routes:
            note = f"<br>{route.note.replace('|', '／')}" if route.note else ""
            cells = [_cell(matrix, route, r) for r in roles]
            out.append(
                f"| {route.method} | `{route.path}`{note} | {_access_label(matrix, route)} | "
                f"{_SCOPE_LABEL[route.scope]} | {'✓' if route.access == PUBLIC else '登录'} | "
                + " | ".join(cells)
                + " |"
            )
    return "\n".join(out) + "\n"
