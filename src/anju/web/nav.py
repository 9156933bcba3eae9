"""The side navigation, built from what the user's role may open.

Each entry names the page it links to; the permission it needs is read from that page's route
(its ``requires(...)``) in the running application, so a link can never be offered to a role the
page would refuse with 403. An entry may narrow further (``only``): a page every reader may open
but that serves one kind of work (the tenant clearance list is the case officers' worklist).
A test logs in as every role and follows every link it is offered (tests/api/test_nav_walk.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.permission_matrix import app_routes


@dataclass(frozen=True, slots=True)
class NavItem:
    """One link: catalog key of its label, path (``{project_id}`` filled in), ``active`` key."""

    key: str
    path: str
    only: Permission | None = None  # shown only to roles that also hold this
    new_tab: bool = False
    download: bool = False
    label: str = ""  # plain text where the catalog has no key yet

    @property
    def in_project(self) -> bool:
        return "{project_id}" in self.path


P = Permission
NAV: tuple[NavItem, ...] = (
    NavItem("projects", "/projects"),
    NavItem("overview", "/projects/{project_id}"),
    NavItem("households", "/projects/{project_id}/households"),
    NavItem("my", "/projects/{project_id}/my"),
    NavItem("campaign", "/projects/{project_id}/campaign"),
    NavItem("map", "/projects/{project_id}/map"),
    NavItem("bigscreen", "/projects/{project_id}/bigscreen", new_tab=True),
    NavItem("dispatch", "/projects/{project_id}/dispatch"),
    NavItem("signing", "/projects/{project_id}/signing"),
    NavItem("agreement_templates", "/projects/{project_id}/agreement-templates"),
    NavItem("tenants", "/projects/{project_id}/tenants", only=P.CLEARANCE_WRITE),
    NavItem("payments", "/projects/{project_id}/payments"),
    NavItem("housing", "/projects/{project_id}/housing"),
    NavItem("teams", "/projects/{project_id}/teams"),
    NavItem("setup", "/projects/{project_id}/setup"),
    NavItem("policy", "/projects/{project_id}/policy"),
    NavItem("whatif", "/projects/{project_id}/whatif"),
    NavItem("import", "/projects/{project_id}/import"),
    NavItem("ledger", "/projects/{project_id}/ledger.xlsx", download=True),
    NavItem("approvals", "/approvals"),
    # grid governance (#14): not tied to a project
    NavItem("grids", "/grids"),
    NavItem("grid_map", "/grids/map"),
    NavItem("mediation", "/mediation"),
    NavItem("requests", "/service-requests"),
    NavItem("request_dashboard", "/service-requests/dashboard"),
    NavItem("time_bank", "/time-bank"),
    NavItem("audit", "/audit"),
    NavItem("users", "/users"),
    NavItem("account", "/account/password"),
    NavItem("api", "/api/docs"),
)

_UNKNOWN = object()


def _requirements(app: Any) -> dict[str, tuple[Permission, ...] | None]:
    """``path -> permissions its GET route requires`` (None: public or login only), cached per app."""
    cached = getattr(app.state, "nav_requirements", None)
    if cached is None:
        cached = {r.path: r.permissions or None for r in app_routes(app) if r.method == "GET"}
        app.state.nav_requirements = cached
    return cached


def links(app: Any, user: CurrentUser, project_id: int | None) -> list[dict[str, Any]]:
    """The links ``user`` is offered (project pages only with a project), in menu order."""
    needs = _requirements(app)
    out: list[dict[str, Any]] = []
    for item in NAV:
        if user.must_change_password and item.key != "account":
            continue  # a one-time password opens only the password form
        if item.in_project and project_id is None:
            continue
        required = needs.get(item.path, _UNKNOWN)
        if required is _UNKNOWN:
            continue  # a page not mounted in this app (a smaller test app): never a dead link
        assert required is None or isinstance(required, tuple)
        if required and not all(user.can(p) for p in required):
            continue
        if item.only is not None and not user.can(item.only):
            continue
        out.append(
            {
                "key": item.key,
                "href": item.path.replace("{project_id}", str(project_id)),
                "label": item.label,
                "new_tab": item.new_tab,
                "download": item.download,
                "in_project": item.in_project,
            }
        )
    return out
