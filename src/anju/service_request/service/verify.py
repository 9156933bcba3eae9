"""群众验单: the resident (by the follow secret) or a grid worker on their behalf rates the result and
closes the request, or says it is not solved (back to the same department, counted as 返工); the
office closes published requests whose verification window passed (:func:`auto_close`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.errors import NotFound
from anju.service_request import rules
from anju.service_request.models import ServiceRequest
from anju.service_request.service._common import (
    RESIDENT,
    SYSTEM,
    Acting,
    acting,
    check_version,
    due,
    fail,
    load,
    transition,
)
from anju.service_request.service.submit import secret_matches


def _who(db: Session, actor: Actor | None, req: ServiceRequest, secret: str | None) -> tuple[Actor, Acting]:
    if actor is None:
        if secret is None or not secret_matches(req, secret):
            raise NotFound("诉求编号或查询码不正确", "wrong code or secret")
        return RESIDENT, Acting("resident", label="居民")
    return actor, acting(db, actor, req)


def verify(
    db: Session,
    *,
    actor: Actor | None,
    request_id: int,
    version: int | None,
    rating: int,
    resolution: str = "solved",
    comment: str = "",
    secret: str | None = None,
    now: datetime | None = None,
) -> ServiceRequest:
    """验单: rate 1-5 with the resolution solved or partly; closes the request. ``actor`` None = the
    resident, who must give the follow ``secret``."""
    now = now or utcnow()
    req = load(db, request_id, lock=True)
    actor_, who = _who(db, actor, req, secret)
    check_version(req, version)
    rules.check_action(req.status, "verify", who.kind)
    if not rules.MIN_RATING <= rating <= rules.MAX_RATING:
        raise fail("rating", "评分须为 1 到 5")
    if resolution not in ("solved", "partly"):
        raise fail("resolution", "验单结果须为“已解决”或“部分解决”（未解决请选择重新办理）")
    req.rating = rating
    req.resolution = resolution
    req.closed_at = now
    req.due_at = None
    transition(
        db,
        req=req,
        action="verify",
        who=who,
        actor=actor_,
        now=now,
        reason=comment,
        data={"rating": rating, "resolution": resolution},
    )
    return req


def reopen(
    db: Session,
    *,
    actor: Actor | None,
    request_id: int,
    version: int | None,
    reason: str,
    rating: int | None = None,
    secret: str | None = None,
    now: datetime | None = None,
) -> ServiceRequest:
    """Not solved: back to the same department in progress with a new handling deadline, counted as
    返工 (``reopen_count``)."""
    now = now or utcnow()
    req = load(db, request_id, lock=True)
    actor_, who = _who(db, actor, req, secret)
    check_version(req, version)
    rules.check_action(req.status, "reopen", who.kind)
    if rating is not None and not rules.MIN_RATING <= rating <= rules.MAX_RATING:
        raise fail("rating", "评分须为 1 到 5")
    if not reason.strip():
        raise fail("reason", "请说明未解决的情况")
    req.reopen_count += 1
    req.resolution = "unsolved"
    req.rating = rating
    req.published_at = None
    req.due_at = due(db, req, "handle", now)
    req.escalation_level = 0
    transition(
        db,
        req=req,
        action="reopen",
        who=who,
        actor=actor_,
        now=now,
        reason=reason,
        data={"rating": rating} if rating is not None else None,
    )
    return req


def auto_close(db: Session, *, request_id: int, now: datetime | None = None) -> ServiceRequest | None:
    """Close a published request whose verification window passed without an answer (核查 by the
    office); None when it is no longer due (someone verified meanwhile, or not yet due)."""
    now = now or utcnow()
    req = load(db, request_id, lock=True)
    if req.status != "published" or req.due_at is None or req.due_at > now:
        return None
    req.closed_at = now
    req.resolution = req.resolution or ""
    due_at = req.due_at
    req.due_at = None
    transition(
        db,
        req=req,
        action="auto_close",
        who=Acting("system", label="系统"),
        actor=SYSTEM,
        now=now,
        data={"window_ended_at": due_at.isoformat()},
    )
    return req
