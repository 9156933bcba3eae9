"""JSON routes of flat types (户型): rename one, upload its plan image (户型图), fetch the image."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session

from anju.housing import schemas as s
from anju.housing import service as housing_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import READ_ERRORS, WRITE_ERRORS, IdPath, error_responses

router = APIRouter(tags=["housing"], responses=error_responses(*READ_ERRORS))
READ = requires(Permission.PROJECT_READ)
MANAGE = requires(Permission.HOUSING_MANAGE)


def flat_type_read(t: Any) -> s.FlatTypeRead:
    """A flat type as the API shows it."""
    return s.FlatTypeRead(
        id=t.id,
        estate_id=t.estate_id,
        code=t.code,
        name=t.name or "",
        gross_area=t.gross_area,
        inner_area=t.inner_area,
        plan_filename=t.plan_filename,
        plan_url=f"/flat-types/{t.id}/plan" if t.plan_sha256 else None,
    )


def plan_response(data: bytes, media_type: str) -> Response:
    """The plan image, cached by the browser for a day (a new plan is a new file and name)."""
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=86400"})


@router.patch(
    "/flat-types/{flat_type_id}", response_model=s.FlatTypeRead, responses=error_responses(*WRITE_ERRORS)
)
def rename_flat_type(
    flat_type_id: IdPath,
    body: s.FlatTypeUpdate,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> s.FlatTypeRead:
    """Rename a flat type (audited)."""
    t = housing_service.update_flat_type(
        db, actor=user.actor(client_ip(request)), flat_type_id=flat_type_id, name=body.name
    )
    return flat_type_read(t)


@router.put(
    "/flat-types/{flat_type_id}/plan", response_model=s.FlatTypeRead, responses=error_responses(*WRITE_ERRORS)
)
async def upload_plan(
    flat_type_id: IdPath,
    request: Request,
    file: UploadFile = File(..., description="户型图（PNG、JPEG、WebP 或 GIF）"),
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> s.FlatTypeRead:
    """Upload the flat type's plan image (422 for anything but a PNG/JPEG/WebP/GIF image); audited."""
    plan = housing_service.PlanUpload(file.filename or "", file.content_type or "", await file.read())
    t = housing_service.update_flat_type(
        db, actor=user.actor(client_ip(request)), flat_type_id=flat_type_id, plan=plan
    )
    return flat_type_read(t)


@router.get(
    "/flat-types/{flat_type_id}/plan",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}}, "description": "户型图"}},
)
def plan_image(
    flat_type_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """The flat type's plan image (404 when it has none)."""
    _t, data, media_type = housing_service.flat_type_plan(db, flat_type_id=flat_type_id)
    return plan_response(data, media_type)
