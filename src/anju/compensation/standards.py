"""The compensation standards table (补偿标准一览): a policy rendered for people to read."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from anju.core.dates import DayCount, DayWindow
from anju.i18n import N_
from anju.policy.check import Checked
from anju.policy.declared import TYPES, FactDecl
from anju.policy.facts import LABELS_ZH
from anju.policy.model import Dated, Param, Policy
from anju.policy.wording import window_text as band_words

COUNT_LABELS = {
    DayCount.CLOCK_DAY_IS_DAY_1: "当日计为第1日",
    DayCount.NEXT_DAY_IS_DAY_1: "次日起算",
}
EVENT_LABELS = {"sign_on": "签约日期", "vacate_on": "腾空交房日期"}
ROUNDING_LABELS = {
    "half_up": "四舍五入",
    "half_down": "五舍六入",
    "half_even": "四舍六入五成双",
    "down": "舍去",
    "up": "进一",
}
UNIT_LABELS = {"fen": "分", "jiao": "角", "yuan": "元"}


def _num(value: Decimal, percent: bool) -> str:
    if percent:
        value = value * 100
    text = (
        f"{value.normalize():f}"
        if value == value.to_integral_value()
        else f"{value:f}".rstrip("0").rstrip(".")
    )
    return text + ("%" if percent else "")


def _key(k: str) -> str:
    return LABELS_ZH.get(k, k)


def window_text(w: DayWindow) -> str:
    """'第30日以内' / '超过第30日但不超过第45日' / '超过第45日'."""
    if w.after is None and w.upto is not None:
        return f"第{w.upto}日以内（含）"
    if w.after is not None and w.upto is not None:
        return f"超过第{w.after}日但不超过第{w.upto}日"
    if w.after is not None:
        return f"超过第{w.after}日"
    return "任何时间"


@dataclass
class ParamRow:
    """One parameter as a row (or a small table) of values."""

    label: str
    unit: str
    ref: str
    kind: str
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    value: str = ""
    since: str = ""
    overrides: list[str] = field(default_factory=list)


def _values(p: Param, entries: list[Dated]) -> tuple[str, list[list[str]]]:
    """Latest value (scalar) or rows (table/bands) of dated entries; older versions are noted."""
    current = entries[-1].value if entries else None
    if p.kind == "table" and isinstance(current, dict):
        rows = [[*(_key(k) for k in keys), _num(v, p.percent)] for keys, v in sorted(current.items())]
        return "", rows
    if p.kind == "bands" and isinstance(current, list):
        # a band counts its own unit (人, 月, ㎡ ...), worded as on the calculation sheet
        by = "" if p.by_unit.dimensionless else str(p.by_unit)
        return "", [[band_words(w, by), _num(v, p.percent)] for w, v in current]
    if isinstance(current, Decimal):
        return _num(current, p.percent), []
    return _key(str(current)), []


def _facts(decls: dict[str, FactDecl]) -> list[dict[str, Any]]:
    """The household facts the policy declares, as the office reads them: label, type (a message
    id), unit, required, the accepted range, reference and help."""
    out = []
    for d in decls.values():
        lo = _num(d.minimum, False) if d.minimum is not None else ""
        hi = _num(d.maximum, False) if d.maximum is not None else ""
        out.append(
            {
                "id": d.id,
                "label": d.label,
                "type": TYPES.get(d.type, d.type),
                "unit": d.unit_text,
                "required": d.required,
                "low": lo,
                "high": hi,
                "places": d.places if d.type == "number" else None,
                "choices": [LABELS_ZH.get(c, c) for c in d.choices],
                "ref": d.ref,
                "help": d.help,
            }
        )
    return out


def _subtotals(pol: Policy) -> list[dict[str, Any]]:
    """The subtotal lines of the sheet with the labels of what each adds up (shown, never added
    to the total)."""
    labels = {it.id: it.label for it in pol.items} | {st.id: st.label for st in pol.subtotals}
    return [
        {"label": st.label, "parts": [labels.get(x, x) for x in st.parts], "ref": st.ref}
        for st in pol.subtotals
    ]


def standards_table(checked: Checked, block_names: dict[str, str] | None = None) -> dict[str, Any]:
    """Parameters, clocks, date-window tiers, items, subtotals, declared facts and swap rules of a
    checked policy.

    ``block_names`` shows block codes of overrides by their names.
    """
    names = block_names or {}
    pol = checked.policy
    params = []
    for p in pol.params.values():
        value, rows = _values(p, p.values)
        row = ParamRow(label=p.label, unit=p.unit_text, ref=p.ref, kind=p.kind, value=value, rows=rows)
        if p.kind == "table":
            row.headers = [*p.keys, N_("标准")]
        elif p.kind == "bands":
            row.headers = [N_("区间"), N_("标准")]
        if len(p.values) > 1 or (p.values and p.values[-1].since):
            row.since = "；".join(
                f"{d.since.isoformat() if d.since else '初始'}起：{_values(p, [d])[0] or '见表'}"
                for d in p.values
            )
        for block, entries in p.overrides.items():
            v, r = _values(p, entries)
            row.overrides.append(f"{names.get(block, block)}：{v or '；'.join('/'.join(x) for x in r)}")
        params.append(row)
    tiers = [
        {
            "label": t.label,
            "basis": f"按{EVENT_LABELS.get(t.event, t.event)}，自“{pol.clocks[t.clock].label if t.clock in pol.clocks else t.clock}”"
            f"起计（{COUNT_LABELS.get(t.count, str(t.count))}）",
            "unit": t.unit_text,
            "windows": [(w.label or window_text(w.window), _num(w.value, False)) for w in t.windows],
            "otherwise": _num(t.otherwise, False),
            "ref": t.ref,
        }
        for t in pol.tiers.values()
    ]
    clocks = [{"label": c.label, "on": c.on.isoformat(), "ref": c.ref} for c in pol.clocks.values()]
    items = [
        {
            "label": it.label,
            "options": "、".join(pol.options.get(o, o) for o in it.options),
            "per": N_("每证") if it.per == "certificate" else N_("每户"),
            "formula": it.formula.text,
            "when": it.when.text if it.when else "",
            "floor": it.floor.text if it.floor else (it.household_floor.text if it.household_floor else ""),
            "cap": it.cap.text if it.cap else (it.household_cap.text if it.household_cap else ""),
            "ref": it.ref,
        }
        for it in pol.items
    ]
    meta = pol.meta
    return {
        "facts": _facts(pol.facts),
        "subtotals": _subtotals(pol),
        "name": meta.name,
        "legal_ref": meta.legal_ref,
        "effective_on": meta.effective_on.isoformat(),
        "rounding": f"{ROUNDING_LABELS.get(meta.rounding_mode.value, meta.rounding_mode.value)}，"
        f"精确到{UNIT_LABELS.get(meta.rounding_unit.value, meta.rounding_unit.value)}",
        "options": pol.options,
        "params": params,
        "tiers": tiers,
        "clocks": clocks,
        "items": items,
        "swap": pol.swap is not None,
        "description": meta.description,
    }
