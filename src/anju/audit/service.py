"""Audit use cases: append records in the caller's transaction, read history, verify the chain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from anju.audit import rules
from anju.audit.models import AuditHead, AuditRecord
from anju.audit.rules import field_diff as field_diff  # re-exported: other domains diff through this service
from anju.core.actor import Actor
from anju.core.dates import utcnow

HEAD_ID = 1


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change to append; ``changes`` is ``{field: [before, after]}`` or a snapshot dict."""

    action: str
    entity: str
    entity_id: str
    changes: dict[str, Any]
    reason: str = ""
    project_id: int | None = None
    household_id: int | None = None


def _take_head(session: Session, count: int) -> tuple[int, str]:
    """Reserve ``count`` sequence numbers; returns (last seq before, last hash).

    The UPDATE comes first so that the row lock (or SQLite's write lock) is held before the
    head is read: concurrent writers queue here instead of forking the chain.
    """
    bumped = session.execute(
        update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=AuditHead.seq + count)
    ).rowcount  # type: ignore[attr-defined]
    if bumped == 0:
        session.add(AuditHead(id=HEAD_ID, seq=count, hash=rules.GENESIS_HASH))
        session.flush()
        return 0, rules.GENESIS_HASH
    seq, last_hash = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID)
    ).one()
    return int(seq) - count, str(last_hash)


def record_many(session: Session, *, actor: Actor, entries: Sequence[AuditEntry]) -> int:
    """Append ``entries`` to the chain in the caller's transaction; returns the last ``seq``."""
    if not entries:
        return 0
    at = utcnow().replace(microsecond=0)
    seq, prev = _take_head(session, len(entries))
    rows = []
    for entry in entries:
        seq += 1
        changes = rules.canonical_json(entry.changes)
        reason = entry.reason[:500]
        digest = rules.chain_hash(
            seq=seq,
            at=at,
            actor_id=actor.user_id,
            actor_name=actor.username,
            action=entry.action,
            entity=entry.entity,
            entity_id=entry.entity_id,
            project_id=entry.project_id,
            household_id=entry.household_id,
            changes=changes,
            reason=reason,
            prev_hash=prev,
        )
        rows.append(
            {
                "seq": seq,
                "at": at,
                "actor_id": actor.user_id,
                "actor_name": actor.username,
                "action": entry.action,
                "entity": entry.entity,
                "entity_id": entry.entity_id,
                "project_id": entry.project_id,
                "household_id": entry.household_id,
                "changes": changes,
                "reason": reason,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    for start in range(0, len(rows), 5000):
        session.execute(insert(AuditRecord), rows[start : start + 5000])
    session.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(hash=prev))
    return seq


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: str | int,
    changes: dict[str, Any],
    reason: str = "",
    project_id: int | None = None,
    household_id: int | None = None,
) -> int:
    """Append one audit record in the caller's transaction; returns its ``seq``."""
    return record_many(
        session,
        actor=actor,
        entries=[
            AuditEntry(
                action=action,
                entity=entity,
                entity_id=str(entity_id),
                changes=changes,
                reason=reason,
                project_id=project_id,
                household_id=household_id,
            )
        ],
    )


def history(session: Session, *, household_id: int, limit: int = 200) -> list[AuditRecord]:
    """Newest-first audit records that concern one household (its facts, members, buildings...)."""
    stmt = (
        select(AuditRecord)
        .where(AuditRecord.household_id == household_id)
        .order_by(AuditRecord.seq.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def recent(session: Session, *, limit: int = 50) -> list[AuditRecord]:
    """The newest ``limit`` audit records, newest first."""
    return list(session.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(limit)))


def count(session: Session) -> int:
    """Number of audit records."""
    return int(session.scalar(select(func.count()).select_from(AuditRecord)) or 0)


@dataclass
class VerifyResult:
    """Outcome of :func:`verify`: ``ok`` or the first broken record and why."""

    checked: int = 0
    ok: bool = True
    broken_seq: int | None = None
    broken_id: int | None = None
    problem: str = ""
    problem_en: str = ""
    last_hash: str = rules.GENESIS_HASH
    notes: list[str] = field(default_factory=list)


def verify(session: Session, *, batch: int = 10000) -> VerifyResult:
    """Walk the chain in ``seq`` order and report the first record that does not link or hash.

    Detects an altered row (hash mismatch), a removed row (gap in ``seq`` / ``prev_hash`` that
    points elsewhere) and a removed tail (the head names a later ``seq`` than the last row).
    """
    result = VerifyResult()
    expected_seq = 1
    prev = rules.GENESIS_HASH
    last_seq = 0
    while True:
        rows = session.execute(
            select(*AuditRecord.__table__.c)
            .where(AuditRecord.seq > last_seq)
            .order_by(AuditRecord.seq)
            .limit(batch)
        ).all()
        if not rows:
            break
        for r in rows:
            result.checked += 1
            problem = ""
            if r.seq != expected_seq:
                problem = f"序号不连续：期望第 {expected_seq} 条，实际为第 {r.seq} 条（有记录被删除）"
                result.problem_en = (
                    f"sequence gap: expected {expected_seq}, found {r.seq} (a record was removed)"
                )
            elif r.prev_hash != prev:
                problem = "前序哈希不符（上一条记录被改动或删除）"
                result.problem_en = (
                    "previous hash does not match (the previous record was altered or removed)"
                )
            else:
                digest = rules.chain_hash(
                    seq=r.seq,
                    at=r.at,
                    actor_id=r.actor_id,
                    actor_name=r.actor_name,
                    action=r.action,
                    entity=r.entity,
                    entity_id=r.entity_id,
                    project_id=r.project_id,
                    household_id=r.household_id,
                    changes=r.changes,
                    reason=r.reason,
                    prev_hash=r.prev_hash,
                )
                if digest != r.hash:
                    problem = "记录内容与哈希不符（该记录被直接改动）"
                    result.problem_en = "content does not match its hash (the record was altered directly)"
            if problem:
                result.ok = False
                result.broken_seq = r.seq
                result.broken_id = r.id
                result.problem = problem
                return result
            prev = r.hash
            expected_seq += 1
            last_seq = r.seq
    head = session.get(AuditHead, HEAD_ID)
    if head is not None and (head.seq != last_seq or head.hash != prev):
        result.ok = False
        result.broken_seq = last_seq + 1
        result.problem = f"链尾缺失：链头记录到第 {head.seq} 条，实际只有 {last_seq} 条"
        result.problem_en = f"chain tail missing: head says {head.seq}, last record is {last_seq}"
        return result
    result.last_hash = prev
    return result
