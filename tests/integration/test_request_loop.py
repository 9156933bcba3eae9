"""The five-order loop through the service on SQLite, PostgreSQL and MariaDB: every transition with its
exact history rows, deadlines from the time limits, counters (退回, 延期, 返工), refusals that write
nothing, the clock (overdue, escalation, auto-close), nearby duplicates and photos."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit.models import AuditRecord
from anju.core.dates import SHANGHAI
from anju.errors import Conflict, DomainError, NotFound, ValidationFailed
from anju.service_request import service as request_service
from anju.service_request.models import RequestEvent, RequestPhoto, ServiceRequest
from tests.api.permission_calls import PNG
from tests.integration.request_world import T0, RequestWorld, build_requests, file


@contextmanager
def refused(kind: type[DomainError], text: str) -> Iterator[None]:
    """Expect ``kind`` whose Chinese message holds ``text``."""
    with pytest.raises(kind) as exc:
        yield
    assert text in exc.value.message_zh


def sh(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def rows(db: Session, request_id: int) -> list[tuple[str, str, str, str, str, bool]]:
    return [
        (e.action, e.from_status, e.to_status, e.gb_step, e.actor_label, e.public)
        for e in request_service.history(db, request_id=request_id)
    ]


def counts(db: Session) -> tuple[int, int, int]:
    return (
        int(db.scalar(select(func.count()).select_from(RequestEvent)) or 0),
        int(db.scalar(select(func.count()).select_from(AuditRecord)) or 0),
        int(db.scalar(select(func.count()).select_from(RequestPhoto)) or 0),
    )


def snapshot(req: ServiceRequest) -> tuple[object, ...]:
    return (req.status, req.version, req.department_id, req.due_at, req.sendback_count, req.postpone_count)


@pytest.fixture
def w(db: Session) -> RequestWorld:
    return build_requests(db)


def test_the_five_orders_close_the_loop(db: Session, w: RequestWorld) -> None:
    filed = file(db, w)
    req = filed.request
    assert req.code == "20261207-0001"
    assert len(filed.secret) == 8
    assert req.follow_hash == request_service.hash_secret(filed.secret)
    assert (req.status, req.version, req.department_id) == ("submitted", 1, w.department_id)
    assert req.due_at == sh(7, 14, 30)  # 4 working hours from 9:00 (3 before noon, 1 after lunch)
    audits = counts(db)[1]

    t1 = sh(7, 10)
    request_service.accept(db, actor=w.desk, request_id=req.id, version=1, now=t1)
    assert (req.status, req.version, req.priority, req.department_id) == (
        "dispatched",
        2,
        "routine",
        w.department_id,
    )
    assert req.due_at == sh(7, 12)  # 2 working hours
    assert req.close_due_at == sh(10, 17, 30)  # 3 working days

    t2 = sh(7, 11)
    request_service.take(db, actor=w.dept, request_id=req.id, version=2, now=t2)
    assert (req.status, req.taken_at, req.due_at) == ("in_progress", t2, sh(10, 17, 30))

    t3 = sh(8, 15)
    request_service.publish(
        db,
        actor=w.dept,
        request_id=req.id,
        version=3,
        result="已更换灯泡",
        photos=[request_service.Photo(PNG, "after.png", "image/png")],
        now=t3,
    )
    assert (req.status, req.result, req.published_at, req.due_at) == (
        "published",
        "已更换灯泡",
        t3,
        t3 + timedelta(days=2),
    )

    t4 = sh(9, 8)
    request_service.verify(
        db, actor=None, request_id=req.id, version=4, rating=5, secret=filed.secret.lower(), now=t4
    )
    assert (req.status, req.rating, req.resolution, req.closed_at, req.due_at, req.version) == (
        "closed",
        5,
        "solved",
        t4,
        None,
        5,
    )
    assert rows(db, req.id) == [
        ("submit", "", "submitted", "信息收集", "居民", True),
        ("accept", "submitted", "dispatched", "立案派遣", "社区受理员", True),
        ("take", "dispatched", "in_progress", "处置", "城管", True),
        ("publish", "in_progress", "published", "反馈", "城管", True),
        ("verify", "published", "closed", "核查结案", "居民", True),
    ]
    events = request_service.history(db, request_id=req.id)
    assert [e.actor_user_id for e in events] == [None, w.desk.user_id, w.dept.user_id, w.dept.user_id, None]
    assert [e.at for e in events] == [T0, t1, t2, t3, t4]
    assert counts(db)[1] == audits + 3  # office actions: accept, take, publish
    assert [p.stage for p in request_service.photos(db, request_id=req.id)] == ["publish"]


def test_send_back_and_reopen_are_counted(db: Session, w: RequestWorld) -> None:
    req = file(db, w).request
    request_service.accept(db, actor=w.desk, request_id=req.id, version=1, now=sh(7, 10))
    request_service.send_back(
        db, actor=w.dept, request_id=req.id, version=2, reason="不属于本部门", now=sh(7, 10, 30)
    )
    assert (req.status, req.department_id, req.sendback_count, req.due_at) == (
        "submitted",
        None,
        1,
        sh(7, 16),
    )
    request_service.accept(
        db,
        actor=w.desk,
        request_id=req.id,
        version=3,
        department_id=w.department_id,
        priority="urgent",
        now=sh(7, 11),
    )
    assert req.priority == "urgent"
    request_service.take(db, actor=w.dept2, request_id=req.id, version=4, now=sh(7, 11))
    request_service.publish(db, actor=w.dept2, request_id=req.id, version=5, result="已修", now=sh(7, 16))
    request_service.reopen(
        db, actor=w.grid, request_id=req.id, version=6, reason="仍然不亮", rating=2, now=sh(8, 9)
    )
    assert (req.status, req.reopen_count, req.resolution, req.rating, req.published_at) == (
        "in_progress",
        1,
        "unsolved",
        2,
        None,
    )
    assert rows(db, req.id)[1:] == [
        ("accept", "submitted", "dispatched", "立案派遣", "社区受理员", True),
        ("send_back", "dispatched", "submitted", "退回", "城管", True),
        ("accept", "submitted", "dispatched", "立案派遣", "社区受理员", True),
        ("take", "dispatched", "in_progress", "处置", "城管", True),
        ("publish", "in_progress", "published", "反馈", "城管", True),
        ("reopen", "published", "in_progress", "核查不通过", "网格员", True),
    ]
    assert request_service.history(db, request_id=req.id)[2].reason == "不属于本部门"


def test_reject_and_merge_are_final(db: Session, w: RequestWorld) -> None:
    first = file(db, w).request
    dup = file(db, w).request
    assert dup.code == "20261207-0002"
    request_service.merge(
        db, actor=w.desk, request_id=dup.id, version=1, into_id=first.id, reason="同一路灯", now=sh(7, 10)
    )
    assert (dup.status, dup.merged_into_id, dup.status_note) == (
        "merged",
        first.id,
        "已合并到诉求 20261207-0001",
    )
    request_service.reject(db, actor=w.desk, request_id=first.id, version=1, reason="非本辖区", now=sh(7, 10))
    assert (first.status, first.status_note, first.closed_at) == ("rejected", "非本辖区", sh(7, 10))
    assert rows(db, dup.id)[-1] == ("merge", "submitted", "merged", "不予立案", "社区受理员", True)
    before = counts(db)
    with pytest.raises(Conflict) as exc:
        request_service.accept(db, actor=w.desk, request_id=first.id, version=2)
    assert exc.value.code == "illegal_transition"
    assert exc.value.message_zh == "诉求当前为“不予受理”，不能组织定单"
    third = file(db, w).request
    with refused(ValidationFailed, "已不予受理，不能合并到它"):
        request_service.merge(
            db, actor=w.desk, request_id=third.id, version=1, into_id=first.id, reason="重复"
        )
    assert counts(db)[0] == before[0] + 1  # only the third's submission


def test_postponement_asked_then_approved_or_denied(db: Session, w: RequestWorld) -> None:
    req = file(db, w).request
    request_service.accept(db, actor=w.desk, request_id=req.id, version=1, now=sh(7, 10))
    request_service.take(db, actor=w.dept, request_id=req.id, version=2, now=sh(7, 11))
    request_service.request_postpone(
        db,
        actor=w.dept,
        request_id=req.id,
        version=3,
        new_due_at=sh(14, 17, 30),
        reason="需采购灯具",
        now=sh(8, 9),
    )
    assert (req.postpone_pending, req.postpone_count, req.due_at) == (True, 1, sh(10, 17, 30))
    with refused(Conflict, "已有待审批的延期申请"):
        request_service.request_postpone(
            db, actor=w.dept, request_id=req.id, version=4, new_due_at=sh(15, 17, 30), reason="再延"
        )
    request_service.decide_postpone(
        db, actor=w.desk, request_id=req.id, version=4, approve=True, now=sh(8, 10)
    )
    assert (req.postpone_pending, req.due_at, req.close_due_at, req.status) == (
        False,
        sh(14, 17, 30),
        sh(14, 17, 30),
        "in_progress",
    )
    request_service.request_postpone(
        db,
        actor=w.dept,
        request_id=req.id,
        version=5,
        new_due_at=sh(21, 17, 30),
        reason="再延一周",
        now=sh(9, 9),
    )
    with refused(ValidationFailed, "不同意延期须填写理由"):
        request_service.decide_postpone(db, actor=w.desk, request_id=req.id, version=6, approve=False)
    request_service.decide_postpone(
        db, actor=w.desk, request_id=req.id, version=6, approve=False, reason="期限已够", now=sh(9, 10)
    )
    assert (req.postpone_pending, req.postpone_count, req.due_at) == (False, 2, sh(14, 17, 30))
    assert rows(db, req.id)[3:] == [
        ("postpone", "in_progress", "in_progress", "处置", "城管", False),
        ("postpone_approve", "in_progress", "in_progress", "处置", "社区受理员", True),
        ("postpone", "in_progress", "in_progress", "处置", "城管", False),
        ("postpone_deny", "in_progress", "in_progress", "处置", "社区受理员", True),
    ]
    with refused(Conflict, "没有待审批的延期申请"):
        request_service.decide_postpone(db, actor=w.desk, request_id=req.id, version=7, approve=True)


@pytest.mark.parametrize(
    ("stage", "call", "code"),
    [
        ("submitted", "take_dept", "illegal_transition"),
        ("submitted", "publish_dept", "illegal_transition"),
        ("dispatched", "accept_desk", "illegal_transition"),
        ("dispatched", "publish_dept", "illegal_transition"),
        ("dispatched", "take_desk", "not_allowed"),
        ("in_progress", "verify_grid", "illegal_transition"),
        ("in_progress", "take_dept", "illegal_transition"),
        ("published", "publish_dept", "illegal_transition"),
        ("published", "send_back_dept", "illegal_transition"),
        ("published", "verify_dept", "not_allowed"),
        ("dispatched", "stale_take", "stale_version"),
        ("in_progress", "postpone_desk", "not_allowed"),
    ],
)
def test_illegal_actions_are_refused_and_write_nothing(
    db: Session, w: RequestWorld, stage: str, call: str, code: str
) -> None:
    req = file(db, w).request
    order = ["submitted", "dispatched", "in_progress", "published"]
    steps = [
        lambda: request_service.accept(db, actor=w.desk, request_id=req.id, version=req.version),
        lambda: request_service.take(db, actor=w.dept, request_id=req.id, version=req.version),
        lambda: request_service.publish(
            db, actor=w.dept, request_id=req.id, version=req.version, result="好了"
        ),
    ]
    for step in steps[: order.index(stage)]:
        step()
    db.refresh(req)  # as stored (MariaDB keeps whole seconds)
    before, snap = counts(db), snapshot(req)
    v = req.version
    calls = {
        "take_dept": lambda: request_service.take(db, actor=w.dept, request_id=req.id, version=v),
        "take_desk": lambda: request_service.take(db, actor=w.desk, request_id=req.id, version=v),
        "publish_dept": lambda: request_service.publish(
            db, actor=w.dept, request_id=req.id, version=v, result="x"
        ),
        "accept_desk": lambda: request_service.accept(db, actor=w.desk, request_id=req.id, version=v),
        "verify_grid": lambda: request_service.verify(
            db, actor=w.grid, request_id=req.id, version=v, rating=5
        ),
        "verify_dept": lambda: request_service.verify(
            db, actor=w.dept, request_id=req.id, version=v, rating=5
        ),
        "send_back_dept": lambda: request_service.send_back(
            db, actor=w.dept, request_id=req.id, version=v, reason="x"
        ),
        "stale_take": lambda: request_service.take(db, actor=w.dept, request_id=req.id, version=v - 1),
        "postpone_desk": lambda: request_service.request_postpone(
            db, actor=w.desk, request_id=req.id, version=v, new_due_at=sh(30, 17), reason="x"
        ),
    }
    with pytest.raises(Conflict) as exc:
        calls[call]()
    assert exc.value.code == code
    db.refresh(req)
    assert (counts(db), snapshot(req)) == (before, snap)


def test_departments_act_only_on_their_own_requests(db: Session, w: RequestWorld) -> None:
    req = file(db, w).request
    request_service.accept(db, actor=w.desk, request_id=req.id, version=1)
    before = counts(db)
    with refused(NotFound, "不属于您的部门"):
        request_service.take(db, actor=w.other_dept, request_id=req.id, version=2)
    assert counts(db) == before
    assert (
        request_service.list_requests(db, actor=w.other_dept, filters=request_service.Filters()).items == []
    )
    assert [
        r.id for r in request_service.list_requests(db, actor=w.dept, filters=request_service.Filters()).items
    ] == [req.id]
    with pytest.raises(NotFound):
        request_service.get(db, actor=w.other_dept, request_id=req.id)


def test_resident_needs_the_secret(db: Session, w: RequestWorld) -> None:
    filed = file(db, w)
    req = filed.request
    assert request_service.by_code(db, code=req.code, secret=filed.secret) is req
    with refused(NotFound, "诉求编号或查询码不正确"):
        request_service.by_code(db, code=req.code, secret="WRONG123")
    request_service.accept(db, actor=w.desk, request_id=req.id, version=1)
    request_service.take(db, actor=w.dept, request_id=req.id, version=2)
    request_service.publish(db, actor=w.dept, request_id=req.id, version=3, result="好了")
    before = counts(db)
    with pytest.raises(NotFound):
        request_service.verify(db, actor=None, request_id=req.id, version=4, rating=5, secret="WRONG123")
    with refused(ValidationFailed, "评分须为 1 到 5"):
        request_service.verify(db, actor=None, request_id=req.id, version=4, rating=6, secret=filed.secret)
    with refused(ValidationFailed, "请说明未解决的情况"):
        request_service.reopen(db, actor=None, request_id=req.id, version=4, reason=" ", secret=filed.secret)
    assert counts(db) == before


def test_the_clock_flags_escalates_and_closes(db: Session, w: RequestWorld) -> None:
    late = file(db, w).request  # due 7th 14:30 (accept)
    handled = file(db, w).request
    request_service.accept(db, actor=w.desk, request_id=handled.id, version=1, now=sh(7, 10))
    request_service.take(db, actor=w.dept, request_id=handled.id, version=2, now=sh(7, 10))
    request_service.publish(db, actor=w.dept, request_id=handled.id, version=3, result="好了", now=sh(7, 11))
    assert handled.due_at == sh(9, 11)

    run = request_service.escalate(db, now=sh(7, 14, 30))
    assert (run.overdue, run.escalated, run.closed) == ([], [], [])
    run = request_service.escalate(db, now=sh(7, 15))
    assert (run.overdue, run.escalated, run.closed) == ([late.id], [late.id], [])
    assert (late.overdue_at, late.escalation_level, late.status, late.version) == (
        sh(7, 15),
        1,
        "submitted",
        2,
    )
    run = request_service.escalate(db, now=sh(8, 9))  # same day of lateness: nothing new
    assert (run.overdue, run.escalated, run.closed) == ([], [], [])
    run = request_service.escalate(db, now=sh(8, 14, 30))
    assert (run.overdue, run.escalated) == ([], [late.id])
    assert (late.overdue_at, late.escalation_level) == (sh(7, 15), 2)
    run = request_service.escalate(db, now=sh(9, 14, 30))
    assert (run.escalated, run.closed) == ([late.id], [handled.id])
    assert (late.escalation_level, handled.status, handled.closed_at, handled.rating) == (
        3,
        "closed",
        sh(9, 14, 30),
        None,
    )
    run = request_service.escalate(db, now=sh(20, 11))
    assert (run.overdue, run.escalated, run.closed) == ([], [], [])
    assert rows(db, late.id)[1:] == [
        ("overdue", "submitted", "submitted", "信息收集", "系统", False),
        ("escalate", "submitted", "submitted", "信息收集", "系统", False),
        ("escalate", "submitted", "submitted", "信息收集", "系统", False),
    ]
    assert rows(db, handled.id)[-1] == ("auto_close", "published", "closed", "核查结案", "系统", True)
    assert [e.reason for e in request_service.history(db, request_id=late.id)[1:]] == [
        "社区督办",
        "街道督办",
        "挂牌督办",
    ]
    overdue = request_service.list_requests(db, actor=w.desk, filters=request_service.Filters(overdue=True))
    assert [r.id for r in overdue.items] == [late.id]


def test_nearby_lists_the_same_category_close_by(db: Session, w: RequestWorld) -> None:
    a = file(db, w, lng="118.780000").request
    b = file(db, w, lng="118.780900").request  # ~85 m east
    file(db, w, lng="118.790000")  # ~1 km
    file(db, w, category_id=w.dispute, lng="118.780000")  # other category
    closed_long_ago = file(db, w, lng="118.780100", at=T0 - timedelta(days=60)).request
    request_service.reject(
        db, actor=w.desk, request_id=closed_long_ago.id, version=1, reason="x", now=T0 - timedelta(days=59)
    )
    found = request_service.nearby(
        db, category_id=w.lamp, lng=Decimal("118.780050"), lat=Decimal("32.040000"), now=T0
    )
    assert [r.id for r in found] == [a.id, b.id]


def test_photos_are_inspected(db: Session, w: RequestWorld) -> None:
    before = counts(db)
    with pytest.raises(ValidationFailed) as exc:
        request_service.submit(
            db,
            actor=None,
            category_id=w.lamp,
            description="路灯",
            location=request_service.Location(address="幸福路1号"),
            photos=[request_service.Photo(b"<html>hi</html>", "a.png", "image/png")],
        )
    assert exc.value.message_zh.startswith("照片“a.png”：")
    with refused(ValidationFailed, "请在地图上选点或填写地址"):
        request_service.submit(
            db, actor=None, category_id=w.lamp, description="路灯", location=request_service.Location()
        )
    with refused(ValidationFailed, "最多上传 6 张照片"):
        request_service.submit(
            db,
            actor=None,
            category_id=w.lamp,
            description="路灯",
            location=request_service.Location(address="x"),
            photos=[request_service.Photo(PNG, "a.png", "image/png")] * 7,
        )
    assert counts(db) == before
    ok = request_service.submit(
        db,
        actor=w.grid,
        category_id=w.lamp,
        description="路灯",
        location=request_service.Location(address="幸福路1号"),
        photos=[request_service.Photo(PNG, "a.png", "")],
        now=T0,
    ).request
    assert (ok.channel, ok.submitted_by) == ("grid_worker", w.grid.user_id)
    [photo] = request_service.photos(db, request_id=ok.id)
    assert (photo.stage, photo.content_type, photo.size, photo.data) == ("submit", "image/png", len(PNG), PNG)
    assert rows(db, ok.id) == [("submit", "", "submitted", "信息收集", "网格员", True)]


def test_keyset_paging_walks_every_request_once(db: Session, w: RequestWorld) -> None:
    ids = [file(db, w, at=T0 + timedelta(minutes=i // 2)).request.id for i in range(7)]
    seen: list[int] = []
    cursor = ""
    while True:
        page = request_service.list_requests(
            db, actor=w.desk, filters=request_service.Filters(), cursor=cursor, limit=3
        )
        seen += [r.id for r in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == sorted(ids, key=lambda i: (ids.index(i) // 2, i), reverse=True)
    day = request_service.list_requests(
        db,
        actor=w.desk,
        filters=request_service.Filters(submitted_from=T0.date(), submitted_to=T0.date(), status="submitted"),
    )
    assert len(day.items) == 7


def test_a_request_is_placed_in_the_grid_of_its_point(db: Session, w: RequestWorld) -> None:
    from anju.grid import service as grid_service
    from tests.factories import ACTOR

    c = grid_service.create_community(db, actor=ACTOR, values={"code": "XF", "name": "幸福社区"})
    square = [[[118.77, 32.03], [118.79, 32.03], [118.79, 32.05], [118.77, 32.05], [118.77, 32.03]]]
    g = grid_service.create_grid(
        db,
        actor=ACTOR,
        community_id=c.id,
        values={
            "code": "XF-01",
            "name": "幸福一网格",
            "boundary": {"type": "Polygon", "coordinates": square},
        },
    )
    inside = file(db, w, lng="118.780000").request
    outside = file(db, w, lng="118.900000").request
    by_address = request_service.submit(
        db,
        actor=w.grid,
        category_id=w.lamp,
        description="路灯",
        location=request_service.Location(address="幸福路1号", grid_id=g.id),
        now=T0,
    ).request
    assert [(r.grid_id, r.community_id) for r in (inside, outside, by_address)] == [
        (g.id, c.id),
        (None, None),
        (g.id, c.id),
    ]
    in_grid = request_service.list_requests(db, actor=w.desk, filters=request_service.Filters(grid_id=g.id))
    assert {r.id for r in in_grid.items} == {inside.id, by_address.id}
