"""Census import against a real database: round trip, all-or-nothing, duplicates, audit, 100,000 households."""

from __future__ import annotations

import io
import json
import os
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.audit.models import AuditHead, AuditRecord
from anju.core.money import yuan_to_fen
from anju.db import migrate
from anju.db.session import make_engine
from anju.demo.generator import census_rows
from anju.household import census
from anju.household import service as household_service
from anju.household.census import importing, inserts, writing
from anju.household.models import Building, Homestead, Household, Member, Tenant, Valuation
from anju.identity.service import DataScope
from anju.project import service as project_service
from tests.factories import ACTOR

TABLES = (Household, Member, Building, Valuation, Tenant, Homestead, AuditRecord)


def make_project(db: Session, code: str = "C1") -> int:
    p = project_service.create_project(
        db, actor=ACTOR, code=code, name="普查测试项目", kind="collective_land"
    )
    village = project_service.add_block(
        db, actor=ACTOR, project_id=p.id, code="LJ", name="李家村", level="village"
    )
    for g in ("01", "02"):
        project_service.add_block(
            db,
            actor=ACTOR,
            project_id=p.id,
            code=f"LJ-{g}",
            name=f"{g}组",
            level="group",
            parent_id=village.id,
        )
    return p.id


def xlsx(rows: dict[str, list[dict[str, Any]]]) -> bytes:
    buf = io.BytesIO()
    census.write_workbook(buf, rows)
    return buf.getvalue()


def counts(db: Session) -> dict[str, int]:
    return {t.__tablename__: int(db.scalar(select(func.count()).select_from(t)) or 0) for t in TABLES}


def head(db: Session) -> tuple[int, str] | None:
    row = db.execute(select(AuditHead.seq, AuditHead.hash)).first()
    return None if row is None else (int(row[0]), str(row[1]))


def test_round_trip_template_fill_import(db: Session) -> None:
    project_id = make_project(db)
    rows = census_rows(random.Random(7), 60, prefix="R", blocks=["LJ-01", "LJ-02"], kind="collective_land")
    data = xlsx(rows)
    before = counts(db)
    phases: list[str] = []
    outcome = census.import_census(
        db,
        actor=ACTOR,
        project_id=project_id,
        source=data,
        filename="入户调查表.xlsx",
        progress=lambda phase, done, total: phases.append(phase),
    )
    assert outcome.summary is not None
    after = counts(db)
    assert after["household"] - before["household"] == 60
    assert after["member"] - before["member"] == len(rows["members"])
    assert after["building"] - before["building"] == len(rows["buildings"])
    assert after["valuation"] - before["valuation"] == len(rows["valuations"])
    assert after["homestead"] - before["homestead"] == 60
    assert after["tenant"] - before["tenant"] == len(rows["tenants"])
    # one audit record per household plus the summary
    assert after["audit_record"] - before["audit_record"] == 61
    assert set(phases) == {"读取", "校验", "写入"}

    # one household in detail, as the file page shows it
    first = rows["households"][0]
    h = db.scalar(
        select(Household).where(Household.project_id == project_id, Household.code == first["code"])
    )
    assert h is not None
    assert (h.head_name, h.address, h.contact_phone) == (
        first["head_name"],
        first["address"],
        first["contact_phone"],
    )
    assert h.block_id == project_service.block_by_code(db, project_id)["LJ-01"].id
    hf = household_service.get_household_file(db, scope=DataScope.everything(), household_id=h.id)
    my_members = [m for m in rows["members"] if m["household_code"] == first["code"]]
    assert [m.name for m in hf.members] == [m["name"] for m in my_members]
    assert [household_service.reveal_id_number(m) for m in hf.members] == [m["id_number"] for m in my_members]
    assert (
        hf.members[0].id_number_masked
        == my_members[0]["id_number"][:6] + "********" + my_members[0]["id_number"][-4:]
    )
    my_buildings = [b for b in rows["buildings"] if b["household_code"] == first["code"]]
    assert [b.building.legal_area for b in hf.buildings] == [Decimal(b["legal_area"]) for b in my_buildings]
    my_values = {v["building_order"]: v for v in rows["valuations"] if v["household_code"] == first["code"]}
    for i, bf in enumerate(hf.buildings, start=1):
        if i in my_values:
            assert bf.valuation is not None
            assert bf.valuation.assessed_value_fen == yuan_to_fen(my_values[i]["assessed_value"])
        else:
            assert bf.valuation is None
    assert h.search_text.startswith(first["code"].lower() + " " + first["head_name"])

    # the household's history holds the import snapshot with masked identity numbers only
    records = household_service.history(db, scope=DataScope.everything(), household_id=h.id)
    assert [(r.action, r.entity) for r in records] == [("import", "household")]
    assert my_members[0]["id_number"] not in records[0].changes
    assert hf.members[0].id_number_masked in records[0].changes
    summary = db.scalar(
        select(AuditRecord).where(AuditRecord.entity == "census").order_by(AuditRecord.seq.desc())
    )
    assert summary is not None and summary.entity_id == census.sha256_of(data)
    assert '"households":60' in summary.changes and "入户调查表.xlsx" in summary.changes
    assert audit_service.verify(db).ok


def _bad_cells(rows: dict[str, list[dict[str, Any]]]) -> set[tuple[str, int, str]]:
    """Spoil exactly 50 cells, each producing exactly one error; returns (sheet, row, letter)."""
    spoiled: set[tuple[str, int, str]] = set()
    hh, mm, bb, vv = rows["households"], rows["members"], rows["buildings"], rows["valuations"]
    for i in range(10):  # phone
        hh[i * 37]["contact_phone"] = "12345"
        spoiled.add(("户", i * 37 + 2, "E"))
    for i in range(10):  # identity check digit
        m = mm[i * 41 + 1]
        m["id_number"] = m["id_number"][:-1] + ("0" if m["id_number"][-1] != "0" else "1")
        spoiled.add(("成员", i * 41 + 3, "D"))
    non_heads = [j for j, m in enumerate(mm) if m["relation"] != "户主" and j % 41 != 1]
    for j in non_heads[5:15]:  # relation not in the vocabulary
        mm[j]["relation"] = "表哥"
        spoiled.add(("成员", j + 2, "C"))
    for i in range(10):  # negative area
        bb[i * 53]["legal_area"] = "-5"
        spoiled.add(("房屋", i * 53 + 2, "H"))
    for i in range(5):  # unknown structure
        bb[i * 53 + 7]["structure"] = "茅草"
        spoiled.add(("房屋", i * 53 + 9, "D"))
    for i in range(5):  # not a number
        vv[i * 29]["assessed_value"] = "约十万"
        spoiled.add(("评估", i * 29 + 2, "H"))
    assert len(spoiled) == 50
    return spoiled


def test_fifty_bad_cells_are_all_reported_and_nothing_changes(db: Session) -> None:
    project_id = make_project(db)
    # something already there, so "unchanged" is about a real chain head
    census.import_rows(
        db,
        actor=ACTOR,
        project_id=project_id,
        rows=census_rows(random.Random(1), 5, prefix="OLD", blocks=["LJ-01"]),
        label="earlier",
    )
    rows = census_rows(random.Random(2), 2000, prefix="B", blocks=["LJ-01", "LJ-02"])
    spoiled = _bad_cells(rows)
    before_counts, before_head = counts(db), head(db)
    with pytest.raises(census.CensusInvalid) as info:
        census.import_census(db, actor=ACTOR, project_id=project_id, source=xlsx(rows), filename="bad.xlsx")
    errors = info.value.errors
    assert len(errors) == 50
    assert {(e.sheet, e.row, e.letter) for e in errors} == spoiled
    assert all(e.message and e.column for e in errors)
    assert info.value.http_status == 422 and len(info.value.details) == 50
    assert counts(db) == before_counts
    assert head(db) == before_head
    assert audit_service.verify(db).ok


def test_duplicates_against_the_database(db: Session) -> None:
    project_id = make_project(db)
    first = census_rows(random.Random(3), 20, prefix="D", blocks=["LJ-01"])
    census.import_rows(db, actor=ACTOR, project_id=project_id, rows=first, label="first")
    second = census_rows(random.Random(4), 5, prefix="E", blocks=["LJ-02"])
    second["households"][2]["code"] = "D00004"  # code already in the project
    for m in second["members"]:
        if m["household_code"] == "D00004":
            m["household_code"] = "E00003"
    taken = first["members"][5]
    second["members"][0]["id_number"] = taken["id_number"]  # person already registered
    before = counts(db)
    with pytest.raises(census.CensusInvalid) as info:
        census.import_census(db, actor=ACTOR, project_id=project_id, source=xlsx(second), filename="dup.xlsx")
    got = [(e.sheet, e.row, e.letter, e.message) for e in info.value.errors]
    assert ("户", 4, "A", "户号“D00004”在本项目中已存在") in got
    assert ("成员", 2, "D", f"该身份证号已登记在本项目户“{taken['household_code']}”") in got
    assert counts(db) == before
    # the same people in another project are no duplicates
    other = make_project(db, code="C2")
    census.import_rows(db, actor=ACTOR, project_id=other, rows=first, label="other project")


def test_dry_run_previews_without_writing(db: Session) -> None:
    project_id = make_project(db)
    rows = census_rows(random.Random(9), 30, prefix="P", blocks=["LJ-01"])
    before = counts(db)
    outcome = census.import_census(
        db, actor=ACTOR, project_id=project_id, source=xlsx(rows), filename="p.xlsx", dry_run=True
    )
    assert outcome.summary is None
    assert outcome.check.preview.counts["户"] == 30
    assert outcome.check.preview.totals["户数"] == "30"
    assert len(outcome.check.preview.first_rows) == 20
    assert outcome.check.preview.first_rows[0]["户号"] == "P00001"
    assert counts(db) == before


@pytest.fixture
def sqlite_db(tmp_path: Any, settings_env: Any) -> Iterator[Session]:
    """A migrated SQLite database of its own: the 100,000-household import runs on the embedded
    default only (bench/ measures it); the three-backend tests above cover the same code paths."""
    url = f"sqlite:///{tmp_path / 'big.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    session = Session(bind=engine, expire_on_commit=False)
    try:
        yield session
    finally:
        session.rollback()
        session.close()
        engine.dispose()


@pytest.mark.slow
def test_import_of_100000_households(sqlite_db: Session, tmp_path: Any) -> None:
    db = sqlite_db
    project_id = make_project(db)
    rows = census_rows(random.Random(100), 100_000, prefix="N", blocks=["LJ-01", "LJ-02"])
    path = tmp_path / "big.xlsx"
    census.write_workbook(path, rows)
    outcome = census.import_census(db, actor=ACTOR, project_id=project_id, source=path)
    assert outcome.summary is not None
    assert outcome.summary.households == 100_000
    n = db.scalar(select(func.count()).select_from(Household).where(Household.project_id == project_id))
    assert n == 100_000
    assert db.scalar(select(func.count()).select_from(Member)) == len(rows["members"])


def test_rows_split_over_multirow_inserts_keep_their_order(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite the rows go in multi-row INSERTs: full ones and a shorter last one, in file order."""
    monkeypatch.setattr(inserts, "_MULTIROW", 4)
    project_id = make_project(db)
    rows = census_rows(random.Random(11), 9, prefix="M", blocks=["LJ-01"])
    summary = census.import_rows(db, actor=ACTOR, project_id=project_id, rows=rows, label="multirow")
    assert summary.members == len(rows["members"])
    stored = db.execute(
        select(Household.code, Member.name, Member.sort, Member.id_number_masked)
        .join(Household, Household.id == Member.household_id)
        .where(Household.project_id == project_id)
        .order_by(Member.id)
    ).all()
    assert [(code, name) for code, name, _sort, _masked in stored] == [
        (m["household_code"], m["name"]) for m in rows["members"]
    ]
    codes = db.scalars(
        select(Household.code).where(Household.project_id == project_id).order_by(Household.id)
    )
    assert list(codes) == [h["code"] for h in rows["households"]]
    assert audit_service.verify(db).ok


def test_sqlite_page_cache_is_restored_after_an_import(db: Session) -> None:
    """On SQLite the import's larger page cache is given back; elsewhere the setting is left alone."""
    sqlite = db.connection().dialect.name == "sqlite"
    before = db.connection().exec_driver_sql("PRAGMA cache_size").scalar() if sqlite else None
    project_id = make_project(db)
    rows = census_rows(random.Random(2), 3, prefix="Q", blocks=["LJ-01"])
    summary = census.import_rows(db, actor=ACTOR, project_id=project_id, rows=rows, label="c")
    assert summary.households == 3
    if sqlite:
        assert db.connection().exec_driver_sql("PRAGMA cache_size").scalar() == before


def test_audit_snapshots_from_a_forked_child_are_those_built_in_process(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big import builds its audit snapshots in a child process: the records are the same."""
    forks: list[int] = []
    real_fork = os.fork

    def counting_fork() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", counting_fork)
    stored: dict[int, list[tuple[str, str, str]]] = {}
    for fork_min in (10**9, 1):
        monkeypatch.setattr(writing, "_FORK_MIN_HOUSEHOLDS", fork_min)
        project_id = make_project(db, code=f"F{min(fork_min, 2)}")
        rows = census_rows(random.Random(21), 12, prefix="F", blocks=["LJ-01", "LJ-02"])
        census.import_rows(db, actor=ACTOR, project_id=project_id, rows=rows, label="fork")
        records = db.execute(
            select(Household.code, AuditRecord.changes, AuditRecord.reason)
            .join(Household, Household.id == AuditRecord.household_id)
            .where(AuditRecord.project_id == project_id, AuditRecord.entity == "household")
            .order_by(AuditRecord.seq)
        ).all()
        stored[fork_min] = [(str(c), str(ch), str(r)) for c, ch, r in records]
    assert len(forks) == 1  # the second import only
    in_process, forked = stored[10**9], stored[1]
    assert len(in_process) == 12
    assert [(c, r) for c, _ch, r in forked] == [(c, r) for c, _ch, r in in_process]

    def without_block(text: str) -> dict[str, Any]:  # the two projects' blocks have their own ids
        snapshot: dict[str, Any] = json.loads(text)
        snapshot.pop("block_id")
        return snapshot

    assert [without_block(ch) for _c, ch, _r in forked] == [without_block(ch) for _c, ch, _r in in_process]
    assert audit_service.verify(db).ok


def test_cyclic_gc_is_paused_while_importing_and_resumed_afterwards(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    seen: list[bool] = []
    real_validate = census.validate

    def spying_validate(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(importing, "validate", spying_validate)
    assert gc.isenabled()
    project_id = make_project(db)
    rows = census_rows(random.Random(3), 2, prefix="G", blocks=["LJ-01"])
    census.import_rows(db, actor=ACTOR, project_id=project_id, rows=rows, label="gc")
    bad = census_rows(random.Random(4), 1, prefix="B", blocks=["LJ-01"])
    bad["households"][0]["code"] = "坏 户号"
    with pytest.raises(census.CensusInvalid):
        census.import_rows(db, actor=ACTOR, project_id=project_id, rows=bad, label="bad")
    assert seen == [False, False]
    assert gc.isenabled()  # also after the refused file


def test_imported_dates_are_stored_as_the_driver_would_store_them(db: Session) -> None:
    """The bulk write hands SQLite the same date and datetime text as Python's sqlite3 adapters."""
    from datetime import date, datetime

    from sqlalchemy import text

    project_id = make_project(db)
    rows = census_rows(random.Random(5), 4, prefix="D", blocks=["LJ-01"])
    census.import_rows(db, actor=ACTOR, project_id=project_id, rows=rows, label="dates")
    raw = db.execute(
        text(
            "SELECT m.birth_on, h.created_at FROM member m JOIN household h ON h.id = m.household_id "
            "WHERE h.project_id = :p ORDER BY m.id"
        ),
        {"p": project_id},
    ).all()
    orm = db.execute(
        select(Member.birth_on, Household.created_at)
        .join(Household, Household.id == Member.household_id)
        .where(Household.project_id == project_id)
        .order_by(Member.id)
    ).all()
    assert len(raw) == len(orm) == len(rows["members"])
    for (raw_birth, raw_created), (birth, created) in zip(raw, orm, strict=True):
        assert isinstance(birth, date) and isinstance(created, datetime)
        if db.connection().dialect.name == "sqlite":
            assert raw_birth == birth.isoformat()
            assert raw_created == created.replace(tzinfo=None).isoformat(" ")
        else:
            assert raw_birth == birth
