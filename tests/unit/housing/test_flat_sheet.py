"""The developer's flat list read row by row: headers in any order and with units, every bad cell
named by row and column in Chinese, duplicates within the sheet and against the estate."""

from __future__ import annotations

import io
from decimal import Decimal

from python_calamine import CalamineWorkbook

from anju.housing import stock_sheet as sheet

HEAD = ["楼栋", "单元", "楼层", "房号", "户型", "建筑面积（㎡）", "套内面积", "公摊面积", "朝向", "价格档"]


def _rows(*data: list[object]) -> list[sheet.SheetRow]:
    rows, problems = sheet.rows_of([["某某安置小区房源表"], HEAD, *[list(d) for d in data]])
    assert problems == []
    return rows


def test_a_good_row_becomes_a_flat() -> None:
    rows = _rows(["3幢", 1.0, 5.0, 502.0, "a", 89.56, 72.3, 17.26, "南", ""])
    assert rows[0].row == 3  # the spreadsheet's row number (title row, header row, then data)
    checked = sheet.check_rows(rows, set())
    assert checked.ok and checked.problems == []
    f = checked.flats[0]
    assert (f.code, f.building, f.unit, f.floor, f.number, f.flat_type) == (
        "3-1-502",
        "3幢",
        1,
        5,
        "502",
        "A",
    )
    assert (f.gross_area, f.inner_area, f.shared_area) == (
        Decimal("89.56"),
        Decimal("72.30"),
        Decimal("17.26"),
    )
    assert (f.orientation, f.price_tier, f.market_unit_price_fen) == ("南", "standard", None)


def test_a_blank_shared_area_is_gross_minus_inner_and_units_may_carry_their_suffix() -> None:
    rows = _rows(["12号楼", "2单元", "18层", "1801", "", "120.00", "98.5", "", "南北", "extra"])
    f = sheet.check_rows(rows, set()).flats[0]
    assert (f.code, f.unit, f.floor, f.shared_area, f.price_tier, f.flat_type) == (
        "12-2-1801",
        2,
        18,
        Decimal("21.50"),
        "extra",
        "",
    )


def test_every_bad_cell_is_named_by_row_and_column() -> None:
    rows = _rows(
        ["", "x", "0", "", "", "abc", "90", "", "", ""],
        ["3幢", "1", "2", "201", "A", "80.123", "-1", "", "", "a tier"],
        ["3幢", "1", "3", "301", "A", "80", "90", "", "", ""],
        ["3幢", "1", "4", "401", "A", "80", "60", "10", "", ""],
        ["3幢", "1", "5", "501", "A", "=1+1", "60", "", "", ""],
    )
    checked = sheet.check_rows(rows, set())
    assert not checked.ok and checked.flats == []
    assert [p.message for p in checked.problems] == [
        "第 3 行“楼栋”：不能为空",
        "第 3 行“房号”：不能为空",
        "第 3 行“单元”：“x”不是 1 至 99 的单元号",
        "第 3 行“楼层”：“0”不是 1 至 200 的楼层",
        "第 3 行“建筑面积”：“abc”不是有效的面积（㎡，大于 0，最多两位小数）",
        "第 4 行“建筑面积”：“80.123”不是有效的面积（㎡，大于 0，最多两位小数）",
        "第 4 行“套内面积”：“-1”不是有效的面积（㎡，大于 0，最多两位小数）",
        "第 4 行“价格档”：价格档不能含空格",
        "第 5 行“套内面积”：套内面积 90.00㎡ 大于建筑面积 80.00㎡",
        "第 6 行“公摊面积”：套内面积 60.00㎡ + 公摊面积 10.00㎡ 不等于建筑面积 80.00㎡",
        "第 7 行“建筑面积”：“=1+1”不是有效的面积（㎡，大于 0，最多两位小数）",
    ]
    assert [(p.row, p.column) for p in checked.problems][:2] == [(3, "楼栋"), (3, "房号")]


def test_duplicates_within_the_sheet_and_against_the_estate_are_refused() -> None:
    rows = _rows(
        ["3幢", "1", "5", "502", "A", "90", "75", "", "", ""],
        ["3栋", "1", "5", "502", "A", "90", "75", "", "", ""],  # 3栋 is 3幢: the same code
        ["3幢", "1", "6", "602", "A", "90", "75", "", "", ""],
    )
    checked = sheet.check_rows(rows, {"3-1-602"})
    assert [p.message for p in checked.problems] == [
        "第 4 行“房号”：房源 3-1-502 与第 3 行重复",
        "第 5 行“房号”：房源 3-1-602 已在该小区的房源中，不能重复导入",
    ]
    assert [f.code for f in checked.flats] == ["3-1-502"] and not checked.ok


def test_missing_header_or_columns_or_data_stop_the_reading() -> None:
    assert sheet.rows_of([["a", "b"], [1, 2]]) == (
        [],
        [sheet.Problem(1, "楼栋", "找不到表头：第一张工作表的前 20 行中须有“楼栋”“房号”等列")],
    )
    rows, problems = sheet.rows_of([["楼栋", "房号", "建筑面积"], ["3幢", "101", "80"]])
    assert rows == [] and [p.message for p in problems] == [
        "第 1 行表头缺少“单元”列",
        "第 1 行表头缺少“楼层”列",
        "第 1 行表头缺少“套内面积”列",
    ]
    assert sheet.rows_of([HEAD, [None] * 10]) == ([], [sheet.Problem(2, "楼栋", "房源表中没有数据行")])


def test_market_price_is_read_in_yuan() -> None:
    rows, problems = sheet.rows_of(
        [[*HEAD, "市场单价（元/㎡）"], ["1幢", "1", "1", "101", "", "50", "40", "", "", "", "12,800.50"]]
    )
    assert problems == []
    assert sheet.check_rows(rows, set()).flats[0].market_unit_price_fen == 1280050
    rows, _ = sheet.rows_of([[*HEAD, "市场单价"], ["1幢", "1", "1", "101", "", "50", "40", "", "", "", "-5"]])
    assert [p.message for p in sheet.check_rows(rows, set()).problems] == [
        "第 2 行“市场单价”：“-5”不是有效的单价（元/㎡，最多两位小数）"
    ]


def test_the_export_reads_back_as_the_same_flats_and_writes_text_as_text() -> None:
    data = sheet.workbook(
        [
            [
                "3-1-502",
                "3幢",
                1,
                5,
                "502",
                "A",
                Decimal("89.56"),
                Decimal("72.30"),
                Decimal("17.26"),
                "=HYPERLINK(1)",
                "standard",
                "",
                "高层",
                "可选",
                "",
            ]
        ]
    )
    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    grid = wb.get_sheet_by_name("房源").to_python()
    assert grid[0] == list(sheet.EXPORT_HEADERS)
    assert grid[1][9] == "=HYPERLINK(1)"  # a string cell, not a formula
    rows, problems = sheet.rows_of(grid)
    assert problems == []
    f = sheet.check_rows(rows, set()).flats[0]
    assert (f.code, f.gross_area, f.inner_area, f.shared_area) == (
        "3-1-502",
        Decimal("89.56"),
        Decimal("72.30"),
        Decimal("17.26"),
    )


def test_the_rise_column_is_one_value_per_building_and_named_when_wrong() -> None:
    head = [*HEAD, "楼型"]
    rows, problems = sheet.rows_of(
        [
            head,
            ["3幢", 1, 5, 502, "a", 89.56, 72.3, 17.26, "南", "", "高层"],
            ["3幢", 1, 6, 602, "a", 89.56, 72.3, 17.26, "南", "", "多层"],
            ["4幢", 1, 6, 602, "a", 89.56, 72.3, 17.26, "南", "", "超高层"],
            ["5幢", 1, 6, 602, "a", 89.56, 72.3, 17.26, "南", "", ""],
        ]
    )
    assert problems == []
    checked = sheet.check_rows(rows, set())
    assert [(p.row, p.column, p.message) for p in checked.problems] == [
        (3, "楼型", "第 3 行“楼型”：楼栋 3幢 的楼型与第 2 行（高层）不一致"),
        (4, "楼型", "第 4 行“楼型”：“超高层”不是可选的楼型（多层、高层）"),
    ]
    assert [(f.building, f.rise) for f in checked.flats] == [("3幢", "高层"), ("5幢", "")]
