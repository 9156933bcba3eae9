"""Reading requests: the office's filtered list with keyset paging (newest first), one request with
its history, a resident following by code and secret, and photos."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from anju.core.actor import Actor
from anju.core.dates import SHANGHAI
from anju.errors import NotFound
from anju.service_request import rules
from anju.service_request.models import RequestEvent, RequestPhoto, ServiceCategory, ServiceRequest
from anju.service_request.service._common import DEPARTMENT_ROLES, department_name, fail, member_departments
from anju.service_request.service.submit import secret_matches

MAX_LIMIT = 200
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The pattern of a keyset cursor (:func:`encode_cursor`).
CURSOR_PATTERN = r"^(\d{1,16}_\d{1,16})?$"


@dataclass(frozen=True, slots=True)
class Filters:
    """List filters; dates are Asia/Shanghai days of submission, both inclusive; ``status`` is a
    state of :data:`rules.STATUSES` or ``"open"`` (every state not final)."""

    status: str | None = None
    category_id: int | None = None
    grid_id: int | None = None
    department_id: int | None = None
    submitted_from: date | None = None
    submitted_to: date | None = None
    overdue: bool | None = None


@dataclass(frozen=True, slots=True)
class RequestPage:
    """One page of requests and the cursor of the next ('' at the end)."""

    items: list[ServiceRequest]
    next_cursor: str


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), SHANGHAI)


def encode_cursor(req: ServiceRequest) -> str:
    """The keyset cursor after ``req``: its submission instant (microseconds since the epoch) and id."""
    at = req.submitted_at - EPOCH
    return f"{at // timedelta(microseconds=1)}_{req.id}"


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    at, sep, rid = cursor.partition("_")
    if not (sep and at.isdigit() and rid.isdigit() and len(at) <= 16 and len(rid) <= 16):
        raise fail("cursor", "分页游标无效")
    return EPOCH + timedelta(microseconds=int(at)), int(rid)


def visible_departments(db: Session, actor: Actor) -> list[int] | None:
    """The departments whose requests ``actor`` sees: a department member only theirs; None = all."""
    if actor.role in DEPARTMENT_ROLES and actor.user_id is not None:
        return member_departments(db, actor.user_id)
    return None


def list_requests(
    db: Session, *, actor: Actor, filters: Filters, cursor: str = "", limit: int = 50
) -> RequestPage:
    """Requests matching ``filters``, newest first, ``limit`` at a time after ``cursor``."""
    limit = max(1, min(MAX_LIMIT, limit))
    q = select(ServiceRequest)
    if filters.status == "open":  # every state not yet final
        q = q.where(ServiceRequest.status.in_(sorted(rules.OPEN)))
    elif filters.status is not None:
        if filters.status not in rules.STATUSES:
            raise fail("status", f"状态“{filters.status}”不存在")
        q = q.where(ServiceRequest.status == filters.status)
    if filters.category_id is not None:
        q = q.where(ServiceRequest.category_id == filters.category_id)
    if filters.grid_id is not None:
        q = q.where(ServiceRequest.grid_id == filters.grid_id)
    if filters.department_id is not None:
        q = q.where(ServiceRequest.department_id == filters.department_id)
    if filters.submitted_from is not None:
        q = q.where(ServiceRequest.submitted_at >= _start_of(filters.submitted_from))
    if filters.submitted_to is not None:
        q = q.where(ServiceRequest.submitted_at < _start_of(filters.submitted_to + timedelta(days=1)))
    if filters.overdue is not None:
        q = q.where(
            ServiceRequest.overdue_at.is_not(None) if filters.overdue else ServiceRequest.overdue_at.is_(None)
        )
    deps = visible_departments(db, actor)
    if deps is not None:
        q = q.where(ServiceRequest.department_id.in_(deps or [-1]))
    if cursor:
        at, rid = _decode_cursor(cursor)
        q = q.where(
            or_(
                ServiceRequest.submitted_at < at,
                and_(ServiceRequest.submitted_at == at, ServiceRequest.id < rid),
            )
        )
    rows = list(
        db.scalars(q.order_by(ServiceRequest.submitted_at.desc(), ServiceRequest.id.desc()).limit(limit + 1))
    )
    more = len(rows) > limit
    items = rows[:limit]
    return RequestPage(items, encode_cursor(items[-1]) if more and items else "")


def get(db: Session, *, actor: Actor, request_id: int) -> ServiceRequest:
    """One request as the office sees it (a department member: only their department's)."""
    req = db.get(ServiceRequest, request_id)
    deps = visible_departments(db, actor)
    if req is None or (deps is not None and req.department_id not in deps):
        raise NotFound(f"诉求（编号 {request_id}）不存在", "no such request")
    return req


def history(db: Session, *, request_id: int, public_only: bool = False) -> list[RequestEvent]:
    """The history rows of a request, oldest first (``public_only``: what the resident sees)."""
    q = select(RequestEvent).where(RequestEvent.request_id == request_id)
    if public_only:
        q = q.where(RequestEvent.public.is_(True))
    return list(db.scalars(q.order_by(RequestEvent.at, RequestEvent.id)))


def by_code(db: Session, *, code: str, secret: str) -> ServiceRequest:
    """The request a resident follows with its public code and follow secret; 404 when either is wrong
    (never tell which)."""
    req = db.scalar(select(ServiceRequest).where(ServiceRequest.code == code.strip()))
    if req is None or not secret_matches(req, secret):
        raise NotFound("诉求编号或查询码不正确", "wrong code or secret")
    return req


def photos(db: Session, *, request_id: int) -> list[RequestPhoto]:
    """The photos of a request (without loading other requests'), submission first."""
    return list(
        db.scalars(
            select(RequestPhoto).where(RequestPhoto.request_id == request_id).order_by(RequestPhoto.id)
        )
    )


def names(db: Session, req: ServiceRequest) -> tuple[str, str]:
    """The names of a request's category and department ('' when none)."""
    cat = db.scalar(select(ServiceCategory.name).where(ServiceCategory.id == req.category_id)) or ""
    return cat, department_name(db, req.department_id)


def status_counts(db: Session) -> dict[str, int]:
    """How many requests are in each state (every state of the machine, 0 included)."""
    counts = dict.fromkeys(rules.STATUSES, 0)
    for status, n in db.execute(select(ServiceRequest.status, func.count()).group_by(ServiceRequest.status)):
        counts[status] = int(n)
    return counts


def id_of_code(db: Session, *, code: str, field: str = "code") -> int:
    """The id of the request with the public ``code`` (for the office's forms); 422 naming ``field``."""
    code = code.strip()
    found = db.scalar(select(ServiceRequest.id).where(ServiceRequest.code == code)) if code else None
    if found is None:
        raise fail(field, f"诉求编号“{code}”不存在" if code else "请填写诉求编号")
    return int(found)
