"""The audit log read back: filters (person, record kind, action, dates), keyset pages, xlsx export."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import update
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.audit.models import AuditRecord
from anju.core.actor import Actor
from anju.errors import ValidationFailed

ALICE = Actor(user_id=9001, username="alice", display_name="爱丽", role="case_officer")
BOB = Actor(user_id=9002, username="bob", display_name="鲍勃", role="finance")
SYSTEM = Actor(user_id=None, username="system", display_name="系统", role="")


def _seed(db: Session) -> dict[str, list[int]]:
    """25 records: alice updates households 1-10 (seq 1-10), bob signs agreements 1-10,
    the system imports 5 censuses; the bob records are dated 2026-03-01 (Shanghai), the rest 2026-03-02."""
    seqs: dict[str, list[int]] = {"alice": [], "bob": [], "system": []}
    for i in range(1, 11):
        seqs["alice"].append(
            audit_service.record(
                db,
                actor=ALICE,
                action="update",
                entity="household",
                entity_id=i,
                changes={"sign_on": [None, "2026-03-02"]},
            )
        )
    for i in range(1, 11):
        seqs["bob"].append(
            audit_service.record(
                db,
                actor=BOB,
                action="sign",
                entity="agreement",
                entity_id=i,
                changes={"agreement_no": [None, f"XX-{i:04d}"], "total_fen": [None, 100 * i]},
            )
        )
    for i in range(1, 6):
        seqs["system"].append(
            audit_service.record(
                db, actor=SYSTEM, action="import", entity="census", entity_id=f"c{i}", changes={}
            )
        )
    # 2026-03-01 16:30 UTC is 2026-03-02 00:30 in Shanghai; 15:59 UTC is still 2026-03-01 there.
    db.execute(update(AuditRecord).values(at=datetime(2026, 3, 1, 16, 30, tzinfo=UTC)))
    db.execute(
        update(AuditRecord)
        .where(AuditRecord.seq.in_(seqs["bob"]))
        .values(at=datetime(2026, 3, 1, 15, 59, tzinfo=UTC))
    )
    db.flush()
    db.expire_all()
    return seqs


def _seqs(page: audit_service.AuditPage) -> list[int]:
    return [r.seq for r in page.records]


def test_filters_by_person_kind_action_and_shanghai_dates(db: Session) -> None:
    s = _seed(db)
    F = audit_service.AuditFilter

    def matching(where: audit_service.AuditFilter) -> list[int]:
        return _seqs(audit_service.filtered_page(db, where=where, limit=500))

    assert matching(F(actor_id=9001)) == s["alice"][::-1]
    assert matching(F(actor_id=audit_service.SYSTEM_ACTOR)) == s["system"][::-1]
    assert matching(F(entity="agreement")) == s["bob"][::-1]
    assert matching(F(action="import")) == s["system"][::-1]
    assert matching(F(actor_id=9001, action="sign")) == []
    assert matching(F(date_from=date(2026, 3, 1), date_to=date(2026, 3, 1))) == s["bob"][::-1]
    assert matching(F(date_from=date(2026, 3, 2))) == (s["alice"] + s["system"])[::-1]
    assert matching(F(date_to=date(2026, 2, 28))) == []
    assert audit_service.count_matching(db, where=F(entity="household")) == 10
    assert audit_service.count_matching(db, where=F()) == 25


def test_bad_filters_name_the_field(db: Session) -> None:
    F = audit_service.AuditFilter
    with pytest.raises(ValidationFailed) as exc:
        audit_service.filtered_page(db, where=F(entity="no_such_kind", action="nope"))
    assert [d["field"] for d in exc.value.details or []] == ["entity", "action"]
    with pytest.raises(ValidationFailed) as exc:
        audit_service.filtered_page(db, where=F(date_from=date(2026, 3, 2), date_to=date(2026, 3, 1)))
    assert exc.value.message_zh == "筛选条件有误：结束日期早于开始日期"


def test_keyset_pages_walk_every_record_both_ways(db: Session) -> None:
    s = _seed(db)
    everything = sorted(s["alice"] + s["bob"] + s["system"], reverse=True)
    where = audit_service.AuditFilter()
    first = audit_service.filtered_page(db, where=where, limit=10)
    assert _seqs(first) == everything[:10] and first.newer is None and first.older == everything[9]
    second = audit_service.filtered_page(db, where=where, before=first.older, limit=10)
    assert (
        _seqs(second) == everything[10:20]
        and second.newer == everything[10]
        and second.older == everything[19]
    )
    third = audit_service.filtered_page(db, where=where, before=second.older, limit=10)
    assert _seqs(third) == everything[20:] and third.older is None and third.newer == everything[20]
    back = audit_service.filtered_page(db, where=where, after=third.newer, limit=10)
    assert _seqs(back) == everything[10:20] and back.older == everything[19] and back.newer == everything[10]
    top = audit_service.filtered_page(db, where=where, after=back.newer, limit=10)
    assert _seqs(top) == everything[:10] and top.newer is None
    # paging within a filter: bob's 10 records, 4 per page
    bob = audit_service.AuditFilter(actor_id=9002)
    pages, before = [], None
    while True:
        p = audit_service.filtered_page(db, where=bob, before=before, limit=4)
        pages.append(_seqs(p))
        if p.older is None:
            break
        before = p.older
    assert pages == [s["bob"][::-1][0:4], s["bob"][::-1][4:8], s["bob"][::-1][8:10]]


def test_export_writes_the_filtered_records_in_words(db: Session, tmp_path: Path) -> None:
    s = _seed(db)
    target = tmp_path / "audit.xlsx"
    n = audit_service.export_xlsx(
        db,
        where=audit_service.AuditFilter(entity="agreement"),
        target=target,
        name_of=lambda batch: {r.seq: f"协议 XX-{int(r.entity_id):04d}" for r in batch},
    )
    assert n == 10
    rows = CalamineWorkbook.from_path(str(target)).get_sheet_by_name("审计日志").to_python()
    assert rows[0] == ["序号", "时间", "操作人", "操作", "对象", "变更内容", "理由", "签名"]
    assert len(rows) == 11
    newest = rows[1]
    assert int(newest[0]) == s["bob"][-1]
    assert newest[1] == "2026-03-01 23:59:00"
    assert newest[2:6] == ["bob", "签约", "协议 XX-0010", "协议编号：XX-0010；合计（分）：1000"]
    assert [int(r[0]) for r in rows[1:]] == s["bob"][::-1]
    assert all("sign" not in str(cell) for r in rows[1:] for cell in r[2:6])


def test_export_refuses_more_rows_than_a_sheet_holds(
    db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anju.audit import reading

    _seed(db)
    monkeypatch.setattr(reading, "EXPORT_LIMIT", 24)
    target = tmp_path / "big.xlsx"
    with pytest.raises(ValidationFailed) as exc:
        audit_service.export_xlsx(db, where=audit_service.AuditFilter(), target=target, name_of=lambda b: {})
    assert exc.value.message_zh.startswith("筛选结果共 25 条，超过一个工作表可容纳的 24 条")
    assert not target.exists()
