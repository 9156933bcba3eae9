"""JSON routes of resettlement flats (安置房): estates, the flat stock (import, export, status by
hand), selection events, the lottery commitment, and the order with everything needed to check it."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from anju.housing import rules
from anju.housing import schemas as s
from anju.housing import service as housing_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import READ_ERRORS, WRITE_ERRORS, IdPath, OptionalIdQuery, error_responses

router = APIRouter(tags=["housing"], responses=error_responses(*READ_ERRORS))
READ = requires(Permission.PROJECT_READ)
MANAGE = requires(Permission.HOUSING_MANAGE)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def estate_read(summary: housing_service.EstateSummary) -> s.EstateRead:
    """An estate summary as the API shows it."""
    e = summary.estate
    return s.EstateRead(
        id=e.id,
        project_id=e.project_id,
        code=e.code,
        name=e.name,
        address=e.address,
        planned_delivery_on=e.planned_delivery_on,
        actual_delivery_on=e.actual_delivery_on,
        version=e.version,
        buildings=summary.buildings,
        flats=summary.total,
        counts=summary.counts,
    )


def flat_read(r: housing_service.FlatRow) -> s.FlatRead:
    """A flat as the API shows it."""
    f = r.flat
    return s.FlatRead(
        id=f.id,
        estate_id=f.estate_id,
        code=f.code,
        building=r.building,
        unit=f.unit,
        floor=f.floor,
        number=f.number,
        flat_type=r.flat_type,
        flat_type_name=r.flat_type_name,
        gross_area=f.gross_area,
        inner_area=f.inner_area,
        shared_area=f.shared_area,
        orientation=f.orientation,
        price_tier=f.price_tier,
        market_unit_price_fen=f.market_unit_price_fen,
        status=f.status,
        status_label=r.status_label,
        status_reason=f.status_reason,
        status_changed_at=f.status_changed_at,
        version=f.version,
    )


def event_read(summary: housing_service.EventSummary) -> s.EventRead:
    """A selection event as the API shows it."""
    e = summary.event
    return s.EventRead(
        id=e.id,
        project_id=e.project_id,
        name=e.name,
        held_on=e.held_on,
        order_kind=e.order_kind,
        order_kind_label=summary.kind_label,
        status=e.status,
        status_label=summary.status_label,
        seed_source=e.seed_source,
        seed_committed_hash=e.seed_committed_hash,
        seed_published_at=e.seed_published_at,
        seed=e.seed,
        roster_hash=e.roster_hash,
        order_fixed_at=e.order_fixed_at,
        current_position=e.current_position,
        households=summary.households,
        estate_ids=[x.id for x in summary.estates],
        flat_counts=summary.counts,
        version=e.version,
    )


def order_read(view: housing_service.OrderView) -> s.OrderRead:
    """An event's order with its seed, commitment, roster hash and formula."""
    e = view.event
    return s.OrderRead(
        event_id=e.id,
        fixed=view.fixed,
        order_kind=e.order_kind,
        seed=e.seed,
        seed_source=e.seed_source,
        seed_committed_hash=e.seed_committed_hash,
        roster_hash=e.roster_hash,
        formula=view.formula_zh,
        formula_en=rules.FORMULA_EN if e.order_kind == "lottery" else "ascending sign order number",
        verify_command=f"anju housing verify-order --event {e.id}",
        lines=[
            s.OrderLineRead(
                position=x.position,
                call_order=x.call_order,
                household_id=x.household_id,
                code=x.code,
                head_name_masked=x.head_name_masked,
                sign_no=x.sign_no,
                draw_key=x.draw_key,
                status=x.status,
                status_label=x.status_label,
            )
            for x in view.lines
        ],
    )


# --------------------------------------------------------------------------- estates and flats


@router.get("/projects/{project_id}/estates", response_model=list[s.EstateRead])
def list_estates(
    project_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> list[s.EstateRead]:
    """The project's estates (安置小区) with flat counts by status."""
    return [estate_read(x) for x in housing_service.list_estates(db, project_id=project_id)]


@router.post(
    "/projects/{project_id}/estates",
    response_model=s.EstateRead,
    status_code=201,
    responses=error_responses(409),
)
def create_estate(
    project_id: IdPath,
    body: s.EstateCreate,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> s.EstateRead:
    """Add an estate; a code the project already has is a 409 ``duplicate_code``."""
    e = housing_service.create_estate(
        db,
        actor=user.actor(client_ip(request)),
        project_id=project_id,
        code=body.code,
        name=body.name,
        address=body.address,
        planned_delivery_on=body.planned_delivery_on,
    )
    return estate_read(housing_service.EstateSummary(e, rules.counts_by_status([]), 0))


@router.get("/estates/{estate_id}", response_model=s.EstateRead)
def get_estate(
    estate_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> s.EstateRead:
    """One estate with its flat counts by status."""
    return estate_read(housing_service.estate_summary(db, estate_id=estate_id))


@router.get("/estates/{estate_id}/flats", response_model=list[s.FlatRead])
def list_flats(
    estate_id: IdPath,
    status: s.FlatStatus | None = None,
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> list[s.FlatRead]:
    """The estate's flats by building, unit, floor and number (``status`` filters)."""
    housing_service.get_estate(db, estate_id=estate_id)
    return [flat_read(r) for r in housing_service.flat_rows(db, estate_ids=[estate_id], status=status)]


@router.post(
    "/estates/{estate_id}/flats/import",
    response_model=s.FlatImportRead,
    responses=error_responses(*WRITE_ERRORS, 413),
)
async def import_flats(
    estate_id: IdPath,
    request: Request,
    dry_run: bool = True,
    file: UploadFile = File(
        ...,
        description="开发商房源表 .xlsx（或 .csv）：列 楼栋、单元、楼层、房号、户型、建筑面积、套内面积、公摊面积、朝向、价格档",
    ),
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> s.FlatImportRead:
    """Check (``dry_run=true``, the default: every problem listed, nothing written) or import a
    flat list, all or nothing (any problem: 422 with every row's problem in ``details`` as
    ``{row, column, message}``). The upload is inspected before it is read."""
    content = await file.read()
    filename = file.filename or "flats.xlsx"
    actor = user.actor(client_ip(request))

    def work() -> s.FlatImportRead:
        rows = housing_service.read_flat_sheet(content, filename)
        if dry_run:
            checked = housing_service.check_flat_rows(db, estate_id=estate_id, rows=rows)
            return s.FlatImportRead(
                dry_run=True,
                ok=checked.ok,
                rows=len(rows),
                problems=[
                    s.FlatProblemRead(row=p.row, column=p.column, message=p.message) for p in checked.problems
                ],
                imported=0,
                buildings_created=0,
                flat_types_created=0,
            )
        result = housing_service.import_flats(
            db, actor=actor, estate_id=estate_id, rows=rows, file_sha256=housing_service.file_digest(content)
        )
        return s.FlatImportRead(
            dry_run=False,
            ok=True,
            rows=len(rows),
            problems=[],
            imported=result.flats,
            buildings_created=result.buildings,
            flat_types_created=result.flat_types,
        )

    return await run_in_threadpool(work)


@router.get(
    "/estates/{estate_id}/flats.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "房源表"}},
)
def export_flats(
    estate_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """The estate's flats as xlsx: 房源编号, then the import's columns (楼栋 … 价格档, 市场单价,
    楼型 as set, blank: by floors), 状态 and 状态说明; it imports again as it is. Text is never turned into formulas or links."""
    e = housing_service.get_estate(db, estate_id=estate_id)
    content = housing_service.export_flats(db, estate_id=estate_id)
    name = f"房源-{e.code}.xlsx"
    return Response(
        content,
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


@router.patch("/flats/{flat_id}", response_model=s.FlatRead, responses=error_responses(409))
def change_flat(
    flat_id: IdPath,
    body: s.FlatStatusUpdate,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> s.FlatRead:
    """Freeze (冻结), reserve (保留) or release a flat, with a reason (audited); other changes are a
    409 ``illegal_transition``, a stale ``version`` a 409 ``stale_version``."""
    f = housing_service.change_flat_status(
        db,
        actor=user.actor(client_ip(request)),
        flat_id=flat_id,
        status=body.status,
        reason=body.reason,
        expected_version=body.version,
    )
    return flat_read(housing_service.flat_row(db, flat_id=f.id))


# --------------------------------------------------------------------------- selection events


@router.get("/selection-events", response_model=list[s.EventRead])
def list_events(
    project_id: OptionalIdQuery = None, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> list[s.EventRead]:
    """Selection events (选房活动), newest first; ``project_id`` limits them to one project."""
    return [event_read(x) for x in housing_service.list_events(db, project_id=project_id)]


@router.post("/selection-events", response_model=s.EventRead, status_code=201, responses=error_responses(409))
def create_event(
    body: s.EventCreate, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> s.EventRead:
    """Plan a selection event over estates of the project (another project's estate is a 404)."""
    e = housing_service.create_event(
        db,
        actor=user.actor(client_ip(request)),
        project_id=body.project_id,
        name=body.name,
        order_kind=body.order_kind,
        estate_ids=body.estate_ids,
        held_on=body.held_on,
    )
    return event_read(housing_service.event_summary(db, event_id=e.id))


@router.get("/selection-events/{event_id}", response_model=s.EventRead)
def get_event(
    event_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> s.EventRead:
    """A selection event with its commitment, seed (once fixed), estates and flat counts."""
    return event_read(housing_service.event_summary(db, event_id=event_id))


@router.post(
    "/selection-events/{event_id}/commitment", response_model=s.EventRead, responses=error_responses(409)
)
def publish_commitment(
    event_id: IdPath,
    body: s.CommitmentCreate,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> s.EventRead:
    """Publish a lottery's commitment before the draw (seed source and, for a secret seed, its
    SHA-256); freezes the roster. Once only (409 ``already_committed``); not a lottery: 409."""
    housing_service.publish_commitment(
        db,
        actor=user.actor(client_ip(request)),
        event_id=event_id,
        seed_source=body.seed_source,
        seed_hash=body.seed_hash,
        expected_version=body.version,
    )
    return event_read(housing_service.event_summary(db, event_id=event_id))


@router.post("/selection-events/{event_id}/order", response_model=s.OrderRead, responses=error_responses(409))
def fix_order(
    event_id: IdPath,
    body: s.OrderCreate,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> s.OrderRead:
    """Fix the order, once (409 ``order_fixed``): sign order, or the lottery with its seed (409
    ``seed_mismatch`` when it does not hash to the commitment, ``not_committed`` before the
    commitment, ``seed_required`` without a seed); no household with a live swap agreement: 409."""
    housing_service.fix_order(
        db,
        actor=user.actor(client_ip(request)),
        event_id=event_id,
        seed=body.seed,
        expected_version=body.version,
    )
    return order_read(housing_service.event_order(db, event_id=event_id))


@router.get("/selection-events/{event_id}/order", response_model=s.OrderRead)
def get_order(
    event_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> s.OrderRead:
    """The order with its seed, commitment, roster hash and formula (heads' names masked): anyone
    can recompute it. Before it is fixed: the published roster (positions 0)."""
    return order_read(housing_service.event_order(db, event_id=event_id))


@router.get("/selection-events/{event_id}/flats", response_model=list[s.FlatRead])
def event_flats(
    event_id: IdPath,
    status: s.FlatStatus | None = None,
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> list[s.FlatRead]:
    """The flats the event offers (its estates'), e.g. ``status=available``."""
    return [flat_read(r) for r in housing_service.event_flats(db, event_id=event_id, status=status)]
