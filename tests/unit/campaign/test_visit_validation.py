"""Visit input rules without a database: times, idempotency keys, and the checks of one visit."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from anju.campaign.schemas import VisitCreate
from anju.campaign.service import visits
from anju.errors import ValidationFailed

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)  # Friday 10:00 office time


def clean(**over: Any) -> Any:
    body: dict[str, Any] = {"visited_at": "2026-12-04T09:00", "duration_min": 30, "attitude": "support"}
    body.update(over)
    return visits._clean(VisitCreate.model_validate(body), NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-04T19:30", datetime(2026, 12, 4, 11, 30, tzinfo=UTC)),  # no offset: office time
        ("2026-12-04T19:30:59.9", datetime(2026, 12, 4, 11, 30, 59, tzinfo=UTC)),  # whole seconds
        ("2026-12-04T11:30:00Z", datetime(2026, 12, 4, 11, 30, tzinfo=UTC)),
        ("2026-12-04T12:30:00+01:00", datetime(2026, 12, 4, 11, 30, tzinfo=UTC)),
        (" 2026-12-04 19:30 ", datetime(2026, 12, 4, 11, 30, tzinfo=UTC)),
        ("", None),
        ("昨天晚上", None),
        ("2026-13-01T10:00", None),
        ("0001-01-01T00:00:00+05:00", None),  # before year 1 in UTC: refused, not an OverflowError
        ("2026-12-04T19:30:00" + "0" * 40, None),  # longer than any date-time
    ],
)
def test_parse_visit_time(text: str, expected: datetime | None) -> None:
    assert visits.parse_visit_time(text) == expected


@pytest.mark.parametrize("key", ["a", "550e8400-e29b-41d4-a716-446655440000", "dev:1.2_x", "k" * 64])
def test_good_idempotency_keys(key: str) -> None:
    assert visits.check_idempotency_key(key) == key


@pytest.mark.parametrize("key", ["", "k" * 65, "has space", "斜杠/", "a\nb"])
def test_bad_idempotency_keys_are_a_chinese_422(key: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        visits.check_idempotency_key(key)
    assert exc.value.details == [
        {
            "field": "Idempotency-Key",
            "message": "幂等键（Idempotency-Key）应为 1 至 64 位字母、数字或 _ - : . 字符",
        }
    ]


def test_a_good_visit_is_normalised() -> None:
    c = clean(
        persuaders=[
            {"name": " 张国庆 ", "relation": "亲属"},
            {"name": "李卫东", "relation": "comrade", "note": "老战友"},
        ],
        concern_tags=["其他", "area", "面积认定", "standard"],
        attitude="抵触",
        place="  堂屋 ",
        next_due_on="2026-12-04",
    )
    assert c.errors == []
    assert c.visited_at == datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
    assert c.persuaders == [("张国庆", "relative", ""), ("李卫东", "comrade", "老战友")]
    assert c.tags == ["area", "standard", "other"]  # codes, once each, in the vocabulary's order
    assert (c.attitude, c.place, c.next_due_on) == ("resist", "堂屋", date(2026, 12, 4))


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"visited_at": "2026-12-04T10:11"}, "visited_at", "走访时间不能晚于当前时间"),
        ({"visited_at": "1999-12-31T10:00"}, "visited_at", "走访时间不能早于 2000 年"),
        ({"duration_min": 0}, "duration_min", "走访时长应为 1 至 1440 分钟"),
        ({"duration_min": 1441}, "duration_min", "走访时长应为 1 至 1440 分钟"),
        ({"attitude": ""}, "attitude", "请选择态度：支持、观望 或 抵触"),
        ({"attitude": "neutral"}, "attitude", "请选择态度：支持、观望 或 抵触"),
        ({"next_due_on": "2026-12-03"}, "next_due_on", "下一步期限不能早于走访当天"),
        (
            {"persuaders": [{"name": "", "relation": "friend"}]},
            "persuaders.1.name",
            "第 1 位外请说客：请填写姓名",
        ),
    ],
)
def test_each_rule_names_its_field(over: dict[str, Any], field: str, message: str) -> None:
    assert clean(**over).errors == [{"field": field, "message": message}]


def test_edges_that_pass() -> None:
    # ten minutes ahead of the server's clock (a phone's clock runs fast), a day long, thirty persuaders
    c = clean(
        visited_at="2026-12-04T10:10",
        duration_min=1440,
        persuaders=[{"name": f"人{i}", "relation": "friend"} for i in range(30)],
    )
    assert c.errors == []
    assert clean(duration_min=1).errors == []
    too_many = clean(persuaders=[{"name": "甲", "relation": "friend"}] * 31)
    assert too_many.errors == [{"field": "persuaders", "message": "外请说客至多 30 位（现有 31 位）"}]
