"""The household's agreement tab (协议): the live agreement (status, sign order number, option, total
and its capital form, the policy version it was frozen under), the amendment flag, the payment
schedule, the vacating and demolition records, and the actions each role may take from there.

Anyone who may read the household reads its agreement (household.read in scope); the actions
link to the forms of the roles that hold them (signing desk, vacating, demolition, payments).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.agreement import rules
from anju.agreement import service as agreement_service
from anju.agreement.pages.approvals import changes_panel
from anju.agreement.pages.common import sheet_data
from anju.compensation import service as compensation_service
from anju.core.masking import mask_account
from anju.errors import DomainError
from anju.household import service as household_service
from anju.i18n import N_
from anju.identity import service as identity_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import get_db, requires
from anju.web.params import IdPath
from anju.web.templating import render

router = APIRouter(include_in_schema=False)
READ = requires(Permission.HOUSEHOLD_READ)


@dataclass(frozen=True, slots=True)
class ScheduleTotals:
    """The payment schedule summed: what the agreement pays, what was paid, what is due and unpaid
    (of which ``committed_fen`` is in approved batches waiting for the bank), what waits for its
    event (vacating, a condition)."""

    amount_fen: int
    paid_fen: int
    committed_fen: int
    due_fen: int
    scheduled_fen: int


def schedule_totals(instalments: list[Any]) -> ScheduleTotals:
    """Sum a schedule (cancelled instalments count for nothing)."""
    live = [i for i in instalments if i.status != "cancelled"]
    return ScheduleTotals(
        amount_fen=sum(i.amount_fen for i in live),
        paid_fen=sum(i.paid_fen for i in live),
        committed_fen=sum(i.committed_fen for i in live),
        due_fen=sum(i.amount_fen - i.paid_fen for i in live if i.status == "due"),
        scheduled_fen=sum(i.amount_fen - i.paid_fen for i in live if i.status == "scheduled"),
    )


def _frozen_sheet(db: Session, agreement: Any) -> tuple[Any, dict[str, Any]]:
    """The agreement's current snapshot and its items as the calculation sheet shows them."""
    snap = agreement_service.get_snapshot(db, agreement)
    items = agreement_service.items_with_basis(db, agreement, snap)
    subtotals = []
    try:
        pv = compensation_service.get_version(db, agreement.project_id, snap.policy_version)
        policy_name = pv.name
        subtotals = compensation_service.snapshot_subtotals(pv, agreement.option, items)
    except DomainError:
        policy_name = N_("补偿方案")
    data = sheet_data(
        items=items,
        total_fen=snap.total_fen,
        option_label=rules.OPTIONS.get(agreement.option, agreement.option),
        as_of=snap.as_of,
        policy_name=policy_name,
        policy_version=snap.policy_version,
        policy_hash=snap.policy_hash,
        subtotals=subtotals,
    )
    return snap, data


@router.get("/households/{household_id}/agreement")
def household_agreement(
    household_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> Response:
    """The household's agreement tab: the live agreement (else the latest ended one), its frozen
    calculation, schedule, amendment flag, clearance records and the actions of the user's role."""
    h = household_service.get_household(db, scope=user.scope, household_id=household_id)
    project = project_service.get_project(db, h.project_id)
    agreements = agreement_service.agreements_of_household(db, scope=user.scope, household_id=h.id)
    live = next((a for a in agreements if a.status in rules.LIVE_STATUSES), None)
    shown = live or (agreements[0] if agreements else None)
    ctx: dict[str, Any] = {
        "h": h,
        "project": project,
        "active": "households",
        "agreement": shown,
        "live": live,
        "others": [a for a in agreements if a is not shown],
        "OPTIONS": rules.OPTIONS,
        "AGREEMENT_STATUSES": rules.STATUSES,
        "CONDITION_KINDS": rules.CONDITION_KINDS,
        "INSTALMENT_KINDS": rules.INSTALMENT_KINDS,
        "INSTALMENT_STATUSES": rules.INSTALMENT_STATUSES,
        "ready": h.status in agreement_service.READY_STAGES,
        "clearance": agreement_service.clearance_file(db, scope=user.scope, household_id=h.id),
        "cp": None,
        "message": "",  # the changes panel's refusal message and kept form (its own page fills them)
        "form": {},
    }
    if shown is not None:
        snap, data = _frozen_sheet(db, shown)
        instalments = agreement_service.instalments(db, shown.id)
        names = identity_service.user_names(db)
        ctx.update(
            snapshot=snap,
            data=data,
            instalments=instalments,
            totals=schedule_totals(instalments),
            receivables=agreement_service.receivables_of_agreement(db, shown.id),
            RECEIVABLE_STATUSES=rules.RECEIVABLE_STATUSES,
            signed_by=names.get(shown.signed_by or 0, ""),
            account=shown.payee_account
            if user.can(Permission.PII_READ)
            else mask_account(shown.payee_account),
            # The changes panel (amendment flag with its difference, requests, history); building it
            # refreshes the stored flag, as reading the agreement should.
            cp=changes_panel(db, user, shown.id, next_url=f"/households/{h.id}/agreement"),
        )
    return render(request, "agreement/household.html", ctx)
