"""Project budgets and what-if: the whole project evaluated at once by the bulk engine.

The columnar household table, the group facts and the unchanged plan's result are cached per
(project, policy hash, data version), so moving a parameter on the what-if page recomputes only
the changed plan.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from anju.compensation import service as compensation_service
from anju.compensation.models import PolicyVersion
from anju.errors import ValidationFailed
from anju.household import service as household_service
from anju.identity.service import DataScope
from anju.policy import BulkResult, GroupFacts, HouseholdTable, evaluate_bulk, whatif
from anju.policy.check import Checked
from anju.policy.whatif import WhatIf
from anju.project import service as project_service


@dataclass
class ProjectTable:
    """A project's households in engine form, with the unchanged plan's results per option."""

    key: tuple[Any, ...]
    checked: Checked
    table: HouseholdTable
    group: GroupFacts
    base: dict[str, BulkResult]


_CACHE: OrderedDict[tuple[Any, ...], ProjectTable] = OrderedDict()
_LOCK = threading.Lock()
_MAX = 8


def _data_key(session: Session, project_id: int, pv: PolicyVersion) -> tuple[Any, ...]:
    return (*household_service.data_key(session, project_id=project_id), pv.content_hash)


def project_table(
    session: Session, *, project_id: int, version: int | None = None
) -> tuple[PolicyVersion, ProjectTable]:
    """The cached engine table of a whole project under a policy version (every household: budgets
    are a project figure, so callers must hold a project-wide permission)."""
    pv = compensation_service.get_version(session, project_id, version)
    key = _data_key(session, project_id, pv)
    # The group facts come from the shared per-version cache (the same object the sheet and
    # signing use); an office-set measure recorded since moves them without moving ``key``.
    group = compensation_service.group_facts(session, project_id)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            if hit.group is not group:
                hit = ProjectTable(hit.key, hit.checked, hit.table, group, {})
                _CACHE[key] = hit
            return pv, hit
    facts = [
        h
        for _, h in compensation_service.project_facts(
            session, scope=DataScope.everything(), project_id=project_id
        )
    ]
    table = HouseholdTable.from_households(facts)
    entry = ProjectTable(key, compensation_service.checked_version(pv), table, group, {})
    with _LOCK:
        _CACHE[key] = entry
        while len(_CACHE) > _MAX:
            _CACHE.popitem(last=False)
    return pv, entry


def base_result(entry: ProjectTable, option: str) -> BulkResult:
    """The unchanged plan's per-household result for ``option`` (computed once per cache entry)."""
    if option not in entry.checked.policy.options:
        raise ValidationFailed(f"方案中没有“{option}”这一安置方式", f"unknown option {option}")
    if option not in entry.base:
        entry.base[option] = evaluate_bulk(entry.checked, entry.table, option, group=entry.group)
    return entry.base[option]


def plain(value: Decimal) -> Decimal:
    """A decimal without exponent or trailing zeros (800, not 8E+2; 0.5, not 0.50)."""
    text = format(value.normalize(), "f")
    return Decimal(text)


@dataclass(frozen=True, slots=True)
class Knob:
    """A parameter value people can move on the what-if page."""

    key: str  # setting key, e.g. "relocation_rate", "house_rate[砖混,A]", "sign_reward_rate[1]"
    label: str
    unit: str
    value: Decimal


def knobs(checked: Checked) -> list[Knob]:
    """Every numeric parameter value (scalars, table cells, tier windows) in force at the plan's date."""
    from anju.compensation.standards import window_text
    from anju.policy.facts import LABELS_ZH

    out: list[Knob] = []
    for p in checked.policy.params.values():
        if not p.values:
            continue
        current = p.values[-1].value
        scale = Decimal(100) if p.percent else Decimal(1)
        if p.kind == "scalar" and isinstance(current, Decimal):
            out.append(Knob(p.name, p.label, p.unit_text, plain(current * scale)))
        elif p.kind == "table" and isinstance(current, dict):
            for keys, v in sorted(current.items()):
                shown = "，".join(LABELS_ZH.get(k, k) for k in keys)
                out.append(
                    Knob(
                        f"{p.name}[{','.join(keys)}]",
                        f"{p.label}（{shown}）",
                        p.unit_text,
                        plain(v * scale),
                    )
                )
    for t in checked.policy.tiers.values():
        for i, w in enumerate(t.windows, start=1):
            out.append(
                Knob(
                    f"{t.name}[{i}]",
                    f"{t.label}（{w.label or window_text(w.window)}）",
                    t.unit_text,
                    plain(w.value),
                )
            )
    return out


def run_whatif(
    session: Session, *, project_id: int, option: str, changes: dict[str, str]
) -> tuple[PolicyVersion, ProjectTable, WhatIf]:
    """Recompute the project with changed values (``{knob key: new value}``); unchanged keys are ignored."""
    pv, entry = project_table(session, project_id=project_id)
    current = {k.key: k.value for k in knobs(entry.checked)}
    settings = []
    errors = []
    for key, raw in changes.items():
        if key not in current:
            errors.append({"field": key, "message": "没有这个参数"})
            continue
        try:
            value = Decimal(raw.replace(",", "").strip())
        except ArithmeticError:
            errors.append({"field": key, "message": "不是有效的数字"})
            continue
        if not value.is_finite() or value < 0:
            errors.append({"field": key, "message": "应为不小于0的数字"})
            continue
        if value != current[key]:
            settings.append(f"{key}={value}")
    if errors:
        raise ValidationFailed(
            "参数有误：" + "；".join(f"{e['field']} {e['message']}" for e in errors),
            "bad settings",
            details=errors,
        )
    base = base_result(entry, option)
    try:
        result = whatif(entry.checked, entry.table, settings, option=option, group=entry.group, base=base)
    except ValueError as exc:
        raise ValidationFailed(str(exc), str(exc)) from exc
    return pv, entry, result


def block_names(session: Session, project_id: int) -> dict[str, str]:
    """Block code -> '村 / 组' path for display."""
    paths = project_service.block_paths(session, project_id)
    return {b.code: paths.get(b.id, b.name) for b in project_service.blocks(session, project_id)}


def clear() -> None:
    """Forget cached project tables (tests that roll back and reuse ids)."""
    with _LOCK:
        _CACHE.clear()
