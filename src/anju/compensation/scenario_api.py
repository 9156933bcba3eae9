"""JSON routes of named what-if scenarios: /api/v1/projects/{id}/scenarios."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.compensation import budget, scenarios
from anju.compensation import schemas as s
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import MAX_ID, READ_ERRORS, IdPath, error_responses

router = APIRouter(tags=["scenarios"], responses=error_responses(*READ_ERRORS))

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CompareIds = Annotated[
    list[Annotated[int, Field(ge=1, le=MAX_ID)]],
    Query(
        min_length=2,
        max_length=4,
        description="2–4 个不同的测算编号",
        json_schema_extra={"uniqueItems": True},
    ),
]


def read(sc: Any) -> s.ScenarioRead:
    """The API form of a stored scenario."""
    from anju.compensation.scenarios import overrides_of

    return s.ScenarioRead(
        id=sc.id,
        project_id=sc.project_id,
        name=sc.name,
        option=sc.option,
        overrides=overrides_of(sc),
        note=sc.note,
        created_by=sc.created_by,
        created_at=sc.created_at,
        updated_at=sc.updated_at,
        version=sc.version,
        archived=sc.archived_at is not None,
        archived_at=sc.archived_at,
        archived_by=sc.archived_by,
    )


def run_read(r: scenarios.ScenarioRun, block_names: dict[str, str]) -> s.ScenarioRunRead:
    """The API form of a scenario's results."""
    return s.ScenarioRunRead(
        scenario_id=r.scenario_id,
        name=r.name,
        option=r.option,
        option_label=r.option_label,
        policy_version=r.policy_version,
        overrides=r.overrides,
        ignored=r.ignored,
        households=r.households,
        households_affected=r.households_affected,
        base_total_fen=r.base_total,
        new_total_fen=r.new_total,
        delta_fen=r.delta,
        by_item=[
            s.AmountPair(key=k, label=r.labels.get(k, k), base_fen=b, new_fen=n, delta_fen=n - b)
            for k, (b, n) in r.by_item.items()
        ],
        by_block=[
            s.AmountPair(key=k, label=block_names.get(k, k), base_fen=b, new_fen=n, delta_fen=n - b)
            for k, (b, n) in r.by_block.items()
        ],
    )


@router.get("/projects/{project_id}/scenarios", response_model=list[s.ScenarioRead])
def list_scenarios(
    project_id: IdPath,
    archived: bool = False,
    user: CurrentUser = Depends(requires(Permission.BUDGET_READ)),
    db: Session = Depends(get_db),
) -> list[s.ScenarioRead]:
    """The project's saved scenarios in use (``archived=true``: the archived ones), newest first."""
    return [read(x) for x in scenarios.scenarios(db, project_id, archived=archived)]


@router.post(
    "/projects/{project_id}/scenarios",
    response_model=s.ScenarioRead,
    status_code=201,
    responses=error_responses(409),
)
def create_scenario(
    project_id: IdPath,
    body: s.ScenarioCreate,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.SCENARIO_WRITE)),
    db: Session = Depends(get_db),
) -> s.ScenarioRead:
    """Save a named scenario; only values that differ from the published plan are kept.
    409 ``duplicate_name`` when a scenario in use has the name."""
    sc = scenarios.create_scenario(
        db,
        actor=user.actor(client_ip(request)),
        project_id=project_id,
        name=body.name,
        option=body.option,
        overrides=body.overrides,
        note=body.note,
    )
    return read(sc)


@router.get("/projects/{project_id}/scenarios/compare", response_model=list[s.ScenarioRunRead])
def compare(
    project_id: IdPath,
    ids: CompareIds,
    user: CurrentUser = Depends(requires(Permission.BUDGET_READ)),
    db: Session = Depends(get_db),
) -> list[s.ScenarioRunRead]:
    """Two to four scenarios recomputed now, side by side (totals, per item, per block, households
    affected, change against the published plan)."""
    runs = scenarios.compare(db, project_id=project_id, scenario_ids=ids)
    names = budget.block_names(db, project_id)
    return [run_read(r, names) for r in runs]


@router.get(
    "/projects/{project_id}/scenarios/compare.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "比较表（xlsx）"}},
)
def compare_xlsx(
    project_id: IdPath,
    ids: CompareIds,
    user: CurrentUser = Depends(requires(Permission.BUDGET_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """The comparison as an xlsx workbook (汇总、按项目、按区块、参数)."""
    return xlsx_response(db, project_id, ids)


def xlsx_response(db: Session, project_id: int, ids: list[int]) -> Response:
    """The comparison workbook as a download (shared with the page route)."""
    runs = scenarios.compare(db, project_id=project_id, scenario_ids=ids)
    data = scenarios.export_xlsx(
        runs,
        block_names=budget.block_names(db, project_id),
        knobs=scenarios.knob_labels(db, project_id=project_id),
    )
    name = f"测算比较-{date.today().isoformat()}.xlsx"
    return Response(
        data, media_type=XLSX, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}
    )


@router.get("/projects/{project_id}/scenarios/{scenario_id}", response_model=s.ScenarioRead)
def get_scenario(
    project_id: IdPath,
    scenario_id: IdPath,
    user: CurrentUser = Depends(requires(Permission.BUDGET_READ)),
    db: Session = Depends(get_db),
) -> s.ScenarioRead:
    """One saved scenario (archived ones too)."""
    return read(scenarios.get_scenario(db, project_id=project_id, scenario_id=scenario_id))


@router.get("/projects/{project_id}/scenarios/{scenario_id}/run", response_model=s.ScenarioRunRead)
def run_scenario(
    project_id: IdPath,
    scenario_id: IdPath,
    user: CurrentUser = Depends(requires(Permission.BUDGET_READ)),
    db: Session = Depends(get_db),
) -> s.ScenarioRunRead:
    """Re-run a scenario now (latest published policy, households as they are)."""
    sc = scenarios.get_scenario(db, project_id=project_id, scenario_id=scenario_id)
    r = scenarios.run_scenario(db, project_id=project_id, scenario=sc)
    return run_read(r, budget.block_names(db, project_id))


@router.patch(
    "/projects/{project_id}/scenarios/{scenario_id}",
    response_model=s.ScenarioRead,
    responses=error_responses(409),
)
def update_scenario(
    project_id: IdPath,
    scenario_id: IdPath,
    body: s.ScenarioUpdate,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.SCENARIO_WRITE)),
    db: Session = Depends(get_db),
) -> s.ScenarioRead:
    """Rename a scenario or change its values; 409 when ``version`` is stale or the name is taken."""
    sc = scenarios.update_scenario(
        db,
        actor=user.actor(client_ip(request)),
        project_id=project_id,
        scenario_id=scenario_id,
        version=body.version,
        name=body.name,
        option=body.option,
        overrides=body.overrides,
        note=body.note,
    )
    return read(sc)


@router.delete(
    "/projects/{project_id}/scenarios/{scenario_id}",
    response_model=s.ScenarioRead,
    responses=error_responses(409),
)
def archive_scenario(
    project_id: IdPath,
    scenario_id: IdPath,
    version: Annotated[int, Query(ge=1, le=MAX_ID, description="读取时的版本号")],
    request: Request,
    user: CurrentUser = Depends(requires(Permission.SCENARIO_WRITE)),
    db: Session = Depends(get_db),
) -> s.ScenarioRead:
    """Archive a scenario (never deleted; audited). 409 when ``version`` is stale or it is archived."""
    sc = scenarios.archive_scenario(
        db,
        actor=user.actor(client_ip(request)),
        project_id=project_id,
        scenario_id=scenario_id,
        version=version,
    )
    return read(sc)
