"""Requests and their history written straight into the tables, walking the state machine of
:mod:`anju.service_request.rules` (each step checked with ``check_action``), for the indicator tests
and the bench without the request service.

``plan(...)`` gives the column values of one request and its events from a list of steps; ``insert``
writes many plans with ``executemany`` (explicit ids when ``first_id`` is given, as the bench does).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from anju.grid.models import Community, Grid
from anju.service_request import rules
from anju.service_request.models import Department, RequestEvent, ServiceCategory, ServiceRequest

T0 = datetime(2031, 1, 1, tzinfo=UTC)

ACTOR_OF = {
    "submit": "resident",
    "accept": "community",
    "reject": "community",
    "merge": "community",
    "take": "department",
    "send_back": "department",
    "publish": "department",
    "verify": "resident",
    "reopen": "resident",
    "auto_close": "system",
}
EXTRA = frozenset({"postpone", "postpone_approve", "postpone_deny", "overdue", "escalate"})


@dataclass(slots=True)
class Plan:
    """One request's columns and its history rows (without ids)."""

    request: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)


def plan(
    *,
    code: str,
    category_id: int,
    steps: Sequence[tuple[str, datetime]],
    grid_id: int | None = None,
    community_id: int | None = None,
    department_id: int | None = None,
    close_due_at: datetime | None = None,
    rating: int | None = None,
    address: str = "幸福路 1 号",
    result: str = "",
) -> Plan:
    """A request that went through ``steps`` ((action, at), the first being ``submit``); ``close_due_at``
    is the deadline to close as set at accept (and moved by a ``postpone_approve`` step given as
    ``("postpone_approve", at)`` with the new deadline in ``close_due_at``)."""
    status = ""
    cols: dict[str, Any] = {
        "code": code,
        "category_id": category_id,
        "grid_id": grid_id,
        "community_id": community_id,
        "department_id": department_id,
        "address": address,
        "description": "路灯不亮",
        "reporter_name": "张三",
        "reporter_phone": "13800000000",
        "result": result,
        "close_due_at": close_due_at,
        "reopen_count": 0,
        "postpone_count": 0,
        "priority": "routine",
    }
    events: list[dict[str, Any]] = []
    for action, at in steps:
        before = status
        if action in EXTRA:
            target = status
            if action == "postpone_approve":
                cols["postpone_count"] += 1
        else:
            target = rules.check_action(status, action, ACTOR_OF[action])
        status = target
        if action == "submit":
            cols["submitted_at"] = at
        elif action == "accept":
            cols["accepted_at"] = at
        elif action == "take":
            cols["taken_at"] = at
        elif action == "publish":
            cols["published_at"] = at
        elif action in ("verify", "auto_close"):
            cols["closed_at"] = at
            if action == "verify":
                cols["rating"] = rating
                cols["resolution"] = "solved"
        elif action == "reopen":
            cols["reopen_count"] += 1
        events.append(
            {
                "action": action,
                "from_status": before,
                "to_status": target,
                "gb_step": rules.ACTIONS[action].gb_step if action in rules.ACTIONS else "",
                "actor_label": "居民",
                "department_id": department_id,
                "at": at,
                "public": True,
                "reason": "未解决" if action == "reopen" else "",
                "data": "{}",
            }
        )
        cols["updated_at"] = at
    cols["status"] = status
    return Plan(request=cols, events=events)


def insert_plans(db: Session, plans: Sequence[Plan], *, first_id: int | None = None) -> list[int]:
    """Write the plans; their request ids. Bulk (executemany) when ``first_id`` is given."""
    if first_id is None:
        ids = []
        for p in plans:
            req = ServiceRequest(**p.request)
            db.add(req)
            db.flush()
            ids.append(req.id)
    else:
        ids = list(range(first_id, first_id + len(plans)))
        db.execute(insert(ServiceRequest), [{"id": i, **p.request} for i, p in zip(ids, plans, strict=True)])
    events = [{"request_id": i, **e} for i, p in zip(ids, plans, strict=True) for e in p.events]
    if events:
        db.execute(insert(RequestEvent), events)
    db.flush()
    return ids


@dataclass(frozen=True, slots=True)
class Place:
    """Two communities with a grid each, two departments and a category."""

    community_ids: tuple[int, int]
    grid_ids: tuple[int, int]
    department_ids: tuple[int, int]
    category_id: int


SQUARE = '{{"type":"Polygon","coordinates":[[[{a},{b}],[{c},{b}],[{c},{d}],[{a},{d}],[{a},{b}]]]}}'


def build_place(db: Session) -> Place:
    """Communities 东埠 and 西城, grids 东埠一网格 and 西城一网格, departments 城管 and 住建, a category."""
    tag = uuid.uuid4().hex[:6]
    c1 = Community(code=f"DB{tag}", name="东埠社区", created_at=T0)
    c2 = Community(code=f"XC{tag}", name="西城社区", created_at=T0)
    db.add_all([c1, c2])
    db.flush()
    grids = []
    for i, (c, name) in enumerate(((c1, "东埠一网格"), (c2, "西城一网格"))):
        lng, lat = 120.30 + i * 0.01, 36.06
        g = Grid(
            community_id=c.id,
            code=f"G{i}{tag}",
            name=name,
            boundary=SQUARE.format(a=lng, b=lat, c=lng + 0.01, d=lat + 0.01),
            created_at=T0,
        )
        db.add(g)
        grids.append(g)
    d1 = Department(code=f"CG{tag}", name="城管", created_at=T0)
    d2 = Department(code=f"ZJ{tag}", name="住建", created_at=T0)
    db.add_all([d1, d2])
    db.flush()
    cat = ServiceCategory(code=f"lamp{tag}", name="路灯不亮", department_id=d1.id)
    db.add(cat)
    db.flush()
    return Place((c1.id, c2.id), (grids[0].id, grids[1].id), (d1.id, d2.id), cat.id)
