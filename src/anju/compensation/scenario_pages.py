"""Saved what-if scenario pages: list, one scenario re-run (results first), compare 2-4, xlsx."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.compensation import budget, scenarios
from anju.compensation.scenario_api import xlsx_response
from anju.errors import DomainError, NotFound, ValidationFailed
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import MAX_ID, IdPath
from anju.web.templating import render

router = APIRouter(include_in_schema=False)

PageIds = Annotated[list[int], Query(max_length=10)]


def _ids(ids: list[int]) -> list[int]:
    return [i for i in ids if 1 <= i <= MAX_ID]


@router.get("/projects/{project_id}/scenarios")
def scenarios_page(
    project_id: IdPath,
    request: Request,
    archived: bool = False,
    user: CurrentUser = Depends(requires(Permission.BUDGET_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """Saved scenarios, with check boxes to compare 2-4 of them."""
    project = project_service.get_project(db, project_id)
    return render(
        request,
        "compensation/scenarios.html",
        {
            "project": project,
            "items": scenarios.scenarios(db, project_id, archived=archived),
            "archived": archived,
            "overrides_of": scenarios.overrides_of,
            "active": "whatif",
        },
    )


@router.post("/projects/{project_id}/scenarios")
async def scenario_save(
    project_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.SCENARIO_WRITE)),
    db: Session = Depends(get_db),
) -> Response:
    """Save the what-if page's values under a name (the page's form is included by htmx)."""
    form = await request.form()
    overrides = {k[2:]: str(v) for k, v in form.items() if k.startswith("k.") and str(v).strip()}
    try:
        sc = scenarios.create_scenario(
            db,
            actor=user.actor(client_ip(request)),
            project_id=project_id,
            name=str(form.get("name", "")),
            option=str(form.get("option", "")),
            overrides=overrides,
            note=str(form.get("note", "")),
        )
    except DomainError as exc:
        if request.headers.get("hx-request") == "true":
            return render(
                request,
                "compensation/_scenario_save_error.html",
                {"message": exc.message_zh},
                status_code=200,
            )
        raise
    url = f"/projects/{project_id}/scenarios/{sc.id}"
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


@router.get("/projects/{project_id}/scenarios/compare")
def compare_page(
    project_id: IdPath,
    request: Request,
    ids: PageIds = [],  # noqa: B006 - FastAPI copies query defaults
    user: CurrentUser = Depends(requires(Permission.BUDGET_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """Two to four scenarios side by side: totals, households affected, per item, per block."""
    project = project_service.get_project(db, project_id)
    chosen = _ids(ids)
    try:
        runs = scenarios.compare(db, project_id=project_id, scenario_ids=chosen)
    except ValidationFailed as exc:
        return render(
            request,
            "compensation/scenarios.html",
            {
                "project": project,
                "items": scenarios.scenarios(db, project_id),
                "archived": False,
                "overrides_of": scenarios.overrides_of,
                "message": exc.message_zh,
                "chosen": chosen,
                "active": "whatif",
            },
            status_code=exc.http_status,
        )
    # the published plan's figure of each row (the same in every run of the same option)
    items: dict[str, int] = {}
    blocks: dict[str, int] = {}
    for r in runs:
        for k, (b, _n) in r.by_item.items():
            items.setdefault(k, b)
        for k, (b, _n) in r.by_block.items():
            blocks.setdefault(k, b)
    return render(
        request,
        "compensation/scenario_compare.html",
        {
            "project": project,
            "runs": runs,
            "items": items,
            "labels": {k: v for r in runs for k, v in r.labels.items()},
            "blocks": blocks,
            "block_names": budget.block_names(db, project_id),
            "knobs": scenarios.knob_labels(db, project_id=project_id),
            "keys": list(dict.fromkeys(k for r in runs for k in r.overrides)),
            "query": urlencode([("ids", r.scenario_id) for r in runs]),
            "active": "whatif",
        },
    )


@router.get("/projects/{project_id}/scenarios/compare.xlsx")
def compare_xlsx_page(
    project_id: IdPath,
    ids: PageIds = [],  # noqa: B006 - FastAPI copies query defaults
    user: CurrentUser = Depends(requires(Permission.BUDGET_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """The comparison as an xlsx workbook."""
    return xlsx_response(db, project_id, _ids(ids))


@router.get("/projects/{project_id}/scenarios/{scenario_id}")
def scenario_page(
    project_id: IdPath,
    scenario_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.BUDGET_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """One scenario re-run now: the results, then the values it changes."""
    project = project_service.get_project(db, project_id)
    sc = scenarios.get_scenario(db, project_id=project_id, scenario_id=scenario_id)
    try:
        run = scenarios.run_scenario(db, project_id=project_id, scenario=sc)
        problem = ""
    except (NotFound, ValidationFailed) as exc:
        run, problem = None, exc.message_zh
    overrides = scenarios.overrides_of(sc)
    query = urlencode([("option", sc.option), *((f"k.{k}", v) for k, v in overrides.items())])
    return render(
        request,
        "compensation/scenario.html",
        {
            "project": project,
            "sc": sc,
            "run": run,
            "problem": problem,
            "overrides": overrides,
            "knobs": scenarios.knob_labels(db, project_id=project_id) if run is not None else {},
            "block_names": budget.block_names(db, project_id),
            "whatif_query": query,
            "active": "whatif",
        },
    )


@router.post("/projects/{project_id}/scenarios/{scenario_id}/archive")
def scenario_archive(
    project_id: IdPath,
    scenario_id: IdPath,
    request: Request,
    version: int = Form(..., ge=1, le=MAX_ID),
    user: CurrentUser = Depends(requires(Permission.SCENARIO_WRITE)),
    db: Session = Depends(get_db),
) -> Response:
    """Archive a scenario (kept, audited, no longer listed)."""
    scenarios.archive_scenario(
        db,
        actor=user.actor(client_ip(request)),
        project_id=project_id,
        scenario_id=scenario_id,
        version=version,
    )
    return RedirectResponse(f"/projects/{project_id}/scenarios", status_code=303)
