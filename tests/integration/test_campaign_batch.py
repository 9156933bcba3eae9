"""Visits and stage moves in batches (campaign_service.record_visits / move_stages) against a real
database: the same rows, campaign summary, audit entries and events as one at a time, and the same
refusals, naming the item, with nothing written."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit.models import AuditRecord
from anju.campaign import service as campaign_service
from anju.campaign.models import HouseholdCampaign, StageChange, Visit, VisitConcern, VisitPersuader
from anju.campaign.schemas import VisitCreate
from anju.db import events
from anju.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from anju.household.models import Household
from anju.identity.rules import ScopeKind
from anju.identity.service import DataScope
from tests.factories import ACTOR, World, build_world

ALL = DataScope.everything()
NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)  # Friday 10:00 office time
TODAY = date(2026, 12, 4)


def visit(**over: Any) -> VisitCreate:
    body: dict[str, Any] = {
        "visited_at": "2026-12-03T19:30",
        "duration_min": 45,
        "place": "堂屋",
        "staff": "测试team_member",
        "persuaders": [
            {"name": "张国庆", "relation": "relative", "note": "堂兄"},
            {"name": "李卫东", "relation": "战友"},
        ],
        "concern_tags": ["area", "补偿标准"],
        "concern_text": "阁楼面积",
        "attitude": "wait",
        "outcome": "再算一次账",
        "next_step": "复核面积",
        "next_due_on": "2026-12-06",
    }
    body.update(over)
    return VisitCreate.model_validate(body)


@pytest.fixture
def w(db: Session) -> World:
    return build_world(db, households=6)


def items(w: World) -> list[campaign_service.VisitInput]:
    """Visits of households 1-3: two of household 1 (the later one synced first), one without
    persuaders or concerns, and a key repeated with the same content (a retried sync)."""
    h = w.household_ids
    return [
        campaign_service.VisitInput(h[0], visit(visited_at="2026-12-03T19:30"), "k-1"),
        campaign_service.VisitInput(h[0], visit(visited_at="2026-12-02T09:00", attitude="resist"), "k-2"),
        campaign_service.VisitInput(
            h[1], visit(persuaders=[], concern_tags=[], attitude="support", next_due_on=None), "k-3"
        ),
        campaign_service.VisitInput(h[2], visit(visited_at="2026-12-01T08:00"), "k-4"),
        campaign_service.VisitInput(h[0], visit(visited_at="2026-12-03T19:30"), "k-1"),
    ]


def snapshot(db: Session, project_id: int) -> dict[str, Any]:
    """Everything the visits wrote, by idempotency key instead of ids."""
    key_of = {v.id: v.idempotency_key for v in db.scalars(select(Visit))}
    visits = sorted(
        (
            v.idempotency_key,
            v.household_id,
            v.team_id,
            v.recorded_by,
            v.visited_at,
            v.off_hours,
            v.duration_min,
            v.place,
            v.staff,
            v.concern_text,
            v.attitude,
            v.outcome,
            v.next_step,
            v.next_due_on,
            v.created_at,
        )
        for v in db.scalars(select(Visit))
    )
    persuaders = sorted(
        (key_of[p.visit_id], p.name, p.relation, p.note, p.sort) for p in db.scalars(select(VisitPersuader))
    )
    concerns = sorted((key_of[c.visit_id], c.project_id, c.tag) for c in db.scalars(select(VisitConcern)))
    campaign = sorted(
        (
            r.household_id,
            r.attitude,
            r.previous_attitude,
            r.attitude_changed_at,
            r.last_visit_at,
            r.visit_count,
            r.next_step,
            r.next_due_on,
            r.version,
        )
        for r in db.scalars(select(HouseholdCampaign))
    )
    audit = sorted(
        (r.action, r.entity, key_of[int(r.entity_id)], r.household_id, r.project_id, r.changes, r.reason)
        for r in db.scalars(select(AuditRecord).where(AuditRecord.entity == "visit"))
    )
    return {
        "visits": visits,
        "persuaders": persuaders,
        "concerns": concerns,
        "campaign": campaign,
        "audit": audit,
    }


def test_a_batch_of_visits_writes_what_one_at_a_time_writes(db: Session, w: World) -> None:
    db.info.pop(events._PENDING, None)
    with db.begin_nested() as one_by_one:
        singles = [
            campaign_service.record_visit(
                db,
                actor=ACTOR,
                scope=ALL,
                household_id=i.household_id,
                data=i.data,
                idempotency_key=i.idempotency_key,
                now=NOW,
            )
            for i in items(w)
        ]
        db.flush()
        want = snapshot(db, w.project_id)
        one_by_one.rollback()
    db.info.pop(events._PENDING, None)  # the visits one at a time were undone with their events
    db.expire_all()
    assert [created for _v, created in singles] == [True, True, True, True, False]
    got = campaign_service.record_visits(
        db, actor=ACTOR, scope=ALL, project_id=w.project_id, visits=items(w), now=NOW
    )
    db.flush()
    assert [created for _v, created in got] == [True, True, True, True, False]
    assert got[4][0] is got[0][0] and got[0][0].idempotency_key == "k-1"
    assert snapshot(db, w.project_id) == want
    assert len(want["visits"]) == 4 and len(want["audit"]) == 4
    pending = [e for e in db.info.get(events._PENDING, []) if e.kind == "visit"]
    assert [(e.topic, e.data) for e in pending] == [
        (
            events.project_topic(w.project_id),
            {
                "household_id": v.household_id,
                "visit_id": v.id,
                "team_id": v.team_id,
                "attitude": v.attitude,
                "off_hours": v.off_hours,
            },
        )
        for v, _created in got[:4]
    ]
    # household 1: two visits, the state from the later one (19:30 on 12-03), the count from both
    row = db.scalar(select(HouseholdCampaign).where(HouseholdCampaign.household_id == w.household_ids[0]))
    assert row is not None and (row.visit_count, row.attitude, row.next_due_on) == (
        2,
        "wait",
        date(2026, 12, 6),
    )
    # the same batch again is a retry: stored visits come back, nothing more is written
    before = db.scalar(select(func.count()).select_from(AuditRecord))
    again = campaign_service.record_visits(
        db, actor=ACTOR, scope=ALL, project_id=w.project_id, visits=items(w), now=NOW
    )
    assert [created for _v, created in again] == [False] * 5 and [v.id for v, _ in again] == [
        v.id for v, _ in got
    ]
    assert db.scalar(select(func.count()).select_from(AuditRecord)) == before


def counts(db: Session) -> tuple[int, ...]:
    return tuple(
        db.scalar(select(func.count()).select_from(m)) or 0
        for m in (Visit, VisitPersuader, VisitConcern, HouseholdCampaign, AuditRecord)
    )


def test_a_batch_is_refused_whole_naming_the_item(db: Session, w: World) -> None:
    h = w.household_ids
    campaign_service.record_visit(
        db, actor=ACTOR, scope=ALL, household_id=h[0], data=visit(), idempotency_key="stored", now=NOW
    )
    db.flush()
    before = counts(db)
    good = campaign_service.VisitInput(h[1], visit(), "fresh-1")

    def refused(bad: campaign_service.VisitInput, error: type[Exception], scope: DataScope = ALL) -> Any:
        with pytest.raises(error) as caught:
            campaign_service.record_visits(
                db, actor=ACTOR, scope=scope, project_id=w.project_id, visits=[good, bad], now=NOW
            )
        assert counts(db) == before
        return caught.value

    e = refused(
        campaign_service.VisitInput(h[2], visit(duration_min=0, attitude="?"), "fresh-2"), ValidationFailed
    )
    assert e.message_zh.startswith("第 2 条走访：走访记录有误：") and {d["field"] for d in e.details} == {
        "duration_min",
        "attitude",
    }
    assert all(d["item"] == 2 for d in e.details)
    e = refused(campaign_service.VisitInput(h[2], visit(), "bad key!"), ValidationFailed)
    assert e.details[0]["field"] == "Idempotency-Key" and e.message_zh.startswith("第 2 条走访：")
    # a key used before for other content, or earlier in the batch for other content
    e = refused(campaign_service.VisitInput(h[0], visit(place="别处"), "stored"), Conflict)
    assert e.code == "idempotency_key_reused" and e.message_zh.startswith("第 2 条走访：")
    e = refused(campaign_service.VisitInput(h[2], visit(), "fresh-1"), Conflict)
    assert e.code == "idempotency_key_reused"
    # a household outside the scope, another project's, or no household at all: 404
    member = DataScope(kind=ScopeKind.ASSIGNED, user_id=w.users["team_member"], team_id=w.team_id)
    outside = next(x for x in h if x not in w.assigned)
    e = refused(campaign_service.VisitInput(outside, visit(), "fresh-3"), NotFound, member)
    assert e.message_zh == "第 2 条走访：该户不存在或不在您的权限范围内"
    e = refused(campaign_service.VisitInput(999_999, visit(), "fresh-4"), NotFound)
    assert e.message_zh == "第 2 条走访：该户不存在或不在您的权限范围内"
    assert (
        campaign_service.record_visits(
            db, actor=ACTOR, scope=ALL, project_id=w.project_id, visits=[], now=NOW
        )
        == []
    )


def timeline(db: Session, ids: list[int]) -> list[tuple[Any, ...]]:
    return [
        (c.household_id, c.from_stage, c.to_stage, c.reached_on, c.at, c.by_name, c.note)
        for c in db.scalars(
            select(StageChange)
            .where(StageChange.household_id.in_(ids))
            .order_by(StageChange.household_id, StageChange.at)
        )
    ]


def audit_of(db: Session, ids: list[int]) -> list[tuple[Any, ...]]:
    changes = {c.id: (c.household_id, c.to_stage) for c in db.scalars(select(StageChange))}
    out = []
    for r in db.scalars(select(AuditRecord).where(AuditRecord.household_id.in_(ids))):
        entity = changes[int(r.entity_id)] if r.entity == "stage_change" else r.entity_id
        out.append((r.action, r.entity, entity, r.household_id, r.changes, r.reason))
    return sorted(out, key=repr)


def moves(w: World) -> list[campaign_service.StageMove]:
    h = w.household_ids
    at = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    return [
        campaign_service.StageMove(h[0], "valued", date(2026, 11, 28), recorded_at=at),
        campaign_service.StageMove(h[1], "valued", date(2026, 11, 29), note="评估报告送达", recorded_at=at),
        campaign_service.StageMove(h[0], "negotiating", date(2026, 12, 1), recorded_at=at.replace(hour=4)),
        campaign_service.StageMove(h[0], "signed", date(2026, 12, 2), recorded_at=at.replace(day=2)),
        campaign_service.StageMove(h[1], "valued", None),  # already there: changes nothing
    ]


def test_a_batch_of_stage_moves_writes_what_one_at_a_time_writes(db: Session, w: World) -> None:
    ids = w.household_ids[:2]
    with db.begin_nested() as one_by_one:
        singles = [
            campaign_service.move_stage(
                db,
                actor=ACTOR,
                scope=ALL,
                household_id=m.household_id,
                to_stage=m.to_stage,
                on=m.on,
                note=m.note,
                manage=True,
                today=TODAY,
                recorded_at=m.recorded_at,
            )
            for m in moves(w)
        ]
        db.flush()
        want = (
            timeline(db, ids),
            audit_of(db, ids),
            [
                h.status
                for h in db.scalars(select(Household).where(Household.id.in_(ids)).order_by(Household.id))
            ],
        )
        one_by_one.rollback()
    db.expire_all()
    got = campaign_service.move_stages(db, actor=ACTOR, scope=ALL, moves=moves(w), manage=True, today=TODAY)
    db.flush()
    assert [(c.from_stage, c.to_stage) for c in got] == [(c.from_stage, c.to_stage) for c in singles]
    assert got[4].id is None and got[4].reached_on == date(2026, 11, 29)  # the repeated move: not stored
    statuses = [
        h.status for h in db.scalars(select(Household).where(Household.id.in_(ids)).order_by(Household.id))
    ]
    assert (timeline(db, ids), audit_of(db, ids), statuses) == want
    assert statuses == ["signed", "valued"] and len(want[0]) == 4


def test_a_batch_of_stage_moves_is_refused_naming_the_move(db: Session, w: World) -> None:
    h = w.household_ids

    def refused(batch: list[campaign_service.StageMove], error: type[Exception], **kw: Any) -> Any:
        savepoint = db.begin_nested()  # the caller's transaction, rolled back after a refusal
        with pytest.raises(error) as caught:
            campaign_service.move_stages(db, actor=ACTOR, scope=ALL, moves=batch, today=TODAY, **kw)
        savepoint.rollback()
        return caught.value

    ok = campaign_service.StageMove(h[0], "valued", date(2026, 12, 1))
    e = refused([ok, campaign_service.StageMove(h[1], "vacated", date(2026, 12, 1))], Conflict)
    assert e.code == "illegal_transition" and e.message_zh.startswith("第 2 条阶段变更：该户阶段不能从")
    e = refused([ok, campaign_service.StageMove(h[0], "negotiating", date(2026, 11, 30))], Conflict)
    assert e.code == "stage_date" and e.message_zh.startswith("第 2 条阶段变更：")
    e = refused([campaign_service.StageMove(h[1], "valued", date(2026, 12, 5))], Conflict)
    assert e.code == "stage_date" and "第 1 条" in e.message_zh  # after today
    e = refused([ok, campaign_service.StageMove(h[2], "nowhere", None)], ValidationFailed)
    assert e.details[0]["field"] == "to_stage" and e.details[0]["item"] == 2
    manual = [
        campaign_service.StageMove(h[0], "negotiating", None),
        campaign_service.StageMove(h[0], "signed", TODAY),
    ]
    e = refused([ok, *manual], Conflict, manage=True, manual=True)
    assert e.code == "recorded_stage" and e.message_zh.startswith("第 3 条阶段变更：")
    e = refused([ok, *manual], PermissionDenied)
    assert "第 3 条" in e.message_zh
    member = DataScope(kind=ScopeKind.ASSIGNED, user_id=w.users["team_member"], team_id=w.team_id)
    outside = next(x for x in h if x not in w.assigned)
    savepoint = db.begin_nested()
    with pytest.raises(NotFound) as caught:
        campaign_service.move_stages(
            db,
            actor=ACTOR,
            scope=member,
            moves=[campaign_service.StageMove(outside, "valued", None)],
            today=TODAY,
        )
    savepoint.rollback()
    assert caught.value.message_zh.startswith("第 1 条阶段变更：该户不存在")
    assert db.scalar(select(func.count()).select_from(StageChange)) == 0
    assert {x.status for x in db.scalars(select(Household).where(Household.id.in_(h)))} == {"surveyed"}
