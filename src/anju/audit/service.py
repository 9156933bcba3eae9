"""Audit use cases: append records in the caller's transaction, read history, verify the chain."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Dialect, Table, func, insert, select, update
from sqlalchemy.orm import Session

from anju.audit import rules
from anju.audit.models import AuditHead, AuditRecord
from anju.audit.rules import canonical_json as canonical_json  # re-exported for AuditEntry.changes_json
from anju.audit.rules import field_diff as field_diff  # re-exported: other domains diff through this service
from anju.core.actor import Actor
from anju.core.dates import utcnow

HEAD_ID = 1


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change to append; ``changes`` is ``{field: [before, after]}`` or a snapshot dict.

    ``changes_json``, when given, is :func:`canonical_json` of ``changes`` computed ahead (a bulk
    import encodes its snapshots while the database stores its rows); it is stored and hashed
    instead of encoding ``changes``, which is then not read (it may be left empty).
    """

    action: str
    entity: str
    entity_id: str
    changes: dict[str, Any]
    reason: str = ""
    project_id: int | None = None
    household_id: int | None = None
    changes_json: str | None = None


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


# Column order of the INSERT; ``at`` is the same for a whole batch.
_COLUMNS = (
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "action",
    "entity",
    "entity_id",
    "project_id",
    "household_id",
    "changes",
    "reason",
    "prev_hash",
    "hash",
)
_BATCH = 5000
_TABLE = cast(Table, AuditRecord.__table__)
_SQL_CACHE: dict[tuple[str, str, str], tuple[str, tuple[int, ...] | None]] = {}


def _insert_sql(dialect: Dialect) -> tuple[str, tuple[int, ...] | None]:
    """The dialect's INSERT text and, for positional paramstyles, the column order it binds."""
    key = (dialect.name, dialect.driver, dialect.paramstyle)
    hit = _SQL_CACHE.get(key)
    if hit is None:
        compiled = insert(_TABLE).compile(dialect=dialect, column_keys=list(_COLUMNS))
        order = tuple(_COLUMNS.index(k) for k in compiled.positiontup or ()) if compiled.positional else None
        hit = _SQL_CACHE[key] = (str(compiled), order)
    return hit


def record_many(session: Session, *, actor: Actor, entries: Sequence[AuditEntry]) -> int:
    """Append ``entries`` to the chain in the caller's transaction; returns the last ``seq``.

    Rows go to the driver's ``executemany`` in batches (no ORM unit of work); ``hash`` is
    :func:`anju.audit.rules.chain_hash` with the columns shared by the batch joined once.
    """
    if not entries:
        return 0
    at = utcnow().replace(microsecond=0)
    seq, prev = _take_head(session, len(entries))
    conn = session.connection()
    dialect = conn.dialect
    sql, order = _insert_sql(dialect)
    processors = [
        (i, p) for i, k in enumerate(_COLUMNS) if (p := _TABLE.c[k].type.bind_processor(dialect)) is not None
    ]
    # Same text as rules.chain_hash: seq, stamp, actor id, actor name, action, entity, entity id,
    # project id, household id, changes, reason, previous hash, joined by U+001F.
    stamp = at.replace(tzinfo=None, microsecond=0).isoformat()
    actor_id, actor_name = actor.user_id, actor.username
    shared = f"\x1f{stamp}\x1f{'' if actor_id is None else actor_id}\x1f{actor_name}\x1f"
    canonical = rules.canonical_json
    sha256 = hashlib.sha256
    rows: list[list[Any]] = []
    for entry in entries:
        seq += 1
        changes = entry.changes_json if entry.changes_json is not None else canonical(entry.changes)
        reason = entry.reason[:500]
        project_id, household_id = entry.project_id, entry.household_id
        text = (
            f"{seq}{shared}{entry.action}\x1f{entry.entity}\x1f{entry.entity_id}\x1f"
            f"{'' if project_id is None else project_id}\x1f{'' if household_id is None else household_id}\x1f"
            f"{changes}\x1f{reason}\x1f{prev}"
        )
        digest = sha256(text.encode()).hexdigest()
        rows.append(
            [
                seq,
                at,
                actor_id,
                actor_name,
                entry.action,
                entry.entity,
                entry.entity_id,
                project_id,
                household_id,
                changes,
                reason,
                prev,
                digest,
            ]
        )
        prev = digest
    if processors:
        for i, p in processors:
            if i == 1:  # the shared instant: convert once
                value = p(at)
                for row in rows:
                    row[1] = value
            else:
                for row in rows:
                    row[i] = p(row[i])
    params: list[Any]
    if order is not None:
        params = [tuple(row[i] for i in order) for row in rows]
    else:
        params = [dict(zip(_COLUMNS, row, strict=True)) for row in rows]
    for start in range(0, len(params), _BATCH):
        conn.exec_driver_sql(sql, params[start : start + _BATCH])
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
