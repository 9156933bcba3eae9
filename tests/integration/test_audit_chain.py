"""The audit chain: appended in the writer's transaction, verified, and broken by direct SQL."""

from __future__ import annotations

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.audit.models import AuditRecord
from anju.household import service as household_service
from anju.identity.service import DataScope
from tests.factories import ACTOR, build_world


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

    from anju.audit import rules
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
            )
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
