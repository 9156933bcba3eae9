"""Policy draft pages: every value of the next policy in a form (checked inline), the YAML editor,
the diff against the published version, and publishing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju import i18n
from anju.agreement import service as agreement_service
from anju.compensation import drafts
from anju.errors import DomainError, NotFound
from anju.i18n import N_
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath
from anju.web.templating import lang_of, render

router = APIRouter(include_in_schema=False)

PREFIX = "v."  # form names of policy values: "v." + the field's index in the draft's field list


def _values(form: Mapping[str, Any], fields: list[Any]) -> dict[str, str]:
    """Field key -> typed value; an index the draft does not have is passed on as an unknown key."""
    out: dict[str, str] = {}
    for k, v in form.items():
        if not k.startswith(PREFIX):
            continue
        idx = k[len(PREFIX) :]
        key = fields[int(idx)].key if idx.isdigit() and int(idx) < len(fields) else k
        out[key] = str(v)
    return out


def _groups(fields: list[Any]) -> list[dict[str, Any]]:
    """Fields grouped by parameter, clock or tier, in document order, each with its form index."""
    sections = {
        "parameters": N_("参数"),
        "clocks": N_("日期（时钟）"),
        "tiers": N_("按时段的标准"),
        "facts": N_("方案要求的事实（录入范围）"),
    }
    out: list[dict[str, Any]] = []
    for i, f in enumerate(fields):
        if not out or (out[-1]["section"], out[-1]["name"]) != (f.section, f.name):
            out.append(
                {
                    "section": f.section,
                    "section_label": sections[f.section],
                    "name": f.name,
                    "label": f.label,
                    "ref": f.ref,
                    "fields": [],
                }
            )
        out[-1]["fields"].append((i, f))
    return out


def _draft_context(
    db: Session, project_id: int, number: int, values: dict[str, str] | None = None
) -> dict[str, object]:
    project = project_service.get_project(db, project_id)
    d = drafts.get_draft(db, project_id=project_id, number=number)
    newest = drafts.get_draft(db, project_id=project_id)
    fields = drafts.form_fields(d.source)
    return {
        "project": project,
        "d": d,
        "newest": newest.number,
        "history": drafts.drafts(db, project_id)[:20],
        "groups": _groups(fields),
        "values": values or {},
        "messages": {},
        "other": [],
        "prefix": PREFIX,
        "active": "policy",
    }


@router.get("/projects/{project_id}/policy/drafts")
def drafts_page(
    project_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.POLICY_PUBLISH)),
    db: Session = Depends(get_db),
) -> Response:
    """The newest draft's form, or a button that starts a draft from the published version."""
    try:
        newest = drafts.get_draft(db, project_id=project_id)
    except NotFound:
        project = project_service.get_project(db, project_id)
        return render(request, "compensation/drafts_empty.html", {"project": project, "active": "policy"})
    return RedirectResponse(f"/projects/{project_id}/policy/drafts/{newest.number}", status_code=303)


@router.post("/projects/{project_id}/policy/drafts")
def draft_start(
    project_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.POLICY_PUBLISH)),
    db: Session = Depends(get_db),
) -> Response:
    """Start a draft from the latest published version."""
    d = drafts.start_draft(db, actor=user.actor(client_ip(request)), project_id=project_id)
    return RedirectResponse(f"/projects/{project_id}/policy/drafts/{d.number}", status_code=303)


@router.get("/projects/{project_id}/policy/drafts/{number}")
def draft_page(
    project_id: IdPath,
    number: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.POLICY_PUBLISH)),
    db: Session = Depends(get_db),
) -> Response:
    """Every value of a draft in a form, with label, unit and legal reference, and its YAML."""
    return render(request, "compensation/draft.html", _draft_context(db, project_id, number))


@router.post("/projects/{project_id}/policy/drafts/{number}/check")
async def draft_check(
    project_id: IdPath,
    number: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.POLICY_PUBLISH)),
    db: Session = Depends(get_db),
) -> Response:
    """htmx: the checker's messages for the form's values, each next to its field (nothing is saved)."""
    form = await request.form()
    d = drafts.get_draft(db, project_id=project_id, number=number)
    fields = drafts.form_fields(d.source)
    verdict = drafts.check_form(d.source, _values(form, fields))
    return render(
        request,
        "compensation/_draft_check.html",
        {"fields": list(enumerate(fields)), "verdict": verdict},
    )


@router.post("/projects/{project_id}/policy/drafts/{number}/form")
async def draft_save_form(
    project_id: IdPath,
    number: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.POLICY_PUBLISH)),
    db: Session = Depends(get_db),
) -> Response:
    """Save the form's values as a new draft; refused values come back next to their fields."""
    form = await request.form()
    parent = drafts.get_draft(db, project_id=project_id, number=number)
    values = _values(form, drafts.form_fields(parent.source))
    note = str(form.get("note", ""))
    try:
        d = drafts.save_form(
            db,
            actor=user.actor(client_ip(request)),
            project_id=project_id,
            parent_number=number,
            values=values,
            note=note,
        )
    except DomainError as exc:
        ctx = _draft_context(db, project_id, number, values)
        messages: dict[str, list[str]] = {}
        other: list[str] = []
        for det in exc.details or []:
            if det.get("field") == "source" or det.get("field") is None:
                other.append(str(det.get("message")))
            else:
                messages.setdefault(str(det["field"]), []).append(str(det["message"]))
        ctx.update({"message": exc.message_zh, "messages": messages, "other": other, "note": note})
        return render(request, "compensation/draft.html", ctx, status_code=exc.http_status)
    return RedirectResponse(f"/projects/{project_id}/policy/drafts/{d.number}/diff", status_code=303)


@router.post("/projects/{project_id}/policy/drafts/{number}/yaml")
def draft_save_yaml(
    project_id: IdPath,
    number: IdPath,
    request: Request,
    source: str = Form(...),
    note: str = Form(""),
    user: CurrentUser = Depends(requires(Permission.POLICY_PUBLISH)),
    db: Session = Depends(get_db),
) -> Response:
    """Save an edited YAML text as a new draft (the checker lists every problem with line and column)."""
    try:
        d = drafts.save_yaml(
            db,
            actor=user.actor(client_ip(request)),
            project_id=project_id,
            parent_number=number,
            source=source.replace("\r\n", "\n"),
            note=note,
        )
    except DomainError as exc:
        ctx = _draft_context(db, project_id, number)
        problems = [
            i18n.t("第 {line} 行第 {column} 列：{message}", lang_of(request), **p)
            if p.get("line")
            else str(p.get("message"))
            for p in exc.details or []
        ]
        ctx.update(
            {"yaml_message": exc.message_zh, "yaml_problems": problems, "yaml_source": source, "note": note}
        )
        return render(request, "compensation/draft.html", ctx, status_code=exc.http_status)
    return RedirectResponse(f"/projects/{project_id}/policy/drafts/{d.number}/diff", status_code=303)


@router.get("/projects/{project_id}/policy/drafts/{number}/diff")
def draft_diff(
    project_id: IdPath,
    number: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.POLICY_PUBLISH)),
    db: Session = Depends(get_db),
) -> Response:
    """What the draft changes against the published version (the version diff's table)."""
    project = project_service.get_project(db, project_id)
    pv, changes = drafts.draft_diff(db, project_id=project_id, number=number)
    return render(
        request,
        "compensation/diff.html",
        {
            "project": project,
            "changes": changes,
            "old": pv.version if pv is not None else 0,
            "draft": drafts.get_draft(db, project_id=project_id, number=number),
            "newest": drafts.get_draft(db, project_id=project_id).number,
            "active": "policy",
        },
    )


@router.post("/projects/{project_id}/policy/drafts/{number}/publish")
async def draft_publish(
    project_id: IdPath,
    number: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.POLICY_PUBLISH)),
    db: Session = Depends(get_db),
) -> Response:
    """Publish the newest draft as the next version."""
    drafts.publish_draft(db, actor=user.actor(client_ip(request)), project_id=project_id, number=number)
    await run_in_threadpool(agreement_service.check_amendments, db, project_id=project_id)
    return RedirectResponse(f"/projects/{project_id}/policy", status_code=303)
