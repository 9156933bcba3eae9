"""Visits (走访) against a real database: recording, idempotent replay, refusals, the campaign row, voiding."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit.models import AuditRecord
from anju.campaign import service as campaign_service
from anju.campaign.models import HouseholdCampaign, Visit, VisitConcern, VisitPersuader
from anju.campaign.schemas import VisitCreate
from anju.core.actor import Actor
from anju.db import events, migrate
from anju.db.session import WRITE_OPTION, make_engine
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.identity.rules import ScopeKind
from anju.identity.service import DataScope
from tests.conftest import BACKENDS, new_database
from tests.factories import ACTOR, World, build_world

ALL = DataScope.everything()
# Friday 2026-12-04 10:00 office time (02:00 UTC); the evening visit is 19:30 office time.
NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)


def visit(**over: Any) -> VisitCreate:
    body: dict[str, Any] = {
        "visited_at": "2026-12-03T19:30",
        "duration_min": 45,
        "place": "青溪路1号 堂屋",
        "staff": "测试team_member、测试team_leader",
        "persuaders": [
            {"name": "张国庆", "relation": "relative", "note": "户主堂兄"},
            {"name": "李卫东", "relation": "战友"},
        ],
        "concern_tags": ["area", "补偿标准"],
        "concern_text": "认为阁楼应计入面积",
        "attitude": "wait",
        "outcome": "同意再算一次账",
        "next_step": "请评估公司复核阁楼面积",
        "next_due_on": "2026-12-06",
    }
    body.update(over)
    return VisitCreate.model_validate(body)


def member_scope(w: World) -> DataScope:
    return DataScope(kind=ScopeKind.ASSIGNED, user_id=w.users["team_member"], team_id=w.team_id)


def member_actor(w: World) -> Actor:
    return Actor(
        user_id=w.users["team_member"],
        username="team_member",
        display_name="测试team_member",
        role="team_member",
    )


def record(db: Session, **kw: Any) -> tuple[Visit, bool]:
    """``record_visit`` by the office over the whole scope at ``NOW`` unless ``kw`` says otherwise."""
    args: dict[str, Any] = {"actor": ACTOR, "scope": ALL, "now": NOW, **kw}
    return campaign_service.record_visit(db, **args)


def counts(db: Session) -> tuple[int, int, int, int, int]:
    return (
        db.scalar(select(func.count()).select_from(Visit)) or 0,
        db.scalar(select(func.count()).select_from(VisitPersuader)) or 0,
        db.scalar(select(func.count()).select_from(VisitConcern)) or 0,
        db.scalar(select(func.count()).select_from(HouseholdCampaign)) or 0,
        db.scalar(select(func.count()).select_from(AuditRecord)) or 0,
    )


def test_record_visit_stores_everything_and_updates_the_campaign_row(db: Session) -> None:
    w = build_world(db)
    hid = w.household_ids[0]
    v, created = record(
        db,
        actor=member_actor(w),
        scope=member_scope(w),
        household_id=hid,
        data=visit(),
        idempotency_key="k-1",
    )
    assert created is True
    assert v.visited_at == datetime(2026, 12, 3, 11, 30, tzinfo=UTC)
    assert v.off_hours is True
    assert v.team_id == w.team_id
    assert v.recorded_by == w.users["team_member"]
    assert v.project_id == w.project_id
    [view] = campaign_service.list_visits(db, scope=member_scope(w), household_id=hid)
    assert view.off_hours_kind == "晚间"
    assert [(p.name, p.relation, p.relation_label, p.note) for p in view.persuaders] == [
        ("张国庆", "relative", "亲属", "户主堂兄"),
        ("李卫东", "comrade", "战友", ""),
    ]
    assert view.concern_tags == ["area", "standard"]
    assert view.concern_labels == ["面积认定", "补偿标准"]
    assert (view.attitude, view.attitude_label) == ("wait", "观望")
    assert view.team_name == "第一专班"
    assert view.recorder_name == "测试team_member"
    assert view.next_due_on == date(2026, 12, 6)
    row = db.scalar(select(HouseholdCampaign).where(HouseholdCampaign.household_id == hid))
    assert row is not None
    assert (row.attitude, row.previous_attitude, row.visit_count) == ("wait", "", 1)
    assert row.last_visit_at == v.visited_at
    assert row.attitude_changed_at == v.visited_at
    assert (row.next_step, row.next_due_on) == ("请评估公司复核阁楼面积", date(2026, 12, 6))
    audit = db.scalar(select(AuditRecord).where(AuditRecord.entity == "visit"))
    assert audit is not None and audit.household_id == hid and audit.entity_id == str(v.id)
    assert events.project_topic(w.project_id) in [e.topic for e in db.info.get("anju_events", [])]


def test_a_later_visit_moves_the_attitude_an_earlier_one_synced_late_only_counts(db: Session) -> None:
    w = build_world(db)
    hid = w.household_ids[0]
    record(db, household_id=hid, data=visit(), idempotency_key="a")
    record(
        db,
        household_id=hid,
        data=visit(
            visited_at="2026-12-04T09:00", attitude="resist", next_step="请村书记出面", next_due_on=None
        ),
        idempotency_key="b",
    )
    row = db.scalar(select(HouseholdCampaign).where(HouseholdCampaign.household_id == hid))
    assert row is not None
    assert (row.attitude, row.previous_attitude, row.visit_count) == ("resist", "wait", 2)
    assert row.attitude_changed_at == datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
    assert (row.next_step, row.next_due_on) == ("请村书记出面", None)
    # a visit from two days ago, synced now: counted, but the state stays the newest visit's
    record(
        db,
        household_id=hid,
        data=visit(
            visited_at="2026-12-02T15:00", attitude="support", next_step="旧的下一步", next_due_on=None
        ),
        idempotency_key="c",
    )
    db.refresh(row)
    assert (row.attitude, row.previous_attitude, row.visit_count) == ("resist", "wait", 3)
    assert row.last_visit_at == datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
    views = campaign_service.list_visits(db, scope=ALL, household_id=hid)
    assert [v.idempotency_key for v in views] == ["b", "a", "c"]  # newest first
    assert [v.off_hours_kind for v in views] == ["", "晚间", ""]


def test_replay_with_the_same_key_and_content_returns_the_stored_visit(db: Session) -> None:
    w = build_world(db)
    hid = w.household_ids[0]
    first, created = record(db, household_id=hid, data=visit(), idempotency_key="same")
    before = counts(db)
    # the same content, sent again an hour later; labels instead of codes and tags reordered
    again, created_again = record(
        db,
        household_id=hid,
        data=visit(concern_tags=["standard", "面积认定"], attitude="观望", visited_at="2026-12-03T11:30:00Z"),
        idempotency_key="same",
        now=NOW + timedelta(hours=1),
    )
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert counts(db) == before
    row = db.scalar(select(HouseholdCampaign).where(HouseholdCampaign.household_id == hid))
    assert row is not None and row.visit_count == 1


def test_the_same_key_with_other_content_or_household_is_refused(db: Session) -> None:
    w = build_world(db)
    record(db, household_id=w.household_ids[0], data=visit(), idempotency_key="k")
    before = counts(db)
    for hid, data in [
        (w.household_ids[0], visit(outcome="另一次走访")),
        (
            w.household_ids[0],
            visit(persuaders=[{"name": "张国庆", "relation": "relative", "note": "户主堂兄"}]),
        ),
        (w.household_ids[1], visit()),
    ]:
        with pytest.raises(Conflict) as exc:
            record(db, household_id=hid, data=data, idempotency_key="k")
        assert exc.value.code == "idempotency_key_reused"
        assert "幂等键" in exc.value.message_zh
    assert counts(db) == before


def test_validation_names_each_wrong_field_in_chinese_and_writes_nothing(db: Session) -> None:
    w = build_world(db)
    hid = w.household_ids[0]
    before = counts(db)
    with pytest.raises(ValidationFailed) as exc:
        record(
            db,
            household_id=hid,
            data=visit(
                visited_at="2026-12-04T10:30",  # 30 minutes ahead of NOW (10:00 office time)
                duration_min=0,
                persuaders=[{"name": " ", "relation": "relative"}, {"name": "王五", "relation": "师父"}],
                concern_tags=["area", "拆迁"],
                attitude="",
                next_due_on="2026-12-01",
            ),
            idempotency_key="bad",
        )
    assert exc.value.details == [
        {"field": "visited_at", "message": "走访时间不能晚于当前时间"},
        {"field": "duration_min", "message": "走访时长应为 1 至 1440 分钟"},
        {"field": "persuaders.1.name", "message": "第 1 位外请说客：请填写姓名"},
        {
            "field": "persuaders.2.relation",
            "message": "第 2 位外请说客：关系应为 亲属、朋友、战友、村贤 / 长辈、老同事、同学、邻居、村组干部、其他 之一",
        },
        {
            "field": "concern_tags",
            "message": "诉求标签“拆迁”不在可选范围内（面积认定、补偿标准、安置房、家庭内部矛盾、历史遗留、评估价格、过渡安置、其他）",
        },
        {"field": "attitude", "message": "请选择态度：支持、观望 或 抵触"},
        {"field": "next_due_on", "message": "下一步期限不能早于走访当天"},
    ]
    assert exc.value.message_zh.startswith("走访记录有误：走访时间不能晚于当前时间；")
    with pytest.raises(ValidationFailed) as exc:
        record(
            db,
            household_id=hid,
            data=visit(
                visited_at="昨天晚上",
                duration_min=1441,
                persuaders=[{"name": "甲", "relation": "friend"}] * 31,
            ),
            idempotency_key="bad",
        )
    assert [d["field"] for d in exc.value.details] == ["visited_at", "duration_min", "persuaders"]
    assert exc.value.details[2]["message"] == "外请说客至多 30 位（现有 31 位）"
    # the due date may be the visit's own office day; a few minutes ahead of the clock is tolerated
    record(
        db,
        household_id=hid,
        data=visit(visited_at="2026-12-04T10:05", next_due_on="2026-12-04"),
        idempotency_key="ok",
    )
    with pytest.raises(ValidationFailed):
        record(db, household_id=hid, data=visit(), idempotency_key="bad key!")
    assert counts(db)[0] == before[0] + 1


def test_a_team_member_cannot_log_or_read_visits_outside_their_assignment(db: Session) -> None:
    w = build_world(db)
    other = w.household_ids[2]  # the team's, not the member's
    record(db, household_id=other, data=visit(), idempotency_key="x")
    before = counts(db)
    with pytest.raises(NotFound):
        record(
            db,
            actor=member_actor(w),
            scope=member_scope(w),
            household_id=other,
            data=visit(),
            idempotency_key="y",
        )
    # a replay of someone else's key on a household out of reach is a 404 too, not the stored visit
    with pytest.raises(NotFound):
        record(
            db,
            actor=member_actor(w),
            scope=member_scope(w),
            household_id=other,
            data=visit(),
            idempotency_key="x",
        )
    with pytest.raises(NotFound):
        campaign_service.list_visits(db, scope=member_scope(w), household_id=other)
    [stored] = campaign_service.list_visits(db, scope=ALL, household_id=other)
    with pytest.raises(NotFound):
        campaign_service.void_visit(
            db, actor=member_actor(w), scope=member_scope(w), visit_id=stored.id, reason="误录", now=NOW
        )
    assert counts(db) == before
    leader = DataScope(kind=ScopeKind.TEAM, user_id=w.users["team_leader"], team_id=w.team_id)
    assert [v.id for v in campaign_service.list_visits(db, scope=leader, household_id=other)] == [stored.id]


def test_void_keeps_the_visit_hides_it_and_lowers_the_count(db: Session) -> None:
    w = build_world(db)
    hid = w.household_ids[0]
    v, _ = record(db, household_id=hid, data=visit(), idempotency_key="v")
    with pytest.raises(ValidationFailed):
        campaign_service.void_visit(db, actor=ACTOR, scope=ALL, visit_id=v.id, reason="  ", now=NOW)
    campaign_service.void_visit(db, actor=ACTOR, scope=ALL, visit_id=v.id, reason="录错了户", now=NOW)
    assert campaign_service.list_visits(db, scope=ALL, household_id=hid) == []
    [voided] = campaign_service.list_visits(db, scope=ALL, household_id=hid, include_voided=True)
    assert (voided.void_reason, voided.voided_at) == ("录错了户", NOW)
    row = db.scalar(select(HouseholdCampaign).where(HouseholdCampaign.household_id == hid))
    assert row is not None and row.visit_count == 0
    with pytest.raises(Conflict):
        campaign_service.void_visit(db, actor=ACTOR, scope=ALL, visit_id=v.id, reason="再次", now=NOW)
    with pytest.raises(NotFound):
        campaign_service.void_visit(db, actor=ACTOR, scope=ALL, visit_id=10**9, reason="x", now=NOW)
    # a replay of the voided visit's key still answers with it (the device must not store it again)
    again, created = record(db, household_id=hid, data=visit(), idempotency_key="v")
    assert (again.id, created) == (v.id, False)


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_syncs_racing_with_one_key_store_the_visit_once(
    backend: str, tmp_path: Path, settings_env: Path
) -> None:
    """Two requests carry the same visit at once: one stores it, the other gets the stored row back.

    The first holds its uncommitted insert while the second tries: on PostgreSQL and MariaDB the
    second's insert waits on the unique key and fails once the first commits (undone inside a
    SAVEPOINT, then the stored row is read with a lock); on SQLite the second's ``BEGIN IMMEDIATE``
    waits and its lookup then finds the row.
    """
    url, handle = new_database(backend, tmp_path)
    migrate.upgrade(url)
    engine = make_engine(url).execution_options(**{WRITE_OPTION: True})
    try:
        with Session(engine) as s:
            w = build_world(s)
            s.commit()
        hid = w.household_ids[0]
        first = Session(engine)
        v1, created1 = record(first, household_id=hid, data=visit(), idempotency_key="race")
        results: list[tuple[int, bool]] = []
        errors: list[BaseException] = []

        def second_sync() -> None:
            try:
                with Session(engine) as s:
                    v, created = record(s, household_id=hid, data=visit(), idempotency_key="race")
                    s.commit()
                    results.append((v.id, created))
            except BaseException as exc:  # reported below
                errors.append(exc)

        t = threading.Thread(target=second_sync)
        t.start()
        time.sleep(0.5)  # the second request is now waiting for the first's lock
        assert results == []
        v1_id = v1.id
        first.commit()
        first.close()
        t.join(timeout=30)
        assert errors == []
        assert (created1, results) == (True, [(v1_id, False)])
        with Session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Visit)) == 1
            assert s.scalar(select(func.count()).select_from(VisitPersuader)) == 2
            row = s.scalar(select(HouseholdCampaign).where(HouseholdCampaign.household_id == hid))
            assert row is not None and row.visit_count == 1
    finally:
        engine.dispose()
        if handle is not None:
            handle.drop()
