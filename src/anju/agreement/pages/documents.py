"""Pages of agreement documents: the print view of an agreement (its PDF, inline) and the project's
agreement templates (协议模板): download the built-in or the current one, upload an edited one.

Thin over :mod:`anju.agreement.service.documents`; an upload that is refused comes back as the page
with the Chinese reason (422), an accepted one as a redirect with a short confirmation.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from anju.agreement import service as agreement_service
from anju.errors import DomainError, ValidationFailed
from anju.i18n import N_, msg
from anju.identity import service as identity_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath
from anju.web.templating import render

router = APIRouter(include_in_schema=False)
READ = requires(Permission.HOUSEHOLD_READ)
MANAGE = requires(Permission.AGREEMENT_SIGN)
OPTION_LABELS = {"cash": N_("货币补偿"), "swap": N_("产权调换")}


@router.get("/agreements/{agreement_id}/print")
def agreement_print(
    agreement_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """The agreement's PDF shown in the browser, to print on A4."""
    content = agreement_service.agreement_pdf(
        db, scope=user.scope, agreement_id=agreement_id, full_account=user.can(Permission.PII_READ)
    )
    name = agreement_service.document_file_name(db, scope=user.scope, agreement_id=agreement_id, suffix="pdf")
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}"},
    )


def _page(
    request: Request, db: Session, project_id: int, *, error: DomainError | None = None, option: str = ""
) -> Response:
    project = project_service.get_project(db, project_id)
    ok = request.query_params.get("ok", "")
    done = request.query_params.get("option", "")
    message_ok = (
        msg("{done}协议模板已上传，此后生成的协议使用该模板", done=OPTION_LABELS[done])
        if ok == "uploaded" and done in OPTION_LABELS
        else ""
    )
    context: dict[str, Any] = {
        "project": project,
        "active": "agreement_templates",
        "templates": agreement_service.project_templates(db, project_id=project_id),
        "fields": agreement_service.template_fields(),
        "names": identity_service.user_names(db),
        "message_ok": message_ok,
        "error": error,
        "error_option": option,
    }
    return render(
        request, "agreement/templates.html", context, status_code=error.http_status if error else 200
    )


@router.get("/projects/{project_id}/agreement-templates")
def templates_page(
    project_id: IdPath, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """The project's agreement templates per option, their history, and the placeholders a template may use."""
    return _page(request, db, project_id)


@router.post("/projects/{project_id}/agreement-templates")
async def templates_upload(
    project_id: IdPath,
    request: Request,
    option: str = Form(...),
    file: UploadFile = File(...),
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    """Upload an edited template for one option; refused with the reason (unknown placeholders by name)."""
    if option not in OPTION_LABELS:
        error = ValidationFailed(
            N_("请选择模板对应的安置方式（货币补偿或产权调换）"),
            "option must be cash or swap",
            details=[{"field": "option", "message": N_("应为货币补偿或产权调换")}],
        )
        return await run_in_threadpool(_page, request, db, project_id, error=error)
    content = await file.read()
    try:
        await run_in_threadpool(
            agreement_service.upload_template,
            db,
            actor=user.actor(client_ip(request)),
            project_id=project_id,
            option=option,
            # not page text (a file name, a check or the terminal)
            filename=file.filename or "协议模板.docx",
            content=content,
        )
    except ValidationFailed as exc:  # the file is refused; a missing project stays a 404
        return await run_in_threadpool(_page, request, db, project_id, error=exc, option=option)
    return RedirectResponse(
        f"/projects/{project_id}/agreement-templates?ok=uploaded&option={quote(option)}", status_code=303
    )


@router.get("/projects/{project_id}/agreement-templates/{option}.docx")
def template_download(
    project_id: IdPath,
    option: str,
    which: Annotated[Literal["current", "default"], Query()] = "current",
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    """The template in use for the option (``which=default``: the built-in one), to edit in WPS or Word."""
    content = agreement_service.template_content(
        db, project_id=project_id, option=option, default=which == "default"
    )
    code = project_service.get_project(db, project_id).code
    title = N_("货币补偿协议") if option == "cash" else N_("产权调换协议")
    # not page text (a file name, a check or the terminal)
    name = f"{title}模板-{code}{'-内置' if which == 'default' else ''}.docx"
    return Response(
        content,
        media_type=agreement_service.DOCX_TYPE,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )
