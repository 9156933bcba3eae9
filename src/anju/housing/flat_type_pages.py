"""HTML routes of flat types (户型): the form on the estate page that renames a type and uploads its
plan image, and the image itself for pages (estate, console, calculator)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.responses import Response

from anju.errors import DomainError
from anju.housing import service as housing_service
from anju.housing.flat_type_api import plan_response
from anju.housing.pages import estate_failed
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath

router = APIRouter(include_in_schema=False)
READ = requires(Permission.PROJECT_READ)
MANAGE = requires(Permission.HOUSING_MANAGE)


@router.post("/flat-types/{flat_type_id}")
async def save_flat_type(
    flat_type_id: IdPath, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """Rename the flat type and/or upload its plan; back to the estate page (or its error there)."""
    t = housing_service.get_flat_type(db, flat_type_id=flat_type_id)
    form = await request.form()
    upload = form.get("plan")
    plan = None
    if isinstance(upload, UploadFile) and (upload.filename or upload.size):
        plan = housing_service.PlanUpload(
            upload.filename or "", upload.content_type or "", await upload.read()
        )
    try:
        housing_service.update_flat_type(
            db,
            actor=user.actor(client_ip(request)),
            flat_type_id=flat_type_id,
            name=str(form.get("name", "")),
            plan=plan,
        )
    except DomainError as exc:
        return estate_failed(db, request, t.estate_id, exc)
    return RedirectResponse(f"/estates/{t.estate_id}?ok=flat_type#flat-types", status_code=303)


@router.get("/flat-types/{flat_type_id}/plan")
def plan_image(
    flat_type_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """The flat type's plan image (404 when it has none)."""
    _t, data, media_type = housing_service.flat_type_plan(db, flat_type_id=flat_type_id)
    return plan_response(data, media_type)
