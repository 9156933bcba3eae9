"""居民点单: a resident (public page, no account) or a grid worker on their behalf files a request;
before that, :func:`nearby` lists the same category's requests close by so a resident can follow one
instead of filing a duplicate."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from anju import uploads as upload_policy
from anju.config import get_settings
from anju.core.actor import Actor
from anju.core.dates import SHANGHAI, utcnow
from anju.errors import TooManyAttempts, ValidationFailed
from anju.grid import service as grid_service
from anju.service_request import rules
from anju.service_request.models import RequestPhoto, ServiceRequest
from anju.service_request.service._common import RESIDENT, Acting, category, due, fail, transition

MAX_PHOTOS = 6
MAX_PHOTO_BYTES = 10 * 1024 * 1024
#: Half the side of the square searched by :func:`nearby`, in degrees (~100 m in Chinese latitudes).
NEAR_LAT = Decimal("0.0009")
NEAR_LNG = Decimal("0.0011")
#: How long a closed request still shows in :func:`nearby`.
RECENTLY_CLOSED = timedelta(days=30)
_SECRET_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L


@dataclass(frozen=True, slots=True)
class Photo:
    """A photo as uploaded: bytes, the file name and declared type."""

    content: bytes
    filename: str = ""
    content_type: str = ""


@dataclass(frozen=True, slots=True)
class Submitted:
    """A filed request and its follow secret (shown once, only its hash is kept)."""

    request: ServiceRequest
    secret: str


@dataclass(frozen=True, slots=True)
class Location:
    """Where: a point (lng/lat, WGS-84 degrees) and/or an address."""

    lng: Decimal | None = None
    lat: Decimal | None = None
    address: str = ""
    grid_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def address_digest(address: str) -> str:
    """A salted digest of a network address: enough to count one sender's requests, useless to
    recover the address (the salt is the installation's secret key)."""
    key = get_settings().secret_key.encode()
    return hmac.new(key, ("addr:" + address).encode(), hashlib.sha256).hexdigest()[:40]


def check_submit_rate(db: Session, *, address: str, now: datetime | None = None) -> None:
    """Refuse (429, in Chinese) a public submission from an address that filed
    ``public_requests_per_hour`` requests in the last hour or ``public_requests_per_day`` in the
    last day (settings; 0 turns a limit off)."""
    if not address:
        return
    now = now or utcnow()
    settings = get_settings()
    digest = address_digest(address)
    for limit, window, words in (
        (settings.public_requests_per_hour, timedelta(hours=1), "一小时"),
        (settings.public_requests_per_day, timedelta(days=1), "一天"),
    ):
        if limit <= 0:
            continue
        count = db.scalar(
            select(func.count())
            .select_from(ServiceRequest)
            .where(ServiceRequest.submit_address == digest, ServiceRequest.submitted_at > now - window)
        )
        if int(count or 0) >= limit:
            raise TooManyAttempts(
                f"同一网络{words}内最多提交 {limit} 件诉求，请稍后再试；紧急情况请直接拨打网格员电话",
                f"at most {limit} requests per {window} from one address",
            )


def hash_secret(secret: str) -> str:
    """SHA-256 (hex) of a follow secret, as kept in ``follow_hash``."""
    return hashlib.sha256(secret.strip().upper().encode()).hexdigest()


def secret_matches(req: ServiceRequest, secret: str) -> bool:
    """Whether ``secret`` is the follow secret of ``req`` (constant time)."""
    return bool(req.follow_hash) and hmac.compare_digest(req.follow_hash, hash_secret(secret))


def new_secret() -> str:
    """A follow secret a resident can type: 8 characters, no look-alikes."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(8))


def _check_point(lng: Decimal | None, lat: Decimal | None) -> None:
    if (lng is None) != (lat is None):
        raise fail("lng" if lng is None else "lat", "经度和纬度须同时填写")
    if lng is not None and not Decimal(-180) <= lng <= Decimal(180):
        raise fail("lng", "经度须在 -180 到 180 之间")
    if lat is not None and not Decimal(-90) <= lat <= Decimal(90):
        raise fail("lat", "纬度须在 -90 到 90 之间")


def inspect_photos(photos: list[Photo]) -> list[tuple[Photo, str]]:
    """Check each photo by its content (JPEG/PNG/GIF/WebP within the pixel limits, at most
    :data:`MAX_PHOTO_BYTES`, at most :data:`MAX_PHOTOS`); returns (photo, content type) pairs."""
    if len(photos) > MAX_PHOTOS:
        raise fail("photos", f"最多上传 {MAX_PHOTOS} 张照片（收到 {len(photos)} 张）")
    out = []
    for n, p in enumerate(photos, start=1):
        name = p.filename or f"第{n}张照片"
        if len(p.content) > MAX_PHOTO_BYTES:
            raise fail("photos", f"照片“{name}”超过 {MAX_PHOTO_BYTES // (1024 * 1024)} MB")
        try:
            check = upload_policy.inspect_attachment(p.content, name, p.content_type)
        except ValidationFailed as exc:
            raise ValidationFailed(
                f"照片“{name}”：{exc.message_zh}",
                exc.message_en,
                code=exc.code,
                details=[{"field": "photos", "message": f"“{name}”：{exc.message_zh}"}],
            ) from None
        if not check.content_type.startswith("image/"):
            raise fail("photos", f"“{name}”不是图片（只接受 JPEG、PNG、GIF、WebP 照片）")
        out.append((p, check.content_type))
    return out


def store_photos(
    db: Session, *, request_id: int, stage: str, photos: list[tuple[Photo, str]], now: datetime
) -> None:
    """Keep inspected photos of a request."""
    for p, content_type in photos:
        db.add(
            RequestPhoto(
                request_id=request_id,
                stage=stage,
                filename=(p.filename or "photo")[:255],
                content_type=content_type,
                size=len(p.content),
                sha256=hashlib.sha256(p.content).hexdigest(),
                data=p.content,
                uploaded_at=now,
            )
        )


def _next_code(db: Session, now: datetime) -> str:
    """The next public code of the day (Shanghai). The day's last code is read locking (FOR UPDATE:
    a current read, also under MariaDB's repeatable read), so a filer that lost a race to the unique
    index sees the winner's code on its retry."""
    prefix = now.astimezone(SHANGHAI).strftime("%Y%m%d") + "-"
    last = db.scalar(
        select(ServiceRequest.code)
        .where(ServiceRequest.code.like(prefix + "%"))
        .order_by(ServiceRequest.code.desc())
        .limit(1)
        .with_for_update()
    )
    n = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{n:04d}"


def nearby(
    db: Session,
    *,
    category_id: int,
    lng: Decimal,
    lat: Decimal,
    now: datetime | None = None,
    limit: int = 20,
) -> list[ServiceRequest]:
    """Open requests, and those closed in the last 30 days, of the same category within about
    100 m of (lng, lat): a square around the point (an index-friendly range query), nearest first."""
    now = now or utcnow()
    rows = db.scalars(
        select(ServiceRequest)
        .where(
            ServiceRequest.category_id == category_id,
            ServiceRequest.lng.between(lng - NEAR_LNG, lng + NEAR_LNG),
            ServiceRequest.lat.between(lat - NEAR_LAT, lat + NEAR_LAT),
            or_(
                ServiceRequest.status.in_(sorted(rules.OPEN)),
                (ServiceRequest.status == "closed") & (ServiceRequest.closed_at >= now - RECENTLY_CLOSED),
            ),
        )
        .order_by(ServiceRequest.submitted_at.desc(), ServiceRequest.id.desc())
        .limit(200)
    ).all()

    def dist(r: ServiceRequest) -> Decimal:
        return abs(Decimal(r.lng or 0) - lng) + abs(Decimal(r.lat or 0) - lat)

    return sorted(rows, key=lambda r: (dist(r), -r.id))[:limit]


def _placement(db: Session, location: Location) -> tuple[int | None, int | None]:
    """The grid (and its community) of a request: the one given, else the one the point lies in."""
    if location.grid_id is not None:
        grid = grid_service.get_grid(db, location.grid_id)
        return grid.id, grid.community_id
    if location.lng is None or location.lat is None:
        return None, None
    found = grid_service.grid_at(db, lng=location.lng, lat=location.lat)
    return (found.id, found.community_id) if found is not None else (None, None)


def submit(
    db: Session,
    *,
    actor: Actor | None,
    category_id: int,
    description: str,
    location: Location,
    reporter_name: str = "",
    reporter_phone: str = "",
    photos: list[Photo] | None = None,
    now: datetime | None = None,
    api_key_id: int | None = None,
    client_address: str = "",
) -> Submitted:
    """File a request (居民点单). ``actor`` None = a resident on the public page; a grid worker's
    actor files on a resident's behalf (channel ``grid_worker``); ``api_key_id`` = an Open311 client
    filed it for a resident (channel ``open311``). Returns the request with its
    public code and the follow secret (shown once). The accepting step's deadline starts now.
    ``client_address`` (the public form's network address) is kept as a digest for
    :func:`check_submit_rate`."""
    now = now or utcnow()
    cat = category(db, category_id)
    description = description.strip()
    if not description:
        raise fail("description", "请描述诉求内容")
    if len(description) > 2000:
        raise fail("description", "诉求内容最多 2000 字")
    _check_point(location.lng, location.lat)
    address = location.address.strip()
    if location.lng is None and not address:
        raise fail("address", "请在地图上选点或填写地址")
    if len(address) > 200:
        raise fail("address", "地址最多 200 字")
    name, phone = reporter_name.strip(), reporter_phone.strip()
    if len(name) > 64:
        raise fail("reporter_name", "姓名最多 64 字")
    if phone and not (phone.replace("-", "").replace(" ", "").isdigit() and 7 <= len(phone) <= 20):
        raise fail("reporter_phone", "联系电话须为 7 到 20 位数字")
    checked = inspect_photos(photos or [])
    who = (
        Acting("resident", label="居民")
        if actor is None or actor.user_id is None
        else Acting("grid_worker", label=actor.display_name)
    )
    if actor is not None and actor.user_id is not None and actor.role not in ("grid_worker", "community"):
        raise fail("actor", "只有网格员或社区受理员可以代居民提交诉求")
    grid_id, community_id = _placement(db, location)
    secret = new_secret()
    req = ServiceRequest(
        code="",
        follow_hash=hash_secret(secret),
        submit_address=address_digest(client_address) if client_address else "",
        category_id=cat.id,
        description=description,
        address=address,
        lng=location.lng,
        lat=location.lat,
        grid_id=grid_id,
        community_id=community_id,
        attributes=json.dumps(location.extra, ensure_ascii=False, sort_keys=True),
        reporter_name=name,
        reporter_phone=phone,
        channel="open311"
        if api_key_id is not None
        else "public"
        if who.kind == "resident"
        else "grid_worker",
        api_key_id=api_key_id,
        submitted_by=actor.user_id if actor is not None else None,
        status="",
        priority="routine",
        department_id=cat.department_id,
        submitted_at=now,
        updated_at=now,
    )
    req.due_at = None
    for _attempt in range(20):  # two residents filing at once may draw the same day number
        req.code = _next_code(db, now)
        try:
            with db.begin_nested():
                db.add(req)
                db.flush()
            break
        except IntegrityError:
            continue
    else:
        raise fail("code", "编号分配冲突，请重试")
    req.due_at = due(db, req, "accept", now)
    store_photos(db, request_id=req.id, stage="submit", photos=checked, now=now)
    transition(
        db,
        req=req,
        action="submit",
        who=who,
        actor=actor or RESIDENT,
        now=now,
        data={"channel": req.channel, "photos": len(checked)},
    )
    return Submitted(req, secret)
