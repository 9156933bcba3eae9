"""Columns read as numbers (anju.db.columns) on every database: the day numbers and epoch microseconds
the database computes equal what Python computes from the values the ORM reads, and the household and
assignment columns equal the row-by-row reads they replace."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from anju.db.columns import (
    equals_most,
    fetch_rows,
    forget_scan_decisions,
    in_most,
    microseconds_of,
    utc_microseconds,
)
from anju.household import service as household_service
from anju.household.models import Household
from anju.identity import service as identity_service
from anju.identity.rules import ScopeKind
from anju.identity.service import DataScope
from anju.project import service as project_service
from tests.factories import ACTOR, build_world


def other_project(db: Session, households: int) -> int:
    """A second project with ``households`` households and no block."""
    p = project_service.create_project(db, actor=ACTOR, code="P2", name="另一项目", kind="state_land")
    for i in range(households):
        household_service.create_household(
            db,
            actor=ACTOR,
            project_id=p.id,
            data={"code": f"Q{i + 1:04d}", "head_name": "周明", "address": f"河西路{i + 1}号"},
        )
    return int(p.id)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DATES = [date(1900, 3, 1), date(2000, 2, 29), date(2026, 12, 31), date(9999, 12, 31), None, date(1970, 1, 1)]
CREATED = [
    datetime(2026, 11, 30, 16, 0, 0, tzinfo=UTC),  # 00:00 on 12-01 office time
    datetime(2026, 11, 30, 15, 59, 59, 999999, tzinfo=UTC),
    datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC),
    datetime(2026, 2, 28, 23, 59, 59, 5, tzinfo=UTC),
    datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC),
    datetime(2001, 9, 9, 1, 46, 40, 123456, tzinfo=UTC),
]


def test_household_columns_equal_the_rows(db: Session) -> None:
    world = build_world(db, households=6)
    for i, hid in enumerate(world.household_ids):
        db.execute(
            update(Household)
            .where(Household.id == hid)
            .values(
                status=("pending", "signed", "archived", "vacated", "negotiating", "demolished")[i],
                sign_on=DATES[i],
                vacate_on=DATES[(i + 1) % 6],
                demolish_on=DATES[(i + 2) % 6],
                paid_on=DATES[(i + 3) % 6],
                created_at=CREATED[i],
                block_id=None if i == 5 else Household.block_id,
            )
        )
    db.flush()
    rows = household_service.campaign_facts(db, project_id=world.project_id)
    cols = household_service.household_columns(db, project_id=world.project_id)
    assert len(cols) == 6 and [int(v) for v in cols.ids] == [r[0] for r in rows] == sorted(
        world.household_ids
    )
    assert [int(v) for v in cols.block_ids] == [r[1] or 0 for r in rows] and cols.block_ids[5] == 0
    assert [cols.statuses[int(c)] for c in cols.status] == [r[2] for r in rows]
    for k, name in enumerate(("sign_on", "vacate_on", "demolish_on", "paid_on"), start=3):
        assert [int(v) for v in getattr(cols, name)] == [r[k].toordinal() if r[k] else 0 for r in rows], name
    # the office date (UTC+8) of created_at: 16:00 UTC is the next day, a microsecond before it not
    assert [int(v) for v in cols.created_on] == [(r[7] + timedelta(hours=8)).date().toordinal() for r in rows]
    assert (
        cols.created_on[0] == date(2026, 12, 1).toordinal()
        and cols.created_on[1] == date(2026, 11, 30).toordinal()
    )
    # instants as microseconds since 1970, as exact as the database keeps them (MariaDB: whole seconds)
    stmt = (
        select(Household.id, utc_microseconds(db, Household.created_at))
        .where(Household.project_id == world.project_id)
        .order_by(Household.id)
    )
    got = microseconds_of([r[1] for r in fetch_rows(db, stmt)])
    assert [int(v) for v in got] == [(r[7] - EPOCH) // timedelta(microseconds=1) for r in rows]
    assert got[0] == 1_796_054_400_000_000  # 2026-11-30 16:00 UTC
    # a scope keeps only its households
    scope = DataScope(kind=ScopeKind.TEAM, user_id=None, team_id=world.team_id)
    scoped = household_service.household_columns(db, project_id=world.project_id, scope=scope)
    assert [int(v) for v in scoped.ids] == [
        r[0] for r in household_service.campaign_facts(db, project_id=world.project_id, scope=scope)
    ]
    assert len(scoped) == 4  # the team's households 1-4
    # another project's households are not read, and an unknown project has none
    other = other_project(db, 2)
    again = household_service.household_columns(db, project_id=world.project_id)
    assert [int(v) for v in again.ids] == [int(v) for v in cols.ids]
    assert len(household_service.household_columns(db, project_id=other)) == 2
    assert len(household_service.household_columns(db, project_id=999_999)) == 0


def test_assignment_columns_equal_the_map(db: Session) -> None:
    world = build_world(db, households=6)
    households, teams = identity_service.assignment_columns(db, project_id=world.project_id)
    want = identity_service.assignment_map(db, project_id=world.project_id)
    assert {int(h): int(t) for h, t in zip(households, teams, strict=True)} == {
        h: t for h, (t, _u) in want.items()
    }
    assert [int(h) for h in households] == sorted(want) and len(want) == 4


def test_equals_most_reads_the_same_rows(db: Session) -> None:
    world = build_world(db, households=3)
    other_project(db, 1)
    forget_scan_decisions()  # decided in another test on this database
    cond = equals_most(db, Household.project_id, world.project_id)
    if db.get_bind().dialect.name == "sqlite":  # 3 of 4 households: scanned, the index left alone
        assert "+" in str(cond.compile(db.get_bind()))
    else:
        assert "+" not in str(cond.compile(db.get_bind()))
    got = sorted(db.scalars(Household.__table__.select().with_only_columns(Household.id).where(cond)))
    assert got == sorted(world.household_ids)
    # kept: 1 of 4 households more would not change it back within minutes
    assert str(equals_most(db, Household.project_id, world.project_id).compile(db.get_bind())) == str(
        cond.compile(db.get_bind())
    )
    small = equals_most(db, Household.project_id, world.project_id, share=0.9)
    assert "+" not in str(small.compile(db.get_bind()))
    both = in_most(db, Household.project_id, [world.project_id, world.project_id + 1])
    assert sorted(db.scalars(select(Household.id).where(both))) == sorted(db.scalars(select(Household.id)))
    assert db.scalars(select(Household.id).where(in_most(db, Household.project_id, []))).all() == []
