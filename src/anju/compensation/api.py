"""JSON routes of compensation: policy versions and household calculations."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.compensation import group_measures
from anju.compensation import schemas as s
from anju.compensation import service as compensation_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import READ_ERRORS, IdPath, TextQuery, error_responses

router = APIRouter(tags=["compensation"], responses=error_responses(*READ_ERRORS))


@router.get("/projects/{project_id}/policies", response_model=list[s.PolicyVersionRead])
def list_versions(
    project_id: IdPath,
    user: CurrentUser = Depends(requires(Permission.POLICY_READ)),
    db: Session = Depends(get_db),
) -> list[s.PolicyVersionRead]:
    """Published versions of the project's policy, newest first."""
    return [s.PolicyVersionRead.model_validate(v) for v in compensation_service.versions(db, project_id)]


@router.post(
    "/projects/{project_id}/policies",
    response_model=s.PolicyVersionRead,
    status_code=201,
    responses=error_responses(409),
)
def publish(
    project_id: IdPath,
    body: s.PolicyPublish,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.POLICY_PUBLISH)),
    db: Session = Depends(get_db),
) -> s.PolicyVersionRead:
    """Check and publish a policy text as the next version; 422 lists every error with line and column.
    Signed agreements the new version would compute differently get the amendment flag."""
    pv = compensation_service.publish(
        db,
        actor=user.actor(client_ip(request)),
        project_id=project_id,
        source=body.source,
        file_name=body.file_name,
    )
    agreement_service.check_amendments(db, project_id=project_id)
    return s.PolicyVersionRead.model_validate(pv)


@router.get("/households/{household_id}/calculation", response_model=s.CalculationRead)
def calculation(
    household_id: IdPath,
    option: TextQuery,
    as_of: date | None = None,
    user: CurrentUser = Depends(requires(Permission.POLICY_READ)),
    db: Session = Depends(get_db),
) -> s.CalculationRead:
    """The calculation sheet of a household under an option, exact to the fen, with the trace."""
    pv, r = compensation_service.calculate(
        db, scope=user.scope, household_id=household_id, option=option, as_of=as_of
    )
    return s.CalculationRead(
        household_code=r.household,
        option=r.option,
        as_of=r.as_of,
        policy_version=pv.version,
        policy_hash=pv.content_hash,
        total_fen=r.total_fen,
        items=[
            s.ItemRead(
                id=i.id,
                label=i.label,
                applies=i.applies,
                amount_fen=i.amount_fen,
                formula=i.formula,
                per=i.per,
                steps=[s.StepRead(text=x.text, value=x.value, note=x.note) for x in i.steps],
                notes=list(i.notes),
                certificates=[
                    s.CertificateRead(
                        certificate_no=c.certificate_no,
                        applies=c.applies,
                        amount_fen=c.amount_fen,
                        notes=list(c.notes),
                    )
                    for c in i.certificates
                ],
                ref=i.ref,
                basis=list(i.basis),
            )
            for i in r.items
        ],
        warnings=list(r.warnings),
        subtotals=[
            s.SubtotalRead(
                id=x.id, label=x.label, amount_fen=x.amount_fen, items=list(x.items), basis=list(x.basis)
            )
            for x in r.subtotals
        ],
    )


@router.get(
    "/households/{household_id}/entitlement",
    response_model=s.EntitlementRead,
    responses=error_responses(409),
)
def entitlement(
    household_id: IdPath,
    as_of: date | None = None,
    user: CurrentUser = Depends(requires(Permission.POLICY_READ)),
    db: Session = Depends(get_db),
) -> s.EntitlementRead:
    """The household's entitlement (安置资格) under the latest published policy: entitled swap area,
    maximum selectable area and number of flats, and every selection rule with whether it applies.
    409 ``entitlement_unavailable`` when the policy has no swap settlement or cannot compute the household."""
    he = compensation_service.entitlement(db, scope=user.scope, household_id=household_id, as_of=as_of)
    e = he.entitlement
    return s.EntitlementRead(
        household_id=he.household_id,
        household_code=e.household,
        policy_version=he.version.version,
        policy_hash=he.version.content_hash,
        as_of=he.as_of,
        entitled_area=e.entitled_area,
        max_area=e.max_area,
        max_flats=e.max_flats,
        extra_limit=e.extra_limit,
        max_extra=e.max_extra,
        rules=[
            s.SelectionRuleRead(
                id=r.id,
                label=r.label,
                kind=r.kind,  # the policy reader admits only these three kinds
                applies=r.applies,
                area=r.area,
                count=r.count,
                flat_types=list(r.flat_types),
                description=r.describe(),
            )
            for r in e.rules
        ],
    )


def _measure_value(r: group_measures.MeasureRecord) -> s.GroupMeasureValueRead:
    return s.GroupMeasureValueRead(
        id=r.id,
        measure_id=r.measure_id,
        measure_label=r.measure_label,
        block_id=r.block_id,
        block_code=r.block_code,
        block_name=r.block_name,
        effective_on=r.effective_on,
        value=r.value,
        unit=r.unit,
        reason=r.reason,
        recorded_by=r.recorded_by,
        recorded_at=r.recorded_at,
        policy_version=r.policy_version,
    )


@router.get("/projects/{project_id}/group-measures", response_model=s.GroupMeasuresRead)
def list_group_measures(
    project_id: IdPath,
    user: CurrentUser = Depends(requires(Permission.POLICY_READ)),
    db: Session = Depends(get_db),
) -> s.GroupMeasuresRead:
    """The office-set group measures the latest published policy declares (with the blocks a value
    may be recorded for) and every value recorded, newest effective date first."""
    declared = group_measures.declared(db, project_id=project_id)
    return s.GroupMeasuresRead(
        measures=[
            s.DeclaredMeasureRead(
                id=m.id,
                label=m.label,
                unit=m.unit,
                levels=list(m.levels),
                ref=m.ref,
                blocks=[{"block_id": bid, "name": name} for bid, name in m.blocks],
            )
            for m in declared
        ],
        values=[_measure_value(r) for r in group_measures.history(db, project_id=project_id)],
    )


@router.post(
    "/projects/{project_id}/group-measures",
    response_model=s.GroupMeasureValueRead,
    status_code=201,
)
def record_group_measure(
    project_id: IdPath,
    body: s.GroupMeasureRecord,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.POLICY_PUBLISH)),
    db: Session = Depends(get_db),
) -> s.GroupMeasureValueRead:
    """Record the value of an office-set measure for a block (or the whole project) from a date;
    audited with the reason. Earlier records stay: for one effective date the latest counts."""
    r = group_measures.record(
        db,
        actor=user.actor(client_ip(request)),
        project_id=project_id,
        measure_id=body.measure_id,
        block_id=body.block_id,
        effective_on=body.effective_on,
        value=body.value,
        reason=body.reason,
    )
    return _measure_value(r)
