"""Census import part: each imported household's audit snapshot: its facts as a creation diff and one
readable line per child record, identity numbers masked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from operator import itemgetter
from typing import Any

from anju.audit import service as audit_service
from anju.core.masking import mask_id_number
from anju.household import rules
from anju.household.census.results import CleanCensus

__all__: list[str] = []  # used by the other parts only


_HOUSEHOLD_SNAPSHOT = (
    "code",
    "head_name",
    "address",
    "contact_phone",
    "remark",
    "status",
    "sign_on",
    "vacate_on",
)
_GROUP_TEXT = (
    ("dibao", "低保"),
    ("serious_illness", "大病"),
    ("martyr_family", "烈属"),
    ("shidu", "失独"),
    ("only_child", "独生子女"),
    ("youfu", "优抚"),
)


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, date):
        return v.isoformat()
    return v


def _household_snapshot(h: Mapping[str, Any]) -> dict[str, Any]:
    """Household facts as ``{field: [None, value]}`` (the shape of a creation diff), blanks left out."""
    out: dict[str, Any] = {}
    for n in _HOUSEHOLD_SNAPSHOT:
        v = h.get(n)
        if v is not None and v != "":
            out[n] = [None, v if v.__class__ is str else _plain(v)]
    if h.get("block_id") is not None:
        out["block_id"] = [None, h["block_id"]]
    return out


def _member_text(m: Mapping[str, Any], masked: str) -> str:
    parts = [m["relation"], masked]
    parts.extend(label for name, label in _GROUP_TEXT if m.get(name))
    if m.get("disability_grade"):
        parts.append(f"残疾{m['disability_grade']}级")
    if m.get("phone"):
        parts.append(m["phone"])
    counted = m.get("resettlement_counted")
    parts.append("安置人口待定" if counted is None else ("计入安置人口" if counted else "不计入安置人口"))
    if m.get("resettlement_reason"):
        parts.append(m["resettlement_reason"])
    return f"{m['name']}（{'，'.join(parts)}）"


def _building_text(b: Mapping[str, Any]) -> str:
    text = (
        f"{b['building_order']}号 {rules.STRUCTURES[b['structure']]} {rules.USES[b['use']]} "
        f"合法面积{b['legal_area']}㎡"
    )
    if b.get("unregistered_area"):
        det = rules.DETERMINATIONS[b.get("unregistered_determination") or "pending"]
        text += f" 未登记{b['unregistered_area']}㎡（{det}）"
    for name, label in (
        ("certificate_no", "证号"),
        ("floors", "层数"),
        ("built_year", "建成"),
        ("location", "位置"),
    ):
        if b.get(name) not in (None, ""):
            text += f" {label}{b[name]}"
    return text


def _valuation_text(v: Mapping[str, Any]) -> str:
    text = f"{v['building_order']}号房屋 单价{v['assessed_unit_price']}元/㎡ 评估金额{v['assessed_value']}元"
    if v.get("decoration"):
        text += f" 装修{v['decoration']}元"
    if v.get("fixtures"):
        text += f" 附属物{v['fixtures']}元"
    text += f" {v['firm']}"
    if v.get("report_no"):
        text += f" 报告{v['report_no']}"
    if v.get("valued_on"):
        text += f" {v['valued_on'].isoformat()}"
    return text


def _tenant_text(t: Mapping[str, Any], masked: str) -> str:
    parts = [rules.TENANT_KINDS[t["kind"]]]
    if masked:
        parts.append(masked)
    if t.get("area"):
        parts.append(f"{t['area']}㎡")
    if t.get("monthly_rent"):
        parts.append(f"月租{t['monthly_rent']}元")
    if t.get("lease_start_on") or t.get("lease_end_on"):
        parts.append(f"租期{_plain(t.get('lease_start_on')) or ''}至{_plain(t.get('lease_end_on')) or ''}")
    if t.get("business"):
        parts.append(t["business"])
    return f"{t['name']}（{'，'.join(parts)}）"


def _homestead_text(hs: Mapping[str, Any]) -> str:
    text = f"{hs['area']}㎡"
    if hs.get("approved_year"):
        text += f" {hs['approved_year']}年批准"
    if hs.get("certificate_no"):
        text += f" 证号{hs['certificate_no']}"
    return text


def _tenant_masked(T: list[dict[str, Any]]) -> list[str]:
    """Each tenant's credential as stored and audited: a person's identity number masked."""
    return [
        mask_id_number(t.get("credential", "") or "")
        if t["kind"] == "person"
        else (t.get("credential", "") or "")
        for t in T
    ]


def _audit_changes(clean: CleanCensus) -> dict[str, str]:
    """Each household's audit snapshot as canonical JSON, by 户号: its facts as a creation diff,
    and each kind of child record as one readable line per record (identity numbers masked)."""
    H, M, B, T, HS, V = clean.tables()
    member_masked = [mask_id_number(m["id_number"]) for m in M]  # as member_identities masks them
    tenant_masked = _tenant_masked(T)
    snapshots: dict[str, dict[str, Any]] = {h["code"]: _household_snapshot(h) for h in H}
    code_of = itemgetter("household_code")
    for kind, rows, texts in (
        ("tenants", T, map(_tenant_text, T, tenant_masked)),
        ("homestead", HS, map(_homestead_text, HS)),
        ("members", M, map(_member_text, M, member_masked)),
        ("buildings", B, map(_building_text, B)),
        ("valuations", V, map(_valuation_text, V)),
    ):
        lines: defaultdict[str, list[str]] = defaultdict(list)
        for code, text in zip(map(code_of, rows), texts, strict=True):
            lines[code].append(text)
        for code, got in lines.items():
            snapshots[code][kind] = [None, "；".join(got)]
    canonical = audit_service.canonical_json
    return {code: canonical(snap) for code, snap in snapshots.items()}
