"""The ledger (台账) with the signing columns: agreement number, option, total, sign order number,
paid and due per household, and the 合计 row; the household domain writes them without knowing
agreements (they come in through ``extra``)."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

from python_calamine import CalamineWorkbook
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.compensation import service as compensation_service
from anju.core.money import fen_to_yuan
from anju.demo.policies import POLICY_DIR
from anju.household import ledger
from anju.identity.rules import ScopeKind
from anju.identity.service import DataScope
from tests.factories import ACTOR, build_world

ALL = DataScope.everything()
SIGN_ON = date(2026, 12, 1)


def export(db: Session, project_id: int, scope: DataScope, *, extra: bool = True) -> list[list[Any]]:
    buf = io.BytesIO()
    columns = agreement_service.ledger_columns(db, scope=scope, project_id=project_id) if extra else None
    ledger.export_ledger(db, scope=scope, project_id=project_id, target=buf, extra=columns)
    wb = CalamineWorkbook.from_filelike(io.BytesIO(buf.getvalue()))
    rows: list[list[Any]] = wb.get_sheet_by_name("台账").to_python()
    return rows


def yuan(fen: int) -> float:
    return float(fen_to_yuan(fen))


def test_signing_columns_and_the_total_row(db: Session) -> None:
    w = build_world(db, households=4)
    source = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
    compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=source)
    cash = agreement_service.sign(
        db, actor=ACTOR, scope=ALL, household_id=w.household_ids[2], option="cash", sign_on=SIGN_ON
    )
    swap = agreement_service.sign(
        db, actor=ACTOR, scope=ALL, household_id=w.household_ids[0], option="swap", sign_on=SIGN_ON
    )
    # the bank paid part of the cash agreement's on-signing instalment
    on_sign = next(i for i in agreement_service.instalments(db, cash.id) if i.kind == "on_sign")
    part = on_sign.amount_fen // 2
    agreement_service.commit_payments(
        db, actor=ACTOR, project_id=w.project_id, charges=[(on_sign.id, part)], reason="测试批次"
    )
    agreement_service.settle_payments(
        db, actor=ACTOR, charges=[(on_sign.id, part)], paid_on=SIGN_ON, reason="回单"
    )
    swap_due = sum(i.amount_fen for i in agreement_service.instalments(db, swap.id) if i.status == "due")
    assert swap_due > 0

    sheet = export(db, w.project_id, ALL)
    header = sheet[1]
    base = len(ledger.HOUSEHOLD_COLUMNS)
    assert header[base:] == ["协议编号", "安置方式", "协议金额(元)", "签约顺序号", "已付(元)", "应付未付(元)"]
    body, total = sheet[2:-1], sheet[-1]
    assert [r[0] for r in body] == ["H0001", "H0002", "H0003", "H0004"]
    by_code = {r[0]: r[base:] for r in body}
    assert by_code["H0001"] == ["P1-0002", "产权调换", yuan(swap.total_fen), 2, 0.0, yuan(swap_due)]
    cash_due = on_sign.amount_fen - part  # the rest of the on-signing share; after vacating is not due
    assert by_code["H0003"] == ["P1-0001", "货币补偿", yuan(cash.total_fen), 1, yuan(part), yuan(cash_due)]
    assert by_code["H0002"] == ["", "", "", "", "", ""] and by_code["H0004"] == ["", "", "", "", "", ""]
    # the 合计 row: households, people, areas, money
    col = {name: i for i, name in enumerate(header)}
    assert total[:2] == ["合计", "4 户"]
    assert total[col["家庭人口"]] == 4 and Decimal(repr(total[col["合法面积(㎡)"]])) == Decimal("354.00")
    assert total[base:] == [
        "2 份",
        "",
        yuan(cash.total_fen + swap.total_fen),
        "",
        yuan(part),
        yuan(cash_due + swap_due),
    ]


def test_the_columns_follow_the_scope_and_are_optional(db: Session) -> None:
    w = build_world(db, households=4)
    source = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
    compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=source)
    for hid in w.household_ids[:3]:
        agreement_service.sign(db, actor=ACTOR, scope=ALL, household_id=hid, option="cash", sign_on=SIGN_ON)
    member = DataScope(kind=ScopeKind.ASSIGNED, user_id=w.users["team_member"])  # the first two households
    columns = agreement_service.ledger_columns(db, scope=member, project_id=w.project_id)
    assert sorted(columns.values) == sorted(w.household_ids[:2])
    sheet = export(db, w.project_id, member)
    assert [r[0] for r in sheet[2:]] == ["H0001", "H0002", "合计"]
    assert sheet[-1][len(ledger.HOUSEHOLD_COLUMNS)] == "2 份"
    # without extra columns the ledger is the household's own: no signing columns, no total row
    plain = export(db, w.project_id, ALL, extra=False)
    assert len(plain[1]) == len(ledger.HOUSEHOLD_COLUMNS) and [r[0] for r in plain[2:]] == [
        "H0001",
        "H0002",
        "H0003",
        "H0004",
    ]
