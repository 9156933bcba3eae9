"""Amendments (变更) and cancellations (解除) of signed agreements, approved by a leader.

A change request (amend or cancel) carries a reason; a leader other than the requester approves or
rejects it. An approved amendment writes the next snapshot revision with the current facts (the sign
date kept) and the total becomes the new one: more money is an ``adjustment`` instalment, less money
comes off the unpaid instalments (never below what was paid or committed: refused otherwise). An
approved cancellation ends the agreement (status cancelled), cancels its unpaid instalments and
takes the household back to 协商中 on the campaign timeline. Nothing is deleted. Whether an
amendment is needed at all is :mod:`anju.agreement.service.amendment_flag`'s question.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.agreement import rules
from anju.agreement.models import Agreement, AgreementChange, AgreementSnapshot, Instalment
from anju.agreement.service import schedule
from anju.agreement.service.amendment_flag import amendment_check, current_facts, item_diffs, recompute
from anju.agreement.service.signing import get_agreement, get_snapshot, items_of
from anju.audit import service as audit_service
from anju.campaign import service as campaign_service
from anju.compensation import service as compensation_service
from anju.core import text
from anju.core.actor import Actor
from anju.core.dates import today_shanghai, utcnow
from anju.core.money import format_yuan
from anju.db import events
from anju.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.identity.service import DataScope
from anju.policy import facts
from anju.policy.scalar import Result
from anju.project import service as project_service

__all__ = [
    "CHANGE_KINDS",
    "CHANGE_STATUSES",
    "ChangeRow",
    "approve_change",
    "changes_of",
    "close_open_change",
    "get_change",
    "open_change_of",
    "open_changes",
    "reject_change",
    "request_change",
]

CHANGE_KINDS: dict[str, str] = {"amend": "协议变更", "cancel": "协议解除"}
CHANGE_STATUSES: dict[str, str] = {"requested": "待审批", "approved": "已批准", "rejected": "已驳回"}


# ---------------------------------------------------------------- change requests


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """A change request with what a list shows beside it."""

    change: AgreementChange
    agreement: Agreement
    household_code: str
    head_name: str
    requested_by_name: str
    decided_by_name: str


def _reason(value: str, field_name: str = "reason", label: str = "理由") -> str:
    problem = text.text_problem(value, max_len=text.MAX_REASON, multiline=True)
    if problem is None and not value.strip():
        problem = "必填"
    if problem:
        raise ValidationFailed(
            f"{label}{problem}", f"invalid {field_name}", details=[{"field": field_name, "message": problem}]
        )
    return value.strip()


def _lock_agreement(session: Session, agreement_id: int) -> Agreement:
    a = session.scalar(
        select(Agreement)
        .where(Agreement.id == agreement_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if a is None:
        raise NotFound("协议不存在", "no such agreement")
    return a


def _require_live(a: Agreement, what: str) -> None:
    if a.status not in rules.LIVE_STATUSES:
        raise Conflict(
            f"协议 {a.agreement_no} {rules.STATUSES.get(a.status, a.status)}，不能{what}",
            f"the agreement is {a.status}",
            code="agreement_ended",
        )


def _cancel_refusal(session: Session, scope: DataScope, a: Agreement) -> str | None:
    """Why the agreement may not be cancelled now, or ``None``."""
    h = household_service.get_household(session, scope=scope, household_id=a.household_id)
    if h.status != "signed":
        stage = household_service.stage_labels().get(h.status, h.status)
        return f"该户已进入“{stage}”阶段，不能解除协议（须先撤销腾空验收或拆除登记）"
    return None


def open_change_of(session: Session, agreement_id: int) -> AgreementChange | None:
    """The agreement's change request waiting for a decision, if any."""
    return session.scalar(
        select(AgreementChange).where(
            AgreementChange.agreement_id == agreement_id, AgreementChange.status == "requested"
        )
    )


def request_change(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    agreement_id: int,
    kind: str,
    reason: str,
    expected_version: int | None = None,
) -> AgreementChange:
    """Ask for an amendment (``amend``) or a cancellation (``cancel``) of a live agreement, with a reason.

    409 when the agreement has ended, when a request is already waiting, when an amendment would
    change nothing (the current calculation equals the agreement), when the household has moved on
    past 已签约 (a cancellation), or when ``expected_version`` (the agreement's) is stale. Audited.
    """
    if kind not in CHANGE_KINDS:
        raise ValidationFailed(
            "申请类型应为 amend（协议变更）或 cancel（协议解除）",
            "invalid kind",
            details=[{"field": "kind", "message": "应为 amend 或 cancel"}],
        )
    reason = _reason(reason)
    a = get_agreement(session, scope=scope, agreement_id=agreement_id)
    a = _lock_agreement(session, a.id)
    if expected_version is not None and a.version != expected_version:
        raise _stale(session, a)
    _require_live(a, f"申请{CHANGE_KINDS[kind]}")
    waiting = open_change_of(session, a.id)
    if waiting is not None:
        raise Conflict(
            f"该协议已有待审批的{CHANGE_KINDS[waiting.kind]}申请（{waiting.requested_at:%Y-%m-%d}），"
            "请等待审批结果",
            "a change request is already waiting",
            code="change_waiting",
        )
    if kind == "amend":
        check = amendment_check(session, scope=scope, agreement_id=a.id, store=False)
        if check.problem:
            raise Conflict(
                check.problem, "the latest policy cannot compute the household", code="not_computable"
            )
        if not check.flag:
            raise Conflict(
                "按该户当前信息和最新方案计算，各项金额与协议一致，无需变更协议",
                "nothing to amend",
                code="no_difference",
            )
    else:
        refusal = _cancel_refusal(session, scope, a)
        if refusal:
            raise Conflict(refusal, "the household has moved past signing", code="illegal_transition")
    now = utcnow()
    c = AgreementChange(
        agreement_id=a.id,
        project_id=a.project_id,
        kind=kind,
        reason=reason,
        status="requested",
        requested_by=actor.user_id,
        requested_at=now,
        decision_note="",
    )
    session.add(c)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="request",
        entity="agreement_change",
        entity_id=c.id,
        changes={"agreement_id": [None, a.id], "kind": [None, kind], "status": [None, "requested"]},
        reason=reason,
        project_id=a.project_id,
        household_id=a.household_id,
    )
    events.notify(
        session,
        topic=events.project_topic(a.project_id),
        kind="agreement_change",
        data={"household_id": a.household_id, "status": "requested"},
    )
    return c


def _stale(session: Session, a: Agreement) -> Conflict:
    record = audit_service.last_change(session, entity="agreement", entity_id=a.id)
    who = identity_service.display_name(session, record.actor_id, record.actor_name) if record else "他人"
    return Conflict(
        f"协议已被 {who} 修改，请刷新页面后重试",
        "the agreement changed meanwhile; reload and try again",
        code="stale_version",
        details=[{"field": "version", "current_version": a.version}],
    )


def get_change(session: Session, *, scope: DataScope, change_id: int) -> AgreementChange:
    """A change request whose household is in ``scope``; 404 otherwise."""
    c = session.get(AgreementChange, change_id)
    if c is None:
        raise NotFound("变更申请不存在", "no such change request")
    try:
        get_agreement(session, scope=scope, agreement_id=c.agreement_id)
    except NotFound:
        raise NotFound("变更申请不存在", "no such change request") from None
    return c


def _lock_change(session: Session, scope: DataScope, change_id: int) -> tuple[AgreementChange, Agreement]:
    """Lock the request's agreement, then the request: every writer of agreements and their requests
    (requests, decisions, the condition check) locks the agreement first, so none waits in a cycle."""
    found = get_change(session, scope=scope, change_id=change_id)
    a = _lock_agreement(session, found.agreement_id)
    c = session.scalar(
        select(AgreementChange)
        .where(AgreementChange.id == change_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert c is not None  # read just above, never deleted
    return c, a


def _decidable(session: Session, actor: Actor, c: AgreementChange, expected_version: int | None) -> None:
    if expected_version is not None and c.version != expected_version:
        raise Conflict(
            "该申请已被他人处理，请刷新页面后重试", "the request changed meanwhile", code="stale_version"
        )
    if c.status != "requested":
        who = identity_service.display_name(session, c.decided_by, "他人")
        when = f"于 {c.decided_at:%Y-%m-%d %H:%M} " if c.decided_at else ""
        raise Conflict(
            f"该申请已由 {who} {when}{CHANGE_STATUSES.get(c.status, c.status)}，不能再次审批",
            "the request was decided already",
            code="already_decided",
        )
    if actor.user_id is not None and actor.user_id == c.requested_by:
        raise PermissionDenied(
            "不能审批本人提出的申请：协议变更与解除须由申请人以外的领导审批",
            "the requester cannot decide their own request",
            code="own_request",
        )


def approve_change(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    change_id: int,
    note: str = "",
    expected_version: int | None = None,
    today: date | None = None,
) -> AgreementChange:
    """Approve a change request (a leader other than the requester: 403 ``own_request`` otherwise).

    Amendment: the next snapshot revision with the household's current facts under the latest
    policy (sign date kept); the agreement's total becomes the new total; a higher total adds an
    ``adjustment`` instalment for the difference (due now when the agreement is effective), a lower
    one comes off the unpaid instalments, latest first, never below what was paid or committed
    (409 ``below_paid`` otherwise, nothing changed). Cancellation: status cancelled, unpaid
    instalments cancelled (409 when money is committed to one), household back to 协商中.
    409 when the request was decided already or the agreement has ended. Audited.
    """
    note = note.strip()
    if (problem := text.text_problem(note, max_len=text.MAX_REASON, multiline=True)) is not None:
        raise ValidationFailed(
            f"审批意见{problem}", "invalid note", details=[{"field": "note", "message": problem}]
        )
    today = today or today_shanghai()
    c, a = _lock_change(session, scope, change_id)
    _decidable(session, actor, c, expected_version)
    _require_live(a, "变更或解除")
    now = utcnow()
    if c.kind == "amend":
        snap = _amend(session, actor=actor, scope=scope, a=a, c=c, now=now, today=today)
        c.snapshot_id = snap.id
    else:
        _cancel(session, actor=actor, scope=scope, a=a, c=c, now=now, today=today)
    c.status = "approved"
    c.decided_by = actor.user_id
    c.decided_at = now
    c.decision_note = note
    c.version += 1
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="approve",
        entity="agreement_change",
        entity_id=c.id,
        changes={"status": ["requested", "approved"], "snapshot_id": [None, c.snapshot_id]},
        reason=note,
        project_id=a.project_id,
        household_id=a.household_id,
    )
    events.notify(
        session,
        topic=events.project_topic(a.project_id),
        kind="agreement",
        data={"household_id": a.household_id, "status": a.status},
    )
    return c


def reject_change(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    change_id: int,
    note: str,
    expected_version: int | None = None,
) -> AgreementChange:
    """Reject a change request with a reason (a leader other than the requester); the agreement
    stays as it is. 409 when it was decided already. Audited."""
    note = _reason(note, "note", "驳回理由")
    c, a = _lock_change(session, scope, change_id)
    _decidable(session, actor, c, expected_version)
    _close(session, actor=actor, c=c, a=a, note=note, now=utcnow())
    return c


def _close(
    session: Session, *, actor: Actor, c: AgreementChange, a: Agreement, note: str, now: datetime
) -> None:
    c.status = "rejected"
    c.decided_by = actor.user_id
    c.decided_at = now
    c.decision_note = note[: text.MAX_REASON]
    c.version += 1
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="reject",
        entity="agreement_change",
        entity_id=c.id,
        changes={"status": ["requested", "rejected"]},
        reason=c.decision_note,
        project_id=a.project_id,
        household_id=a.household_id,
    )


def close_open_change(session: Session, *, actor: Actor, a: Agreement, note: str) -> None:
    """Reject the agreement's waiting request, if any, because the agreement ended (void)."""
    c = open_change_of(session, a.id)
    if c is not None:
        _close(session, actor=actor, c=c, a=a, note=note, now=utcnow())


def _items_json(result: Result) -> str:
    return json.dumps([asdict(i) for i in result.items], ensure_ascii=False, default=str)


def _amend(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    a: Agreement,
    c: AgreementChange,
    now: datetime,
    today: date,
) -> AgreementSnapshot:
    snap = get_snapshot(session, a)
    pv = compensation_service.get_version(session, a.project_id)
    rc = recompute(snap, a.option, current_facts(session, scope, a), pv)
    if rc.result is None:
        raise Conflict(
            f"按第 {pv.version} 版方案无法计算该户：{rc.problem}", "not computable", code="not_computable"
        )
    if not item_diffs(items_of(snap), rc.result):
        raise Conflict(
            "按该户当前信息和最新方案计算，各项金额与协议一致，无需变更（可驳回该申请）",
            "nothing to amend",
            code="no_difference",
        )
    new_total = rc.result.total_fen
    old_total = a.total_fen
    diff = new_total - old_total
    rows = schedule.lock_instalments(session, [i.id for i in schedule.instalments(session, a.id)])
    cuts = _reductions(rows, -diff) if diff < 0 else []
    revision = (
        int(
            session.scalar(
                select(func.max(AgreementSnapshot.revision)).where(AgreementSnapshot.agreement_id == a.id)
            )
            or 0
        )
        + 1
    )
    facts_text = json.dumps(facts.household_to_dict(rc.household), ensure_ascii=False, sort_keys=True)
    new = AgreementSnapshot(
        agreement_id=a.id,
        revision=revision,
        policy_version_id=pv.id,
        policy_version=pv.version,
        policy_hash=pv.content_hash,
        as_of=snap.as_of,
        facts=facts_text,
        facts_sha256=hashlib.sha256(facts_text.encode("utf-8")).hexdigest(),
        group=snap.group,
        items=_items_json(rc.result),
        swap="",
        total_fen=new_total,
        reason=c.reason[:500],
        created_by=actor.user_id,
        created_at=now,
    )
    session.add(new)
    session.flush()
    old_snapshot = a.snapshot_id
    a.snapshot_id = new.id
    a.total_fen = new_total
    a.amendment_flag = False
    a.amendment_diff_fen = 0
    a.amendment_checked_at = now
    a.version += 1
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="amend",
        entity="agreement",
        entity_id=a.id,
        changes={
            "total_fen": [old_total, new_total],
            "snapshot_id": [old_snapshot, new.id],
            "revision": [revision - 1, revision],
            "policy_version": [snap.policy_version, pv.version],
            "facts_sha256": [snap.facts_sha256, new.facts_sha256],
        },
        reason=c.reason,
        project_id=a.project_id,
        household_id=a.household_id,
    )
    purpose = f"{a.agreement_no} {rules.INSTALMENT_KINDS['adjustment']}（第{revision}版）"
    if diff > 0:
        schedule.add_instalment(
            session,
            actor=actor,
            agreement=a,
            kind="adjustment",
            amount_fen=diff,
            purpose=purpose,
            item_ids=[d.id for d in item_diffs(items_of(snap), rc.result) if d.diff_fen > 0],
            due_on=today,
            reason=c.reason,
        )
    for row, cut in cuts:
        _reduce(session, actor=actor, i=row, cut=cut, reason=f"协议变更（第{revision}版）：{c.reason}")
    return new


def _reductions(rows: list[Instalment], need: int) -> list[tuple[Instalment, int]]:
    """How ``need`` fen come off the unpaid parts of the instalments: scheduled ones before due ones,
    the latest first; 409 ``below_paid`` when the unpaid parts are not enough."""
    open_rows = [i for i in rows if i.status in ("scheduled", "due")]
    order = sorted(open_rows, key=lambda i: (i.status != "scheduled", -i.sort, -i.id))
    room = {i.id: max(0, i.amount_fen - i.paid_fen - i.committed_fen) for i in order}
    available = sum(room.values())
    if available < need:
        settled = sum(i.paid_fen + i.committed_fen for i in rows if i.status != "cancelled")
        raise Conflict(
            f"变更后协议总额减少 {format_yuan(need)} 元，但尚未支付的款项只剩 {format_yuan(available)} 元"
            f"（已支付或已批准待付 {format_yuan(settled)} 元），不能减到已付金额以下；"
            "须先追回多付的款项，再办理变更",
            "the reduction exceeds what is left unpaid",
            code="below_paid",
            details=[
                {"field": "total_fen", "needed_fen": need, "unpaid_fen": available, "paid_fen": settled}
            ],
        )
    out = []
    for i in order:
        if need <= 0:
            break
        cut = min(room[i.id], need)
        if cut > 0:
            out.append((i, cut))
            need -= cut
    return out


def _reduce(session: Session, *, actor: Actor, i: Instalment, cut: int, reason: str) -> None:
    before_amount, before_status = i.amount_fen, i.status
    i.amount_fen -= cut
    if i.amount_fen == 0 and i.paid_fen == 0 and i.committed_fen == 0:
        rules.check_instalment_transition(i.status, "cancelled")
        i.status = "cancelled"
    elif i.paid_fen == i.amount_fen and i.committed_fen == 0 and i.status == "due":
        i.status = "paid"  # what was paid already covers the reduced amount
    i.version += 1
    session.flush()
    changes: dict[str, Any] = {"amount_fen": [before_amount, i.amount_fen]}
    if i.status != before_status:
        changes["status"] = [before_status, i.status]
    audit_service.record(
        session,
        actor=actor,
        action="reduce",
        entity="instalment",
        entity_id=i.id,
        changes=changes,
        reason=reason[: text.MAX_REASON],
        project_id=i.project_id,
        household_id=i.household_id,
    )


def _cancel(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    a: Agreement,
    c: AgreementChange,
    now: datetime,
    today: date,
) -> None:
    refusal = _cancel_refusal(session, scope, a)
    if refusal:
        raise Conflict(refusal, "the household has moved past signing", code="illegal_transition")
    rows = schedule.lock_instalments(session, [i.id for i in schedule.instalments(session, a.id)])
    for i in rows:
        if i.status in ("scheduled", "due"):
            schedule.cancel_instalment(
                session, actor=actor, instalment=i, reason=f"协议解除：{c.reason}", what="解除协议"
            )
    rules.check_transition(a.status, "cancelled")
    before = a.status
    a.status = "cancelled"
    a.ended_at = now
    a.end_reason = c.reason[:500]
    a.amendment_flag = False
    a.amendment_diff_fen = 0
    a.version += 1
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="cancel",
        entity="agreement",
        entity_id=a.id,
        changes={"status": [before, "cancelled"], "ended_on": [None, today.isoformat()]},
        reason=c.reason,
        project_id=a.project_id,
        household_id=a.household_id,
    )
    campaign_service.revert_stage(
        session,
        actor=actor,
        scope=scope,
        household_id=a.household_id,
        from_stage="signed",
        note=f"解除协议 {a.agreement_no}：{c.reason}"[: text.MAX_REASON],
    )


# ---------------------------------------------------------------- lists


def _rows(session: Session, changes: list[AgreementChange]) -> list[ChangeRow]:
    if not changes:
        return []
    agreements = {
        a.id: a
        for a in session.scalars(select(Agreement).where(Agreement.id.in_({c.agreement_id for c in changes})))
    }
    labels = household_service.household_labels(
        session, household_ids=[a.household_id for a in agreements.values()]
    )
    names = identity_service.user_names(session)
    out = []
    for c in changes:
        a = agreements[c.agreement_id]
        code, head = labels.get(a.household_id, ("", ""))
        out.append(
            ChangeRow(
                change=c,
                agreement=a,
                household_code=code,
                head_name=head,
                requested_by_name=names.get(c.requested_by or 0, "系统"),
                decided_by_name=names.get(c.decided_by or 0, "系统") if c.decided_at else "",
            )
        )
    return out


def changes_of(session: Session, *, scope: DataScope, agreement_id: int) -> list[ChangeRow]:
    """Every change request of an agreement, newest first (404 outside ``scope``)."""
    get_agreement(session, scope=scope, agreement_id=agreement_id)
    return _rows(
        session,
        list(
            session.scalars(
                select(AgreementChange)
                .where(AgreementChange.agreement_id == agreement_id)
                .order_by(AgreementChange.id.desc())
            )
        ),
    )


def open_changes(
    session: Session,
    *,
    scope: DataScope,
    project_id: int | None = None,
    status: str = "requested",
    limit: int = 500,
) -> list[ChangeRow]:
    """Change requests of households in ``scope`` (one project, or all), with ``status``
    (requested: oldest first, the approvals inbox; decided: newest first)."""
    if project_id is not None:
        project_service.get_project(session, project_id)  # 404 for no such project
    q = (
        select(AgreementChange)
        .join(Agreement, Agreement.id == AgreementChange.agreement_id)
        .where(AgreementChange.status == status, scope.household_clause(Agreement.household_id))
    )
    if project_id is not None:
        q = q.where(AgreementChange.project_id == project_id)
    q = q.order_by(AgreementChange.id if status == "requested" else AgreementChange.id.desc()).limit(limit)
    return _rows(session, list(session.scalars(q)))
