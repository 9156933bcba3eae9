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

from sqlalchemy import Insert, select, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from anju.agreement import rules
from anju.agreement.models import Agreement, AgreementSnapshot, Instalment, SignCounter, SigningTerms
from anju.audit import service as audit_service
from anju.campaign import service as campaign_service
from anju.compensation import service as compensation_service
from anju.core import text
from anju.core.actor import Actor
from anju.core.dates import today_shanghai, utcnow
from anju.db import events
from anju.db.session import begin_read, begin_write
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
    "clean_payee",
    "get_agreement",
    "get_snapshot",
    "items_of",
    "items_with_basis",
    "list_agreements",
    "set_signing_terms",
    "sign",
    "signing_terms",
    "snapshot_facts",
    "snapshot_group",
]


@dataclass(frozen=True, slots=True)
class Payee:
    """Who receives the money (收款人): name, bank and account, as the bank file needs them.

    All three may be left blank at signing: the name then defaults to the head of household and
    the bank details are added before the first payment.
    """

    name: str = ""
    bank: str = ""
    account: str = ""


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, f"invalid {field}", details=[{"field": field, "message": message}])


def _fail_all(problems: list[tuple[str, str]], what: str) -> ValidationFailed:
    return ValidationFailed(
        f"{what}有误：" + "；".join(m for _f, m in problems),
        f"invalid {what}",
        details=[{"field": f, "message": m} for f, m in problems],
    )


def clean_payee(payee: Payee, *, default_name: str) -> Payee:
    """The payee as stored: trimmed, the name defaulting to ``default_name``, the account number
    without spaces or dashes. Raises :class:`ValidationFailed` naming every bad field; nothing is
    cut short silently (a truncated account number would pay a stranger)."""
    problems: list[tuple[str, str]] = []
    for field_name, label, value, max_len in (
        ("payee_name", "收款人", payee.name, rules.MAX_PAYEE_NAME),
        ("payee_bank", "开户行", payee.bank, rules.MAX_PAYEE_BANK),
    ):
        if not isinstance(value, str):
            problems.append((field_name, f"{label}应为文本"))
        elif problem := text.text_problem(value, max_len=max_len):
            problems.append((field_name, f"{label}{problem}"))
    account = rules.normalize_account(payee.account) if isinstance(payee.account, str) else None
    if account is None:
        problems.append(("payee_account", "收款账号应为 6 至 32 位数字（可用空格或 - 分隔），不知道时请留空"))
    if problems:
        raise _fail_all(problems, "收款信息")
    name = payee.name.strip() or default_name.strip()
    if len(name) > rules.MAX_PAYEE_NAME:  # a head of household's name longer than the payee column
        raise _fail_all(
            [("payee_name", f"收款人不能超过{rules.MAX_PAYEE_NAME}个字，请填写收款人")], "收款信息"
        )
    return Payee(name=name, bank=payee.bank.strip(), account=account or "")


def signing_terms(session: Session, project_id: int) -> SigningTerms:
    """The project's signing terms; defaults (70% on signing, no condition) until someone sets them.

    Unsaved defaults have ``id`` None and ``version`` 0 (a first save names version 0).
    """
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
            version=0,
        )
    return terms


_TERMS_FIELDS = (
    "agreement_prefix",
    "on_sign_share_bp",
    "condition_kind",
    "condition_rate_bp",
    "condition_deadline_on",
)


def _prefix_taken(session: Session, project_id: int, prefix: str) -> str | None:
    """The code of another project whose agreement numbers already use ``prefix``, if any."""
    other = session.scalar(
        select(SigningTerms.project_id).where(
            SigningTerms.agreement_prefix == prefix, SigningTerms.project_id != project_id
        )
    )
    if other is None:
        try:
            p = project_service.get_project_by_code(session, prefix)
        except NotFound:
            p = None
        # Another project without terms of its own numbers its agreements with its code.
        if p is not None and p.id != project_id and signing_terms(session, p.id).agreement_prefix == prefix:
            other = p.id
    if other is None:
        other = session.scalar(
            select(Agreement.project_id)
            .where(
                Agreement.project_id != project_id,
                Agreement.agreement_no.startswith(prefix + "-", autoescape=True),
            )
            .limit(1)
        )
    return project_service.get_project(session, int(other)).code if other is not None else None


def set_signing_terms(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    agreement_prefix: str,
    on_sign_share_bp: int,
    condition_kind: str,
    condition_rate_bp: int = 0,
    condition_deadline_on: date | None = None,
    expected_version: int | None,
    reason: str = "",
    today: date | None = None,
) -> SigningTerms:
    """Set a project's signing terms (签约设置), all of them at once; audited, versioned.

    ``expected_version`` is the version read (0 while only the defaults exist); another is a 409
    ``stale_version`` naming who changed them. Bad values are a 422 naming every field; a prefix
    another project's agreement numbers use is a 409 ``prefix_taken``; a new deadline before today
    is a 409 ``deadline_passed``. Agreements signed earlier keep the terms they were signed under.
    ``all_signed`` needs every household, so its rate is stored as 100%.
    """
    project = project_service.get_project(session, project_id)
    if condition_kind == "all_signed" and condition_rate_bp == 0:
        condition_rate_bp = 10000
    prefix = agreement_prefix.strip() if isinstance(agreement_prefix, str) else agreement_prefix
    problems = rules.terms_problems(
        agreement_prefix=prefix,
        on_sign_share_bp=on_sign_share_bp,
        condition_kind=condition_kind,
        condition_rate_bp=condition_rate_bp,
        condition_deadline_on=condition_deadline_on,
    )
    if problem := text.text_problem(reason, max_len=text.MAX_REASON, multiline=True):
        problems.append(("reason", f"理由{problem}"))
    if problems:
        raise _fail_all(problems, "签约设置")
    today = today or today_shanghai()
    current = session.scalar(
        select(SigningTerms)
        .where(SigningTerms.project_id == project_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    version = current.version if current is not None else 0
    if expected_version is not None and expected_version != version:
        raise household_service.stale_version(
            session,
            what="本项目的签约设置",
            current=version,
            entity="signing_terms",
            entity_id=current.id if current is not None else "",
        )
    before = {k: getattr(current or signing_terms(session, project_id), k) for k in _TERMS_FIELDS}
    after = {
        "agreement_prefix": prefix,
        "on_sign_share_bp": on_sign_share_bp,
        "condition_kind": condition_kind,
        "condition_rate_bp": condition_rate_bp,
        "condition_deadline_on": condition_deadline_on,
    }
    if (
        condition_deadline_on is not None
        and condition_deadline_on != before["condition_deadline_on"]
        and condition_deadline_on < today
    ):
        raise Conflict(
            f"生效条件的截止日期（{condition_deadline_on.isoformat()}）早于今天（{today.isoformat()}）",
            "the condition deadline lies in the past",
            code="deadline_passed",
            details=[{"field": "condition_deadline_on", "message": "不能早于今天"}],
        )
    if prefix != before["agreement_prefix"] and (taken := _prefix_taken(session, project_id, prefix)):
        raise Conflict(
            f"协议编号前缀“{prefix}”已被项目 {taken} 使用，请换一个",
            "the agreement number prefix is used by another project",
            code="prefix_taken",
            details=[{"field": "agreement_prefix", "message": f"已被项目 {taken} 使用"}],
        )
    diff = {k: [_plain(before[k]), _plain(v)] for k, v in after.items() if current is None or before[k] != v}
    if current is not None and not diff:
        return current
    now = utcnow()
    if current is None:
        current = SigningTerms(
            project_id=project.id, version=1, updated_by=actor.user_id, updated_at=now, **after
        )
        session.add(current)
        try:
            session.flush()
        except IntegrityError as exc:  # a concurrent first save took the project's row
            raise Conflict(
                "本项目的签约设置刚被他人保存，请刷新页面后重试",
                "signing terms created by someone else meanwhile",
                code="stale_version",
            ) from exc
        action = "create"
    else:
        for k, v in after.items():
            setattr(current, k, v)
        current.version = version + 1  # the row is locked: no one else moved it since the read
        current.updated_by = actor.user_id
        current.updated_at = now
        session.flush()
        action = "update"
    audit_service.record(
        session,
        actor=actor,
        action=action,
        entity="signing_terms",
        entity_id=current.id,
        changes=diff,
        reason=reason.strip(),
        project_id=project.id,
    )
    return current


def _mask_account(account: str) -> str:
    """``6222020200012345678`` -> ``***************5678`` (the last four digits kept)."""
    return "*" * max(0, len(account) - 4) + account[-4:] if len(account) > 4 else "*" * len(account)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _counter_upsert(dialect: str, project_id: int) -> Insert | None:
    """``INSERT ... ON CONFLICT DO UPDATE last_no = last_no + 1`` in the dialect's words, or None.

    Creating the counter this way lets concurrent first signers of a project queue on the new row
    instead of failing: a plain INSERT that meets a duplicate key leaves InnoDB holding a shared
    lock on the row, and two such losers then deadlock on their UPDATEs.
    """
    values = {"project_id": project_id, "last_no": 1}
    bump = {"last_no": SignCounter.last_no + 1}
    if dialect == "postgresql":
        return (
            postgresql.insert(SignCounter)
            .values(values)
            .on_conflict_do_update(index_elements=[SignCounter.project_id], set_=bump)
        )
    if dialect == "sqlite":
        return (
            sqlite.insert(SignCounter)
            .values(values)
            .on_conflict_do_update(index_elements=[SignCounter.project_id], set_=bump)
        )
    if dialect in ("mysql", "mariadb"):
        return mysql.insert(SignCounter).values(values).on_duplicate_key_update(bump)
    return None


def allocate_sign_no(session: Session, *, project_id: int) -> int:
    """Take the project's next sign order number inside the caller's transaction.

    One UPDATE bumps the counter: it takes the row lock first (SQLite's write lock, PostgreSQL's
    and InnoDB's row lock), so concurrent signers queue here until the first commits, and the
    number is read back under that lock. Numbers are gapless because a rolled-back signing rolls
    the bump back too. The project's first signing creates the row with an upsert (see
    :func:`_counter_upsert`).
    """
    bump = (
        update(SignCounter)
        .where(SignCounter.project_id == project_id)
        .values(last_no=SignCounter.last_no + 1)
    )
    if session.get_bind().dialect.update_returning:
        # PostgreSQL, SQLite: the number comes back with the bump, one round trip under the lock.
        taken = session.scalar(bump.returning(SignCounter.last_no))
        if taken is not None:
            return int(taken)
        bumped = 0
    else:
        bumped = session.execute(bump).rowcount  # type: ignore[attr-defined]
    if bumped == 0:
        upsert = _counter_upsert(session.get_bind().dialect.name, project_id)
        if upsert is not None:
            session.execute(upsert)
        else:
            # Elsewhere: insert inside a savepoint; a loser of the race bumps the winner's row.
            try:
                with session.begin_nested():
                    session.add(SignCounter(project_id=project_id, last_no=1))
                    session.flush()
            except IntegrityError:
                session.execute(bump)
    return int(session.scalar(select(SignCounter.last_no).where(SignCounter.project_id == project_id)) or 0)


def _items_json(result: Result) -> str:
    return json.dumps([asdict(i) for i in result.items], ensure_ascii=False, default=str)


def _already_signed(a: Agreement) -> Conflict:
    return Conflict(
        f"该户已签订协议（协议编号 {a.agreement_no}，签约顺序号 {a.sign_no}），不能重复签约",
        "the household already has a live agreement",
        code="already_signed",
        details=[{"agreement_id": a.id, "agreement_no": a.agreement_no, "sign_no": a.sign_no}],
    )


def _live_agreement(session: Session, household_id: int, *, lock: bool) -> Agreement | None:
    q = select(Agreement).where(
        Agreement.household_id == household_id, Agreement.status.in_(rules.LIVE_STATUSES)
    )
    if lock:
        q = q.with_for_update().execution_options(populate_existing=True)
    return session.scalars(q.order_by(Agreement.id).limit(1)).first()


def _calculation(
    session: Session,
    *,
    scope: DataScope,
    household_id: int,
    option: str,
    sign_on: date,
    group: facts.GroupFacts | None = None,
    effective_on: date | None = None,
) -> compensation_service.SigningCalculation:
    """The calculation to freeze. What the household's data or the policy cannot give is a 409: the
    request itself was well formed (no published policy, an option the policy lacks, facts missing)."""
    try:
        return compensation_service.signing_calculation(
            session,
            scope=scope,
            household_id=household_id,
            option=option,
            sign_on=sign_on,
            group=group,
            effective_on=effective_on,
        )
    except NotFound as exc:
        if exc.message_en != "no policy published for this project":
            raise
        raise Conflict(
            "本项目尚未发布补偿方案，不能签约", "no policy published for this project", code="no_policy"
        ) from None
    except ValidationFailed as exc:
        code = "not_computable" if exc.code == "not_computable" else "option_unavailable"
        raise Conflict(
            f"不能按此签约：{exc.message_zh}", exc.message_en, code=code, details=exc.details
        ) from None


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
    group: facts.GroupFacts | None = None,
) -> Agreement:
    """Sign an agreement for a household (签约); returns it with its sign order number and total.

    Refused with a 409 and nothing written: a household that already has a live agreement
    (``already_signed``), one whose stage may not move to 已签约 (``illegal_transition``), a
    ``sign_on`` after today or before the policy took effect (``sign_date``) or before the
    household's current stage was reached (``stage_date``), no published policy
    (``no_policy``), an option the policy lacks (``option_unavailable``), facts the policy
    cannot compute (``not_computable``), an agreement number another project took
    (``prefix_taken``). Bad payee
    fields are a 422 naming each. The calculation uses the project's latest published policy as
    of ``sign_on`` and is frozen in the agreement's first snapshot. A condition from the project's
    signing terms makes the agreement pending until decided. ``group``: the project's group facts
    as they stand, from a caller that writes many signings in one transaction and keeps them
    (``compensation_service.group_with_event``); read from the database otherwise.

    Locks, in this order: the project's sign counter (signers of a project queue there until the
    commit), the household and the project row (the stage move), the audit chain: the same order
    as every household edit (household, project, audit), so a signing and an edit never deadlock.
    The reads and the calculation run before the counter is taken, and on SQLite before the write
    transaction begins (``begin_read`` / ``begin_write``): the facts frozen are the ones read then;
    a change committed in between shows as the amendment flag, never as a different total.
    """
    if option not in rules.OPTIONS:
        raise _fail("option", "安置方式应为 " + " / ".join(f"{k}（{v}）" for k, v in rules.OPTIONS.items()))
    today = today or today_shanghai()
    if sign_on > today:
        raise Conflict(
            f"签约日期（{sign_on.isoformat()}）不能晚于今天（{today.isoformat()}）",
            "sign_on after today",
            code="sign_date",
            details=[{"field": "sign_on", "message": "不能晚于今天"}],
        )
    # Read and compute without holding SQLite's write lock (other processes' writers go on);
    # what matters is checked again under the locks below.
    begin_read(session)
    h = household_service.get_household(session, scope=scope, household_id=household_id)
    payee = clean_payee(payee or Payee(), default_name=h.head_name)
    live = _live_agreement(session, household_id, lock=False)
    if live is not None:
        raise _already_signed(live)
    if "signed" not in household_service.next_stages(h.status):
        stage = household_service.stage_labels().get(h.status, h.status)
        raise Conflict(
            f"该户当前阶段为“{stage}”，不能签约",
            f"a household in stage {h.status} cannot sign",
            code="illegal_transition",
        )
    # Without a condition the agreement takes effect on signing: the facts frozen say so.
    effective_on = sign_on if signing_terms(session, h.project_id).condition_kind == "none" else None
    calc = _calculation(
        session,
        scope=scope,
        household_id=household_id,
        option=option,
        sign_on=sign_on,
        group=group,
        effective_on=effective_on,
    )
    if calc.version.effective_on is not None and sign_on < calc.version.effective_on:
        raise Conflict(
            f"签约日期（{sign_on.isoformat()}）早于现行补偿方案（第 {calc.version.version} 版）的生效日期"
            f"（{calc.version.effective_on.isoformat()}）",
            "sign_on before the policy took effect",
            code="sign_date",
            details=[{"field": "sign_on", "message": "早于补偿方案的生效日期"}],
        )
    project_id, block_id = h.project_id, h.block_id
    policy = (calc.version.id, calc.version.version, calc.version.content_hash)
    # The write transaction from here (SQLite: BEGIN IMMEDIATE now; objects read so far reload).
    # The counter's lock serialises the project's signers from here to the commit; the live
    # agreement check below is a locking read, so it sees a concurrent signer's committed row,
    # and the stage move re-reads the household under its row lock.
    begin_write(session)
    terms = signing_terms(session, project_id)
    sign_no = allocate_sign_no(session, project_id=project_id)
    live = _live_agreement(session, household_id, lock=True)
    if live is not None:
        raise _already_signed(live)
    agreement_no = rules.agreement_no(terms.agreement_prefix or str(project_id), sign_no)
    if session.scalar(select(Agreement.id).where(Agreement.agreement_no == agreement_no)) is not None:
        raise Conflict(
            f"协议编号 {agreement_no} 已被其他项目使用，请在签约设置中修改协议编号前缀",
            "the agreement number is taken",
            code="prefix_taken",
        )
    # The stage first: it locks the household and the project row before anything here refers
    # to them (inserting rows that point at them would take shared locks to upgrade later).
    campaign_service.move_stage(
        session,
        actor=actor,
        scope=scope,
        household_id=household_id,
        to_stage="signed",
        on=sign_on,
        note=f"签订协议 {agreement_no}（签约顺序号 {sign_no}）",
        manage=True,
        today=today,
        recorded_at=recorded_at,
    )
    now = recorded_at or utcnow()
    total = calc.result.total_fen
    a = Agreement(
        project_id=project_id,
        household_id=household_id,
        agreement_no=agreement_no,
        sign_no=sign_no,
        sign_no_issued_by=actor.user_id,
        sign_no_issued_at=now,
        option=option,
        sign_on=sign_on,
        signed_by=actor.user_id,
        status=rules.initial_status(terms.condition_kind),
        total_fen=total,
        payee_name=payee.name,
        payee_bank=payee.bank,
        payee_account=payee.account,
        condition_kind=terms.condition_kind,
        condition_rate_bp=terms.condition_rate_bp,
        condition_block_id=block_id if terms.condition_kind == "block_rate" else None,
        condition_deadline_on=terms.condition_deadline_on,
        effective_on=sign_on if terms.condition_kind == "none" else None,
        created_at=now,
        version=1,
    )
    session.add(a)
    session.flush()
    facts_text = json.dumps(facts.household_to_dict(calc.household), ensure_ascii=False, sort_keys=True)
    snap = AgreementSnapshot(
        agreement_id=a.id,
        revision=1,
        policy_version_id=policy[0],
        policy_version=policy[1],
        policy_hash=policy[2],
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
                project_id=project_id,
                household_id=household_id,
                kind=kind,
                purpose=f"{agreement_no} {rules.INSTALMENT_KINDS[kind]}",
                amount_fen=amount,
                status="due" if kind == "on_sign" and effective else "scheduled",
                due_on=sign_on if kind == "on_sign" and effective else None,
                sort=sort,
                created_at=now,
                version=1,
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
            "agreement_no": [None, agreement_no],
            "sign_no": [None, sign_no],
            "option": [None, option],
            "sign_on": [None, sign_on.isoformat()],
            "total_fen": [None, total],
            "status": [None, a.status],
            "policy_version": [None, policy[1]],
            "policy_hash": [None, policy[2]],
            "facts_sha256": [None, snap.facts_sha256],
            "payee_name": [None, payee.name],
            "payee_bank": [None, payee.bank],
            # The account's last four digits only: the audit log is read by roles without PII_READ.
            "payee_account": [None, _mask_account(payee.account)],
        },
        project_id=project_id,
        household_id=household_id,
    )
    events.notify(
        session,
        topic=events.project_topic(project_id),
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
    """A project's agreements in sign order, only those of households in ``scope`` (404 for no
    such project)."""
    project_service.get_project(session, project_id)
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


def items_with_basis(session: Session, agreement: Agreement, snap: AgreementSnapshot) -> list[dict[str, Any]]:
    """The snapshot's items, each with its basis in words (``basis``, see :mod:`anju.policy.wording`).

    Snapshots signed before the wording existed lack it: their frozen facts are evaluated again under
    their own policy version, as-of date and group facts, and an item takes the words only when that
    gives the amount that was signed (the snapshot stays what was signed; nothing is written).
    """
    items = items_of(snap)
    if all("basis" in i for i in items):
        return items
    try:
        pv = compensation_service.get_version(session, agreement.project_id, snap.policy_version)
        again = compensation_service.evaluate_frozen(
            pv, snapshot_facts(snap), agreement.option, as_of=snap.as_of, group=snapshot_group(snap)
        )
    except (NotFound, ValidationFailed):
        return items
    words = {i.id: (i.amount_fen, i.basis) for i in again.items}
    for i in items:
        if "basis" not in i:
            amount, basis = words.get(str(i.get("id", "")), (None, []))
            i["basis"] = list(basis) if amount == int(i.get("amount_fen") or 0) else []
    return items
