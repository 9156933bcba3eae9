"""Housing service part: the selection confirmation (选房确认单) of a household that finished
choosing at a selection event, as data and as PDF (typst, CJK font, like the agreements), printed
at the desk and signed on the spot by the household, the operator and the supervisor.

Only a finished household (order entry done, with live selections in the event) has one: a
household still choosing, waiting, skipped, or whose selection a supervisor undid is a 409
``not_finished``. The confirmation number is stable per event and order position
(:func:`anju.housing.rules.confirmation_no`); after an undo and a new choice the same number
prints the new flats. Printing is a read and leaves no audit record, as for agreement documents.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.core import typst_pdf
from anju.core.dates import to_shanghai
from anju.errors import Conflict
from anju.household import service as household_service
from anju.housing import rules
from anju.housing.models import Estate, Flat, FlatType, HousingBuilding, Selection, SelectionOrderEntry
from anju.housing.service.order import get_event
from anju.housing.service.selection import EVERYTHING, household_entitlement, household_selections
from anju.identity.service import DataScope
from anju.project import service as project_service

__all__ = ["confirmation_data", "confirmation_file_name", "confirmation_pdf"]

TYPST_TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "housing" / "confirmation.typ"
SETTLEMENT_NOTE = "所选安置房与应安置面积的差价按补偿安置方案结算（多退少补），结算金额以结算单为准。"


def _area(value: Decimal) -> str:
    return f"{value:,.2f}"


def _entry(session: Session, event_id: int, household_id: int) -> SelectionOrderEntry:
    entry = session.scalars(
        select(SelectionOrderEntry).where(
            SelectionOrderEntry.event_id == event_id, SelectionOrderEntry.household_id == household_id
        )
    ).first()
    if entry is None:
        household_service.get_household(session, scope=EVERYTHING, household_id=household_id)  # 404
        raise Conflict(
            f"户（编号 {household_id}）不在本次选房活动的选房顺序中，没有选房确认单",
            "the household is not in the event's order",
            code="not_in_order",
        )
    return entry


def _refuse_unfinished(session: Session, entry: SelectionOrderEntry, code: str) -> Conflict:
    undone = session.scalar(
        select(func.count())
        .select_from(Selection)
        .where(
            Selection.event_id == entry.event_id,
            Selection.household_id == entry.household_id,
            Selection.status == "undone",
        )
    )
    if entry.status != "done" and undone:
        msg = f"户 {code} 的选房已被撤销，重新选房并完成后才能打印选房确认单"
    else:
        label = rules.ENTRY_STATUSES.get(entry.status, entry.status)
        msg = f"户 {code} 尚未完成选房（状态：{label}），不能打印选房确认单"
    return Conflict(msg, "the household has not finished choosing", code="not_finished")


def confirmation_data(
    session: Session, *, scope: DataScope, event_id: int, household_id: int
) -> dict[str, Any]:
    """What a household's selection confirmation prints, as text (the PDF's data): office and
    project, event, confirmation number, household code, head name, sign order number, order
    position, entitlement, every chosen flat, the total chosen area against the entitled one,
    when it was confirmed, and the settlement note. 404 for no such event, or a household that
    does not exist or is outside ``scope``; 409 ``not_finished`` / ``not_in_order``."""
    event = get_event(session, event_id=event_id)
    h = household_service.get_household(session, scope=scope, household_id=household_id)
    entry = _entry(session, event_id, household_id)
    chosen = household_selections(session, household_id=household_id, event_id=event_id)
    if entry.status != "done" or not chosen:
        raise _refuse_unfinished(session, entry, h.code)
    project = project_service.get_project(session, event.project_id)
    ent = household_entitlement(session, household_id=household_id)
    flat_ids = [f.id for _, f in chosen]
    extra = _flat_details(session, flat_ids)
    total = sum((f.gross_area for _, f in chosen), start=Decimal("0"))
    confirmed_at = to_shanghai(max(s.selected_at for s, _ in chosen))
    agreement_no = ""
    agreement_id = chosen[-1][0].agreement_id
    if agreement_id is not None:
        agreement_no = agreement_service.get_agreement(
            session, scope=EVERYTHING, agreement_id=agreement_id
        ).agreement_no
    diff = total - ent.entitled_area
    return {
        "office": f"{project.district or project.name}征迁办",
        "project": {"name": project.name, "code": project.code},
        "event": {
            "name": event.name,
            "held_on": f"{event.held_on.year}年{event.held_on.month}月{event.held_on.day}日"
            if event.held_on
            else "",
            "order_kind": rules.ORDER_KINDS.get(event.order_kind, event.order_kind),
        },
        "confirmation_no": rules.confirmation_no(project.code, event.id, entry.position),
        "household": {
            "code": h.code,
            "head_name": h.head_name,
            "address": h.address,
            "sign_no": str(entry.sign_no) if entry.sign_no is not None else "—",
            "agreement_no": agreement_no or "—",
        },
        "position": str(entry.position),
        "entitlement": {
            "entitled_area": _area(ent.entitled_area),
            "max_area": _area(ent.max_area),
            "max_flats": str(ent.max_flats) if ent.max_flats is not None else "不限",
            "rules": [r.label for r in ent.applicable_rules],
        },
        "flats": [
            {
                "no": str(n),
                "code": f.code,
                "estate": extra[f.id][0],
                "building": extra[f.id][1],
                "unit": f"{f.unit}单元",
                "floor": f"{f.floor}层",
                "number": f.number,
                "flat_type": " ".join(x for x in extra[f.id][2:] if x) or "—",
                "gross_area": _area(f.gross_area),
                "orientation": f.orientation or "—",
            }
            for n, (_, f) in enumerate(chosen, start=1)
        ],
        "total_area": _area(total),
        "difference": ("+" if diff > 0 else "") + _area(diff),
        "confirmed_at": f"{confirmed_at:%Y年%m月%d日 %H:%M}",
        "settlement_note": SETTLEMENT_NOTE,
    }


def _flat_details(session: Session, flat_ids: list[int]) -> dict[int, tuple[str, str, str, str]]:
    rows = session.execute(
        select(Flat.id, Estate.name, HousingBuilding.code, FlatType.code, FlatType.name)
        .join(Estate, Estate.id == Flat.estate_id)
        .join(HousingBuilding, HousingBuilding.id == Flat.building_id)
        .outerjoin(FlatType, FlatType.id == Flat.flat_type_id)
        .where(Flat.id.in_(flat_ids))
    )
    return {int(i): (str(e), str(b), str(tc or ""), str(tn or "")) for i, e, b, tc, tn in rows}


def confirmation_file_name(session: Session, *, event_id: int, household_id: int) -> str:
    """``选房确认单-P1-XF3-0012.pdf`` (not quoted)."""
    event = get_event(session, event_id=event_id)
    entry = _entry(session, event_id, household_id)
    code = project_service.get_project(session, event.project_id).code
    return f"选房确认单-{rules.confirmation_no(code, event.id, entry.position)}.pdf"


def confirmation_pdf(session: Session, *, scope: DataScope, event_id: int, household_id: int) -> bytes:
    """The household's selection confirmation as PDF (A4, typst, CJK font); the same data always
    gives the same bytes. Refusals as :func:`confirmation_data`."""
    return typst_pdf.render_pdf(
        TYPST_TEMPLATE, confirmation_data(session, scope=scope, event_id=event_id, household_id=household_id)
    )
