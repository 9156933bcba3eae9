"""grid_at on SQLite, PostgreSQL and MariaDB: the bbox prefilter in SQL, the exact test in Python
(holes, MultiPolygon, shared edges resolved by the smaller code)."""

from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy.orm import Session

from anju.core.dates import utcnow
from anju.grid import rules
from anju.grid import service as grid_service
from anju.grid.models import Community, Grid


def square(x0: str, y0: str, x1: str, y1: str) -> list[list[float]]:
    a, b, c, d = float(x0), float(y0), float(x1), float(y1)
    return [[a, b], [c, b], [c, d], [a, d], [a, b]]


def _grid(db: Session, community: Community, code: str, geometry: dict[str, object]) -> Grid:
    shape = rules.parse_geometry(geometry)
    min_lng, min_lat, max_lng, max_lat = shape.bbox
    cx, cy = rules.centroid(shape)
    g = Grid(
        community_id=community.id,
        code=code,
        name=f"{code} 网格",
        boundary=json.dumps(geometry),
        min_lng=min_lng,
        min_lat=min_lat,
        max_lng=max_lng,
        max_lat=max_lat,
        centroid_lng=cx,
        centroid_lat=cy,
        created_at=utcnow(),
    )
    db.add(g)
    db.flush()
    return g


def test_grid_at_finds_the_containing_grid(db: Session) -> None:
    c = Community(code="DB", name="东埠社区", created_at=utcnow())
    db.add(c)
    db.flush()
    west = _grid(
        db, c, "G01", {"type": "Polygon", "coordinates": [square("120.100", "30.200", "120.110", "30.210")]}
    )
    east = _grid(
        db,
        c,
        "G02",
        {
            "type": "Polygon",
            "coordinates": [
                square("120.110", "30.200", "120.120", "30.210"),
                square("120.114", "30.204", "120.116", "30.206"),
            ],
        },
    )
    multi = _grid(
        db,
        c,
        "G03",
        {
            "type": "MultiPolygon",
            "coordinates": [
                [square("120.130", "30.200", "120.135", "30.205")],
                [square("120.140", "30.200", "120.145", "30.205")],
            ],
        },
    )

    def at(lng: str, lat: str) -> str | None:
        g = grid_service.grid_at(db, lng=Decimal(lng), lat=Decimal(lat))
        return g.code if g else None

    assert at("120.105", "30.205") == west.code
    assert at("120.112", "30.201") == east.code
    assert at("120.115", "30.205") is None  # in G02's hole (and in no other grid)
    assert at("120.110", "30.205") == "G01"  # the shared edge goes to the smaller code
    assert at("120.1325", "30.2025") == multi.code
    assert at("120.1425", "30.2025") == multi.code
    assert at("120.1375", "30.2025") is None  # between the two parts, inside the bbox
    assert at("121", "31") is None
    assert grid_service.grid_at(db, lng=120.105, lat=30.205) is west  # floats via their repr
