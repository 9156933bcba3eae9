"""JSON routes of the daily dispatch report (每日调度通报); thin over :mod:`anju.reporting.service`."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.core.dates import utcnow
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.reporting import rules
from anju.reporting import schemas as s
from anju.reporting import service as dispatch_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import READ_ERRORS, WRITE_ERRORS, IdPath, error_responses

# Every route may answer 409 report_date: a day after today (office time) or before 2000.
router = APIRouter(tags=["dispatch"], responses=error_responses(*READ_ERRORS, 409))
READ = requires(Permission.CAMPAIGN_READ)
WRITE = requires(Permission.DISPATCH_WRITE)
ReportOn = Annotated[date, Path(description="通报日期（YYYY-MM-DD，2000-01-01 至今天；其他日期为 409）")]
BASE = "/projects/{project_id}/dispatch-reports"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def read_model(view: dispatch_service.ReportView) -> s.DispatchReportRead:
    """The API shape of a report view."""
    return s.DispatchReportRead(
        project_id=view.project_id,
        report_on=view.report_on,
        status=view.status,
        status_label=rules.REPORT_STATUSES.get(view.status, view.status),
        title=view.title,
        commentary=view.commentary,
        version=view.version,
        issued_by=view.issued_by,
        issued_at=view.issued_at,
        numbers_sha256=view.numbers_sha256,
        pdf_sha256=view.pdf_sha256,
        partial=view.partial,
        numbers=view.numbers,
    )


def download_name(db: Session, project_id: int, report_on: date, suffix: str) -> str:
    """``调度通报-P1-2026-12-04.pdf``, quoted for Content-Disposition."""
    code = project_service.get_project(db, project_id).code
    return quote(f"调度通报-{code}-{report_on.isoformat()}.{suffix}")


@router.get(BASE, response_model=list[s.DispatchReportSummary])
def list_reports(
    project_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> list[s.DispatchReportSummary]:
    """The project's stored reports (issued, and drafts with commentary), newest date first."""
    return [
        s.DispatchReportSummary.model_validate(r, from_attributes=True)
        for r in dispatch_service.list_reports(db, project_id=project_id)
    ]


@router.get(
    BASE + "/{report_on}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "通报 PDF"}},
)
def report_pdf(
    project_id: IdPath, report_on: ReportOn, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """The report as PDF: an issued report's archived file, a draft rendered now."""
    content = dispatch_service.pdf(
        db, scope=user.scope, project_id=project_id, report_on=report_on, now=utcnow()
    )
    name = download_name(db, project_id, report_on, "pdf")
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f"inline; filename*=UTF-8''{name}"},
    )


@router.get(
    BASE + "/{report_on}.docx",
    response_class=Response,
    responses={200: {"content": {DOCX_TYPE: {}}, "description": "通报 Word 文档"}},
)
def report_docx(
    project_id: IdPath, report_on: ReportOn, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """The report as DOCX (from the office's editable template)."""
    content = dispatch_service.docx(
        db, scope=user.scope, project_id=project_id, report_on=report_on, now=utcnow()
    )
    name = download_name(db, project_id, report_on, "docx")
    return Response(
        content, media_type=DOCX_TYPE, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"}
    )


@router.get(BASE + "/{report_on}", response_model=s.DispatchReportRead)
def get_report(
    project_id: IdPath, report_on: ReportOn, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> s.DispatchReportRead:
    """A report: computed from live data while a draft, the frozen numbers once issued."""
    view = dispatch_service.get_view(
        db, scope=user.scope, project_id=project_id, report_on=report_on, now=utcnow()
    )
    return read_model(view)


@router.put(
    BASE + "/{report_on}", response_model=s.DispatchReportRead, responses=error_responses(*WRITE_ERRORS)
)
def save_commentary(
    project_id: IdPath,
    report_on: ReportOn,
    body: s.DispatchCommentaryUpdate,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.DispatchReportRead:
    """Save the commander's commentary (and title) of a draft; 409 when issued or the version is stale."""
    now = utcnow()
    dispatch_service.save_commentary(
        db,
        actor=user.actor(client_ip(request)),
        project_id=project_id,
        report_on=report_on,
        commentary=body.commentary,
        title=body.title,
        version=body.version,
        now=now,
    )
    return read_model(
        dispatch_service.get_view(db, scope=user.scope, project_id=project_id, report_on=report_on, now=now)
    )


@router.post(
    BASE + "/{report_on}/issue", response_model=s.DispatchReportRead, responses=error_responses(*WRITE_ERRORS)
)
def issue_report(
    project_id: IdPath,
    report_on: ReportOn,
    request: Request,
    body: s.DispatchIssue | None = None,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.DispatchReportRead:
    """签发: freeze the numbers and archive the PDF; 409 when already issued or the version is stale."""
    now = utcnow()
    dispatch_service.issue(
        db,
        actor=user.actor(client_ip(request)),
        project_id=project_id,
        report_on=report_on,
        version=body.version if body is not None else None,
        now=now,
    )
    return read_model(
        dispatch_service.get_view(db, scope=user.scope, project_id=project_id, report_on=report_on, now=now)
    )
