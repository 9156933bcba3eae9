"""JSON routes of signing: sign an agreement, read agreements, the project's signing terms.

Thin over :mod:`anju.agreement.service`: parse, authorise, call the service, shape the answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from anju.agreement import rules
from anju.agreement import schemas as s
from anju.agreement import service as agreement_service
from anju.core.money import format_yuan, to_chinese_capital
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import READ_ERRORS, WRITE_ERRORS, IdPath, error_responses

router = APIRouter(tags=["agreements"])
SIGN = requires(Permission.AGREEMENT_SIGN)
READ = requires(Permission.HOUSEHOLD_READ)
TERMS_READ = requires(Permission.CAMPAIGN_READ)


def _mask_account(account: str) -> str:
    """A bank account for roles without PII_READ: only its last four digits."""
    return "*" * (len(account) - 4) + account[-4:] if len(account) > 4 else "*" * len(account)


def agreement_read(
    db: Session,
    a: Any,
    *,
    pii: bool,
    labels: dict[int, tuple[str, str]] | None = None,
    names: dict[int, str] | None = None,
) -> s.AgreementRead:
    """An agreement as the API shows it; the payee account masked unless ``pii``. A list passes the
    household ``labels`` and user ``names`` it read once."""
    code, head = (labels or household_service.household_labels(db, household_ids=[a.household_id])).get(
        a.household_id, ("", "")
    )
    names = identity_service.user_names(db) if names is None else names
    return s.AgreementRead(
        id=a.id,
        project_id=a.project_id,
        household_id=a.household_id,
        household_code=code,
        head_name=head,
        agreement_no=a.agreement_no,
        sign_no=a.sign_no,
        sign_no_issued_at=a.sign_no_issued_at,
        sign_no_issued_by=names.get(a.sign_no_issued_by or 0, "系统"),
        option=a.option,
        option_label=rules.OPTIONS.get(a.option, a.option),
        sign_on=a.sign_on,
        status=a.status,
        status_label=rules.STATUSES.get(a.status, a.status),
        total_fen=a.total_fen,
        total_yuan=format_yuan(a.total_fen),
        total_capital=to_chinese_capital(a.total_fen),
        payee_name=a.payee_name,
        payee_bank=a.payee_bank,
        payee_account=a.payee_account if pii else _mask_account(a.payee_account),
        condition_kind=a.condition_kind,
        condition_label=rules.CONDITION_KINDS.get(a.condition_kind, a.condition_kind),
        condition_rate_bp=a.condition_rate_bp,
        condition_deadline_on=a.condition_deadline_on,
        effective_on=a.effective_on,
        amendment_flag=a.amendment_flag,
        amendment_diff_fen=a.amendment_diff_fen,
        version=a.version,
    )


def agreement_detail(db: Session, a: Any, *, pii: bool) -> s.AgreementDetailRead:
    """An agreement with its current snapshot's items, its revision count and its schedule."""
    snap = agreement_service.get_snapshot(db, a)
    base = agreement_read(db, a, pii=pii)
    return s.AgreementDetailRead(
        **base.model_dump(),
        snapshot=s.SnapshotRead(
            revision=snap.revision,
            policy_version=snap.policy_version,
            policy_hash=snap.policy_hash,
            as_of=snap.as_of,
            facts_sha256=snap.facts_sha256,
            total_fen=snap.total_fen,
            reason=snap.reason,
            created_at=snap.created_at,
            items=[
                s.AgreementItemRead.model_validate(i) for i in agreement_service.items_with_basis(db, a, snap)
            ],
        ),
        revisions=snap.revision,  # the current snapshot is the newest revision
        instalments=[
            s.InstalmentRead(
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
            for i in agreement_service.instalments(db, a.id)
        ],
    )


@router.post(
    "/households/{household_id}/agreements",
    response_model=s.AgreementDetailRead,
    status_code=201,
    responses=error_responses(*WRITE_ERRORS),
)
def sign(
    household_id: IdPath,
    body: s.AgreementCreate,
    request: Request,
    user: CurrentUser = Depends(SIGN),
    db: Session = Depends(get_db),
) -> s.AgreementDetailRead:
    """Sign an agreement for the household (签约): freezes the calculation under the project's
    published policy as of ``sign_on``, issues the next sign order number (签约顺序号), writes the
    payment schedule and moves the household to 已签约; 201 with the agreement.

    409 and nothing written: the household already has a live agreement (``already_signed``), its
    stage may not move to 已签约 (``illegal_transition``), ``sign_on`` after today (``sign_date``) or
    before its current stage was reached (``stage_date``), no published policy (``no_policy``), an
    option the policy lacks (``option_unavailable``), facts the policy cannot compute
    (``not_computable``). Outside the caller's households: 404.
    """
    a = agreement_service.sign(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        household_id=household_id,
        option=body.option,
        sign_on=body.sign_on,
        payee=agreement_service.Payee(name=body.payee_name, bank=body.payee_bank, account=body.payee_account),
    )
    return agreement_detail(db, a, pii=user.can(Permission.PII_READ))


@router.get(
    "/households/{household_id}/agreements",
    response_model=list[s.AgreementRead],
    responses=error_responses(*READ_ERRORS),
)
def household_agreements(
    household_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> list[s.AgreementRead]:
    """Every agreement of the household, newest first (cancelled and void ones included)."""
    found = agreement_service.agreements_of_household(db, scope=user.scope, household_id=household_id)
    labels = household_service.household_labels(db, household_ids=[household_id])
    pii, names = user.can(Permission.PII_READ), identity_service.user_names(db)
    return [agreement_read(db, a, pii=pii, labels=labels, names=names) for a in found]


@router.get(
    "/agreements/{agreement_id}",
    response_model=s.AgreementDetailRead,
    responses=error_responses(*READ_ERRORS),
)
def get_agreement(
    agreement_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> s.AgreementDetailRead:
    """An agreement with its current snapshot (every item with its trace), revisions, payment
    schedule, status and the amendment flag. An agreement of a household outside the caller's
    households: 404."""
    # Refresh the amendment flag first: a household edit since the last check shows at once.
    agreement_service.amendment_check(db, scope=user.scope, agreement_id=agreement_id)
    a = agreement_service.get_agreement(db, scope=user.scope, agreement_id=agreement_id)
    return agreement_detail(db, a, pii=user.can(Permission.PII_READ))


StatusQuery = Annotated[
    s.StatusLiteral | None,
    Query(description="只列出该状态：pending 待生效 / effective 已生效 / void 未生效 / cancelled 已解除"),
]


@router.get(
    "/projects/{project_id}/agreements",
    response_model=list[s.AgreementRead],
    responses=error_responses(*READ_ERRORS),
)
def project_agreements(
    project_id: IdPath,
    status: StatusQuery = None,
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> list[s.AgreementRead]:
    """The project's agreements in sign order, only those of households in the caller's reach."""
    found = agreement_service.list_agreements(db, scope=user.scope, project_id=project_id, status=status)
    labels = household_service.household_labels(db, household_ids=[a.household_id for a in found])
    pii, names = user.can(Permission.PII_READ), identity_service.user_names(db)
    return [agreement_read(db, a, pii=pii, labels=labels, names=names) for a in found]


def terms_read(db: Session, terms: Any) -> s.SigningTermsRead:
    return s.SigningTermsRead(
        project_id=terms.project_id,
        saved=terms.id is not None,
        version=terms.version,
        agreement_prefix=terms.agreement_prefix,
        on_sign_share_bp=terms.on_sign_share_bp,
        condition_kind=terms.condition_kind,
        condition_label=rules.CONDITION_KINDS.get(terms.condition_kind, terms.condition_kind),
        condition_rate_bp=terms.condition_rate_bp,
        condition_deadline_on=terms.condition_deadline_on,
        updated_by=identity_service.user_names(db).get(terms.updated_by or 0, "") if terms.updated_by else "",
        updated_at=terms.updated_at,
    )


@router.get(
    "/projects/{project_id}/signing-terms",
    response_model=s.SigningTermsRead,
    responses=error_responses(*READ_ERRORS),
)
def get_terms(
    project_id: IdPath, user: CurrentUser = Depends(TERMS_READ), db: Session = Depends(get_db)
) -> s.SigningTermsRead:
    """The project's signing terms (签约设置): agreement number prefix, share paid on signing, the
    condition new agreements carry; the defaults (``saved`` false, ``version`` 0) until set."""
    return terms_read(db, agreement_service.signing_terms(db, project_id))


@router.put(
    "/projects/{project_id}/signing-terms",
    response_model=s.SigningTermsRead,
    responses=error_responses(*WRITE_ERRORS),
)
def put_terms(
    project_id: IdPath,
    body: s.SigningTermsPut,
    request: Request,
    user: CurrentUser = Depends(SIGN),
    db: Session = Depends(get_db),
) -> s.SigningTermsRead:
    """Set the project's signing terms, all at once; audited. Agreements signed before keep theirs.

    409: a stale ``version`` (``stale_version``), a prefix another project's agreement numbers use
    (``prefix_taken``), a new deadline before today (``deadline_passed``).
    """
    terms = agreement_service.set_signing_terms(
        db,
        actor=user.actor(client_ip(request)),
        project_id=project_id,
        agreement_prefix=body.agreement_prefix,
        on_sign_share_bp=body.on_sign_share_bp,
        expected_version=body.version,
        reason=body.reason,
        **body.condition_values(),
    )
    return terms_read(db, terms)
