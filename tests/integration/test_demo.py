"""Demo data: counts, statuses, special groups, logins, audit chain; the ``anju demo`` command."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

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
from anju.core.dates import to_shanghai
from anju.demo import generator
from anju.grid import rules as grid_rules
from anju.grid import service as grid_service
from anju.household.models import Building, Homestead, Household, Member
from anju.identity import service as identity_service
from anju.identity.models import HouseholdAssignment, Team, User
from anju.identity.rules import Role, password_problem
from anju.payment.models import Payment, PaymentBatch
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

    # one login per role (plus a second team member), every one works
    assert {login.role for login in result.logins} == {r.value for r in Role}
    assert len(result.logins) == len(Role) + 1
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


def _check_demo_grids(db: Session) -> None:
    """11 communities, 82 grids with boundaries that do not overlap (each grid's centroid lies in
    that grid only), a grid worker for every grid, buildings with leaders, mediation cases."""
    communities = grid_service.list_communities(db)
    cards = grid_service.grid_cards(db)
    assert (len(communities), len(cards)) == (11, 82)
    assert sorted({len([c for c in cards if c.community.id == k.id]) for k in communities}) == [7, 8]
    assert all(c.grid.boundary for c in cards)
    for card in cards:
        shape = grid_rules.parse_boundary(card.grid.boundary)
        centre = (Decimal(card.grid.centroid_lng), Decimal(card.grid.centroid_lat))
        inside = [
            o.grid.code
            for o in cards
            if grid_rules.shape_contains(grid_rules.parse_boundary(o.grid.boundary), centre)
        ]
        assert inside == [card.grid.code], (card.grid.code, inside)
        assert grid_rules.shape_contains(shape, centre)
        assert card.worker_name and 3 <= len(card.buildings) <= 6
        assert card.grid.households == card.building_households > 0
    workers = {c.grid.worker_user_id for c in cards}
    assert len(workers) == 11
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
