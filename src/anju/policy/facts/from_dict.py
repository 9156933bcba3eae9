"""Household facts part: households and group facts from plain mappings (JSON, CSV rows, YAML cases)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from anju.policy.facts.group import BlockGroup, GroupFacts, MeasureValue
from anju.policy.facts.household import (
    Building,
    ChosenFlat,
    Determination,
    Homestead,
    Household,
    Member,
    ProjectKind,
    Structure,
    Tenant,
    TenantKind,
    Use,
    _area,
    canonical,
    default_rise,
)


def _opt_int(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float):
        if value != int(value):
            raise ValueError(f"需要整数 / integer expected: {value!r}")
        return int(value)
    return int(str(value).strip())


def _fen(value: Any) -> int | None:
    """Yuan given in a file (at most 2 decimals) -> fen; empty -> None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float):
        value = repr(value)
    d = Decimal(str(value).replace(",", "").strip())
    fen = d * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"金额最多两位小数 / amount must have at most 2 decimals: {value!r}")
    return int(fen)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in ("", "0", "false", "no", "n", "否", "无", "0.0"):
        return False
    if text in ("1", "true", "yes", "y", "是", "有", "1.0"):
        return True
    raise ValueError(f"需要是/否 / boolean expected: {value!r}")


def _date(value: Any) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip()[:10])


def _area_in(value: Any) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    return _area(value, "area")


def member_from_dict(d: Mapping[str, Any]) -> Member:
    """Build a :class:`Member` from a mapping (YAML case or spreadsheet row)."""
    return Member(
        name=str(d.get("name", "")),
        relation=str(d.get("relation", "") or ""),
        dibao=_bool(d.get("dibao")),
        disability_grade=_opt_int(d.get("disability_grade")),
        serious_illness=_bool(d.get("serious_illness")),
        martyr_family=_bool(d.get("martyr_family")),
        shidu=_bool(d.get("shidu")),
        only_child=_bool(d.get("only_child")),
        youfu=_bool(d.get("youfu")),
        resettlement_counted=_bool(d.get("resettlement_counted", True)),
        facts=_declared(d.get("facts")),
    )


def building_from_dict(d: Mapping[str, Any]) -> Building:
    """Build a :class:`Building` from a mapping; money columns are given in yuan."""
    return Building(
        certificate_no=str(d.get("certificate_no", "") or ""),
        structure=Structure(canonical(str(d.get("structure", "brick_concrete")))),
        use=Use(canonical(str(d.get("use", "residential")))),
        floors=_opt_int(d.get("floors")) or 1,
        built_year=_opt_int(d.get("built_year")) or 2000,
        legal_area=_area_in(d.get("legal_area")),
        unregistered_area=_area_in(d.get("unregistered_area")),
        unregistered_determination=Determination(
            canonical(str(d.get("unregistered_determination", "pending") or "pending"))
        ),
        assessed_unit_price_fen=_fen(d.get("assessed_unit_price")),
        assessed_value_fen=_fen(d.get("assessed_value")),
        decoration_fen=_fen(d.get("decoration")),
        fixtures_fen=_fen(d.get("fixtures")),
        facts=_declared(d.get("facts")),
    )


def tenant_from_dict(d: Mapping[str, Any]) -> Tenant:
    """Build a :class:`Tenant` from a mapping."""
    return Tenant(
        name=str(d.get("name", "")),
        kind=TenantKind(canonical(str(d.get("kind", "person") or "person"))),
        area=_area_in(d.get("area")),
        business=str(d.get("business", "") or ""),
    )


def flat_from_dict(d: Mapping[str, Any]) -> ChosenFlat:
    """Build a :class:`ChosenFlat` from a mapping (a cases file's ``flats:`` entry); money in yuan:
    ``price`` per ㎡, ``purchase_total`` for the flat. ``ready`` (现房/期房) or ``delivered_on`` (the
    estate's actual delivery), ``rise`` (多层/高层) or ``building_floors`` (the default rule)."""
    return ChosenFlat(
        code=str(d.get("code", "") or ""),
        area=_area_in(d.get("area")),
        building=str(d.get("building", "") or ""),
        floor=_opt_int(d.get("floor")) or 0,
        flat_type=str(d.get("type", d.get("flat_type", "")) or ""),
        price_fen=_fen(d.get("price")),
        purchase_total_fen=_fen(d.get("purchase_total")),
        ready=str(d.get("ready", "") or ""),
        delivered_on=_date(d.get("delivered_on")),
        rise=str(d.get("rise", "") or "") or default_rise(_opt_int(d.get("building_floors"))),
    )


def _chain(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(p.strip() for p in value.replace(">", "/").split("/") if p.strip())
    return tuple(str(p) for p in value)


def household_from_dict(d: Mapping[str, Any]) -> Household:
    """Build a :class:`Household` (with members, buildings, homestead, tenants) from a mapping."""
    hs = d.get("homestead")
    flags = d.get("flags") or ()
    if isinstance(flags, str):
        flags = [f.strip() for f in flags.replace("，", ",").split(",") if f.strip()]
    return Household(
        code=str(d["code"]),
        block_code=str(d.get("block_code", d.get("block", ""))),
        block_chain=_chain(d.get("block_chain")),
        kind=ProjectKind(canonical(str(d.get("kind", "state_land")))),
        sign_on=_date(d.get("sign_on")),
        vacate_on=_date(d.get("vacate_on")),
        flags=frozenset(str(f) for f in flags),
        members=tuple(member_from_dict(m) for m in d.get("members") or ()),
        buildings=tuple(building_from_dict(b) for b in d.get("buildings") or ()),
        homestead=(
            Homestead(
                area=_area_in(hs.get("area")),
                approved_year=_opt_int(hs.get("approved_year")),
                certificate_no=str(hs.get("certificate_no", "") or ""),
            )
            if hs
            else None
        ),
        tenants=tuple(tenant_from_dict(t) for t in d.get("tenants") or ()),
        facts=_declared(d.get("facts")),
        agreement_effective_on=_date(d.get("agreement_effective_on")),
        delivery_planned_on=_date(d.get("delivery_planned_on")),
        delivery_actual_on=_date(d.get("delivery_actual_on")),
        move_back_on=_date(d.get("move_back_on")),
        flats=tuple(flat_from_dict(f) for f in d.get("flats") or ()),
    )


def _declared(value: Any) -> dict[str, Any]:
    if not value:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("facts 应为映射（事实编号: 值） / facts must be a mapping")
    return {str(k): v for k, v in value.items() if v is not None}


def _fact_json(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def _cents(value: Any) -> int:
    """Hundredths of ㎡ from an area written in a file (at most 2 decimals)."""
    return int(_area_in(value) * 100)


def _weights(items: Any, n: int, what: str) -> tuple[tuple[int, int], ...]:
    out = tuple((int(w[0]), _cents(w[1])) for w in items or ())
    if len(out) != n:
        raise ValueError(f"{what}: 权重个数应与日期个数相同 / one weight per date expected")
    return out


def group_from_dict(d: Mapping[str, Any]) -> GroupFacts:
    """Build :class:`GroupFacts` from ``{blocks: {code: {total_households, sign_dates, vacate_dates
    [, total_certificates, total_area, sign_weights, vacate_weights]}}, parents: {code: parent}
    [, measures: {id: {scope: [{effective_on, value}]}}]}``. A block given with ``total_area``
    carries the weights rates by certificate and by area need (``[[certificates, area], ...]``
    aligned with the dates); the scope of a measure is a block code or ``""`` for the project."""
    blocks: dict[str, BlockGroup] = {}
    for code, g in (d.get("blocks") or {}).items():
        weighted = "total_area" in g or "total_certificates" in g
        signs = [(x, i) for i, x in enumerate(_date(v) for v in g.get("sign_dates") or ()) if x]
        vacates = [(x, i) for i, x in enumerate(_date(v) for v in g.get("vacate_dates") or ()) if x]
        sw = (
            _weights(g.get("sign_weights"), len(g.get("sign_dates") or ()), "sign_weights")
            if weighted
            else ()
        )
        vw = (
            _weights(g.get("vacate_weights"), len(g.get("vacate_dates") or ()), "vacate_weights")
            if weighted
            else ()
        )
        signs.sort()
        vacates.sort()
        blocks[str(code)] = BlockGroup(
            total_households=int(g["total_households"]),
            sign_dates=tuple(x for x, _ in signs),
            vacate_dates=tuple(x for x, _ in vacates),
            total_certificates=int(g.get("total_certificates") or 0),
            total_area_cents=_cents(g.get("total_area")),
            sign_weights=tuple(sw[i] for _, i in signs) if weighted else (),
            vacate_weights=tuple(vw[i] for _, i in vacates) if weighted else (),
            weighted=weighted,
        )
    parents = {str(k): str(v) for k, v in (d.get("parents") or {}).items()}
    measures: dict[str, dict[str, tuple[MeasureValue, ...]]] = {}
    for mid, scopes in (d.get("measures") or {}).items():
        per: dict[str, tuple[MeasureValue, ...]] = {}
        for scope, values in (scopes or {}).items():
            vals = []
            for v in values or ():
                on = _date(v.get("effective_on"))
                if on is None:
                    raise ValueError(f"measures.{mid}.{scope}: 缺少生效日期 / effective_on is missing")
                raw = v.get("value")
                vals.append(MeasureValue(on, Decimal(repr(raw) if isinstance(raw, float) else str(raw))))
            vals.sort(key=lambda x: x.effective_on)
            per["" if scope in (None, "project") else str(scope)] = tuple(vals)
        measures[str(mid)] = per
    return GroupFacts(blocks=blocks, parents=parents, measures=measures)


def households_sequence(items: Sequence[Mapping[str, Any]]) -> list[Household]:
    """Build many households from mappings."""
    return [household_from_dict(x) for x in items]
