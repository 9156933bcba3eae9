"""Audit page: verify the chain; read every record in words, filtered and paged; export to xlsx."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.responses import Response

from anju import i18n
from anju import uploads as upload_store
from anju.audit import service as audit_service
from anju.core.dates import today_shanghai
from anju.errors import DomainError, ValidationFailed
from anju.i18n import N_, msg
from anju.identity import service as identity_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.long_work import run_long
from anju.web.params import OptionalIdQuery
from anju.web.record_names import name_records
from anju.web.templating import lang_of, render

router = APIRouter(include_in_schema=False)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAGE_SIZE = 50


def _date(value: str, field: str, label: str, errors: list[dict[str, str]]) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        errors.append({"field": field, "message": msg("{label}应为日期，如 2026-01-31", label=label)})
        return None


def audit_filter(
    actor: str, entity: str, action: str, date_from: str, date_to: str
) -> audit_service.AuditFilter:
    """The filter of the query string (the form sends "" for "any"); raises naming the bad field."""
    errors: list[dict[str, str]] = []
    actor_id: int | None = None
    if actor.strip() == "system":
        actor_id = audit_service.SYSTEM_ACTOR
    elif actor.strip():
        text = actor.strip()
        if text.isascii() and text.isdigit() and len(text) <= 15:
            actor_id = int(text)
        else:
            errors.append({"field": "actor", "message": N_("操作人无效")})
    where = audit_service.AuditFilter(
        actor_id=actor_id,
        entity=entity.strip()[:64],
        action=action.strip()[:32],
        date_from=_date(date_from, "date_from", N_("开始日期"), errors),
        date_to=_date(date_to, "date_to", N_("结束日期"), errors),
    )
    if errors:
        raise ValidationFailed(
            N_("筛选条件有误：") + "；".join(e["message"] for e in errors),
            "invalid audit filter",
            details=errors,
        )
    where.check()
    return where


def _value_in_words(name: str, value: Any) -> Any:
    """Stored codes of a change shown as words (a role as 网格员, not grid_worker)."""
    if name == "role" and isinstance(value, str) and value:
        return i18n.t(f"role.{value}")
    return value


def record_rows(db: Session, records: list[Any], lang: str = "zh") -> list[dict[str, Any]]:
    """The records as the page and the API show them: in words."""
    names = name_records(db, records, lang)
    people = identity_service.user_names(db)
    return [
        {
            "seq": r.seq,
            "at": r.at,
            "actor": people.get(r.actor_id, r.actor_name) if r.actor_id is not None else r.actor_name,
            "action": r.action,
            "action_label": audit_service.action_label(r.action, lang),
            "entity": r.entity,
            "entity_label": audit_service.entity_label(r.entity, lang),
            "record": names[r.seq],
            "changes": audit_service.changes_text(
                r.entity, r.changes, _value_in_words, brief=True, translate=lambda text: i18n.t(text, lang)
            ),
            "reason": r.reason,
            "hash": r.hash,
            "key_id": r.key_id,
        }
        for r in records
    ]


def _choices(lang: str) -> dict[str, list[tuple[str, str]]]:
    return {
        "entities": sorted(
            ((k, audit_service.entity_label(k, lang)) for k in audit_service.entity_codes()),
            key=lambda p: p[1],
        ),
        "actions": sorted(
            ((k, audit_service.action_label(k, lang)) for k in audit_service.action_codes()),
            key=lambda p: p[1],
        ),
    }


@router.get("/audit")
def audit_page(
    request: Request,
    verify: bool = False,
    actor: str = "",
    entity: str = "",
    action: str = "",
    date_from: str = "",
    date_to: str = "",
    before: OptionalIdQuery = None,
    after: OptionalIdQuery = None,
    user: CurrentUser = Depends(requires(Permission.AUDIT_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """The audit log in words, newest first, filtered by person, record kind, action and dates and
    paged by keyset; auditors can run a full chain verification."""
    result = audit_service.verify(db) if verify and user.can(Permission.AUDIT_VERIFY) else None
    values = {"actor": actor, "entity": entity, "action": action, "date_from": date_from, "date_to": date_to}
    query = {k: v for k, v in values.items() if v}
    errors: dict[str, str] = {}
    message = ""
    status_code = 200
    rows: list[dict[str, Any]] = []
    older = newer = None
    matched = 0
    try:
        where = audit_filter(actor, entity, action, date_from, date_to)
        found = audit_service.filtered_page(db, where=where, before=before, after=after, limit=PAGE_SIZE)
        rows = record_rows(db, found.records, lang_of(request))
        older, newer = found.older, found.newer
        matched = audit_service.count_matching(db, where=where) if query else audit_service.count(db)
    except DomainError as exc:
        errors = {d.get("field", ""): d.get("message", "") for d in (exc.details or [])}
        message, status_code = exc.message_zh, exc.http_status
    return render(
        request,
        "audit/index.html",
        {
            "result": result,
            "rows": rows,
            "total": audit_service.count(db),
            "matched": matched,
            "values": values,
            "errors": errors,
            "message": message,
            "older_url": f"/audit?{urlencode({**query, 'before': older})}" if older else "",
            "newer_url": f"/audit?{urlencode({**query, 'after': newer})}" if newer else "",
            "first_url": f"/audit?{urlencode(query)}" if (before or after) else "",
            "export_url": f"/audit/export.xlsx?{urlencode(query)}",
            # Everyone who could have acted (a GROUP BY over millions of records would not do).
            "actors": [(None, i18n.t("系统作业", lang_of(request)))]
            + [(u.id, f"{u.display_name}（{u.username}）") for u in identity_service.list_users(db)],
            "active": "audit",
            **_choices(lang_of(request)),
        },
        status_code=status_code,
    )


def export_response(
    db: Session, request: Request, user: CurrentUser, where: audit_service.AuditFilter
) -> Response:
    """The filtered records as an xlsx download; the export itself is audited."""
    scratch = upload_store.scratch_dir()
    fd, name = tempfile.mkstemp(prefix="audit-", suffix=".xlsx", dir=scratch)
    os.close(fd)
    path = Path(name)
    try:
        n = audit_service.export_xlsx(
            db, where=where, target=path, name_of=lambda batch: name_records(db, batch), tmpdir=scratch
        )
        audit_service.record(
            db,
            actor=user.actor(client_ip(request)),
            action="export",
            entity="audit_chain",
            entity_id="export",
            changes={"records": n, **where.describe()},
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return FileResponse(
        path,
        media_type=XLSX,
        # not page text (a file name, a check or the terminal)
        filename=f"审计日志-{today_shanghai():%Y%m%d}.xlsx",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@router.get("/audit/export.xlsx")
async def audit_export(
    request: Request,
    actor: str = "",
    entity: str = "",
    action: str = "",
    date_from: str = "",
    date_to: str = "",
    user: CurrentUser = Depends(requires(Permission.AUDIT_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """Download the filtered audit records as xlsx (streamed to disk, constant memory)."""
    where = audit_filter(actor, entity, action, date_from, date_to)
    return await run_long(lambda: export_response(db, request, user, where))
