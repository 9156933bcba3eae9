"""Pure rules of the time bank: transfers, balances, the yearly cap, the two-reviewer approval,
publicity, masking."""

from __future__ import annotations

from datetime import date

import pytest

from anju.errors import Conflict, PermissionDenied, ValidationFailed
from anju.time_bank import rules
from anju.time_bank.api import SettingKey


def test_legs_must_sum_to_zero_with_two_non_zero_legs() -> None:
    rules.check_legs([(1, -5), (2, 5)])
    rules.check_legs([(1, -5), (2, 3), (3, 2)])
    for legs in ([(1, -5)], [(1, -5), (2, 4)], [(1, 0), (2, 0)]):
        with pytest.raises(ValidationFailed):
            rules.check_legs(legs)


def test_only_the_issuer_may_go_negative() -> None:
    rules.check_balances({1: ("bank", -100), 2: ("volunteer", 0)})
    for kind in ("volunteer", "family", "team", "pool"):
        with pytest.raises(Conflict) as err:
            rules.check_balances({7: (kind, -1)})
        assert err.value.code == "insufficient_balance"


def test_units_never_mix() -> None:
    rules.check_same_unit(["points", "points"])
    with pytest.raises(ValidationFailed):
        rules.check_same_unit(["points", "minutes"])


@pytest.mark.parametrize(
    ("credited", "minutes", "cap", "expected"),
    [(0, 120, 150, (120, 0)), (120, 120, 150, (30, 90)), (150, 60, 150, (0, 60)), (200, 60, 150, (0, 60))],
)
def test_yearly_cap_sends_the_excess_to_the_pool(
    credited: int, minutes: int, cap: int, expected: tuple[int, int]
) -> None:
    assert rules.split_for_cap(credited_this_year=credited, minutes=minutes, cap=cap) == expected


def test_redemption_needs_minimum_then_price() -> None:
    rules.check_redeemable(balance=600, price=600, minimum=600)
    with pytest.raises(Conflict) as err:
        rules.check_redeemable(balance=599, price=60, minimum=600)
    assert err.value.code == "below_minimum"
    with pytest.raises(Conflict) as err:
        rules.check_redeemable(balance=700, price=800, minimum=600)
    assert err.value.code == "insufficient_balance"


def test_two_different_reviewers_neither_the_volunteer() -> None:
    none: frozenset[int] = frozenset()
    kw = {"volunteer_user_ids": none}
    assert (
        rules.check_review(status="pending", reviewer_id=1, first_reviewer_id=None, **kw) == "first_approved"
    )
    assert rules.check_review(status="first_approved", reviewer_id=2, first_reviewer_id=1, **kw) == "credited"
    with pytest.raises(Conflict) as err:
        rules.check_review(status="first_approved", reviewer_id=1, first_reviewer_id=1, **kw)
    assert err.value.code == "same_reviewer"
    for status in ("credited", "rejected"):
        with pytest.raises(Conflict) as err:
            rules.check_review(status=status, reviewer_id=3, first_reviewer_id=1, **kw)
        assert err.value.code == "claim_closed"
    with pytest.raises(PermissionDenied):
        rules.check_review(
            status="pending", reviewer_id=9, volunteer_user_ids=frozenset({9}), first_reviewer_id=None
        )


def test_worked_minutes_are_capped_by_the_offer() -> None:
    assert rules.worked_minutes(checked_in_minute=0, checked_out_minute=90, offered=120) == 90
    assert rules.worked_minutes(checked_in_minute=0, checked_out_minute=200, offered=120) == 120
    with pytest.raises(Conflict):
        rules.worked_minutes(checked_in_minute=10, checked_out_minute=10, offered=120)


def test_publicity_and_counting() -> None:
    assert rules.publicity_end(date(2026, 6, 1), 7) == date(2026, 6, 7)
    assert rules.publicity_end(date(2026, 6, 1), 0) == date(2026, 6, 1)
    assert not rules.award_counts(status="publicity", ends_on=date(2026, 6, 7), today=date(2026, 6, 7))
    assert rules.award_counts(status="publicity", ends_on=date(2026, 6, 7), today=date(2026, 6, 8))
    assert not rules.award_counts(status="objected", ends_on=date(2026, 6, 7), today=date(2026, 7, 1))


def test_public_names_and_hours_text() -> None:
    assert rules.public_name("王秀兰", 1) == "王**"
    assert rules.public_name("王秀兰", 0) == "王秀兰"
    assert [rules.hours_text(m) for m in (0, 30, 90, 125, -90)] == ["0.0", "0.5", "1.5", "2.0", "-1.5"]


def test_settings_are_checked_and_the_api_names_every_key() -> None:
    assert set(SettingKey.__args__) == set(rules.DEFAULT_SETTINGS)
    rules.check_setting("name_mask", 0)
    with pytest.raises(ValidationFailed):
        rules.check_setting("nope", 1)
    with pytest.raises(Conflict):
        rules.check_setting("name_mask", 2)
    with pytest.raises(Conflict):
        rules.check_setting("yearly_cap_minutes", -1)
