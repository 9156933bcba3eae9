"""Household file use cases against a real database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.core.pagination import PageRequest
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.household import service as household_service
from anju.household.models import Household, Member
from anju.identity.rules import ScopeKind
from anju.identity.service import DataScope
from tests.factories import ACTOR, build_world, id_number

ALL = DataScope.everything()


def test_search_by_part_of_name_code_address_and_full_id(db: Session) -> None:
    w = build_world(db, households=6)
    page = household_service.list_households(db, scope=ALL, project_id=w.project_id, q="建国")
    assert [r.code for r in page.items] == ["H0001"]
    assert page.items[0].member_count == 1
    assert page.items[0].legal_area == Decimal("88.50")
    assert page.items[0].block_path == "东片区"
    assert household_service.list_households(db, scope=ALL, project_id=w.project_id, q="h0003").total == 1
    assert household_service.list_households(db, scope=ALL, project_id=w.project_id, q="青溪路5号").total == 1
    by_id = household_service.list_households(db, scope=ALL, project_id=w.project_id, q=id_number(4))
    assert [r.code for r in by_id.items] == ["H0004"]
    # a percent sign is searched literally, not as a wildcard
    assert household_service.list_households(db, scope=ALL, project_id=w.project_id, q="%").total == 0


def test_filter_sort_and_page(db: Session) -> None:
    w = build_world(db, households=6)
    east = household_service.list_households(
        db, scope=ALL, project_id=w.project_id, block_id=w.block_ids["E"]
    )
    assert [r.code for r in east.items] == ["H0001", "H0003", "H0005"]
    page2 = household_service.list_households(
        db, scope=ALL, project_id=w.project_id, sort="code", descending=True, page=PageRequest(page=2, size=4)
    )
    assert page2.total == 6 and page2.pages == 2
    assert [r.code for r in page2.items] == ["H0002", "H0001"]


def test_scope_limits_team_member_to_assigned(db: Session) -> None:
    w = build_world(db, households=6)
    scope = DataScope(kind=ScopeKind.ASSIGNED, user_id=w.users["team_member"])
    page = household_service.list_households(db, scope=scope, project_id=w.project_id)
    assert sorted(r.id for r in page.items) == sorted(w.assigned)
    with pytest.raises(NotFound):
        household_service.get_household_file(db, scope=scope, household_id=w.household_ids[5])
    with pytest.raises(NotFound):
        household_service.update_household(
            db, actor=ACTOR, scope=scope, household_id=w.household_ids[5], data={"remark": "x"}
        )
    team_scope = DataScope(kind=ScopeKind.TEAM, team_id=w.team_id)
    assert household_service.list_households(db, scope=team_scope, project_id=w.project_id).total == 4


def test_bad_member_input_names_fields_and_writes_nothing(db: Session) -> None:
    w = build_world(db, households=1)
    audit_before = audit_service.count(db)
    members_before = db.scalar(select(func.count()).select_from(Member))
    bad = id_number(99)[:-1] + ("0" if id_number(99)[-1] != "0" else "1")
    with pytest.raises(ValidationFailed) as exc:
        household_service.add_member(
            db,
            actor=ACTOR,
            scope=ALL,
            household_id=w.household_ids[0],
            data={"name": "", "relation": "表亲", "id_number": bad, "phone": "123"},
        )
    fields = {d["field"]: d["message"] for d in exc.value.details}
    assert set(fields) == {"name", "relation", "id_number", "phone"}
    assert "校验位" in fields["id_number"]
    assert audit_service.count(db) == audit_before
    assert db.scalar(select(func.count()).select_from(Member)) == members_before


def test_duplicate_member_in_project_refused(db: Session) -> None:
    w = build_world(db, households=2)
    with pytest.raises(Conflict) as exc:
        household_service.add_member(
            db,
            actor=ACTOR,
            scope=ALL,
            household_id=w.household_ids[1],
            data={"name": "重复", "relation": "子女", "id_number": id_number(1)},
        )
    assert "H0001" in exc.value.message_zh


def test_member_update_audits_masked_id_and_history(db: Session) -> None:
    w = build_world(db, households=1)
    changes = household_service.update_member(
        db,
        actor=ACTOR,
        scope=ALL,
        member_id=w.member_ids[0],
        data={"phone": "13700001111", "dibao": "是", "id_number": id_number(50)},
        reason="核实",
    )
    assert changes["phone"] == ["13800000000", "13700001111"]
    assert changes["dibao"] == [False, True]
    assert changes["id_number_masked"][1] == "330102********" + id_number(50)[-4:]
    history = household_service.history(db, scope=ALL, household_id=w.household_ids[0])
    assert history[0].entity == "member" and history[0].reason == "核实"
    assert id_number(50) not in history[0].changes  # never the full number in the log
    m = db.get(Member, w.member_ids[0])
    assert m is not None and household_service.reveal_id_number(m) == id_number(50)


def test_stale_version_refused(db: Session) -> None:
    w = build_world(db, households=1)
    h = db.get(Household, w.household_ids[0])
    assert h is not None
    v = h.version
    household_service.update_household(db, actor=ACTOR, scope=ALL, household_id=h.id, data={"remark": "一"})
    with pytest.raises(Conflict):
        household_service.update_household(
            db, actor=ACTOR, scope=ALL, household_id=h.id, data={"remark": "二"}, expected_version=v
        )


def test_void_keeps_row_and_requires_reason(db: Session) -> None:
    w = build_world(db, households=2)
    with pytest.raises(ValidationFailed):
        household_service.void_household(
            db, actor=ACTOR, scope=ALL, household_id=w.household_ids[1], reason=" "
        )
    household_service.void_household(
        db, actor=ACTOR, scope=ALL, household_id=w.household_ids[1], reason="重复登记"
    )
    assert db.get(Household, w.household_ids[1]) is not None
    assert household_service.list_households(db, scope=ALL, project_id=w.project_id).total == 1


def test_attachment_stored_by_checksum(db: Session) -> None:
    w = build_world(db, households=1)
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00"
        + b"0" * 100
    )
    a = household_service.add_attachment(
        db,
        actor=ACTOR,
        scope=ALL,
        household_id=w.household_ids[0],
        filename="../../现场.png",
        content_type="image/png",
        content=png,
        kind="photo",
    )
    assert a.filename == "现场.png"
    got, data = household_service.get_attachment(db, scope=ALL, attachment_id=a.id)
    assert data == png and got.sha256 == a.sha256
    with pytest.raises(ValidationFailed):
        household_service.add_attachment(
            db,
            actor=ACTOR,
            scope=ALL,
            household_id=w.household_ids[0],
            filename="x.exe",
            content_type="application/x-msdownload",
            content=b"MZ",
            kind="photo",
        )


def test_search_text_index_finds_what_a_database_scan_finds(db: Session) -> None:
    from anju.db import text as db_text
    from anju.household import listing

    w = build_world(db, households=6)
    key = listing.data_key(db, w.project_id)
    for needle in ["建国", "h000", "h0006", "青溪路", "号", "张", "志强 ", "zzz", " "]:
        scanned = set(
            db.scalars(
                select(Household.id).where(
                    Household.project_id == w.project_id,
                    Household.voided_at.is_(None),
                    db_text.contains(db, Household.search_text, needle),
                )
            )
        )
        found = listing.search(db, w.project_id, needle, key)
        assert found.total == len(scanned), needle
        assert set(found.ids or []) == scanned, needle


def test_an_edit_moves_the_data_version_so_cached_searches_are_not_reused(db: Session) -> None:
    from anju.household import listing

    w = build_world(db, households=6)
    before = listing.data_key(db, w.project_id)
    assert household_service.list_households(db, scope=ALL, project_id=w.project_id, q="张建设").total == 0
    household_service.update_household(
        db,
        actor=ACTOR,
        scope=ALL,
        household_id=w.household_ids[0],
        data={"head_name": "张建设"},
        reason="更正",
    )
    assert listing.data_key(db, w.project_id) != before
    assert household_service.list_households(db, scope=ALL, project_id=w.project_id, q="张建设").total == 1


def test_search_text_is_patched_from_changed_households_not_read_again(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anju.household import listing

    # Every household here changed within the overlap window: without this, six households would
    # always count as "too many changed" and be read afresh.
    monkeypatch.setattr(listing, "REBUILD_SHARE", 100.0)
    w = build_world(db, households=6)
    builds: list[int] = []
    real_build = listing._build
    monkeypatch.setattr(listing, "_build", lambda s, p: builds.append(p) or real_build(s, p))

    def names(needle: str) -> set[str]:
        page = household_service.list_households(db, scope=ALL, project_id=w.project_id, q=needle)
        return {r.head_name for r in page.items}

    assert names("王") == {"王志强"}
    household_service.update_household(
        db,
        actor=ACTOR,
        scope=ALL,
        household_id=w.household_ids[0],
        data={"head_name": "王建设"},
        reason="更正",
    )
    assert names("王") == {"王志强", "王建设"}
    created = household_service.create_household(
        db,
        actor=ACTOR,
        project_id=w.project_id,
        data={"code": "H0099", "head_name": "王新户", "address": "青溪路99号"},
    )
    assert names("王") == {"王志强", "王建设", "王新户"}
    household_service.void_household(db, actor=ACTOR, scope=ALL, household_id=created.id, reason="重复登记")
    assert names("王") == {"王志强", "王建设"}
    assert builds == [w.project_id]  # read once; every later version was patched
