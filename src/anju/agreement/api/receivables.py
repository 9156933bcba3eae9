"""JSON routes of receivables (应收款): what households owe the office (e.g. the difference they pay
for their chosen flats) and finance's record of each receipt (收款登记)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.household import service as household_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import READ_ERRORS, WRITE_ERRORS, IdPath, error_responses

router = APIRouter(tags=["payments"], responses=error_responses(*READ_ERRORS))


class ReceivableRead(BaseModel):
    """Money a household owes under its agreement; amounts in fen."""

    id: int
    agreement_id: int
    household_id: int
    kind: str
    kind_label: str
    purpose: str
    amount_fen: int
    received_fen: int
    outstanding_fen: int
    status: str
    status_label: str
    due_on: date | None
    received_on: date | None
    receipt_ref: str
    version: int


class ReceiptCreate(BaseModel):
    """A receipt against a receivable: amount (fen, > 0, at most what is outstanding), the day it
    came in and the bank slip or receipt number; ``version`` as read (stale: 409)."""

    model_config = ConfigDict(extra="forbid")

    amount_fen: int = Field(gt=0, le=10**13)
    received_on: date
    receipt_ref: str = Field(min_length=1, max_length=200)
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)


def receivable_read(row: agreement_service.ReceivableRow) -> ReceivableRead:
    """A receivable as the API shows it."""
    r = row.receivable
    return ReceivableRead(
        id=r.id,
        agreement_id=r.agreement_id,
        household_id=r.household_id,
        kind=r.kind,
        kind_label=row.kind_label,
        purpose=r.purpose,
        amount_fen=r.amount_fen,
        received_fen=r.received_fen,
        outstanding_fen=row.outstanding_fen,
        status=r.status,
        status_label=row.status_label,
        due_on=r.due_on,
        received_on=r.received_on,
        receipt_ref=r.receipt_ref,
        version=r.version,
    )


@router.get("/projects/{project_id}/receivables", response_model=list[ReceivableRead])
def list_open_receivables(
    project_id: IdPath,
    user: CurrentUser = Depends(requires(Permission.PAYMENT_READ)),
    db: Session = Depends(get_db),
) -> list[ReceivableRead]:
    """The project's open receivables (待收), oldest first, households in the user's scope."""
    project_service.get_project(db, project_id)
    return [receivable_read(r) for r in agreement_service.open_receivables(db, project_id, scope=user.scope)]


@router.post(
    "/receivables/{receivable_id}/receipts",
    response_model=ReceivableRead,
    responses=error_responses(*WRITE_ERRORS),
)
def record_receipt(
    receivable_id: IdPath,
    body: ReceiptCreate,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.PAYMENT_PREPARE)),
    db: Session = Depends(get_db),
) -> ReceivableRead:
    """Record money received (收款登记); more than is outstanding is a 422, a closed receivable or a
    stale ``version`` a 409. Audited."""
    r = agreement_service.get_receivable(db, receivable_id)
    if not user.scope.whole:
        household_service.get_household(db, scope=user.scope, household_id=r.household_id)
    r = agreement_service.record_receipt(
        db,
        actor=user.actor(client_ip(request)),
        receivable_id=receivable_id,
        amount_fen=body.amount_fen,
        received_on=body.received_on,
        receipt_ref=body.receipt_ref,
        expected_version=body.version,
    )
    return receivable_read(agreement_service.ReceivableRow(r))
