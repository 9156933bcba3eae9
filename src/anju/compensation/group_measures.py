"""Office-set group measures (由办公室认定的片区指标, #12 item 3): the values the office records
for a measure the project's policy declares ``set_by: office``.

Each value belongs to a block at one of the measure's levels (or to the whole project), is in
force from its effective date, and carries who recorded it and why. Nothing is updated or
deleted: a correction is a new record, and for one effective date the latest record counts. The
engine reads them through :func:`anju.compensation.group_cache.group_facts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.compensation.models import GroupMeasureValue, PolicyVersion
from anju.core import text
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.errors import NotFound, ValidationFailed
from anju.i18n import Bilingual
from anju.policy import facts
from anju.policy.measures import PLACES, Measure, level_label, value_problem
from anju.project import service as project_service

__all__ = [
    "DeclaredMeasure",
    "MeasureRecord",
    "declared",
    "engine_values",
    "history",
    "measures_key",
    "measures_written",
    "record",
]


@dataclass(frozen=True, slots=True)
class DeclaredMeasure:
    """A measure the project's latest published policy declares, with the blocks it may be set for."""

    id: str
    label: str
    unit: str
    levels: tuple[str, ...]
    level_labels: tuple[str, ...]
    ref: str
    blocks: tuple[tuple[int | None, str], ...]  # (block id or None for the project, shown name)


@dataclass(frozen=True, slots=True)
class MeasureRecord:
    """One recorded value, as lists and the API show it."""

    id: int
    measure_id: str
    measure_label: str
    block_id: int | None
    block_code: str | None
    block_name: str  # 全项目 for the project
    effective_on: date
    value: Decimal
    unit: str
    reason: str
    recorded_by: str
    recorded_at: datetime
    policy_version: int


def _latest(session: Session, project_id: int) -> PolicyVersion | None:
    return session.scalars(
        select(PolicyVersion)
        .where(PolicyVersion.project_id == project_id)
        .order_by(PolicyVersion.version.desc())
        .limit(1)
    ).first()


def _policy_measures(pv: PolicyVersion | None) -> tuple[dict[str, Measure], tuple[str, ...]]:
    if pv is None:
        return {}, ()
    # Published sources never change; the compensation service caches the checked form by hash.
    from anju.compensation.service import checked_version

    checked = checked_version(pv)
    return checked.policy.measures, checked.policy.meta.block_levels


def _depths(session: Session, project_id: int) -> dict[int, tuple[int, str, str]]:
    """block id -> (depth from the outermost block, code, shown path)."""
    infos = {b.id: b for b in project_service.blocks(session, project_id)}
    paths = project_service.block_paths(session, project_id)
    out: dict[int, tuple[int, str, str]] = {}
    for bid, b in infos.items():
        depth = 0
        parent = b.parent_id
        while parent is not None and parent in infos and depth <= len(infos):
            depth += 1
            parent = infos[parent].parent_id
        out[bid] = (depth, b.code, paths.get(bid, b.name))
    return out


def declared(session: Session, *, project_id: int) -> list[DeclaredMeasure]:
    """The office-set measures of the project's latest published policy (empty without one), each
    with the blocks at its levels a value may be recorded for."""
    project_service.get_project(session, project_id)
    measures, levels = _policy_measures(_latest(session, project_id))
    if not measures:
        return []
    depths = _depths(session, project_id)
    out = []
    for m in measures.values():
        blocks: list[tuple[int | None, str]] = []
        for lv in m.levels:
            if lv == "project":
                blocks.append((None, "全项目"))
                continue
            want = levels.index(lv)
            blocks.extend((bid, f"{lv}：{shown}") for bid, (d, _c, shown) in depths.items() if d == want)
        out.append(
            DeclaredMeasure(
                m.id,
                m.label,
                "%" if m.percent else m.unit_text,
                m.levels,
                tuple(level_label(lv) for lv in m.levels),
                m.ref,
                tuple(blocks),
            )
        )
    return out


# a measure value's problems (anju.policy.measures.value_problem) in English
_VALUE_PROBLEMS_EN = {
    "应为数值": "a number is expected",
    f"最多 {PLACES} 位小数": f"at most {PLACES} decimals",
    "不能为负数": "must not be negative",
    "百分比不能超过 100": "a percentage cannot exceed 100",
    "数值过大": "the number is too large",
}


def _field(field: str, label: str, message: str, label_en: str, message_en: str) -> ValidationFailed:
    """A refusal naming the field, in Chinese and English (an English page shows the English)."""
    return ValidationFailed(
        f"{label}{message}",
        f"{label_en}: {message_en}",
        details=[{"field": field, "label": label, "message": Bilingual(message, message_en)}],
    )


def _reason_problem_en(reason: str) -> str:
    """The English of :func:`anju.core.text.text_problem` for a reason (length first)."""
    if len(reason) > text.MAX_REASON:
        return f"at most {text.MAX_REASON} characters ({len(reason)} given)"
    return "contains an invisible control character; remove it and try again"


def _decimal(raw: Any) -> Decimal:
    if isinstance(raw, bool) or raw is None:
        raise _field("value", "指标值", "应为数值", "value", "a number is expected")
    if isinstance(raw, float):
        raw = repr(raw)
    try:
        d = Decimal(str(raw).replace(",", "").replace("%", "").strip())
    except (InvalidOperation, ValueError):
        raise _field("value", "指标值", "应为数值", "value", "a number is expected") from None
    if not d.is_finite():
        raise _field("value", "指标值", "应为数值", "value", "a number is expected")
    return d


def record(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    measure_id: str,
    block_id: int | None,
    effective_on: date,
    value: Any,
    reason: str,
) -> MeasureRecord:
    """Record the value of an office-set measure for a block (``None``: the whole project) from
    ``effective_on``; audited with the reason. The measure and its level come from the latest
    published policy; a bad field is a :class:`ValidationFailed` naming it and nothing is written."""
    project_service.get_project(session, project_id)
    pv = _latest(session, project_id)
    if pv is None:
        raise NotFound("本项目尚未发布补偿方案", "no policy published for this project")
    measures, levels = _policy_measures(pv)
    m = measures.get(measure_id)
    if m is None:
        known = "、".join(measures) or "无（方案未定义由办公室录入的指标）"
        known_en = ", ".join(measures) or "none (the policy defines no measure set by the office)"
        raise _field(
            "measure_id",
            "指标",
            f"不是本项目方案定义的指标（可选：{known}）",
            "measure",
            f"not a measure of this project's policy (choices: {known_en})",
        )
    depths = _depths(session, project_id)
    if block_id is None:
        if "project" not in m.levels:
            raise _field(
                "block_id",
                "片区",
                f"指标“{m.label}”按{'、'.join(m.levels)}录入，请选择片区",
                "area",
                f"the measure “{m.label}” is recorded by {', '.join(m.levels)}; choose an area",
            )
        code: str | None = None
        shown = "全项目"
    else:
        hit = depths.get(block_id)
        if hit is None:
            raise NotFound(
                "片区不存在或不属于本项目",
                "block not in project",
                details=[{"field": "block_id", "message": "片区：不存在或不属于本项目"}],
            )
        depth, code, shown = hit
        allowed = [lv for lv in m.levels if lv != "project" and levels.index(lv) == depth]
        if not allowed:
            raise _field(
                "block_id",
                "片区",
                f"指标“{m.label}”只在这些层级录入：{'、'.join(m.levels)}",
                "area",
                f"the measure “{m.label}” is recorded only at these levels: {', '.join(m.levels)}",
            )
    if not isinstance(effective_on, date):
        raise _field("effective_on", "生效日期", "应为日期", "effective date", "a date is expected")
    number = _decimal(value)
    problem = value_problem(m, number)
    if problem:
        raise _field("value", "指标值", problem, "value", _VALUE_PROBLEMS_EN.get(problem, "not accepted"))
    reason_problem = text.text_problem(reason, max_len=text.MAX_REASON, multiline=True)
    if reason_problem:
        raise _field("reason", "理由", reason_problem, "reason", _reason_problem_en(reason))
    if not reason.strip():
        raise _field(
            "reason",
            "理由",
            "必填（如认定文件、检查记录）",
            "reason",
            "is required (e.g. the finding document or an inspection record)",
        )
    now = utcnow()
    row = GroupMeasureValue(
        project_id=project_id,
        measure_id=m.id,
        block_id=block_id,
        effective_on=effective_on,
        value=number,
        policy_version=pv.version,
        reason=reason.strip(),
        recorded_by=actor.username,
        recorded_at=now,
    )
    session.add(row)
    session.flush()
    _mark_written(session, project_id)
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="group_measure_value",
        entity_id=row.id,
        project_id=project_id,
        changes={
            "measure_id": [None, m.id],
            "block": [None, code or "project"],
            "effective_on": [None, effective_on.isoformat()],
            "value": [None, str(row.value)],
        },
        reason=reason.strip(),
    )
    return MeasureRecord(
        row.id,
        m.id,
        m.label,
        block_id,
        code,
        shown,
        effective_on,
        Decimal(row.value).quantize(Decimal("0.0001")),
        "%" if m.percent else m.unit_text,
        row.reason,
        row.recorded_by,
        now,
        pv.version,
    )


def history(session: Session, *, project_id: int, measure_id: str | None = None) -> list[MeasureRecord]:
    """Every recorded value of the project (of one measure), newest effective date first; a
    correction shows beside the record it supersedes."""
    project_service.get_project(session, project_id)
    measures, _levels = _policy_measures(_latest(session, project_id))
    depths = _depths(session, project_id)
    stmt = select(GroupMeasureValue).where(GroupMeasureValue.project_id == project_id)
    if measure_id is not None:
        stmt = stmt.where(GroupMeasureValue.measure_id == measure_id)
    rows = session.scalars(
        stmt.order_by(GroupMeasureValue.effective_on.desc(), GroupMeasureValue.id.desc())
    ).all()
    out = []
    for r in rows:
        m = measures.get(r.measure_id)
        hit = depths.get(r.block_id) if r.block_id is not None else None
        out.append(
            MeasureRecord(
                r.id,
                r.measure_id,
                m.label if m else r.measure_id,
                r.block_id,
                hit[1] if hit else None,
                hit[2] if hit else "全项目",
                r.effective_on,
                Decimal(r.value),
                ("%" if m.percent else m.unit_text) if m else "",
                r.reason,
                r.recorded_by,
                r.recorded_at,
                r.policy_version,
            )
        )
    return out


_WRITTEN = "anju.group_measures_written"


def _mark_written(session: Session, project_id: int) -> None:
    tx = session.get_transaction()
    mark = session.info.get(_WRITTEN)
    if mark is None or mark[0] is not tx:
        mark = (tx, set[int]())
        session.info[_WRITTEN] = mark
    mark[1].add(project_id)


def measures_written(session: Session, project_id: int) -> bool:
    """Whether this session's open transaction recorded a value for the project (its view of the
    values is then uncommitted and must not be cached for others)."""
    mark = session.info.get(_WRITTEN)
    return (
        mark is not None
        and mark[0] is not None
        and mark[0] is session.get_transaction()
        and project_id in mark[1]
    )


def measures_key(session: Session, project_id: int) -> tuple[int, int]:
    """Identity of the project's recorded values (records are only ever added): (count, max id)."""
    row = session.execute(
        select(func.count(GroupMeasureValue.id), func.max(GroupMeasureValue.id)).where(
            GroupMeasureValue.project_id == project_id
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


def engine_values(
    session: Session, project_id: int, block_codes: dict[int, str]
) -> dict[str, dict[str, tuple[facts.MeasureValue, ...]]]:
    """The recorded values in the engine's form: measure id -> scope ('' for the project, else the
    block code) -> values by effective date; for one date the latest record counts."""
    rows = session.execute(
        select(
            GroupMeasureValue.measure_id,
            GroupMeasureValue.block_id,
            GroupMeasureValue.effective_on,
            GroupMeasureValue.value,
        )
        .where(GroupMeasureValue.project_id == project_id)
        .order_by(GroupMeasureValue.effective_on, GroupMeasureValue.id)
    ).all()
    per: dict[str, dict[str, dict[date, Decimal]]] = {}
    for mid, bid, on, value in rows:
        scope = "" if bid is None else block_codes.get(int(bid), f"#{bid}")
        per.setdefault(mid, {}).setdefault(scope, {})[on] = Decimal(value)
    return {
        mid: {
            scope: tuple(facts.MeasureValue(on, v) for on, v in sorted(vals.items()))
            for scope, vals in scopes.items()
        }
        for mid, scopes in per.items()
    }
