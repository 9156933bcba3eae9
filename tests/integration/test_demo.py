"""Demo data: counts, statuses, special groups, logins, audit chain; the ``anju demo`` command."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from anju.agreement import service as agreement_service
from anju.agreement.models import Agreement, AgreementChange, AgreementSnapshot, VacateRecord
from anju.audit import service as audit_service
from anju.campaign.models import (
    HouseholdCampaign,
    HouseholdPlan,
    StageChange,
    Visit,
    VisitConcern,
    VisitPersuader,
)
from anju.compensation import service as compensation_service
from anju.core.actor import Actor
from anju.core.dates import to_shanghai
from anju.demo import generator
from anju.demo.housing import DemoHousing
from anju.grid import rules as grid_rules
from anju.grid import service as grid_service
from anju.household.models import Building, Homestead, Household, Member
from anju.housing import service as housing_service
from anju.housing.models import Estate, Flat, FlatType, Selection, SelectionEvent, SelectionOrderEntry
from anju.identity import service as identity_service
from anju.identity.models import HouseholdAssignment, Team, User
from anju.identity.rules import Role, password_problem
from anju.payment.models import Payment, PaymentBatch
from anju.policy import swap as swap_engine
from anju.project.models import Block, Project
from anju.reporting.models import DispatchReport


def test_small_demo(db: Session) -> None:
    result = generator.build_demo(db, scale=0.05, today=TODAY)
    projects = {p.code: p for p in db.scalars(select(Project))}
    assert set(projects) >= {"QX-2024-01", "QX-2024-02"}
    rural, shanty = projects["QX-2024-01"], projects["QX-2024-02"]
    assert (rural.kind, shanty.kind) == ("collective_land", "shantytown")
    n_rural = db.scalar(select(func.count()).select_from(Household).where(Household.project_id == rural.id))
    n_shanty = db.scalar(select(func.count()).select_from(Household).where(Household.project_id == shanty.id))
    assert (n_rural, n_shanty) == (
        round(612 * 0.05) + round(548 * 0.05) + round(583 * 0.05) + round(557 * 0.05),
        8,
    )
    assert result.households == n_rural + n_shanty
    villages = db.scalars(select(Block).where(Block.project_id == rural.id, Block.level == "village")).all()
    assert len(villages) == 4
    groups = db.scalar(
        select(func.count()).select_from(Block).where(Block.project_id == rural.id, Block.level == "group")
    )
    assert 12 <= (groups or 0) <= 20
    # every rural household has a homestead, none of the shantytown ones
    homesteads = db.scalar(
        select(func.count()).select_from(Homestead).join(Household).where(Household.project_id == rural.id)
    )
    assert homesteads == n_rural
    members = db.scalar(
        select(func.count())
        .select_from(Member)
        .join(Household)
        .where(Household.project_id.in_([rural.id, shanty.id]))
    )
    assert 2.5 <= (members or 0) / result.households <= 4.5
    areas = db.scalars(
        select(Building.legal_area).join(Household).where(Household.project_id == rural.id)
    ).all()
    assert all(30 <= a <= 300 for a in areas)
    statuses = set(db.scalars(select(Household.status).where(Household.project_id == rural.id)))
    assert (
        {"negotiating", "signed"}
        <= statuses
        <= {"surveyed", "valued", "negotiating", "signed", "vacated", "demolished"}
    )
    signed = db.scalars(
        select(Household).where(Household.status.in_(["signed", "vacated", "demolished"]))
    ).all()
    assert signed and all(h.sign_on is not None for h in signed)
    assert all(h.vacate_on is not None for h in signed if h.status in ("vacated", "demolished"))

    # one login per role (plus a second team member and a second time-bank reviewer), every one works
    assert {login.role for login in result.logins} == {r.value for r in Role}
    assert len(result.logins) == len(Role) + 2
    for login in result.logins:
        assert password_problem(login.password) is None
        user = identity_service.authenticate(db, username=login.username, password=login.password)
        assert user.role == login.role
    member = db.scalar(select(User).where(User.username == "zuyuan"))
    assert member is not None and member.team_id is not None
    mine = db.scalar(
        select(func.count())
        .select_from(HouseholdAssignment)
        .where(HouseholdAssignment.user_id == member.id, HouseholdAssignment.active.is_(True))
    )
    assert mine == 13  # half of the 27 塘桥村 households (the demo team's village), capped at 30
    assert audit_service.verify(db).ok
    _campaign_is_populated(db, rural.id, shanty.id, TODAY)
    _signing_is_populated(db, rural.id, shanty.id)
    _housing_is_populated(db, rural.id, shanty.id, result.housing)
    _group_facts_kept_by_the_campaign_are_the_stored_ones(db, rural.id)
    _time_bank_is_populated(db)
    _check_demo_requests(db, result)


def _time_bank_is_populated(db: Session) -> None:
    """Volunteers with credited hours, a review queue, redemptions, awards in 公示; the ledger balances."""
    from anju.time_bank import service as tb
    from anju.time_bank.models import LedgerEntry

    assert len(tb.volunteers(db)) >= 12
    assert tb.claims(db)  # hours waiting for a first or second review
    assert tb.awards(db, statuses=("publicity",)) and tb.awards(db, statuses=("objected",))
    assert tb.awards(db, statuses=("counted",))
    assert db.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0))) == 0
    kinds = set(db.scalars(select(LedgerEntry.kind)))
    assert {"credit", "redeem", "gift", "donate", "award"} <= kinds
    for acc in tb.accounts(db):
        assert tb.ledger_sum(db, account_id=acc.id) == acc.balance
        assert acc.balance >= 0 or acc.owner_kind == "bank"


TODAY = date(2026, 12, 5)


def _signing_is_populated(db: Session, rural_id: int, shanty_id: int) -> None:
    """Every signed household has its agreement, sign order numbers follow the signing moments
    without a gap, vacated ones have an acceptance, payment batches show every state, and the
    old-town project has conditional agreements."""
    for pid in (rural_id, shanty_id):
        signed = set(
            db.scalars(
                select(Household.id).where(
                    Household.project_id == pid, Household.status.in_(["signed", "vacated", "demolished"])
                )
            )
        )
        live = db.execute(
            select(Agreement.household_id, Agreement.sign_no, Agreement.sign_no_issued_at)
            .where(Agreement.project_id == pid, Agreement.status.in_(["pending", "effective"]))
            .order_by(Agreement.sign_no)
        ).all()
        assert {r.household_id for r in live} == signed
        numbers = db.scalars(select(Agreement.sign_no).where(Agreement.project_id == pid)).all()
        assert sorted(numbers) == list(range(1, len(numbers) + 1))
        moments = [r.sign_no_issued_at for r in live]
        assert moments == sorted(moments)  # 先签先得: the order numbers follow the signing moments
        vacated = set(
            db.scalars(
                select(Household.id).where(
                    Household.project_id == pid, Household.status.in_(["vacated", "demolished"])
                )
            )
        )
        recorded = set(
            db.scalars(
                select(VacateRecord.household_id).where(
                    VacateRecord.project_id == pid, VacateRecord.voided_at.is_(None)
                )
            )
        )
        assert recorded == vacated
    states = set(db.scalars(select(PaymentBatch.status).where(PaymentBatch.project_id == rural_id)))
    assert {"closed", "exported", "approved", "submitted", "rejected", "cancelled", "draft"} <= states
    assert db.scalar(select(func.count()).select_from(Payment).where(Payment.status == "paid"))
    # the leader's inbox has requests waiting; an approved amendment wrote revision 2; flags are raised
    statuses = db.scalars(select(AgreementChange.status).where(AgreementChange.project_id == rural_id)).all()
    assert sorted(statuses) == ["approved", "requested", "requested"]
    assert db.scalar(select(func.max(AgreementSnapshot.revision))) == 2
    assert (
        db.scalar(select(func.count()).select_from(Agreement).where(Agreement.amendment_flag.is_(True))) >= 2
    )
    shanty_conditions = set(
        db.scalars(select(Agreement.condition_kind).where(Agreement.project_id == shanty_id))
    )
    assert shanty_conditions == {"block_rate"}


def _campaign_is_populated(db: Session, rural_id: int, shanty_id: int, today: date) -> None:
    """Every campaign page has data: nested teams, visits with persuaders and concerns, stage timeline,
    hard cases (most with plans), parcels for every household, issued dispatch reports; 李家村 is done."""
    for pid in (rural_id, shanty_id):
        kinds = set(db.scalars(select(Team.kind).where(Team.project_id == pid)))
        assert kinds == {"group", "squad"}
        households = db.scalar(select(func.count()).select_from(Household).where(Household.project_id == pid))
        unplaced = db.scalar(
            select(func.count())
            .select_from(Household)
            .where(Household.project_id == pid, Household.parcel_id.is_(None))
        )
        assert households and unplaced == 0
        assert db.scalar(select(func.count()).select_from(Visit).where(Visit.project_id == pid)) >= households
        assert db.scalar(select(func.count()).select_from(StageChange).where(StageChange.project_id == pid))
        issued = db.scalars(
            select(DispatchReport.report_on).where(
                DispatchReport.project_id == pid, DispatchReport.status == "issued"
            )
        ).all()
        assert sorted(issued) == [today - timedelta(days=d) for d in (3, 2, 1)]
    assert db.scalar(select(func.count()).select_from(VisitPersuader)) > 0
    assert db.scalar(select(func.count()).select_from(VisitConcern)) > 0
    hard = db.scalars(select(HouseholdCampaign.household_id).where(HouseholdCampaign.difficulty > 0)).all()
    plans = db.scalars(select(HouseholdPlan.household_id)).all()
    # a dozen at full scale (8 + 5), fewer when few are left unsigned; some still lack a plan (an alert)
    assert 5 <= len(hard) <= 13 and 0 < len(set(plans) & set(hard)) < len(hard)
    lj = db.scalars(
        select(Household.sign_on).where(Household.project_id == rural_id, Household.code.like("LJ%"))
    ).all()
    assert lj and all(d is not None for d in lj)  # 李家村 signed 100%
    last = db.scalar(
        select(StageChange.at)
        .join(Household, Household.id == StageChange.household_id)
        .where(Household.code.like("LJ%"), StageChange.to_stage == "signed")
        .order_by(StageChange.at.desc())
        .limit(1)
    )
    assert last is not None and to_shanghai(last).strftime("%H:%M") == "00:44"
    _check_demo_grids(db)


def _check_demo_requests(db: Session, result: generator.DemoResult) -> None:
    """The request catalogue, bumen acting for every department, a year of requests (40 at this
    scale) through the services: closed ones rated, some still open, merges, the 2026 calendar."""
    from anju.service_request import service as request_service
    from anju.service_request.models import DepartmentMember, RequestEvent, ServiceRequest

    counts = request_service.status_counts(db)
    assert sum(counts.values()) == db.scalar(select(func.count()).select_from(ServiceRequest)) >= 40
    assert counts == result.requests.by_status
    assert (
        counts["closed"] > 0
        and sum(counts[s] for s in ("submitted", "dispatched", "in_progress", "published")) > 0
    )
    assert counts["merged"] == result.requests.detours.get("merged", 0) > 0
    assert len(request_service.active_categories(db)) == 12
    bumen = identity_service.get_user_by_username(db, "bumen")
    assert (
        db.scalar(
            select(func.count()).select_from(DepartmentMember).where(DepartmentMember.user_id == bumen.id)
        )
        == 8
    )
    rated = db.scalars(select(ServiceRequest.rating).where(ServiceRequest.status == "closed")).all()
    assert rated and all(r is None or 1 <= r <= 5 for r in rated)
    # every request's history starts with its submission
    firsts = db.execute(
        select(RequestEvent.request_id, func.min(RequestEvent.id)).group_by(RequestEvent.request_id)
    ).all()
    assert {db.get(RequestEvent, e).action for _, e in firsts} == {"submit"}
    cal = request_service.work_calendar.calendar(db)
    assert date(2026, 10, 1) in cal.holidays and date(2026, 10, 10) in cal.workdays


def _check_demo_grids(db: Session) -> None:
    """11 communities, 82 grids with boundaries that do not overlap (each grid's centroid lies in
    that grid only), a grid worker for every grid, buildings with leaders, mediation cases."""
    communities = grid_service.list_communities(db)
    cards = grid_service.grid_cards(db)
    assert (len(communities), len(cards)) == (11, 82)
    assert sorted({len([c for c in cards if c.community.id == k.id]) for k in communities}) == [7, 8]
    assert all(c.grid.boundary for c in cards)
    shapes = {c.grid.code: grid_rules.parse_boundary(c.grid.boundary) for c in cards}
    for card in cards:
        centre = (Decimal(card.grid.centroid_lng), Decimal(card.grid.centroid_lat))
        inside = [code for code, shape in shapes.items() if grid_rules.shape_contains(shape, centre)]
        assert inside == [card.grid.code], (card.grid.code, inside)
        assert card.worker_name and 3 <= len(card.buildings) <= 6
        assert card.grid.households == card.building_households > 0
    assert len({c.grid.worker_user_id for c in cards}) == 11
    leaders = [b for c in cards for b in c.buildings]
    assert all(b.leader_name for b in leaders) and 0 < sum(b.leader_party_member for b in leaders) < len(
        leaders
    )
    cases = grid_service.list_cases(db)
    assert (len(cases), sum(c.status == "closed" for c in cases)) == (7, 5)
    assert {c.outcome for c in cases} == {"", "success", "partial", "failed", "transferred"}


def test_demo_is_reproducible(db: Session) -> None:
    import random

    a = generator.census_rows(random.Random(1), 10, prefix="X", blocks=["A"])
    b = generator.census_rows(random.Random(1), 10, prefix="X", blocks=["A"])
    assert a == b


@pytest.mark.usefixtures("settings_env")
def test_demo_command_creates_once_then_only_prints_logins(settings_env: Path) -> None:
    from anju.cli import app

    runner = CliRunner()
    first = runner.invoke(app, ["demo", "--scale", "0.01"])
    assert first.exit_code == 0, first.output
    assert "演示数据已生成" in first.output
    assert "Jingban@Anju2024" in first.output
    assert (settings_env / "anju.db").exists()
    second = runner.invoke(app, ["demo"])
    assert second.exit_code == 0, second.output
    assert "数据库中已有数据" in second.output and "演示数据已生成" not in second.output
    assert "zhihui" in second.output
    again = runner.invoke(app, ["demo", "--reset", "--scale", "0.01"])
    assert again.exit_code == 0, again.output
    assert "已清空数据库" in again.output and "演示数据已生成" in again.output


def _housing_is_populated(db: Session, rural_id: int, shanty_id: int, made: DemoHousing | None) -> None:
    """Two estates of the rural project (one late) with flats of five types, a few frozen or
    reserved; a lottery event whose seed matches its commitment and whose order verifies, open,
    half its households done (each selection within the household's entitlement), two skipped to
    the end, one selection undone by the commander, the next household current; no flat taken twice."""
    assert made is not None
    estates = {e.code: e for e in db.scalars(select(Estate).where(Estate.project_id == rural_id))}
    assert sorted(estates) == ["QXYY", "TQJY"]
    late, on_time = estates["TQJY"], estates["QXYY"]
    # the late estate delivered at last (55 days late), most of its chosen flats' keys handed over
    assert late.planned_delivery_on == TODAY - timedelta(days=75)
    assert late.actual_delivery_on == TODAY - timedelta(days=20) and on_time.actual_delivery_on is None
    handed = db.scalars(select(Selection).where(Selection.handed_over_on.is_not(None))).all()
    assert len(handed) == made.handovers > 0
    assert all(TODAY - timedelta(days=20) < s.handed_over_on <= TODAY for s in handed if s.handed_over_on)
    assert {s.flat_id for s in handed} <= {
        f.id for f in db.scalars(select(Flat).where(Flat.estate_id == late.id))
    }
    moved_back = [
        hid
        for hid in {s.household_id for s in handed}
        if housing_service.household_event_dates(
            db, scope=identity_service.DataScope.everything(), household_id=hid
        )[-1].on
        is not None
    ]
    assert moved_back, "no household shows its move-back date"
    assert on_time.planned_delivery_on == TODAY + timedelta(days=300)
    swap_households = db.scalar(
        select(func.count())
        .select_from(Agreement)
        .where(Agreement.project_id == rural_id, Agreement.option == "swap", Agreement.status == "effective")
    )
    n = swap_households or 0
    assert n == made.households == 31
    # 1.8 flats a household, at least 48: one building of 18 floors x 2 units x 2 flats, one of 11
    flats = db.scalars(select(Flat).where(Flat.estate_id.in_([on_time.id, late.id]))).all()
    assert len(flats) == 72 + 44
    assert {f.estate_id for f in flats} == {on_time.id, late.id}
    types = db.execute(
        select(Estate.code, FlatType.code)
        .join(FlatType, FlatType.estate_id == Estate.id)
        .where(Estate.project_id == rural_id)
    ).all()
    assert sorted(types) == [("QXYY", t) for t in "BCDE"] + [("TQJY", t) for t in "ABCD"]
    # every flat type has its name and a plan image that reads back as a PNG
    for t in db.scalars(select(FlatType).join(Estate, FlatType.estate_id == Estate.id)).all():
        assert t.name and t.plan_sha256 and t.plan_filename == f"户型{t.code}.png"
        _t, image, media_type = housing_service.flat_type_plan(db, flat_type_id=t.id)
        assert media_type == "image/png" and image.startswith(b"\x89PNG")
    assert all(f.inner_area + f.shared_area == f.gross_area for f in flats)
    statuses = {s: sum(1 for f in flats if f.status == s) for s in {f.status for f in flats}}
    assert statuses == {
        "available": 116 - 3 - 1 - made.selections,
        "frozen": 3,
        "reserved": 1,
        "selected": 27,
    }
    assert all(f.status_reason for f in flats if f.status in ("frozen", "reserved"))

    # the shantytown project's estate (one building of 12 floors) and its event in preparation
    (shanty_estate,) = db.scalars(select(Estate).where(Estate.project_id == shanty_id)).all()
    assert (shanty_estate.code, shanty_estate.planned_delivery_on) == ("DBXY", TODAY + timedelta(days=540))
    shanty_flats = db.scalar(select(func.count()).select_from(Flat).where(Flat.estate_id == shanty_estate.id))
    assert shanty_flats == 48 and made.flats == 72 + 44 + 48
    planned = db.get(SelectionEvent, made.planned_event_id)
    assert planned is not None
    assert (planned.project_id, planned.status, planned.order_kind, planned.order_fixed_at) == (
        shanty_id,
        "planned",
        "lottery",
        None,
    )
    # the seed will be a future public draw: announced with the roster, no hash to commit
    shanty_swaps = db.scalars(
        select(Agreement.household_id).where(
            Agreement.project_id == shanty_id,
            Agreement.option == "swap",
            Agreement.status.in_(["pending", "effective"]),
        )
    ).all()
    roster = housing_service.event_order(db, event_id=planned.id).lines
    assert sorted(r.household_id for r in roster) == sorted(shanty_swaps)
    assert (planned.seed_published_at is not None) == bool(shanty_swaps)
    assert planned.seed_committed_hash is None and planned.seed is None
    assert [e.id for e in housing_service.event_estates(db, event_id=planned.id)] == [shanty_estate.id]

    (event,) = db.scalars(select(SelectionEvent).where(SelectionEvent.project_id == rural_id)).all()
    assert (event.id, event.project_id, event.status, event.order_kind) == (
        made.event_id,
        rural_id,
        "open",
        "lottery",
    )
    assert event.seed and hashlib.sha256(event.seed.encode()).hexdigest() == event.seed_committed_hash
    assert event.seed_published_at is not None and event.order_fixed_at is not None
    assert event.seed_published_at <= event.order_fixed_at
    assert housing_service.verify_event_order(db, event_id=event.id).ok
    entries = db.scalars(select(SelectionOrderEntry).where(SelectionOrderEntry.event_id == event.id)).all()
    by_status: dict[str, list[SelectionOrderEntry]] = {}
    for e in entries:
        by_status.setdefault(e.status, []).append(e)
    assert {k: len(v) for k, v in by_status.items()} == {
        "done": n // 2,
        "skipped": 2,
        "current": 1,
        "waiting": n - n // 2 - 2 - 1,
    }
    assert (made.finished, made.skipped) == (n // 2, 2)
    (current,) = by_status["current"]
    assert event.current_position == current.position
    # the two absent households are called again after the last one
    last = max(e.call_order for e in entries if e.status != "skipped")
    assert sorted(e.call_order for e in by_status["skipped"]) == [last + 1, last + 2]
    assert sorted(e.position for e in by_status["skipped"]) == [e.position for e in by_status["skipped"]]

    selections = db.scalars(select(Selection).where(Selection.event_id == event.id)).all()
    confirmed = [s for s in selections if s.status == "confirmed"]
    (undone,) = [s for s in selections if s.status == "undone"]
    assert len(confirmed) == made.selections == 27
    assert {s.household_id for s in confirmed} == {e.household_id for e in by_status["done"]}
    commander = db.scalar(select(User).where(User.username == "zhihui"))
    assert commander is not None and undone.undone_by == commander.id and undone.undo_reason
    assert undone.flat_lock is None and undone.household_id in {s.household_id for s in confirmed}
    # no flat double-booked: one live selection per flat, and the flats say who holds them
    assert len({s.flat_id for s in confirmed}) == len(confirmed)
    selected = {f.id: f for f in flats if f.status == "selected"}
    assert {s.flat_id: s.household_id for s in confirmed} == {i: f.household_id for i, f in selected.items()}
    assert {s.id for s in confirmed} == {f.selection_id for f in selected.values()}
    assert next(f for f in flats if f.id == undone.flat_id).status in ("available", "selected")
    for e in by_status["done"]:
        chosen = [selected[s.flat_id] for s in confirmed if s.household_id == e.household_id]
        ent = housing_service.household_entitlement(db, household_id=e.household_id)
        engine_flats = [swap_engine.Flat(f.code, f.gross_area) for f in chosen]
        assert swap_engine.violations(ent, engine_flats, complete=True) == []
    assert audit_service.verify(db).ok


def _group_facts_kept_by_the_campaign_are_the_stored_ones(db: Session, rural_id: int) -> None:
    """The demo signs with group facts it keeps up to date (compensation_service.group_with_event)
    instead of reading them per signing: after one more signing and one more vacating, the kept
    facts equal the ones read from the database."""
    manager = db.scalar(select(User).where(User.username == "jingban"))
    assert manager is not None
    actor = Actor(user_id=manager.id, username=manager.username, display_name="", role=manager.role)
    everything = identity_service.DataScope.everything()
    unsigned = db.scalars(
        select(Household).where(Household.project_id == rural_id, Household.status == "negotiating")
    ).first()
    assert unsigned is not None and unsigned.block_id is not None
    block = db.get(Block, unsigned.block_id)
    assert block is not None
    before = compensation_service.group_facts(db, rural_id)
    on = TODAY - timedelta(days=1)
    agreement_service.sign(
        db,
        actor=actor,
        scope=everything,
        household_id=unsigned.id,
        option="cash",
        sign_on=on,
        today=TODAY,
        group=before,
    )
    signed = compensation_service.group_facts(db, rural_id)
    assert signed != before
    weight = compensation_service.household_weight(db, project_id=rural_id, household_id=unsigned.id)
    assert (
        compensation_service.group_with_event(before, block_code=block.code, sign_on=on, weight=weight)
        == signed
    )
    agreement_service.record_vacating(
        db,
        actor=actor,
        scope=everything,
        household_id=unsigned.id,
        vacated_on=TODAY,
        checklist={
            k: True
            for k in (
                "utilities_settled",
                "registration_moved",
                "emptied",
                "doors_windows_intact",
                "keys_handed",
            )
        },
        keys_handed=1,
        inspector="钱验收",
        note="",
        today=TODAY,
    )
    vacated = compensation_service.group_facts(db, rural_id)
    assert vacated != signed
    assert (
        compensation_service.group_with_event(signed, block_code=block.code, vacate_on=TODAY, weight=weight)
        == vacated
    )
