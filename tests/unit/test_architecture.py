"""Import direction, checked by parsing every module of ``src/anju`` with ``ast``.

(a) ``anju.policy`` is pure: from Anju it uses only ``anju.core.money``, ``anju.core.dates`` and ``anju.core.text``.
(b) ``anju.core`` uses nothing else of Anju.
(c) A domain uses another domain only through that domain's ``service`` module; ``models`` are
    imported across domains only by ``anju.db.registry`` (and the migrations, outside ``src``).
(d) The web and CLI layers (``pages``/``api``/``cli`` modules) never touch the ORM: no query
    constructs from SQLAlchemy, no ``models`` import, no session calls.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PKG = SRC / "anju"

# Not domains: shared infrastructure every layer may use.
INFRA = frozenset({"core", "db", "web"})
# The pure compensation engine: a library (rule (a) keeps it pure), not a domain with a service.
LIBRARIES = frozenset({"policy"})
# The web layer declares permissions per route with this vocabulary.
PERMISSION_VOCABULARY = "anju.identity.rules"
ORM_CONSTRUCTS = frozenset({"select", "update", "delete", "insert"})
SESSION_CALLS = frozenset(
    {"execute", "scalar", "scalars", "query", "get", "add", "add_all", "delete", "flush", "commit", "merge"}
)
SESSION_NAMES = frozenset({"db", "session"})

# Violations in code other people are still writing, to be removed when fixed. The test fails when a
# new violation appears AND when one of these disappears (so the list can only shrink).
KNOWN_VIOLATIONS: frozenset[str] = frozenset(
    {
        # demo seeding writes through the census import path (anju.household.census), not household.service
        "anju.demo.generator imports anju.household.census",
        # status labels for the overview page
        "anju.project.pages imports anju.household.rules",
    }
)


@dataclass(frozen=True)
class Imp:
    """One imported module (``from a.b import c`` gives ``a.b`` with names ``c``)."""

    importer: str
    target: str
    names: tuple[str, ...]
    line: int

    def modules(self) -> list[str]:
        """The modules this import brings in (``from anju.x import service`` is ``anju.x.service``)."""
        out = [self.target]
        for n in self.names:
            if (PKG.parent / (self.target + "." + n).replace(".", "/")).with_suffix(".py").exists() or (
                PKG.parent / (self.target + "." + n).replace(".", "/") / "__init__.py"
            ).exists():
                out.append(f"{self.target}.{n}")
        return out


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def parse_all() -> dict[str, ast.Module]:
    return {
        module_name(p): ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in sorted(PKG.rglob("*.py"))
    }


def imports_of(name: str, tree: ast.Module, is_package: bool) -> list[Imp]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(Imp(name, a.name, (), node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if is_package else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join(pkg + ([base] if base else []))
            out.append(Imp(name, base, tuple(a.name for a in node.names), node.lineno))
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, list[Imp]]:
    trees = parse_all()
    packages = {module_name(p) for p in PKG.rglob("__init__.py")}
    return {name: imports_of(name, tree, name in packages) for name, tree in trees.items()}


@pytest.fixture(scope="module")
def trees() -> dict[str, ast.Module]:
    return parse_all()


def domain_of(module: str) -> str | None:
    """``anju.household.pages`` -> ``household``; top-level modules and infrastructure -> None."""
    parts = module.split(".")
    if len(parts) < 2 or parts[1] in INFRA:
        return None
    return parts[1] if (PKG / parts[1]).is_dir() else None


def is_edge_module(module: str) -> bool:
    """Web and CLI layer modules: ``pages``, ``api``, ``cli``, ``*_pages`` / ``*_api``, and the parts of
    a ``pages`` or ``api`` package (``anju.campaign.api.visits``)."""
    parts = module.split(".")
    last = parts[-1]
    return (
        last in ("pages", "api", "cli")
        or last.endswith(("_pages", "_api"))
        or "api" in parts
        or "pages" in parts
    )


def test_the_parser_sees_the_code(graph: dict[str, list[Imp]]) -> None:
    assert "anju.household.pages" in graph and "anju.policy.scalar" in graph
    targets = {m for i in graph["anju.household.pages"] for m in i.modules()}
    assert "anju.household.service" in targets  # `from anju.household import service as ...`
    assert domain_of("anju.household.pages") == "household" and domain_of("anju.core.money") is None
    assert is_edge_module("anju.household.import_pages") and not is_edge_module("anju.household.service")
    assert is_edge_module("anju.campaign.api.visits") and not is_edge_module("anju.campaign.service.visits")


def test_a_policy_is_pure(graph: dict[str, list[Imp]]) -> None:
    allowed = {"anju.core.money", "anju.core.dates", "anju.core.text"}
    bad = []
    for name, imps in graph.items():
        if not name.startswith("anju.policy"):
            continue
        for i in imps:
            for m in i.modules():
                top = m.split(".")[0]
                if m.startswith("anju") and not (
                    m in allowed or m == "anju.policy" or m.startswith("anju.policy.")
                ):
                    bad.append(f"{name}:{i.line} imports {m}")
                if top in ("sqlalchemy", "fastapi", "starlette", "jinja2", "alembic"):
                    bad.append(f"{name}:{i.line} imports {m} (no database, no web)")
    assert bad == []


def test_b_core_imports_nothing_else_of_anju(graph: dict[str, list[Imp]]) -> None:
    bad = [
        f"{name}:{i.line} imports {m}"
        for name, imps in graph.items()
        if name.startswith("anju.core")
        for i in imps
        for m in i.modules()
        if m.startswith("anju") and m != "anju.core" and not m.startswith("anju.core.")
    ]
    assert bad == []


def cross_domain_violations(graph: dict[str, list[Imp]]) -> set[str]:
    out = set()
    for name, imps in graph.items():
        own = domain_of(name)
        for i in imps:
            for m in i.modules():
                parts = m.split(".")
                if parts[0] != "anju" or len(parts) < 2:
                    continue
                other = parts[1]
                if parts[-1] == "models" and other != own and name != "anju.db.registry":
                    out.add(f"{name} imports {m}")  # models cross a domain boundary only in the registry
                if own is None or other == own or other in INFRA | LIBRARIES or not (PKG / other).is_dir():
                    continue
                if m == f"anju.{other}":
                    continue  # the package itself; the names it brings in are checked as modules
                if m == f"anju.{other}.service":
                    continue
                if m == PERMISSION_VOCABULARY and is_edge_module(name):
                    continue
                out.add(f"{name} imports {m}")
    return out


def test_c_domains_meet_only_through_services(graph: dict[str, list[Imp]]) -> None:
    found = cross_domain_violations(graph)
    assert sorted(found - KNOWN_VIOLATIONS) == [], "new cross-domain imports"


def edge_violations(graph: dict[str, list[Imp]], trees: dict[str, ast.Module]) -> set[str]:
    out = set()
    for name, imps in graph.items():
        if not is_edge_module(name):
            continue
        for i in imps:
            if i.target.split(".")[0] == "sqlalchemy":
                for n in set(i.names) & ORM_CONSTRUCTS:
                    out.add(f"{name} imports sqlalchemy {n}")
            for m in i.modules():
                if m.startswith("anju.") and m.endswith(".models"):
                    out.add(f"{name} imports {m}")
                if i.target.startswith("anju.") and i.target.endswith(".models"):
                    out.add(f"{name} imports {i.target}")
        for node in ast.walk(trees[name]):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in SESSION_NAMES
                and node.func.attr in SESSION_CALLS
            ):
                out.add(f"{name} calls {node.func.value.id}.{node.func.attr}()")
    return out


def test_d_web_and_cli_never_touch_the_orm(graph: dict[str, list[Imp]], trees: dict[str, ast.Module]) -> None:
    found = edge_violations(graph, trees)
    assert sorted(found - KNOWN_VIOLATIONS) == [], "the web/CLI layer touches the ORM; add a service function"


def test_known_violations_are_still_there(graph: dict[str, list[Imp]], trees: dict[str, ast.Module]) -> None:
    found = cross_domain_violations(graph) | edge_violations(graph, trees)
    assert sorted(KNOWN_VIOLATIONS - found) == [], "fixed: remove from KNOWN_VIOLATIONS"


# The checks above must be able to fail: run them over small synthetic modules.


def _fake_graph(source: str, name: str) -> tuple[dict[str, list[Imp]], dict[str, ast.Module]]:
    tree = ast.parse(source)
    return {name: imports_of(name, tree, False)}, {name: tree}


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        (
            "anju.project.pages",
            "from anju.household import models\n",
            "anju.project.pages imports anju.household.models",
        ),
        (
            "anju.project.service",
            "from anju.household.rules import STATUSES\n",
            "anju.project.service imports anju.household.rules",
        ),
        (
            "anju.project.service",
            "import anju.identity.models\n",
            "anju.project.service imports anju.identity.models",
        ),
        (
            "anju.project.service",
            "from anju.identity.rules import Permission\n",
            "anju.project.service imports anju.identity.rules",
        ),
    ],
)
def test_cross_domain_checker_catches(name: str, source: str, expected: str) -> None:
    graph, _ = _fake_graph(source, name)
    assert expected in cross_domain_violations(graph)


def test_cross_domain_checker_allows_services() -> None:
    graph, _ = _fake_graph(
        "from anju.household import service as household_service\nfrom anju.identity.service import DataScope\n"
        "from anju.core.money import round_to_fen\nfrom anju.policy.scalar import evaluate\n",
        "anju.project.service",
    )
    assert cross_domain_violations(graph) == set()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from sqlalchemy import select\n", "anju.audit.pages imports sqlalchemy select"),
        ("from anju.audit.models import AuditRecord\n", "anju.audit.pages imports anju.audit.models"),
        ("def f(db):\n    return db.get(1, 2)\n", "anju.audit.pages calls db.get()"),
        ("def f(session):\n    session.commit()\n", "anju.audit.pages calls session.commit()"),
    ],
)
def test_edge_checker_catches(source: str, expected: str) -> None:
    graph, trees = _fake_graph(source, "anju.audit.pages")
    assert expected in edge_violations(graph, trees)
