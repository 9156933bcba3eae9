"""Pure parts of campaign progress: rates, shared ranks, the reverse schedule, team rankings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from anju.campaign import service as campaign_service
from anju.campaign.service.progress import Counts, TeamProgress, competition_ranks, rankings


def test_rate_has_four_places_half_up_and_zero_without_households() -> None:
    assert campaign_service.rate(1, 3) == Decimal("0.3333")
    assert campaign_service.rate(2, 3) == Decimal("0.6667")
    assert campaign_service.rate(1, 8) == Decimal("0.1250")
    assert campaign_service.rate(1, 16000) == Decimal("0.0001")  # 0.0000625 rounds half up
    assert campaign_service.rate(0, 0) == Decimal("0.0000")
    assert str(campaign_service.rate(5, 5)) == "1.0000"


def test_ties_share_a_rank_and_the_next_rank_is_skipped() -> None:
    assert competition_ranks([10, 7, 10, 3, 7]) == [1, 3, 1, 5, 3]
    assert competition_ranks([]) == []
    assert competition_ranks([0, 0]) == [1, 1]


def _team(tid: int, name: str, households: int, signed: int, last7: int, kind: str = "squad") -> TeamProgress:
    return TeamProgress(
        tid, name, kind, None, Counts(households=households, signed=signed, signed_last7=last7)
    )


def test_rankings_by_signed_rate_and_speed_per_level() -> None:
    teams = [
        _team(1, "一组", 30, 10, 4),
        _team(2, "二组", 15, 5, 4),  # same rate as 一组 (1/3, exactly)
        _team(3, "三组", 10, 10, 1),
        _team(4, "东大组", 80, 25, 9, kind="group"),
        TeamProgress(None, "未分配", "", None, Counts(households=5, signed=5)),
    ]
    r = rankings(teams)
    assert list(r) == ["groups", "squads"]
    assert [(t.name, t.rank_signed) for t in r["groups"]] == [("东大组", 1)]
    squads = {t.name: (t.rank_signed, t.rank_rate, t.rank_speed) for t in r["squads"]}
    assert squads == {"一组": (1, 2, 1), "三组": (1, 1, 3), "二组": (3, 2, 1)}
    assert [t.name for t in r["squads"]] == ["三组", "一组", "二组"]  # by signed rank, then rate rank


def test_reverse_schedule_conventions() -> None:
    s = campaign_service.reverse_schedule(
        target=100, signed=40, signed_last7=21, on=date(2026, 12, 4), deadline_on=date(2026, 12, 10)
    )
    # 60 to go over the 6 days after 12-04 up to and including 12-10; the last 7 days gave 3 a day
    assert (s.remaining, s.days_left, s.required_per_day, s.actual_per_day) == (
        60,
        6,
        Decimal("10.00"),
        Decimal("3.00"),
    )
    assert s.on_track is False and s.overdue is False
    d = s.to_dict()
    assert d["required_per_day"] == "10.00" and d["required_per_day_whole"] == 10
    on_deadline = campaign_service.reverse_schedule(
        target=100, signed=90, signed_last7=7, on=date(2026, 12, 10), deadline_on=date(2026, 12, 10)
    )
    assert on_deadline.days_left == 0 and on_deadline.required_per_day is None and on_deadline.overdue is True
    done = campaign_service.reverse_schedule(
        target=100, signed=100, signed_last7=0, on=date(2026, 12, 12), deadline_on=date(2026, 12, 10)
    )
    assert done.remaining == 0 and done.on_track is True and done.overdue is False
    third = campaign_service.reverse_schedule(
        target=10, signed=0, signed_last7=0, on=date(2026, 12, 1), deadline_on=date(2026, 12, 4)
    )
    assert third.required_per_day == Decimal("3.33") and third.to_dict()["required_per_day_whole"] == 4
    none = campaign_service.reverse_schedule(
        target=10, signed=3, signed_last7=3, on=date(2026, 12, 1), deadline_on=None
    )
    assert none.days_left is None and none.required_per_day is None and none.on_track is None


def test_counts_dict_has_rates_as_strings_and_the_day_change() -> None:
    c = Counts(households=8, surveyed=8, signed=3, signed_on_day=2, signed_day_before=3)
    d = c.to_dict()
    assert d["rates"]["signed"] == "0.3750" and d["rates"]["surveyed"] == "1.0000" and d["change"] == -1
