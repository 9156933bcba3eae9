"""Field cleaning with Chinese messages naming the field, parsers, and the status transition table."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from anju.errors import Conflict
from anju.household import rules
from anju.household.rules import (
    BUILDING_FIELDS,
    HOMESTEAD_FIELDS,
    HOUSEHOLD_FIELDS,
    MEMBER_FIELDS,
    STATUS_TRANSITIONS,
    STATUSES,
    TENANT_FIELDS,
    VALUATION_FIELDS,
    check_transition,
    clean,
    parse_bool,
    parse_date,
    parse_decimal,
    parse_int,
)

THIS_YEAR = date.today().year


def errors_of(
    fields: tuple[rules.Field, ...], raw: dict[str, Any], *, partial: bool = False
) -> dict[str, str]:
    values, errors = clean(fields, raw, partial=partial)
    if errors:
        assert all(k not in values for k in (e.field for e in errors))
    return {e.field: e.text() for e in errors}


# ------------------------------------------------------------- household


def test_household_good() -> None:
    values, errors = clean(
        HOUSEHOLD_FIELDS, {"code": "H-01_a", "head_name": " 张建国 ", "address": "青溪路1号"}
    )
    assert errors == []
    assert values == {
        "code": "H-01_a",
        "head_name": "张建国",
        "address": "青溪路1号",
        "contact_phone": "",
        "remark": "",
    }


def test_household_bad() -> None:
    got = errors_of(
        HOUSEHOLD_FIELDS,
        {"code": "H 01", "head_name": "", "address": "路" * 256, "contact_phone": "1234", "remark": "x"},
    )
    assert got == {
        "code": "户号：户号只能由字母、数字、- 和 _ 组成，最长32位",
        "head_name": "户主姓名：必填",
        "address": "房屋坐落：不能超过255个字（现有256个字）",
        "contact_phone": "联系电话：电话号码格式不正确（11位手机号或带区号的固话）",
    }


@pytest.mark.parametrize(
    "phone", ["13800000000", "19912345678", "0571-88888888", "057188888888", "010-1234567"]
)
def test_phone_good(phone: str) -> None:
    assert clean(HOUSEHOLD_FIELDS, {"contact_phone": phone}, partial=True) == ({"contact_phone": phone}, [])


@pytest.mark.parametrize("phone", ["12800000000", "1380000000", "138000000000", "0571-888", "phone"])
def test_phone_bad(phone: str) -> None:
    assert list(errors_of(HOUSEHOLD_FIELDS, {"contact_phone": phone}, partial=True)) == ["contact_phone"]


def test_partial_cleans_only_given_fields() -> None:
    assert clean(HOUSEHOLD_FIELDS, {"remark": "补充"}, partial=True) == ({"remark": "补充"}, [])
    assert errors_of(HOUSEHOLD_FIELDS, {"head_name": "  "}, partial=True) == {"head_name": "户主姓名：必填"}


# ------------------------------------------------------------- member


def test_member_good() -> None:
    values, errors = clean(
        MEMBER_FIELDS,
        {
            "name": "李秀英",
            "relation": "配偶",
            "id_number": "11010519491231002x",
            "phone": "13800000001",
            "dibao": "是",
            "disability_grade": "二级",
            "serious_illness": "否",
            "martyr_family": "",
            "shidu": "1",
            "only_child": "✓",
            "youfu": "N",
            "resettlement_counted": "待定",
            "resettlement_reason": "",
        },
    )
    assert errors == []
    assert values["id_number"] == "11010519491231002X"
    assert values["disability_grade"] == 2
    assert (values["dibao"], values["serious_illness"], values["martyr_family"]) == (True, False, False)
    assert (values["shidu"], values["only_child"], values["youfu"]) == (True, True, False)
    assert values["resettlement_counted"] is None


def test_member_bad() -> None:
    got = errors_of(
        MEMBER_FIELDS,
        {
            "name": "",
            "relation": "朋友",
            "id_number": "110105194912310021",
            "disability_grade": "5",
            "dibao": "也许",
            "resettlement_counted": "可能",
        },
    )
    assert got == {
        "name": "姓名：必填",
        "relation": "与户主关系：应为 户主 / 配偶 / 子女 / 儿媳 / 女婿 / 孙子女 / 父母 / 祖父母 / 兄弟姐妹 / 其他 之一",
        "id_number": "身份证号：身份证号校验位错误（应为X）",
        "disability_grade": "残疾等级：残疾等级应为1-4级",
        "dibao": "低保：应填“是”或“否”",
        "resettlement_counted": "计入安置人口：应填“是”或“否”",
    }


def test_member_needs_an_identity_number() -> None:
    assert errors_of(MEMBER_FIELDS, {"name": "王", "relation": "户主"})["id_number"] == "身份证号：必填"


# ------------------------------------------------------------- building


def test_building_good() -> None:
    values, errors = clean(
        BUILDING_FIELDS,
        {
            "structure": "砖混",
            "use": "business",
            "legal_area": "88.5",
            "floors": "3",
            "built_year": 1998.0,
            "unregistered_determination": "违建",
        },
    )
    assert errors == []
    assert values["structure"] == "brick_concrete" and values["use"] == "business"
    assert values["legal_area"] == Decimal("88.50") and values["unregistered_area"] == Decimal("0.00")
    assert values["floors"] == 3 and values["built_year"] == 1998
    assert values["unregistered_determination"] == "illegal"
    assert values["certificate_no"] == "" and values["location"] == ""


def test_building_bad() -> None:
    got = errors_of(
        BUILDING_FIELDS,
        {
            "structure": "木头",
            "use": "",
            "legal_area": "-3",
            "unregistered_area": "20000.01",
            "floors": "0",
            "built_year": str(THIS_YEAR + 1),
        },
    )
    assert got == {
        "structure": "结构：应为 砖混 / 砖木 / 简易 / 钢混 之一",
        "use": "用途：必填",
        "legal_area": "合法面积(㎡)：不能小于0㎡",
        "unregistered_area": "未登记面积(㎡)：不能大于20000㎡，请核对",
        "floors": "层数：不能小于1层",
        "built_year": f"建成年份：不能大于{THIS_YEAR}年，请核对",
    }
    assert errors_of(BUILDING_FIELDS, {"legal_area": "88.505"}, partial=True) == {
        "legal_area": "合法面积(㎡)：最多保留2位小数"
    }


# ------------------------------------------------------------- tenant, homestead, valuation


def test_tenant() -> None:
    values, errors = clean(
        TENANT_FIELDS,
        {"name": "青溪商贸有限公司", "kind": "企业", "lease_start_on": "2024/05/01", "area": 30},
    )
    assert errors == []
    assert values["kind"] == "enterprise" and values["lease_start_on"] == date(2024, 5, 1)
    assert values["area"] == Decimal("30.00") and values["lease_end_on"] is None
    assert errors_of(TENANT_FIELDS, {"name": "x", "kind": "公司", "lease_end_on": "2024-13-01"}) == {
        "kind": "类型：应为 个人 / 企业 之一",
        "lease_end_on": "租期止：日期格式应为 YYYY-MM-DD",
    }


def test_homestead() -> None:
    assert clean(HOMESTEAD_FIELDS, {"area": "266.67", "approved_year": "1988"})[0]["area"] == Decimal(
        "266.67"
    )
    assert errors_of(HOMESTEAD_FIELDS, {"area": "5000.01", "approved_year": "1949"}) == {
        "area": "宅基地面积(㎡)：不能大于5000㎡，请核对",
        "approved_year": "批准年份：不能小于1950年",
    }


def test_valuation() -> None:
    values, errors = clean(
        VALUATION_FIELDS,
        {
            "firm": "青溪评估",
            "valued_on": "2025年3月1日",
            "assessed_unit_price": "8,000",
            "assessed_value": "708000.00",
        },
    )
    assert errors == []
    assert values["valued_on"] == date(2025, 3, 1) and values["assessed_unit_price"] == Decimal("8000.00")
    assert values["decoration"] == Decimal("0.00")
    assert errors_of(
        VALUATION_FIELDS, {"firm": "", "assessed_unit_price": "1000001", "assessed_value": "abc"}
    ) == {
        "firm": "评估机构：必填",
        "assessed_unit_price": "评估单价(元/㎡)：不能大于1000000元，请核对",
        "assessed_value": "评估金额(元)：不是有效的数字",
    }


# ------------------------------------------------------------- parsers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.2", Decimal("1.20")),
        ("1,234.5", Decimal("1234.50")),
        (7, Decimal("7.00")),
        (0.1, Decimal("0.10")),
        (Decimal("2.30"), Decimal("2.30")),
        ("-0.5", Decimal("-0.50")),
        (" 3 ", Decimal("3.00")),
    ],
)
def test_parse_decimal_good(value: Any, expected: Decimal) -> None:
    assert parse_decimal(value) == expected
    assert parse_decimal(value).as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.234", "最多保留2位小数"),
        (0.125, "最多保留2位小数"),
        ("abc", "不是有效的数字"),
        ("NaN", "不是有效的数字"),
        ("inf", "不是有效的数字"),
        ("", "不是有效的数字"),
    ],
)
def test_parse_decimal_refuses(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_decimal(value)


@pytest.mark.parametrize("value", ["9" * 300, "1e40", 1e40])
def test_parse_decimal_refuses_figures_beyond_the_decimal_context(value: Any) -> None:
    """A census cell of 300 digits used to crash the import (InvalidOperation) instead of being reported."""
    with pytest.raises(ValueError, match="数值过大，请核对"):
        parse_decimal(value)
    with pytest.raises(ValueError, match="数值过大，请核对"):
        parse_int(value)


def test_parse_int_and_date() -> None:
    assert parse_int("3") == 3 and parse_int(3.0) == 3
    with pytest.raises(ValueError, match="最多保留0位小数"):
        parse_int("3.5")
    for text in ("2025-03-01", "2025/03/01", "2025.03.01", "20250301", "2025年03月01日"):
        assert parse_date(text) == date(2025, 3, 1)
    with pytest.raises(ValueError, match="日期格式应为 YYYY-MM-DD"):
        parse_date("01/03/2025")


@pytest.mark.parametrize("value", ["是", "Y", "yes", "1", "true", "T", "有", "√", "✓", "on", True])
def test_parse_bool_true(value: Any) -> None:
    assert parse_bool(value) is True


@pytest.mark.parametrize("value", ["否", "n", "No", "0", "false", "F", "无", "×", "", None, False])
def test_parse_bool_false(value: Any) -> None:
    assert parse_bool(value) is False


@pytest.mark.parametrize("value", ["maybe", "2", "对"])
def test_parse_bool_refuses(value: str) -> None:
    with pytest.raises(ValueError, match="应填“是”或“否”"):
        parse_bool(value)


# ------------------------------------------------------------- status transitions

# Written out independently of rules.STATUS_TRANSITIONS: the procedure of DOMAIN.md with the
# campaign's stages (未入户 → 已调查 → 已评估 → 协商中 → 已签约 → 已腾空 → 已拆除; valuation may be skipped).
ALLOWED = {
    ("pending", "surveyed"),
    ("surveyed", "valued"),
    ("surveyed", "negotiating"),
    ("surveyed", "signed"),
    ("valued", "negotiating"),
    ("valued", "signed"),
    ("negotiating", "signed"),
    ("signed", "vacated"),
    ("vacated", "demolished"),
    ("demolished", "archived"),
}


def test_transition_table_is_the_procedure() -> None:
    assert set(STATUS_TRANSITIONS) == set(STATUSES)
    assert {(a, b) for a, targets in STATUS_TRANSITIONS.items() for b in targets} == ALLOWED


@pytest.mark.parametrize("current", list(STATUSES))
@pytest.mark.parametrize("target", list(STATUSES))
def test_every_pair(current: str, target: str) -> None:
    if (current, target) in ALLOWED:
        check_transition(current, target)
        return
    with pytest.raises(Conflict) as info:
        check_transition(current, target)
    assert info.value.code == "illegal_transition" and info.value.http_status == 409
    assert info.value.message_zh == f"状态不能从“{STATUSES[current]}”变为“{STATUSES[target]}”"


def test_unknown_status_is_illegal() -> None:
    with pytest.raises(Conflict, match="illegal status transition"):
        check_transition("bogus", "surveyed")
    with pytest.raises(Conflict) as info:
        check_transition("signed", "cancelled")
    assert info.value.message_zh == "状态不能从“已签约”变为“cancelled”"


def test_search_text() -> None:
    assert rules.search_text("H0001", "张建国", "青溪路1号", ["李秀英"]) == "h0001 张建国 青溪路1号 李秀英"
    assert len(rules.search_text("H", "x" * 2000, "", [])) == 1000
