"""Daily dispatch report (每日调度通报): drafts computed from live data, issued reports frozen.

A report of project P for day D is a draft until the commander issues it. A draft's numbers are
computed each time from the campaign's progress and alerts for D (``campaign_service.progress``,
``campaign_service.alerts``); only the commander's title and commentary are stored while drafting
(versioned, audited). Issuing stores the numbers as canonical JSON with their SHA-256, renders the
PDF once and archives it under ``<data_dir>/dispatch/<project>/``; from then on the page, the
DOCX and the PDF come from the frozen snapshot only, and the report can no longer change.

Household rows (stalled households, overdue steps) name households; a reader whose data scope
is not the whole project sees only the rows of households in reach (the counts stay whole).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.campaign import service as campaign_service
from anju.config import get_settings
from anju.core import typst_pdf
from anju.core.actor import Actor
from anju.core.dates import to_shanghai
from anju.db import events
from anju.errors import Conflict
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.identity.service import DataScope
from anju.project import service as project_service
from anju.reporting import docx_template, rules
from anju.reporting.models import DispatchReport

__all__ = [
    "ReportSummary",
    "ReportView",
    "compute_numbers",
    "docx",
    "get_view",
    "issue",
    "list_reports",
    "pdf",
    "save_commentary",
]

log = logging.getLogger(__name__)

TYPST_TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "reporting" / "dispatch.typ"
ENTITY = "dispatch_report"


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class ReportSummary:
    """A stored report as the archive list shows it."""

    report_on: date
    status: str
    status_label: str
    title: str
    version: int
    issued_by: str
    issued_at: datetime | None
    numbers_sha256: str
    pdf_sha256: str


@dataclass(frozen=True, slots=True)
class ReportView:
    """One report as shown: a draft computed now, or an issued report from its frozen snapshot.

    ``version`` is 0 while nothing is stored for the date (a draft nobody has edited).
    ``doc`` is the printed text (:func:`anju.reporting.rules.document`); ``numbers`` the snapshot,
    its household rows limited to the reader's scope.
    """

    project_id: int
    report_on: date
    status: str
    title: str
    commentary: str
    version: int
    numbers: dict[str, Any]
    numbers_sha256: str
    pdf_sha256: str
    issued_by: str
    issued_at: datetime | None
    doc: dict[str, Any]
    partial: bool  # household rows were limited to the reader's scope

    @property
    def issued(self) -> bool:
        """Whether the report is frozen."""
        return self.status == "issued"


def _row(session: Session, project_id: int, report_on: date, *, lock: bool = False) -> DispatchReport | None:
    stmt = select(DispatchReport).where(
        DispatchReport.project_id == project_id, DispatchReport.report_on == report_on
    )
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def list_reports(session: Session, *, project_id: int) -> list[ReportSummary]:
    """The project's stored reports (issued ones and drafts with commentary), newest date first."""
    project_service.get_project(session, project_id)
    rows = session.scalars(
        select(DispatchReport)
        .where(DispatchReport.project_id == project_id)
        .order_by(DispatchReport.report_on.desc())
    )
    out = []
    for r in rows:
        out.append(
            ReportSummary(
                report_on=r.report_on,
                status=r.status,
                status_label=rules.REPORT_STATUSES.get(r.status, r.status),
                title=r.title,
                version=r.version,
                issued_by=_issuer(session, r, None) if r.status == "issued" else "",
                issued_at=r.issued_at,
                numbers_sha256=r.numbers_sha256,
                pdf_sha256=r.pdf_sha256,
            )
        )
    return out


def compute_numbers(session: Session, *, project_id: int, report_on: date) -> dict[str, Any]:
    """The report's numbers for ``report_on`` from live data (the whole project, every team).

    Headline, per block and per team figures are the progress service's for the same date
    (``campaign_service.progress(...).to_dict()``), so the report and the progress API agree
    number for number; stalled households and overdue steps come from the alerts service
    (stalled as of ``report_on``: the last visit on or before it, a household signed after it
    still open).
    """
    project = project_service.get_project(session, project_id)
    everything = DataScope.everything()
    progress = _as_dict(
        campaign_service.progress(session, scope=everything, project_id=project_id, on=report_on)
    )
    # Stalled households as of the report's date (visits after it do not count), not as of now.
    alerts = campaign_service.alerts(
        session, scope=everything, project_id=project_id, today=report_on, as_of=True
    )
    return _snapshot(
        project={"id": project.id, "code": project.code, "name": project.name},
        report_on=report_on,
        progress=progress,
        alerts=alerts,
    )


def get_view(
    session: Session, *, scope: DataScope, project_id: int, report_on: date, now: datetime
) -> ReportView:
    """The report of ``report_on``: frozen when issued, else computed now (nothing is written)."""
    project = project_service.get_project(session, project_id)
    row = _row(session, project_id, report_on)
    if row is not None and row.status == "issued":
        numbers = json.loads(row.numbers)
        sha = row.numbers_sha256
    else:
        rules.check_report_on(report_on, to_shanghai(now).date())
        numbers = compute_numbers(session, project_id=project_id, report_on=report_on)
        sha = rules.digest(numbers)
    visible, partial = _in_scope(session, scope, project_id, numbers)
    title = (row.title if row is not None and row.title else "") or rules.default_title(
        project.name, report_on
    )
    issued_by = _issuer(session, row, numbers) if row is not None and row.status == "issued" else ""
    issued_at = row.issued_at if row is not None else None
    commentary = row.commentary if row is not None else ""
    status = row.status if row is not None else "draft"
    doc = rules.document(
        visible,
        title=title,
        commentary=commentary,
        status=status,
        issued_by=issued_by,
        issued_at=_local_text(issued_at),
        numbers_sha256=sha,
    )
    return ReportView(
        project_id=project_id,
        report_on=report_on,
        status=status,
        title=title,
        commentary=commentary,
        version=row.version if row is not None else 0,
        numbers=visible,
        numbers_sha256=sha,
        pdf_sha256=row.pdf_sha256 if row is not None else "",
        issued_by=issued_by,
        issued_at=issued_at,
        doc=doc,
        partial=partial,
    )


def _issuer(session: Session, row: DispatchReport, numbers: dict[str, Any] | None) -> str:
    """Who issued the report, as frozen with its numbers (the name at the time of issuing)."""
    if numbers is None and row.numbers:
        numbers = json.loads(row.numbers)
    frozen = (numbers or {}).get("issue") or {}
    if frozen.get("by"):
        return str(frozen["by"])
    return identity_service.display_name(session, row.issued_by, "") if row.issued_by else ""


def _in_scope(
    session: Session, scope: DataScope, project_id: int, numbers: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """``numbers`` with the household rows outside ``scope`` removed; whether any were removed."""
    if scope.whole:
        return numbers, False
    reach = {h.id for h in household_service.placed_households(session, scope=scope, project_id=project_id)}
    out = dict(numbers)
    partial = False
    for key in ("stalled", "overdue"):
        part = dict(out[key])
        items = [i for i in part["items"] if i.get("household_id") in reach]
        partial = partial or len(items) != len(part["items"])
        part["items"] = items
        out[key] = part
    return out, partial


# --------------------------------------------------------------------------- writing


def _writable(
    session: Session, *, actor: Actor, project_id: int, report_on: date, version: int | None, now: datetime
) -> DispatchReport:
    """The report row of the date, locked and checked (not issued, ``version`` current), or a fresh
    draft row when none is stored and ``version`` is 0 or not given. Nothing is written before the
    checks pass."""
    row = _row(session, project_id, report_on, lock=True)
    if row is not None:
        rules.check_editable(row.status, report_on)
        if version is not None and version != row.version:
            raise household_service.stale_version(
                session, what="该调度通报", current=row.version, entity=ENTITY, entity_id=row.id
            )
        return row
    if version not in (None, 0):
        raise Conflict(
            f"{report_on.isoformat()} 的调度通报尚未保存过（版本号应为 0），请刷新页面后重试",
            "the report is not stored yet (version 0); reload",
            code="stale_version",
            details=[{"field": "version", "current_version": 0}],
        )
    project = project_service.get_project(session, project_id)
    row = DispatchReport(
        project_id=project_id,
        report_on=report_on,
        status="draft",
        title=rules.default_title(project.name, report_on),
        commentary="",
        numbers="",
        numbers_sha256="",
        pdf_sha256="",
        created_by=actor.user_id,
        created_at=now,
        version=1,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:  # another request created it meanwhile
        raise Conflict(
            f"{report_on.isoformat()} 的调度通报刚被他人创建，请刷新页面后重试",
            "the report was created meanwhile; reload",
            code="stale_version",
        ) from exc
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity=ENTITY,
        entity_id=row.id,
        changes={"report_on": report_on.isoformat(), "status": "draft", "title": row.title},
        project_id=project_id,
    )
    return row


def _bump(row: DispatchReport) -> None:
    row.version = int(row.version) + 1


def save_commentary(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    report_on: date,
    commentary: str,
    title: str | None = None,
    version: int | None,
    now: datetime,
) -> DispatchReport:
    """Store the commander's commentary (and title) of a draft; ``version`` 0 for a report not yet stored.

    Refused when the report is issued (409 ``report_issued``) or ``version`` is stale (409
    ``stale_version``). Audited with the text before and after.
    """
    rules.check_report_on(report_on, to_shanghai(now).date())
    rules.check_commentary(commentary, title)
    row = _writable(
        session, actor=actor, project_id=project_id, report_on=report_on, version=version, now=now
    )
    changes: dict[str, list[Any]] = {}
    if commentary != row.commentary:
        changes["commentary"] = [row.commentary, commentary]
        row.commentary = commentary
    if title is not None:
        title = title.strip() or rules.default_title(
            project_service.get_project(session, project_id).name, report_on
        )
        if title != row.title:
            changes["title"] = [row.title, title]
            row.title = title
    if changes:
        _bump(row)
        audit_service.record(
            session,
            actor=actor,
            action="update",
            entity=ENTITY,
            entity_id=row.id,
            changes=changes,
            project_id=project_id,
        )
        session.flush()
    return row


def issue(
    session: Session, *, actor: Actor, project_id: int, report_on: date, version: int | None, now: datetime
) -> DispatchReport:
    """签发: freeze the numbers of ``report_on`` (JSON + SHA-256), render and archive the PDF.

    Refused when already issued (409 ``report_issued``) or ``version`` is stale. Audited; a
    ``dispatch`` change event tells live pages after the commit.
    """
    rules.check_report_on(report_on, to_shanghai(now).date())
    row = _writable(
        session, actor=actor, project_id=project_id, report_on=report_on, version=version, now=now
    )
    numbers = compute_numbers(session, project_id=project_id, report_on=report_on)
    # who and when are part of the frozen record: a later change of the user's name changes nothing
    numbers["issue"] = {"by": actor.display_name, "username": actor.username, "at": _local_text(now)}
    sha = rules.digest(numbers)
    row.status = "issued"
    row.numbers = rules.canonical(numbers).decode("utf-8")
    row.numbers_sha256 = sha
    row.issued_by = actor.user_id
    row.issued_at = now
    doc = rules.document(
        numbers,
        title=row.title,
        commentary=row.commentary,
        status="issued",
        issued_by=actor.display_name,
        issued_at=_local_text(now),
        numbers_sha256=sha,
    )
    content = _render_pdf(doc)
    row.pdf_sha256 = hashlib.sha256(content).hexdigest()
    _archive(project_id, report_on, row.pdf_sha256, content)
    _bump(row)
    audit_service.record(
        session,
        actor=actor,
        action="issue",
        entity=ENTITY,
        entity_id=row.id,
        changes={
            "status": ["draft", "issued"],
            "numbers_sha256": sha,
            "pdf_sha256": row.pdf_sha256,
            "headline": numbers["headline"],
        },
        project_id=project_id,
    )
    events.notify(
        session,
        topic=events.project_topic(project_id),
        kind="dispatch",
        data={"report_on": report_on.isoformat(), "status": "issued"},
    )
    session.flush()
    return row


# --------------------------------------------------------------------------- documents


def _render_pdf(doc: dict[str, Any]) -> bytes:
    return typst_pdf.render_pdf(TYPST_TEMPLATE, doc)


def archive_path(project_id: int, report_on: date, pdf_sha256: str) -> Path:
    """Where the issued PDF of a report is kept (named by date and digest, never overwritten)."""
    return (
        get_settings().data_dir
        / "dispatch"
        / str(project_id)
        / f"{report_on.isoformat()}-{pdf_sha256[:16]}.pdf"
    )


def _archive(project_id: int, report_on: date, pdf_sha256: str, content: bytes) -> Path:
    path = archive_path(project_id, report_on, pdf_sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == pdf_sha256:
        return path
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)
    return path


def pdf(session: Session, *, scope: DataScope, project_id: int, report_on: date, now: datetime) -> bytes:
    """The report as PDF: an issued report's archived file (the whole project), else rendered now.

    A reader limited to part of the project gets a PDF rendered for their scope. A missing or
    damaged archive file is rendered again from the frozen snapshot (typst output is
    reproducible for the same data and fonts) and put back when it matches the recorded digest.
    """
    view = get_view(session, scope=scope, project_id=project_id, report_on=report_on, now=now)
    if not view.issued or view.partial or not scope.whole:
        return _render_pdf(view.doc)
    path = archive_path(project_id, report_on, view.pdf_sha256)
    if path.is_file():
        content = path.read_bytes()
        if hashlib.sha256(content).hexdigest() == view.pdf_sha256:
            return content
        log.warning("dispatch archive %s does not match its digest; rendering from the snapshot", path)
    content = _render_pdf(view.doc)
    if hashlib.sha256(content).hexdigest() == view.pdf_sha256:
        _archive(project_id, report_on, view.pdf_sha256, content)
    else:
        log.warning("dispatch PDF of %s re-rendered with a different digest (fonts changed?)", report_on)
    return content


def docx(session: Session, *, scope: DataScope, project_id: int, report_on: date, now: datetime) -> bytes:
    """The report as DOCX, from the editable template (:mod:`anju.reporting.docx_template`)."""
    from docxtpl import DocxTemplate

    view = get_view(session, scope=scope, project_id=project_id, report_on=report_on, now=now)
    template = DocxTemplate(str(docx_template.template_path()))
    template.render(view.doc, autoescape=True)
    out = io.BytesIO()
    template.save(out)
    return out.getvalue()


def _local_text(at: datetime | None) -> str:
    return "" if at is None else to_shanghai(at).strftime("%Y-%m-%d %H:%M")


# --------------------------------------------------------------------------- the snapshot


def _as_dict(obj: Any) -> dict[str, Any]:
    if hasattr(obj, "to_dict"):
        out: dict[str, Any] = obj.to_dict()
        return out
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"cannot read {type(obj).__name__} as a mapping")


def _plain(value: Any) -> Any:
    """JSON-able: Decimals as text, dates as ISO text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _alert_rows(items: list[Any], *, overdue: bool) -> list[dict[str, Any]]:
    out = []
    for a in items[: rules.OVERDUE_TOP if overdue else rules.STALLED_TOP]:
        row: dict[str, Any] = {
            "household_id": a.household_id,
            "code": a.code,
            "head_name": a.head_name,
            "team": a.team_name,
            "person": a.user_name,
            "days": a.days,
        }
        if overdue:
            row["step"] = a.detail
            row["due_on"] = a.due_on.isoformat() if a.due_on else None
        out.append(row)
    return out


def _counts(c: Mapping[str, Any]) -> dict[str, Any]:
    """The counts of one progress row (totals, a block or a team) the report keeps."""
    rates = c["rates"]
    return {
        "households": int(c["households"]),
        "surveyed": int(c["surveyed"]),
        "valued": int(c["valued"]),
        "negotiating": int(c["negotiating"]),
        "signed": int(c["signed"]),
        "sign_rate": rates["signed"],
        "signed_on_day": int(c["signed_on_day"]),
        "signed_prev_day": int(c["signed_day_before"]),
        "signed_last7": int(c["signed_last7"]),
        "vacated": int(c["vacated"]),
        "vacate_rate": rates["vacated"],
        "demolished": int(c["demolished"]),
        "demolish_rate": rates["demolished"],
        "paid": int(c["paid"]),
        "pay_rate": rates["paid"],
    }


def _snapshot(
    *,
    project: dict[str, Any],
    report_on: date,
    progress: dict[str, Any],
    alerts: Any,
) -> dict[str, Any]:
    """The frozen form of the report (format :data:`rules.NUMBERS_FORMAT`), from the progress
    service's ``to_dict()`` and the alerts of the same day."""
    schedule = progress["schedule"]
    headline = _counts(progress["totals"])
    headline.update(
        target=schedule["target"],
        remaining=schedule["remaining"],
        days_since_launch=progress["days_since_launch"],
        launched_on=progress["launched_on"],
        deadline_on=schedule["deadline_on"],
        days_left=schedule["days_left"],
        need_per_day=schedule["required_per_day"],
        actual_per_day=schedule["actual_per_day"],
        on_track=schedule["on_track"],
        planned=schedule["planned"],
    )
    blocks = [
        {"id": b["id"], "name": b["name"], "path": b["path"], "depth": b["depth"], **_counts(b)}
        for b in progress["blocks"]
    ]
    teams = []
    for level, label in (("groups", "大组"), ("squads", "专班")):
        for t in progress["rankings"].get(level, []):
            teams.append(
                {
                    "id": t["id"],
                    "name": t["name"],
                    "level": label,
                    "rank": t["rank_signed"],
                    "rank_rate": t["rank_rate"],
                    "rank_speed": t["rank_speed"],
                    **_counts(t),
                }
            )
    records = progress["records"]
    parent_of = {b["id"]: b["parent_id"] for b in progress["blocks"]}
    completed = {b["id"] for b in records["completed_blocks"]}
    snapshot: dict[str, Any] = _plain(
        {
            "format": rules.NUMBERS_FORMAT,
            "project": project,
            "report_on": report_on.isoformat(),
            "previous_on": rules.previous_day(report_on).isoformat(),
            "headline": headline,
            "blocks": blocks,
            "teams": teams,
            "unassigned": _counts(progress["unassigned"]),
            "records": {
                "last_signed_at": records["last_signed_at"],
                # the highest completed blocks (a completed block's completed children are implied)
                "completed_blocks": [
                    {"name": b["path"], "completed_on": b["completed_on"], "days": b["days_to_complete"]}
                    for b in records["completed_blocks"]
                    if parent_of.get(b["id"]) not in completed
                ],
            },
            "stalled": {
                "days": alerts.no_visit_days,
                "total": alerts.totals.get("no_visit", 0),
                "items": _alert_rows(alerts.no_visit, overdue=False),
            },
            "overdue": {
                "total": alerts.totals.get("overdue_steps", 0),
                "items": _alert_rows(alerts.overdue_steps, overdue=True),
            },
            "concerns": [
                {"tag": c["tag"], "label": c["label"], "visits": c["visits"], "households": c["households"]}
                for c in progress["concerns"]
            ],
        }
    )
    return snapshot
