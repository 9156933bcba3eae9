"""Grid service: communities, grids, buildings, imports/exports, the map and mediation.

Services never commit; every write is audited in the same transaction.
"""

from __future__ import annotations

from anju.grid.service.grids import (
    GridCard,
    add_building,
    assign_worker,
    boundary_values,
    community_by_name_or_code,
    create_community,
    create_grid,
    get_building,
    get_community,
    get_grid,
    get_grid_by_code,
    grid_card,
    grid_cards,
    grid_workers,
    households_by_grid,
    list_communities,
    list_grids,
    remove_building,
    update_building,
    update_community,
    update_grid,
)
from anju.grid.service.lookup import community_names, grid_at, grid_names, grid_shapes
from anju.grid.service.mediation import (
    CaseView,
    add_session,
    case_view,
    close_case,
    get_case,
    list_cases,
    open_case,
)
from anju.grid.service.transfer import GridImportInvalid, GridImportResult, grids_geojson, import_grids

__all__ = [
    "CaseView",
    "GridCard",
    "GridImportInvalid",
    "GridImportResult",
    "add_building",
    "add_session",
    "assign_worker",
    "boundary_values",
    "case_view",
    "close_case",
    "community_by_name_or_code",
    "community_names",
    "create_community",
    "create_grid",
    "get_building",
    "get_case",
    "get_community",
    "get_grid",
    "get_grid_by_code",
    "grid_at",
    "grid_card",
    "grid_cards",
    "grid_names",
    "grid_shapes",
    "grid_workers",
    "grids_geojson",
    "households_by_grid",
    "import_grids",
    "list_cases",
    "list_communities",
    "list_grids",
    "open_case",
    "remove_building",
    "update_building",
    "update_community",
    "update_grid",
]
