"""JSON routes of clearance: vacating acceptance (交验空房 / 腾空验收), demolition (拆除), tenant clearance
(承租企业清退), and their voiding. Thin over :mod:`anju.agreement.service` (clearance parts).

Photos: upload them to the household file first (the household page; images only), then name
their attachment ids in ``photo_ids``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from anju.agreement import rules
from anju.agreement import schemas as s
from anju.agreement import service as agreement_service
from anju.household import service as household_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import READ_ERRORS, WRITE_ERRORS, IdPath, error_responses

router = APIRouter(tags=["clearance"])
WRITE = requires(Permission.CLEARANCE_WRITE)
READ = requires(Permission.HOUSEHOLD_READ)


def instalment_read(i: Any) -> s.InstalmentRead:
    """A schedule line as the API shows it."""
    return s.InstalmentRead(
        id=i.id,
        kind=i.kind,
        kind_label=rules.INSTALMENT_KINDS.get(i.kind, i.kind),
        purpose=i.purpose,
        amount_fen=i.amount_fen,
        committed_fen=i.committed_fen,
        paid_fen=i.paid_fen,
        status=i.status,
        status_label=rules.INSTALMENT_STATUSES.get(i.status, i.status),
        due_on=i.due_on,
    )


def _checklist(raw: str, known: dict[str, str]) -> list[s.ChecklistItemRead]:
    return [
        s.ChecklistItemRead(key=k, label=label, done=done)
        for k, label, done in agreement_service.checklist_of(raw, known)
    ]


def vacate_read(r: Any) -> s.VacateRecordRead:
    """A vacating record as the API shows it."""
    return s.VacateRecordRead(
        id=r.id,
        household_id=r.household_id,
        agreement_id=r.agreement_id,
        vacated_on=r.vacated_on,
        checklist=_checklist(r.checklist, rules.VACATE_CHECKLIST),
        keys_handed=r.keys_handed,
        inspector=r.inspector,
        note=r.note,
        photo_ids=agreement_service.photo_ids_of(r.photo_ids),
        reward_instalment_id=r.reward_instalment_id,
        recorded_at=r.recorded_at,
        voided_at=r.voided_at,
        void_reason=r.void_reason,
    )


def demolition_read(r: Any) -> s.DemolitionRecordRead:
    """A demolition record as the API shows it."""
    return s.DemolitionRecordRead(
        id=r.id,
        household_id=r.household_id,
        demolished_on=r.demolished_on,
        contractor=r.contractor,
        note=r.note,
        photo_ids=agreement_service.photo_ids_of(r.photo_ids),
        recorded_at=r.recorded_at,
        voided_at=r.voided_at,
        void_reason=r.void_reason,
    )


def tenant_clearance_read(r: Any) -> s.TenantClearanceRead:
    """A tenant clearance as the API shows it."""
    return s.TenantClearanceRead(
        id=r.id,
        tenant_id=r.tenant_id,
        household_id=r.household_id,
        cleared_on=r.cleared_on,
        checklist=_checklist(r.checklist, rules.TENANT_CHECKLIST),
        inspector=r.inspector,
        note=r.note,
        photo_ids=agreement_service.photo_ids_of(r.photo_ids),
        recorded_at=r.recorded_at,
        voided_at=r.voided_at,
        void_reason=r.void_reason,
    )


@router.post(
    "/households/{household_id}/vacate",
    response_model=s.VacateResultRead,
    status_code=201,
    responses=error_responses(*WRITE_ERRORS),
)
def record_vacating(
    household_id: IdPath,
    body: s.VacateCreate,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.VacateResultRead:
    """Accept the household's vacating (交验空房 / 腾空验收): the stage becomes 已腾空 with the date, the
    after-vacating instalment falls due, and items the policy gives for the vacating date (腾空奖励)
    become a reward instalment due that day; the agreement's snapshot is not changed.

    409: ``not_signed`` (no live agreement), ``already_vacated``, ``vacate_date`` (after today or
    before the signing), ``not_an_image`` (a named attachment). 404: an attachment not of this household.
    """
    result = agreement_service.record_vacating(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        household_id=household_id,
        vacated_on=body.vacated_on,
        checklist=body.checklist.model_dump(),
        keys_handed=body.keys_handed,
        inspector=body.inspector,
        note=body.note,
        photo_ids=body.photo_ids,
    )
    stage = household_service.get_household(db, scope=user.scope, household_id=household_id).status
    return s.VacateResultRead(
        record=vacate_read(result.record),
        stage=stage,
        stage_label=household_service.stage_labels().get(stage, stage),
        made_due=[instalment_read(i) for i in result.made_due],
        reward=instalment_read(result.reward) if result.reward is not None else None,
        reward_items=result.increases,
        reward_labels=result.increase_labels,
    )


@router.post(
    "/households/{household_id}/vacate/void",
    response_model=s.VacateRecordRead,
    responses=error_responses(*WRITE_ERRORS),
)
def void_vacating(
    household_id: IdPath,
    body: s.ClearanceVoid,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.VacateRecordRead:
    """Void the household's vacating acceptance (entered in error), with the reason: the reward is
    cancelled, the after-vacating instalment scheduled again, the stage back to 已签约.

    409: ``no_vacate_record``, ``demolished`` (void the demolition first), ``instalment_paid``
    (money was paid or committed against the reward or the after-vacating instalment).
    """
    rec = agreement_service.void_vacating(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        household_id=household_id,
        reason=body.reason,
    )
    return vacate_read(rec)


@router.post(
    "/households/{household_id}/demolition",
    response_model=s.DemolitionRecordRead,
    status_code=201,
    responses=error_responses(*WRITE_ERRORS),
)
def record_demolition(
    household_id: IdPath,
    body: s.DemolitionCreate,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.DemolitionRecordRead:
    """Record the demolition (拆除) of a vacated household: the stage becomes 已拆除 with the date.

    409: ``not_vacated``, ``already_demolished``, ``demolition_date`` (after today or before the vacating).
    """
    result = agreement_service.record_demolition(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        household_id=household_id,
        demolished_on=body.demolished_on,
        contractor=body.contractor,
        note=body.note,
        photo_ids=body.photo_ids,
    )
    return demolition_read(result.record)


@router.post(
    "/households/{household_id}/demolition/void",
    response_model=s.DemolitionRecordRead,
    responses=error_responses(*WRITE_ERRORS),
)
def void_demolition(
    household_id: IdPath,
    body: s.ClearanceVoid,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.DemolitionRecordRead:
    """Void the household's demolition record (entered in error): the stage back to 已腾空.
    409 ``no_demolition_record``."""
    rec = agreement_service.void_demolition(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        household_id=household_id,
        reason=body.reason,
    )
    return demolition_read(rec)


@router.post(
    "/tenants/{tenant_id}/clearance",
    response_model=s.TenantClearanceRead,
    status_code=201,
    responses=error_responses(*WRITE_ERRORS),
)
def record_tenant_clearance(
    tenant_id: IdPath,
    body: s.TenantClearanceCreate,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.TenantClearanceRead:
    """Record that a tenant (承租人 / 承租企业) was cleared (清退). 409: ``already_cleared``,
    ``clearance_date`` (after today). A voided tenant or one outside the caller's households: 404."""
    rec = agreement_service.record_tenant_clearance(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        tenant_id=tenant_id,
        cleared_on=body.cleared_on,
        checklist=body.checklist.model_dump(),
        inspector=body.inspector,
        note=body.note,
        photo_ids=body.photo_ids,
    )
    return tenant_clearance_read(rec)


@router.post(
    "/tenants/{tenant_id}/clearance/void",
    response_model=s.TenantClearanceRead,
    responses=error_responses(*WRITE_ERRORS),
)
def void_tenant_clearance(
    tenant_id: IdPath,
    body: s.ClearanceVoid,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.TenantClearanceRead:
    """Void a tenant's clearance (entered in error), with the reason. 409 ``no_clearance``."""
    rec = agreement_service.void_tenant_clearance(
        db, actor=user.actor(client_ip(request)), scope=user.scope, tenant_id=tenant_id, reason=body.reason
    )
    return tenant_clearance_read(rec)


@router.get(
    "/households/{household_id}/clearance",
    response_model=s.ClearanceRead,
    responses=error_responses(*READ_ERRORS),
)
def household_clearance(
    household_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> s.ClearanceRead:
    """The household's clearance: stage, live agreement and its schedule, the vacating and demolition
    records (live and voided), its tenants with their clearance. Outside the caller's households: 404."""
    f = agreement_service.clearance_file(db, scope=user.scope, household_id=household_id)
    a = f.agreement
    return s.ClearanceRead(
        household_id=f.household_id,
        stage=f.stage,
        stage_label=household_service.stage_labels().get(f.stage, f.stage),
        agreement_id=a.id if a is not None else None,
        agreement_no=a.agreement_no if a is not None else None,
        agreement_status=a.status if a is not None else None,
        instalments=[instalment_read(i) for i in f.instalments],
        vacate=vacate_read(f.vacate) if f.vacate is not None else None,
        demolition=demolition_read(f.demolition) if f.demolition is not None else None,
        vacate_history=[vacate_read(r) for r in f.vacates],
        demolition_history=[demolition_read(r) for r in f.demolitions],
        tenants=[
            s.HouseholdTenantRead(
                id=t.id,
                name=t.name,
                kind=t.kind,
                clearance=tenant_clearance_read(c) if c is not None else None,
            )
            for t, c in f.tenants
        ],
    )


@router.get(
    "/projects/{project_id}/tenant-clearances",
    response_model=s.TenantClearanceListRead,
    responses=error_responses(*READ_ERRORS),
)
def project_tenant_clearances(
    project_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> s.TenantClearanceListRead:
    """The project's tenants (承租人 / 承租企业) in the caller's households with their clearance, the
    counts (cleared / total, cleared today) and the clearances per day."""
    lst = agreement_service.tenant_clearances(db, scope=user.scope, project_id=project_id)
    return s.TenantClearanceListRead(
        project_id=project_id,
        total=lst.total,
        cleared=lst.cleared,
        open=lst.open,
        cleared_today=lst.cleared_today,
        daily=[s.DailyCountRead(day=d, count=n) for d, n in lst.daily],
        tenants=[
            s.ProjectTenantRead(
                id=r.tenant.id,
                household_id=r.tenant.household_id,
                household_code=r.tenant.household_code,
                head_name=r.tenant.head_name,
                name=r.tenant.name,
                kind=r.tenant.kind,
                business=r.tenant.business,
                clearance=tenant_clearance_read(r.clearance) if r.clearance is not None else None,
            )
            for r in lst.rows
        ],
    )
