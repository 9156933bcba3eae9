"""Pages of the daily dispatch report (每日调度通报): the archive with a date picker, and one report
with the commander's commentary editor, the downloads and 签发."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.core.dates import today_shanghai, utcnow
from anju.errors import Conflict, ValidationFailed
from anju.i18n import N_, msg
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.reporting import rules
from anju.reporting import service as dispatch_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath, TextQuery, parse_id
from anju.web.templating import render

router = APIRouter(include_in_schema=False)
READ = requires(Permission.CAMPAIGN_READ)
WRITE = requires(Permission.DISPATCH_WRITE)
ReportOn = Annotated[date, Path()]


def _url(project_id: int, report_on: date) -> str:
    return f"/projects/{project_id}/dispatch/{report_on.isoformat()}"


@router.get("/projects/{project_id}/dispatch")
def dispatch_list(
    project_id: IdPath,
    request: Request,
    on: TextQuery = "",
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> Response:
    """The archive of reports, and a date picker that opens the report of a day (default yesterday)."""
    project = project_service.get_project(db, project_id)
    today = today_shanghai()
    message = ""
    if on:
        try:
            picked = date.fromisoformat(on)
        except ValueError:
            message = msg("通报日期“{on}”应为 YYYY-MM-DD 格式的日期", on=on[:20])
        else:
            try:
                rules.check_report_on(picked, today)
            except Conflict as exc:
                message = exc.message_zh
            else:
                return RedirectResponse(_url(project_id, picked), status_code=303)
    reports = dispatch_service.list_reports(db, project_id=project_id)
    return render(
        request,
        "reporting/list.html",
        {
            "project": project,
            "reports": reports,
            "yesterday": (today - timedelta(days=1)).isoformat(),
            "today": today.isoformat(),
            "message": message,
            "active": "dispatch",
        },
        status_code=422 if message else 200,
    )


def _report_context(
    db: Session, user: CurrentUser, project_id: int, report_on: date, **extra: Any
) -> dict[str, Any]:
    project = project_service.get_project(db, project_id)
    view = dispatch_service.get_view(
        db, scope=user.scope, project_id=project_id, report_on=report_on, now=utcnow()
    )
    api = f"/api/v1/projects/{project_id}/dispatch-reports/{report_on.isoformat()}"
    ctx: dict[str, Any] = {
        "project": project,
        "view": view,
        "doc": view.doc,
        "can_write": user.can(Permission.DISPATCH_WRITE),
        "pdf_url": api + ".pdf",
        "docx_url": api + ".docx",
        "prev_url": _url(project_id, report_on - timedelta(days=1)),
        "next_url": _url(project_id, report_on + timedelta(days=1)) if report_on < today_shanghai() else "",
        "url": _url(project_id, report_on),
        "max_commentary": rules.MAX_COMMENTARY,
        "max_title": rules.MAX_TITLE,
        "message": "",
        "saved": "",
        "form_commentary": view.commentary,
        "form_title": view.title,
        "form_version": view.version,
        "active": "dispatch",
    }
    ctx.update(extra)
    return ctx


@router.get("/projects/{project_id}/dispatch/{report_on}")
def dispatch_report(
    project_id: IdPath,
    report_on: ReportOn,
    request: Request,
    saved: TextQuery = "",
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> Response:
    """One report: live numbers while a draft, frozen numbers once issued."""
    ctx = _report_context(db, user, project_id, report_on)
    ctx["saved"] = {"commentary": N_("讲评已保存"), "issued": N_("通报已签发并归档")}.get(saved, "")
    return render(request, "reporting/report.html", ctx)


def _form_version(value: str) -> int | None:
    value = value.strip()
    if value == "0":
        return 0
    return parse_id(value)


@router.post("/projects/{project_id}/dispatch/{report_on}")
def dispatch_save(
    project_id: IdPath,
    report_on: ReportOn,
    request: Request,
    commentary: str = Form(""),
    title: str = Form(""),
    version: str = Form(""),
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> Response:
    """Save the commentary and title of a draft (a stale or issued report shows the 409 message)."""
    expected = _form_version(version)
    try:
        if expected is None:
            raise ValidationFailed(N_("版本号缺失或无效，请刷新页面后重试"), "missing version")
        dispatch_service.save_commentary(
            db,
            actor=user.actor(client_ip(request)),
            project_id=project_id,
            report_on=report_on,
            commentary=commentary.replace("\r\n", "\n"),
            title=title,
            version=expected,
            now=utcnow(),
        )
    except (ValidationFailed, Conflict) as exc:
        ctx = _report_context(
            db,
            user,
            project_id,
            report_on,
            message=exc.message_zh,
            form_commentary=commentary,
            form_title=title,
        )
        return render(request, "reporting/report.html", ctx, status_code=exc.http_status)
    return RedirectResponse(_url(project_id, report_on) + "?saved=commentary", status_code=303)


@router.post("/projects/{project_id}/dispatch/{report_on}/issue")
def dispatch_issue(
    project_id: IdPath,
    report_on: ReportOn,
    request: Request,
    version: str = Form(""),
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> Response:
    """签发 the report (freeze its numbers, archive the PDF)."""
    expected = _form_version(version)
    try:
        if expected is None:
            raise ValidationFailed(N_("版本号缺失或无效，请刷新页面后重试"), "missing version")
        dispatch_service.issue(
            db,
            actor=user.actor(client_ip(request)),
            project_id=project_id,
            report_on=report_on,
            version=expected,
            now=utcnow(),
        )
    except (ValidationFailed, Conflict) as exc:
        ctx = _report_context(db, user, project_id, report_on, message=exc.message_zh)
        return render(request, "reporting/report.html", ctx, status_code=exc.http_status)
    return RedirectResponse(_url(project_id, report_on) + "?saved=issued", status_code=303)
