"""The audit chain: appended in the writer's transaction, verified, and broken by direct SQL."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
import time
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, create_engine, delete, func, select, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from anju.audit import anchoring, anchors, keys, rules
from anju.audit import service as audit_service
from anju.audit.models import AuditHead, AuditRecord
from anju.cli import app as cli_app
from anju.config import get_settings
from anju.core.dates import utcnow
from anju.db import migrate
from anju.db.session import unit_of_work
from anju.household import service as household_service
from anju.identity.service import DataScope
from tests.factories import ACTOR, build_world

_T = cast(Table, AuditRecord.__table__)
runner = CliRunner()


def test_every_household_write_is_audited_and_chain_verifies(db: Session) -> None:
    world = build_world(db, households=3)
    before = audit_service.count(db)
    household_service.update_household(
        db,
        actor=ACTOR,
        scope=DataScope.everything(),
        household_id=world.household_ids[0],
        data={"contact_phone": "13912345678"},
        reason="户主提供新号码",
    )
    assert audit_service.count(db) == before + 1
    last = db.scalar(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1))
    assert last is not None
    assert last.entity == "household"
    assert last.household_id == world.household_ids[0]
    assert last.reason == "户主提供新号码"
    assert '"contact_phone":["","13912345678"]' in last.changes
    result = audit_service.verify(db)
    assert result.ok, result.problem
    assert result.checked == audit_service.count(db)


def test_direct_update_breaks_chain_at_that_record(db: Session) -> None:
    build_world(db, households=3)
    target = db.scalar(select(AuditRecord).order_by(AuditRecord.seq).offset(5).limit(1))
    assert target is not None
    db.execute(update(AuditRecord).where(AuditRecord.id == target.id).values(reason="篡改"))
    result = audit_service.verify(db)
    assert not result.ok
    assert result.broken_seq == target.seq
    assert result.broken_id == target.id


def test_removed_record_is_detected(db: Session) -> None:
    build_world(db, households=3)
    target = db.scalar(select(AuditRecord).order_by(AuditRecord.seq).offset(3).limit(1))
    assert target is not None
    db.execute(delete(AuditRecord).where(AuditRecord.id == target.id))
    result = audit_service.verify(db)
    assert not result.ok
    assert result.broken_seq == target.seq + 1


def test_removed_tail_is_detected(db: Session) -> None:
    build_world(db, households=2)
    last = db.scalar(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1))
    assert last is not None
    db.execute(delete(AuditRecord).where(AuditRecord.id == last.id))
    result = audit_service.verify(db)
    assert not result.ok
    assert result.broken_seq == last.seq


def test_raw_sql_tamper_of_changes_column(db: Session) -> None:
    build_world(db, households=2)
    target = db.scalar(select(AuditRecord).where(AuditRecord.entity == "member").limit(1))
    assert target is not None
    db.execute(text("UPDATE audit_record SET changes = :c WHERE id = :i"), {"c": "{}", "i": target.id})
    result = audit_service.verify(db)
    assert not result.ok and result.broken_id == target.id


def test_record_many_stores_what_chain_hash_computes(db: Session) -> None:
    from datetime import date
    from decimal import Decimal

    from anju.core.actor import Actor

    entries = [
        audit_service.AuditEntry(
            action="import",
            entity="household",
            entity_id=str(i),
            changes={"b": [None, Decimal("1.50")], "a": [date(2025, 1, 2), "张三"], "f": 1.5},
            reason="理由" * 300 if i == 2 else "",
            project_id=None if i % 2 else 7,
            household_id=None if i == 3 else i,
        )
        for i in range(1, 6)
    ]
    people = [
        Actor(user_id=42, username="officer", display_name="王", role="case_officer"),
        Actor.system("job"),
    ]
    for actor in people:
        last = audit_service.record_many(db, actor=actor, entries=entries)
        rows = db.scalars(
            select(AuditRecord).where(AuditRecord.seq > last - 5).order_by(AuditRecord.seq)
        ).all()
        assert [r.seq for r in rows] == list(range(last - 4, last + 1))
        for r, e in zip(rows, entries, strict=True):
            assert r.actor_id == actor.user_id
            assert r.changes == rules.canonical_json(e.changes)
            assert r.reason == e.reason[:500]
            assert (r.project_id, r.household_id) == (e.project_id, e.household_id)
            assert r.hash == rules.chain_hash(
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
                key_id=keys.DEV_KEY_ID,
                key=keys.keyring().current,
            )
            assert r.key_id == keys.DEV_KEY_ID
        assert rows[0].changes == '{"a":["2025-01-02","张三"],"b":[null,"1.50"],"f":"1.5"}'
    result = audit_service.verify(db)
    assert result.ok, result.problem


def test_changes_encoded_ahead_are_stored_as_given_and_verify(db: Session) -> None:
    """A bulk writer may hand over canonical_json(changes) computed ahead: same record, same chain."""
    changes = {"name": [None, "张三"], "area": [None, "88.50"], "block_id": [None, 3]}
    entries = [
        audit_service.AuditEntry("import", "household", "1", changes, "导入", 1, 1),
        audit_service.AuditEntry(
            "import",
            "household",
            "2",
            changes,
            "导入",
            1,
            2,
            changes_json=audit_service.canonical_json(changes),
        ),
    ]
    audit_service.record_many(db, actor=ACTOR, entries=entries)
    first, second = db.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(2)).all()[::-1]
    assert (
        first.changes == second.changes == '{"area":[null,"88.50"],"block_id":[null,3],"name":[null,"张三"]}'
    )
    assert audit_service.verify(db).ok


# ----------------------------------------------------------------------------------------------
# The keyed chain and its anchors against someone with database write access but not the key.

K1 = "11" * 32
K2 = "22" * 32
ATTACKER_KEY = bytes.fromhex("ee" * 32)


def use_keys(monkeypatch: pytest.MonkeyPatch, spec: str) -> None:
    """Configure ANJU_AUDIT_KEYS for what follows (as an operator editing the settings would)."""
    monkeypatch.setenv("ANJU_AUDIT_KEYS", spec)
    get_settings.cache_clear()


def rows_from(db: Session, seq: int) -> list[Any]:
    return list(db.execute(select(*_T.c).where(_T.c.seq >= seq).order_by(_T.c.seq)).all())


def hash_at(db: Session, seq: int) -> str:
    return (
        str(db.scalar(select(AuditRecord.hash).where(AuditRecord.seq == seq))) if seq else rules.GENESIS_HASH
    )


def attacker_rehash(db: Session, *, from_seq: int, mode: str) -> None:
    """Recompute every hash from ``from_seq`` on and move the head, as the old scheme allowed.

    ``mode``: "sha256" keeps each key id and hashes the keyed text with plain SHA-256; "wrong-key"
    keeps each key id and MACs with a key of the attacker's; "unkeyed" rewrites the records as
    legacy ones (empty key id, plain SHA-256), which an unkeyed verifier cannot tell apart.
    """
    prev = hash_at(db, from_seq - 1)
    for r in rows_from(db, from_seq):
        key_id = "" if mode == "unkeyed" else r.key_id
        text = rules.chain_text(
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
            prev_hash=prev,
            key_id=key_id,
        ).encode()
        digest = (
            rules.Mac(ATTACKER_KEY).hexdigest(text)
            if mode == "wrong-key"
            else hashlib.sha256(text).hexdigest()
        )
        db.execute(update(_T).where(_T.c.id == r.id).values(prev_hash=prev, hash=digest, key_id=key_id))
        prev = digest
    last = db.scalar(select(func.max(AuditRecord.seq))) or 0
    db.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=last, hash=prev))


def anchor_head(db: Session, folder: Path) -> rules.Anchor:
    """Write a signed head anchor of the current chain, as the server or cron does."""
    head = audit_service.signed_head(db)
    assert head is not None
    anchors.append(folder, head)
    return head


def record_count(db: Session) -> int:
    return audit_service.count(db)


def snapshot(db: Session) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in db.execute(select(_T.c.seq, _T.c.hash, _T.c.prev_hash, _T.c.key_id).order_by(_T.c.seq))
    ]


@pytest.mark.parametrize("mode", ["sha256", "wrong-key", "unkeyed"])
def test_edit_and_recompute_later_hashes_without_the_key_is_detected(db: Session, mode: str) -> None:
    build_world(db, households=3)
    assert audit_service.verify(db).ok
    target = db.scalar(select(AuditRecord).order_by(AuditRecord.seq).offset(6).limit(1))
    assert target is not None
    db.execute(update(AuditRecord).where(AuditRecord.id == target.id).values(reason="篡改后的理由"))
    attacker_rehash(db, from_seq=target.seq, mode=mode)
    result = audit_service.verify(db)
    assert not result.ok
    assert (result.broken_seq, result.broken_id) == (target.seq, target.id)
    if mode == "unkeyed":
        assert (
            result.problem
            == "记录没有密钥签名（key_id 为空），而此前已有签名记录：该记录被改写为无密钥的旧式哈希"
        )
    else:
        assert result.problem == "记录内容与签名不符（该记录被直接改动，或其哈希被不持有密钥的人重算）"
    assert result.head is None  # a broken chain is never signed


def test_cut_tail_and_moved_head_is_caught_by_the_anchor(db: Session, settings_env: Path) -> None:
    build_world(db, households=3)
    folder = anchors.anchor_dir()
    anchored = anchor_head(db, folder)
    n = record_count(db)
    assert anchored.seq == n
    keep = n - 5
    db.execute(delete(AuditRecord).where(AuditRecord.seq > keep))
    db.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=keep, hash=hash_at(db, keep)))
    # The records and the head agree: only the anchor outside the database remembers the lost tail.
    assert audit_service.verify(db, anchor_lines=[]).ok
    result = audit_service.verify(db)
    assert not result.ok
    assert result.broken_seq == keep + 1
    assert result.problem == f"链尾被截断或回滚：锚点证明链曾到达第 {n} 条，数据库中只到第 {keep} 条"
    # New writes after the rollback grow the chain past the anchor again: the anchored hash is gone.
    audit_service.record_many(
        db,
        actor=ACTOR,
        entries=[
            audit_service.AuditEntry("update", "household", str(i), {"x": [i, i + 1]}) for i in range(8)
        ],
    )
    result = audit_service.verify(db)
    assert not result.ok
    assert result.broken_seq == n
    assert result.problem.startswith(f"记录与 {anchored.at} 签发的锚点不符（锚点记为 {anchored.hash[:12]}…")


def test_head_moved_back_altered_or_deleted_is_detected(db: Session) -> None:
    build_world(db, households=2)
    n = record_count(db)
    db.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=n - 3, hash=hash_at(db, n - 3)))
    result = audit_service.verify(db)
    assert not result.ok and result.broken_seq == n
    assert result.problem == (
        f"链头之后还有记录（到第 {n} 条，链头只到第 {n - 3} 条）：这些记录被绕过应用插入，或链头被回拨"
    )
    db.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=n, hash="ab" * 32))
    result = audit_service.verify(db)
    assert not result.ok and result.broken_seq == n
    assert result.problem == "链头（audit_head）记下的哈希与最后一条记录不符：链头被绕过应用改动"
    db.execute(delete(AuditHead))
    result = audit_service.verify(db)
    assert not result.ok and result.problem == "链头记录（audit_head）缺失：被绕过应用删除"


def test_records_appended_while_verifying_are_left_for_the_next_run(db: Session) -> None:
    """On a live server the walk stops at the head it read first; later appends are not a failure."""
    build_world(db, households=1)
    n = record_count(db)
    real_walk = audit_service._walk

    def walk_then_append(*args: Any, **kwargs: Any) -> Any:
        yield from real_walk(*args, **kwargs)
        audit_service.record(db, actor=ACTOR, action="update", entity="household", entity_id="1", changes={})

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(audit_service, "_walk", walk_then_append)
        result = audit_service.verify(db)
    assert result.ok, result.problem
    assert (result.checked, result.last_seq) == (n, n)
    assert result.notes[0] == f"核验期间新写入了第 {n + 1}-{n + 1} 条记录，本次未核验，下次核验"
    assert audit_service.verify(db).checked == n + 1


@pytest.mark.parametrize("mode", ["sha256", "wrong-key"])
def test_deleted_row_with_renumbered_and_relinked_chain_is_detected(db: Session, mode: str) -> None:
    build_world(db, households=3)
    n = record_count(db)
    gone = db.scalar(select(AuditRecord).order_by(AuditRecord.seq).offset(4).limit(1))
    assert gone is not None
    db.execute(delete(AuditRecord).where(AuditRecord.id == gone.id))
    for r in rows_from(db, gone.seq + 1):  # ascending: each number is free when it is taken
        db.execute(update(_T).where(_T.c.id == r.id).values(seq=r.seq - 1))
    attacker_rehash(db, from_seq=gone.seq, mode=mode)
    assert [s for s, *_ in snapshot(db)] == list(range(1, n))  # gapless and linked again
    result = audit_service.verify(db)
    assert not result.ok
    assert result.broken_seq == gone.seq
    assert result.problem == "记录内容与签名不符（该记录被直接改动，或其哈希被不持有密钥的人重算）"


def test_whole_chain_rewritten_as_unkeyed_records_is_detected(db: Session, settings_env: Path) -> None:
    build_world(db, households=3)
    n = record_count(db)
    folder = anchors.anchor_dir()
    anchored = anchor_head(db, folder)
    attacker_rehash(db, from_seq=1, mode="unkeyed")
    # With the anchor: the anchored hash no longer exists.
    result = audit_service.verify(db)
    assert not result.ok and result.broken_seq == anchored.seq == n
    assert "签发的锚点不符" in result.problem
    # Without any anchor, an unkeyed chain is refused as a whole.
    result = audit_service.verify(db, anchor_lines=[])
    assert not result.ok and result.broken_seq == 1
    assert result.problem.startswith(f"前 {n} 条记录是未加密钥的旧记录（key_id 为空），且没有锚点覆盖")
    # ...unless the operator explicitly accepts it (documented: this proves nothing about those records).
    allowed = audit_service.verify(db, anchor_lines=[], allow_legacy=True)
    assert allowed.ok and allowed.legacy == n and allowed.key_ids == []


def test_forged_anchor_is_reported(db: Session, settings_env: Path) -> None:
    build_world(db, households=2)
    folder = anchors.anchor_dir()
    good = anchor_head(db, folder)
    assert audit_service.verify(db).anchors_checked == 1
    forgeries = {
        "seq": dataclasses.replace(good, seq=good.seq - 1),
        "hash": dataclasses.replace(good, hash="ab" * 32),
        "at": dataclasses.replace(good, at="2099-01-01T00:00:00.000000Z"),
        "own key": rules.sign_anchor(
            kind=rules.HEAD_KIND,
            seq=good.seq,
            hash="cd" * 32,
            at=utcnow(),
            key_id=good.key_id,
            key=ATTACKER_KEY,
        ),
    }
    for what, forged in forgeries.items():
        result = audit_service.verify(
            db, anchor_lines=audit_service.command_line_anchors([good.line(), forged.line()])
        )
        assert not result.ok, what
        assert result.broken_seq == forged.seq
        assert (
            result.problem
            == f"锚点（命令行 第 2 行）签名无效：这条第 {forged.seq} 条记录的锚点是伪造的或被改动过"
        )
    # A line edited inside the anchor file is named by file and line.
    path = anchors.file_for(folder, good.at_datetime)
    path.write_text(good.line() + "\n" + forgeries["hash"].line() + "\n", encoding="ascii")
    result = audit_service.verify(db)
    assert not result.ok
    assert result.problem.startswith(f"锚点（{path.name} 第 2 行）签名无效")
    unknown = rules.sign_anchor(
        kind=rules.HEAD_KIND, seq=1, hash="ab" * 32, at=utcnow(), key_id="k7", key=ATTACKER_KEY
    )
    result = audit_service.verify(db, anchor_lines=audit_service.command_line_anchors([unknown.line()]))
    assert not result.ok and "“k7”未配置" in result.problem
    result = audit_service.verify(
        db, anchor_lines=audit_service.command_line_anchors(["anju-audit-head v1 seq=x"])
    )
    assert not result.ok and result.problem == "锚点（命令行 第 1 行）格式无效：anju-audit-head v1 seq=x"


def test_duplicate_anchor_lines_from_several_workers_are_tolerated(db: Session, settings_env: Path) -> None:
    build_world(db, households=2)
    folder = anchors.anchor_dir()
    a = anchor_head(db, folder)
    anchors.append(folder, a)
    anchors.append(folder, anchor_head(db, folder))  # same head, signed a moment later
    result = audit_service.verify(db)
    assert result.ok, result.problem
    assert (result.anchors_read, result.anchors_checked) == (2, 2)


def test_record_with_an_unknown_key_id_is_named(db: Session) -> None:
    build_world(db, households=2)
    target = db.scalar(select(AuditRecord).order_by(AuditRecord.seq).offset(3).limit(1))
    assert target is not None
    db.execute(update(AuditRecord).where(AuditRecord.id == target.id).values(key_id="k9"))
    result = audit_service.verify(db)
    assert not result.ok and result.broken_seq == target.seq
    assert result.problem == "签名密钥“k9”未配置（ANJU_AUDIT_KEYS 中没有该密钥），无法核验"


def test_key_rotation_and_rekey(db: Session, settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_keys(monkeypatch, f"k1:{K1}")
    world = build_world(db, households=2)
    under_k1 = record_count(db)
    use_keys(monkeypatch, f"k2:{K2},k1:{K1}")  # a new key first: it writes, k1 still verifies
    for phone in ("13900000001", "13900000002", "13900000003"):
        household_service.update_household(
            db,
            actor=ACTOR,
            scope=DataScope.everything(),
            household_id=world.household_ids[0],
            data={"contact_phone": phone},
        )
    result = audit_service.verify(db)
    assert result.ok, result.problem
    assert result.key_counts == {"k1": under_k1, "k2": 3}
    assert result.head is not None and result.head.key_id == "k2"
    folder = anchors.anchor_dir()
    old_anchor = anchor_head(db, folder)

    use_keys(monkeypatch, f"k2:{K2}")  # k1 retired too early
    result = audit_service.verify(db)
    assert not result.ok and result.broken_seq == 1
    assert result.problem == "签名密钥“k1”未配置（ANJU_AUDIT_KEYS 中没有该密钥），无法核验"
    before = snapshot(db)
    with pytest.raises(audit_service.AuditChainBroken) as refused:
        audit_service.rekey(db, actor=ACTOR)
    assert "“k1”未配置" in refused.value.message_zh
    assert snapshot(db) == before  # nothing rewritten, nothing appended

    use_keys(monkeypatch, f"k2:{K2},k1:{K1}")
    done = audit_service.rekey(db, actor=ACTOR)
    assert (done.records, done.rewritten, done.key_id) == (under_k1 + 3, under_k1 + 3, "k2")
    assert done.old_key_counts == {"k1": under_k1, "k2": 3}
    assert done.old_head_hash == old_anchor.hash and done.audit_seq == under_k1 + 4
    last = db.scalar(select(AuditRecord).where(AuditRecord.seq == done.audit_seq))
    assert last is not None and (last.action, last.entity, last.key_id) == ("rekey", "audit_chain", "k2")
    assert f'"old_key_counts":{{"k1":{under_k1},"k2":3}}' in last.changes

    use_keys(monkeypatch, f"k2:{K2}")
    # The anchor written before the rekey pins a hash that the rekey replaced...
    result = audit_service.verify(db)
    assert not result.ok and result.broken_seq == old_anchor.seq and "签发的锚点不符" in result.problem
    # ...until the signed rekey line (written by `anju audit rekey`) retires its hash check.
    ring = keys.keyring()
    anchors.append(
        folder,
        rules.sign_anchor(
            kind=rules.REKEY_KIND,
            seq=done.last_seq,
            hash=done.old_head_hash,
            at=utcnow(),
            key_id="k2",
            key=ring.current,
        ),
    )
    result = audit_service.verify(db)
    assert result.ok, result.problem
    assert result.key_counts == {"k2": under_k1 + 4}
    assert (result.anchors_read, result.anchors_checked, result.anchors_superseded) == (2, 0, 1)


def test_legacy_prefix_needs_an_anchor_and_rekey_retires_it(db: Session, settings_env: Path) -> None:
    build_world(db, households=2)
    legacy = record_count(db)
    attacker_rehash(db, from_seq=1, mode="unkeyed")  # as written before the chain was keyed
    audit_service.record(
        db, actor=ACTOR, action="update", entity="household", entity_id="1", changes={"a": [1, 2]}
    )
    result = audit_service.verify(db)
    assert not result.ok and result.broken_seq == 1
    assert result.problem.startswith(f"前 {legacy} 条记录是未加密钥的旧记录")
    allowed = audit_service.verify(db, allow_legacy=True)
    assert allowed.ok and allowed.key_counts == {"": legacy, "dev": 1}
    assert (
        allowed.notes[0]
        == f"前 {legacy} 条为启用密钥前的旧记录（SHA-256，无密钥），未被锚点覆盖（已按 --allow-legacy 放行）"
    )
    anchor_head(db, anchors.anchor_dir())  # the first anchor after the upgrade covers the prefix
    covered = audit_service.verify(db)
    assert covered.ok, covered.problem
    assert covered.legacy == legacy and covered.notes[0].endswith("，已由锚点覆盖")
    done = audit_service.rekey(db, actor=ACTOR)
    assert (done.legacy, done.rewritten) == (legacy, legacy + 1)
    assert audit_service.verify(db, anchor_lines=[]).key_counts == {"dev": legacy + 2}


def test_signed_head_refuses_a_tampered_head(db: Session) -> None:
    build_world(db, households=1)
    n = record_count(db)
    db.execute(update(AuditRecord).where(AuditRecord.seq == n).values(reason="改"))
    with pytest.raises(audit_service.AuditChainBroken) as refused:
        audit_service.signed_head(db)
    assert refused.value.message_zh.startswith(f"第 {n} 条记录（链尾）的签名无效或与链头不符")


# ---------------------------------------------------------------- the commands, the server, the page


def _file_world(settings_env: Path) -> int:
    """A migrated SQLite file under the test's data folder holding the standard world; returns its record count."""
    settings_env.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(get_settings().effective_database_url)
    with unit_of_work() as s:
        build_world(s, households=2)
        return audit_service.count(s)


def _anchor_file_lines() -> list[str]:
    return [line.text for line in anchors.read_lines()]


def test_cli_anchor_verify_head_and_a_rolled_back_tail(settings_env: Path) -> None:
    n = _file_world(settings_env)
    first = runner.invoke(cli_app, ["audit", "anchor"])
    assert first.exit_code == 0, first.output
    assert "已写入锚点" in first.output
    printed = first.output.strip().splitlines()[-1]
    assert printed.startswith(f"anju-audit-head v1 seq={n} hash=") and printed.endswith(" ") is False
    assert _anchor_file_lines() == [printed]
    again = runner.invoke(cli_app, ["audit", "anchor"])
    assert again.exit_code == 0 and "链头自上一锚点后未变" in again.output
    assert _anchor_file_lines() == [printed]  # no duplicate line for an unchanged head
    head = runner.invoke(cli_app, ["audit", "head"])
    assert head.exit_code == 0 and head.output.strip() == printed

    ok = runner.invoke(cli_app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert f"已核验记录 (records checked): {n:,}" in ok.output
    assert f"签名密钥 (key ids): dev（{n:,} 条）" in ok.output
    assert "锚点 (anchors): 读取 1 个，逐条比对 1 次" in ok.output
    assert f"最新锚点 (newest anchor): 第 {n} 条" in ok.output
    signed = ok.output.strip().splitlines()[-1]
    assert signed.startswith(f"anju-audit-head v1 seq={n} hash={printed.split('hash=')[1][:64]} ")

    engine = create_engine(get_settings().effective_database_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_record WHERE seq > :k"), {"k": n - 3})
        h = conn.execute(text("SELECT hash FROM audit_record WHERE seq = :k"), {"k": n - 3}).scalar_one()
        conn.execute(text("UPDATE audit_head SET seq = :k, hash = :h"), {"k": n - 3, "h": h})
    engine.dispose()
    broken = runner.invoke(cli_app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert f"审计链核验失败：第 {n - 2} 条记录：链尾被截断或回滚：锚点证明链曾到达第 {n} 条" in broken.output
    # The anchor folder lost as well: the head printed in a report still catches the rollback.
    shutil.rmtree(anchors.anchor_dir())
    blind = runner.invoke(cli_app, ["audit", "verify"])
    assert blind.exit_code == 0 and "未找到锚点" in blind.output
    caught = runner.invoke(cli_app, ["audit", "verify", "--anchor", signed])
    assert caught.exit_code == 1 and f"锚点证明链曾到达第 {n} 条" in caught.output


def test_cli_rotation_and_rekey(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_keys(monkeypatch, f"k1:{K1}")
    n = _file_world(settings_env)
    assert runner.invoke(cli_app, ["audit", "anchor"]).exit_code == 0
    use_keys(monkeypatch, f"k2:{K2},k1:{K1}")
    rekeyed = runner.invoke(cli_app, ["audit", "rekey", "--actor", "ops"])
    assert rekeyed.exit_code == 0, rekeyed.output
    assert (
        f"已重签 {n:,} 条记录（改写 {n:,} 条），现全部使用密钥 k2；原密钥：k1（{n:,} 条）" in rekeyed.output
    )
    assert f"本次操作记为第 {n + 1} 条审计记录" in rekeyed.output
    kinds = [line.split(" ", 1)[0] for line in _anchor_file_lines()]
    assert kinds == ["anju-audit-head", "anju-audit-rekey", "anju-audit-head"]
    use_keys(monkeypatch, f"k2:{K2}")  # k1 retired
    ok = runner.invoke(cli_app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert f"签名密钥 (key ids): k2（{n + 1:,} 条）" in ok.output
    assert "读取 3 个，逐条比对 1 次，因重签只核对序号 1 个" in ok.output
    with Session(create_engine(get_settings().effective_database_url)) as s:
        last = s.scalar(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1))
        assert last is not None and (last.actor_name, last.action, last.key_id) == ("ops", "rekey", "k2")


def test_cli_rekey_refuses_a_broken_chain_and_writes_nothing(settings_env: Path) -> None:
    n = _file_world(settings_env)
    engine = create_engine(get_settings().effective_database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_record SET reason = '改' WHERE seq = 3"))
        before = conn.execute(text("SELECT seq, hash, key_id FROM audit_record ORDER BY seq")).all()
    refused = runner.invoke(cli_app, ["audit", "rekey"])
    assert refused.exit_code == 1
    assert "审计链核验失败，未重签：第 3 条记录：记录内容与签名不符" in refused.output
    with engine.begin() as conn:
        assert conn.execute(text("SELECT seq, hash, key_id FROM audit_record ORDER BY seq")).all() == before
    engine.dispose()
    assert len(before) == n and _anchor_file_lines() == []


def test_cli_keygen() -> None:
    made = runner.invoke(cli_app, ["audit", "keygen", "k3"])
    assert made.exit_code == 0
    entry = made.output.strip()
    assert re.fullmatch(r"k3:[0-9a-f]{64}", entry)
    assert keys.parse_keys(entry).current_id == "k3"
    assert runner.invoke(cli_app, ["audit", "keygen", "bad id!"]).exit_code == 2


def test_server_anchors_the_head_at_intervals(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's lifespan runs the anchor task; the API and the page show keys, anchors and the signed head."""
    from fastapi.testclient import TestClient

    from anju.main import create_app
    from tests.factories import PASSWORD

    monkeypatch.setenv("ANJU_AUDIT_ANCHOR_MINUTES", "0.005")  # 0.3 s
    get_settings.cache_clear()
    n = _file_world(settings_env)
    with TestClient(create_app(), base_url="http://testserver") as client:
        deadline = time.monotonic() + 10
        while not _anchor_file_lines() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # several more intervals: the unchanged head is not written again
        lines = _anchor_file_lines()
        assert len(lines) == 1 and lines[0].startswith(f"anju-audit-head v1 seq={n} ")
        r = client.post("/api/v1/auth/login", json={"username": "auditor", "password": PASSWORD})
        assert r.status_code == 200, r.text
        body = client.get("/api/v1/audit/verify").json()
        assert body["ok"] is True and body["checked"] == n
        assert (body["key_ids"], body["key_counts"], body["legacy"]) == (["dev"], {"dev": n}, 0)
        assert (body["anchors_read"], body["anchors_checked"], body["anchors_superseded"]) == (1, 1, 0)
        assert body["newest_anchor"]["line"] == lines[0]
        assert body["head"]["seq"] == n and body["head"]["line"].startswith(f"anju-audit-head v1 seq={n} ")
        page = client.get("/audit?verify=1")
        assert page.status_code == 200
        assert f"核验通过：已检查 {n:,} 条记录，审计链完整。" in page.text
        assert f"dev（{n:,} 条）" in page.text and "读取 1 个，逐条比对 1 次" in page.text
        # the newest anchor's instant in office time, not the signed UTC text
        assert re.search(rf"第 {n} 条，\d{{4}}-\d{{2}}-\d{{2}} \d{{2}}:\d{{2}}</dd>", page.text), page.text
        assert re.search(
            rf'<pre class="mono" id="signed-head"[^>]*>anju-audit-head v1 seq={n} hash=[0-9a-f]{{64}} ',
            page.text,
        )


def _anchor_in_child(barrier: Any) -> None:  # pragma: no cover - runs in a child process
    from anju.db.session import get_engine, get_sessionmaker

    get_engine.cache_clear()  # no connection inherited from the parent
    get_sessionmaker.cache_clear()
    barrier.wait()
    anchoring.anchor_now()


def test_several_processes_anchoring_at_once_write_one_line(settings_env: Path) -> None:
    """`anju serve --workers N` and cron may anchor the same head at the same moment."""
    import multiprocessing

    n = _file_world(settings_env)
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(4)
    children = [ctx.Process(target=_anchor_in_child, args=(barrier,)) for _ in range(4)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert [child.exitcode for child in children] == [0, 0, 0, 0]
    lines = _anchor_file_lines()
    assert len(lines) == 1 and lines[0].startswith(f"anju-audit-head v1 seq={n} ")
