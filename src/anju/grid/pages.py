"""Grid pages: the grid list, the grid map, a grid's card (buildings, leaders, worker; edited by
managers), imports and the GeoJSON export, mediation cases, and the public contact cards
(``/public/grids``, no login, made for a phone)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from anju import i18n
from anju.config import get_settings
from anju.errors import DomainError
from anju.grid import rules
from anju.grid import service as grid_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import MAX_ID, IdPath
from anju.web.templating import lang_of, render

router = APIRouter(include_in_schema=False)
READ = requires(Permission.GRID_READ)
MANAGE = requires(Permission.GRID_MANAGE)
MEDIATE = requires(Permission.MEDIATION_WRITE)
CODE_PATH_MAX = 32


def _form_dict(form: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: str(form.get(f, "")) for f in fields if f in form}


def _version(form: Any) -> int | None:
    raw = str(form.get("version", "")).strip()
    return int(raw) if raw.isdigit() else None


@router.get("/grids")
def grid_list(
    request: Request,
    community_id: int | None = Query(None, ge=1, le=MAX_ID),
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> Response:
    """Grids by community with worker, buildings, households and party-member leaders."""
    cards = grid_service.grid_cards(db, community_id=community_id)
    communities = grid_service.list_communities(db)
    totals = {
        "communities": len({c.community.id for c in cards}),
        "grids": len(cards),
        "households": sum(c.grid.households for c in cards),
        "buildings": sum(len(c.buildings) for c in cards),
        "party_leaders": sum(c.party_leaders for c in cards),
        "no_worker": sum(1 for c in cards if not c.grid.worker_user_id),
    }
    ctx = {
        "cards": cards,
        "communities": communities,
        "community_id": community_id,
        "totals": totals,
        "active": "grids",
    }
    return render(request, "grid/list.html", ctx)


@router.get("/grids/map")
def grid_map(request: Request, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)) -> Response:
    """The grid map: grids coloured by community, a grid's card on click; a layer for open
    requests is left for the request feature (``#grid-map[data-requests]``)."""

    communities = grid_service.list_communities(db)
    ctx = {
        "communities": communities,
        "src": "/api/v1/grids/geojson",
        "tiles": get_settings().map_tile_url,
        "active": "grid_map",
    }
    return render(request, "grid/map.html", ctx)


@router.get("/grids/export.geojson")
def grid_export(user: CurrentUser = Depends(READ), db: Session = Depends(get_db)) -> Response:
    """All grids as a GeoJSON file (the import's properties; it imports again)."""
    body = json.dumps(grid_service.grids_geojson(db), ensure_ascii=False, separators=(",", ":"))
    return Response(
        body,
        media_type="application/geo+json",
        headers={"Content-Disposition": "attachment; filename=grids.geojson"},
    )


@router.get("/grids/import")
def grid_import_form(request: Request, user: CurrentUser = Depends(MANAGE)) -> Response:
    """The import form (GeoJSON or xlsx/csv) with the expected columns."""
    return render(request, "grid/import.html", {"result": None, "error": None, "active": "grids"})


@router.post("/grids/import")
def grid_import(
    request: Request,
    file: UploadFile = File(...),
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    """Import the file all or nothing; problems are listed feature by feature / row by row."""
    try:
        result = grid_service.import_grids(
            db,
            actor=user.actor(client_ip(request)),
            content=file.file.read(),
            filename=file.filename or "grids",
        )
    except DomainError as exc:
        details = exc.details if isinstance(exc.details, list) else []
        ctx = {"result": None, "error": exc.message_zh, "details": details, "active": "grids"}
        return render(request, "grid/import.html", ctx, status_code=exc.http_status)
    return render(request, "grid/import.html", {"result": result, "error": None, "active": "grids"})


@router.get("/grids/{grid_id}")
def grid_page(
    grid_id: IdPath,
    request: Request,
    done: str = "",
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> Response:
    """A grid's card: community, worker, public phone, buildings with leaders, mediation cases."""
    return _grid_page(
        request, user, db, grid_id, message=i18n.t("已保存", lang_of(request)) if done else "", error=""
    )


def _grid_page(
    request: Request,
    user: CurrentUser,
    db: Session,
    grid_id: int,
    *,
    message: str,
    error: str,
    status: int = 200,
) -> Response:
    card = grid_service.grid_card(db, grid_id)
    ctx = {
        "card": card,
        "workers": grid_service.grid_workers(db) if user.can(Permission.GRID_MANAGE) else [],
        "communities": grid_service.list_communities(db),
        "cases": grid_service.list_cases(db, grid_id=grid_id),
        "kinds": rules.MEDIATION_KINDS,
        "statuses": rules.MEDIATION_STATUSES,
        "outcomes": rules.MEDIATION_OUTCOMES,
        "message": message,
        "error": error,
        "active": "grids",
    }
    return render(request, "grid/detail.html", ctx, status_code=status)


@router.post("/grids/{grid_id}")
async def grid_update(
    grid_id: IdPath, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """Save the grid's fields and worker (form of the grid page)."""
    form = await request.form()
    values = _form_dict(form, ("name", "public_phone", "public_note", "households", "worker_user_id"))
    if values.get("worker_user_id") == "":
        values["worker_user_id"] = None
    try:
        grid_service.update_grid(
            db,
            actor=user.actor(client_ip(request)),
            grid_id=grid_id,
            values=values,
            expected_version=_version(form),
        )
    except DomainError as exc:
        return _grid_page(
            request, user, db, grid_id, message="", error=exc.message_zh, status=exc.http_status
        )
    return RedirectResponse(f"/grids/{grid_id}?done=1", status_code=303)


@router.post("/grids/{grid_id}/buildings")
async def grid_add_building(
    grid_id: IdPath, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """Add a building with its leader (form of the grid page)."""
    form = await request.form()
    values: dict[str, Any] = _form_dict(
        form, ("name", "address", "households", "leader_name", "leader_phone")
    )
    values["leader_party_member"] = form.get("leader_party_member", "") == "1"
    try:
        grid_service.add_building(db, actor=user.actor(client_ip(request)), grid_id=grid_id, values=values)
    except DomainError as exc:
        return _grid_page(
            request, user, db, grid_id, message="", error=exc.message_zh, status=exc.http_status
        )
    return RedirectResponse(f"/grids/{grid_id}?done=1", status_code=303)


# --------------------------------------------------------------------------- mediation


@router.get("/mediation")
def mediation_list(
    request: Request, status: str = "", user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """Mediation cases, newest first, with their grid, kind, status and outcome."""
    wanted = status if status in rules.MEDIATION_STATUSES else None
    cases = grid_service.list_cases(db, status=wanted)
    grids = {g.id: g for g in grid_service.list_grids(db)}
    ctx = {
        "cases": cases,
        "grids": grids,
        "status": wanted or "",
        "kinds": rules.MEDIATION_KINDS,
        "statuses": rules.MEDIATION_STATUSES,
        "outcomes": rules.MEDIATION_OUTCOMES,
        "active": "mediation",
    }
    return render(request, "grid/mediation_list.html", ctx)


def _new_case_page(
    request: Request, db: Session, values: dict[str, Any], error: str, status: int = 200
) -> Response:
    ctx = {
        "grids": grid_service.list_grids(db),
        "kinds": rules.MEDIATION_KINDS,
        "roles": rules.PARTY_ROLES,
        "values": values,
        "error": error,
        "active": "mediation",
    }
    return render(request, "grid/mediation_new.html", ctx, status_code=status)


@router.get("/mediation/new")
def mediation_new_form(
    request: Request,
    grid_id: int | None = Query(None, ge=1, le=MAX_ID),
    user: CurrentUser = Depends(MEDIATE),
    db: Session = Depends(get_db),
) -> Response:
    """The form for a new case (with up to three parties)."""
    return _new_case_page(request, db, {"grid_id": grid_id or ""}, "")


@router.post("/mediation/new")
async def mediation_create(
    request: Request, user: CurrentUser = Depends(MEDIATE), db: Session = Depends(get_db)
) -> Response:
    """Open the case (audited) and show it."""
    form = await request.form()
    values: dict[str, Any] = _form_dict(
        form, ("grid_id", "title", "kind", "summary", "opened_on", "household_ids", "service_request_id")
    )
    parties = []
    for i in range(1, 4):
        name = str(form.get(f"party{i}_name", "")).strip()
        if name:
            parties.append(
                {
                    "name": name,
                    "role": str(form.get(f"party{i}_role", "")),
                    "phone": str(form.get(f"party{i}_phone", "")),
                }
            )
    values["parties"] = parties
    try:
        case = grid_service.open_case(db, actor=user.actor(client_ip(request)), values=values)
    except DomainError as exc:
        shown = {k: v for k, v in values.items() if k != "parties"}
        return _new_case_page(request, db, shown, exc.message_zh, exc.http_status)
    return RedirectResponse(f"/mediation/{case.id}", status_code=303)


def _case_page(
    request: Request, user: CurrentUser, db: Session, case_id: int, error: str = "", status: int = 200
) -> Response:
    view = grid_service.case_view(db, case_id)
    ctx = {
        "view": view,
        "outcomes": rules.MEDIATION_OUTCOMES,
        "error": error,
        "active": "mediation",
    }
    return render(request, "grid/mediation_case.html", ctx, status_code=status)


@router.get("/mediation/{case_id}")
def mediation_case(
    case_id: IdPath, request: Request, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """A case: parties (phones masked), sessions, outcome; forms to add a session or close it."""
    return _case_page(request, user, db, case_id)


@router.post("/mediation/{case_id}/sessions")
async def mediation_add_session(
    case_id: IdPath, request: Request, user: CurrentUser = Depends(MEDIATE), db: Session = Depends(get_db)
) -> Response:
    """Record a session (form of the case page)."""
    form = await request.form()
    values = _form_dict(form, ("held_on", "place", "mediator", "notes"))
    try:
        grid_service.add_session(
            db,
            actor=user.actor(client_ip(request)),
            case_id=case_id,
            values=values,
            expected_version=_version(form),
        )
    except DomainError as exc:
        return _case_page(request, user, db, case_id, exc.message_zh, exc.http_status)
    return RedirectResponse(f"/mediation/{case_id}", status_code=303)


@router.post("/mediation/{case_id}/close")
async def mediation_close(
    case_id: IdPath, request: Request, user: CurrentUser = Depends(MEDIATE), db: Session = Depends(get_db)
) -> Response:
    """Close the case with its outcome (form of the case page)."""
    form = await request.form()
    values = _form_dict(form, ("outcome", "outcome_note", "closed_on"))
    try:
        grid_service.close_case(
            db,
            actor=user.actor(client_ip(request)),
            case_id=case_id,
            values=values,
            expected_version=_version(form),
        )
    except DomainError as exc:
        return _case_page(request, user, db, case_id, exc.message_zh, exc.http_status)
    return RedirectResponse(f"/mediation/{case_id}", status_code=303)


# --------------------------------------------------------------------------- public cards (no login)


def _public(card: grid_service.GridCard) -> dict[str, Any]:
    """What a resident may see of a grid: the names of the worker and the building leaders (their
    role is public, as on the notice boards) and the grid's public phone — never a private phone."""
    return {
        "code": card.grid.code,
        "name": card.grid.name,
        "community": card.community.name,
        "community_phone": card.community.phone,
        "worker": card.worker_name,
        "phone": card.grid.public_phone,
        "note": card.grid.public_note,
        "leaders": [
            {"building": b.name, "name": b.leader_name, "party_member": b.leader_party_member}
            for b in card.buildings
            if b.leader_name
        ],
    }


@router.get("/public/grids")
def public_grid_list(request: Request, db: Session = Depends(get_db)) -> Response:
    """Every grid's contact card link, by community (public, no login)."""
    by_community: dict[str, list[dict[str, Any]]] = {}
    for card in grid_service.grid_cards(db):
        by_community.setdefault(card.community.name, []).append(_public(card))
    return render(request, "grid/public_list.html", {"by_community": by_community})


@router.get("/public/grids/{code}")
def public_grid_card(code: str, request: Request, db: Session = Depends(get_db)) -> Response:
    """A grid's public contact card (public, no login, 390 px phone first)."""
    grid = grid_service.get_grid_by_code(db, code[:CODE_PATH_MAX])
    return render(request, "grid/public_card.html", {"g": _public(grid_service.grid_card(db, grid.id))})
