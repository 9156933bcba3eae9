"""Household service part: attachments (photos, scans, documents) of a household's file, stored
content-addressed with their checksum (see the package docstring).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy.orm import Session

from anju import uploads as upload_policy
from anju.config import get_settings
from anju.core import uploads as core_uploads
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.errors import Conflict, ValidationFailed
from anju.household.models import (
    Attachment,
)
from anju.household.service.base import _created, _load, _load_child, _require_reason, _void
from anju.identity.service import DataScope

__all__ = [
    "ALLOWED_ATTACHMENT_TYPES",
    "ATTACHMENT_KINDS",
    "add_attachment",
    "attachment_path",
    "get_attachment",
    "read_stored_file",
    "store_file",
    "void_attachment",
]


ALLOWED_ATTACHMENT_TYPES = {  # by sniffed content (anju.core.uploads.ATTACHMENT_TYPES)
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}
ATTACHMENT_KINDS = {
    "photo": "现场照片",
    "certificate": "权证扫描件",
    "id_card": "身份证件",
    "survey": "调查表",
    "other": "其他",
}


def attachment_path(sha256: str) -> Path:
    """Where an attachment's bytes live: ``<data>/attachments/ab/abcdef...``."""
    return get_settings().attachment_dir / sha256[:2] / sha256


def store_file(content: bytes) -> str:
    """Keep ``content`` in the content-addressed store (after its inspection) and return its
    SHA-256. Other domains keep their images here too (a flat type's plan)."""
    digest = hashlib.sha256(content).hexdigest()
    path = attachment_path(digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(content)
        tmp.replace(path)  # content-addressed: a rolled-back request leaves only an unreferenced file
    return digest


def read_stored_file(sha256: str) -> bytes:
    """The bytes kept under ``sha256``, checksum verified (409 ``checksum_mismatch``)."""
    data = attachment_path(sha256).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise Conflict(
            "附件文件校验失败，可能已被篡改", "attachment checksum mismatch", code="checksum_mismatch"
        )
    return data


def add_attachment(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    filename: str,
    content_type: str,
    content: bytes,
    kind: str = "other",
) -> Attachment:
    """Store a photo, scan or document for a household (content-addressed, checksum kept); audited.

    The type is taken from the content (:func:`anju.core.uploads.inspect_attachment`): PNG, JPEG,
    GIF and WebP images within the pixel limits, PDF, .docx and .xlsx; a declared ``content_type``
    that disagrees with the content is refused, and so is anything else (HTML, SVG, programs).
    The sniffed type is stored and served.
    """
    h = _load(session, scope, household_id)
    if kind not in ATTACHMENT_KINDS:
        raise ValidationFailed(
            "附件有误：附件类别无效",
            "invalid attachment kind",
            details=[{"field": "kind", "message": "附件类别无效"}],
        )
    filename = core_uploads.safe_filename(filename)
    content_type = upload_policy.inspect_attachment(content, filename, content_type).content_type
    digest = store_file(content)
    a = Attachment(
        household_id=h.id,
        kind=kind,
        filename=filename[:255],
        content_type=content_type,
        size=len(content),
        sha256=digest,
        uploaded_by=actor.username,
        uploaded_at=utcnow(),
    )
    _created(
        session,
        actor,
        h,
        a,
        entity="attachment",
        changes={
            "filename": [None, a.filename],
            "sha256": [None, digest],
            "size": [None, a.size],
            "kind": [None, kind],
        },
        reason="",
    )
    return a


def get_attachment(session: Session, *, scope: DataScope, attachment_id: int) -> tuple[Attachment, bytes]:
    """An attachment and its bytes, checksum verified."""
    a, _h = _load_child(session, scope, Attachment, attachment_id, "附件")
    return a, read_stored_file(a.sha256)


def void_attachment(
    session: Session, *, actor: Actor, scope: DataScope, attachment_id: int, reason: str
) -> None:
    """Void an attachment (the file is kept); reason required."""
    _require_reason(reason)
    a, h = _load_child(session, scope, Attachment, attachment_id, "附件")
    _void(session, actor, h=h, obj=a, entity="attachment", reason=reason)
