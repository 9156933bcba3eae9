"""Pure rules of the dispatch report: formatting, the snapshot digest, the date and freeze checks."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from anju.errors import Conflict, ValidationFailed
from anju.reporting import rules


def numbers() -> dict[str, Any]:
    return {
        "format": 1,
        "project": {"id": 1, "code": "P1", "name": "青溪路地块征收项目"},
        "report_on": "2026-12-04",
        "previous_on": "2026-12-03",
        "headline": {
            "households": 163,
            "target": 163,
            "signed": 102,
            "sign_rate": "0.6258",
            "signed_on_day": 4,
            "signed_prev_day": 7,
            "vacated": 40,
            "vacate_rate": "0.2454",
            "demolished": 0,
            "demolish_rate": "0.0000",
            "paid": 80,
            "pay_rate": "0.4908",
            "remaining": 61,
            "days_since_launch": 19,
            "days_left": 11,
            "deadline_on": "2026-12-15",
            "need_per_day": "5.55",
            "on_track": False,
            "actual_per_day": None,
        },
        "blocks": [
            {
                "name": "东片区",
                "depth": 0,
                "households": 100,
                "signed": 70,
                "sign_rate": "0.7000",
                "signed_on_day": 3,
                "vacated": 30,
                "demolished": 0,
                "paid": 60,
            },
            {
                "name": "空片区",
                "depth": 1,
                "households": 0,
                "signed": 0,
                "sign_rate": None,
                "signed_on_day": 0,
                "vacated": 0,
                "demolished": 0,
                "paid": 0,
            },
        ],
        "teams": [
            {
                "rank": 1,
                "name": "第一专班",
                "level": "专班",
                "households": 40,
                "signed": 30,
                "sign_rate": "0.7500",
                "signed_on_day": 2,
                "signed_last7": 11,
            },
        ],
        "stalled": {
            "days": 7,
            "total": 25,
            "items": [
                {
                    "household_id": 3,
                    "code": "H0003",
                    "head_name": "王志强",
                    "team": "第一专班",
                    "person": "张三",
                    "days": 9,
                },
                {
                    "household_id": 4,
                    "code": "H0004",
                    "head_name": "刘桂兰",
                    "team": "",
                    "person": "",
                    "days": None,
                },
            ],
        },
        "overdue": {
            "total": 1,
            "items": [
                {
                    "household_id": 3,
                    "code": "H0003",
                    "head_name": "王志强",
                    "team": "第一专班",
                    "person": "张三",
                    "step": "下一步：再谈安置房面积",
                    "due_on": "2026-12-01",
                    "days": 3,
                },
            ],
        },
        "concerns": [
            {"tag": "area", "label": "面积认定", "visits": 12, "households": 8},
            {"tag": "other", "label": "其他", "visits": 0, "households": 0},
        ],
    }


def test_rates_print_as_percentages_with_two_places() -> None:
    assert rules.rate_text("0.6258") == "62.58%"
    assert rules.rate_text("1.0000") == "100.00%"
    assert rules.rate_text("0") == "0.00%"
    assert rules.rate_text(None) == "—"
    assert rules.rate_4("0.62575") == "0.6258"  # half-even of the quantize context: ...75 -> ...8
    assert rules.rate_4(None) is None


def test_change_and_per_day_texts() -> None:
    assert [rules.change_text(n) for n in (3, -2, 0)] == ["+3", "-2", "持平"]
    assert rules.per_day_text("5.5") == "5.50"
    assert rules.per_day_text(None) == "—"
    assert rules.int_text(None) == "—" and rules.int_text(7) == "7"


def test_document_prints_every_number_of_the_snapshot() -> None:
    doc = rules.document(
        numbers(), title="通报", commentary="第一段。\n\n  第二段。  \n", status="issued", issued_by="指挥长"
    )
    hl = doc["headline"]
    assert (hl["households"], hl["signed"], hl["sign_rate"]) == ("163", "102", "62.58%")
    assert (hl["signed_on_day"], hl["signed_prev_day"], hl["signed_change"]) == ("4", "7", "-3")
    assert (hl["vacate_rate"], hl["demolish_rate"], hl["pay_rate"]) == ("24.54%", "0.00%", "49.08%")
    assert (hl["need_per_day"], hl["actual_per_day"], hl["days_since_launch"]) == ("5.55", "—", "19")
    assert (hl["on_track"], hl["planned"]) == ("未达到", "—")
    assert doc["blocks"][1]["sign_rate"] == "—"
    assert doc["teams"] == [
        {"rank": "1", "name": "第一专班", "level": "专班", "households": "40", "signed": "30", "sign_rate": "75.00%",
         "signed_on_day": "2", "signed_last7": "11"},
    ]  # fmt: skip
    assert [s["days"] for s in doc["stalled"]["items"]] == ["9 天", "从未走访"]
    assert doc["stalled"]["items"][1]["team"] == "—"
    assert (doc["stalled"]["total"], doc["stalled"]["shown"]) == ("25", "2")
    assert doc["overdue"]["items"][0]["days"] == "3 天"
    assert doc["concerns"] == [
        {"label": "面积认定", "visits": "12", "households": "8"}
    ]  # unused tags left out
    assert doc["blocks"][1]["label"] == "　空片区"
    assert doc["records"] == {"last_signed_at": "—", "completed_blocks": []}
    assert doc["commentary"] == ["第一段。", "第二段。"]
    assert (doc["status_label"], doc["report_on_text"]) == ("已签发", "2026年12月4日")


def test_digest_is_of_canonical_json_and_sees_every_change() -> None:
    a = numbers()
    b = copy.deepcopy(a)
    assert rules.digest(a) == rules.digest(dict(reversed(list(b.items()))))  # key order does not matter
    b["headline"]["signed"] = 103
    assert rules.digest(a) != rules.digest(b)
    assert rules.canonical(a).startswith(b'{"blocks":[{')
    assert len(rules.digest(a)) == 64


def test_report_date_may_not_lie_in_the_future() -> None:
    rules.check_report_on(date(2026, 12, 5), date(2026, 12, 5))
    with pytest.raises(Conflict) as exc:
        rules.check_report_on(date(2026, 12, 6), date(2026, 12, 5))
    assert (exc.value.code, exc.value.http_status) == ("report_date", 409)
    assert (
        exc.value.message_zh == "通报日期 2026-12-06 晚于今天（2026-12-05），只能为今天或以前的日期编写通报"
    )


def test_an_issued_report_is_frozen() -> None:
    rules.check_editable("draft", date(2026, 12, 4))
    with pytest.raises(Conflict) as exc:
        rules.check_editable("issued", date(2026, 12, 4))
    assert exc.value.code == "report_issued" and exc.value.http_status == 409
    assert exc.value.message_zh == "2026-12-04 的调度通报已签发，不能再修改或重复签发"


def test_commentary_and_title_checks_name_the_field() -> None:
    rules.check_commentary("第一段\n第二段\t缩进", "标题")
    with pytest.raises(ValidationFailed) as exc:
        rules.check_commentary("x" * (rules.MAX_COMMENTARY + 1), "标\n题")
    assert [d["field"] for d in exc.value.details] == ["commentary", "title"]
    assert exc.value.details[0]["message"] == "指挥长讲评不能超过5000个字（现有5001个字）"
    assert exc.value.details[1]["message"].startswith("通报标题含有不可见的控制字符")


def test_default_title() -> None:
    assert rules.default_title("青溪路项目", date(2026, 1, 9)) == "青溪路项目每日调度通报（2026年1月9日）"
