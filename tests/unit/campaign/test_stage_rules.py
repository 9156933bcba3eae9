"""Pure rules of the campaign tab: the stage table, who may record which stage, stage dates, step statuses."""

from __future__ import annotations

from datetime import date

import pytest

from anju.campaign import rules
from anju.household import rules as household_rules

# Written out independently: the campaign's stages in order, and the moves the household file allows
# (skipping 已评估 or 协商中 is allowed: some households sign straight after the survey).
STAGES = ["pending", "surveyed", "valued", "negotiating", "signed", "vacated", "demolished"]
MOVES = {
    ("pending", "surveyed"),
    ("surveyed", "valued"),
    ("surveyed", "negotiating"),
    ("surveyed", "signed"),
    ("valued", "negotiating"),
    ("valued", "signed"),
    ("negotiating", "signed"),
    ("signed", "vacated"),
    ("vacated", "demolished"),
}


def test_the_seven_stages_in_campaign_order() -> None:
    assert list(rules.STAGES) == STAGES
    assert [household_rules.STATUSES[s] for s in rules.STAGES] == [
        "未入户",
        "已调查",
        "已评估",
        "协商中",
        "已签约",
        "已腾空",
        "已拆除",
    ]
    assert rules.OPEN_STAGES == ("pending", "surveyed", "valued", "negotiating")
    assert sorted(rules.DATED_STAGES) == ["demolished", "signed", "vacated"]


def test_the_transition_table_between_campaign_stages() -> None:
    table = household_rules.STATUS_TRANSITIONS
    got = {(a, b) for a in STAGES for b in table[a] if b in STAGES}
    assert got == MOVES
    # only moves forward: no stage leads back to an earlier one
    assert all(STAGES.index(b) > STAGES.index(a) for a, b in got)


@pytest.mark.parametrize("stage", STAGES)
def test_who_may_record_a_stage(stage: str) -> None:
    team = rules.stage_move_refusal(stage, household_rules.STATUSES[stage], manage=False)
    office = rules.stage_move_refusal(stage, household_rules.STATUSES[stage], manage=True)
    assert office is None
    if stage in ("signed", "vacated", "demolished"):
        assert (
            team == f"“{household_rules.STATUSES[stage]}”须由征迁办经办人登记，专班只能将阶段推进到“协商中”"
        )
    else:
        assert team is None


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("signed", "“已签约”不能手动推进，须在“签约台”登记（在签约台签订协议时自动记录）"),
        ("vacated", "“已腾空”不能手动推进，须在“腾空验收”登记（登记腾空验收时自动记录）"),
        ("demolished", "“已拆除”不能手动推进，须在“拆除登记”登记（填写拆除登记时自动记录）"),
        *((s, None) for s in ("pending", "surveyed", "valued", "negotiating")),
    ],
)
def test_recorded_stages_are_refused_to_a_manual_move(stage: str, expected: str | None) -> None:
    assert rules.manual_move_refusal(stage, household_rules.STATUSES[stage]) == expected
    assert (stage in rules.RECORDED_STAGES) is (expected is not None)


@pytest.mark.parametrize(
    ("on", "previous", "expected"),
    [
        (date(2026, 12, 4), None, None),
        (date(2026, 12, 5), None, "不能晚于今天（2026-12-04）"),
        (date(2026, 12, 1), date(2026, 12, 1), None),  # the same day as the previous stage is fine
        (date(2026, 11, 30), date(2026, 12, 1), "不能早于上一阶段“协商中”的日期（2026-12-01）"),
    ],
)
def test_stage_dates(on: date, previous: date | None, expected: str | None) -> None:
    got = rules.stage_date_problem(on, today=date(2026, 12, 4), previous_on=previous, previous_label="协商中")
    assert got == expected


@pytest.mark.parametrize(
    ("current", "target", "ok"),
    [
        ("todo", "doing", True),
        ("todo", "done", True),
        ("doing", "done", True),
        ("done", "todo", True),
        ("dropped", "todo", True),
        ("dropped", "done", False),
        ("dropped", "doing", False),
        ("todo", "finished", False),
    ],
)
def test_step_status_moves(current: str, target: str, ok: bool) -> None:
    assert rules.may_set_step_status(current, target) is ok
