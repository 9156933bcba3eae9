"""Household pages: list and search, the household file with tabs, edit forms with inline validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.audit import service as audit_service
from anju.compensation import service as compensation_service
from anju.core.pagination import PageRequest
from anju.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from anju.household import forms, listing, rules
from anju.household import search as household_search
from anju.household import service as household_service
from anju.housing import service as housing_service
from anju.i18n import N_, msg
from anju.identity import service as identity_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath, PageQuery, parse_id
from anju.web.record_names import name_records
from anju.web.templating import lang_of, render, render_fragment

router = APIRouter(include_in_schema=False)
TABS = ("basic", "members", "buildings", "tenants", "attachments", "history")
ENTITY_LABELS = {
    "household": N_("户"),
    "member": N_("家庭成员"),
    "building": N_("房屋"),
    "valuation": N_("评估"),
    "tenant": N_("承租人"),
    "homestead": N_("宅基地"),
    "attachment": N_("附件"),
    "household_assignment": N_("包户"),
}
FIELD_LABELS = {f.name: f.label for fs in forms.FORMS.values() for f in fs} | {
    "members": N_("家庭成员"),
    "buildings": N_("房屋"),
    "valuations": N_("评估"),
    "tenants": N_("承租人"),
    "homestead": N_("宅基地"),
    "id_number_masked": N_("身份证号"),
    "block_id": N_("所属区块"),
    "status": N_("状态"),
    "credential_masked": N_("证件号/信用代码"),
    "filename": N_("文件名"),
    "sha256": N_("校验值"),
    "size": N_("大小(字节)"),
    "voided_at": N_("作废"),
    "team_id": N_("专班"),
    "user_id": N_("包户人"),
}


@router.get("/projects/{project_id}/households")
def household_list(
    project_id: IdPath,
    request: Request,
    q: str = "",
    block_id: str = "",  # the filter form sends "" for "all blocks"
    qt: str = "",  # a search by identity number: the encrypted token, never the number
    status: str = "",
    sort: str = "code",
    desc: bool = False,
    page: PageQuery = 1,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """Browse and search the households of a project (htmx swaps only the results).

    The result table of a whole-project list is cached per project data version (it holds
    nothing of the user), so paging back and forth or repeating a search renders only the frame.
    """
    if household_search.mentions_id_number(q):
        # An identity number typed into the address: do not keep it there (history, bookmarks).
        target = household_search.list_url(
            project_id, q=q, block_id=block_id, status=status, sort=sort, desc=desc
        )
        return RedirectResponse(target, status_code=303)
    if qt:
        q = household_search.read_token(qt) or ""
    block = parse_id(block_id)
    project = project_service.project_header(db, project_id)
    params = {"q": q, "block_id": block or "", "status": status, "sort": sort, "desc": "true" if desc else ""}
    ctx = {
        "project": project,
        "q": q,
        "block_id": block,
        "status": status,
        "sort": sort,
        "desc": desc,
        "base_query": urlencode({k: v for k, v in params.items() if v}),
        "active": "households",
    }
    if qt:  # the page shows and links the token, never the number it stands for
        ctx["q"] = ""
        ctx["qt"] = qt
        ctx["base_query"] = urlencode({"qt": qt, **{k: str(v) for k, v in params.items() if v and k != "q"}})

    def results() -> str:
        page_ = household_service.list_households(
            db,
            scope=user.scope,
            project_id=project_id,
            q=q,
            block_id=block,
            status=status,
            sort=sort,
            descending=desc,
            page=PageRequest.of(page, 20),
        )
        return render_fragment(request, "household/_results.html", {**ctx, "page": page_})

    if user.scope.whole:
        key = (*listing.data_key(db, project_id), q, block, status, sort, desc, page, lang_of(request))
        html = Markup(listing.results_html(key, results))
    else:
        html = Markup(results())
    if request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "results":
        return HTMLResponse(html)
    ctx["results_html"] = html
    ctx["blocks"] = project_service.blocks(db, project_id)
    ctx["block_paths"] = project_service.block_paths(db, project_id)
    return render(request, "household/list.html", ctx)


@router.post("/projects/{project_id}/households/search")
def household_search_post(
    project_id: IdPath,
    request: Request,
    q: str = Form(""),
    block_id: str = Form(""),
    status: str = Form(""),
    sort: str = Form("code"),
    desc: bool = Form(False),
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """The search form posts here, so an identity number never travels in a URL.

    htmx gets the results and ``HX-Push-Url`` with the address to keep (``qt`` in place of an
    identity number); a browser without script is sent there.
    """
    target = household_search.list_url(
        project_id, q=q, block_id=block_id, status=status, sort=sort, desc=desc
    )
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(target, status_code=303)
    token = target.partition("qt=")[2].partition("&")[0]
    response = household_list(
        project_id,
        request,
        q="" if token else q,
        qt=token,
        block_id=block_id,
        status=status,
        sort=sort,
        desc=desc,
        page=1,
        user=user,
        db=db,
    )
    response.headers["HX-Push-Url"] = target
    return response


def _file_context(db: Session, user: CurrentUser, household_id: int) -> dict[str, Any]:
    hf = household_service.get_household_file(db, scope=user.scope, household_id=household_id)
    project = project_service.get_project(db, hf.household.project_id)
    return {"f": hf, "h": hf.household, "project": project, "active": "households"}


@router.get("/households/{household_id}")
def household_detail(
    household_id: IdPath,
    request: Request,
    tab: str = "basic",
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """The household file (一户一档) with tabs."""
    ctx = _file_context(db, user, household_id)
    ctx["tab"] = tab if tab in TABS else "basic"
    if ctx["tab"] == "basic":
        ctx["policy_facts"] = _policy_fact_rows(db, user, ctx["h"].project_id, household_id)
        ctx["policy_fact_groups"] = _policy_fact_groups(db, user, ctx)
        # the key dates (关键日期): signing, agreement, vacating, delivery of the flats, move-back
        ctx["event_dates"] = housing_service.household_event_dates(
            db, scope=user.scope, household_id=household_id
        )
    if ctx["tab"] == "history":
        records = household_service.history(db, scope=user.scope, household_id=household_id)
        project_id = ctx["h"].project_id
        # Ids in the log are shown by name: blocks as their path, teams and users by name.
        names = {
            "block_id": project_service.block_paths(db, project_id),
            "team_id": identity_service.team_names(db, project_id),
            "user_id": identity_service.user_names(db),
        }
        # Each record named by what it is (户 LJ00001 段平, 协议 DP-QH-0001), never by its id.
        lang = lang_of(request)
        fact_labels = {
            household_service.FACT_PREFIX + fid: d.label
            for fid, d in compensation_service.declared_facts(db, project_id).items()
        }
        record_names = name_records(db, records, lang)
        ctx["history"] = [
            _history_row(r, names, fact_labels)
            | {"record": record_names[r.seq], "action_label": audit_service.action_label(r.action, lang)}
            for r in records
        ]
    return render(request, "household/detail.html", ctx)


# Field names repeat across entities ("name" is 姓名 of a member but 承租人 of a tenant): label by entity first.
ENTITY_FIELD_LABELS = {kind: {f.name: f.label for f in fs} for kind, fs in forms.FORMS.items()}
# Stored codes shown as the words people use.
VALUE_LABELS: dict[str, dict[str, str]] = {
    "structure": rules.STRUCTURES,
    "use": rules.USES,
    "unregistered_determination": rules.DETERMINATIONS,
    "status": rules.STATUSES,
}


def _shown(entity: str, name: str, value: Any, names: dict[str, dict[int, str]]) -> Any:
    if name in names and isinstance(value, int) and not isinstance(value, bool):
        return names[name].get(value, value)
    if isinstance(value, bool):
        return N_("是") if value else N_("否")
    if entity == "tenant" and name == "kind" and isinstance(value, str):
        return rules.TENANT_KINDS.get(value, value)
    if isinstance(value, str) and name in VALUE_LABELS:
        return VALUE_LABELS[name].get(value, value)
    return value


def _history_row(
    record: Any, names: dict[str, dict[int, str]], fact_labels: dict[str, str] | None = None
) -> dict[str, Any]:
    import json

    changes = json.loads(record.changes) if record.changes else {}
    labels = ENTITY_FIELD_LABELS.get(record.entity, {})
    if record.entity == "household_fact":
        # Declared facts are named by the policy: its label, or the id for one no longer declared.
        # A building's or member's fact is recorded under its words already (证 X1 临街位置).
        labels = {
            k: (fact_labels or {}).get(k)
            or (
                msg("方案事实 {id}", id=k.removeprefix(household_service.FACT_PREFIX))
                if k.startswith(household_service.FACT_PREFIX)
                else k
            )
            for k in changes
        }
    items = []
    for name, pair in changes.items():
        before, after = [*pair, None, None][:2] if isinstance(pair, list) else (None, pair)
        items.append(
            {
                "field": labels.get(name) or FIELD_LABELS.get(name) or audit_service.field_label(name),
                "before": _shown(record.entity, name, before, names),
                "after": _shown(record.entity, name, after, names),
            }
        )
    return {
        "at": record.at,
        "who": record.actor_name,
        "entity": ENTITY_LABELS.get(record.entity, record.entity),
        "entity_id": record.entity_id,
        "action": record.action,
        "action_label": audit_service.action_label(record.action),
        "changes": items,
        "reason": record.reason,
        "seq": record.seq,
    }


# ------------------------------------------------------------- editing


def _form_page(
    request: Request,
    ctx: dict[str, Any],
    *,
    kind: str,
    title: str,
    action: str,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    message: str = "",
    status_code: int = 200,
) -> Response:
    ctx.update(
        {
            "kind": kind,
            "title": title,
            "action": action,
            "widgets": forms.widgets(forms.FORMS[kind]),
            "values": values,
            "errors": errors or {},
            "message": message,
        }
    )
    return render(request, "household/form.html", ctx, status_code=status_code)


def _form_version(form: Any) -> int | None:
    """The record version an edit form was read at (its hidden ``version`` field), if any."""
    text = str(form.get("version", "") or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def _errors_of(exc: DomainError) -> dict[str, str]:
    out: dict[str, str] = {}
    for d in exc.details or []:
        out.setdefault(d.get("field", ""), d.get("message", ""))
    return out


def _submit(
    request: Request,
    ctx: dict[str, Any],
    *,
    kind: str,
    title: str,
    action: str,
    raw: dict[str, Any],
    call: Callable[[], Any],
    done: str,
) -> Response:
    try:
        call()
    except ValidationFailed as exc:
        return _form_page(
            request,
            ctx,
            kind=kind,
            title=title,
            action=action,
            values=raw,
            errors=_errors_of(exc),
            message=exc.message_zh,
            status_code=422,
        )
    except (Conflict, PermissionDenied) as exc:
        return _form_page(
            request,
            ctx,
            kind=kind,
            title=title,
            action=action,
            values=raw,
            errors=_errors_of(exc),
            message=exc.message_zh,
            status_code=exc.http_status,
        )
    return RedirectResponse(done, status_code=303)


@router.get("/households/{household_id}/edit")
def household_edit_form(
    household_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_WRITE)),
    db: Session = Depends(get_db),
) -> Response:
    """Edit the household's basic facts."""
    ctx = _file_context(db, user, household_id)
    values = forms.form_values(ctx["h"], rules.HOUSEHOLD_FIELDS)
    ctx["blocks"] = project_service.blocks(db, ctx["h"].project_id)
    ctx["form_version"] = ctx["h"].version
    return _form_page(
        request,
        ctx,
        kind="household",
        title=N_("编辑基本信息"),
        action=f"/households/{household_id}/edit",
        values=values,
    )


@router.post("/households/{household_id}/edit")
async def household_edit(
    household_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_WRITE)),
    db: Session = Depends(get_db),
) -> Response:
    """Save the household's basic facts (audited with the reason given)."""
    form = await request.form()
    ctx = _file_context(db, user, household_id)
    ctx["blocks"] = project_service.blocks(db, ctx["h"].project_id)
    raw = forms.submitted(form, rules.HOUSEHOLD_FIELDS)
    data = dict(raw)
    if "block_id" in form:
        data["block_id"] = form.get("block_id")
    version = ctx["form_version"] = _form_version(form)
    return _submit(
        request,
        ctx,
        kind="household",
        title=N_("编辑基本信息"),
        action=f"/households/{household_id}/edit",
        raw=raw,
        call=lambda: household_service.update_household(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            household_id=household_id,
            data=data,
            reason=str(form.get("reason", "")),
            expected_version=version,
        ),
        done=f"/households/{household_id}?tab=basic",
    )


def _child_routes(
    kind: str,
    label: str,
    tab: str,
    add: Callable[..., Any],
    update: Callable[..., Any] | None,
    void: Callable[..., Any] | None,
    id_kw: str,
) -> None:
    """Register new/edit/void form routes for one kind of child record (member, building, tenant)."""
    fields = forms.FORMS[kind]

    @router.get(f"/households/{{household_id}}/{kind}s/new", name=f"{kind}_new")
    def new_form(
        household_id: IdPath,
        request: Request,
        user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_WRITE)),
        db: Session = Depends(get_db),
    ) -> Response:
        ctx = _file_context(db, user, household_id)
        return _form_page(
            request,
            ctx,
            kind=kind,
            title=msg("新增{label}", label=label),
            action=f"/households/{household_id}/{kind}s",
            values={},
        )

    @router.post(f"/households/{{household_id}}/{kind}s", name=f"{kind}_create")
    async def create(
        household_id: IdPath,
        request: Request,
        user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_WRITE)),
        db: Session = Depends(get_db),
    ) -> Response:
        form = await request.form()
        ctx = _file_context(db, user, household_id)
        raw = forms.submitted(form, fields)
        return _submit(
            request,
            ctx,
            kind=kind,
            title=msg("新增{label}", label=label),
            action=f"/households/{household_id}/{kind}s",
            raw=raw,
            call=lambda: add(
                db,
                actor=user.actor(client_ip(request)),
                scope=user.scope,
                household_id=household_id,
                data=raw,
                reason=str(form.get("reason", "")),
            ),
            done=f"/households/{household_id}?tab={tab}",
        )

    def _owner(db: Session, user: CurrentUser, child_id: int) -> int:
        _obj, household = household_service.child_record(db, scope=user.scope, kind=kind, child_id=child_id)
        return int(household.id)

    if update is not None:

        @router.get(f"/{kind}s/{{child_id}}/edit", name=f"{kind}_edit_form")
        def edit_form(
            child_id: IdPath,
            request: Request,
            user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_WRITE)),
            db: Session = Depends(get_db),
        ) -> Response:
            obj, household = household_service.child_record(
                db, scope=user.scope, kind=kind, child_id=child_id
            )
            ctx = _file_context(db, user, household.id)
            values = forms.form_values(obj, fields)
            if kind == "member":
                values["id_number"] = ""  # never echo the full number into a page; blank keeps it
            ctx["form_version"] = obj.version
            return _form_page(
                request,
                ctx,
                kind=kind,
                title=msg("编辑{label}", label=label),
                action=f"/{kind}s/{child_id}/edit",
                values=values,
            )

        @router.post(f"/{kind}s/{{child_id}}/edit", name=f"{kind}_edit")
        async def edit(
            child_id: IdPath,
            request: Request,
            user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_WRITE)),
            db: Session = Depends(get_db),
        ) -> Response:
            form = await request.form()
            household_id = _owner(db, user, child_id)
            ctx = _file_context(db, user, household_id)
            raw = forms.submitted(form, fields)
            if kind == "member" and not str(raw.get("id_number", "")).strip():
                raw.pop("id_number", None)  # blank means "unchanged"
            # A stale form shows the 409 message and keeps the version it was read at.
            version = ctx["form_version"] = _form_version(form)
            return _submit(
                request,
                ctx,
                kind=kind,
                title=msg("编辑{label}", label=label),
                action=f"/{kind}s/{child_id}/edit",
                raw=raw,
                call=lambda: update(
                    db,
                    actor=user.actor(client_ip(request)),
                    scope=user.scope,
                    reason=str(form.get("reason", "")),
                    data=raw,
                    expected_version=version,
                    **{id_kw: child_id},
                ),
                done=f"/households/{household_id}?tab={tab}",
            )

    if void is not None:

        @router.post(f"/{kind}s/{{child_id}}/void", name=f"{kind}_void")
        def void_route(
            child_id: IdPath,
            request: Request,
            reason: str = Form(""),
            user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_WRITE)),
            db: Session = Depends(get_db),
        ) -> Response:
            household_id = _owner(db, user, child_id)
            void(
                db, actor=user.actor(client_ip(request)), scope=user.scope, reason=reason, **{id_kw: child_id}
            )
            return RedirectResponse(f"/households/{household_id}?tab={tab}", status_code=303)


_child_routes(
    "member",
    N_("家庭成员"),
    "members",
    household_service.add_member,
    household_service.update_member,
    household_service.void_member,
    "member_id",
)
_child_routes(
    "building",
    N_("房屋"),
    "buildings",
    household_service.add_building,
    household_service.update_building,
    household_service.void_building,
    "building_id",
)
_child_routes(
    "tenant",
    N_("承租人"),
    "tenants",
    household_service.add_tenant,
    None,
    household_service.void_tenant,
    "tenant_id",
)


@router.get("/households/{household_id}/homestead/edit")
def homestead_form(
    household_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_WRITE)),
    db: Session = Depends(get_db),
) -> Response:
    """Edit the homestead (宅基地) facts."""
    ctx = _file_context(db, user, household_id)
    hs = ctx["f"].homestead
    values = forms.form_values(hs, rules.HOMESTEAD_FIELDS) if hs else {}
    ctx["form_version"] = hs.version if hs else None
    return _form_page(
        request,
        ctx,
        kind="homestead",
        title=N_("宅基地"),
        action=f"/households/{household_id}/homestead",
        values=values,
    )


@router.post("/households/{household_id}/homestead")
async def homestead_save(
    household_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_WRITE)),
    db: Session = Depends(get_db),
) -> Response:
    """Save the homestead facts."""
    form = await request.form()
    ctx = _file_context(db, user, household_id)
    raw = forms.submitted(form, rules.HOMESTEAD_FIELDS)
    version = ctx["form_version"] = _form_version(form)
    return _submit(
        request,
        ctx,
        kind="homestead",
        title=N_("宅基地"),
        action=f"/households/{household_id}/homestead",
        raw=raw,
        call=lambda: household_service.set_homestead(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            household_id=household_id,
            data=raw,
            reason=str(form.get("reason", "")),
            expected_version=version,
        ),
        done=f"/households/{household_id}?tab=buildings",
    )


@router.get("/buildings/{building_id}/valuations/new")
def valuation_form(
    building_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_WRITE)),
    db: Session = Depends(get_db),
) -> Response:
    """Record a valuation result for one building."""
    _b, household = household_service.child_record(
        db, scope=user.scope, kind="building", child_id=building_id
    )
    ctx = _file_context(db, user, household.id)
    return _form_page(
        request,
        ctx,
        kind="valuation",
        title=N_("录入评估结果"),
        action=f"/buildings/{building_id}/valuations",
        values={},
    )


@router.post("/buildings/{building_id}/valuations")
async def valuation_save(
    building_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_WRITE)),
    db: Session = Depends(get_db),
) -> Response:
    """Save a valuation result."""
    form = await request.form()
    _b, household = household_service.child_record(
        db, scope=user.scope, kind="building", child_id=building_id
    )
    ctx = _file_context(db, user, household.id)
    raw = forms.submitted(form, rules.VALUATION_FIELDS)
    return _submit(
        request,
        ctx,
        kind="valuation",
        title=N_("录入评估结果"),
        action=f"/buildings/{building_id}/valuations",
        raw=raw,
        call=lambda: household_service.add_valuation(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            building_id=building_id,
            data=raw,
            reason=str(form.get("reason", "")),
        ),
        done=f"/households/{household.id}?tab=buildings",
    )


@router.post("/validate/{kind}/{field}")
async def validate_field(
    kind: str,
    field: str,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_WRITE)),
) -> Response:
    """Inline validation of one form field (htmx on change): returns the Chinese message or nothing."""
    fields = forms.FORMS.get(kind)
    if fields is None:
        raise NotFound(N_("表单不存在"), "unknown form")
    form = await request.form()
    raw = {k: v for k, v in forms.submitted(form, fields).items() if k == field}
    _values, errors = rules.clean(fields, raw, partial=True)
    return HTMLResponse(errors[0].message if errors else "")


@router.post("/members/{member_id}/reveal")
def reveal_id_number(
    member_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.PII_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """Show one member's full identity number; each reveal is audited."""
    value = household_service.reveal_member_id_number(
        db, actor=user.actor(client_ip(request)), scope=user.scope, member_id=member_id
    )
    return HTMLResponse(f'<span class="mono">{value}</span>')


# ------------------------------------------------------------- facts the policy declares


def _policy_fact_rows(
    db: Session, user: CurrentUser, project_id: int, household_id: int
) -> list[dict[str, Any]]:
    decls = compensation_service.declared_facts(db, project_id)
    if not decls:
        return []
    stored = household_service.policy_facts_of(db, scope=user.scope, household_id=household_id)
    return household_service.policy_fact_values(decls, stored)


def _policy_fact_groups(db: Session, user: CurrentUser, ctx: dict[str, Any]) -> list[dict[str, Any]]:
    """The building- and member-level declared facts of the household in ``ctx``: one group per
    building (certificate) and per member, each with its place in words and its rows."""
    decls = compensation_service.declared_facts(db, ctx["h"].project_id)
    if not any(d.level != "household" for d in decls.values()):
        return []
    f = ctx["f"]
    stored = household_service.element_policy_facts_of(db, scope=user.scope, household_id=f.household.id)
    return household_service.element_policy_fact_values(
        decls,
        stored,
        [(b.building.id, b.building.certificate_no or f"#{b.building.id}") for b in f.buildings],
        [(m.id, m.name) for m in f.members],
    )
