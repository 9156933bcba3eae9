"""The import-linter contracts (``.importlinter``) are generated from the package tree and current."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "import_contracts", ROOT / "scripts" / "import_contracts.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_importlinter_file_is_what_the_script_renders() -> None:
    script = _script()
    assert (ROOT / ".importlinter").read_text(encoding="utf-8") == script.render(), (
        ".importlinter is stale: run .venv/bin/python scripts/import_contracts.py"
    )


def test_every_domain_has_a_contract_and_policy_may_use_only_three_core_modules() -> None:
    script = _script()
    text = script.render()
    for d in script.domains():
        assert f"[importlinter:contract:{d}-through-its-service]" in text
    assert (
        "household" in script.domains()
        and "policy" not in script.domains()
        and "core" not in script.domains()
    )
    policy = text.split("[importlinter:contract:policy-is-pure]")[1].split("[importlinter:contract:")[0]
    assert "    anju.core.uploads\n" in policy and "    anju.core.money\n" not in policy
    assert "    sqlalchemy\n" in policy and "    anju.household\n" in policy
