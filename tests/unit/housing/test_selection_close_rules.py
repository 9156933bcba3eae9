"""Pure rules of closing a selection event (结束选房), re-calling after an undo and the
confirmation number (选房确认单)."""

from __future__ import annotations

import pytest

from anju.errors import Conflict, ValidationFailed
from anju.housing import rules


def test_closing_with_everyone_served_needs_no_reason_and_cleans_one() -> None:
    assert rules.check_close(unserved=0, current_has_flats=False, reason="") == ""
    assert rules.check_close(unserved=0, current_has_flats=False, reason="  散会\t 了 ") == "散会 了"


def test_closing_with_unserved_households_needs_a_reason() -> None:
    with pytest.raises(ValidationFailed) as exc:
        rules.check_close(unserved=2, current_has_flats=False, reason=" \n ")
    assert exc.value.message_zh == "还有 2 户未选房（等候或过号），结束选房须填写原因"
    assert (
        rules.check_close(unserved=2, current_has_flats=False, reason="未到场户另行安排")
        == "未到场户另行安排"
    )


def test_a_reason_longer_than_500_characters_is_refused() -> None:
    assert rules.check_close(unserved=1, current_has_flats=False, reason="因" * 500) == "因" * 500
    with pytest.raises(ValidationFailed) as exc:
        rules.check_close(unserved=1, current_has_flats=False, reason="因" * 501)
    assert exc.value.message_zh == "结束原因最多 500 字"


def test_a_current_household_with_flats_but_not_finished_blocks_closing() -> None:
    with pytest.raises(Conflict) as exc:
        rules.check_close(unserved=1, current_has_flats=True, reason="散会")
    assert exc.value.code == "current_not_finished"


def test_only_an_open_event_closes_and_a_done_household_may_wait_again() -> None:
    rules.check_event_transition("open", "closed")
    for status in ("planned", "closed"):
        with pytest.raises(Conflict):
            rules.check_event_transition(status, "closed")
    rules.check_entry_transition("done", "waiting")
    with pytest.raises(Conflict):
        rules.check_entry_transition("done", "current")


def test_the_confirmation_number_is_stable_per_event_and_position() -> None:
    assert rules.confirmation_no("P1", 3, 12) == "P1-XF3-0012"
    assert rules.confirmation_no("P1", 3, 12) == rules.confirmation_no("P1", 3, 12)
    assert rules.confirmation_no("P1", 3, 10012) == "P1-XF3-10012"
