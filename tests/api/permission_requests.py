"""Realistic requests for the service-request routes (五单工作法) of the permission matrix: a
department whose members are the department-role users, a category, a base request with a photo and
a known follow secret, and for each action a fresh request in the state the action starts from.
Used through the hooks in ``tests/api/permission_calls.py``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from anju.core.actor import Actor
from anju.db.session import unit_of_work
from anju.identity.models import User
from anju.service_request import service as request_service
from anju.service_request.models import Department, DepartmentMember, ServiceCategory, ServiceRequest
from anju.web.permission_matrix import AppRoute

REQUEST_PARAMS = frozenset({"request_id", "photo_id", "code"})
SECRET = "PERM2345"
QUERY = {"secret": SECRET, "category_id": 1}
BASE = "/api/v1/service-requests/{request_id}"
#: The state a fresh request must be in for each action route ("postpone_pending": in progress
#: with a postponement asked).
ACTION_STATE: dict[str, str] = {
    f"POST {BASE}/accept": "submitted",
    f"POST {BASE}/reject": "submitted",
    f"POST {BASE}/merge": "submitted",
    f"POST {BASE}/postpone-decision": "postpone_pending",
    f"POST {BASE}/take": "dispatched",
    f"POST {BASE}/send-back": "dispatched",
    f"POST {BASE}/postpone": "in_progress",
    f"POST {BASE}/publish": "in_progress",
    f"POST {BASE}/verify": "published",
    f"POST {BASE}/reopen": "published",
}
PNG_TYPE = "image/png"


@dataclass
class RequestTargets:
    """The ids the service-request routes need."""

    category_id: int
    department_id: int
    request_id: int
    photo_id: int
    code: str
    into_id: int
    desk: Actor
    dept: Actor
    last: int = 0  # the fresh request of the last call
    versions: dict[int, int] = field(default_factory=dict)


def _actor(db: Any, role: str) -> Actor:
    u = db.scalar(select(User).where(User.role == role).order_by(User.id).limit(1))
    return Actor(user_id=u.id, username=u.username, display_name=u.display_name, role=role)


def _file(db: Any, category_id: int, photo: bytes | None = None) -> ServiceRequest:
    return request_service.submit(
        db,
        actor=None,
        category_id=category_id,
        description="权限测试：路灯不亮",
        location=request_service.Location(
            lng=Decimal("118.780000"), lat=Decimal("32.040000"), address="幸福路1号"
        ),
        photos=[request_service.Photo(photo, "现场.png", PNG_TYPE)] if photo else [],
    ).request


def request_targets(png: bytes) -> RequestTargets:
    """A department (every department-role user a member), a category, a base request with a photo
    and the follow secret :data:`SECRET`, and an open request to merge into."""

    def build(db: Any) -> RequestTargets:
        n = db.scalar(select(Department.id).order_by(Department.id.desc()).limit(1)) or 0
        dep = Department(code=f"PERM{n + 1}", name="权限测试城管", created_at=datetime.now(UTC))
        db.add(dep)
        db.flush()
        for uid in db.scalars(select(User.id).where(User.role == "department")):
            db.add(DepartmentMember(department_id=dep.id, user_id=uid))
        cat = ServiceCategory(code=f"perm{dep.id}", name="路灯", department_id=dep.id)
        db.add(cat)
        db.flush()
        base = _file(db, cat.id, png)
        base.follow_hash = request_service.hash_secret(SECRET)
        into = _file(db, cat.id)
        photo = request_service.photos(db, request_id=base.id)[0].id
        return RequestTargets(
            cat.id,
            dep.id,
            base.id,
            photo,
            base.code,
            into.id,
            _actor(db, "community"),
            _actor(db, "department"),
        )

    with unit_of_work() as db:
        return build(db)


def fresh(r: RequestTargets, state: str) -> int:
    """A new request driven to ``state``; remembered as the last one with its version."""
    with unit_of_work() as db:
        req = _file(db, r.category_id)
        if state != "submitted":
            request_service.accept(db, actor=r.desk, request_id=req.id, version=req.version)
        if state in ("in_progress", "published", "postpone_pending"):
            request_service.take(db, actor=r.dept, request_id=req.id, version=req.version)
        if state == "postpone_pending":
            request_service.request_postpone(
                db,
                actor=r.dept,
                request_id=req.id,
                version=req.version,
                new_due_at=datetime.now(UTC) + timedelta(days=40),
                reason="需采购灯具",
            )
        if state == "published":
            request_service.publish(db, actor=r.dept, request_id=req.id, version=req.version, result="已修复")
        r.last = req.id
        r.versions[req.id] = req.version
        return req.id


def is_request_param(route: AppRoute, name: str) -> bool:
    """Whether ``name`` is a path parameter of a service-request route (grids have a ``code`` too)."""
    return name in REQUEST_PARAMS and ("/service-requests" in route.path or "/public/requests" in route.path)


def path_value(route: AppRoute, name: str, r: RequestTargets, *, spare: bool) -> Any:
    """A request id (fresh for a permitted action), the base request's photo or code."""
    if name == "request_id":
        if spare and route.key in ACTION_STATE:
            return fresh(r, ACTION_STATE[route.key])
        r.last = r.request_id
        r.versions.setdefault(r.request_id, 1)
        return r.request_id
    if name == "photo_id":
        return r.photo_id
    return r.code


def request_json(route: AppRoute, r: RequestTargets | None) -> dict[str, Any] | None:
    """The JSON body of an action route (for the request of the last path value)."""
    if r is None or route.key not in ACTION_STATE:
        return None
    v = r.versions.get(r.last, 1)
    action = route.path.rsplit("/", 1)[1]
    bodies: dict[str, dict[str, Any]] = {
        "accept": {"version": v, "priority": "routine"},
        "reject": {"version": v, "reason": "不属于受理范围"},
        "merge": {"version": v, "into_id": r.into_id, "reason": "同一路灯"},
        "postpone-decision": {"version": v, "approve": True},
        "take": {"version": v},
        "send-back": {"version": v, "reason": "不属于本部门"},
        "postpone": {
            "version": v,
            "new_due_at": (datetime.now(UTC) + timedelta(days=40)).isoformat(),
            "reason": "需采购灯具",
        },
        "verify": {"version": v, "rating": 5},
        "reopen": {"version": v, "reason": "仍然不亮"},
    }
    return bodies.get(action)


def request_multipart(
    route: AppRoute, r: RequestTargets | None, png: bytes
) -> tuple[Any, dict[str, Any]] | None:
    """(files, form fields) of the multipart routes: filing on a resident's behalf, publishing."""
    if r is None:
        return None
    photo = [("photos", ("现场.png", png, PNG_TYPE))]
    if route.key == "POST /api/v1/service-requests":
        return photo, {
            "category_id": r.category_id,
            "description": "代居民反映：井盖缺失",
            "address": "幸福路2号",
        }
    if route.key == f"POST {BASE}/publish":
        return photo, {"version": r.versions.get(r.last, 1), "result": "已修复"}
    return None
