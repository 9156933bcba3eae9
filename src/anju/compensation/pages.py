"""Compensation pages: the standards table (补偿标准一览), publishing, and the calculation sheet."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju import i18n
from anju.agreement import service as agreement_service
from anju.compensation import group_measures, sheet, standards
from anju.compensation import service as compensation_service
from anju.core.dates import today_shanghai
from anju.errors import DomainError, NotFound, ValidationFailed
from anju.household import service as household_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath, IdQuery, VersionQuery
from anju.web.templating import lang_of, render

router = APIRouter(include_in_schema=False)


def _policy_context(db: Session, project_id: int, version: int | None) -> dict[str, object]:
    project = project_service.get_project(db, project_id)
    versions = compensation_service.versions(db, project_id)
    ctx: dict[str, object] = {"project": project, "versions": versions, "active": "policy", "pv": None}
    if versions:
        pv = compensation_service.get_version(db, project_id, version)
        checked = compensation_service.checked_version(pv)
        from anju.compensation import budget

        ctx.update({"pv": pv, "std": standards.standards_table(checked, budget.block_names(db, project_id))})
        ctx.update(_measures_context(db, project_id))
    return ctx


def _measures_context(db: Session, project_id: int) -> dict[str, object]:
    """The office-set group measures of the latest version and their recorded values."""
    declared = group_measures.declared(db, project_id=project_id)
    if not declared:
        return {"measures": []}
    values = group_measures.history(db, project_id=project_id)
    return {
        "measures": declared,
        "measure_values": {m.id: [v for v in values if v.measure_id == m.id] for m in declared},
        "measure_today": today_shanghai().isoformat(),
    }


@router.get("/projects/{project_id}/policy")
def policy_page(
    project_id: IdPath,
    request: Request,
    version: VersionQuery = None,
    user: CurrentUser = Depends(requires(Permission.POLICY_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """The published plan as a readable table of standards, with its versions."""
    return render(request, "compensation/policy.html", _policy_context(db, project_id, version))


@router.get("/projects/{project_id}/policy/diff")
def policy_diff(
    project_id: IdPath,
    request: Request,
    old: IdQuery,
    new: IdQuery,
    user: CurrentUser = Depends(requires(Permission.POLICY_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """What changed between two published versions."""
    project = project_service.get_project(db, project_id)
    changes = compensation_service.version_diff(db, project_id, old, new)
    return render(
        request,
        "compensation/diff.html",
        {"project": project, "changes": changes, "old": old, "new": new, "active": "policy"},
    )


@router.post("/projects/{project_id}/policy")
async def policy_publish(
    project_id: IdPath,
    request: Request,
    file: UploadFile = File(...),
    user: CurrentUser = Depends(requires(Permission.POLICY_PUBLISH)),
    db: Session = Depends(get_db),
) -> Response:
    """Publish an uploaded policy file as the next version (refused with every error listed)."""
    raw = await file.read()
    try:
        source = raw.decode("utf-8-sig")
        compensation_service.publish(
            db,
            actor=user.actor(client_ip(request)),
            project_id=project_id,
            source=source,
            file_name=file.filename or "policy.yaml",
        )
    except UnicodeDecodeError:
        ctx = _policy_context(db, project_id, None)
        ctx.update(
            {"message": i18n.t("方案文件须为 UTF-8 编码的 YAML 文本", lang_of(request)), "problems": []}
        )
        return render(request, "compensation/policy.html", ctx, status_code=422)
    except DomainError as exc:
        ctx = _policy_context(db, project_id, None)
        ctx.update({"message": exc.message_zh, "problems": exc.details or []})
        return render(request, "compensation/policy.html", ctx, status_code=exc.http_status)
    # Signed agreements the new version computes differently get the amendment flag (off the event loop).
    await run_in_threadpool(agreement_service.check_amendments, db, project_id=project_id)
    return RedirectResponse(f"/projects/{project_id}/policy", status_code=303)


@router.post("/projects/{project_id}/group-measures")
async def group_measure_record(
    project_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.POLICY_PUBLISH)),
    db: Session = Depends(get_db),
) -> Response:
    """Record the value of an office-set group measure from the policy page's form."""
    form = await request.form()
    target = str(form.get("target", ""))
    measure_id, _, block = target.partition("|")
    try:
        on = _form_date(str(form.get("effective_on", "")))
        block_id = _form_block(block)
        group_measures.record(
            db,
            actor=user.actor(client_ip(request)),
            project_id=project_id,
            measure_id=measure_id,
            block_id=block_id,
            effective_on=on,
            value=str(form.get("value", "")),
            reason=str(form.get("reason", "")),
        )
    except DomainError as exc:
        ctx = _policy_context(db, project_id, None)
        ctx.update({"measure_error": exc.message_zh, "measure_form": dict(form)})
        return render(request, "compensation/policy.html", ctx, status_code=exc.http_status)
    return RedirectResponse(f"/projects/{project_id}/policy#group-measures", status_code=303)


def _form_date(raw: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed(
            i18n.t("生效日期应为日期（YYYY-MM-DD）"),
            "invalid effective_on",
            details=[{"field": "effective_on", "message": i18n.t("应为日期")}],
        ) from None


def _form_block(raw: str) -> int | None:
    text = raw.strip()
    if text in ("", "project"):
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 15):
        raise ValidationFailed(
            i18n.t("请选择指标和片区"),
            "invalid target",
            details=[{"field": "target", "message": i18n.t("请选择")}],
        )
    return int(text)


def _sheet(
    db: Session, user: CurrentUser, household_id: int, option: str | None, as_of: date | None, flats: str = ""
) -> dict[str, object]:
    file = household_service.get_household_file(db, scope=user.scope, household_id=household_id)
    project = project_service.get_project(db, file.household.project_id)
    pv = compensation_service.get_version(db, project.id)
    checked = compensation_service.checked_version(pv)
    options = list(checked.policy.options)
    chosen = option if option in options else options[0]
    totals = {}
    results = {}
    for opt in options:
        _pv, result = compensation_service.calculate(
            db, scope=user.scope, household_id=household_id, option=opt, as_of=as_of
        )
        results[opt] = result
        totals[opt] = result.total_fen
    data = sheet.sheet_data(
        pv=pv, checked=checked, file=file, project_name=project.name, result=results[chosen]
    )
    settlement = None
    settle_error = ""
    if flats and checked.policy.swap is not None:
        try:
            areas = compensation_service.parse_flat_areas(flats)
            settlement = compensation_service.settle(
                db, scope=user.scope, household_id=household_id, flat_areas=areas, as_of=as_of
            )
        except DomainError as exc:
            settle_error = exc.message_zh
    return {
        "settlement": settlement,
        "settle_error": settle_error,
        "flats": flats,
        "has_swap": checked.policy.swap is not None,
        "project": project,
        "f": file,
        "h": file.household,
        "pv": pv,
        "data": data,
        "option": chosen,
        "options": checked.policy.options,
        "totals": totals,
        "as_of": as_of,
        "active": "households",
    }


@router.get("/households/{household_id}/calc")
def calc_page(
    household_id: IdPath,
    request: Request,
    option: str | None = None,
    as_of: date | None = None,
    flats: str = "",
    user: CurrentUser = Depends(requires(Permission.POLICY_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """The household's calculation sheet with every option's total side by side, and a trial swap settlement."""
    try:
        ctx = _sheet(db, user, household_id, option, as_of, flats)
    except NotFound as exc:
        if exc.message_en != "no policy published for this project":
            raise
        file = household_service.get_household_file(db, scope=user.scope, household_id=household_id)
        project = project_service.get_project(db, file.household.project_id)
        return render(
            request,
            "compensation/sheet.html",
            {
                "project": project,
                "h": file.household,
                "missing": i18n.t(exc.message_zh, lang_of(request)),
                "active": "households",
            },
        )
    return render(request, "compensation/sheet.html", ctx)


@router.get("/households/{household_id}/calc.pdf")
def calc_pdf(
    household_id: IdPath,
    option: str | None = None,
    as_of: date | None = None,
    user: CurrentUser = Depends(requires(Permission.POLICY_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """The printable calculation sheet (PDF)."""
    ctx = _sheet(db, user, household_id, option, as_of)
    pdf = sheet.render_pdf(ctx["data"])  # type: ignore[arg-type]
    # The sheet is a Chinese document: its file name stays Chinese.
    name = i18n.t("算账单-{code}.pdf", code=ctx["h"].code)  # type: ignore[attr-defined]
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}"},
    )


def _whatif_context(
    db: Session, project_id: int, option: str | None, changes: dict[str, str]
) -> dict[str, object]:
    import time

    from anju.compensation import budget

    project = project_service.get_project(db, project_id)
    started = time.perf_counter()
    pv, entry = budget.project_table(db, project_id=project_id)
    options = entry.checked.policy.options
    chosen = option if option in options else next(iter(options))
    _pv, _entry, result = budget.run_whatif(db, project_id=project_id, option=chosen, changes=changes)
    elapsed_ms = (time.perf_counter() - started) * 1000
    names = budget.block_names(db, project_id)
    labels = result.new.labels
    return {
        "project": project,
        "pv": pv,
        "option": chosen,
        "options": options,
        "knobs": budget.knobs(entry.checked),
        "changes": changes,
        "r": result,
        "labels": labels,
        "block_names": names,
        "elapsed_ms": elapsed_ms,
        "households": entry.table.n,
        "active": "whatif",
        # households the plan does not compute: they lack a fact it requires (amounts 0 here)
        "not_computed": [
            (entry.table.codes[i], "、".join(d.label for d in lacking))
            for i, lacking in sorted(result.new.missing.items())
        ],
    }


def _changes(request: Request) -> dict[str, str]:
    return {k[2:]: v for k, v in request.query_params.items() if k.startswith("k.") and v.strip()}


@router.get("/projects/{project_id}/whatif")
def whatif_page(
    project_id: IdPath,
    request: Request,
    option: str | None = None,
    user: CurrentUser = Depends(requires(Permission.BUDGET_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """What-if: move parameters and see the project budget by item and block update."""
    try:
        ctx = _whatif_context(db, project_id, option, _changes(request))
    except NotFound as exc:
        project = project_service.get_project(db, project_id)
        return render(
            request,
            "compensation/whatif.html",
            {"project": project, "missing": i18n.t(exc.message_zh, lang_of(request)), "active": "whatif"},
        )
    template = (
        "compensation/_whatif_result.html"
        if request.headers.get("hx-request") == "true"
        else "compensation/whatif.html"
    )
    return render(request, template, ctx)
