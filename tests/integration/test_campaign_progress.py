"""Campaign progress, daily series, big screen and forecast against a real database (the standard
world with a stage history): counts as of a date, block roll-up, team rankings, the reverse
schedule, records, concern tags, a team member's scope, and the cache following writes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from anju.campaign import service as campaign_service
from anju.campaign.models import StageChange
from anju.household.models import Household
from anju.identity.rules import ScopeKind
from anju.identity.service import DataScope
from anju.project.models import Project
from tests.factories import ACTOR, World, build_world

ALL = DataScope.everything()
TODAY = date(2026, 12, 4)


def move(db: Session, hid: int, to: str, on: date) -> None:
    campaign_service.move_stage(
        db, actor=ACTOR, scope=ALL, household_id=hid, to_stage=to, on=on, today=TODAY, manage=True
    )


@pytest.fixture
def w(db: Session) -> World:
    """build_world's 6 households (E: 1, 3, 5; W: 2, 4, 6; team: 1-4; member: 1-2) with a history:
    1 negotiating 11-25, signed 12-01, vacated 12-03; 2 valued 11-22, signed 12-02; 3 signed 12-02;
    4 negotiating 11-28; 5 signed 12-04; 6 stays surveyed. Registered 11-01, launched 11-20."""
    world = build_world(db, households=6)
    db.execute(
        update(Household)
        .where(Household.project_id == world.project_id)
        .values(created_at=datetime(2026, 11, 1, 2, 0, tzinfo=UTC))
    )
    db.execute(
        update(Project)
        .where(Project.id == world.project_id)
        .values(launched_on=date(2026, 11, 20), deadline_on=date(2026, 12, 10), target_sign_rate=100)
    )
    h = world.household_ids
    move(db, h[0], "negotiating", date(2026, 11, 25))
    move(db, h[0], "signed", date(2026, 12, 1))
    move(db, h[0], "vacated", date(2026, 12, 3))
    move(db, h[1], "valued", date(2026, 11, 22))
    move(db, h[1], "signed", date(2026, 12, 2))
    move(db, h[2], "signed", date(2026, 12, 2))
    move(db, h[3], "negotiating", date(2026, 11, 28))
    move(db, h[4], "signed", date(2026, 12, 4))
    # Household 5's signing was recorded on its day (09:30 office time); the others were entered later.
    db.execute(
        update(StageChange)
        .where(StageChange.household_id == h[4], StageChange.to_stage == "signed")
        .values(at=datetime(2026, 12, 4, 1, 30, tzinfo=UTC))
    )
    db.flush()
    return world


def test_totals_as_of_dates_count_stages_cumulatively(db: Session, w: World) -> None:
    p = campaign_service.progress(db, scope=ALL, project_id=w.project_id, on=date(2026, 12, 2))
    t = p.totals
    assert (t.households, t.surveyed, t.valued, t.negotiating, t.signed, t.vacated, t.paid) == (
        6,
        6,
        4,
        4,
        3,
        0,
        0,
    )
    assert (t.signed_on_day, t.signed_day_before, t.change, t.signed_last7) == (2, 1, 1, 3)
    assert t.rate("signed") == Decimal("0.5000") and t.rate("valued") == Decimal("0.6667")
    assert p.days_since_launch == 13
    early = campaign_service.progress(db, scope=ALL, project_id=w.project_id, on=date(2026, 11, 24))
    assert (early.totals.surveyed, early.totals.valued, early.totals.negotiating, early.totals.signed) == (
        6,
        1,
        0,
        0,
    )
    before = campaign_service.progress(db, scope=ALL, project_id=w.project_id, on=date(2026, 10, 31))
    assert before.totals.surveyed == 0 and before.days_since_launch == 0
    late = campaign_service.progress(db, scope=ALL, project_id=w.project_id, on=TODAY)
    assert (late.totals.signed, late.totals.vacated, late.totals.signed_on_day) == (4, 1, 1)


def test_blocks_teams_rankings_schedule_and_records(db: Session, w: World) -> None:
    p = campaign_service.progress(db, scope=ALL, project_id=w.project_id, on=TODAY)
    by_code = {b.code: b for b in p.blocks}
    east, west = by_code["E"], by_code["W"]
    assert (east.counts.households, east.counts.signed, west.counts.signed) == (3, 3, 1)
    # East reached 100% with household 5 on 12-04: campaign day 15 (11-20 is day 1)
    assert east.completed_on == date(2026, 12, 4) and east.days_to_complete == 15
    assert east.last_signed_at is not None and west.completed_on is None
    assert [b.code for b in p.completed_blocks] == ["E"]
    assert (
        p.last_signed_at is not None
        and p.last_signed_at.strftime("%Y-%m-%d %H:%M %z") == "2026-12-04 09:30 +0800"
    )
    assert east.last_signed_at == p.last_signed_at
    (team,) = p.teams
    assert (team.name, team.counts.households, team.counts.signed, team.rank_signed) == ("第一专班", 4, 3, 1)
    assert (p.unassigned.households, p.unassigned.signed) == (2, 1)
    assert [t.name for t in p.rankings["squads"]] == ["第一专班"]
    s = p.schedule
    # 6 to sign, 4 signed; 6 days after 12-04 up to 12-10; 4 signed in the last 7 days
    assert (s.target, s.remaining, s.days_left) == (6, 2, 6)
    assert (
        s.required_per_day == Decimal("0.33") and s.actual_per_day == Decimal("0.57") and s.on_track is True
    )
    assert s.planned == 4  # 15 of 21 days of the line from 0 to 6


def test_team_member_sees_only_assigned_households(db: Session, w: World) -> None:
    scope = DataScope(kind=ScopeKind.ASSIGNED, user_id=w.users["team_member"], team_id=w.team_id)
    p = campaign_service.progress(db, scope=scope, project_id=w.project_id, on=TODAY)
    assert (p.totals.households, p.totals.signed, p.totals.vacated) == (2, 2, 1)
    assert p.scope == "assigned"
    assert sum(b.counts.households for b in p.blocks if b.depth == 0) == 2
    screen = campaign_service.big_screen(db, project_id=w.project_id, on=TODAY, scope=scope)
    assert screen["totals"]["households"] == 2
    assert {x["household_id"] for x in screen["latest"]} == set(w.household_ids[:2])
    whole = campaign_service.progress(db, scope=ALL, project_id=w.project_id, on=TODAY)
    assert whole.totals.households == 6  # the member's cached view did not leak into the whole one


def test_daily_series_and_big_screen(db: Session, w: World) -> None:
    s = campaign_service.daily_series(db, scope=ALL, project_id=w.project_id, until=TODAY)
    assert s.start == date(2026, 11, 20) and s.days[-1] == TODAY and len(s.days) == 15
    assert s.series["signed"][-5:] == [0, 1, 3, 3, 4]
    assert s.signed_per_day[-5:] == [0, 1, 2, 0, 1]
    assert s.series["negotiating"][-1] == 5 and s.plan[-1] == 4
    screen = campaign_service.big_screen(db, project_id=w.project_id, on=TODAY)
    assert screen["today"] == {"signed": 1, "day_before": 0, "change": 1}
    assert [b["name"] for b in screen["blocks"]] == ["东片区", "西片区"]
    latest = screen["latest"]
    assert latest[0]["household_id"] == w.household_ids[4] and latest[0]["signed_on"] == "2026-12-04"
    assert len(latest) == 4 and latest[0]["head_name"] == "陈**" and latest[0]["time"] == "09:30"
    assert latest[1]["time"] is None  # entered after its signing date: the date is known, the time not
    assert screen["ranking"][0]["name"] == "第一专班"
    assert screen["forecast"]["method"] == "insufficient"  # 4 signatures: too few to fit


def test_cache_follows_a_new_signature(db: Session, w: World) -> None:
    before = campaign_service.progress(db, scope=ALL, project_id=w.project_id, on=TODAY)
    assert before.totals.signed == 4
    move(db, w.household_ids[3], "signed", TODAY)
    db.flush()
    after = campaign_service.progress(db, scope=ALL, project_id=w.project_id, on=TODAY)
    assert after.totals.signed == 5 and after.totals.signed_on_day == 2


def test_stage_timeline_gives_the_signature_time(db: Session, w: World) -> None:
    db.execute(
        update(StageChange)
        .where(StageChange.household_id == w.household_ids[4], StageChange.to_stage == "signed")
        .values(at=datetime(2026, 12, 3, 16, 44, tzinfo=UTC))  # 00:44 on 12-04 office time
    )
    db.execute(
        update(Project)
        .where(Project.id == w.project_id)
        .values(households_version=Project.households_version + 1)
    )
    p = campaign_service.progress(db, scope=ALL, project_id=w.project_id, on=TODAY)
    assert p.last_signed_at is not None and p.last_signed_at.strftime("%m-%d %H:%M") == "12-04 00:44"
    east = next(b for b in p.blocks if b.code == "E")
    assert east.last_signed_at is not None and east.last_signed_at.strftime("%H:%M") == "00:44"


def test_unknown_project_is_not_found(db: Session) -> None:
    from anju.errors import NotFound

    with pytest.raises(NotFound):
        campaign_service.progress(db, scope=ALL, project_id=999_999, on=TODAY)


def test_forecast_of_a_project_and_its_blocks(db: Session) -> None:
    world = build_world(db, households=40, code="P9")
    db.execute(
        update(Project)
        .where(Project.id == world.project_id)
        .values(launched_on=date(2026, 11, 1), deadline_on=date(2026, 12, 31))
    )
    # 28 of 40 signed over the first 20 days, front-loaded; the rest still open on 11-20
    days = [1, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 7, 7, 8, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20]
    for hid, d in zip(world.household_ids, days, strict=False):
        db.execute(
            update(Household)
            .where(Household.id == hid)
            .values(status="signed", sign_on=date.fromordinal(date(2026, 10, 31).toordinal() + d))
        )
    db.execute(
        update(Project)
        .where(Project.id == world.project_id)
        .values(households_version=Project.households_version + 1)
    )
    on = date(2026, 11, 20)
    f = campaign_service.forecast(db, project_id=world.project_id, on=on)
    assert f.origin == date(2026, 11, 1) and f.observed_days == 20
    p = f.project
    assert p.method in ("weibull", "loglogistic") and (p.households, p.signed, p.remaining) == (40, 28, 12)
    assert p.expected is not None and p.low is not None and p.high is not None
    assert on < p.low <= p.expected <= p.high
    assert [b.name for b in f.blocks] == ["东片区", "西片区"]
    assert sum(b.households for b in f.blocks) == 40 and all(b.signed == 14 for b in f.blocks)
    assert f.curve[0][0] == on and f.curve[-1][0] >= p.expected
    again = campaign_service.forecast(db, project_id=world.project_id, on=on)
    assert again.to_dict() == f.to_dict()  # deterministic
    d = f.to_dict()
    assert d["project"]["date"] == p.expected.isoformat() and d["bootstrap"] == 200
    # before the fifth signature there is too little to fit
    early = campaign_service.forecast(db, project_id=world.project_id, on=date(2026, 11, 2))
    assert early.project.method == "insufficient" and early.project.expected is None
    assert "数据不足" in early.project.note
