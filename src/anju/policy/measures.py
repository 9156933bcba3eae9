"""Group measures set by the office (由办公室认定的片区指标).

Some plans decide a reward by a group figure the office determines by hand on a date rather than
one counted from the household files, e.g. "整片腾空率" as the office certifies it after an
inspection. The policy declares such a measure in a top-level ``measures`` block::

    measures:
      整片腾空率:
        label: 整片腾空率（街道认定）
        unit: "%"
        set_by: office
        levels: [片区]        # where the office records it: 'project' and/or block level names
        ref: 第十二条

and formulas read it as of a date: ``measure('整片腾空率', '片区', date('2025-05-31'))``. The
office records values (each with an effective date, who and why; never overwritten) through the
compensation service; the engine receives them in :class:`anju.policy.facts.GroupFacts` and takes
the latest value with an effective date on or before the date asked. A household whose block has
no value in force is not computed: its result names the missing measure.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from anju.policy.units import ONE, Unit

if TYPE_CHECKING:
    from anju.policy.model import Meta, Src, _Reader

KEYS = {"label", "unit", "set_by", "levels", "ref"}
SET_BY = {"office": "办公室录入"}
PLACES = 4  # decimals a recorded value may have, in the measure's own unit (85.1234 %)


@dataclass(slots=True)
class Measure:
    """A group measure the office records by hand (``set_by: office``)."""

    id: str
    label: str
    unit: Unit
    unit_text: str
    percent: bool
    set_by: str
    levels: tuple[str, ...]  # 'project' and/or block level names
    ref: str
    src: Src

    @property
    def scale(self) -> int:
        """Decimal places of the measure's value as the engine reads it (a % is a fraction)."""
        return PLACES + (2 if self.percent else 0)

    def engine_value(self, recorded: Decimal) -> Decimal:
        """A recorded value (in the measure's unit, e.g. 85.5 for 85.5 %) as formulas read it."""
        return recorded / 100 if self.percent else recorded


def value_problem(measure: Measure, value: Decimal) -> str | None:
    """Why ``value`` cannot be recorded for ``measure`` (Chinese), or ``None`` when it can."""
    if not value.is_finite():
        return "应为数值"
    if value != value.quantize(Decimal(1).scaleb(-PLACES)):
        return f"最多 {PLACES} 位小数"
    if value < 0:
        return "不能为负数"
    if measure.percent and value > 100:
        return "百分比不能超过 100"
    if abs(value) >= Decimal(10) ** 10:
        return "数值过大"
    return None


def level_label(level: str) -> str:
    """How a measure level is shown ('project' is 全项目)."""
    return "全项目" if level == "project" else level


def read_measures(r: _Reader, value: Any, meta: Meta) -> dict[str, Measure]:
    """Read the top-level ``measures`` block; every mistake becomes a problem with its place."""
    out: dict[str, Measure] = {}
    for name, spec in r.mapping(value, ("measures",), "measures").items():
        path: tuple[Any, ...] = ("measures", name)
        if not isinstance(spec, dict):
            r.err(
                path, "type", "指标应为映射（label / unit / set_by / levels）", "a measure must be a mapping"
            )
            continue
        r.unknown_keys(spec, KEYS, path)
        set_by = str(spec.get("set_by", "office"))
        if set_by not in SET_BY:
            r.err(
                (*path, "set_by"),
                "measure",
                f"set_by 只能是 office（办公室录入），却是“{set_by}”；签约率、腾空率请用 sign_rate / vacate_rate",
                f"set_by must be office, got '{set_by}' (use sign_rate / vacate_rate for counted rates)",
            )
            continue
        unit, unit_text, percent = r.unit(spec.get("unit", "%"), (*path, "unit"))
        raw_levels = spec.get("levels", ["project"])
        if isinstance(raw_levels, str):
            raw_levels = [raw_levels]
        if not isinstance(raw_levels, list) or not raw_levels:
            r.err(
                (*path, "levels"),
                "type",
                "levels 应为层级名列表，如 [片区] 或 [project]",
                "levels must be a list",
            )
            continue
        allowed = ("project", *meta.block_levels)
        levels: list[str] = []
        bad = False
        for i, lv in enumerate(raw_levels):
            text = str(lv)
            if text in ("全项目", "项目"):
                text = "project"
            if text not in allowed:
                r.err(
                    (*path, "levels", i),
                    "measure",
                    f"层级“{text}”不在 policy.block_levels 中（可用：{'、'.join(allowed)}）",
                    f"level '{text}' is not one of {', '.join(allowed)}",
                )
                bad = True
            levels.append(text)
        if bad:
            continue
        out[str(name)] = Measure(
            str(name),
            str(spec.get("label", name)),
            unit if unit_text else ONE,
            unit_text,
            percent,
            set_by,
            tuple(dict.fromkeys(levels)),
            str(spec.get("ref", "")),
            r.src(path),
        )
    return out
