"""Census validation without a database: every error kind, its sheet, row, column and Chinese message."""

from __future__ import annotations

import io
import random
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import xlsxwriter

from anju.core import secrets
from anju.core.ids import make_id_number
from anju.demo.generator import census_rows
from anju.household import census, rules
from anju.household.census import CellError, ProjectContext, raw_from_rows, validate
from anju.household.column_cleaning import ColumnCleaner

SECRET = "unit-test-secret"
ID1 = make_id_number("330102", date(1970, 3, 4), 11)
ID2 = make_id_number("330102", date(1972, 8, 9), 22)
ID3 = make_id_number("330102", date(1999, 1, 2), 33)


def ctx(existing_codes: set[str] | None = None, existing_ids: dict[str, str] | None = None) -> ProjectContext:
    return ProjectContext(
        project_id=1,
        blocks_by_code={"E": 10, "W": 11, "LJ-01": 12, "TQ-01": 13},
        blocks_by_name={"东片区": [10], "西片区": [11], "一组": [12, 13]},
        blocks_by_path={"李家村/一组": 12, "塘桥村/一组": 13},
        existing_codes=existing_codes or set(),
        existing_digests={secrets.blind_index(SECRET, k): v for k, v in (existing_ids or {}).items()},
    )


def household(code: str, **kw: Any) -> dict[str, Any]:
    return {"code": code, "head_name": "张建国", "address": "青溪路1号", "block": "E", **kw}


def member(code: str, id_number: str, **kw: Any) -> dict[str, Any]:
    return {"household_code": code, "name": "张建国", "relation": "户主", "id_number": id_number, **kw}


def building(code: str, **kw: Any) -> dict[str, Any]:
    return {"household_code": code, "structure": "砖混", "use": "住宅", "legal_area": "88.50", **kw}


def check(rows: dict[str, list[dict[str, Any]]], context: ProjectContext | None = None) -> census.CensusCheck:
    return validate(raw_from_rows(rows), context or ctx(), secret_key=SECRET)


def where(errors: list[CellError]) -> list[tuple[str, int | None, str, str]]:
    return [(e.sheet, e.row, e.letter, e.column) for e in errors]


def test_clean_file_passes_with_totals() -> None:
    result = check(
        {
            "households": [
                household("H1"),
                household("H2", block="李家村/一组", status="已签约", sign_on="2024-05-01"),
            ],
            "members": [
                member("H1", ID1, dibao="是"),
                member("H2", ID2),
                member("H2", ID3, relation="子女", name="张小"),
            ],
            "buildings": [
                building("H1", unregistered_area="10.5", unregistered_determination="违建"),
                building("H2"),
            ],
            "valuations": [
                {
                    "household_code": "H1",
                    "building_order": 1,
                    "firm": "某估价公司",
                    "assessed_unit_price": "2000",
                    "assessed_value": "177000",
                },
            ],
        }
    )
    assert result.errors == []
    assert [h["block_id"] for h in result.clean.households] == [10, 12]
    assert result.clean.households[1]["status"] == "signed"
    assert result.preview.counts == {"户": 2, "成员": 3, "房屋": 2, "承租人": 0, "宅基地": 0, "评估": 1}
    assert result.preview.totals["合法面积(㎡)"] == "177.00"
    assert result.preview.totals["未登记面积(㎡)"] == "10.50"
    assert result.preview.totals["评估金额(元)"] == "177,000.00"
    assert [m["sort"] for m in result.clean.members] == [0, 0, 1]
    assert result.clean.buildings[0]["unregistered_determination"] == "illegal"


def test_every_cell_error_names_sheet_row_column_in_chinese() -> None:
    bad_id = ID1[:-1] + ("0" if ID1[-1] != "0" else "1")
    result = check(
        {
            "households": [
                household("H1"),
                household("H1"),  # duplicate in file (row 3)
                household("H3", block="北片区"),  # unknown block (row 4)
                household("H4", block="一组"),  # ambiguous block name (row 5)
                household("H5", head_name="", contact_phone="123"),  # required + phone (row 6)
                household("H6", status="已签约"),  # signed without a date (row 7)
            ],
            "members": [
                member("H1", bad_id),  # check digit (row 2)
                member("H1", ID2, relation="表哥"),  # relation (row 3)
                member("H9", ID3),  # unknown household (row 4)
                member("H3", ID2),  # duplicate id in file (row 5)
                member("H3", 330102197003040111.0, relation="配偶"),  # numeric cell (row 6)
            ],
            "buildings": [
                building("H1", legal_area="-3"),  # negative (row 2)
                building("H1", legal_area="30000"),  # absurd (row 3)
                building("H1", legal_area="0", unregistered_area="0"),  # both zero (row 4)
                building("H1", structure="茅草"),  # unknown structure (row 5)
                building("H1", legal_area="12.345"),  # three decimals (row 6)
            ],
        }
    )
    got = {(e.sheet, e.row, e.letter, e.column): e.message for e in result.errors}
    assert got == {
        ("户", 3, "A", "户号"): "户号“H1”与第2行重复",
        ("户", 4, "D", "所属区块"): "区块“北片区”不存在于本项目，请先在项目中建立该区块",
        (
            "户",
            5,
            "D",
            "所属区块",
        ): "区块名称“一组”在本项目中不唯一，请填写区块编号或完整路径（如 李家村/一组）",
        ("户", 6, "B", "户主姓名"): "必填",
        ("户", 6, "E", "联系电话"): "电话号码格式不正确（11位手机号或带区号的固话）",
        ("户", 7, "G", "签约日期"): "状态为“已签约”时须填写签约日期",
        ("成员", 2, "D", "身份证号"): f"身份证号校验位错误（应为{ID1[-1]}）",
        ("成员", 3, "C", "与户主关系"): "应为 " + " / ".join(rules.RELATIONS) + " 之一",
        ("成员", 4, "A", "户号"): "户号“H9”在“户”表中不存在",
        ("成员", 5, "D", "身份证号"): "身份证号与本表第3行重复",
        ("成员", 6, "D", "身份证号"): "身份证号须以文本格式填写（数字格式会丢失末位）",
        ("房屋", 2, "H", "合法面积(㎡)"): "不能小于0㎡",
        ("房屋", 3, "H", "合法面积(㎡)"): "不能大于20000㎡，请核对",
        ("房屋", 4, "H", "合法面积(㎡)"): "合法面积与未登记面积不能同时为0",
        ("房屋", 5, "D", "结构"): "应为 砖混 / 砖木 / 简易 / 钢混 之一",
        ("房屋", 6, "H", "合法面积(㎡)"): "最多保留2位小数",
    }
    assert len(result.errors) == 16
    assert not result.ok
    # errors come sorted by sheet, row, column and read like a person would say them
    assert result.errors[0].text() == "“户”表 第3行 A列（户号）：户号“H1”与第2行重复"


def test_duplicates_against_the_project() -> None:
    result = check(
        {"households": [household("OLD"), household("NEW")], "members": [member("NEW", ID1)]},
        ctx(existing_codes={"OLD"}, existing_ids={ID1: "X0007"}),
    )
    assert [(e.sheet, e.row, e.letter, e.message) for e in result.errors] == [
        ("户", 2, "A", "户号“OLD”在本项目中已存在"),
        ("成员", 2, "D", "该身份证号已登记在本项目户“X0007”"),
    ]


def test_two_heads_duplicate_homestead_and_building_keys() -> None:
    result = check(
        {
            "households": [household("H1")],
            "members": [member("H1", ID1), member("H1", ID2)],
            "buildings": [
                building("H1", building_order=1, certificate_no="C1"),
                building("H1", building_order=1),
            ],
            "homesteads": [{"household_code": "H1", "area": "120"}, {"household_code": "H1", "area": "130"}],
            "valuations": [
                {
                    "household_code": "H1",
                    "certificate_no": "C9",
                    "firm": "甲",
                    "assessed_unit_price": "1",
                    "assessed_value": "1",
                },
                {
                    "household_code": "H1",
                    "building_order": 4,
                    "firm": "甲",
                    "assessed_unit_price": "1",
                    "assessed_value": "1",
                },
                {
                    "household_code": "H1",
                    "building_order": 1,
                    "firm": "甲",
                    "assessed_unit_price": "1",
                    "assessed_value": "1",
                },
                {
                    "household_code": "H1",
                    "building_order": 1,
                    "firm": "甲",
                    "assessed_unit_price": "1",
                    "assessed_value": "1",
                },
            ],
            "tenants": [
                {
                    "household_code": "H1",
                    "name": "某店",
                    "kind": "企业",
                    "lease_start_on": "2024-01-01",
                    "lease_end_on": "2023-01-01",
                }
            ],
        }
    )
    assert [(e.sheet, e.row, e.letter, e.message) for e in result.errors] == [
        ("成员", 3, "C", "户“H1”已有户主（第2行）"),
        ("房屋", 3, "B", "房屋序号1与第2行重复"),
        ("承租人", 2, "J", "租期止不能早于租期起"),
        ("宅基地", 3, "A", "户“H1”的宅基地已在第2行填写"),
        ("评估", 2, "C", "在“房屋”表中找不到户“H1”产权证号为“C9”的房屋"),
        ("评估", 3, "B", "在“房屋”表中找不到户“H1”的第4处房屋"),
        ("评估", 5, "B", "该房屋的评估结果已在第4行填写"),
    ]


def test_row_cleaner_matches_rules_clean() -> None:
    """The memoising cleaner must judge every value exactly as rules.clean does."""
    samples: list[dict[str, Any]] = [
        {"name": "张三", "relation": "户主", "id_number": ID1, "dibao": "是", "disability_grade": "二级"},
        {"name": "", "relation": "表哥", "id_number": "123", "dibao": "也许", "disability_grade": "7"},
        {
            "name": "李四",
            "relation": "子女",
            "id_number": ID2,
            "dibao": 1.0,
            "youfu": True,
            "resettlement_counted": "待定",
        },
        {"name": "  ", "relation": None, "id_number": ID3, "dibao": "否", "disability_grade": 3.0},
    ]
    cleaner = ColumnCleaner(rules.MEMBER_FIELDS)
    for _ in range(2):  # second pass answers from the cache
        for raw in samples:
            assert cleaner.clean_row(raw) == rules.clean(rules.MEMBER_FIELDS, raw)
    b_cleaner = ColumnCleaner(rules.BUILDING_FIELDS)
    for raw in [
        {"structure": "砖混", "use": "住宅", "legal_area": 88.5, "floors": 2.0, "built_year": "1990"},
        {"structure": "brick_wood", "use": "营业", "legal_area": "1e3", "floors": 0, "built_year": 1800},
        {"structure": "砖混", "use": "住宅", "legal_area": 88.5, "floors": 2.0, "built_year": "1990"},
    ]:
        assert b_cleaner.clean_row(raw) == rules.clean(rules.BUILDING_FIELDS, raw)


def _xlsx(sheets: dict[str, list[list[Any]]]) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf)
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                if v is not None:
                    ws.write(r, c, v)
    wb.close()
    return buf.getvalue()


def test_reading_finds_header_below_a_title_and_reports_structure_problems() -> None:
    data = _xlsx(
        {
            "户": [
                ["青溪街道入户调查表"],
                [],
                ["户号*", "户主姓名*", "房屋坐落（必填）", "备注", "其他列"],
                ["H1", "张三", "青溪路1号"],
            ],
            "成员": [["户号", "姓名", "姓名"]],
        }
    )
    raw = census.read_census(data, "a.xlsx")
    assert raw.sheets["households"].header_row == 3
    assert raw.sheets["households"].rows == [(4, ["H1", "张三", None, None, None, None, None, None, ""])]
    assert raw.sheets["households"].ignored == ["房屋坐落（必填）", "其他列"]
    assert [(e.sheet, e.row, e.letter, e.column, e.message) for e in raw.errors] == [
        ("户", 3, "", "房屋坐落", "缺少必填列“房屋坐落”"),
        ("成员", 1, "C", "姓名", "表头重复"),
        ("成员", 1, "", "与户主关系", "缺少必填列“与户主关系”"),
        ("成员", 1, "", "身份证号", "缺少必填列“身份证号”"),
    ]
    assert census.read_census(_xlsx({"Sheet1": [["x"]]}), "b.xlsx").errors == [
        CellError("户", None, "", "", "缺少“户”工作表")
    ]


def test_csv_is_the_household_sheet_in_utf8_or_gb18030() -> None:
    text = "户号,户主姓名,房屋坐落,所属区块\nH1,张三,青溪路1号,E\n,,,\nH2,李四,青溪路2号,西片区\n"
    for encoding in ("utf-8-sig", "gb18030"):
        raw = census.read_census(text.encode(encoding), "census.csv")
        result = validate(raw, ctx(), secret_key=SECRET)
        assert result.errors == []
        assert [(h["code"], h["block_id"], h["_row"]) for h in result.clean.households] == [
            ("H1", 10, 2),
            ("H2", 11, 4),
        ]


def test_template_round_trips_generated_rows() -> None:
    rows = census_rows(random.Random(5), 40, prefix="T", blocks=["E", "W"], kind="collective_land")
    buf = io.BytesIO()
    census.write_workbook(buf, rows)
    raw = census.read_census(buf.getvalue(), "t.xlsx")
    assert raw.errors == []
    result = validate(raw, ctx(), secret_key=SECRET)
    assert result.errors == []
    assert len(result.clean.households) == 40
    assert len(result.clean.members) == len(rows["members"])
    assert len(result.clean.valuations) == len(rows["valuations"])
    assert sum(b["legal_area"] for b in result.clean.buildings) == sum(
        (Decimal(b["legal_area"]) for b in rows["buildings"]), Decimal(0)
    )
    # the template itself: every sheet plus the notes, headers marked, nothing else
    empty = census.read_census(census.template_bytes(), "template.xlsx")
    assert set(empty.sheets) == {s.key for s in census.SHEETS}
    assert empty.row_count() == 0 and empty.errors == []


@pytest.mark.parametrize(("index", "letter"), [(0, "A"), (25, "Z"), (26, "AA"), (51, "AZ"), (702, "AAA")])
def test_column_letters(index: int, letter: str) -> None:
    assert census.column_letter(index) == letter
