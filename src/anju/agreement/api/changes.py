"""JSON routes of amendments (协议变更), cancellations (协议解除) and conditional agreements (附生效条件).

Thin over :mod:`anju.agreement.service`: a case officer asks for a change with a reason, a leader
other than the requester approves or rejects it; the amendment flag and its item-by-item difference
are read (and refreshed) per agreement; a project's pending conditional agreements are decided on
demand (the server also checks them every hour) and shown as counts for the dashboard.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from anju.agreement import schemas as s
from anju.agreement import service as agreement_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import READ_ERRORS, WRITE_ERRORS, IdPath, error_responses

router = APIRouter(tags=["agreement changes"])
SIGN = requires(Permission.AGREEMENT_SIGN)
APPROVE = requires(Permission.AGREEMENT_APPROVE)
READ = requires(Permission.HOUSEHOLD_READ)
CAMPAIGN_READ = requires(Permission.CAMPAIGN_READ)


def change_read(row: agreement_service.ChangeRow) -> s.ChangeRead:
    """A change request with its agreement, household and the names of who asked and who decided."""
    c, a = row.change, row.agreement
    return s.ChangeRead(
        id=c.id,
        project_id=c.project_id,
        agreement_id=a.id,
        agreement_no=a.agreement_no,
        household_id=a.household_id,
        household_code=row.household_code,
        head_name=row.head_name,
        kind=c.kind,
        kind_label=agreement_service.CHANGE_KINDS.get(c.kind, c.kind),
        reason=c.reason,
        status=c.status,
        status_label=agreement_service.CHANGE_STATUSES.get(c.status, c.status),
        requested_by=row.requested_by_name,
        requested_at=c.requested_at,
        decided_by=row.decided_by_name,
        decided_at=c.decided_at,
        decision_note=c.decision_note,
        snapshot_id=c.snapshot_id,
        version=c.version,
    )


def _one(db: Session, user: CurrentUser, change_id: int) -> s.ChangeRead:
    c = agreement_service.get_change(db, scope=user.scope, change_id=change_id)
    rows = agreement_service.changes_of(db, scope=user.scope, agreement_id=c.agreement_id)
    return change_read(next(r for r in rows if r.change.id == c.id))


def amendment_read(
    check: agreement_service.AmendmentCheck, open_change: agreement_service.ChangeRow | None
) -> s.AmendmentRead:
    """The amendment check as the API shows it."""
    return s.AmendmentRead(
        agreement_id=check.agreement_id,
        live=check.live,
        flag=check.flag,
        signed_total_fen=check.signed_total_fen,
        current_total_fen=check.current_total_fen,
        diff_fen=check.diff_fen,
        signed_policy_version=check.signed_policy_version,
        current_policy_version=check.current_policy_version,
        items=[
            s.ItemDiffRead(
                id=d.id,
                label=d.label,
                signed_fen=d.signed_fen,
                current_fen=d.current_fen,
                diff_fen=d.diff_fen,
            )
            for d in check.items
        ],
        facts=[
            s.FactChangeRead(path=f.path, label=f.label, signed=f.signed, current=f.current)
            for f in check.facts
        ],
        problem=check.problem,
        checked_at=check.checked_at,
        open_change=change_read(open_change) if open_change else None,
    )


@router.post(
    "/agreements/{agreement_id}/changes",
    response_model=s.ChangeRead,
    status_code=201,
    responses=error_responses(*WRITE_ERRORS),
)
def request_change(
    agreement_id: IdPath,
    body: s.ChangeCreate,
    request: Request,
    user: CurrentUser = Depends(SIGN),
    db: Session = Depends(get_db),
) -> s.ChangeRead:
    """Ask for an amendment (``amend``) or a cancellation (``cancel``) of an agreement, with the
    reason; a leader decides it. 201 with the request.

    409 and nothing written: the agreement has ended (``agreement_ended``), a request is already
    waiting (``change_waiting``), an amendment would change nothing (``no_difference``) or cannot be
    computed (``not_computable``), the household is past 已签约 (``illegal_transition``), a stale
    ``version`` (``stale_version``). Outside the caller's households: 404.
    """
    c = agreement_service.request_change(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        agreement_id=agreement_id,
        kind=body.kind,
        reason=body.reason,
        expected_version=body.version,
    )
    return _one(db, user, c.id)


@router.get(
    "/agreements/{agreement_id}/changes",
    response_model=list[s.ChangeRead],
    responses=error_responses(*READ_ERRORS),
)
def agreement_changes(
    agreement_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> list[s.ChangeRead]:
    """Every change request of the agreement with its decision, newest first."""
    return [
        change_read(r) for r in agreement_service.changes_of(db, scope=user.scope, agreement_id=agreement_id)
    ]


@router.get(
    "/agreements/{agreement_id}/amendment",
    response_model=s.AmendmentRead,
    responses=error_responses(*READ_ERRORS),
)
def amendment(
    agreement_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> s.AmendmentRead:
    """Whether an amendment may be needed: the agreement recalculated with the household's current
    facts under the latest policy (as of the sign date), the difference item by item and the facts
    that changed. The flag stored on the agreement is refreshed when it changed."""
    check = agreement_service.amendment_check(db, scope=user.scope, agreement_id=agreement_id)
    waiting = agreement_service.open_change_of(db, agreement_id)
    row = None
    if waiting is not None:
        rows = agreement_service.changes_of(db, scope=user.scope, agreement_id=agreement_id)
        row = next(r for r in rows if r.change.id == waiting.id)
    return amendment_read(check, row)


def _decided(
    change_id: int, body: Any, request: Request, user: CurrentUser, db: Session, *, approve: bool
) -> s.ChangeRead:
    actor = user.actor(client_ip(request))
    if approve:
        agreement_service.approve_change(
            db,
            actor=actor,
            scope=user.scope,
            change_id=change_id,
            note=body.note,
            expected_version=body.version,
        )
    else:
        agreement_service.reject_change(
            db,
            actor=actor,
            scope=user.scope,
            change_id=change_id,
            note=body.note,
            expected_version=body.version,
        )
    return _one(db, user, change_id)


@router.post(
    "/agreement-changes/{change_id}/approve",
    response_model=s.ChangeRead,
    responses=error_responses(*WRITE_ERRORS),
)
def approve(
    change_id: IdPath,
    body: s.ChangeApproval,
    request: Request,
    user: CurrentUser = Depends(APPROVE),
    db: Session = Depends(get_db),
) -> s.ChangeRead:
    """Approve a change request. An amendment writes the next revision of the agreement with the
    household's current facts (sign date kept) and an ``adjustment`` instalment for more money (less
    comes off the unpaid instalments); a cancellation ends the agreement, cancels its unpaid
    instalments and takes the household back to 协商中.

    403 ``own_request``: the requester cannot approve their own request. 409 and nothing written:
    decided already (``already_decided``), the agreement ended (``agreement_ended``), less money than
    what was paid (``below_paid``), money committed to an instalment (``instalment_paid``), nothing
    to amend any more (``no_difference``), a stale ``version``.
    """
    return _decided(change_id, body, request, user, db, approve=True)


@router.post(
    "/agreement-changes/{change_id}/reject",
    response_model=s.ChangeRead,
    responses=error_responses(*WRITE_ERRORS),
)
def reject(
    change_id: IdPath,
    body: s.ChangeRejection,
    request: Request,
    user: CurrentUser = Depends(APPROVE),
    db: Session = Depends(get_db),
) -> s.ChangeRead:
    """Reject a change request with the reason; the agreement stays as it is. 403 ``own_request``
    for the requester; 409 ``already_decided``."""
    return _decided(change_id, body, request, user, db, approve=False)


ChangeStatusQuery = Annotated[
    s.ChangeStatusLiteral,
    Query(
        description="requested 待审批（默认，先提出的在前）/ approved 已批准 / rejected 已驳回（新的在前）"
    ),
]


@router.get(
    "/projects/{project_id}/agreement-changes",
    response_model=list[s.ChangeRead],
    responses=error_responses(*READ_ERRORS),
)
def project_changes(
    project_id: IdPath,
    status: ChangeStatusQuery = "requested",
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> list[s.ChangeRead]:
    """The project's change requests of households in the caller's reach (at most 500)."""
    rows = agreement_service.open_changes(db, scope=user.scope, project_id=project_id, status=status)
    return [change_read(r) for r in rows]


@router.post(
    "/projects/{project_id}/conditions/check",
    response_model=s.ConditionRunRead,
    responses=error_responses(*WRITE_ERRORS),
)
def check_conditions(
    project_id: IdPath,
    body: s.ConditionCheck,
    request: Request,
    user: CurrentUser = Depends(SIGN),
    db: Session = Depends(get_db),
) -> s.ConditionRunRead:
    """Decide the project's pending conditional agreements as of ``on`` (today): effective once the
    area's sign rate was reached (the on-signing share falls due), void once the deadline passed
    without it. Idempotent. 409 ``check_date`` for a day after today."""
    run = agreement_service.evaluate_conditions(
        db, actor=user.actor(client_ip(request)), project_id=project_id, on=body.on
    )
    return s.ConditionRunRead(on=run.on, effective=run.effective, void=run.void, waiting=run.waiting)


@router.get(
    "/projects/{project_id}/conditions",
    response_model=s.ConditionBoardRead,
    responses=error_responses(*READ_ERRORS),
)
def conditions(
    project_id: IdPath, user: CurrentUser = Depends(CAMPAIGN_READ), db: Session = Depends(get_db)
) -> s.ConditionBoardRead:
    """The project's conditional agreements for the dashboard: the waiting groups (area, rate,
    deadline, signed of total, days left) and the counts by status. Counts only: no household."""
    board = agreement_service.condition_board(db, project_id=project_id)
    return s.ConditionBoardRead(
        on=board.on,
        pending=board.pending,
        effective=board.effective,
        void=board.void,
        groups=[
            s.ConditionGroupRead(
                progress=s.ConditionProgressRead.model_validate(g.progress, from_attributes=True),
                pending=g.pending,
                days_left=g.days_left,
            )
            for g in board.groups
        ],
    )
