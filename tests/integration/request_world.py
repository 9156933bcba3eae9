"""A small world for the five-order loop: a community desk user, two members of 城管, one of 住建,
a grid worker, categories with and without time-limit rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from anju.core.actor import Actor
from anju.identity.models import User
from anju.service_request import service as request_service
from anju.service_request.models import Department, DepartmentMember, ServiceCategory, ServiceTimeLimit

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # Monday 9:00 Asia/Shanghai


@dataclass(frozen=True, slots=True)
class RequestWorld:
    desk: Actor
    dept: Actor
    dept2: Actor
    other_dept: Actor
    grid: Actor
    department_id: int
    other_department_id: int
    lamp: int  # category of 城管 with time-limit rows
    dispute: int  # category of 住建 on the default limits


def _user(db: Session, role: str, name: str) -> Actor:
    u = User(
        username=f"{role}-{uuid.uuid4().hex[:8]}",
        display_name=name,
        password_hash="!",
        role=role,
        created_at=T0,
    )
    db.add(u)
    db.flush()
    return Actor(user_id=u.id, username=u.username, display_name=name, role=role)


def build_requests(db: Session) -> RequestWorld:
    """Users, departments and categories; no requests."""
    tag = uuid.uuid4().hex[:6]
    cg = Department(code=f"CG{tag}", name="城管", created_at=T0)
    zj = Department(code=f"ZJ{tag}", name="住建", created_at=T0)
    db.add_all([cg, zj])
    db.flush()
    lamp = ServiceCategory(code=f"lamp{tag}", name="路灯不亮", department_id=cg.id)
    dispute = ServiceCategory(code=f"dis{tag}", name="邻里纠纷", department_id=zj.id)
    db.add_all([lamp, dispute])
    db.flush()
    for step, amount, cal in (
        ("accept", 4, "working_hours"),
        ("take", 2, "working_hours"),
        ("handle", 3, "working_days"),
        ("verify", 2, "calendar_days"),
    ):
        db.add(
            ServiceTimeLimit(category_id=lamp.id, priority="routine", step=step, amount=amount, calendar=cal)
        )
    desk = _user(db, "community", "社区受理员")
    dept = _user(db, "department", "城管甲")
    dept2 = _user(db, "department", "城管乙")
    other = _user(db, "department", "住建丙")
    grid = _user(db, "grid_worker", "网格员")
    db.add_all(
        [
            DepartmentMember(department_id=cg.id, user_id=dept.user_id),
            DepartmentMember(department_id=cg.id, user_id=dept2.user_id),
            DepartmentMember(department_id=zj.id, user_id=other.user_id),
        ]
    )
    db.flush()
    return RequestWorld(desk, dept, dept2, other, grid, cg.id, zj.id, lamp.id, dispute.id)


def file(
    db: Session,
    w: RequestWorld,
    *,
    category_id: int | None = None,
    at: datetime = T0,
    lng: str = "118.780000",
) -> request_service.Submitted:
    """A resident files a lamp request at (lng, 32.040000)."""
    return request_service.submit(
        db,
        actor=None,
        category_id=category_id or w.lamp,
        description="小区3号楼门口路灯不亮",
        location=request_service.Location(lng=Decimal(lng), lat=Decimal("32.040000"), address="幸福路1号"),
        reporter_name="王女士",
        reporter_phone="13800000000",
        now=at,
    )
