"""Pure rules of clearance and of the payment schedule's states (no database)."""

from __future__ import annotations

from datetime import date

import pytest

from anju.agreement import rules
from anju.errors import Conflict

TODAY = date(2024, 7, 15)


def test_checklist_problems_name_the_unknown_items_and_the_odd_values() -> None:
    assert rules.checklist_problem({"emptied": True, "keys_handed": False}, rules.VACATE_CHECKLIST) is None
    assert rules.checklist_problem({}, rules.VACATE_CHECKLIST) is None
    problem = rules.checklist_problem({"emptied": True, "painted": True}, rules.VACATE_CHECKLIST)
    assert problem is not None and problem.startswith("未知的检查项：painted（可选：")
    assert (
        rules.checklist_problem({"emptied": "yes"}, rules.VACATE_CHECKLIST)
        == "检查项应为是/否：室内物品已搬空"
    )
    assert (
        rules.checklist_problem({"emptied": 1}, rules.VACATE_CHECKLIST) == "检查项应为是/否：室内物品已搬空"
    )


def test_a_stored_checklist_holds_every_item_in_order() -> None:
    assert rules.full_checklist({"keys_handed": True}, rules.TENANT_CHECKLIST) == {
        "rent_settled": False,
        "license_moved": False,
        "emptied": False,
        "keys_handed": True,
    }


@pytest.mark.parametrize(
    ("on", "after", "expected"),
    [
        (TODAY, date(2024, 4, 20), None),
        (date(2024, 4, 20), date(2024, 4, 20), None),  # the same day as the signing is fine
        (date(2024, 7, 16), None, "不能晚于今天（2024-07-15）"),
        (date(2024, 4, 19), date(2024, 4, 20), "不能早于签约日期（2024-04-20）"),
    ],
)
def test_event_dates(on: date, after: date | None, expected: str | None) -> None:
    assert rules.event_date_problem(on, today=TODAY, after=after, after_label="签约日期") == expected


def test_only_items_that_grow_make_a_reward() -> None:
    signed = {"house_value": 800_000_00, "vacate_reward": 0, "sign_reward": 26_550_00, "moving": 2_000_00}
    recomputed = {
        "house_value": 800_000_00,
        "vacate_reward": 5_000_00,
        "sign_reward": 20_000_00,
        "new_item": 100,
    }
    assert rules.item_increases(signed, recomputed) == {"vacate_reward": 5_000_00, "new_item": 100}
    assert rules.item_increases(signed, signed) == {}


def test_instalment_transitions() -> None:
    rules.check_instalment_transition("scheduled", "due")
    rules.check_instalment_transition("due", "scheduled")  # its event (a vacating) was voided
    rules.check_instalment_transition("due", "paid")
    for current, target in (
        ("paid", "due"),
        ("cancelled", "due"),
        ("scheduled", "paid"),
        ("paid", "cancelled"),
    ):
        with pytest.raises(Conflict) as caught:
            rules.check_instalment_transition(current, target)
        assert caught.value.code == "illegal_transition"
    with pytest.raises(Conflict) as caught:
        rules.check_instalment_transition("paid", "scheduled")
    assert caught.value.message_zh == "付款计划的状态不能从“已付清”变为“未到期”"
