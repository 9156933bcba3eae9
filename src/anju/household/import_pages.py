"""Census import page (upload, dry-run preview, confirm, progress) and ledger download; plus the JSON API.

An uploaded file waits for its jobs encrypted in ``<data>/imports`` (:mod:`anju.uploads`: AES-GCM
under a random key held only by the job in memory) and is parsed from the decrypted bytes in
memory. It is deleted when its job ends, however it ends: at once after a failed or refused
check, and after the import (written, invalid or failed); a checked file that is never confirmed
goes when its job is forgotten or after ``import_file_ttl_minutes``. Files of a killed process
are swept at start-up and at the next upload. The check and the import each run in a background
thread with their own unit of work; the page polls the job every 500 ms through htmx. Jobs live
in this process's memory; a job belongs to the user who started it.
"""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from anju import uploads as upload_store
from anju.agreement import service as agreement_service
from anju.audit import service as audit_service
from anju.compensation import service as compensation_service
from anju.config import get_settings
from anju.core import uploads as core_uploads
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.db.session import unit_of_work
from anju.errors import DomainError, NotFound, ValidationFailed
from anju.household import census, ledger
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser, require
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.long_work import run_long
from anju.web.params import WRITE_ERRORS, IdPath, error_responses
from anju.web.templating import render

router = APIRouter(include_in_schema=False)
api_router = APIRouter(tags=["census"], responses=error_responses(*WRITE_ERRORS, 413))

ALLOWED_SUFFIXES = (".xlsx", ".xls", ".xlsm", ".xlsb", ".ods", ".csv")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_JOBS = 50


@dataclass
class ImportJob:
    """A check or import running (or finished) in a background thread."""

    id: str
    kind: str  # check | import
    project_id: int
    user_id: int
    upload: upload_store.SealedUpload
    filename: str
    sha256: str
    state: str = "running"  # running | done | invalid | failed
    phase: str = "排队"
    done: int = 0
    total: int = 0
    errors: list[census.CellError] = field(default_factory=list)
    error_total: int = 0  # errors found, listed or only counted
    omitted: list[dict[str, Any]] = field(default_factory=list)  # per column: errors not listed
    preview: census.CensusPreview | None = None
    summary: census.ImportSummary | None = None
    message: str = ""
    started_at: Any = field(default_factory=utcnow)

    @property
    def percent(self) -> int:
        """Progress of the current phase in whole percent."""
        return int(self.done * 100 / self.total) if self.total else 0


_jobs: dict[str, ImportJob] = {}
_lock = threading.Lock()


def _in_use() -> set[Path]:
    """Files a job may still read: running jobs' and successful checks' (awaiting confirmation)."""
    with _lock:
        return {
            j.upload.path
            for j in _jobs.values()
            if j.state == "running" or (j.kind == "check" and j.state == "done")
        }


def _register(job: ImportJob) -> None:
    with _lock:
        if len(_jobs) >= MAX_JOBS:  # forget the oldest finished jobs
            for old in sorted(_jobs.values(), key=lambda j: j.started_at):
                if old.state != "running":
                    _jobs.pop(old.id, None)
                    if not any(j.upload.path == old.upload.path for j in _jobs.values()):
                        old.upload.delete()
                if len(_jobs) < MAX_JOBS:
                    break
        _jobs[job.id] = job


def get_job(job_id: str, user: CurrentUser) -> ImportJob:
    """A job of this user; other users' jobs are reported as not found."""
    job = _jobs.get(job_id)
    if job is None or job.user_id != user.id:
        raise NotFound("导入任务不存在或已过期", "import job not found")
    return job


class _Gone(Exception):
    """The sealed upload is no longer there (swept past its time) or does not open."""


def _read(upload: upload_store.SealedUpload) -> bytes:
    try:
        return upload.read()
    except (OSError, ValueError) as exc:
        raise _Gone from exc


def _run(job: ImportJob, actor: Actor) -> None:
    def progress(phase: str, done: int, total: int) -> None:
        job.phase, job.done, job.total = phase, done, total

    try:
        with unit_of_work() as db:
            outcome = census.import_census(
                db,
                actor=actor,
                project_id=job.project_id,
                source=_read(job.upload),
                filename=job.filename,
                dry_run=job.kind == "check",
                progress=progress,
                policy_facts=compensation_service.declared_facts(db, job.project_id),
            )
        job.preview = outcome.check.preview
        job.summary = outcome.summary
        job.state = "done"
    except census.CensusInvalid as exc:
        job.errors, job.error_total, job.omitted = exc.errors, exc.total, exc.omitted
        job.state = "invalid"
    except _Gone:
        job.message = "上传的文件已过期或已被清理，未写入任何数据，请重新上传"
        job.state = "failed"
    except DomainError as exc:
        job.message = exc.message_zh
        job.state = "failed"
    except Exception:  # a bug: keep the page informative, the log has the traceback
        import logging

        logging.getLogger("anju").exception("census job %s failed", job.id)
        job.message = "导入过程中发生内部错误，未写入任何数据，请联系系统管理员"
        job.state = "failed"
    finally:
        if job.state == "running":  # an exception that is not an Exception (e.g. SystemExit)
            job.state, job.message = "failed", "导入已中止，未写入任何数据"
        if job.kind == "import" or job.state != "done":
            # the import ended (however), or the check failed: nothing will read the file again
            job.upload.delete()


def start_job(
    kind: str,
    *,
    project_id: int,
    user: CurrentUser,
    ip: str,
    upload: upload_store.SealedUpload,
    filename: str,
    sha256: str,
) -> ImportJob:
    """Start a check or import of a stored (sealed) file in a background thread."""
    job = ImportJob(
        id=uuid.uuid4().hex,
        kind=kind,
        project_id=project_id,
        user_id=user.id,
        upload=upload,
        filename=filename,
        sha256=sha256,
    )
    _register(job)
    threading.Thread(
        target=_run, args=(job, user.actor(ip)), name=f"census-{job.id[:8]}", daemon=True
    ).start()
    return job


def _check_upload(filename: str, content: bytes) -> None:
    problems = []
    if not filename.lower().endswith(ALLOWED_SUFFIXES):
        problems.append({"field": "file", "message": "请上传 .xlsx、.xls 或 .csv 格式的入户调查表"})
    if not content:
        problems.append({"field": "file", "message": "文件为空"})
    limit = get_settings().max_upload_mb
    if len(content) > limit * 1024 * 1024:
        problems.append({"field": "file", "message": f"文件不能超过 {limit} MB"})
    if problems:
        raise ValidationFailed("；".join(p["message"] for p in problems), "invalid upload", details=problems)


def store_upload(filename: str, content: bytes) -> tuple[upload_store.SealedUpload, str]:
    """Keep an uploaded census file encrypted under ``<data>/imports`` for its jobs; returns it and
    its SHA-256. Stale files (of killed processes, or past their time) are swept first."""
    _check_upload(filename, content)
    upload_store.sweep(keep=_in_use())
    return upload_store.put(content), census.sha256_of(content)


# ------------------------------------------------------------------ pages


@router.get("/projects/{project_id}/import")
def import_page(
    project_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_IMPORT)),
    db: Session = Depends(get_db),
) -> Response:
    """Download the template, upload a filled one, preview, confirm."""
    project = project_service.get_project(db, project_id)
    blocks = project_service.blocks(db, project_id)
    paths = project_service.block_paths(db, project_id)
    return render(
        request,
        "household/import.html",
        {
            "project": project,
            "active": "import",
            "blocks": [(b.code, paths.get(b.id, b.name)) for b in blocks],
            "sheets": census.SHEETS,
        },
    )


@router.post("/projects/{project_id}/import")
async def import_upload(
    project_id: IdPath,
    request: Request,
    file: UploadFile = File(...),
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_IMPORT)),
    db: Session = Depends(get_db),
) -> Response:
    """Store the uploaded file and start its dry-run check; answers with the polling fragment."""
    project_service.get_project(db, project_id)
    content = await file.read()
    filename = core_uploads.safe_filename(file.filename or "", "census.xlsx")
    try:
        upload, digest = store_upload(filename, content)
    except ValidationFailed as exc:
        return render(
            request, "household/import_job.html", {"job": None, "message": exc.message_zh}, status_code=200
        )
    job = start_job(
        "check",
        project_id=project_id,
        user=user,
        ip=client_ip(request),
        upload=upload,
        filename=filename,
        sha256=digest,
    )
    return render(request, "household/import_job.html", {"job": job, "project_id": project_id})


@router.get("/imports/{job_id}")
def import_job(
    job_id: str,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_IMPORT)),
) -> Response:
    """Progress or result of a job (htmx polls this every 500 ms while it runs)."""
    job = get_job(job_id, user)
    return render(request, "household/import_job.html", {"job": job, "project_id": job.project_id})


@router.post("/imports/{job_id}/confirm")
def import_confirm(
    job_id: str,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_IMPORT)),
) -> Response:
    """确认导入: import the checked file (validated again inside the import transaction)."""
    checked = get_job(job_id, user)
    if checked.kind != "check" or checked.state != "done" or not checked.upload.path.exists():
        raise ValidationFailed("请先上传并通过校验，再确认导入", "confirm needs a successful check")
    checked.state = "confirmed"  # a second confirmation is refused above
    job = start_job(
        "import",
        project_id=checked.project_id,
        user=user,
        ip=client_ip(request),
        upload=checked.upload,
        filename=checked.filename,
        sha256=checked.sha256,
    )
    return render(request, "household/import_job.html", {"job": job, "project_id": job.project_id})


@router.get("/projects/{project_id}/census-template.xlsx")
def census_template(
    project_id: IdPath,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_IMPORT)),
    db: Session = Depends(get_db),
) -> Response:
    """The empty census template (入户调查表)."""
    project = project_service.get_project(db, project_id)
    name = f"入户调查表_{project.code}.xlsx"
    return Response(
        census.template_bytes(compensation_service.declared_facts(db, project_id)),
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


def _ledger_response(
    db: Session, request: Request, user: CurrentUser, project_id: int, reveal: bool
) -> Response:
    if reveal:
        require(user, Permission.PII_READ)
    project = project_service.get_project(db, project_id)
    # written in this process's scratch folder (swept if the process dies), never in /tmp
    scratch = upload_store.scratch_dir()
    fd, name = tempfile.mkstemp(prefix="ledger-", suffix=".xlsx", dir=scratch)
    os.close(fd)
    path = Path(name)
    try:
        n = ledger.export_ledger(
            db,
            scope=user.scope,
            project_id=project_id,
            target=path,
            reveal=reveal,
            tmpdir=scratch,
            # the signing columns (agreement, option, total, sign order, paid, due) and a 合计 row
            extra=agreement_service.ledger_columns(db, scope=user.scope, project_id=project_id),
            policy_facts=compensation_service.declared_facts(db, project_id),
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    audit_service.record(
        db,
        actor=user.actor(client_ip(request)),
        action="export",
        entity="ledger",
        entity_id=project_id,
        project_id=project_id,
        changes={"households": n, "reveal": reveal, "scope": user.scope.kind.value},
    )
    return FileResponse(
        path,
        media_type=XLSX,
        filename=ledger.ledger_filename(project.code),
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@router.get("/projects/{project_id}/ledger.xlsx")
async def ledger_download(
    project_id: IdPath,
    request: Request,
    reveal: bool = False,
    user: CurrentUser = Depends(requires(Permission.LEDGER_EXPORT)),
    db: Session = Depends(get_db),
) -> Response:
    """Download the project's ledger (台账) within the user's scope; ``reveal`` needs pii.read."""
    return await run_long(lambda: _ledger_response(db, request, user, project_id, reveal))


# ------------------------------------------------------------------ JSON API


def _preview_json(preview: census.CensusPreview) -> dict[str, Any]:
    return {"counts": preview.counts, "totals": preview.totals, "first_rows": preview.first_rows}


@api_router.post("/projects/{project_id}/census")
async def census_api(
    project_id: IdPath,
    request: Request,
    dry_run: bool = True,
    file: UploadFile = File(...),
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_IMPORT)),
    db: Session = Depends(get_db),
) -> JSONResponse:
    """Check (``dry_run=true``, the default) or import a census file in this request.

    Answers 200 with the preview (and, when imported, the counts written), or 422 with
    ``details`` listing every error as ``{sheet, row, column, letter, message, text}``.
    """
    content = await file.read()
    filename = core_uploads.safe_filename(file.filename or "", "census.xlsx")
    actor = user.actor(client_ip(request))

    def check_and_import() -> census.ImportOutcome:
        # Inspection and the import are CPU work of seconds: off the event loop, which serves
        # every other request of this process meanwhile.
        _check_upload(filename, content)
        return census.import_census(
            db,
            actor=actor,
            project_id=project_id,
            source=content,
            filename=filename,
            dry_run=dry_run,
            policy_facts=compensation_service.declared_facts(db, project_id),
        )

    outcome = await run_in_threadpool(check_and_import)
    body: dict[str, Any] = {
        "dry_run": dry_run,
        "filename": outcome.filename,
        "sha256": outcome.sha256,
        "preview": _preview_json(outcome.check.preview),
        "imported": outcome.summary.as_dict() if outcome.summary else None,
    }
    return JSONResponse(body, status_code=200 if dry_run else 201)


@api_router.get("/projects/{project_id}/ledger.xlsx", response_class=Response)
async def ledger_api(
    project_id: IdPath,
    request: Request,
    reveal: bool = False,
    user: CurrentUser = Depends(requires(Permission.LEDGER_EXPORT)),
    db: Session = Depends(get_db),
) -> Response:
    """The project's ledger (台账) as xlsx within the caller's scope; ``reveal`` needs pii.read."""
    return await run_long(lambda: _ledger_response(db, request, user, project_id, reveal))
