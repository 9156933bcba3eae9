"""Grid service part: which grid a map point lies in (:func:`grid_at`), and the names and shapes
other domains show beside their own rows."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.errors import ValidationFailed
from anju.grid import rules
from anju.grid.models import Community, Grid


def grid_at(session: Session, *, lng: Decimal | float | str, lat: Decimal | float | str) -> Grid | None:
    """The grid whose boundary contains the point (lng, lat), or None when it lies in no grid.

    The bounding boxes are filtered in SQL (indexed columns), the exact test is done in Python on
    the boundary (holes and MultiPolygons handled; a point on an edge counts as inside). When two
    grids share the edge the point lies on, the grid with the smaller code wins, so the answer is
    the same on every database.
    """
    try:
        p = rules.point(lng, lat)
    except ArithmeticError as exc:
        raise ValidationFailed(
            "经纬度必须是数字", details=[{"field": "lng", "message": "经纬度必须是数字"}]
        ) from exc
    if not (p[0].is_finite() and p[1].is_finite()):
        raise ValidationFailed(
            "经纬度必须是有限数字", details=[{"field": "lng", "message": "经纬度必须是数字"}]
        )
    px, py = p[0].quantize(rules.QUANT), p[1].quantize(rules.QUANT)
    candidates = session.scalars(
        select(Grid)
        .where(Grid.min_lng <= px, Grid.max_lng >= px, Grid.min_lat <= py, Grid.max_lat >= py)
        .order_by(Grid.code)
    ).all()
    for grid in candidates:
        if not grid.boundary:
            continue
        try:
            shape = rules.parse_boundary(grid.boundary)
        except rules.GeometryError:
            continue  # a broken stored boundary never places a point; import refuses such shapes
        if rules.shape_contains(shape, p):
            return grid
    return None


def grid_names(session: Session, ids: Iterable[int] | None = None) -> dict[int, str]:
    """Grid names by id (of ``ids``, or all): what other domains show beside their own rows."""
    q = select(Grid.id, Grid.name)
    if ids is not None:
        q = q.where(Grid.id.in_(list(ids)))
    return {int(i): str(n) for i, n in session.execute(q)}


def community_names(session: Session, ids: Iterable[int] | None = None) -> dict[int, str]:
    """Community names by id (of ``ids``, or all)."""
    q = select(Community.id, Community.name)
    if ids is not None:
        q = q.where(Community.id.in_(list(ids)))
    return {int(i): str(n) for i, n in session.execute(q)}


def grid_shapes(session: Session) -> list[tuple[int, str, str]]:
    """(id, name, boundary GeoJSON text) of every grid, by id: for maps drawn by other domains."""
    return [
        (int(i), str(n), str(b or ""))
        for i, n, b in session.execute(select(Grid.id, Grid.name, Grid.boundary).order_by(Grid.id))
    ]
