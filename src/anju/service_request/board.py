"""The public board (公开栏) and the map of open requests: what anyone may see of the loop.

The board lists published (晒单) and closed requests, newest result first: category, place, result,
the result photos and the rating. Never the reporter's name or phone, never the description (a
resident may have written names into it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.errors import NotFound
from anju.grid import service as grid_service
from anju.service_request import rules
from anju.service_request.models import RequestPhoto, ServiceCategory, ServiceRequest

__all__ = ["BoardItem", "BoardPage", "board", "board_photo", "open_map"]

BOARD_STATUSES = ("published", "closed")
PER_PAGE = 20
MAX_PAGE = 500  # deeper pages are not for browsing; the office has the request list


@dataclass(frozen=True, slots=True)
class BoardItem:
    """One request as the public sees it."""

    code: str
    category: str
    address: str
    status: str
    status_label: str
    result: str
    rating: int | None
    published_at: datetime | None
    closed_at: datetime | None
    photo_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BoardPage:
    items: list[BoardItem]
    page: int
    has_next: bool


def board(db: Session, *, page: int = 1, per_page: int = PER_PAGE) -> BoardPage:
    """One page of the board, newest result first (one query for the page, one for its photos)."""
    page = max(1, min(page, MAX_PAGE))
    sr = ServiceRequest
    rows = db.execute(
        select(
            sr.id, sr.code, ServiceCategory.name, sr.address, sr.status, sr.result, sr.rating,
            sr.published_at, sr.closed_at,
        )
        .join(ServiceCategory, ServiceCategory.id == sr.category_id)
        .where(sr.status.in_(BOARD_STATUSES), sr.published_at.is_not(None))
        .order_by(sr.published_at.desc(), sr.id.desc())
        .limit(per_page + 1)
        .offset((page - 1) * per_page)
    ).all()  # fmt: skip
    has_next = len(rows) > per_page
    rows = rows[:per_page]
    photos: dict[int, list[int]] = {}
    ids = [r[0] for r in rows]
    if ids:
        for pid, rid in db.execute(
            select(RequestPhoto.id, RequestPhoto.request_id)
            .where(RequestPhoto.request_id.in_(ids), RequestPhoto.stage == "publish")
            .order_by(RequestPhoto.id)
        ):
            photos.setdefault(rid, []).append(pid)
    items = [
        BoardItem(
            code=code,
            category=category,
            address=address,
            status=status,
            status_label=rules.STATUSES.get(status, status),
            result=result,
            rating=rating,
            published_at=published_at,
            closed_at=closed_at,
            photo_ids=tuple(photos.get(rid, ())),
        )
        for rid, code, category, address, status, result, rating, published_at, closed_at in rows
    ]
    return BoardPage(items=items, page=page, has_next=has_next)


def board_photo(db: Session, *, photo_id: int) -> tuple[str, bytes]:
    """A result photo of a request on the board (content type, bytes); anything else is 404."""
    row = db.execute(
        select(RequestPhoto.content_type, RequestPhoto.data)
        .join(ServiceRequest, ServiceRequest.id == RequestPhoto.request_id)
        .where(
            RequestPhoto.id == photo_id,
            RequestPhoto.stage == "publish",
            ServiceRequest.status.in_(BOARD_STATUSES),
        )
    ).first()
    if row is None:
        raise NotFound("照片不存在或未公开", "photo not found")
    return str(row[0]), bytes(row[1])


def open_map(db: Session) -> dict[str, Any]:
    """GeoJSON of the grids with the count of their open requests (one grouped query), for the map;
    the grids' shapes come from the grid service."""
    # Grouped by an expression, not the column: otherwise SQLite walks the whole grid index for the
    # GROUP BY instead of the few open rows found through (status, grid_id). 0 = no grid (ids start at 1).
    key = func.coalesce(ServiceRequest.grid_id, 0)
    open_counts: dict[int | None, int] = {
        (int(k) or None): int(n)
        for k, n in db.execute(
            select(key, func.count()).where(ServiceRequest.status.in_(tuple(rules.OPEN))).group_by(key)
        )
    }
    features = []
    for gid, name, boundary in grid_service.grid_shapes(db):
        if not boundary:
            continue
        try:
            geometry = json.loads(boundary)
        except ValueError:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": geometry,
                "properties": {"id": gid, "name": name, "open": int(open_counts.get(gid, 0))},
            }
        )
    return {
        "type": "FeatureCollection",
        "features": features,
        "unplaced": int(open_counts.get(None, 0)),
        "max_open": max((f["properties"]["open"] for f in features), default=0),
    }
