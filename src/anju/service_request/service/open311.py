"""Open311 GeoReport v2 use cases: the service list and definitions, API keys, filing a request
for an Open311 client and reading requests as the specification shapes them.

Every function returns the specification's value tree (see :mod:`anju.service_request.open311`)
or raises :class:`~anju.service_request.open311.Open311Error` (404 / 403 / 400). Personal data
never leaves: the reporter's name, phone and e-mail are not in any record returned.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.core.dates import SHANGHAI, utcnow
from anju.errors import DomainError, NotFound, ValidationFailed
from anju.service_request import open311 as o
from anju.service_request import rules
from anju.service_request.models import Department, ServiceApiKey, ServiceCategory, ServiceRequest
from anju.service_request.service.submit import Location, submit

#: GET /requests answers at most this many records, over at most this many days.
MAX_RECORDS = 1000
MAX_SPAN = timedelta(days=90)
#: Key under which a posted media_url is kept beside the attribute answers.
MEDIA_KEY = "_media_url"


@dataclass(frozen=True, slots=True)
class NewKey:
    """A created API key: its row id, name, and the key itself (shown once; only its hash is kept)."""

    id: int
    name: str
    key: str


def key_hash(key: str) -> str:
    """SHA-256 (hex) of an API key, as kept in ``service_api_key.key_hash``."""
    return hashlib.sha256(key.strip().encode("utf-8")).hexdigest()


def add_key(db: Session, *, name: str, now: datetime | None = None) -> NewKey:
    """A new API key for the Open311 client ``name``."""
    name = name.strip()
    if not name or len(name) > 64:
        raise ValidationFailed("客户端名称须为 1 到 64 个字", "name must be 1-64 characters")
    key = secrets.token_urlsafe(24)
    row = ServiceApiKey(name=name, key_hash=key_hash(key), active=True, created_at=now or utcnow())
    db.add(row)
    db.flush()
    return NewKey(row.id, name, key)


def list_keys(db: Session) -> list[ServiceApiKey]:
    """All API keys (hashes only), oldest first."""
    return list(db.scalars(select(ServiceApiKey).order_by(ServiceApiKey.id)))


def revoke_key(db: Session, *, key_id: int) -> ServiceApiKey:
    """Deactivate a key (kept: requests filed with it still name it)."""
    row = db.get(ServiceApiKey, key_id)
    if row is None:
        raise NotFound(f"API 密钥（编号 {key_id}）不存在", "no such key")
    row.active = False
    return row


def check_key(db: Session, key: str) -> ServiceApiKey:
    """The active key ``key``; 403 when it is missing, unknown or revoked."""
    if not key.strip():
        raise o.Open311Error(o.FORBIDDEN, "缺少 api_key")
    row = db.scalar(select(ServiceApiKey).where(ServiceApiKey.key_hash == key_hash(key)))
    if row is None or not row.active:
        raise o.Open311Error(o.FORBIDDEN, "api_key 无效或已停用")
    return row


def _categories(db: Session) -> list[ServiceCategory]:
    return list(
        db.scalars(
            select(ServiceCategory)
            .where(ServiceCategory.active.is_(True))
            .order_by(ServiceCategory.sort, ServiceCategory.code)
        )
    )


def _definition_of(cat: ServiceCategory) -> list[dict[str, Any]]:
    try:
        raw = json.loads(cat.attributes or "[]")
    except ValueError:
        raw = []
    return o.normalise_attributes(raw)


def services(db: Session) -> list[dict[str, Any]]:
    """GET services: every active category as an Open311 service (``metadata`` true when it has
    attributes; all ``realtime``: a request id is returned at once)."""
    return [
        {
            "service_code": c.code,
            "service_name": c.name,
            "description": c.description,
            "metadata": bool(_definition_of(c)),
            "type": "realtime",
            "keywords": c.keywords,
            "group": c.group,
        }
        for c in _categories(db)
    ]


def _category_by_code(db: Session, code: str) -> ServiceCategory | None:
    return db.scalar(
        select(ServiceCategory).where(ServiceCategory.code == code, ServiceCategory.active.is_(True))
    )


def definition(db: Session, *, service_code: str) -> dict[str, Any]:
    """GET services/{service_code}: the service definition; 404 for an unknown code."""
    cat = _category_by_code(db, service_code)
    if cat is None:
        raise o.Open311Error(o.NOT_FOUND, f"服务“{service_code}”不存在")
    return {"service_code": cat.code, "attributes": _definition_of(cat)}


def _decimal(name: str, value: str, low: int, high: int) -> Decimal:
    try:
        d = Decimal(value.strip())
    except InvalidOperation:
        raise o.Open311Error(o.BAD_REQUEST, f"{name}：“{value}”不是数字") from None
    if not d.is_finite() or not Decimal(low) <= d <= Decimal(high):
        raise o.Open311Error(o.BAD_REQUEST, f"{name} 须在 {low} 到 {high} 之间")
    return d.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def create(
    db: Session,
    *,
    api_key: str,
    form: Mapping[str, str],
    attributes: Mapping[str, list[str]],
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """POST requests: file a request for an Open311 client. ``form`` holds the specification's
    fields (service_code, lat, long, address_string, address_id, description, first_name,
    last_name, phone, email, media_url ...), ``attributes`` the ``attribute[code]`` answers.
    Needs a valid API key (403), a known service_code and a location (400). The reporter's name
    and phone are kept private; the e-mail is not kept (there is nowhere private to keep it).
    Answers the list of one {service_request_id, service_notice, account_id}."""
    key = check_key(db, api_key)
    for name, value in [*form.items(), *((f"attribute[{c}]", v) for c, vs in attributes.items() for v in vs)]:
        allowed = "\n\r\t" if name == "description" else ""
        if any(ord(ch) < 32 and ch not in allowed for ch in value) or "\x7f" in value:
            raise o.Open311Error(o.BAD_REQUEST, f"{name}：含有控制字符")
    code = form.get("service_code", "").strip()
    if not code:
        raise o.Open311Error(o.BAD_REQUEST, "缺少 service_code")
    cat = _category_by_code(db, code)
    if cat is None:
        raise o.Open311Error(o.BAD_REQUEST, f"service_code“{code}”不存在")
    lat_s, long_s = form.get("lat", "").strip(), form.get("long", "").strip()
    address = form.get("address_string", "").strip() or form.get("address_id", "").strip()
    if bool(lat_s) != bool(long_s):
        raise o.Open311Error(o.BAD_REQUEST, "lat 和 long 须同时提供")
    if not lat_s and not address:
        raise o.Open311Error(o.BAD_REQUEST, "须提供位置：lat 与 long、address_string 或 address_id")
    lat = _decimal("lat", lat_s, -90, 90) if lat_s else None
    lng = _decimal("long", long_s, -180, 180) if long_s else None
    answers = o.check_answers(_definition_of(cat), attributes)
    media = form.get("media_url", "").strip()
    if media:
        if not media.startswith(("http://", "https://")) or len(media) > 500:
            raise o.Open311Error(o.BAD_REQUEST, "media_url 须为 http(s) 地址，最多 500 字")
        answers[MEDIA_KEY] = media
    description = form.get("description", "").strip() or cat.name
    # Chinese order: family name (last_name) first.
    name = (form.get("last_name", "").strip() + form.get("first_name", "").strip())[:64]
    try:
        filed = submit(
            db,
            actor=None,
            category_id=cat.id,
            description=description,
            location=Location(lng=lng, lat=lat, address=address, extra=answers),
            reporter_name=name,
            reporter_phone=form.get("phone", "").strip(),
            now=now,
            api_key_id=key.id,
        )
    except DomainError as exc:
        raise o.Open311Error(
            exc.http_status if exc.http_status in (403, 404) else o.BAD_REQUEST, exc.message_zh
        ) from None
    return [{"service_request_id": filed.request.code, "service_notice": "", "account_id": None}]


def _record(req: ServiceRequest, cat: ServiceCategory, dep: str) -> dict[str, Any]:
    status = rules.OPEN311_STATUS.get(req.status, "open")
    try:
        extra = json.loads(req.attributes or "{}")
    except ValueError:
        extra = {}
    media = extra.get(MEDIA_KEY) if isinstance(extra, dict) else None
    return {
        "service_request_id": req.code,
        "status": status,
        "status_notes": req.status_note or req.result,
        "service_name": cat.name,
        "service_code": cat.code,
        "description": req.description,
        "agency_responsible": dep,
        "service_notice": "",
        "requested_datetime": req.submitted_at,
        # A closed request's last update is its close; a rejected or merged one was closed when it
        # was refused (the last change of the row).
        "updated_datetime": req.closed_at if req.closed_at is not None else req.updated_at,
        "expected_datetime": req.close_due_at,
        "address": req.address,
        "address_id": "",
        "zipcode": "",
        "lat": req.lat,
        "long": req.lng,
        "media_url": media if isinstance(media, str) else "",
    }


def _records(db: Session, rows: list[ServiceRequest]) -> list[dict[str, Any]]:
    cats = {
        c.id: c
        for c in db.scalars(
            select(ServiceCategory).where(ServiceCategory.id.in_({r.category_id for r in rows}))
        )
    }
    dep_ids = {r.department_id for r in rows if r.department_id is not None}
    deps: dict[int, str] = {
        i: n for i, n in db.execute(select(Department.id, Department.name).where(Department.id.in_(dep_ids)))
    }
    return [
        _record(r, cats[r.category_id], deps.get(r.department_id, "") if r.department_id else "")
        for r in rows
    ]


def _instant(name: str, value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise o.Open311Error(
            o.BAD_REQUEST, f"{name}：“{value}”不是 ISO 8601 时间（如 2026-12-05T09:00:00+08:00）"
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=SHANGHAI)


def _codes(value: str) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()]


def search(db: Session, *, params: Mapping[str, str], now: datetime | None = None) -> list[dict[str, Any]]:
    """GET requests. ``service_request_id`` (comma-separated) overrides every other filter;
    otherwise ``service_code`` (comma-separated), ``start_date``/``end_date`` (requested datetime,
    a span of at most 90 days; default the 90 days up to now), ``status`` (open, closed or both).
    Newest first, at most 1,000 records."""
    ids = _codes(params.get("service_request_id", ""))
    if ids:
        if len(ids) > MAX_RECORDS:
            raise o.Open311Error(o.BAD_REQUEST, f"service_request_id 最多 {MAX_RECORDS} 个")
        rows = list(
            db.scalars(
                select(ServiceRequest)
                .where(ServiceRequest.code.in_(ids))
                .order_by(ServiceRequest.submitted_at.desc(), ServiceRequest.id.desc())
            )
        )
        return _records(db, rows)
    q = select(ServiceRequest)
    codes = _codes(params.get("service_code", ""))
    if codes:
        found: dict[str, int] = {
            c: i
            for c, i in db.execute(
                select(ServiceCategory.code, ServiceCategory.id).where(ServiceCategory.code.in_(codes))
            )
        }
        unknown = [c for c in codes if c not in found]
        if unknown:
            raise o.Open311Error(o.BAD_REQUEST, f"service_code“{unknown[0]}”不存在")
        q = q.where(ServiceRequest.category_id.in_(sorted(found.values())))
    start_s, end_s = params.get("start_date", "").strip(), params.get("end_date", "").strip()
    start = _instant("start_date", start_s) if start_s else None
    end = _instant("end_date", end_s) if end_s else None
    if start is None and end is None:
        end = now or utcnow()
    if start is None:
        assert end is not None
        start = end - MAX_SPAN
    if end is None:
        end = start + MAX_SPAN
    if end < start:
        raise o.Open311Error(o.BAD_REQUEST, "end_date 早于 start_date")
    if end - start > MAX_SPAN:
        raise o.Open311Error(o.BAD_REQUEST, "start_date 到 end_date 最多 90 天")
    q = q.where(ServiceRequest.submitted_at >= start, ServiceRequest.submitted_at <= end)
    wanted = set(_codes(params.get("status", "")))
    if wanted - {"open", "closed"}:
        raise o.Open311Error(o.BAD_REQUEST, "status 只能是 open 或 closed")
    if wanted == {"open"}:
        q = q.where(ServiceRequest.status.in_(sorted(rules.OPEN)))
    elif wanted == {"closed"}:
        q = q.where(ServiceRequest.status.in_(sorted(rules.FINAL)))
    rows = list(
        db.scalars(
            q.order_by(ServiceRequest.submitted_at.desc(), ServiceRequest.id.desc()).limit(MAX_RECORDS)
        )
    )
    return _records(db, rows)


def one(db: Session, *, service_request_id: str) -> list[dict[str, Any]]:
    """GET requests/{id}: a list of one record; 404 for an unknown id."""
    req = db.scalar(select(ServiceRequest).where(ServiceRequest.code == service_request_id.strip()))
    if req is None:
        raise o.Open311Error(o.NOT_FOUND, f"诉求“{service_request_id}”不存在")
    return _records(db, [req])
