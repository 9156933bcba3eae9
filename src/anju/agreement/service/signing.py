"""Signing: a household signs an agreement under the project's published policy.

One transaction does all of it: the calculation is frozen into a snapshot, the next sign order
number (签约顺序号) is taken from the project's counter, the payment schedule is written, and the
household's stage moves to 已签约 through the campaign service (which keeps the timeline and tells
the live screens). A failure anywhere rolls all of it back and gives the number back.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from anju.agreement import rules
from anju.agreement.models import Agreement, AgreementSnapshot, Instalment, SignCounter, SigningTerms
from anju.audit import service as audit_service
from anju.campaign import service as campaign_service
from anju.compensation import service as compensation_service
from anju.core.actor import Actor
from anju.core.dates import today_shanghai, utcnow
from anju.db import events
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.household import service as household_service
from anju.identity.service import DataScope
from anju.policy import facts
from anju.policy.scalar import Result
from anju.project import service as project_service

__all__ = [
    "Payee",
    "agreement_for_household",
    "agreements_of_household",
    "allocate_sign_no",
    "get_agreement",
    "get_snapshot",
    "items_of",
    "list_agreements",
    "sign",
    "signing_terms",
    "snapshot_facts",
    "snapshot_group",
]


@dataclass(frozen=True, slots=True)
class Payee:
    """Who receives the money (收款人): name, bank and account, as the bank file needs them."""

    name: str = ""
    bank: str = ""
    account: str = ""


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, f"invalid {field}", details=[{"field": field, "message": message}])


def signing_terms(session: Session, project_id: int) -> SigningTerms:
    """The project's signing terms; defaults (70% on signing, no condition) until someone sets them."""
    terms = session.scalar(select(SigningTerms).where(SigningTerms.project_id == project_id))
    if terms is None:
        project = project_service.get_project(session, project_id)
        # Unsaved: column defaults only apply on insert, so every field is spelled out here.
        terms = SigningTerms(
            project_id=project_id,
            agreement_prefix=project.code,
            on_sign_share_bp=7000,
            condition_kind="none",
            condition_rate_bp=0,
            condition_deadline_on=None,
        )
    return terms


def allocate_sign_no(session: Session, *, project_id: int) -> int:
    """Take the project's next sign order number inside the caller's transaction.

    One UPDATE bumps the counter: it takes the row lock first (SQLite's write lock, PostgreSQL's
    and InnoDB's row lock), so concurrent signers queue here, and the number is read back under
    that lock. Numbers are gapless because a rolled-back signing rolls the bump back too.
    """
    bumped = session.execute(
        update(SignCounter)
        .where(SignCounter.project_id == project_id)
        .values(last_no=SignCounter.last_no + 1)
    ).rowcount  # type: ignore[attr-defined]
    if bumped == 0:
        # First signing of the project: create the counter. Two first signers may race here; the
        # loser's insert violates the primary key inside a savepoint and it bumps the winner's row.
        try:
            with session.begin_nested():
                session.add(SignCounter(project_id=project_id, last_no=1))
                session.flush()
            return 1
        except IntegrityError:
            session.execute(
                update(SignCounter)
                .where(SignCounter.project_id == project_id)
                .values(last_no=SignCounter.last_no + 1)
            )
    return int(session.scalar(select(SignCounter.last_no).where(SignCounter.project_id == project_id)) or 0)


def _items_json(result: Result) -> str:
    return json.dumps([asdict(i) for i in result.items], ensure_ascii=False, default=str)


def sign(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    option: str,
    sign_on: date,
    payee: Payee | None = None,
    today: date | None = None,
    recorded_at: datetime | None = None,
) -> Agreement:
    """Sign an agreement for a household (签约); returns it with its sign order number and total.

    The household must be in a stage that may move to 已签约 and have no live agreement (409
    otherwise); ``sign_on`` may not lie in the future (409). The calculation uses the project's
    latest published policy as of ``sign_on`` and is frozen in the agreement's first snapshot.
    A condition from the project's signing terms makes the agreement pending until decided.
    """
    if option not in rules.OPTIONS:
        raise _fail("option", "安置方式应为 " + " / ".join(f"{k}（{v}）" for k, v in rules.OPTIONS.items()))
    today = today or today_shanghai()
    if sign_on > today:
        raise Conflict(
            f"签约日期不能晚于今天（{today.isoformat()}）",
            "sign_on after today",
            code="sign_date",
            details=[{"field": "sign_on", "message": "不能晚于今天"}],
        )
    payee = payee or Payee()
    h = household_service.get_household(session, scope=scope, household_id=household_id)
    if "signed" not in household_service.next_stages(h.status):
        stage = household_service.stage_labels().get(h.status, h.status)
        raise Conflict(
            f"该户当前阶段为“{stage}”，不能签约",
            f"a household in stage {h.status} cannot sign",
            code="illegal_transition",
        )
    calc = compensation_service.signing_calculation(
        session, scope=scope, household_id=household_id, option=option, sign_on=sign_on
    )
    terms = signing_terms(session, h.project_id)
    # The counter's lock serialises the project's signers from here to the commit; the live
    # agreement check below is a locking read so it sees a concurrent signer's committed row.
    sign_no = allocate_sign_no(session, project_id=h.project_id)
    live = session.scalar(
        select(Agreement.id)
        .where(Agreement.household_id == household_id, Agreement.status.in_(rules.LIVE_STATUSES))
        .with_for_update()
    )
    if live is not None:
        raise Conflict(
            "该户已签订协议，不能重复签约",
            "the household already has a live agreement",
            code="already_signed",
        )
    now = recorded_at or utcnow()
    total = calc.result.total_fen
    a = Agreement(
        project_id=h.project_id,
        household_id=household_id,
        agreement_no=rules.agreement_no(terms.agreement_prefix or str(h.project_id), sign_no),
        sign_no=sign_no,
        sign_no_issued_by=actor.user_id,
        sign_no_issued_at=now,
        option=option,
        sign_on=sign_on,
        signed_by=actor.user_id,
        status=rules.initial_status(terms.condition_kind),
        total_fen=total,
        payee_name=(payee.name or h.head_name)[:64],
        payee_bank=payee.bank[:128],
        payee_account=payee.account[:64],
        condition_kind=terms.condition_kind,
        condition_rate_bp=terms.condition_rate_bp,
        condition_block_id=h.block_id if terms.condition_kind == "block_rate" else None,
        condition_deadline_on=terms.condition_deadline_on,
        effective_on=sign_on if terms.condition_kind == "none" else None,
        created_at=now,
    )
    session.add(a)
    session.flush()
    facts_text = json.dumps(facts.household_to_dict(calc.household), ensure_ascii=False, sort_keys=True)
    snap = AgreementSnapshot(
        agreement_id=a.id,
        revision=1,
        policy_version_id=calc.version.id,
        policy_version=calc.version.version,
        policy_hash=calc.version.content_hash,
        as_of=sign_on,
        facts=facts_text,
        facts_sha256=hashlib.sha256(facts_text.encode("utf-8")).hexdigest(),
        group=json.dumps(facts.group_to_dict(calc.group), ensure_ascii=False, sort_keys=True),
        items=_items_json(calc.result),
        total_fen=total,
        reason="签约",
        created_by=actor.user_id,
        created_at=now,
    )
    session.add(snap)
    session.flush()
    a.snapshot_id = snap.id
    split = rules.split_total(total, terms.on_sign_share_bp)
    effective = a.status == "effective"
    for sort, (kind, amount) in enumerate(
        (("on_sign", split.on_sign_fen), ("after_vacate", split.after_vacate_fen))
    ):
        if amount == 0:
            continue
        session.add(
            Instalment(
                agreement_id=a.id,
                project_id=a.project_id,
                household_id=household_id,
                kind=kind,
                purpose=f"{a.agreement_no} {rules.INSTALMENT_KINDS[kind]}",
                amount_fen=amount,
                status="due" if kind == "on_sign" and effective else "scheduled",
                due_on=sign_on if kind == "on_sign" and effective else None,
                sort=sort,
                created_at=now,
            )
        )
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="sign",
        entity="agreement",
        entity_id=a.id,
        changes={
            "agreement_no": [None, a.agreement_no],
            "sign_no": [None, sign_no],
            "option": [None, option],
            "sign_on": [None, sign_on.isoformat()],
            "total_fen": [None, total],
            "status": [None, a.status],
            "policy_version": [None, calc.version.version],
            "policy_hash": [None, calc.version.content_hash],
            "facts_sha256": [None, snap.facts_sha256],
        },
        project_id=a.project_id,
        household_id=household_id,
    )
    campaign_service.move_stage(
        session,
        actor=actor,
        scope=scope,
        household_id=household_id,
        to_stage="signed",
        on=sign_on,
        note=f"签订协议 {a.agreement_no}（签约顺序号 {sign_no}）",
        manage=True,
        today=today,
        recorded_at=recorded_at,
    )
    events.notify(
        session,
        topic=events.project_topic(a.project_id),
        kind="agreement",
        data={"household_id": household_id, "sign_no": sign_no},
    )
    return a


def get_agreement(session: Session, *, scope: DataScope, agreement_id: int) -> Agreement:
    """An agreement whose household is in ``scope``; 404 otherwise (its existence is not revealed)."""
    a = session.get(Agreement, agreement_id)
    if a is None:
        raise NotFound("协议不存在", "no such agreement")
    try:
        household_service.get_household(session, scope=scope, household_id=a.household_id)
    except NotFound:
        raise NotFound("协议不存在", "no such agreement") from None
    return a


def agreements_of_household(session: Session, *, scope: DataScope, household_id: int) -> list[Agreement]:
    """Every agreement of a household, newest first (cancelled and void ones included)."""
    household_service.get_household(session, scope=scope, household_id=household_id)
    return list(
        session.scalars(
            select(Agreement).where(Agreement.household_id == household_id).order_by(Agreement.id.desc())
        )
    )


def agreement_for_household(session: Session, *, scope: DataScope, household_id: int) -> Agreement | None:
    """The household's live (pending or effective) agreement, if any."""
    household_service.get_household(session, scope=scope, household_id=household_id)
    return session.scalar(
        select(Agreement).where(
            Agreement.household_id == household_id, Agreement.status.in_(rules.LIVE_STATUSES)
        )
    )


def list_agreements(
    session: Session, *, scope: DataScope, project_id: int, status: str | None = None
) -> list[Agreement]:
    """A project's agreements in sign order, only those of households in ``scope``."""
    q = (
        select(Agreement)
        .where(Agreement.project_id == project_id, scope.household_clause(Agreement.household_id))
        .order_by(Agreement.sign_no)
    )
    if status:
        q = q.where(Agreement.status == status)
    return list(session.scalars(q))


def get_snapshot(session: Session, agreement: Agreement, revision: int | None = None) -> AgreementSnapshot:
    """The agreement's current snapshot, or the one of ``revision``."""
    q = select(AgreementSnapshot).where(AgreementSnapshot.agreement_id == agreement.id)
    if revision is None:
        q = q.where(AgreementSnapshot.id == agreement.snapshot_id)
    else:
        q = q.where(AgreementSnapshot.revision == revision)
    snap = session.scalar(q)
    if snap is None:
        raise NotFound("协议版本不存在", "no such agreement revision")
    return snap


def snapshot_facts(snap: AgreementSnapshot) -> facts.Household:
    """The household facts the snapshot was signed on."""
    return facts.household_from_dict(json.loads(snap.facts))


def snapshot_group(snap: AgreementSnapshot) -> facts.GroupFacts:
    """The group facts (block sign dates) the snapshot was computed with."""
    return facts.group_from_dict(json.loads(snap.group)) if snap.group else facts.GroupFacts()


def items_of(snap: AgreementSnapshot) -> list[dict[str, Any]]:
    """The snapshot's items (id, label, applies, amount_fen, formula, steps, notes, certificates...)."""
    data: list[dict[str, Any]] = json.loads(snap.items)
    return data
