"""Issue #11 item 4 on SQLite, PostgreSQL and MariaDB: the selection confirmation (选房确认单) of a
finished household (refused before it finishes and after its selection is undone), closing an
event (结束选房; a reason while households are unserved), and a household whose selection a
supervisor undid being called again next after the current one."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit.models import AuditRecord
from anju.errors import Conflict, ValidationFailed
from anju.housing import service as housing_service
from anju.housing.models import Flat, SelectionEvent, SelectionOrderEntry
from tests.integration.selection_world import ALL, OFFICER, SUPERVISOR, SelectionWorld, make_event

# One-person households under the rural policy: entitled 60 ㎡, at most 1 flat of at most 75 ㎡.
FLATS = [
    ("1幢", 1, 1, "101", "A", 70, 60),
    ("1幢", 1, 2, "201", "A", 70.5, 60),
    ("1幢", 1, 3, "301", "A", 69, 58),
    ("1幢", 1, 4, "401", "A", 70, 60),
]


def _statuses(db: Session, sw: SelectionWorld) -> list[tuple[str, int]]:
    out = []
    for hid in sw.order:
        e = db.scalar(
            select(SelectionOrderEntry).where(
                SelectionOrderEntry.event_id == sw.event_id, SelectionOrderEntry.household_id == hid
            )
        )
        assert e is not None
        out.append((e.status, e.call_order))
    return out


def _audits(db: Session, action: str) -> list[AuditRecord]:
    return list(db.scalars(select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.seq)))


def _choose(db: Session, sw: SelectionWorld, hid: int, flat: str) -> int:
    sel = housing_service.select_flat(
        db, actor=OFFICER, event_id=sw.event_id, household_id=hid, flat_id=sw.flats[flat]
    )
    housing_service.finish_household(db, actor=OFFICER, event_id=sw.event_id, household_id=hid)
    return sel.id


def test_the_confirmation_of_a_finished_household(db: Session, tmp_path: Path) -> None:
    sw = make_event(db, households=2, flats=FLATS)
    first, second = sw.order
    with pytest.raises(Conflict) as exc:  # still choosing
        housing_service.confirmation_data(db, scope=ALL, event_id=sw.event_id, household_id=first)
    assert (exc.value.code, exc.value.message_zh) == (
        "not_finished",
        "户 H0001 尚未完成选房（状态：正在选房），不能打印选房确认单",
    )
    _choose(db, sw, first, "1-1-201")
    data = housing_service.confirmation_data(db, scope=ALL, event_id=sw.event_id, household_id=first)
    project_code = data["project"]["code"]
    assert data["confirmation_no"] == f"{project_code}-XF{sw.event_id}-0001"
    assert data["household"]["code"] == "H0001" and data["household"]["sign_no"] == "1"
    assert data["household"]["agreement_no"] != "—"
    assert data["position"] == "1"
    assert data["entitlement"] == {
        "entitled_area": "60.00",
        "max_area": "90.00",
        "max_flats": "1",
        "rules": ["应安置面积60㎡及以下的，所选房源每套不超过75㎡"],
    }
    assert data["flats"] == [
        {
            "no": "1",
            "code": "1-1-201",
            "estate": "安置一期",
            "building": "1幢",
            "unit": "1单元",
            "floor": "2层",
            "number": "201",
            "flat_type": "A",
            "gross_area": "70.50",
            "orientation": "—",
        }
    ]
    assert (data["total_area"], data["difference"]) == ("70.50", "+10.50")
    assert data["settlement_note"].endswith("结算金额以结算单为准。")
    assert housing_service.confirmation_file_name(db, event_id=sw.event_id, household_id=first) == (
        f"选房确认单-{project_code}-XF{sw.event_id}-0001.pdf"
    )
    pdf = housing_service.confirmation_pdf(db, scope=ALL, event_id=sw.event_id, household_id=first)
    assert pdf.startswith(b"%PDF")
    assert pdf == housing_service.confirmation_pdf(db, scope=ALL, event_id=sw.event_id, household_id=first)
    if shutil.which("pdftotext"):
        (tmp_path / "c.pdf").write_bytes(pdf)
        text = subprocess.run(
            ["pdftotext", "-layout", str(tmp_path / "c.pdf"), "-"], capture_output=True, text=True, check=True
        ).stdout
        for expected in (
            "选房确认单",
            "H0001",
            "1-1-201",
            "70.50",
            "60.00",
            "被征收人（签字/按手印）",
            "监督人员",
        ):
            assert expected in text, expected
    with pytest.raises(Conflict) as exc:  # the next one, still choosing
        housing_service.confirmation_pdf(db, scope=ALL, event_id=sw.event_id, household_id=second)
    assert exc.value.code == "not_finished"


def test_an_undone_household_is_called_next_after_the_current_one(db: Session) -> None:
    sw = make_event(db, households=3, flats=FLATS)
    first, second, _third = sw.order
    sel = _choose(db, sw, first, "1-1-101")
    assert _statuses(db, sw) == [("done", 1), ("current", 2), ("waiting", 3)]
    housing_service.undo_selection(db, actor=SUPERVISOR, selection_id=sel, reason="户主要求改选")
    # Back in the order with the current household's call number: called right after it.
    assert _statuses(db, sw) == [("waiting", 2), ("current", 2), ("waiting", 3)]
    [undo] = _audits(db, "undo")
    assert json.loads(undo.changes)["entry_status"] == ["done", "waiting"]
    assert json.loads(undo.changes)["call_order"] == [1, 2]
    with pytest.raises(Conflict) as exc:  # its confirmation is void now
        housing_service.confirmation_data(db, scope=ALL, event_id=sw.event_id, household_id=first)
    assert exc.value.message_zh == "户 H0001 的选房已被撤销，重新选房并完成后才能打印选房确认单"
    flat = db.get(Flat, sw.flats["1-1-101"])
    assert flat is not None and flat.status == "available"
    _choose(db, sw, second, "1-1-101")  # the freed flat goes to the household being served
    assert _statuses(db, sw) == [("current", 2), ("done", 2), ("waiting", 3)]
    event = db.get(SelectionEvent, sw.event_id)
    assert event is not None and event.current_position == 1
    _choose(db, sw, first, "1-1-201")
    assert _statuses(db, sw) == [("done", 2), ("done", 2), ("current", 3)]
    data = housing_service.confirmation_data(db, scope=ALL, event_id=sw.event_id, household_id=first)
    assert [f["code"] for f in data["flats"]] == ["1-1-201"]
    assert data["confirmation_no"].endswith("-0001")  # the same number, the new flat


def test_an_undo_when_nobody_is_served_makes_the_household_current(db: Session) -> None:
    sw = make_event(db, households=1, flats=FLATS)
    (hid,) = sw.order
    sel = _choose(db, sw, hid, "1-1-101")
    event = db.get(SelectionEvent, sw.event_id)
    assert event is not None and event.current_position is None
    housing_service.undo_selection(db, actor=SUPERVISOR, selection_id=sel, reason="录入错误")
    assert _statuses(db, sw) == [("current", 1)]
    assert event.current_position == 1
    console = housing_service.selection_console(db, event_id=sw.event_id)
    assert console.current is not None and console.current.household_id == hid and console.finished == []


def test_closing_needs_a_reason_while_households_are_unserved(db: Session) -> None:
    sw = make_event(db, households=3, flats=FLATS)
    first, second, third = sw.order
    _choose(db, sw, first, "1-1-101")
    housing_service.skip_household(db, actor=OFFICER, event_id=sw.event_id, household_id=second)
    event = db.get(SelectionEvent, sw.event_id)
    assert event is not None
    version = event.version
    with pytest.raises(ValidationFailed) as vexc:
        housing_service.close_event(db, actor=OFFICER, event_id=sw.event_id, reason="  ")
    assert vexc.value.message_zh == "还有 2 户未选房（等候或过号），结束选房须填写原因"
    assert (event.status, event.version, _audits(db, "close")) == ("open", version, [])
    housing_service.select_flat(
        db, actor=OFFICER, event_id=sw.event_id, household_id=third, flat_id=sw.flats["1-1-201"]
    )
    with pytest.raises(Conflict) as exc:  # chose a flat but not finished
        housing_service.close_event(db, actor=OFFICER, event_id=sw.event_id, reason="散会")
    assert exc.value.code == "current_not_finished"
    housing_service.finish_household(db, actor=OFFICER, event_id=sw.event_id, household_id=third)
    assert _statuses(db, sw)[1][0] == "current"  # the skipped one is called again
    with pytest.raises(Conflict) as exc:
        housing_service.close_event(
            db, actor=OFFICER, event_id=sw.event_id, reason="未到场户另行安排", expected_version=version
        )
    assert exc.value.code == "stale_version"
    housing_service.close_event(db, actor=OFFICER, event_id=sw.event_id, reason=" 未到场户 另行安排 ")
    assert (event.status, event.current_position) == ("closed", None)
    assert [s for s, _ in _statuses(db, sw)] == ["done", "waiting", "done"]
    [close] = _audits(db, "close")
    assert close.reason == "未到场户 另行安排"
    assert json.loads(close.changes) == {
        "status": ["open", "closed"],
        "current_position": [2, None],
        "unserved": [None, ["H0002"]],
    }
    with pytest.raises(Conflict) as exc:
        housing_service.close_event(db, actor=OFFICER, event_id=sw.event_id, reason="再结束")
    assert exc.value.code == "illegal_transition"
    with pytest.raises(Conflict) as exc:
        housing_service.select_flat(
            db, actor=OFFICER, event_id=sw.event_id, household_id=second, flat_id=sw.flats["1-1-301"]
        )
    assert exc.value.code == "event_not_open"
    console = housing_service.selection_console(db, event_id=sw.event_id)
    assert [d.code for d in console.finished] == ["H0003", "H0001"]  # latest first
    assert [d.flats for d in console.finished] == [["1-1-201"], ["1-1-101"]]
    assert console.unserved == 1


def test_closing_when_everyone_has_chosen_needs_no_reason(db: Session) -> None:
    sw = make_event(db, households=1, flats=FLATS)
    _choose(db, sw, sw.order[0], "1-1-101")
    housing_service.close_event(db, actor=OFFICER, event_id=sw.event_id)
    [close] = _audits(db, "close")
    assert (close.reason, json.loads(close.changes)["unserved"]) == ("", [None, []])
    n = db.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "close"))
    assert n == 1
