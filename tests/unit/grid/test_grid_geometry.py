"""Grid boundary geometry: parsing, point in polygon (edges, vertices, holes, MultiPolygon),
bounding box and centroid, all in exact Decimal maths."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from anju.grid import rules


def square(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


SQ = rules.parse_geometry({"type": "Polygon", "coordinates": [square(0, 0, 10, 10)]})
HOLED = rules.parse_geometry({"type": "Polygon", "coordinates": [square(0, 0, 10, 10), square(4, 4, 6, 6)]})
MULTI = rules.parse_geometry(
    {
        "type": "MultiPolygon",
        "coordinates": [[square(0, 0, 1, 1)], [square(5, 5, 6, 6), square(5.2, 5.2, 5.8, 5.8)]],
    }
)


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        ("5", "5", True),
        ("0.000001", "9.999999", True),
        ("-0.000001", "5", False),
        ("10.000001", "5", False),
        ("5", "10", True),  # on the top edge
        ("0", "0", True),  # a vertex
        ("10", "5", True),  # on the right edge
        ("11", "10", False),  # on the line of the top edge, outside
    ],
)
def test_point_in_square(x: str, y: str, expected: bool) -> None:
    assert rules.shape_contains(SQ, rules.point(x, y)) is expected


def test_ring_contains_reports_the_edge() -> None:
    ring = SQ.polygons[0][0]
    assert rules.ring_contains(ring, rules.point("10", "3")) is None
    assert rules.ring_contains(ring, rules.point("3", "3")) is True
    assert rules.ring_contains(ring, rules.point("13", "3")) is False


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        ("5", "5", False),
        ("4.5", "5.5", False),
        ("3.9", "5", True),
        ("4", "5", True),
        ("6", "6", True),
        ("1", "1", True),
    ],
)
def test_holes_are_outside_but_their_edge_is_inside(x: str, y: str, expected: bool) -> None:
    assert rules.shape_contains(HOLED, rules.point(x, y)) is expected


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        ("0.5", "0.5", True),
        ("5.1", "5.1", True),
        ("5.5", "5.5", False),
        ("3", "3", False),
        ("6", "5.5", True),
    ],
)
def test_multipolygon_parts_and_their_holes(x: str, y: str, expected: bool) -> None:
    assert rules.shape_contains(MULTI, rules.point(x, y)) is expected


def test_concave_polygon() -> None:
    # A "U": the notch between the arms is outside.
    u = rules.parse_geometry(
        {
            "type": "Polygon",
            "coordinates": [[[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3], [0, 0]]],
        }
    )
    assert rules.shape_contains(u, rules.point("1.5", "2")) is False
    assert rules.shape_contains(u, rules.point("0.5", "2")) is True
    assert rules.shape_contains(u, rules.point("2.5", "2.5")) is True
    assert rules.shape_contains(u, rules.point("1.5", "0.5")) is True
    # A horizontal ray through a vertex (y == 1 hits the inner corners) counts right.
    assert rules.shape_contains(u, rules.point("0.5", "1")) is True
    assert rules.shape_contains(u, rules.point("-1", "1")) is False


def test_clockwise_rings_give_the_same_answer() -> None:
    cw = rules.parse_geometry({"type": "Polygon", "coordinates": [list(reversed(square(0, 0, 10, 10)))]})
    assert rules.shape_contains(cw, rules.point("5", "5")) is True
    assert rules.shape_contains(cw, rules.point("15", "5")) is False


def test_bbox_and_centroid() -> None:
    assert SQ.bbox == (D("0"), D("0"), D("10"), D("10"))
    assert rules.centroid(SQ) == (D("5.000000"), D("5.000000"))
    assert rules.centroid(HOLED) == (D("5.000000"), D("5.000000"))
    assert MULTI.bbox == (D("0"), D("0"), D("6"), D("6"))
    # The representative point of a shape with a hole at its centroid lies inside it.
    p = rules.representative_point(HOLED)
    assert rules.shape_contains(HOLED, p) is True


def test_parse_boundary_round_trip() -> None:
    text = json.dumps({"type": "Polygon", "coordinates": [square(120.1, 30.2, 120.11, 30.21)]})
    shape = rules.parse_boundary(text)
    assert shape.bbox == (D("120.1"), D("30.2"), D("120.11"), D("30.21"))
    assert rules.to_geojson(shape)["coordinates"][0][2] == [120.11, 30.21]


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        ({"type": "Point", "coordinates": [1, 2]}, "边界类型应为 Polygon 或 MultiPolygon，而不是 'Point'"),
        ([1, 2], "边界应为 GeoJSON geometry 对象"),
        ({"type": "Polygon", "coordinates": []}, "：多边形坐标为空"),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]},
            "外环：环至少需要 4 个坐标点（首尾相同）",
        ),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},
            "外环：环未闭合（首尾坐标应相同）",
        ),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], ["x", 1], [0, 0]]]},
            "外环 第 3 个点：坐标必须是数字",
        ),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [1, 1], [0, 0]]]},
            "外环 第 2 个点：经纬度超出范围（经度 ±180，纬度 ±90）",
        ),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [0, 0]]]}, "：外环面积为零"),
        (
            {"type": "MultiPolygon", "coordinates": [[square(0, 0, 1, 1)], [[[0, 0], [1, 0]]]]},
            "第 2 个多边形外环：环至少需要 4 个坐标点（首尾相同）",
        ),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [True, 0], [1, 1], [0, 0]]]},
            "外环 第 2 个点：坐标必须是数字",
        ),
    ],
)
def test_bad_geometry_is_refused_in_chinese(geometry: object, message: str) -> None:
    with pytest.raises(rules.GeometryError) as err:
        rules.parse_geometry(geometry)
    assert str(err.value) == message


def test_bad_json_text() -> None:
    with pytest.raises(rules.GeometryError, match=r"^边界不是合法的 JSON$"):
        rules.parse_boundary("{not json")
