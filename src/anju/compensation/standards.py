"""The compensation standards table (补偿标准一览): a policy rendered for people to read."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from anju.core.dates import DayCount, DayWindow
from anju.i18n import N_, msg
from anju.policy.check import Checked
from anju.policy.declared import TYPES, FactDecl
from anju.policy.facts import LABELS_ZH
from anju.policy.model import Dated, Param, Policy, TierWindow
from anju.policy.model.base import _window_label

# The page's words are message ids (Chinese, translated where shown); the Chinese is unchanged.
COUNT_LABELS = {
    DayCount.CLOCK_DAY_IS_DAY_1: N_("当日计为第1日"),
    DayCount.NEXT_DAY_IS_DAY_1: N_("次日起算"),
}
# a tier counts from a clock to the household's signing or vacating date (the only two events)
BASIS_TEXTS = {
    "sign_on": N_("按签约日期，自“{clock}”起计（{count}）"),
    "vacate_on": N_("按腾空交房日期，自“{clock}”起计（{count}）"),
}
ROUNDING_LABELS = {
    "half_up": N_("四舍五入"),
    "half_down": N_("五舍六入"),
    "half_even": N_("四舍六入五成双"),
    "down": N_("舍去"),
    "up": N_("进一"),
}
# one id per rounding unit: a bare 分 is another word in the catalog (time-bank points)
ROUNDING_TEXTS = {
    "fen": N_("{mode}，精确到分"),
    "jiao": N_("{mode}，精确到角"),
    "yuan": N_("{mode}，精确到元"),
}


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
    """'第30日以内（含）' / '超过第30日、不超过第45日' / '超过第45日', as a message (Chinese text that a
    page shows with ``{{ _(text) }}`` in the reader's language); the Chinese of the reader's default
    label (:func:`anju.policy.model.base._window_label`)."""
    if w.after is None and w.upto is not None:
        return msg("第{upto}日以内（含）", upto=w.upto)
    if w.after is not None and w.upto is not None:
        return msg("超过第{after}日、不超过第{upto}日", after=w.after, upto=w.upto)
    if w.after is not None:
        return msg("超过第{after}日", after=w.after)
    return N_("任何时间")


def _window_words(w: TierWindow) -> str:
    """A tier window as the page shows it: the plan's own label, or for a window without one (the
    reader gives it a bilingual default) its words as a message, in the reader's language."""
    if not w.label or w.label == _window_label(w.window):
        return window_text(w.window)
    return w.label


def band_words(w: DayWindow, unit: str = "") -> str:
    """A band in words as a message: ``超过 2 人、不超过 3 人`` (the same Chinese as the calculation
    sheet's :func:`anju.policy.wording.window_text`); the unit is the policy's own word."""
    sp = f" {unit}" if unit else ""
    if w.after is None and w.upto is None:
        return N_("不限")
    if w.after is None:
        return msg("不超过 {upto}{unit}", upto=w.upto, unit=sp)
    if w.upto is None:
        return msg("超过 {after}{unit}", after=w.after, unit=sp)
    return msg("超过 {after}{unit}、不超过 {upto}{unit}", after=w.after, upto=w.upto, unit=sp)


def rounding_text(mode: str, unit: str) -> str:
    """``四舍五入，精确到元`` as a message."""
    return msg(ROUNDING_TEXTS[unit], mode=ROUNDING_LABELS.get(mode, mode))


def tier_basis(event: str, clock: str, count: DayCount) -> str:
    """``按签约日期，自“…”起计（次日起算）`` as a message; the clock's label is the policy's own."""
    return msg(BASIS_TEXTS[event], clock=clock, count=COUNT_LABELS.get(count, str(count)))


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
    since: list[str] = field(default_factory=list)  # messages: the value from each date
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
            row.since = [
                msg("{since}起：{value}", since=d.since.isoformat(), value=_values(p, [d])[0] or N_("见表"))
                if d.since
                else msg("初始起：{value}", value=_values(p, [d])[0] or N_("见表"))
                for d in p.values
            ]
        for block, entries in p.overrides.items():
            v, r = _values(p, entries)
            row.overrides.append(f"{names.get(block, block)}：{v or '；'.join('/'.join(x) for x in r)}")
        params.append(row)
    tiers = [
        {
            "label": t.label,
            "basis": tier_basis(
                t.event, pol.clocks[t.clock].label if t.clock in pol.clocks else t.clock, t.count
            ),
            "unit": t.unit_text,
            "windows": [(_window_words(w), _num(w.value, False)) for w in t.windows],
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
        "rounding": rounding_text(meta.rounding_mode.value, meta.rounding_unit.value),
        "options": pol.options,
        "params": params,
        "tiers": tiers,
        "clocks": clocks,
        "items": items,
        "swap": pol.swap is not None,
        "description": meta.description,
    }
