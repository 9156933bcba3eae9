"""Pure checks of project set-up: fields, date order, block cycles, GeoJSON parcels."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from anju.project import rules

RING = [[120.1, 30.1], [120.2, 30.1], [120.2, 30.2], [120.1, 30.1]]


def poly(ring: list[list[float]] = RING) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


def doc(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def feat(props: dict[str, Any], geometry: Any = None) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": poly() if geometry is None else geometry}


def messages(errors: list[rules.FieldError]) -> dict[str, str]:
    return {e.field: e.text() for e in errors}


def test_a_new_project_is_cleaned_with_defaults() -> None:
    values, errors = rules.check_project(
        {
            "code": "QX-1",
            "name": " 南片 ",
            "kind": "棚户区改造",
            "signing_start_on": "2026/03/01",
            "target_sign_rate": "90",
        }
    )
    assert errors == []
    assert values["kind"] == "shantytown" and values["name"] == "南片"
    assert values["signing_start_on"] == date(2026, 3, 1)
    assert (values["target_sign_rate"], values["alert_no_visit_days"], values["status"]) == (90, 7, "survey")
    assert values["target_households"] is None and values["deadline_on"] is None


def test_every_problem_names_its_field_in_chinese() -> None:
    _, errors = rules.check_project(
        {
            "code": "南片 1",
            "name": "",
            "kind": "land",
            "target_sign_rate": 0,
            "alert_no_visit_days": "91",
            "target_households": "1.5",
            "launched_on": "2026-13-01",
            "legal_basis": "依据\u202e条例",
        }
    )
    assert messages(errors) == {
        "code": "项目编号：只能由字母、数字、- 和 _ 组成，最长32位",
        "name": "项目名称：必填",
        "kind": "项目类型：应为 国有土地上房屋征收 / 集体土地征收 / 棚户区改造 之一",
        "target_sign_rate": "目标签约率（%）：应在1至100%之间",
        "alert_no_visit_days": "未走访预警天数：应在1至90天之间",
        "target_households": "目标签约户数：应为整数",
        "launched_on": "攻坚启动日：日期格式应为 YYYY-MM-DD",
        "legal_basis": messages(errors)["legal_basis"],
    }
    assert "控制字符" in messages(errors)["legal_basis"]


@pytest.mark.parametrize(
    ("dates", "field"),
    [
        ({"signing_start_on": date(2026, 5, 1), "signing_end_on": date(2026, 4, 30)}, "signing_end_on"),
        ({"signing_end_on": date(2026, 5, 1), "deadline_on": date(2026, 4, 30)}, "deadline_on"),
        ({"signing_start_on": date(2026, 5, 1), "deadline_on": date(2026, 4, 30)}, "deadline_on"),
        ({"launched_on": date(2026, 5, 1), "deadline_on": date(2026, 4, 30)}, "deadline_on"),
    ],
)
def test_dates_out_of_order_are_refused(dates: dict[str, date], field: str) -> None:
    errors = rules.date_order_errors(dates)
    assert [(e.field, e.kind) for e in errors] == [(field, "date_order")]


def test_dates_in_order_and_equal_dates_pass() -> None:
    same = date(2026, 5, 1)
    assert (
        rules.date_order_errors(
            {"signing_start_on": same, "signing_end_on": same, "deadline_on": same, "launched_on": same}
        )
        == []
    )


def test_a_change_is_checked_against_the_stored_dates() -> None:
    current = {"signing_start_on": date(2026, 3, 1), "signing_end_on": date(2026, 4, 30), "deadline_on": None}
    values, errors = rules.check_project({"deadline_on": "2026-04-01"}, current=current)
    assert values == {"deadline_on": date(2026, 4, 1)}
    assert messages(errors) == {"deadline_on": "签约截止日：2026-04-01 不能早于签约期结束日（2026-04-30）"}
    values, errors = rules.check_project({"name": ""}, current=current)
    assert messages(errors) == {"name": "项目名称：必填"}


def test_block_fields_and_parent_cycles() -> None:
    values, errors = rules.check_block({"code": "LJ-01", "name": "一组", "level": "组", "sort": "2"})
    assert errors == [] and values == {"code": "LJ-01", "name": "一组", "level": "group", "sort": 2}
    _, errors = rules.check_block({"level": "镇"}, partial=True)
    assert messages(errors) == {"level": "区块层级：应为 片区 / 村 / 组 / 区块 之一"}
    parents = {1: None, 2: 1, 3: 2, 4: None}
    assert rules.parent_cycle(1, 3, parents)  # under its grandchild
    assert rules.parent_cycle(2, 2, parents)  # under itself
    assert not rules.parent_cycle(3, 4, parents)
    assert not rules.parent_cycle(2, None, parents)


def test_parcels_are_read_with_default_and_chosen_property_names() -> None:
    parsed = rules.parse_parcels(
        doc(
            feat({"code": "Z1", "block_code": "E", "land_area": 12.5, "household_code": "H1，H2"}),
            feat({"宗地号": 330102001, "区块编号": "W", "宗地面积": "100", "户号": ["H3"]}),
            feat({"类型": "片区", "block_code": "E"}),
        )
    )
    assert parsed.errors == []
    assert [(p.code, p.block_code, p.land_area, p.household_codes) for p in parsed.parcels] == [
        ("Z1", "E", Decimal("12.50"), ["H1", "H2"]),
        ("330102001", "W", Decimal("100.00"), ["H3"]),
    ]
    assert (
        parsed.parcels[0].geometry
        == '{"type":"Polygon","coordinates":[[[120.1,30.1],[120.2,30.1],[120.2,30.2],[120.1,30.1]]]}'
    )
    assert [(b.feature, b.block_code) for b in parsed.boundaries] == [(3, "E")]
    chosen = rules.parse_parcels(
        doc(feat({"ZDH": "A-9", "QK": "E"})), code_property="ZDH", block_property="QK"
    )
    assert [(p.code, p.block_code) for p in chosen.parcels] == [("A-9", "E")]


def test_each_bad_feature_is_named_by_number_and_property() -> None:
    parsed = rules.parse_parcels(
        doc(
            feat({"code": "Z1"}, {"type": "Point", "coordinates": [1, 2]}),
            feat({"name": "无号"}),
            feat({"code": "Z1"}),
            feat({"code": "Z3"}, poly([[120.1, 30.1], [120.2, 30.1], [120.2, 30.2], [120.3, 30.3]])),
            feat({"code": "Z4"}, poly([[200.0, 30.1], [120.2, 30.1], [120.2, 30.2], [200.0, 30.1]])),
            feat({"code": "Z5", "land_area": "-3"}),
            feat({"code": "Z6", "household_code": "H1"}),
            feat({"code": "Z7", "household_code": "H1"}),
            "not a feature",
        )
    )
    assert [e.text() for e in parsed.errors] == [
        "第1个要素（属性“geometry”）：几何类型应为 Polygon 或 MultiPolygon，实为“Point”",
        "第2个要素（属性“code”）：缺少宗地号（属性“code”、“宗地号”、“宗地编号”、“parcel_code”）",
        "第3个要素（属性“code”）：宗地号“Z1”与第1个要素重复",
        "第4个要素（属性“geometry”）：多边形的环应首尾闭合（第一个和最后一个坐标点相同）",
        "第5个要素（属性“geometry”）：坐标 [200.0, 30.1] 超出经纬度范围（应为 WGS84 经纬度）",
        "第6个要素（属性“land_area”）：宗地面积应在0至100,000,000㎡之间，请核对",
        "第8个要素（属性“household_code”）：户号“H1”已关联第7个要素的宗地",
        "第9个要素：应为 GeoJSON 要素（type 为 Feature）",
    ]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "文件（属性“type”）：应为 GeoJSON FeatureCollection（要素集合）"),
        ({"type": "Feature"}, "文件（属性“type”）：应为 GeoJSON FeatureCollection（要素集合）"),
        ({"type": "FeatureCollection"}, "文件（属性“features”）：缺少要素列表（features）"),
        ({"type": "FeatureCollection", "features": []}, "文件（属性“features”）：文件中没有任何要素"),
    ],
)
def test_a_document_that_is_not_a_feature_collection(document: Any, message: str) -> None:
    parsed = rules.parse_parcels(document)
    assert [e.text() for e in parsed.errors] == [message] and parsed.parcels == []


def test_multipolygons_and_nan_free_numbers() -> None:
    multi = {"type": "MultiPolygon", "coordinates": [[RING], [RING]]}
    assert rules.geometry_problem(multi) is None
    assert (
        rules.geometry_problem({"type": "Polygon", "coordinates": [[[True, 1], [1, 1], [1, 2], [True, 1]]]})
        == "坐标应为数字"
    )
    assert rules.geometry_problem({"type": "Polygon", "coordinates": []}) == "坐标应为非空数组"
    assert rules.geometry_problem(None) == "缺少几何图形（geometry）"
