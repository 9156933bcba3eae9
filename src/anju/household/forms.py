"""How the cleanable fields of :mod:`anju.household.rules` are drawn as form widgets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from anju.household import rules
from anju.i18n import N_


@dataclass(frozen=True, slots=True)
class Widget:
    """One form input: name, Chinese label, widget kind, options, required."""

    name: str
    label: str
    kind: str  # text | select | check | date | number | textarea | tristate
    options: tuple[tuple[str, str], ...] = ()
    required: bool = False
    wide: bool = False


_SPECIAL: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "structure": ("select", tuple(rules.STRUCTURES.items())),
    "use": ("select", tuple(rules.USES.items())),
    "unregistered_determination": ("select", tuple(rules.DETERMINATIONS.items())),
    "kind": ("select", tuple(rules.TENANT_KINDS.items())),
    "relation": ("select", tuple((r, r) for r in rules.RELATIONS)),
    "disability_grade": (
        "select",
        (("", N_("无")), ("1", N_("一级")), ("2", N_("二级")), ("3", N_("三级")), ("4", N_("四级"))),
    ),
    "resettlement_counted": (
        "tristate",
        (("", N_("待认定")), (rules.YES, N_("计入")), (rules.NO, N_("不计入"))),
    ),
}
_CHECKS = {"dibao", "serious_illness", "martyr_family", "shidu", "only_child", "youfu"}
_NUMBERS = {"floors", "built_year", "legal_area", "unregistered_area", "area", "approved_year"}
_WIDE = {"remark", "address", "resettlement_reason"}


def widgets(fields: tuple[rules.Field, ...]) -> list[Widget]:
    """Widgets for a tuple of rule fields, in order."""
    out = []
    for f in fields:
        if f.name in _SPECIAL:
            kind, options = _SPECIAL[f.name]
        elif f.name in _CHECKS:
            kind, options = "check", ()
        elif f.name.endswith("_on"):
            kind, options = "date", ()
        elif f.name in _NUMBERS:
            kind, options = "number", ()
        elif f.name == "remark":
            kind, options = "textarea", ()
        else:
            kind, options = "text", ()
        out.append(Widget(f.name, f.label, kind, options, f.required, f.name in _WIDE))
    return out


FORMS: dict[str, tuple[rules.Field, ...]] = {
    "household": rules.HOUSEHOLD_FIELDS,
    "member": rules.MEMBER_FIELDS,
    "building": rules.BUILDING_FIELDS,
    "tenant": rules.TENANT_FIELDS,
    "homestead": rules.HOMESTEAD_FIELDS,
    "valuation": rules.VALUATION_FIELDS,
}


def form_values(obj: Any, fields: tuple[rules.Field, ...]) -> dict[str, Any]:
    """Current values of an entity as strings for a form."""
    out: dict[str, Any] = {}
    for f in fields:
        value = getattr(obj, f.name, None)
        if isinstance(value, bool):
            out[f.name] = rules.YES if value else rules.NO
        elif value is None:
            out[f.name] = ""
        else:
            out[f.name] = str(value)
    return out


def submitted(form: Any, fields: tuple[rules.Field, ...]) -> dict[str, Any]:
    """Raw values of a submitted form; unchecked boxes arrive as NO (否)."""
    out: dict[str, Any] = {}
    for f in fields:
        if f.name in _CHECKS:
            out[f.name] = rules.YES if form.get(f.name) else rules.NO
        elif f.name in form:
            out[f.name] = form.get(f.name)
    return out
