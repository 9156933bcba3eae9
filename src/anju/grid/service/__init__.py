"""Grid service: communities, grids, buildings, imports/exports, the map and mediation.

Services never commit; every write is audited in the same transaction.
"""

from __future__ import annotations

from anju.grid.service.lookup import grid_at

__all__ = ["grid_at"]
