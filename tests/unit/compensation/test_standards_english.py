"""The compensation standards table (补偿标准一览) builds its words as catalog messages: Chinese as
before, English for an English reader (issue #13 item 4: with English chosen, page content is English)."""

from __future__ import annotations

from anju import i18n
from anju.compensation import standards
from anju.policy import load_policy

POLICY = """\
policy:
  name: 标准一览英文测试
  effective_on: 2025-04-01
  rounding: {mode: half_up, unit: yuan}
parameters:
  family_rate:
    label: 人口补助
    unit: 元
    by: 人
    bands:
      - {upto: 2, value: 1000}
      - {after: 2, upto: 4, value: 1500}
      - {after: 4, value: 2000}
  move_rate: {label: 搬迁费, unit: 元, dated: [{from: 2025-01-01, value: 10}, {from: 2025-07-01, value: 12}]}
clocks:
  start: {label: 本片区签约期开始, date: 2025-04-01}
tiers:
  sign_reward:
    label: 签约奖励
    event: sign_on
    clock: start
    count: clock_day_is_day_1
    unit: 元
    windows:
      - {upto: 30, value: 300}
      - {after: 30, upto: 45, value: 150}
      - {after: 45, value: 50}
    otherwise: 0
  vacate_reward:
    label: 腾空奖励
    event: vacate_on
    clock: start
    count: next_day_is_day_1
    unit: 元
    windows:
      - {upto: 15, value: 500, label: 15日内（方案原文）}
    otherwise: 0
options: {cash: 货币补偿}
items:
  - {id: move, label: 搬迁费, formula: move_rate + sign_reward + vacate_reward + family_rate(3人)}
"""


def _table() -> dict[str, object]:
    return standards.standards_table(load_policy(POLICY))


def _en(text: object) -> str:
    return i18n.t(str(text) if not isinstance(text, str) else text, "en")


def test_the_chinese_is_unchanged() -> None:
    std = _table()
    assert std["rounding"] == "四舍五入，精确到元"
    tier = std["tiers"][0]  # type: ignore[index]
    assert tier["basis"] == "按签约日期，自“本片区签约期开始”起计（当日计为第1日）"
    assert [w for w, _v in tier["windows"]] == ["第30日以内（含）", "超过第30日、不超过第45日", "超过第45日"]
    bands = next(p for p in std["params"] if p.label == "人口补助")  # type: ignore[attr-defined]
    assert [r[0] for r in bands.rows] == ["不超过 2 人", "超过 2 人、不超过 4 人", "超过 4 人"]
    dated = next(p for p in std["params"] if p.label == "搬迁费")  # type: ignore[attr-defined]
    assert dated.since == ["2025-01-01起：10", "2025-07-01起：12"]


def test_the_words_read_in_english() -> None:
    std = _table()
    assert _en(std["rounding"]) == "round half up, to the yuan"
    tier = std["tiers"][0]  # type: ignore[index]
    assert (
        _en(tier["basis"]) == 'by the signing date, counted from "本片区签约期开始" (the day itself is day 1)'
    )
    assert [_en(w) for w, _v in tier["windows"]] == [
        "within day 30 (inclusive)",
        "after day 30, up to day 45",
        "after day 45",
    ]
    vacate = std["tiers"][1]  # type: ignore[index]
    assert _en(vacate["basis"]).startswith("by the date the house is vacated")
    assert vacate["windows"] == [("15日内（方案原文）", "500")]  # the plan's own label, as written
    bands = next(p for p in std["params"] if p.label == "人口补助")  # type: ignore[attr-defined]
    assert [_en(r[0]) for r in bands.rows] == ["up to 2 人", "over 2 人, up to 4 人", "over 4 人"]
    dated = next(p for p in std["params"] if p.label == "搬迁费")  # type: ignore[attr-defined]
    assert [_en(s) for s in dated.since] == ["from 2025-01-01: 10", "from 2025-07-01: 12"]


def test_every_rounding_and_count_has_english() -> None:
    for mode in standards.ROUNDING_LABELS:
        for unit in standards.ROUNDING_TEXTS:
            text = _en(standards.rounding_text(mode, unit))
            assert text.isascii(), text
    for event in standards.BASIS_TEXTS:
        for count in standards.COUNT_LABELS:
            assert _en(standards.tier_basis(event, "start", count)).isascii()
