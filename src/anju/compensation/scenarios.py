"""Named what-if scenarios (测算方案): saved parameter changes, re-run, compared, exported.

A scenario stores only the values it changes (knob key -> value as typed, see
:func:`anju.compensation.budget.knobs`) and the option. Running it recomputes the whole project
under the latest published policy and today's household data, so a saved scenario always answers
"what would this change cost now". Scenarios are archived, never deleted; every write is audited.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.compensation import budget
from anju.compensation.models import WhatIfScenario
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.core.money import fen_to_yuan
from anju.core.text import find_control_chars
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.project import service as project_service

MAX_NAME = 100
MAX_NOTE = 500
MIN_COMPARE, MAX_COMPARE = 2, 4


class StaleScenario(Conflict):
    """A write naming a version of the scenario someone else has changed since."""

    code = "stale_version"


@dataclass(frozen=True, slots=True)
class ScenarioRun:
    """A scenario recomputed now: totals, per item and per block (fen), against the published plan."""

    scenario_id: int
    name: str
    option: str
    option_label: str
    policy_version: int
    overrides: dict[str, str]
    ignored: list[str]  # saved keys the current policy no longer has
    households: int
    households_affected: int  # households whose total changes
    base_total: int
    new_total: int
    by_item: dict[str, tuple[int, int]]
    by_block: dict[str, tuple[int, int]]
    labels: dict[str, str]  # item id -> label

    @property
    def delta(self) -> int:
        """New total minus the published plan's total (fen)."""
        return self.new_total - self.base_total


def overrides_of(s: WhatIfScenario) -> dict[str, str]:
    """The stored overrides of a scenario."""
    data = json.loads(s.overrides or "{}")
    return {str(k): str(v) for k, v in data.items()}


def _clean_name(name: str) -> str:
    n = " ".join(name.split())
    if not n:
        raise ValidationFailed(
            "请填写测算名称", "name is required", details=[{"field": "name", "message": "必填"}]
        )
    if len(n) > MAX_NAME or find_control_chars(n):
        raise ValidationFailed(
            f"测算名称最多 {MAX_NAME} 个字，且不能含控制字符",
            "invalid name",
            details=[{"field": "name", "message": f"最多{MAX_NAME}个字"}],
        )
    return n


def _clean_note(note: str) -> str:
    n = note.strip()
    if len(n) > MAX_NOTE or find_control_chars(n, multiline=True):
        raise ValidationFailed(
            f"说明最多 {MAX_NOTE} 个字",
            "invalid note",
            details=[{"field": "note", "message": f"最多{MAX_NOTE}个字"}],
        )
    return n


def _clean_overrides(
    session: Session, project_id: int, option: str, overrides: dict[str, str]
) -> dict[str, str]:
    """Only the values that differ from the published plan, validated by the what-if engine."""
    _pv, entry = budget.project_table(session, project_id=project_id)
    if option not in entry.checked.policy.options:
        raise ValidationFailed(
            f"方案中没有“{option}”这一安置方式",
            f"unknown option {option}",
            details=[{"field": "option", "message": "可选：" + "、".join(entry.checked.policy.options)}],
        )
    current = {k.key: k.value for k in budget.knobs(entry.checked)}
    kept: dict[str, str] = {}
    errors = []
    for key, raw in overrides.items():
        text = str(raw).replace(",", "").strip()
        if not text:
            continue
        if key not in current:
            errors.append({"field": key, "message": "方案中没有这个参数"})
            continue
        try:
            value = Decimal(text)
        except InvalidOperation:
            errors.append({"field": key, "message": f"“{raw}”不是有效的数字"})
            continue
        if not value.is_finite() or value < 0:
            errors.append({"field": key, "message": "应为不小于0的数字"})
            continue
        if value != current[key]:
            kept[key] = format(budget.plain(value), "f")
    if errors:
        raise ValidationFailed(
            "参数有误：" + "；".join(f"{e['field']} {e['message']}" for e in errors),
            "bad overrides",
            details=errors,
        )
    return kept


def _active_named(session: Session, project_id: int, name: str) -> WhatIfScenario | None:
    return session.scalars(
        select(WhatIfScenario).where(
            WhatIfScenario.project_id == project_id,
            WhatIfScenario.name == name,
            WhatIfScenario.archived_at.is_(None),
        )
    ).first()


def create_scenario(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    name: str,
    option: str,
    overrides: dict[str, str],
    note: str = "",
) -> WhatIfScenario:
    """Save a named scenario (audited). Names are unique among a project's scenarios in use (409)."""
    project_service.get_project(session, project_id)
    clean = _clean_name(name)
    note = _clean_note(note)
    kept = _clean_overrides(session, project_id, option, overrides)
    if _active_named(session, project_id, clean) is not None:
        raise Conflict(f"已有名为“{clean}”的测算", "a scenario with this name exists", code="duplicate_name")
    now = utcnow()
    s = WhatIfScenario(
        project_id=project_id,
        name=clean,
        option=option,
        overrides=json.dumps(kept, ensure_ascii=False, sort_keys=True),
        note=note,
        created_by=actor.username,
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(s)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="whatif_scenario",
        entity_id=s.id,
        project_id=project_id,
        changes={
            "name": [None, clean],
            "option": [None, option],
            "overrides": [None, kept],
            "note": [None, note],
        },
    )
    return s


def scenarios(session: Session, project_id: int, *, archived: bool = False) -> list[WhatIfScenario]:
    """A project's scenarios in use (or the archived ones), newest first."""
    cond = WhatIfScenario.archived_at.is_not(None) if archived else WhatIfScenario.archived_at.is_(None)
    return list(
        session.scalars(
            select(WhatIfScenario)
            .where(WhatIfScenario.project_id == project_id, cond)
            .order_by(WhatIfScenario.id.desc())
        )
    )


def get_scenario(session: Session, *, project_id: int, scenario_id: int) -> WhatIfScenario:
    """One scenario of a project (archived ones too); raises :class:`NotFound`."""
    s = session.get(WhatIfScenario, scenario_id)
    if s is None or s.project_id != project_id:
        raise NotFound("没有这个测算", "scenario not found")
    return s


def _for_write(session: Session, project_id: int, scenario_id: int, version: int) -> WhatIfScenario:
    s = get_scenario(session, project_id=project_id, scenario_id=scenario_id)
    if s.archived_at is not None:
        raise Conflict(f"测算“{s.name}”已归档，不能再修改", "scenario is archived", code="archived")
    if s.version != version:
        who = s.archived_by or s.created_by
        raise StaleScenario(
            f"测算“{s.name}”已被 {who} 修改（现为第 {s.version} 版），请刷新后再改",
            f"scenario changed by {who} (version {s.version})",
        )
    return s


def update_scenario(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    scenario_id: int,
    version: int,
    name: str | None = None,
    option: str | None = None,
    overrides: dict[str, str] | None = None,
    note: str | None = None,
) -> WhatIfScenario:
    """Rename a scenario or change its values (audited, before and after); a stale ``version`` is a 409."""
    s = _for_write(session, project_id, scenario_id, version)
    before = {"name": s.name, "option": s.option, "overrides": overrides_of(s), "note": s.note}
    after = dict(before)
    if name is not None:
        after["name"] = _clean_name(name)
        other = _active_named(session, project_id, str(after["name"]))
        if other is not None and other.id != s.id:
            raise Conflict(f"已有名为“{after['name']}”的测算", "duplicate name", code="duplicate_name")
    if option is not None:
        after["option"] = option
    if overrides is not None or option is not None:
        after["overrides"] = _clean_overrides(
            session, project_id, str(after["option"]), overrides if overrides is not None else overrides_of(s)
        )
    if note is not None:
        after["note"] = _clean_note(note)
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if not changes:
        return s
    s.name = str(after["name"])
    s.option = str(after["option"])
    s.overrides = json.dumps(after["overrides"], ensure_ascii=False, sort_keys=True)
    s.note = str(after["note"])
    s.updated_at = utcnow()
    s.version += 1
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="update",
        entity="whatif_scenario",
        entity_id=s.id,
        project_id=project_id,
        changes=changes,
    )
    return s


def archive_scenario(
    session: Session, *, actor: Actor, project_id: int, scenario_id: int, version: int
) -> WhatIfScenario:
    """Archive (the only way to delete) a scenario; audited. A stale ``version`` is a 409."""
    s = _for_write(session, project_id, scenario_id, version)
    s.archived_at = utcnow()
    s.archived_by = actor.username
    s.version += 1
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="archive",
        entity="whatif_scenario",
        entity_id=s.id,
        project_id=project_id,
        changes={"archived": [False, True], "name": [s.name, s.name]},
    )
    return s


def run_scenario(session: Session, *, project_id: int, scenario: WhatIfScenario) -> ScenarioRun:
    """Recompute a scenario now (latest published policy, current households). Saved keys the
    policy no longer has are skipped and listed in ``ignored``."""
    pv, entry = budget.project_table(session, project_id=project_id)
    options = entry.checked.policy.options
    if scenario.option not in options:
        raise ValidationFailed(
            f"现行方案中已没有“{scenario.option}”这一安置方式", f"option {scenario.option} no longer exists"
        )
    saved = overrides_of(scenario)
    known = {k.key for k in budget.knobs(entry.checked)}
    used = {k: v for k, v in saved.items() if k in known}
    _pv, _entry, r = budget.run_whatif(session, project_id=project_id, option=scenario.option, changes=used)
    return ScenarioRun(
        scenario_id=scenario.id,
        name=scenario.name,
        option=scenario.option,
        option_label=options[scenario.option],
        policy_version=pv.version,
        overrides=saved,
        ignored=sorted(set(saved) - known),
        households=entry.table.n,
        households_affected=int(np.count_nonzero(r.delta)),
        base_total=r.base_total,
        new_total=r.new_total,
        by_item=dict(r.by_item),
        by_block=dict(r.by_block),
        labels=dict(r.new.labels),
    )


def compare(session: Session, *, project_id: int, scenario_ids: list[int]) -> list[ScenarioRun]:
    """Two to four scenarios recomputed side by side, in the order asked."""
    ids = list(dict.fromkeys(scenario_ids))
    if not MIN_COMPARE <= len(ids) <= MAX_COMPARE:
        raise ValidationFailed(
            f"请选择 {MIN_COMPARE}–{MAX_COMPARE} 个测算进行比较（已选 {len(ids)} 个）",
            f"compare {MIN_COMPARE} to {MAX_COMPARE} scenarios",
            details=[{"field": "ids", "message": f"已选 {len(ids)} 个"}],
        )
    return [
        run_scenario(
            session,
            project_id=project_id,
            scenario=get_scenario(session, project_id=project_id, scenario_id=i),
        )
        for i in ids
    ]


def knob_labels(session: Session, *, project_id: int) -> dict[str, tuple[str, str, Decimal]]:
    """knob key -> (label, unit, published value) of the project's latest policy."""
    _pv, entry = budget.project_table(session, project_id=project_id)
    return {k.key: (k.label, k.unit, k.value) for k in budget.knobs(entry.checked)}


def export_xlsx(
    runs: list[ScenarioRun], *, block_names: dict[str, str], knobs: dict[str, tuple[str, str, Decimal]]
) -> bytes:
    """The comparison as a workbook: 汇总 (totals), 按项目 (per item), 按区块 (per block), 参数 (changed values)."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buf,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    head = wb.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    money = wb.add_format({"num_format": "#,##0.00"})

    def header(ws: object, first: list[str]) -> None:
        cols = first + [f"{r.name}" for r in runs]
        for j, c in enumerate(cols):
            ws.write_string(0, j, c, head)  # type: ignore[attr-defined]

    ws = wb.add_worksheet("汇总")
    header(ws, ["指标"])
    rows: list[tuple[str, list[int | str]]] = [
        ("安置方式", [r.option_label for r in runs]),
        ("依据方案版本", [f"第 {r.policy_version} 版" for r in runs]),
        ("户数", [r.households for r in runs]),
        ("金额变化的户数", [r.households_affected for r in runs]),
        ("原方案总额（元）", [r.base_total for r in runs]),
        ("测算总额（元）", [r.new_total for r in runs]),
        ("比原方案增减（元）", [r.delta for r in runs]),
    ]
    money_rows = {"原方案总额（元）", "测算总额（元）", "比原方案增减（元）"}
    for i, (label, values) in enumerate(rows, start=1):
        ws.write_string(i, 0, label)
        for j, v in enumerate(values, start=1):
            if isinstance(v, str):
                ws.write_string(i, j, v)
            elif label in money_rows:
                ws.write_number(i, j, fen_to_yuan(v), money)
            else:
                ws.write_number(i, j, v)
    ws.set_column(0, 0, 20)
    ws.set_column(1, len(runs), 22)

    ws = wb.add_worksheet("按项目")
    header(ws, ["补偿项目", "原方案（元）"])
    items = list(dict.fromkeys(i for r in runs for i in r.by_item))
    labels = {k: v for r in runs for k, v in r.labels.items()}
    for i, item in enumerate(items, start=1):
        ws.write_string(i, 0, labels.get(item, item))
        base = next((r.by_item[item][0] for r in runs if item in r.by_item), 0)
        ws.write_number(i, 1, fen_to_yuan(base), money)
        for j, r in enumerate(runs, start=2):
            ws.write_number(i, j, fen_to_yuan(r.by_item.get(item, (0, 0))[1]), money)
    ws.set_column(0, 0, 24)
    ws.set_column(1, len(runs) + 1, 18)

    ws = wb.add_worksheet("按区块")
    header(ws, ["区块", "原方案（元）"])
    blocks = list(dict.fromkeys(b for r in runs for b in r.by_block))
    for i, code in enumerate(blocks, start=1):
        ws.write_string(i, 0, block_names.get(code, code))
        base = next((r.by_block[code][0] for r in runs if code in r.by_block), 0)
        ws.write_number(i, 1, fen_to_yuan(base), money)
        for j, r in enumerate(runs, start=2):
            ws.write_number(i, j, fen_to_yuan(r.by_block.get(code, (0, 0))[1]), money)
    ws.set_column(0, 0, 24)
    ws.set_column(1, len(runs) + 1, 18)

    ws = wb.add_worksheet("参数")
    header(ws, ["参数", "单位", "原方案"])
    keys = list(dict.fromkeys(k for r in runs for k in r.overrides))
    for i, key in enumerate(keys, start=1):
        label, unit, value = knobs.get(key, (key, "", Decimal(0)))
        ws.write_string(i, 0, label)
        ws.write_string(i, 1, unit)
        ws.write_string(i, 2, format(value, "f") if key in knobs else "（现行方案已无此参数）")
        for j, r in enumerate(runs, start=3):
            ws.write_string(i, j, r.overrides.get(key, "—"))
    ws.set_column(0, 0, 36)
    ws.set_column(1, len(runs) + 2, 16)
    wb.close()
    return buf.getvalue()
