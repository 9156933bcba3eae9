"""Payment service part: batches (支付批次) from preparation to approval.

Finance prepares a batch from a project's due instalments (all of them, or chosen ones, each for
the unpaid remainder unless an amount is given), edits it while it is a draft (or after a
rejection), and submits it; a leader who did not prepare it approves or rejects it. Approval is
where money is committed: the batch's instalment rows are locked in id order and
``committed + paid + amount`` must stay within each instalment's amount (the overpay guard in
:func:`anju.agreement.service.commit_payments`), so of two approvals that together would overpay
exactly one wins, and a refused approval changes nothing. Every state change is audited
(entity ``payment_batch``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.core.money import format_yuan
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.payment import rules
from anju.payment.models import Payment, PaymentBatch
from anju.project import service as project_service

__all__ = [
    "BatchSummary",
    "BatchView",
    "DueItem",
    "LineInput",
    "approve_batch",
    "batch_history",
    "cancel_batch",
    "create_batch",
    "due_items",
    "get_batch",
    "list_batches",
    "reject_batch",
    "submit_batch",
    "update_batch",
]

ENTITY = "payment_batch"
PREPARING_ACTIONS = frozenset({"create", "edit", "submit"})


@dataclass(frozen=True, slots=True)
class LineInput:
    """A line asked for: an instalment, and the amount (``None``: what is left to pay)."""

    instalment_id: int
    amount_fen: int | None = None


@dataclass(frozen=True, slots=True)
class DueItem:
    """A due instalment with money left to pay, and what open (unapproved) batches hold of it."""

    instalment: agreement_service.PayableInstalment
    household_code: str
    head_name: str
    open_fen: int  # in draft, submitted or rejected batches (not committed yet)
    open_batches: tuple[int, ...]  # their batch numbers

    @property
    def suggested_fen(self) -> int:
        """What a new batch takes by default: the remainder less what open batches hold."""
        return max(self.instalment.remainder_fen - self.open_fen, 0)


@dataclass
class BatchView:
    """A batch with its live lines, the households' labels and the people's names."""

    batch: PaymentBatch
    lines: list[Payment]
    project_name: str
    labels: dict[int, tuple[str, str]]  # household id -> (code, head name)
    names: dict[int, str]  # user id -> display name
    instalments: dict[int, agreement_service.PayableInstalment] = field(default_factory=dict)  # by id
    preparers: frozenset[int] = frozenset()  # everyone who created, edited or submitted it
    rejection: str = ""  # the reason of the last rejection, while the batch is rejected or a draft again
    status_counts: dict[str, int] = field(default_factory=dict)

    @property
    def status_label(self) -> str:
        """The batch status in Chinese."""
        return rules.BATCH_STATUSES.get(self.batch.status, self.batch.status)

    def agreement_no(self, p: Payment) -> str:
        """The agreement number of a line."""
        i = self.instalments.get(p.instalment_id)
        return i.agreement_no if i is not None else ""

    def name_of(self, user_id: int | None) -> str:
        """A user's display name (``""`` for none)."""
        return self.names.get(user_id, "") if user_id is not None else ""


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """A batch in a list: the row, its project's name and the preparer's name."""

    batch: PaymentBatch
    project_name: str
    prepared_by_name: str
    approved_by_name: str

    @property
    def status_label(self) -> str:
        """The batch status in Chinese."""
        return rules.BATCH_STATUSES.get(self.batch.status, self.batch.status)


# --------------------------------------------------------------------------- reading


def _load(session: Session, batch_id: int, *, lock: bool = False) -> PaymentBatch:
    q = select(PaymentBatch).where(PaymentBatch.id == batch_id)
    if lock:
        q = q.with_for_update().execution_options(populate_existing=True)
    batch = session.scalar(q)
    if batch is None:
        raise NotFound("支付批次不存在", "no such payment batch")
    return batch


def _live_lines(session: Session, batch_id: int) -> list[Payment]:
    return list(
        session.scalars(
            select(Payment)
            .where(Payment.batch_id == batch_id, Payment.status != "cancelled")
            .order_by(Payment.line_no, Payment.id)
        )
    )


def batch_history(session: Session, *, batch_id: int) -> list[Any]:
    """The batch's audit records, oldest first (who prepared, submitted, decided, exported...)."""
    return audit_service.entity_history(session, entity=ENTITY, entity_id=batch_id)


def _preparers(batch: PaymentBatch, history: Sequence[Any]) -> frozenset[int]:
    ids = {r.actor_id for r in history if r.action in PREPARING_ACTIONS and r.actor_id is not None}
    if batch.prepared_by is not None:
        ids.add(batch.prepared_by)
    return frozenset(int(i) for i in ids)


def get_batch(session: Session, *, batch_id: int) -> BatchView:
    """A batch with its lines (404 when there is none). Payment roles see every household."""
    batch = _load(session, batch_id)
    lines = _live_lines(session, batch_id)
    history = batch_history(session, batch_id=batch_id)
    rejection = ""
    if batch.status in ("rejected", "draft"):
        for r in reversed(history):
            if r.action == "reject":
                rejection = r.reason
                break
            if r.action == "submit":
                break
    counts: dict[str, int] = {}
    for p in lines:
        counts[p.status] = counts.get(p.status, 0) + 1
    return BatchView(
        batch=batch,
        lines=lines,
        project_name=project_service.get_project(session, batch.project_id).name,
        labels=household_service.household_labels(session, household_ids=[p.household_id for p in lines]),
        names=identity_service.user_names(session),
        instalments={
            i.instalment_id: i
            for i in agreement_service.payable_instalments(
                session, project_id=batch.project_id, instalment_ids=[p.instalment_id for p in lines]
            )
        },
        preparers=_preparers(batch, history),
        rejection=rejection,
        status_counts=counts,
    )


def list_batches(
    session: Session, *, project_id: int | None = None, status: str | None = None, limit: int = 500
) -> list[BatchSummary]:
    """Batches, newest first: of one project or of all, of one status or any (the approvals inbox
    lists ``status="submitted"``)."""
    q = select(PaymentBatch).order_by(PaymentBatch.id.desc()).limit(limit)
    if project_id is not None:
        project_service.get_project(session, project_id)
        q = q.where(PaymentBatch.project_id == project_id)
    if status:
        q = q.where(PaymentBatch.status == status)
    batches = list(session.scalars(q))
    names = identity_service.user_names(session) if batches else {}
    projects = {p.id: p.name for p in project_service.list_projects(session)} if batches else {}
    return [
        BatchSummary(
            batch=b,
            project_name=projects.get(b.project_id, ""),
            prepared_by_name=names.get(b.prepared_by, "") if b.prepared_by is not None else "",
            approved_by_name=names.get(b.approved_by, "") if b.approved_by is not None else "",
        )
        for b in batches
    ]


def _open_amounts(
    session: Session, project_id: int, *, exclude_batch: int | None = None
) -> dict[int, tuple[int, tuple[int, ...]]]:
    """instalment id -> (amount in open batches, their batch numbers)."""
    q = (
        select(Payment.instalment_id, Payment.amount_fen, PaymentBatch.batch_no)
        .join(PaymentBatch, PaymentBatch.id == Payment.batch_id)
        .where(
            Payment.project_id == project_id,
            Payment.status == "pending",
            PaymentBatch.status.in_(rules.OPEN),
        )
    )
    if exclude_batch is not None:
        q = q.where(PaymentBatch.id != exclude_batch)
    out: dict[int, tuple[int, tuple[int, ...]]] = {}
    for instalment_id, amount, batch_no in session.execute(q).all():
        fen, nos = out.get(instalment_id, (0, ()))
        out[instalment_id] = (fen + int(amount), tuple(sorted({*nos, int(batch_no)})))
    return out


def due_items(session: Session, *, project_id: int) -> list[DueItem]:
    """The project's due instalments with money left to pay (应付未付), in sign order, with what
    open batches already hold of each (the payments page's due list)."""
    project_service.get_project(session, project_id)
    payable = agreement_service.payable_instalments(session, project_id=project_id)
    labels = household_service.household_labels(session, household_ids=[i.household_id for i in payable])
    opened = _open_amounts(session, project_id)
    out = []
    for i in payable:
        code, head = labels.get(i.household_id, ("", ""))
        fen, nos = opened.get(i.instalment_id, (0, ()))
        out.append(DueItem(i, code, head, fen, nos))
    return out


# --------------------------------------------------------------------------- preparing


def _version_check(session: Session, batch: PaymentBatch, expected: int | None) -> None:
    if expected is not None and expected != batch.version:
        raise household_service.stale_version(
            session, what="支付批次", current=batch.version, entity=ENTITY, entity_id=batch.id
        )


def _bump(batch: PaymentBatch) -> None:
    batch.version = int(batch.version or 1) + 1


def _resolve_lines(
    session: Session, *, project_id: int, lines: Sequence[LineInput] | None, exclude_batch: int | None = None
) -> list[tuple[agreement_service.PayableInstalment, int]]:
    """The payable instalments and amounts of a batch being prepared; every problem refused at once.

    ``lines`` ``None``: every due instalment with money left that open batches do not already
    hold, for the rest. Chosen lines: each must be a due instalment of the project (404 for an
    unknown id), listed once, for at most its remainder (amount less paid less approved); without
    an amount, for the remainder less what open batches hold. Every agreement must have its
    payee's name, bank and account (409 ``payee_missing`` naming the households otherwise).
    """
    opened = _open_amounts(session, project_id, exclude_batch=exclude_batch)
    chosen: list[tuple[agreement_service.PayableInstalment, int]] = []
    if lines is None:
        for i in agreement_service.payable_instalments(session, project_id=project_id):
            amount = i.remainder_fen - opened.get(i.instalment_id, (0, ()))[0]
            if amount > 0:
                chosen.append((i, amount))
        if not chosen:
            raise Conflict(
                "没有可列入批次的应付款项（应付款项已付清，或已全部列入未审批的批次）",
                "nothing due that no open batch holds",
                code="nothing_due",
            )
    else:
        ids = [line.instalment_id for line in lines]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise Conflict(
                f"同一笔应付款项不能在批次中列出两次（付款计划 {', '.join(map(str, repeated))}）",
                "an instalment is listed twice",
                code="duplicate_line",
                details=[{"field": "items", "instalment_id": i, "message": "重复列出"} for i in repeated],
            )
        found = {
            i.instalment_id: i
            for i in agreement_service.payable_instalments(session, project_id=project_id, instalment_ids=ids)
        }
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(
                f"本项目没有这些付款计划：{', '.join(map(str, missing))}",
                "no such instalment in the project",
                details=[
                    {"field": "items", "instalment_id": i, "message": "付款计划不存在"} for i in missing
                ],
            )
        problems: list[dict[str, Any]] = []
        for line in lines:
            i = found[line.instalment_id]
            where = f"协议 {i.agreement_no} 的“{i.kind_label}”"
            if i.status != "due" or i.agreement_status != "effective":
                problems.append(
                    {
                        "instalment_id": i.instalment_id,
                        "message": f"{where}当前为“{i.status_label}”，不能支付",
                    }
                )
                continue
            held, nos = opened.get(i.instalment_id, (0, ()))
            amount = line.amount_fen if line.amount_fen is not None else i.remainder_fen - held
            if line.amount_fen is None and amount <= 0:
                batches = "、".join(f"第 {n} 批" for n in nos)
                problems.append(
                    {
                        "instalment_id": i.instalment_id,
                        "message": f"{where}的未付金额已全部列入未审批的批次（{batches}）",
                    }
                )
            elif amount <= 0 or amount > i.remainder_fen:
                problems.append(
                    {
                        "instalment_id": i.instalment_id,
                        "message": (
                            f"{where}尚可支付 {format_yuan(i.remainder_fen)} 元"
                            f"（应付 {format_yuan(i.amount_fen)} 元，已付 {format_yuan(i.paid_fen)} 元，"
                            f"已审批待付 {format_yuan(i.committed_fen)} 元），不能列入 {format_yuan(amount)} 元"
                        ),
                    }
                )
            else:
                chosen.append((i, amount))
        if problems:
            first = "；".join(p["message"] for p in problems[:3]) + ("……" if len(problems) > 3 else "")
            overpay = any("不能列入" in p["message"] for p in problems)
            raise Conflict(
                ("支付金额超过应付金额：" if overpay else "有不能支付的款项：") + first,
                "an amount exceeds what is due" if overpay else "an instalment cannot be paid",
                code="overpay" if overpay else "not_payable",
                details=problems,
            )
    if len(chosen) > rules.MAX_LINES:
        raise Conflict(
            f"一个批次最多 {rules.MAX_LINES} 笔款项，请分批编制",
            "too many lines in one batch",
            code="too_many_lines",
        )
    _check_payees(session, [i for i, _ in chosen])
    return chosen


def _check_payees(session: Session, items: Sequence[agreement_service.PayableInstalment]) -> None:
    missing: dict[int, list[str]] = {}
    for i in items:
        lack = [
            label
            for label, value in (
                ("收款人", i.payee_name),
                ("开户行", i.payee_bank),
                ("账号", i.payee_account),
            )
            if not value.strip()
        ]
        if lack:
            missing.setdefault(i.household_id, [i.agreement_no, *lack])
    if not missing:
        return
    labels = household_service.household_labels(session, household_ids=list(missing))
    details = []
    for hid, (agreement_no, *lack) in missing.items():
        code, head = labels.get(hid, ("", ""))
        details.append(
            {
                "household_id": hid,
                "agreement_no": agreement_no,
                "message": f"{code} {head}（协议 {agreement_no}）缺少{'、'.join(lack)}",
            }
        )
    names = "、".join(f"{labels.get(h, ('', ''))[0]} {labels.get(h, ('', ''))[1]}" for h in list(missing)[:5])
    more = f"等 {len(missing)} 户" if len(missing) > 5 else ""
    raise Conflict(
        f"以下户的收款银行账户信息不全，请先在协议中补全收款人、开户行和账号：{names}{more}",
        "payee bank details missing",
        code="payee_missing",
        details=details,
    )


def _next_batch_no(session: Session, project_id: int) -> int:
    last = session.scalar(
        select(func.max(PaymentBatch.batch_no)).where(PaymentBatch.project_id == project_id)
    )
    return int(last or 0) + 1


def _lines_changes(rows: Sequence[tuple[int, int]]) -> list[list[int]]:
    return [[instalment_id, amount] for instalment_id, amount in rows]


def create_batch(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    lines: Sequence[LineInput] | None = None,
    title: str = "",
    note: str = "",
    now: datetime | None = None,
) -> PaymentBatch:
    """Prepare a batch (编制支付批次) of a project: a draft with one payment per chosen instalment.

    See :func:`_resolve_lines` for what may be chosen; the payee comes from each agreement. The
    batch number is the project's next one (a concurrent preparer's number is taken again: the
    insert runs in a savepoint and retries). Audited ``create``.
    """
    project_service.get_project(session, project_id)
    chosen = _resolve_lines(session, project_id=project_id, lines=lines)
    now = now or utcnow()
    batch: PaymentBatch | None = None
    for _attempt in range(5):
        no = _next_batch_no(session, project_id)
        try:
            with session.begin_nested():
                batch = PaymentBatch(
                    project_id=project_id,
                    batch_no=no,
                    title=(title.strip() or f"第 {no} 批补偿款支付")[: rules.MAX_TITLE],
                    status="draft",
                    total_fen=0,
                    item_count=0,
                    prepared_by=actor.user_id,
                    prepared_at=now,
                    note=note.strip()[: rules.MAX_NOTE],
                    version=1,
                )
                session.add(batch)
                session.flush()
            break
        except IntegrityError:
            batch = None
    if batch is None:
        raise Conflict("支付批次编号分配冲突，请重试", "batch number taken; retry", code="batch_no_taken")
    _write_lines(session, batch, chosen)
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity=ENTITY,
        entity_id=batch.id,
        changes={
            "batch_no": [None, batch.batch_no],
            "title": [None, batch.title],
            "status": [None, "draft"],
            "total_fen": [None, batch.total_fen],
            "item_count": [None, batch.item_count],
            "lines": [None, _lines_changes([(i.instalment_id, a) for i, a in chosen])],
        },
        reason=batch.note,
        project_id=project_id,
    )
    return batch


def _write_lines(
    session: Session, batch: PaymentBatch, chosen: Sequence[tuple[agreement_service.PayableInstalment, int]]
) -> None:
    for n, (i, amount) in enumerate(chosen, start=1):
        session.add(
            Payment(
                batch_id=batch.id,
                project_id=batch.project_id,
                agreement_id=i.agreement_id,
                instalment_id=i.instalment_id,
                household_id=i.household_id,
                line_no=n,
                payee_name=i.payee_name[:64],
                payee_bank=i.payee_bank[:128],
                payee_account=i.payee_account.replace(" ", "").replace("-", "")[:64],
                amount_fen=amount,
                purpose=i.purpose[:128],
                status="pending",
                bank_ref="",
                failure_reason="",
                version=1,
            )
        )
    batch.total_fen = sum(a for _, a in chosen)
    batch.item_count = len(chosen)
    session.flush()


def update_batch(
    session: Session,
    *,
    actor: Actor,
    batch_id: int,
    lines: Sequence[LineInput],
    expected_version: int | None,
    title: str | None = None,
    note: str | None = None,
) -> PaymentBatch:
    """Replace the lines of a draft or rejected batch (a rejected one becomes a draft again).

    The old lines are kept as cancelled rows; the new ones are checked like a new batch's.
    A stale ``expected_version`` is a 409 naming who changed the batch. Audited ``edit``.
    """
    batch = _load(session, batch_id, lock=True)
    _version_check(session, batch, expected_version)
    if batch.status not in rules.EDITABLE:
        raise Conflict(
            f"支付批次状态为“{rules.BATCH_STATUSES.get(batch.status, batch.status)}”，不能修改",
            "only a draft or rejected batch can be edited",
            code="illegal_transition",
        )
    if not lines:
        raise ValidationFailed(
            "批次至少要有一笔款项（不需要的批次请作废）",
            "a batch needs at least one line",
            details=[{"field": "items", "message": "至少一笔款项"}],
        )
    chosen = _resolve_lines(session, project_id=batch.project_id, lines=lines, exclude_batch=batch.id)
    old = _live_lines(session, batch.id)
    before = {
        "status": batch.status,
        "total_fen": batch.total_fen,
        "item_count": batch.item_count,
        "lines": _lines_changes([(p.instalment_id, p.amount_fen) for p in old]),
        "title": batch.title,
        "note": batch.note,
    }
    for p in old:
        p.status = "cancelled"
        p.line_no = 0
        p.version = int(p.version or 1) + 1
    session.flush()
    _write_lines(session, batch, chosen)
    if batch.status == "rejected":
        rules.check_transition(batch.status, "draft")
        batch.status = "draft"
    if title is not None:
        batch.title = (title.strip() or batch.title)[: rules.MAX_TITLE]
    if note is not None:
        batch.note = note.strip()[: rules.MAX_NOTE]
    _bump(batch)
    after = {
        "status": batch.status,
        "total_fen": batch.total_fen,
        "item_count": batch.item_count,
        "lines": _lines_changes([(i.instalment_id, a) for i, a in chosen]),
        "title": batch.title,
        "note": batch.note,
    }
    audit_service.record(
        session,
        actor=actor,
        action="edit",
        entity=ENTITY,
        entity_id=batch.id,
        changes={k: [before[k], after[k]] for k in before if before[k] != after[k]},
        project_id=batch.project_id,
    )
    session.flush()
    return batch


def _move(
    session: Session,
    actor: Actor,
    batch: PaymentBatch,
    target: str,
    *,
    action: str,
    reason: str = "",
    extra: dict[str, list[Any]] | None = None,
) -> None:
    rules.check_transition(batch.status, target)
    changes: dict[str, list[Any]] = {"status": [batch.status, target], **(extra or {})}
    batch.status = target
    _bump(batch)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action=action,
        entity=ENTITY,
        entity_id=batch.id,
        changes=changes,
        reason=reason,
        project_id=batch.project_id,
    )


def _charges(lines: Sequence[Payment]) -> list[tuple[int, int]]:
    return [(p.instalment_id, p.amount_fen) for p in lines]


def _check_still_payable(session: Session, batch: PaymentBatch, lines: Sequence[Payment]) -> None:
    """Refuse to submit a batch whose lines are no longer payable (a cancelled agreement, an amount
    above what is left): the approver should not receive a batch that cannot be approved."""
    found = {
        i.instalment_id: i
        for i in agreement_service.payable_instalments(
            session, project_id=batch.project_id, instalment_ids=[p.instalment_id for p in lines]
        )
    }
    problems: list[dict[str, Any]] = []
    for p in lines:
        i = found.get(p.instalment_id)
        if i is None:
            continue
        where = f"序号 {p.line_no}：协议 {i.agreement_no} 的“{i.kind_label}”"
        if i.status != "due":
            problems.append({"line_no": p.line_no, "message": f"{where}当前为“{i.status_label}”，不能支付"})
        elif p.amount_fen > i.remainder_fen:
            problems.append(
                {
                    "line_no": p.line_no,
                    "message": (
                        f"{where}尚可支付 {format_yuan(i.remainder_fen)} 元，本批次列入 {format_yuan(p.amount_fen)} 元"
                    ),
                }
            )
    if problems:
        raise Conflict(
            "批次中有不能支付的款项，请修改后再提交：" + "；".join(p["message"] for p in problems[:3]),
            "a line is no longer payable",
            code="not_payable",
            details=problems,
        )


def submit_batch(
    session: Session, *, actor: Actor, batch_id: int, expected_version: int | None = None
) -> PaymentBatch:
    """Submit a draft for approval (提交审批); its lines are checked again first. Audited ``submit``."""
    batch = _load(session, batch_id, lock=True)
    _version_check(session, batch, expected_version)
    rules.check_transition(batch.status, "submitted")
    lines = _live_lines(session, batch.id)
    if not lines:
        raise Conflict("批次中没有款项，不能提交", "the batch has no lines", code="empty_batch")
    _check_still_payable(session, batch, lines)
    batch.submitted_at = utcnow()
    _move(session, actor, batch, "submitted", action="submit")
    return batch


def approve_batch(
    session: Session,
    *,
    actor: Actor,
    batch_id: int,
    expected_version: int | None = None,
    note: str = "",
    now: datetime | None = None,
) -> PaymentBatch:
    """Approve a submitted batch (审批通过): commits every line's amount against its instalment.

    Refused with 403 ``same_person`` when the approver created, edited or submitted the batch (two
    people, always); with 409 ``overpay`` naming each agreement and its amounts when a line would
    take what is paid and approved beyond an instalment's amount (another batch may have been
    approved meanwhile); with 409 ``not_payable`` when an instalment is no longer due. A refusal
    changes nothing. Audited ``approve``.
    """
    batch = _load(session, batch_id, lock=True)
    _version_check(session, batch, expected_version)
    rules.check_transition(batch.status, "approved")
    rules.check_four_eyes(_preparers(batch, batch_history(session, batch_id=batch.id)), actor.user_id)
    lines = _live_lines(session, batch.id)
    # The guard: locks the instalments in id order, checks every line, then commits them all.
    agreement_service.commit_payments(
        session,
        actor=actor,
        project_id=batch.project_id,
        charges=_charges(lines),
        reason=f"支付批次第 {batch.batch_no} 批审批通过",
    )
    at = now or utcnow()
    for p in lines:
        p.status = "approved"
        p.version = int(p.version or 1) + 1
    batch.approved_by = actor.user_id
    batch.approved_at = at
    _move(
        session,
        actor,
        batch,
        "approved",
        action="approve",
        reason=note.strip()[: rules.MAX_NOTE],
        extra={"approved_by": [None, actor.user_id], "total_fen": [batch.total_fen, batch.total_fen]},
    )
    return batch


def reject_batch(
    session: Session, *, actor: Actor, batch_id: int, reason: str, expected_version: int | None = None
) -> PaymentBatch:
    """Reject a submitted batch (退回) with a reason; the preparer may edit it and submit it again.
    The rejecter is not a preparer (403 ``same_person``). Audited ``reject``."""
    if not reason.strip():
        raise ValidationFailed(
            "退回须填写理由",
            "a reason is required",
            details=[{"field": "reason", "message": "退回须填写理由"}],
        )
    batch = _load(session, batch_id, lock=True)
    _version_check(session, batch, expected_version)
    rules.check_transition(batch.status, "rejected")
    rules.check_four_eyes(_preparers(batch, batch_history(session, batch_id=batch.id)), actor.user_id, "退回")
    _move(session, actor, batch, "rejected", action="reject", reason=reason.strip()[: rules.MAX_NOTE])
    return batch


def cancel_batch(
    session: Session, *, actor: Actor, batch_id: int, reason: str, expected_version: int | None = None
) -> PaymentBatch:
    """Cancel (作废) a batch that is not approved yet, with a reason; its lines are cancelled and
    the rows kept. Audited ``cancel``."""
    if not reason.strip():
        raise ValidationFailed(
            "作废须填写理由",
            "a reason is required",
            details=[{"field": "reason", "message": "作废须填写理由"}],
        )
    batch = _load(session, batch_id, lock=True)
    _version_check(session, batch, expected_version)
    rules.check_transition(batch.status, "cancelled")
    for p in _live_lines(session, batch.id):
        p.status = "cancelled"
        p.version = int(p.version or 1) + 1
    _move(session, actor, batch, "cancelled", action="cancel", reason=reason.strip()[: rules.MAX_NOTE])
    return batch
