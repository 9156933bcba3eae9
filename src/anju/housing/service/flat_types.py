"""Flat types (户型): their name and plan image (户型图), which residents look at before they choose.

The plan is an image upload inspected like every attachment (type from its content, pixel limits)
and kept in the content-addressed file store by its SHA-256; only PNG, JPEG, WebP and GIF are taken
(no SVG: it can carry script). Renaming or a new plan is audited with the estate's project.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from anju import uploads as upload_policy
from anju.audit import service as audit_service
from anju.core import text
from anju.core import uploads as core_uploads
from anju.core.actor import Actor
from anju.errors import NotFound, ValidationFailed
from anju.household import service as household_service
from anju.housing.models import Estate, FlatType

__all__ = ["PLAN_TYPES", "PlanUpload", "flat_type_plan", "get_flat_type", "update_flat_type"]

PLAN_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
MAX_NAME = 64


@dataclass(frozen=True, slots=True)
class PlanUpload:
    """An uploaded plan image as the browser sent it."""

    filename: str
    content_type: str
    content: bytes


def get_flat_type(session: Session, *, flat_type_id: int) -> FlatType:
    """A flat type (404 ``not_found`` for none)."""
    t = session.get(FlatType, flat_type_id)
    if t is None:
        raise NotFound("户型不存在", "no such flat type")
    return t


def update_flat_type(
    session: Session,
    *,
    actor: Actor,
    flat_type_id: int,
    name: str | None = None,
    plan: PlanUpload | None = None,
) -> FlatType:
    """Rename a flat type and/or give it a plan image; ``None`` leaves that part as it is.
    422 naming the field for a bad name or a file that is not a PNG/JPEG/WebP/GIF image; audited."""
    t = get_flat_type(session, flat_type_id=flat_type_id)
    changes: dict[str, list[object]] = {}
    if name is not None:
        name = name.strip()
        problem = text.text_problem(name, max_len=MAX_NAME)
        if problem:
            raise ValidationFailed(
                f"户型名称{problem}",
                "invalid flat type name",
                details=[{"field": "name", "message": problem}],
            )
        if name != t.name:
            changes["name"] = [t.name, name]
            t.name = name
    if plan is not None:
        if not plan.content:
            raise ValidationFailed(
                "请选择户型图文件", "empty plan", details=[{"field": "plan", "message": "文件为空"}]
            )
        filename = core_uploads.safe_filename(plan.filename or "户型图")
        kind = upload_policy.inspect_attachment(plan.content, filename, plan.content_type).content_type
        if kind not in PLAN_TYPES:
            raise ValidationFailed(
                "户型图应为 PNG、JPEG、WebP 或 GIF 图片",
                f"plan of type {kind}",
                details=[{"field": "plan", "message": "户型图应为 PNG、JPEG、WebP 或 GIF 图片"}],
            )
        digest = household_service.store_file(plan.content)
        if digest != t.plan_sha256:
            changes["plan_sha256"] = [t.plan_sha256, digest]
            changes["plan_filename"] = [t.plan_filename, filename[:200]]
            t.plan_sha256, t.plan_filename = digest, filename[:200]
    if changes:
        session.flush()
        estate = session.get(Estate, t.estate_id)
        audit_service.record(
            session,
            actor=actor,
            action="update",
            entity="flat_type",
            entity_id=t.id,
            changes=changes,
            reason="",
            project_id=estate.project_id if estate is not None else None,
        )
    return t


def flat_type_plan(session: Session, *, flat_type_id: int) -> tuple[FlatType, bytes, str]:
    """A flat type's plan image: the type, the bytes (checksum verified) and their media type.
    404 when the type has no plan."""
    t = get_flat_type(session, flat_type_id=flat_type_id)
    if not t.plan_sha256:
        raise NotFound("该户型还没有户型图", "no plan image")
    data = household_service.read_stored_file(t.plan_sha256)
    kind = core_uploads.sniff(data)
    return (
        t,
        data,
        {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif"}.get(
            kind, "application/octet-stream"
        ),
    )
