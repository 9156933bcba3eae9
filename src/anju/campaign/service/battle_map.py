"""战果图: the project's parcels coloured by their households' stage, hard cases marked.

One GeoJSON FeatureCollection per request: a feature per parcel that holds households in the
caller's scope (and the chosen team's / block's), with each household's card in its properties.
Block boundaries and households without a drawable parcel travel next to the features
(``blocks``, ``unmapped``), with the legend and the totals of what is shown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.campaign import rules
from anju.campaign.models import HouseholdCampaign
from anju.errors import NotFound
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.identity.service import DataScope
from anju.project import service as project_service

__all__ = ["STAGE_COLOURS", "battle_map", "map_filters"]

# One colour per stage, from cold (not yet reached) to done; the legend shows them in this order.
STAGE_COLOURS = {
    "pending": "#9aa4b2",
    "surveyed": "#5b8ff9",
    "valued": "#7b61ff",
    "negotiating": "#f0a800",
    "signed": "#1f8a4c",
    "vacated": "#0e7c86",
    "demolished": "#4a4f57",
    "archived": "#c9cdd4",
}
# Geometry types a parcel may carry (anything else, or text that is not GeoJSON, is not drawn).
_GEOMETRY_TYPES = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"}
)


def _geometry(text: str | None) -> dict[str, Any] | None:
    """The GeoJSON geometry in ``text`` (a geometry, a Feature, or a FeatureCollection's first feature)."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, dict) and value.get("type") == "FeatureCollection":
        features = value.get("features")
        value = features[0] if isinstance(features, list) and features else None
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict) or value.get("type") not in _GEOMETRY_TYPES:
        return None
    if value["type"] != "GeometryCollection" and not isinstance(value.get("coordinates"), list):
        return None
    return value


def _team_reach(scope: DataScope, team_id: int) -> DataScope:
    """The households a team holds (its own and its squads'), as a team leader of it would see them."""
    return DataScope(kind=type(scope.kind).TEAM, team_id=team_id)


def map_filters(session: Session, *, project_id: int) -> dict[str, Any]:
    """The choices of the map's filters: the project's teams and blocks (with their tree depth)."""
    blocks = project_service.blocks(session, project_id)
    depth: dict[int, int] = {}
    for b in blocks:
        depth[b.id] = 0 if b.parent_id is None else depth.get(b.parent_id, 0) + 1
    teams = identity_service.team_names(session, project_id)
    return {
        "teams": [{"id": i, "name": n} for i, n in sorted(teams.items(), key=lambda kv: kv[1])],
        "blocks": [{"id": b.id, "name": b.name, "depth": depth[b.id]} for b in blocks],
    }


def _campaign_rows(session: Session, project_id: int, ids: Iterable[int]) -> dict[int, Any]:
    wanted = set(ids)
    rows = session.execute(
        select(
            HouseholdCampaign.household_id,
            HouseholdCampaign.attitude,
            HouseholdCampaign.difficulty,
            HouseholdCampaign.last_visit_at,
            HouseholdCampaign.visit_count,
        ).where(HouseholdCampaign.project_id == project_id)
    )
    return {int(r[0]): r for r in rows if int(r[0]) in wanted}


def battle_map(
    session: Session,
    *,
    scope: DataScope,
    project_id: int,
    team_id: int | None = None,
    block_id: int | None = None,
) -> dict[str, Any]:
    """The battle map of a project as a GeoJSON FeatureCollection (a feature per parcel in reach).

    Only households within ``scope`` are shown (a team member sees the parcels of the households
    assigned to them); ``team_id`` keeps a team's households (its squads' included), ``block_id`` a
    block's (its sub-blocks' included). A parcel with several households takes the stage of the
    least advanced one and is marked hard when any of them is. Raises :class:`NotFound` for a
    project, team or block that does not exist (or a team or block of another project).
    """
    project_service.get_project(session, project_id)
    teams = identity_service.team_names(session, project_id)
    if team_id is not None and team_id not in teams:
        raise NotFound("专班不存在", "team not found")
    block_ids: list[int] | None = None
    if block_id is not None:
        block_ids = project_service.descendant_block_ids(session, block_id, project_id)
        if not block_ids:
            raise NotFound("区块不存在", "block not found")
    within = _team_reach(scope, team_id) if team_id is not None else None
    households = household_service.placed_households(
        session, scope=scope, project_id=project_id, block_ids=block_ids, within=within
    )
    labels = household_service.stage_labels()
    order = {code: i for i, code in enumerate(labels)}
    paths = project_service.block_paths(session, project_id)
    campaign = _campaign_rows(session, project_id, (h.id for h in households))
    assigned = identity_service.active_assignments(session, [h.id for h in households])
    people = identity_service.user_names(session) if assigned else {}

    def card(h: household_service.PlacedHousehold) -> dict[str, Any]:
        c = campaign.get(h.id)
        attitude = str(c.attitude) if c is not None and c.attitude else ""
        difficulty = int(c.difficulty) if c is not None else 0
        last = c.last_visit_at if c is not None else None
        t, u = assigned.get(h.id, (None, None))
        return {
            "id": h.id,
            "code": h.code,
            "head_name": h.head_name,
            "block": paths.get(h.block_id, "") if h.block_id is not None else "",
            "stage": h.status,
            "stage_label": labels.get(h.status, h.status),
            "attitude": attitude,
            "attitude_label": rules.ATTITUDES.get(attitude, ""),
            "difficulty": difficulty,
            "difficulty_label": rules.DIFFICULTY_LEVELS.get(difficulty, ""),
            "team": teams.get(t, "") if t is not None else "",
            "person": people.get(u, "") if u is not None else "",
            "last_visit_on": rules.office_time(last).date().isoformat() if last is not None else None,
            "visit_count": int(c.visit_count) if c is not None else 0,
            "url": f"/households/{h.id}",
        }

    shapes = {p.id: p for p in project_service.parcel_shapes(session, project_id)}
    geometries: dict[int, dict[str, Any] | None] = {}
    on_parcel: dict[int, list[dict[str, Any]]] = {}
    unmapped: list[dict[str, Any]] = []
    for h in households:
        pid = h.parcel_id
        if pid is not None and pid in shapes and pid not in geometries:
            geometries[pid] = _geometry(shapes[pid].geometry)
        if pid is None or geometries.get(pid) is None:
            unmapped.append(card(h))
        else:
            on_parcel.setdefault(pid, []).append(card(h))

    features: list[dict[str, Any]] = []
    for pid, cards in sorted(on_parcel.items(), key=lambda kv: shapes[kv[0]].code):
        parcel = shapes[pid]
        stage = min((c["stage"] for c in cards), key=lambda s: order.get(s, len(order)))
        difficulty = max(c["difficulty"] for c in cards)
        features.append(
            {
                "type": "Feature",
                "id": pid,
                "geometry": geometries[pid],
                "properties": {
                    "parcel_id": pid,
                    "parcel_code": parcel.code,
                    "block_id": parcel.block_id,
                    "block": paths.get(parcel.block_id, "") if parcel.block_id is not None else "",
                    "stage": stage,
                    "stage_label": labels.get(stage, stage),
                    "colour": STAGE_COLOURS.get(stage, "#9aa4b2"),
                    "hard": difficulty >= 1,
                    "difficulty": difficulty,
                    "households": cards,
                },
            }
        )

    wanted_blocks = set(block_ids) if block_ids is not None else None
    block_features = []
    boundaries = project_service.block_shapes(session, project_id)
    for b in project_service.blocks(session, project_id):
        if wanted_blocks is not None and b.id not in wanted_blocks:
            continue
        geometry = _geometry(boundaries.get(b.id))
        if geometry is None:
            continue
        block_features.append(
            {
                "type": "Feature",
                "id": b.id,
                "geometry": geometry,
                "properties": {"block_id": b.id, "code": b.code, "name": b.name, "level": b.level},
            }
        )

    counts: dict[str, int] = {}
    for h in households:
        counts[h.status] = counts.get(h.status, 0) + 1
    legend = [
        {
            "stage": code,
            "label": label,
            "colour": STAGE_COLOURS.get(code, "#9aa4b2"),
            "count": counts.get(code, 0),
        }
        for code, label in labels.items()
        if code != "archived" or counts.get(code)
    ]
    hard = sum(1 for cards in on_parcel.values() for c in cards if c["difficulty"] >= 1)
    hard += sum(1 for c in unmapped if c["difficulty"] >= 1)
    return {
        "type": "FeatureCollection",
        "features": features,
        "blocks": block_features,
        "unmapped": unmapped,
        "legend": legend,
        "totals": {
            "households": len(households),
            "mapped": len(households) - len(unmapped),
            "unmapped": len(unmapped),
            "parcels": len(features),
            "hard": hard,
        },
        "filters": {"team_id": team_id, "block_id": block_id},
    }
