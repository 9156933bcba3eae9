"""Audit use cases: append records in the caller's transaction, read history, verify the chain."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Dialect, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from anju.audit import anchors, keys, rules
from anju.audit.labels import action_codes as action_codes  # re-exported: the words for the log's codes
from anju.audit.labels import action_label as action_label
from anju.audit.labels import entity_codes as entity_codes
from anju.audit.labels import entity_label as entity_label
from anju.audit.labels import field_label as field_label
from anju.audit.labels import record_name as record_name
from anju.audit.models import AuditHead, AuditRecord
from anju.audit.reading import EXPORT_LIMIT as EXPORT_LIMIT  # re-exported: filtered reading and export
from anju.audit.reading import SYSTEM_ACTOR as SYSTEM_ACTOR
from anju.audit.reading import AuditFilter as AuditFilter
from anju.audit.reading import AuditPage as AuditPage
from anju.audit.reading import changes_text as changes_text
from anju.audit.reading import count_matching as count_matching
from anju.audit.reading import export_xlsx as export_xlsx
from anju.audit.reading import filtered_page as filtered_page
from anju.audit.rules import canonical_json as canonical_json  # re-exported for AuditEntry.changes_json
from anju.audit.rules import field_diff as field_diff  # re-exported: other domains diff through this service
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.db.session import begin_write
from anju.errors import DomainError

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
    "key_id",
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
    :func:`anju.audit.rules.chain_hash` under the current audit key, with the columns shared by the
    batch joined once.
    """
    if not entries:
        return 0
    # A read that leaves a record (a ledger export, a GET) began with a plain BEGIN on SQLite: take
    # the write lock now (before anything is written), or the append could fail half-way on a
    # snapshot another writer has moved past. A write transaction is left as it is.
    begin_write(session)
    at = utcnow().replace(microsecond=0)
    seq, prev = _take_head(session, len(entries))
    conn = session.connection()
    dialect = conn.dialect
    sql, order = _insert_sql(dialect)
    processors = [
        (i, p) for i, k in enumerate(_COLUMNS) if (p := _TABLE.c[k].type.bind_processor(dialect)) is not None
    ]
    ring = keys.keyring()
    key_id = ring.current_id
    mac = ring.mac(key_id)
    assert mac is not None  # the current key is always in the ring
    # Same text as rules.chain_text: seq, stamp, actor id, actor name, action, entity, entity id,
    # project id, household id, changes, reason, previous hash, key id, joined by U+001F.
    stamp = at.replace(tzinfo=None, microsecond=0).isoformat()
    actor_id, actor_name = actor.user_id, actor.username
    shared = f"\x1f{stamp}\x1f{'' if actor_id is None else actor_id}\x1f{actor_name}\x1f"
    tail = f"\x1f{key_id}"
    canonical = rules.canonical_json
    hexdigest = mac.hexdigest
    rows: list[list[Any]] = []
    for entry in entries:
        seq += 1
        changes = entry.changes_json if entry.changes_json is not None else canonical(entry.changes)
        reason = entry.reason[:500]
        project_id, household_id = entry.project_id, entry.household_id
        text = (
            f"{seq}{shared}{entry.action}\x1f{entry.entity}\x1f{entry.entity_id}\x1f"
            f"{'' if project_id is None else project_id}\x1f{'' if household_id is None else household_id}\x1f"
            f"{changes}\x1f{reason}\x1f{prev}{tail}"
        )
        digest = hexdigest(text.encode())
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
                key_id,
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


def last_change(
    session: Session, *, household_id: int | None = None, entity: str = "", entity_id: str | int = ""
) -> AuditRecord | None:
    """The newest record of one entity (``entity``/``entity_id``), or of one household's file
    (``household_id``: any of its records except reveals and assignments, which do not change it).

    A stale-version conflict names who made the change and when from it.
    """
    stmt = select(AuditRecord)
    if household_id is not None:
        stmt = stmt.where(
            AuditRecord.household_id == household_id,
            AuditRecord.action != "reveal",
            AuditRecord.entity != "household_assignment",
        )
    else:
        stmt = stmt.where(AuditRecord.entity == entity, AuditRecord.entity_id == str(entity_id))
    return session.scalar(stmt.order_by(AuditRecord.seq.desc()).limit(1))


def entity_history(
    session: Session, *, entity: str, entity_id: str | int, limit: int = 200
) -> list[AuditRecord]:
    """Oldest-first audit records of one entity (a payment batch's timeline: who prepared,
    submitted, approved, rejected with which reason...)."""
    stmt = (
        select(AuditRecord)
        .where(AuditRecord.entity == entity, AuditRecord.entity_id == str(entity_id))
        .order_by(AuditRecord.seq)
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
    """Outcome of :func:`verify`: ``ok``, or the first problem found (``broken_seq`` names the record)."""

    checked: int = 0
    ok: bool = True
    broken_seq: int | None = None
    broken_id: int | None = None
    problem: str = ""
    problem_en: str = ""
    last_seq: int = 0
    last_hash: str = rules.GENESIS_HASH
    #: Records per key id ("" counts the legacy, unkeyed records).
    key_counts: dict[str, int] = field(default_factory=dict)
    anchors_read: int = 0  # distinct well-formed, correctly signed anchors
    anchors_checked: int = 0  # head anchors whose hash was compared with the record at their seq
    anchors_superseded: int = 0  # head anchors older than a rekey: only their seq is checked
    newest_anchor: rules.Anchor | None = None
    #: The verified head, signed now with the current key: print it, file it, give it back to verify.
    head: rules.Anchor | None = None
    notes: list[str] = field(default_factory=list)
    notes_en: list[str] = field(default_factory=list)

    @property
    def key_ids(self) -> list[str]:
        """The key ids that signed the records checked (legacy records not included)."""
        return sorted(k for k in self.key_counts if k)

    @property
    def legacy(self) -> int:
        """How many records at the start of the chain are legacy (plain SHA-256, no key)."""
        return self.key_counts.get(keys.LEGACY_KEY_ID, 0)

    def fail(self, seq: int | None, record_id: int | None, zh: str, en: str) -> VerifyResult:
        """Record the problem and return self (verification stops at the first problem)."""
        self.ok = False
        self.broken_seq, self.broken_id = seq, record_id
        self.problem, self.problem_en = zh, en
        self.head = None
        return self


class AuditChainBroken(DomainError):
    """The audit chain does not verify; the message names the record (or anchor) and why."""

    code = "audit_chain_broken"
    http_status = 409


def command_line_anchors(lines: Sequence[str]) -> list[anchors.AnchorLine]:
    """Anchor lines given by hand (e.g. copied from a printed daily report)."""
    return [
        anchors.AnchorLine("命令行", n, text.strip(), rules.parse_anchor(text))
        for n, text in enumerate(lines, start=1)
        if text.strip()
    ]


def _read_anchors(
    lines: Sequence[anchors.AnchorLine], ring: keys.Keyring, result: VerifyResult
) -> tuple[dict[int, list[rules.Anchor]], int] | None:
    """Check every anchor's form and signature.

    Returns the anchors that pin a hash, per seq (head anchors not retired by a later rekey line),
    and the highest seq any verified anchor names; fills in the anchor counts of ``result``.
    Returns None (with ``result`` failed) at the first malformed line, bad signature, or key that
    is not configured (unless a later rekey line retired that anchor: a rekey verified it, and
    its key may since have been removed).
    """
    valid: set[rules.Anchor] = set()
    unverifiable: list[tuple[anchors.AnchorLine, rules.Anchor]] = []
    for line in lines:
        where = f"锚点（{line.source} 第 {line.line_no} 行）"
        where_en = f"anchor ({line.source} line {line.line_no})"
        a = line.anchor
        if a is None:
            result.fail(None, None, f"{where}格式无效：{line.text[:80]}", f"{where_en} is malformed")
            return None
        mac = ring.mac(a.key_id)
        if mac is None:
            unverifiable.append((line, a))
            continue
        if not rules.anchor_mac_ok(a, mac):
            result.fail(
                a.seq,
                None,
                f"{where}签名无效：这条第 {a.seq} 条记录的锚点是伪造的或被改动过",
                f"{where_en} has a bad signature: the anchor for seq {a.seq} is forged or altered",
            )
            return None
        valid.add(a)  # duplicates (several server processes) count once
    rekeys = [a for a in valid if a.kind == rules.REKEY_KIND]

    def retired(a: rules.Anchor) -> bool:
        return any(r.at > a.at and r.seq >= a.seq for r in rekeys)

    for line, a in unverifiable:
        if a.kind == rules.HEAD_KIND and retired(a):
            # Its signature cannot be checked, so it proves nothing and is skipped; the rekey line
            # that retired it carries the seq the chain had reached.
            result.anchors_superseded += 1
            continue
        result.fail(
            a.seq,
            None,
            f"锚点（{line.source} 第 {line.line_no} 行）的签名密钥“{a.key_id}”未配置（ANJU_AUDIT_KEYS 中没有），"
            f"无法核验第 {a.seq} 条的锚点",
            f"anchor ({line.source} line {line.line_no}) is signed with key {a.key_id!r}, which is not configured",
        )
        return None
    pinned: dict[int, list[rules.Anchor]] = {}
    for a in valid:
        if a.kind != rules.HEAD_KIND:
            continue
        if retired(a):
            result.anchors_superseded += 1
        else:
            pinned.setdefault(a.seq, []).append(a)
    result.anchors_read = len(valid) + len(unverifiable)
    result.newest_anchor = max(valid, key=lambda a: a.at) if valid else None
    return pinned, max((a.seq for a in valid), default=0)


_WALK_COLUMNS = ("id", *_COLUMNS)


def _walk(
    session: Session, batch: int, upto: int | None = None
) -> Iterator[tuple[int, int, str, str, str, str]]:
    """Every record (up to ``seq`` ``upto``) in ``seq`` order, ``batch`` rows per query:
    (id, seq, body, prev_hash, hash, key_id).

    ``body`` is :func:`anju.audit.rules.chain_text` up to the previous hash: the text a record's
    hash covers is ``body + prev_hash`` (legacy) or ``body + prev_hash + "\x1f" + key_id``. Built
    inline from plain rows: verification reads every record, 100,000s of them.
    """
    columns = [_TABLE.c[name] for name in _WALK_COLUMNS]
    conn = session.connection()
    last_seq = 0
    last_at: Any = None
    stamp = ""
    bound = [] if upto is None else [_TABLE.c.seq <= upto]
    while True:
        rows = conn.execute(
            select(*columns).where(_TABLE.c.seq > last_seq, *bound).order_by(_TABLE.c.seq).limit(batch)
        ).all()
        if not rows:
            return
        for (
            rid,
            seq,
            at,
            actor_id,
            actor_name,
            action,
            entity,
            entity_id,
            pid,
            hid,
            changes,
            reason,
            prev,
            h,
            kid,
        ) in rows:
            if at != last_at:  # a batch of records shares its instant
                last_at, stamp = at, at.replace(tzinfo=None, microsecond=0).isoformat()
            body = (
                f"{seq}\x1f{stamp}\x1f{'' if actor_id is None else actor_id}\x1f{actor_name}\x1f{action}\x1f"
                f"{entity}\x1f{entity_id}\x1f{'' if pid is None else pid}\x1f{'' if hid is None else hid}\x1f"
                f"{changes}\x1f{reason}\x1f"
            )
            yield rid, seq, body, prev, h, kid or ""
        last_seq = rows[-1][1]


def verify(
    session: Session,
    *,
    batch: int = 10000,
    keyring: keys.Keyring | None = None,
    anchor_lines: Sequence[anchors.AnchorLine] | None = None,
    allow_legacy: bool = False,
    sign_head: bool = True,
) -> VerifyResult:
    """Walk the chain in ``seq`` order (``batch`` rows at a time) against the keys and the anchors.

    Proves, for someone without the audit keys: no record was altered, inserted or removed (each
    record's HMAC covers its columns, its key id and the previous hash), and, up to the newest
    anchor, that the chain was not rolled back or rebuilt (each anchor pins the hash at its
    ``seq``, and the chain must reach the newest anchor's ``seq``). Legacy records (written before
    the chain was keyed, plain SHA-256) are accepted only at the start of the chain, and only when
    an anchor lies at or after their end (or ``allow_legacy``). ``anchor_lines`` default to the
    anchor folder's. Stops at the first problem, naming the record, anchor or key.
    """
    ring = keyring or keys.keyring()
    result = VerifyResult()
    lines = anchors.read_lines() if anchor_lines is None else anchor_lines
    checked_anchors = _read_anchors(lines, ring, result)
    if checked_anchors is None:
        return result
    pinned, reach = checked_anchors
    macs: dict[str, rules.Mac | None] = {}
    counts = result.key_counts
    expected_seq = 1
    prev = rules.GENESIS_HASH
    last_seq = 0
    keyed = False
    sha256 = hashlib.sha256
    # The head first: on a live server (READ COMMITTED) later appends then cannot make the walk and
    # the head disagree; every record up to the head was committed with it.
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID)).first()
    for rid, seq, body, prev_hash, stored, key_id in _walk(
        session, batch, None if head is None else head.seq
    ):
        result.checked += 1
        if seq != expected_seq:
            return result.fail(
                seq,
                rid,
                f"序号不连续：期望第 {expected_seq} 条，实际为第 {seq} 条（有记录被删除）",
                f"sequence gap: expected {expected_seq}, found {seq} (a record was removed)",
            )
        if prev_hash != prev:
            return result.fail(
                seq,
                rid,
                "前序哈希不符（上一条记录被改动或删除）",
                "previous hash does not match (the previous record was altered or removed)",
            )
        if key_id == keys.LEGACY_KEY_ID:
            if keyed:
                return result.fail(
                    seq,
                    rid,
                    "记录没有密钥签名（key_id 为空），而此前已有签名记录：该记录被改写为无密钥的旧式哈希",
                    "unkeyed (empty key id) after keyed records: the record was rewritten as a legacy hash",
                )
            digest = sha256(f"{body}{prev_hash}".encode()).hexdigest()
        else:
            keyed = True
            if key_id not in macs:
                macs[key_id] = ring.mac(key_id)
            mac = macs[key_id]
            if mac is None:
                return result.fail(
                    seq,
                    rid,
                    f"签名密钥“{key_id}”未配置（ANJU_AUDIT_KEYS 中没有该密钥），无法核验",
                    f"is signed with key {key_id!r}, which is not configured (ANJU_AUDIT_KEYS)",
                )
            digest = mac.hexdigest(f"{body}{prev_hash}\x1f{key_id}".encode())
        if digest != stored:
            return result.fail(
                seq,
                rid,
                "记录内容与签名不符（该记录被直接改动，或其哈希被不持有密钥的人重算）",
                "content does not match its MAC (the record was altered, or rehashed without the key)",
            )
        if seq in pinned:
            for a in pinned[seq]:
                result.anchors_checked += 1
                if a.hash != stored:
                    return result.fail(
                        seq,
                        rid,
                        f"记录与 {a.at} 签发的锚点不符（锚点记为 {a.hash[:12]}…，库中为 {stored[:12]}…）："
                        "链在此处或之前被改写或回滚",
                        f"does not match the anchor signed at {a.at}: the chain was rewritten or rolled back",
                    )
        counts[key_id] = counts.get(key_id, 0) + 1
        prev = stored
        expected_seq += 1
        last_seq = seq
    result.last_seq, result.last_hash = last_seq, prev
    if head is None:
        if last_seq:
            return result.fail(
                None,
                None,
                "链头记录（audit_head）缺失：被绕过应用删除",
                "the chain head row (audit_head) is missing",
            )
    elif head.seq != last_seq:
        return result.fail(
            last_seq + 1,
            None,
            f"链尾缺失：链头记录到第 {head.seq} 条，实际只有 {last_seq} 条",
            f"chain tail missing: head says {head.seq}, last record is {last_seq}",
        )
    elif head.hash != prev:
        return result.fail(
            last_seq,
            None,
            "链头（audit_head）记下的哈希与最后一条记录不符：链头被绕过应用改动",
            "the head's hash differs from the last record's: the head was altered",
        )
    # Records past the head were not written by the application (which moves the head with them),
    # unless they were appended while this walk ran: the head read now then covers them.
    beyond = session.scalar(select(func.max(AuditRecord.seq)))
    if beyond is not None and beyond > last_seq:
        now = session.scalar(select(AuditHead.seq).where(AuditHead.id == HEAD_ID)) or 0
        if beyond > now:
            return result.fail(
                int(beyond),
                None,
                f"链头之后还有记录（到第 {beyond} 条，链头只到第 {now} 条）：这些记录被绕过应用插入，或链头被回拨",
                f"records up to seq {beyond} lie past the head ({now}): inserted behind the application, or head moved back",
            )
        result.notes.append(f"核验期间新写入了第 {last_seq + 1}-{beyond} 条记录，本次未核验，下次核验")
        result.notes_en.append(
            f"records {last_seq + 1}-{beyond} were appended during verification (not checked)"
        )
    # Every verified anchor, retired by a rekey or not, proves the chain once reached its seq.
    if reach > last_seq:
        return result.fail(
            last_seq + 1,
            None,
            f"链尾被截断或回滚：锚点证明链曾到达第 {reach} 条，数据库中只到第 {last_seq} 条",
            f"chain tail cut or rolled back: an anchor shows seq {reach}, the database ends at {last_seq}",
        )
    legacy = result.legacy
    if legacy:
        covered = any(seq >= legacy for seq in pinned)
        if not covered and not allow_legacy:
            return result.fail(
                1,
                None,
                f"前 {legacy} 条记录是未加密钥的旧记录（key_id 为空），且没有锚点覆盖，任何人都能重算："
                "请运行 anju audit rekey（或在确认后以 --allow-legacy 核验）",
                f"the first {legacy} records are legacy (unkeyed) and no anchor covers them: run `anju audit rekey`",
            )
        result.notes.append(
            f"前 {legacy} 条为启用密钥前的旧记录（SHA-256，无密钥）"
            + ("，已由锚点覆盖" if covered else "，未被锚点覆盖（已按 --allow-legacy 放行）")
        )
        result.notes_en.append(f"the first {legacy} records are legacy (unkeyed)")
    if not lines:
        result.notes.append(
            "未找到锚点：无法发现整段链尾被回滚；请配置定时 anju audit anchor 或服务器自动锚定"
        )
        result.notes_en.append("no anchors found: a rollback of the whole tail cannot be detected")
    if sign_head and last_seq:
        result.head = rules.sign_anchor(
            kind=rules.HEAD_KIND,
            seq=last_seq,
            hash=prev,
            at=utcnow(),
            key_id=ring.current_id,
            key=ring.current,
        )
    return result


def signed_head(session: Session, *, keyring: keys.Keyring | None = None) -> rules.Anchor | None:
    """The chain's last record, signed now as a head anchor; None when the chain is empty.

    Refuses (:class:`AuditChainBroken`) when that record does not carry a valid MAC of a configured
    key or disagrees with the head row: an anchor must never certify a tampered head.
    """
    ring = keyring or keys.keyring()
    r = session.execute(select(*_TABLE.c).order_by(AuditRecord.seq.desc()).limit(1)).first()
    if r is None:
        return None
    mac = ring.mac(r.key_id) if r.key_id else None
    ok = r.key_id == keys.LEGACY_KEY_ID or mac is not None
    if ok:
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
            key_id=r.key_id,
            key=mac,
        )
        head = session.get(AuditHead, HEAD_ID)
        ok = rules.hmac_equal(digest, r.hash) and (head is None or (head.seq, head.hash) == (r.seq, r.hash))
    if not ok:
        raise AuditChainBroken(
            f"第 {r.seq} 条记录（链尾）的签名无效或与链头不符，拒绝为其签发锚点：请运行 anju audit verify",
            f"the last record (seq {r.seq}) does not verify or disagrees with the head: no anchor written",
        )
    return rules.sign_anchor(
        kind=rules.HEAD_KIND,
        seq=int(r.seq),
        hash=str(r.hash),
        at=utcnow(),
        key_id=ring.current_id,
        key=ring.current,
    )


@dataclass(frozen=True)
class RekeyResult:
    """What :func:`rekey` did."""

    records: int
    rewritten: int
    legacy: int
    old_key_counts: dict[str, int]
    key_id: str
    last_seq: int
    old_head_hash: str
    new_head_hash: str
    audit_seq: int


def rekey(
    session: Session,
    *,
    actor: Actor,
    keyring: keys.Keyring | None = None,
    anchor_lines: Sequence[anchors.AnchorLine] | None = None,
    batch: int = 10000,
) -> RekeyResult:
    """Re-MAC every record with the current key, after verifying the chain with every known key.

    Legacy records are accepted only as the chain's prefix (as :func:`verify` with
    ``allow_legacy``). Takes the head row's lock first, so no record is appended meanwhile; appends
    a ``rekey`` audit record (under the current key) naming what was re-MACed. Raises
    :class:`AuditChainBroken` when the chain does not verify, and then writes nothing. The caller
    writes the rekey anchor line before committing (:mod:`anju.audit.anchoring`).
    """
    ring = keyring or keys.keyring()
    session.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=AuditHead.seq))
    check = verify(
        session, keyring=ring, anchor_lines=anchor_lines, allow_legacy=True, sign_head=False, batch=batch
    )
    if not check.ok:
        where = f"第 {check.broken_seq} 条记录：" if check.broken_seq else ""
        raise AuditChainBroken(
            f"审计链核验失败，未重签：{where}{check.problem}",
            f"audit chain does not verify: {check.problem_en}",
        )
    current = ring.current_id
    mac = rules.Mac(ring.current)
    stmt = (
        update(_TABLE)
        .where(_TABLE.c.id == bindparam("b_id"))
        .values(prev_hash=bindparam("b_prev"), hash=bindparam("b_hash"), key_id=bindparam("b_key"))
    )
    prev, last_seq, rewritten = rules.GENESIS_HASH, 0, 0
    tail = f"\x1f{current}"
    changed: list[dict[str, Any]] = []
    # The walk reads ahead by seq only, so rewriting rows it has passed does not disturb it.
    for rid, seq, body, old_prev, old_hash, old_key in _walk(session, batch):
        digest = mac.hexdigest(f"{body}{prev}{tail}".encode())
        if (old_prev, old_hash, old_key) != (prev, digest, current):
            changed.append({"b_id": rid, "b_prev": prev, "b_hash": digest, "b_key": current})
            if len(changed) >= batch:
                session.execute(stmt, changed)
                rewritten += len(changed)
                changed = []
        prev, last_seq = digest, seq
    if changed:
        session.execute(stmt, changed)
        rewritten += len(changed)
    session.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(hash=prev))
    old_counts = dict(sorted(check.key_counts.items()))
    audit_seq = record(
        session,
        actor=actor,
        action="rekey",
        entity="audit_chain",
        entity_id=str(last_seq),
        changes={
            "records": check.checked,
            "rewritten": rewritten,
            "old_key_counts": old_counts,
            "key_id": current,
            "old_head_hash": check.last_hash,
            "new_head_hash": prev,
        },
        reason=f"审计链重签：第 1-{last_seq} 条改用密钥 {current}",
    )
    return RekeyResult(
        records=check.checked,
        rewritten=rewritten,
        legacy=check.legacy,
        old_key_counts=old_counts,
        key_id=current,
        last_seq=last_seq,
        old_head_hash=check.last_hash,
        new_head_hash=prev,
        audit_seq=audit_seq,
    )


def anchor_now(*, force: bool = False) -> Any:
    """Append a signed head anchor outside the database now (see :mod:`anju.audit.anchoring`).

    For other domains (the demo, later the daily report), which reach the audit domain only
    through this module; imported here at call time because ``anchoring`` builds on this module.
    """
    from anju.audit import anchoring

    return anchoring.anchor_now(force=force)
