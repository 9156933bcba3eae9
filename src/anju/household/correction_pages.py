"""Census corrections (更正导入) on the import page, and the JSON API.

The page uploads a corrected file, shows per household what changes (field, before, after) and
keeps the file, in this process's memory only, until the user confirms or it expires
(``import_file_ttl_minutes``); the confirmation plans again inside the write transaction and
writes only when every household still has the version the preview showed (else 409 and nothing
is written). A pending correction belongs to the user who uploaded it.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from anju.compensation import service as compensation_service
from anju.config import get_settings
from anju.core import uploads as core_uploads
from anju.core.dates import utcnow
from anju.errors import DomainError, NotFound, ValidationFailed
from anju.household import census
from anju.household.import_pages import _check_upload
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import WRITE_ERRORS, IdPath, error_responses
from anju.web.templating import render

router = APIRouter(include_in_schema=False)
api_router = APIRouter(tags=["census"], responses=error_responses(*WRITE_ERRORS, 413))
MAX_PENDING = 10  # files held in memory while their previews wait for a confirmation


@dataclass
class PendingCorrection:
    """A previewed correction file waiting for its confirmation."""

    id: str
    project_id: int
    user_id: int
    filename: str
    content: bytes
    versions: dict[int, int]
    created_at: datetime = field(default_factory=utcnow)


_pending: dict[str, PendingCorrection] = {}
_lock = threading.Lock()


def _keep(item: PendingCorrection) -> None:
    ttl = timedelta(minutes=get_settings().import_file_ttl_minutes)
    with _lock:
        for old in [p for p in _pending.values() if utcnow() - p.created_at > ttl]:
            _pending.pop(old.id, None)
        while len(_pending) >= MAX_PENDING:
            _pending.pop(min(_pending.values(), key=lambda p: p.created_at).id, None)
        _pending[item.id] = item


def _take(pending_id: str, user: CurrentUser, project_id: int) -> PendingCorrection:
    with _lock:
        item = _pending.get(pending_id)
        if item is None or item.user_id != user.id or item.project_id != project_id:
            raise NotFound("更正预览不存在或已过期，请重新上传", "correction preview not found")
        return _pending.pop(pending_id)


def _errors(exc: census.CensusInvalid) -> dict[str, Any]:
    return {"errors": exc.errors, "error_total": exc.total, "omitted": exc.omitted}


@router.post("/projects/{project_id}/import/corrections")
async def corrections_upload(
    project_id: IdPath,
    request: Request,
    file: UploadFile = File(...),
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_IMPORT)),
    db: Session = Depends(get_db),
) -> Response:
    """Check a corrected census file and preview per household what would change (nothing is written)."""
    project_service.get_project(db, project_id)
    content = await file.read()
    filename = core_uploads.safe_filename(file.filename or "", "census.xlsx")
    context: dict[str, Any] = {"project_id": project_id, "filename": filename}
    try:
        _check_upload(filename, content)
        plan = await run_in_threadpool(
            lambda: census.plan_corrections(
                db,
                scope=user.scope,
                project_id=project_id,
                source=content,
                filename=filename,
                policy_facts=compensation_service.declared_facts(db, project_id),
            )
        )
    except census.CensusInvalid as exc:
        return render(request, "household/corrections.html", {**context, **_errors(exc)})
    except DomainError as exc:
        return render(request, "household/corrections.html", {**context, "message": exc.message_zh})
    pending_id = ""
    if plan.households:
        pending_id = uuid.uuid4().hex
        _keep(PendingCorrection(pending_id, project_id, user.id, filename, content, plan.versions()))
    return render(request, "household/corrections.html", {**context, "plan": plan, "pending_id": pending_id})


@router.post("/projects/{project_id}/import/corrections/{pending_id}")
def corrections_apply(
    project_id: IdPath,
    pending_id: str,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_IMPORT)),
    db: Session = Depends(get_db),
) -> Response:
    """确认更正: write the previewed corrections, all or nothing, if no household changed meanwhile."""
    item = _take(pending_id, user, project_id)
    context: dict[str, Any] = {"project_id": project_id, "filename": item.filename}
    try:
        plan, summary = census.correct_census(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            project_id=project_id,
            source=item.content,
            filename=item.filename,
            seen=item.versions,
            policy_facts=compensation_service.declared_facts(db, project_id),
        )
    except census.CensusInvalid as exc:
        # a 4xx: the request's transaction is rolled back (whatever was written of the plan)
        return render(request, "household/corrections.html", {**context, **_errors(exc)}, status_code=422)
    except DomainError as exc:
        ctx = {**context, "message": exc.message_zh}
        return render(request, "household/corrections.html", ctx, status_code=exc.http_status)
    return render(request, "household/corrections.html", {**context, "plan": plan, "summary": summary})


@api_router.post("/projects/{project_id}/census/corrections")
async def corrections_api(
    project_id: IdPath,
    request: Request,
    dry_run: bool = True,
    file: UploadFile = File(...),
    versions: str = Form("", description='预览返回的 versions（JSON：{"户ID": 版本}），确认写入时必填'),
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_IMPORT)),
    db: Session = Depends(get_db),
) -> JSONResponse:
    """更正导入: preview (``dry_run=true``, the default) or apply a corrected census file.

    The preview lists per household the changed fields (before, after) and ``versions``; apply
    with ``dry_run=false`` and those ``versions``: a household changed since is a 409 and nothing
    is written. A bad cell is a 422 whose ``details`` name sheet, row and column.
    """
    content = await file.read()
    filename = core_uploads.safe_filename(file.filename or "", "census.xlsx")
    seen: dict[int, int] | None = None
    if not dry_run:
        try:
            seen = {int(k): int(v) for k, v in json.loads(versions or "null").items()}
        except (ValueError, TypeError, AttributeError):
            raise ValidationFailed(
                "确认写入须附上预览返回的 versions",
                "apply needs the versions of the preview",
                details=[{"field": "versions", "message": "须为预览返回的 JSON"}],
            ) from None
    actor = user.actor(client_ip(request))

    def run() -> tuple[census.CorrectionPlan, census.CorrectionSummary | None]:
        _check_upload(filename, content)
        return census.correct_census(
            db,
            actor=actor,
            scope=user.scope,
            project_id=project_id,
            source=content,
            filename=filename,
            seen=seen,
            dry_run=dry_run,
            policy_facts=compensation_service.declared_facts(db, project_id),
        )

    plan, summary = await run_in_threadpool(run)
    body = {**plan.as_dict(), "dry_run": dry_run, "applied": summary.as_dict() if summary else None}
    return JSONResponse(body, status_code=200 if dry_run else 201)
