"""Household file pages part: attachments (photos and scans) uploaded, downloaded by their sniffed
content type, and voided (kept on disk and in the history)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.household import service as household_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath

router = APIRouter(include_in_schema=False)


@router.post("/households/{household_id}/attachments")
async def attachment_upload(
    household_id: IdPath,
    request: Request,
    file: UploadFile = File(...),
    kind: str = Form("other"),
    user: CurrentUser = Depends(requires(Permission.ATTACHMENT_WRITE)),
    db: Session = Depends(get_db),
) -> Response:
    """Upload a photo or scan to the household file."""
    content = await file.read()
    household_service.add_attachment(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        household_id=household_id,
        filename=file.filename or "file",
        content_type=file.content_type or "",
        content=content,
        kind=kind,
    )
    return RedirectResponse(f"/households/{household_id}?tab=attachments", status_code=303)


@router.get("/attachments/{attachment_id}")
def attachment_download(
    attachment_id: IdPath,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """Download an attachment (checksum verified), typed by its sniffed content: only images are
    shown inline; everything else (and anything not allow-listed, as octet-stream) is a download."""
    from urllib.parse import quote

    from anju.core.uploads import serving

    a, data = household_service.get_attachment(db, scope=user.scope, attachment_id=attachment_id)
    media_type, inline = serving(data)
    disposition = "inline" if inline else "attachment"
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(a.filename, safe='')}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


@router.post("/attachments/{attachment_id}/void")
def attachment_void(
    attachment_id: IdPath,
    request: Request,
    reason: str = Form(""),
    user: CurrentUser = Depends(requires(Permission.ATTACHMENT_WRITE)),
    db: Session = Depends(get_db),
) -> Response:
    """Void an attachment (kept on disk and in the history)."""
    a, _ = household_service.get_attachment(db, scope=user.scope, attachment_id=attachment_id)
    household_service.void_attachment(
        db, actor=user.actor(client_ip(request)), scope=user.scope, attachment_id=attachment_id, reason=reason
    )
    return RedirectResponse(f"/households/{a.household_id}?tab=attachments", status_code=303)
