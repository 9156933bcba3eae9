"""Household facts part: the JSON-able forms of households and group facts, exact (the inverse of
:mod:`anju.policy.facts.from_dict`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from anju.policy.facts.from_dict import _fact_json
from anju.policy.facts.group import GroupFacts
from anju.policy.facts.household import Household


def _yuan_text(fen: int | None) -> str | None:
    if fen is None:
        return None
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


# The event dates after signing, written into a household's dict only when known (so the frozen
# facts of agreements signed before they existed read back unchanged).
EVENT_DATES = ("agreement_effective_on", "delivery_planned_on", "delivery_actual_on", "move_back_on")


def household_to_dict(h: Household) -> dict[str, Any]:
    """The JSON-able form of a :class:`Household`, exact (areas and yuan as strings); the inverse of
    :func:`household_from_dict`. Agreements freeze the facts they were signed on in this form."""
    out: dict[str, Any] = {
        "code": h.code,
        "block_code": h.block_code,
        "block_chain": list(h.block_chain),
        "kind": h.kind.value,
        "sign_on": h.sign_on.isoformat() if h.sign_on else None,
        "vacate_on": h.vacate_on.isoformat() if h.vacate_on else None,
        "flags": sorted(h.flags),
        "members": [
            {
                "name": m.name,
                "relation": m.relation,
                "dibao": m.dibao,
                "disability_grade": m.disability_grade,
                "serious_illness": m.serious_illness,
                "martyr_family": m.martyr_family,
                "shidu": m.shidu,
                "only_child": m.only_child,
                "youfu": m.youfu,
                "resettlement_counted": m.resettlement_counted,
                **_facts_json(m.facts),
            }
            for m in h.members
        ],
        "buildings": [
            {
                "certificate_no": b.certificate_no,
                "structure": b.structure.value,
                "use": b.use.value,
                "floors": b.floors,
                "built_year": b.built_year,
                "legal_area": str(b.legal_area),
                "unregistered_area": str(b.unregistered_area),
                "unregistered_determination": b.unregistered_determination.value,
                "assessed_unit_price": _yuan_text(b.assessed_unit_price_fen),
                "assessed_value": _yuan_text(b.assessed_value_fen),
                "decoration": _yuan_text(b.decoration_fen),
                "fixtures": _yuan_text(b.fixtures_fen),
                **_facts_json(b.facts),
            }
            for b in h.buildings
        ],
        "homestead": (
            {
                "area": str(h.homestead.area),
                "approved_year": h.homestead.approved_year,
                "certificate_no": h.homestead.certificate_no,
            }
            if h.homestead
            else None
        ),
        "tenants": [
            {"name": t.name, "kind": t.kind.value, "area": str(t.area), "business": t.business}
            for t in h.tenants
        ],
        **{k: v.isoformat() for k in EVENT_DATES if (v := getattr(h, k)) is not None},
        **(
            {
                "flats": [
                    {
                        "code": f.code,
                        "area": str(f.area),
                        "building": f.building,
                        "floor": f.floor,
                        "type": f.flat_type,
                        "price": _yuan_text(f.price_fen),
                        "purchase_total": _yuan_text(f.purchase_total_fen),
                        **({"ready": f.ready} if f.ready else {}),
                        **({"delivered_on": f.delivered_on.isoformat()} if f.delivered_on else {}),
                        **({"rise": f.rise} if f.rise else {}),
                    }
                    for f in h.flats
                ]
            }
            if h.flats
            else {}
        ),
    }
    if h.facts:  # only then: the frozen form of households without declared facts stays as it was
        out["facts"] = {k: _fact_json(v) for k, v in sorted(h.facts.items())}
    return out


def _facts_json(facts: Any) -> dict[str, Any]:
    # only when there are any: the frozen form of buildings and members without them stays as it was
    return {"facts": {k: _fact_json(v) for k, v in sorted(facts.items())}} if facts else {}


def group_to_dict(g: GroupFacts) -> dict[str, Any]:
    """The JSON-able form of :class:`GroupFacts`; the inverse of :func:`group_from_dict`."""
    blocks: dict[str, Any] = {}
    for code, b in g.blocks.items():
        out: dict[str, Any] = {
            "total_households": b.total_households,
            "sign_dates": [d.isoformat() for d in b.sign_dates],
            "vacate_dates": [d.isoformat() for d in b.vacate_dates],
        }
        if b.weighted:
            out["total_certificates"] = b.total_certificates
            out["total_area"] = _area_text(b.total_area_cents)
            out["sign_weights"] = [[c, _area_text(a)] for c, a in b.sign_weights]
            out["vacate_weights"] = [[c, _area_text(a)] for c, a in b.vacate_weights]
        blocks[code] = out
    result: dict[str, Any] = {"blocks": blocks, "parents": dict(g.parents)}
    if g.measures:
        result["measures"] = {
            mid: {
                scope: [{"effective_on": v.effective_on.isoformat(), "value": str(v.value)} for v in values]
                for scope, values in scopes.items()
            }
            for mid, scopes in g.measures.items()
        }
    return result


def _area_text(cents: int) -> str:
    return str(Decimal(cents).scaleb(-2).quantize(Decimal("0.01")))
