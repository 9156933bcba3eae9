"""Housing service part: the flats households have chosen, as engine facts (所选安置房).

A policy's formulas may look at a household's selected flats (``sum(flats, flat.area)``,
``household.purchase_total`` ...); the places that build facts (the compensation service for
sheets and the ledger, the settlement of chosen flats) read them here. Only confirmed selections
count; each flat gives its gross area, building, floor, type and market price per ㎡ (its purchase
total is that price times the area, when the flat has one), its estate's actual delivery (现房 once
delivered by the calculation date, else 期房) and its building's 楼型 (多层/高层, set or by floors).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.housing.models import Estate, Flat, FlatType, HousingBuilding, Selection
from anju.housing.service.buildings import building_rise
from anju.policy import facts

__all__ = ["chosen_flat_facts", "flat_facts"]


def flat_facts(session: Session, flats: Iterable[Flat]) -> tuple[facts.ChosenFlat, ...]:
    """Engine facts of the given flats (in the order given)."""
    rows = list(flats)
    building_ids = {f.building_id for f in rows}
    type_ids = {f.flat_type_id for f in rows if f.flat_type_id is not None}
    estate_ids = {f.estate_id for f in rows}
    buildings: dict[int, HousingBuilding] = {}
    if building_ids:
        q = select(HousingBuilding).where(HousingBuilding.id.in_(building_ids))
        buildings = {b.id: b for b in session.scalars(q)}
    types: dict[int, str] = {}
    if type_ids:
        q2 = select(FlatType.id, FlatType.code).where(FlatType.id.in_(type_ids))
        types = {tid: code for tid, code in session.execute(q2).all()}
    delivered: dict[int, date | None] = {}
    if estate_ids:
        q3 = select(Estate.id, Estate.actual_delivery_on).where(Estate.id.in_(estate_ids))
        delivered = {eid: d for eid, d in session.execute(q3).all()}
    return tuple(
        _fact(f, buildings.get(f.building_id), types.get(f.flat_type_id or 0, ""), delivered.get(f.estate_id))
        for f in rows
    )


def _fact(
    f: Flat, building: HousingBuilding | None, flat_type: str, delivered_on: date | None
) -> facts.ChosenFlat:
    return facts.ChosenFlat(
        code=f.code,
        area=f.gross_area,
        building=building.code if building is not None else "",
        floor=f.floor,
        flat_type=flat_type,
        price_fen=f.market_unit_price_fen,
        delivered_on=delivered_on,
        rise=building_rise(building)[0] if building is not None else "",
    )


def chosen_flat_facts(
    session: Session, household_ids: list[int] | None = None, *, project_id: int | None = None
) -> dict[int, tuple[facts.ChosenFlat, ...]]:
    """Household id -> the flats it holds through confirmed selections (in the order chosen), for
    the given households or every household of a project. Households without flats are absent."""
    q = (
        select(Selection.household_id, Flat, HousingBuilding, FlatType.code, Estate.actual_delivery_on)
        .join(Flat, Flat.id == Selection.flat_id)
        .join(HousingBuilding, HousingBuilding.id == Flat.building_id)
        .join(Estate, Estate.id == Flat.estate_id)
        .outerjoin(FlatType, FlatType.id == Flat.flat_type_id)
        .where(Selection.status == "confirmed")
        .order_by(Selection.household_id, Selection.id)
    )
    if household_ids is not None:
        if not household_ids:
            return {}
        q = q.where(Selection.household_id.in_(household_ids))
    if project_id is not None:
        q = q.where(Estate.project_id == project_id)
    out: dict[int, list[facts.ChosenFlat]] = {}
    for hid, flat, building, flat_type, delivered_on in session.execute(q).all():
        out.setdefault(hid, []).append(_fact(flat, building, flat_type or "", delivered_on))
    return {k: tuple(v) for k, v in out.items()}
