"""Housing service part: estates and the flat stock (房源): create estates, import the developer's
flat list (checked row by row, all or nothing), export it, list flats, and change a flat's status
by hand (freeze, reserve, release; with a reason, audited).

Services never commit; every write is audited in the same transaction and tells the project's
live screens (after commit).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from anju import uploads as upload_policy
from anju.audit import service as audit_service
from anju.core import text
from anju.core import uploads as core_uploads
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.core.money import format_yuan
from anju.db import events
from anju.db.session import begin_write
from anju.db.versions import bump_version
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.housing import rules, stock_sheet
from anju.housing.models import (
    Estate,
    Flat,
    FlatType,
    HousingBuilding,
    SelectionEvent,
    SelectionEventEstate,
)
from anju.housing.stock_sheet import Checked, Problem, SheetRow
from anju.identity import service as identity_service
from anju.project import service as project_service

__all__ = [
    "MAX_LISTED_PROBLEMS",
    "BuildingGrid",
    "Checked",
    "EstateSummary",
    "EstateView",
    "FlatImportResult",
    "FlatRow",
    "Problem",
    "SheetRow",
    "change_flat_status",
    "check_flat_rows",
    "create_estate",
    "estate_by_code",
    "estate_summary",
    "estate_view",
    "export_flats",
    "file_digest",
    "flat_row",
    "flat_rows",
    "get_estate",
    "get_flat",
    "import_flats",
    "list_estates",
    "read_flat_sheet",
    "status_by_estate",
]

MAX_LISTED_PROBLEMS = 500  # problems listed in one refusal; the rest are counted


def get_estate(session: Session, *, estate_id: int) -> Estate:
    """An estate by id; raises :class:`NotFound`."""
    estate = session.get(Estate, estate_id)
    if estate is None:
        raise NotFound("安置小区不存在", "estate not found")
    return estate


def estate_by_code(session: Session, *, project_id: int, code: str) -> Estate:
    """A project's estate by its code (as stored: normalised); raises :class:`NotFound`."""
    estate = session.scalars(
        select(Estate).where(Estate.project_id == project_id, Estate.code == rules.clean_code(code))
    ).first()
    if estate is None:
        raise NotFound(f"本项目没有编号为“{code}”的安置小区", "estate not found")
    return estate


def get_flat(session: Session, *, flat_id: int) -> Flat:
    """A flat by id; raises :class:`NotFound`."""
    flat = session.get(Flat, flat_id)
    if flat is None:
        raise NotFound("房源不存在", "flat not found")
    return flat


@dataclass(frozen=True, slots=True)
class EstateSummary:
    """An estate with its flat counts by status (every status, in the table's order)."""

    estate: Estate
    counts: dict[str, int]
    buildings: int

    @property
    def total(self) -> int:
        """How many flats the estate has."""
        return sum(self.counts.values())


def _counts(session: Session, estate_ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {i: rules.counts_by_status([]) for i in estate_ids}
    if not estate_ids:
        return out
    rows = session.execute(
        select(Flat.estate_id, Flat.status, func.count())
        .where(Flat.estate_id.in_(estate_ids))
        .group_by(Flat.estate_id, Flat.status)
    )
    for estate_id, status, n in rows:
        out[int(estate_id)][str(status)] = int(n)
    return out


def list_estates(session: Session, *, project_id: int) -> list[EstateSummary]:
    """The project's estates (by code) with their flat counts (404 for no such project)."""
    project_service.get_project(session, project_id)
    estates = list(
        session.scalars(select(Estate).where(Estate.project_id == project_id).order_by(Estate.code))
    )
    ids = [e.id for e in estates]
    counts = _counts(session, ids)
    buildings: dict[int, int] = {}
    if ids:
        buildings = {
            int(e): int(n)
            for e, n in session.execute(
                select(HousingBuilding.estate_id, func.count())
                .where(HousingBuilding.estate_id.in_(ids))
                .group_by(HousingBuilding.estate_id)
            )
        }
    return [EstateSummary(e, counts[e.id], buildings.get(e.id, 0)) for e in estates]


def estate_summary(session: Session, *, estate_id: int) -> EstateSummary:
    """One estate with its flat counts (404 for no such estate)."""
    estate = get_estate(session, estate_id=estate_id)
    buildings = session.scalar(
        select(func.count()).select_from(HousingBuilding).where(HousingBuilding.estate_id == estate_id)
    )
    return EstateSummary(estate, _counts(session, [estate_id])[estate_id], int(buildings or 0))


def _clean_text(value: str, field: str, label: str, max_len: int, *, required: bool = False) -> str:
    v = (value or "").strip()
    if required and not v:
        raise ValidationFailed(
            f"请填写{label}", f"{field} required", details=[{"field": field, "message": f"{label}不能为空"}]
        )
    problem = text.text_problem(v, max_len=max_len)
    if problem:
        raise ValidationFailed(
            f"{label}{problem}", f"bad {field}", details=[{"field": field, "message": f"{label}{problem}"}]
        )
    return v


def create_estate(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    code: str,
    name: str,
    address: str = "",
    planned_delivery_on: date | None = None,
) -> Estate:
    """Add an estate (安置小区) to a project; a code the project already has is a 409
    ``duplicate_code``."""
    project_service.get_project(session, project_id)
    code = rules.clean_code(_clean_text(code, "code", "小区编号", 32, required=True))
    if len(code) > 32:  # NFKC may lengthen a code (㍿ -> 株式会社)
        raise ValidationFailed(
            "小区编号过长", "code too long", details=[{"field": "code", "message": "小区编号最多 32 个字符"}]
        )
    name = _clean_text(name, "name", "小区名称", 128, required=True)
    address = _clean_text(address, "address", "地址", 200)
    duplicate = Conflict(
        f"本项目已有编号为“{code}”的安置小区",
        "estate code taken",
        code="duplicate_code",
        details=[{"field": "code", "message": f"编号“{code}”已被使用"}],
    )
    if session.scalar(select(Estate.id).where(Estate.project_id == project_id, Estate.code == code)):
        raise duplicate
    estate = Estate(
        project_id=project_id,
        code=code,
        name=name,
        address=address,
        planned_delivery_on=planned_delivery_on,
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(estate)
            session.flush()
    except IntegrityError:
        raise duplicate from None
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="estate",
        entity_id=estate.id,
        changes={
            "code": [None, code],
            "name": [None, name],
            "address": [None, address],
            "planned_delivery_on": [None, planned_delivery_on.isoformat() if planned_delivery_on else None],
        },
        project_id=project_id,
    )
    return estate


# --------------------------------------------------------------------------- listing


@dataclass(frozen=True, slots=True)
class FlatRow:
    """A flat as lists, grids and exports show it."""

    flat: Flat
    building: str
    flat_type: str
    flat_type_name: str

    @property
    def status_label(self) -> str:
        """The status in Chinese."""
        return rules.FLAT_STATUSES.get(self.flat.status, self.flat.status)


def _natural(code: str) -> tuple[int, str]:
    m = re.match(r"\d+", code)
    return (int(m.group()) if m else 10**6, code)


def flat_row(session: Session, *, flat_id: int) -> FlatRow:
    """One flat with its building and flat type (404 for no such flat)."""
    found = session.execute(
        select(Flat, HousingBuilding.code, FlatType.code, FlatType.name)
        .join(HousingBuilding, HousingBuilding.id == Flat.building_id)
        .outerjoin(FlatType, FlatType.id == Flat.flat_type_id)
        .where(Flat.id == flat_id)
    ).first()
    if found is None:
        raise NotFound("房源不存在", "flat not found")
    f, b, t, n = found
    return FlatRow(f, str(b), str(t or ""), str(n or ""))


def flat_rows(session: Session, *, estate_ids: list[int], status: str | None = None) -> list[FlatRow]:
    """The flats of ``estate_ids`` (optionally of one status) ordered by building, unit, floor and number."""
    if not estate_ids:
        return []
    q = (
        select(Flat, HousingBuilding.code, FlatType.code, FlatType.name)
        .join(HousingBuilding, HousingBuilding.id == Flat.building_id)
        .outerjoin(FlatType, FlatType.id == Flat.flat_type_id)
        .where(Flat.estate_id.in_(estate_ids))
    )
    if status:
        q = q.where(Flat.status == status)
    rows = [FlatRow(f, str(b), str(t or ""), str(n or "")) for f, b, t, n in session.execute(q)]
    rows.sort(
        key=lambda r: (r.flat.estate_id, _natural(r.building), r.flat.unit, r.flat.floor, r.flat.number)
    )
    return rows


@dataclass(slots=True)
class BuildingGrid:
    """One building's flats as a grid: floors top down, units left to right (a cell may hold
    several flats of one unit and floor, or none)."""

    building: HousingBuilding
    floors: list[int]
    units: list[int]
    cells: dict[tuple[int, int], list[FlatRow]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class EstateView:
    """An estate with its buildings as grids, its flat types and its counts by status."""

    estate: Estate
    grids: list[BuildingGrid]
    flat_types: list[FlatType]
    counts: dict[str, int]


def estate_view(session: Session, *, estate_id: int) -> EstateView:
    """An estate's buildings as flat grids (floors x units), flat types and counts."""
    estate = get_estate(session, estate_id=estate_id)
    buildings = sorted(
        session.scalars(select(HousingBuilding).where(HousingBuilding.estate_id == estate_id)),
        key=lambda b: (b.sort, _natural(b.code)),
    )
    grids = {
        b.id: BuildingGrid(b, list(range(b.floors, 0, -1)), list(range(1, b.units + 1))) for b in buildings
    }
    rows = flat_rows(session, estate_ids=[estate_id])
    for r in rows:
        g = grids[r.flat.building_id]
        g.cells.setdefault((r.flat.floor, r.flat.unit), []).append(r)
    for g in grids.values():
        g.counts = rules.counts_by_status(r.flat.status for cell in g.cells.values() for r in cell)
    types = list(
        session.scalars(select(FlatType).where(FlatType.estate_id == estate_id).order_by(FlatType.code))
    )
    return EstateView(
        estate, [grids[b.id] for b in buildings], types, rules.counts_by_status(r.flat.status for r in rows)
    )


# --------------------------------------------------------------------------- import


def _refuse(problems: list[stock_sheet.Problem], what: str) -> ValidationFailed:
    listed = problems[:MAX_LISTED_PROBLEMS]
    more = len(problems) - len(listed)
    head = f"{what}有 {len(problems)} 处问题，未导入任何房源" + (
        f"（列出前 {len(listed)} 处）" if more else ""
    )
    return ValidationFailed(
        head + "：" + listed[0].message if len(problems) == 1 else head,
        f"{len(problems)} problems in the flat list",
        details=[{"row": p.row, "column": p.column, "message": p.message} for p in listed],
    )


def read_flat_sheet(data: bytes, filename: str) -> list[stock_sheet.SheetRow]:
    """The data rows of a flat list upload (inspected before it is parsed); a missing header,
    a missing required column or no data is a :class:`ValidationFailed` naming row and column."""
    filename = core_uploads.safe_filename(filename, "flats.xlsx")
    rows, problems = stock_sheet.rows_of(
        upload_policy.first_sheet(data, filename, unreadable="无法读取该文件，请上传 .xlsx 格式的房源表")
    )
    if problems:
        raise _refuse(problems, "房源表")
    return rows


def _existing_codes(session: Session, estate_id: int) -> set[str]:
    return {str(c) for c in session.scalars(select(Flat.code).where(Flat.estate_id == estate_id))}


def check_flat_rows(
    session: Session, *, estate_id: int, rows: list[stock_sheet.SheetRow]
) -> stock_sheet.Checked:
    """Check every row against the rules and the estate's flats (nothing is written)."""
    get_estate(session, estate_id=estate_id)
    return stock_sheet.check_rows(rows, _existing_codes(session, estate_id))


@dataclass(frozen=True, slots=True)
class FlatImportResult:
    """What an import wrote: flats, buildings and flat types created."""

    flats: int
    buildings: int
    flat_types: int


def import_flats(
    session: Session,
    *,
    actor: Actor,
    estate_id: int,
    rows: list[stock_sheet.SheetRow],
    file_sha256: str = "",
) -> FlatImportResult:
    """Import a flat list into an estate, all or nothing: any problem (a bad cell, a flat listed
    twice, a flat the estate has) refuses the whole list with every problem (row and column
    named) and writes nothing. Buildings and flat types named by the rows are created as needed."""
    begin_write(session)
    estate = session.scalars(
        select(Estate)
        .where(Estate.id == estate_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if estate is None:
        raise NotFound("安置小区不存在", "estate not found")
    checked = stock_sheet.check_rows(rows, _existing_codes(session, estate_id))
    if not checked.ok:
        raise _refuse(checked.problems, "房源表")
    buildings = {
        b.code: b
        for b in session.scalars(select(HousingBuilding).where(HousingBuilding.estate_id == estate_id))
    }
    types = {t.code: t for t in session.scalars(select(FlatType).where(FlatType.estate_id == estate_id))}
    new_buildings, new_types = 0, 0
    for spec in checked.flats:
        if spec.building not in buildings:
            buildings[spec.building] = HousingBuilding(
                estate_id=estate_id, code=spec.building, floors=0, units=0, sort=_natural(spec.building)[0]
            )
            session.add(buildings[spec.building])
            new_buildings += 1
        if spec.flat_type and spec.flat_type not in types:
            types[spec.flat_type] = FlatType(estate_id=estate_id, code=spec.flat_type, name="")
            session.add(types[spec.flat_type])
            new_types += 1
    session.flush()
    now = utcnow()
    rises: dict[str, str] = {}  # building -> 楼型 set by the sheet
    for spec in checked.flats:
        b = buildings[spec.building]
        b.floors, b.units = max(b.floors, spec.floor), max(b.units, spec.unit)
        if spec.rise and b.rise != spec.rise:
            rises[b.code] = spec.rise
            b.rise = spec.rise
        session.add(
            Flat(
                estate_id=estate_id,
                building_id=b.id,
                flat_type_id=types[spec.flat_type].id if spec.flat_type else None,
                code=spec.code,
                unit=spec.unit,
                floor=spec.floor,
                number=spec.number,
                gross_area=spec.gross_area,
                inner_area=spec.inner_area,
                shared_area=spec.shared_area,
                orientation=spec.orientation,
                price_tier=spec.price_tier,
                market_unit_price_fen=spec.market_unit_price_fen,
                status="available",
                status_reason="",
                status_changed_at=now,
            )
        )
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(
            "导入期间该小区的房源已被他人修改，请重新导入",
            "flats changed meanwhile",
            code="concurrent_import",
        ) from None
    total_area = sum((s.gross_area for s in checked.flats), Decimal(0))
    audit_service.record(
        session,
        actor=actor,
        action="import_flats",
        entity="estate",
        entity_id=estate_id,
        changes={
            "flats": [None, len(checked.flats)],
            "gross_area": [None, str(total_area)],
            "buildings_created": [None, new_buildings],
            "flat_types_created": [None, new_types],
            **({"rise": [None, rises]} if rises else {}),
            "codes": [None, [s.code for s in checked.flats]],
            "file_sha256": [None, file_sha256],
        },
        project_id=estate.project_id,
    )
    events.notify(
        session,
        topic=events.project_topic(estate.project_id),
        kind="housing",
        data={"estate_id": estate_id, "imported": len(checked.flats)},
    )
    _notify_screens(session, estate_id)
    return FlatImportResult(len(checked.flats), new_buildings, new_types)


def file_digest(data: bytes) -> str:
    """SHA-256 of an uploaded file (kept in the import's audit record)."""
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- export


def export_flats(session: Session, *, estate_id: int) -> bytes:
    """The estate's flats as xlsx (the import's columns, 楼型 included, plus code and status;
    re-importable)."""
    get_estate(session, estate_id=estate_id)
    # the 楼型 set by the office (not the default by floors, which the import derives again)
    rises = {
        int(bid): rise
        for bid, rise in session.execute(
            select(HousingBuilding.id, HousingBuilding.rise).where(HousingBuilding.estate_id == estate_id)
        )
    }
    out: list[list[Any]] = []
    for r in flat_rows(session, estate_ids=[estate_id]):
        f = r.flat
        out.append(
            [
                f.code,
                r.building,
                f.unit,
                f.floor,
                f.number,
                r.flat_type,
                f.gross_area,
                f.inner_area,
                f.shared_area,
                f.orientation,
                f.price_tier,
                format_yuan(f.market_unit_price_fen).replace(",", "") if f.market_unit_price_fen else "",
                rises.get(f.building_id) or "",
                r.status_label,
                f.status_reason,
            ]
        )
    return stock_sheet.workbook(out)


# --------------------------------------------------------------------------- status by hand


def change_flat_status(
    session: Session,
    *,
    actor: Actor,
    flat_id: int,
    status: str,
    reason: str,
    expected_version: int | None = None,
) -> Flat:
    """Freeze (冻结), reserve (保留) or release a flat by hand, with a reason (audited). Only
    available <-> frozen and available <-> reserved; anything else is a 409 ``illegal_transition``,
    a stale ``expected_version`` a 409 ``stale_version`` naming who changed the flat."""
    reason = _clean_text(reason, "reason", "理由", rules.MAX_REASON, required=True)
    begin_write(session)
    flat = session.scalars(
        select(Flat).where(Flat.id == flat_id).with_for_update().execution_options(populate_existing=True)
    ).first()
    if flat is None:
        raise NotFound("房源不存在", "flat not found")
    if expected_version is not None and flat.version != expected_version:
        raise identity_service.stale_version(
            session, what=f"房源 {flat.code} ", current=flat.version, entity="flat", entity_id=flat.id
        )
    before = flat.status
    rules.check_flat_transition(before, status, manual=True)
    bump_version(session, flat)
    flat.status, flat.status_reason, flat.status_changed_at = status, reason, utcnow()
    estate = get_estate(session, estate_id=flat.estate_id)
    audit_service.record(
        session,
        actor=actor,
        action="flat_status",
        entity="flat",
        entity_id=flat.id,
        changes={"status": [before, status], "code": [flat.code, flat.code]},
        reason=reason,
        project_id=estate.project_id,
    )
    events.notify(
        session,
        topic=events.project_topic(estate.project_id),
        kind="housing",
        data={"estate_id": flat.estate_id, "flat_id": flat.id, "status": status},
    )
    _notify_screens(session, flat.estate_id)
    return flat


def _notify_screens(session: Session, estate_id: int) -> None:
    """Tell the big screens of the selection events offering the estate (not closed) that its
    flats changed (a flat frozen on selection day turns grey on the wall at once)."""
    ids = session.scalars(
        select(SelectionEventEstate.event_id)
        .join(SelectionEvent, SelectionEvent.id == SelectionEventEstate.event_id)
        .where(SelectionEventEstate.estate_id == estate_id, SelectionEvent.status != "closed")
    )
    for event_id in ids:
        events.notify(
            session,
            topic=events.selection_event_topic(event_id),
            kind="housing",
            data={"estate_id": estate_id},
        )


def status_by_estate(session: Session, *, estate_ids: list[int]) -> dict[int, dict[str, int]]:
    """``estate id -> status -> count`` (every status present, zeros included)."""
    return _counts(session, estate_ids)
