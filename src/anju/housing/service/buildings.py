"""Housing service part: a resettlement building's 楼型 (多层 / 高层), which compensation formulas
read as ``flat.rise`` (e.g. a longer transition period for 高层).

The office sets it on the estate page or through the flat list's optional 楼型 column; unset, it
follows the floors count: 住宅 10 层及以上为高层 (GB 50096-1999《住宅设计规范》1.0.3 by storeys;
GB 50352-2019《民用建筑设计统一标准》3.1.2 draws the line at a height of 27 m, about ten storeys).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.errors import NotFound, ValidationFailed
from anju.housing.models import Estate, HousingBuilding
from anju.policy import facts

__all__ = ["RISES", "building_rise", "set_building_rise"]

RISES = facts.RISE_WORDS  # 多层, 高层


def building_rise(b: HousingBuilding) -> tuple[str, bool]:
    """The building's 楼型 and whether it is the default by its floors count ("" without floors)."""
    if b.rise:
        return b.rise, False
    return facts.default_rise(b.floors), True


def set_building_rise(
    session: Session, *, actor: Actor, building_id: int, rise: str | None
) -> HousingBuilding:
    """Set (or clear with ``None`` / "", back to the floors rule) a building's 楼型. 404 for an
    unknown building; 422 naming the field for a value other than 多层 / 高层. Audited."""
    b = session.get(HousingBuilding, building_id)
    if b is None:
        raise NotFound("楼栋不存在", "no such building")
    value = (rise or "").strip() or None
    if value is not None and value not in RISES:
        raise ValidationFailed(
            f"楼型应为 {' 或 '.join(RISES)}",
            "rise must be 多层 or 高层",
            details=[{"field": "rise", "message": f"“{value[:20]}”不是可选的楼型（{'、'.join(RISES)}）"}],
        )
    if value == b.rise:
        return b
    before = b.rise
    b.rise = value
    estate = session.get(Estate, b.estate_id)
    audit_service.record(
        session,
        actor=actor,
        action="building_rise",
        entity="housing_building",
        entity_id=b.id,
        changes={"rise": [before, value]},
        project_id=estate.project_id if estate is not None else None,
    )
    return b
