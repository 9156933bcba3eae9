"""Pure geometry of grid boundaries: parsing GeoJSON Polygon/MultiPolygon, bounding boxes,
centroids and point-in-polygon (holes and multi-part grids handled), plus the validation rules of
an imported grid. No database, no I/O: the service feeds it the boundary text.

Coordinates are (lng, lat) in WGS-84 degrees kept as :class:`~decimal.Decimal` so that the same
input gives the same answer on every machine (no float rounding at the grid edges).
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

Point = tuple[Decimal, Decimal]
Ring = list[Point]
#: A polygon is its outer ring followed by its holes.
Polygon = list[Ring]

#: Six decimals (about 0.1 m) as stored in the grid table.
QUANT = Decimal("0.000001")


class GeometryError(ValueError):
    """The boundary is not a usable GeoJSON Polygon/MultiPolygon; the message is Chinese."""


@dataclass(frozen=True)
class Shape:
    """A parsed boundary: one or more polygons (each outer ring + holes)."""

    polygons: list[Polygon]

    @property
    def bbox(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(min_lng, min_lat, max_lng, max_lat) of the outer rings."""
        xs = [p[0] for poly in self.polygons for p in poly[0]]
        ys = [p[1] for poly in self.polygons for p in poly[0]]
        return min(xs), min(ys), max(xs), max(ys)


def _num(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise GeometryError(f"{where}：坐标必须是数字")
    try:
        d = Decimal(str(value))
    except InvalidOperation as exc:
        raise GeometryError(f"{where}：坐标必须是数字") from exc
    if not d.is_finite():
        raise GeometryError(f"{where}：坐标必须是有限数字")
    return d


def _ring(raw: Any, where: str) -> Ring:
    if not isinstance(raw, list) or len(raw) < 4:
        raise GeometryError(f"{where}：环至少需要 4 个坐标点（首尾相同）")
    ring: Ring = []
    for i, pt in enumerate(raw):
        if not isinstance(pt, list) or len(pt) < 2:
            raise GeometryError(f"{where} 第 {i + 1} 个点：应为 [经度, 纬度]")
        lng = _num(pt[0], f"{where} 第 {i + 1} 个点")
        lat = _num(pt[1], f"{where} 第 {i + 1} 个点")
        if not (Decimal(-180) <= lng <= Decimal(180)) or not (Decimal(-90) <= lat <= Decimal(90)):
            raise GeometryError(f"{where} 第 {i + 1} 个点：经纬度超出范围（经度 ±180，纬度 ±90）")
        ring.append((lng, lat))
    if ring[0] != ring[-1]:
        raise GeometryError(f"{where}：环未闭合（首尾坐标应相同）")
    if len(set(ring)) < 3:
        raise GeometryError(f"{where}：环至少需要 3 个不同的点")
    return ring


def _polygon(raw: Any, where: str) -> Polygon:
    if not isinstance(raw, list) or not raw:
        raise GeometryError(f"{where}：多边形坐标为空")
    poly = [_ring(r, f"{where}{'外环' if i == 0 else f'第 {i} 个内环'}") for i, r in enumerate(raw)]
    if signed_area(poly[0]) == 0:
        raise GeometryError(f"{where}：外环面积为零")
    return poly


def parse_geometry(geometry: Any) -> Shape:
    """Parse a GeoJSON geometry object (dict) into a :class:`Shape`; raise GeometryError otherwise."""
    if not isinstance(geometry, dict):
        raise GeometryError("边界应为 GeoJSON geometry 对象")
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind == "Polygon":
        return Shape([_polygon(coords, "")])
    if kind == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            raise GeometryError("MultiPolygon 坐标为空")
        return Shape([_polygon(p, f"第 {i + 1} 个多边形") for i, p in enumerate(coords)])
    raise GeometryError(f"边界类型应为 Polygon 或 MultiPolygon，而不是 {kind!r}")


def parse_boundary(text: str) -> Shape:
    """Parse the stored boundary text (GeoJSON geometry)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise GeometryError("边界不是合法的 JSON") from exc
    return parse_geometry(data)


def signed_area(ring: Ring) -> Decimal:
    """Twice the signed area (shoelace); positive when counter-clockwise."""
    total = Decimal(0)
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        total += x1 * y2 - x2 * y1
    return total


def _on_segment(p: Point, a: Point, b: Point) -> bool:
    (px, py), (ax, ay), (bx, by) = p, a, b
    if (bx - ax) * (py - ay) - (by - ay) * (px - ax) != 0:
        return False
    return min(ax, bx) <= px <= max(ax, bx) and min(ay, by) <= py <= max(ay, by)


def ring_contains(ring: Ring, p: Point) -> bool | None:
    """True inside, False outside, None exactly on the ring (ray casting, exact Decimal maths)."""
    x, y = p
    inside = False
    for a, b in itertools.pairwise(ring):
        if _on_segment(p, a, b):
            return None
        (ax, ay), (bx, by) = a, b
        if (ay > y) != (by > y):
            # x of the edge at height y, compared without division: sign depends on by - ay.
            lhs = (x - ax) * (by - ay)
            rhs = (bx - ax) * (y - ay)
            if (lhs < rhs) if by > ay else (lhs > rhs):
                inside = not inside
    return inside


def polygon_contains(poly: Polygon, p: Point) -> bool:
    """Point in polygon with holes; a point on the outer edge counts as inside, on a hole's edge too
    (the boundary belongs to the grid), strictly inside a hole is outside."""
    outer = ring_contains(poly[0], p)
    if outer is False:
        return False
    if outer is None:
        return True
    return all(ring_contains(hole, p) is not True for hole in poly[1:])


def shape_contains(shape: Shape, p: Point) -> bool:
    """Point in any part of a (Multi)Polygon."""
    return any(polygon_contains(poly, p) for poly in shape.polygons)


def centroid(shape: Shape) -> Point:
    """Area-weighted centroid of the outer rings minus holes (quantised to 6 decimals); for a
    degenerate shape, the mean of the outer ring's vertices."""
    area = Decimal(0)
    cx = Decimal(0)
    cy = Decimal(0)
    for poly in shape.polygons:
        for ring in poly:
            a_ring = Decimal(0)
            for (x1, y1), (x2, y2) in itertools.pairwise(ring):
                cross = x1 * y2 - x2 * y1
                a_ring += cross
                cx += (x1 + x2) * cross
                cy += (y1 + y2) * cross
            area += a_ring
    if area == 0:
        pts = shape.polygons[0][0][:-1]
        return (
            (sum((p[0] for p in pts), Decimal(0)) / len(pts)).quantize(QUANT),
            (sum((p[1] for p in pts), Decimal(0)) / len(pts)).quantize(QUANT),
        )
    return (cx / (3 * area)).quantize(QUANT), (cy / (3 * area)).quantize(QUANT)


def representative_point(shape: Shape) -> Point:
    """A point inside the shape: the centroid when inside, else a vertex-midpoint search."""
    c = centroid(shape)
    if shape_contains(shape, c):
        return c
    outer = shape.polygons[0][0]
    for i in range(len(outer) - 1):
        for j in range(i + 2, len(outer) - 1):
            mid = ((outer[i][0] + outer[j][0]) / 2, (outer[i][1] + outer[j][1]) / 2)
            if shape_contains(shape, mid):
                return mid[0].quantize(QUANT), mid[1].quantize(QUANT)
    return c


def to_geojson(shape: Shape) -> dict[str, Any]:
    """GeoJSON geometry of a shape (numbers as floats for JSON; stored text keeps the input)."""

    def ring(r: Ring) -> list[list[float]]:
        return [[float(x), float(y)] for x, y in r]

    if len(shape.polygons) == 1:
        return {"type": "Polygon", "coordinates": [ring(r) for r in shape.polygons[0]]}
    return {"type": "MultiPolygon", "coordinates": [[ring(r) for r in poly] for poly in shape.polygons]}


def point(lng: Decimal | float | str, lat: Decimal | float | str) -> Point:
    """A point from user input (floats go through their shortest repr)."""
    return Decimal(str(lng)), Decimal(str(lat))


# --------------------------------------------------------------------------- records

CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}")
MAX_HOUSEHOLDS = 100_000

# Mediation (矛盾调解)
MEDIATION_KINDS = {
    "neighbour": "邻里纠纷",
    "family": "家庭纠纷",
    "property": "物业纠纷",
    "tenancy": "租赁纠纷",
    "labour": "劳资纠纷",
    "expropriation": "征迁纠纷",
    "other": "其他",
}
MEDIATION_STATUSES = {"open": "调解中", "closed": "已结案"}
MEDIATION_OUTCOMES = {
    "success": "调解成功",
    "partial": "部分成功",
    "failed": "未成功",
    "transferred": "转交",
}
PARTY_ROLES = {"applicant": "申请人", "respondent": "被申请人", "third": "第三人", "witness": "证人"}
