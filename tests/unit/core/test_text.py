"""Control characters and lengths of free text (anju.core.text), and the household cleaners that use it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anju.core import text
from anju.household import rules
from anju.household.column_cleaning import judge_for

REFUSED = [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F)]
REFUSED += list(range(0x2066, 0x206A))


@pytest.mark.parametrize("code", REFUSED)
def test_every_refused_character_is_found_in_any_text(code: int) -> None:
    value = f"张{chr(code)}三"
    assert text.find_control_chars(value) == [(1, chr(code))]
    assert text.find_control_chars(value, multiline=True) == [(1, chr(code))]


@pytest.mark.parametrize("ch", ["\t", "\n", "\r"])
def test_tab_and_line_breaks_only_in_multi_line_text(ch: str) -> None:
    assert text.find_control_chars(f"a{ch}b") == [(1, ch)]
    assert text.find_control_chars(f"a{ch}b", multiline=True) == []


@given(st.text(alphabet=st.characters(blacklist_categories=["Cc", "Cf", "Cs"])))
def test_text_without_controls_passes(value: str) -> None:
    assert text.text_problem(value, multiline=False) is None


def test_messages_name_the_position_and_the_character() -> None:
    assert (
        text.control_char_problem("ab\x00c\x00")
        == "含有不可见的控制字符：第3个字符是 U+0000（空字符 NUL），共2处，请删除后重试"
    )
    assert text.control_char_problem("\u202e") == (
        "含有不可见的控制字符：第1个字符是 U+202E（文字方向控制符 RIGHT-TO-LEFT OVERRIDE），请删除后重试"
    )
    assert text.length_problem("长" * 501, 500) == "不能超过500个字（现有501个字）"
    assert text.length_problem("长" * 500, 500) is None
    with pytest.raises(ValueError, match=r"^理由不能超过500个字（现有100000个字）$"):
        text.check_text("x" * 100_000, "理由", max_len=500)


def test_the_json_schema_pattern_agrees_with_the_checker() -> None:
    import re

    single, multi = re.compile(text.SINGLE_LINE_PATTERN), re.compile(text.MULTILINE_PATTERN)
    for code in [*REFUSED, 0x09, 0x0A, 0x0D, 0x41, 0x4E2D, 0x3000]:
        ch = chr(code)
        assert (single.fullmatch(ch) is None) == bool(text.find_control_chars(ch)), hex(code)
        assert (multi.fullmatch(ch) is None) == bool(text.find_control_chars(ch, multiline=True)), hex(code)


@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\u202e"])
def test_household_cleaners_refuse_control_characters_in_forms_api_and_census(bad: str) -> None:
    # rules.clean serves forms and the API, judge_for the census columns: the same message.
    _values, errors = rules.clean(rules.MEMBER_FIELDS, {"name": f"张{bad}三"}, partial=True)
    assert [e.text() for e in errors] == [f"姓名：{text.control_char_problem(f'张{bad}三')}"]
    name = next(f for f in rules.MEMBER_FIELDS if f.name == "name")
    assert judge_for(name)(f"张{bad}三") == (False, text.control_char_problem(f"张{bad}三"))


def test_remarks_keep_line_breaks_and_names_do_not() -> None:
    values, errors = rules.clean(rules.HOUSEHOLD_FIELDS, {"remark": "一\n二\t三"}, partial=True)
    assert (values, errors) == ({"remark": "一\n二\t三"}, [])
    _values, errors = rules.clean(rules.HOUSEHOLD_FIELDS, {"head_name": "张\n三"}, partial=True)
    assert [e.field for e in errors] == ["head_name"]
