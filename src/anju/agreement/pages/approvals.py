"""HTML pages of amendments and cancellations: the approvals inbox (审批) of leaders and an agreement's
changes panel (需变更提示, the difference, the request forms, the history).

The panel is ``agreement/changes_panel.html``: the household's agreement page includes it with the
context :func:`changes_panel` builds (``cp``), and ``GET /agreements/{id}/changes`` serves it as a
page of its own (or as a fragment to an htmx request). Forms post back and redirect (303); a refused
request re-renders the page with the message and the refusal's status, nothing written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.agreement import rules
from anju.agreement import service as agreement_service
from anju.errors import DomainError
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath, parse_id
from anju.web.templating import render

router = APIRouter(include_in_schema=False)
READ = requires(Permission.HOUSEHOLD_READ)
CAMPAIGN_READ = requires(Permission.CAMPAIGN_READ)
SIGN = requires(Permission.AGREEMENT_SIGN)
APPROVE = requires(Permission.AGREEMENT_APPROVE)
# Where the inbox sends leaders for the other thing they approve (the payment domain's page).
PAYMENT_BATCHES_URL = "/payments/batches?status=submitted"


@dataclass
class ChangesPanel:
    """What the changes panel shows for one agreement."""

    agreement: Any
    check: agreement_service.AmendmentCheck
    rows: list[agreement_service.ChangeRow]
    waiting: agreement_service.ChangeRow | None
    can_request: bool
    can_decide: bool
    next_url: str
    labels: dict[str, dict[str, str]] = field(default_factory=dict)


def _labels() -> dict[str, dict[str, str]]:
    return {
        "kinds": agreement_service.CHANGE_KINDS,
        "statuses": agreement_service.CHANGE_STATUSES,
        "agreement": rules.STATUSES,
    }


def changes_panel(db: Session, user: CurrentUser, agreement_id: int, *, next_url: str = "") -> ChangesPanel:
    """The panel of one agreement (404 outside the user's households); refreshes the stored flag."""
    check = agreement_service.amendment_check(db, scope=user.scope, agreement_id=agreement_id)
    a = agreement_service.get_agreement(db, scope=user.scope, agreement_id=agreement_id)
    rows = agreement_service.changes_of(db, scope=user.scope, agreement_id=agreement_id)
    waiting = next((r for r in rows if r.change.status == "requested"), None)
    return ChangesPanel(
        agreement=a,
        check=check,
        rows=rows,
        waiting=waiting,
        can_request=user.can(Permission.AGREEMENT_SIGN) and check.live and waiting is None,
        can_decide=user.can(Permission.AGREEMENT_APPROVE),
        next_url=next_url or f"/agreements/{agreement_id}/changes",
        labels=_labels(),
    )


def _safe_next(value: str, default: str) -> str:
    """A local path to go back to (never another site)."""
    value = value.strip()
    if value.startswith("/") and not value.startswith("//") and "\\" not in value and len(value) <= 300:
        return value
    return default


def _panel_page(
    request: Request,
    db: Session,
    user: CurrentUser,
    agreement_id: int,
    *,
    message: str = "",
    status_code: int = 200,
    form: dict[str, str] | None = None,
) -> Response:
    cp = changes_panel(db, user, agreement_id)
    ctx: dict[str, Any] = {
        "cp": cp,
        "project": project_service.get_project(db, cp.agreement.project_id),
        "active": "households",
        "message": message,
        "form": form or {},
    }
    fragment = request.headers.get("hx-request") == "true"
    return render(
        request,
        "agreement/changes_panel.html" if fragment else "agreement/changes.html",
        ctx,
        status_code=status_code,
    )


@router.get("/agreements/{agreement_id}/changes")
def changes_page(
    agreement_id: IdPath, request: Request, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """An agreement's changes: the amendment flag with the difference item by item and the facts
    that changed, the request forms (case officers), the waiting request and the history."""
    return _panel_page(request, db, user, agreement_id)


@router.post("/agreements/{agreement_id}/changes")
def request_form(
    agreement_id: IdPath,
    request: Request,
    kind: str = Form(""),
    reason: str = Form(""),
    version: str = Form(""),
    next_url: str = Form("", alias="next"),
    user: CurrentUser = Depends(SIGN),
    db: Session = Depends(get_db),
) -> Response:
    """Ask for an amendment or a cancellation, with the reason; back to ``next`` (the panel)."""
    try:
        agreement_service.request_change(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            agreement_id=agreement_id,
            kind=kind,
            reason=reason,
            expected_version=parse_id(version),
        )
    except DomainError as exc:
        db.rollback()
        return _panel_page(
            request,
            db,
            user,
            agreement_id,
            message=exc.message_zh,
            status_code=exc.http_status,
            form={"kind": kind, "reason": reason},
        )
    default = f"/agreements/{agreement_id}/changes"
    return RedirectResponse(_safe_next(next_url, default) + "#changes", status_code=303)


def _inbox(
    request: Request,
    db: Session,
    user: CurrentUser,
    *,
    project_id: int | None = None,
    message: str = "",
    status_code: int = 200,
) -> Response:
    waiting = agreement_service.open_changes(db, scope=user.scope, project_id=project_id)
    checks: dict[int, agreement_service.AmendmentCheck] = {}
    for row in waiting:
        if row.change.kind == "amend":
            # one household each: the leader sees what the amendment would change before approving
            checks[row.change.id] = agreement_service.amendment_check(
                db, scope=user.scope, agreement_id=row.agreement.id, store=False
            )
    decided = [
        *agreement_service.open_changes(
            db, scope=user.scope, project_id=project_id, status="approved", limit=20
        ),
        *agreement_service.open_changes(
            db, scope=user.scope, project_id=project_id, status="rejected", limit=20
        ),
    ]
    decided.sort(key=lambda r: r.change.decided_at or r.change.requested_at, reverse=True)
    projects = {p.id: p for p in project_service.list_projects(db)}
    ctx: dict[str, Any] = {
        "waiting": waiting,
        "checks": checks,
        "decided": decided[:20],
        "projects": projects,
        "project": projects.get(project_id) if project_id else None,
        "project_filter": project_id,
        "active": "approvals",
        "message": message,
        "labels": _labels(),
        "payments_url": PAYMENT_BATCHES_URL if user.can(Permission.PAYMENT_APPROVE) else "",
    }
    return render(request, "agreement/approvals.html", ctx, status_code=status_code)


@router.get("/approvals")
def approvals_page(
    request: Request,
    project_id: str = "",
    user: CurrentUser = Depends(APPROVE),
    db: Session = Depends(get_db),
) -> Response:
    """The leaders' approvals inbox (审批): agreement amendments and cancellations waiting for a
    decision (with what an amendment changes), the latest decisions, a link to payment batches."""
    return _inbox(request, db, user, project_id=parse_id(project_id))


def _decide(
    request: Request,
    db: Session,
    user: CurrentUser,
    change_id: int,
    note: str,
    version: str,
    *,
    approve: bool,
) -> Response:
    actor = user.actor(client_ip(request))
    try:
        if approve:
            agreement_service.approve_change(
                db,
                actor=actor,
                scope=user.scope,
                change_id=change_id,
                note=note,
                expected_version=parse_id(version),
            )
        else:
            agreement_service.reject_change(
                db,
                actor=actor,
                scope=user.scope,
                change_id=change_id,
                note=note,
                expected_version=parse_id(version),
            )
    except DomainError as exc:
        db.rollback()
        return _inbox(request, db, user, message=exc.message_zh, status_code=exc.http_status)
    return RedirectResponse(f"/approvals#change-{change_id}", status_code=303)


@router.post("/agreement-changes/{change_id}/approve")
def approve_form(
    change_id: IdPath,
    request: Request,
    note: str = Form(""),
    version: str = Form(""),
    user: CurrentUser = Depends(APPROVE),
    db: Session = Depends(get_db),
) -> Response:
    """Approve a change request (not one's own); back to the inbox."""
    return _decide(request, db, user, change_id, note, version, approve=True)


@router.post("/agreement-changes/{change_id}/reject")
def reject_form(
    change_id: IdPath,
    request: Request,
    note: str = Form(""),
    version: str = Form(""),
    user: CurrentUser = Depends(APPROVE),
    db: Session = Depends(get_db),
) -> Response:
    """Reject a change request with the reason; back to the inbox."""
    return _decide(request, db, user, change_id, note, version, approve=False)


@router.get("/projects/{project_id}/conditions")
def conditions_panel(
    project_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(CAMPAIGN_READ),
    db: Session = Depends(get_db),
) -> Response:
    """The project's conditional agreements (附生效条件) for the dashboard: the waiting conditions with
    their progress and the counts by status (counts only). The dashboard loads it with htmx (the
    fragment); opened directly (a bookmark, a new tab) it is a page of its own with the layout."""
    ctx = {
        "conditions": agreement_service.condition_board(db, project_id=project_id),
        "project": project_service.get_project(db, project_id),
        "active": "campaign",
    }
    fragment = request.headers.get("hx-request") == "true"
    return render(
        request, "agreement/conditions_panel.html" if fragment else "agreement/conditions.html", ctx
    )
