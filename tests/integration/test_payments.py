"""Payments on SQLite, PostgreSQL and MariaDB: batches from due instalments, two people, the
overpay guard (also under concurrent approvals), the bank file, the bank's result file (a bad row
applies nothing and is named by its line), full payment recording the household's paid date, and
the funds view."""

from __future__ import annotations

import csv
import io
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.agreement.models import Agreement, Instalment
from anju.audit import service as audit_service
from anju.compensation import service as compensation_service
from anju.core.actor import Actor
from anju.core.dates import today_shanghai
from anju.db import migrate
from anju.db.session import WRITE_OPTION, make_engine
from anju.demo.policies import POLICY_DIR
from anju.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from anju.household import service as household_service
from anju.identity.service import DataScope
from anju.payment import service as payment_service
from anju.payment.models import Payment, PaymentBatch
from anju.project import service as project_service
from tests.conftest import BACKENDS, new_database
from tests.factories import ACTOR, World, build_world

ALL = DataScope.everything()
SOURCE = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
ACCOUNT = "6222 0212 3456 7890 123"
BANK = "中国工商银行青溪支行"


def actor(w: World, role: str) -> Actor:
    return Actor(user_id=w.users[role], username=role, display_name=f"测试{role}", role=role)


@dataclass
class Setup:
    w: World
    finance: Actor
    commander: Actor
    agreements: list[Agreement]

    def instalments(self, db: Session, index: int) -> list[Instalment]:
        return agreement_service.instalments(db, self.agreements[index].id)


def sign(db: Session, w: World, index: int, *, account: str = ACCOUNT, bank: str = BANK) -> Agreement:
    return agreement_service.sign(
        db,
        actor=ACTOR,
        scope=ALL,
        household_id=w.household_ids[index],
        option="cash",
        sign_on=today_shanghai(),
        payee=agreement_service.Payee(name="", bank=bank, account=account),
    )


def setup(db: Session, signed: int = 2, households: int = 3) -> Setup:
    w = build_world(db, households=households)
    compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=SOURCE)
    agreements = [sign(db, w, i) for i in range(signed)]
    return Setup(w, actor(w, "finance"), actor(w, "commander"), agreements)


def state(db: Session) -> dict[str, Any]:
    """Every amount and status of payments and instalments, and the audit count."""
    db.expire_all()
    return {
        "instalments": sorted(
            (i.id, i.status, i.committed_fen, i.paid_fen, i.version) for i in db.scalars(select(Instalment))
        ),
        "batches": sorted(
            (b.id, b.status, b.version, b.approved_by) for b in db.scalars(select(PaymentBatch))
        ),
        "payments": sorted((p.id, p.status, p.amount_fen, p.bank_ref) for p in db.scalars(select(Payment))),
        "audit": audit_service.count(db),
    }


def submitted(db: Session, s: Setup, lines: list[payment_service.LineInput] | None = None) -> PaymentBatch:
    b = payment_service.create_batch(db, actor=s.finance, project_id=s.w.project_id, lines=lines)
    return payment_service.submit_batch(db, actor=s.finance, batch_id=b.id)


def exported(db: Session, s: Setup, lines: list[payment_service.LineInput] | None = None) -> PaymentBatch:
    b = submitted(db, s, lines)
    payment_service.approve_batch(db, actor=s.commander, batch_id=b.id)
    payment_service.export_batch(db, actor=s.finance, batch_id=b.id, fmt="xlsx")
    return b


def result_csv(rows: list[list[str]], header: list[str] | None = None) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header or ["序号", "协议编号", "金额", "结果", "银行流水号", "失败原因"])
    w.writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


# --------------------------------------------------------------------------- preparing


def test_a_batch_of_every_due_instalment_for_what_is_left_to_pay(db: Session) -> None:
    s = setup(db)
    due = payment_service.due_items(db, project_id=s.w.project_id)
    on_sign = [s.instalments(db, i)[0] for i in range(2)]
    assert [d.instalment.instalment_id for d in due] == [i.id for i in on_sign]
    assert all(i.kind == "on_sign" and i.status == "due" for i in on_sign)
    before = audit_service.count(db)
    b = payment_service.create_batch(db, actor=s.finance, project_id=s.w.project_id, title="", note="首批")
    v = payment_service.get_batch(db, batch_id=b.id)
    assert (b.batch_no, b.status, b.title, b.prepared_by) == (
        1,
        "draft",
        "第 1 批补偿款支付",
        s.finance.user_id,
    )
    assert [(p.line_no, p.instalment_id, p.amount_fen, p.status) for p in v.lines] == [
        (1, on_sign[0].id, on_sign[0].amount_fen, "pending"),
        (2, on_sign[1].id, on_sign[1].amount_fen, "pending"),
    ]
    assert b.total_fen == on_sign[0].amount_fen + on_sign[1].amount_fen and b.item_count == 2
    # the payee comes from the agreement; the account is stored as digits
    assert {(p.payee_name, p.payee_bank, p.payee_account) for p in v.lines} == {
        ("张建国", BANK, "6222021234567890123"),
        ("李秀英", BANK, "6222021234567890123"),
    }
    assert audit_service.count(db) == before + 1
    assert audit_service.last_change(db, entity="payment_batch", entity_id=b.id).action == "create"  # type: ignore[union-attr]
    # nothing is committed by preparing; the due list shows what the open batch holds
    assert [i.committed_fen for i in on_sign] == [0, 0]
    due = payment_service.due_items(db, project_id=s.w.project_id)
    assert [(d.open_fen, d.open_batches, d.suggested_fen) for d in due] == [
        (on_sign[0].amount_fen, (1,), 0),
        (on_sign[1].amount_fen, (1,), 0),
    ]
    # a second "all due" batch finds nothing that no open batch holds
    with pytest.raises(Conflict) as exc:
        payment_service.create_batch(db, actor=s.finance, project_id=s.w.project_id)
    assert exc.value.code == "nothing_due"
    # the next batch of chosen lines gets number 2
    b2 = payment_service.create_batch(
        db,
        actor=s.finance,
        project_id=s.w.project_id,
        lines=[payment_service.LineInput(on_sign[1].id, 100_00)],
    )
    assert (b2.batch_no, b2.total_fen) == (2, 100_00)


def test_missing_bank_account_is_refused_naming_the_household(db: Session) -> None:
    s = setup(db, signed=1)
    sign(db, s.w, 1, account="")
    sign(db, s.w, 2, bank="")
    before = state(db)
    with pytest.raises(Conflict) as exc:
        payment_service.create_batch(db, actor=s.finance, project_id=s.w.project_id)
    assert exc.value.code == "payee_missing"
    assert "H0002 李秀英" in exc.value.message_zh and "H0003 王志强" in exc.value.message_zh
    assert "H0001" not in exc.value.message_zh
    assert [d["message"] for d in exc.value.details] == [
        "H0002 李秀英（协议 P1-0002）缺少账号",
        "H0003 王志强（协议 P1-0003）缺少开户行",
    ]
    assert state(db) == before


def test_chosen_lines_are_checked(db: Session) -> None:
    s = setup(db, signed=1)
    on_sign, after_vacate = s.instalments(db, 0)
    L = payment_service.LineInput
    cases: list[tuple[list[payment_service.LineInput], type[Exception], str, str]] = [
        ([L(on_sign.id, on_sign.amount_fen + 1)], Conflict, "overpay", "尚可支付"),
        ([L(after_vacate.id)], Conflict, "not_payable", "当前为“未到期”，不能支付"),
        ([L(on_sign.id), L(on_sign.id, 1)], Conflict, "duplicate_line", "不能在批次中列出两次"),
        ([L(10**12)], NotFound, "not_found", "本项目没有这些付款计划"),
    ]
    before = state(db)
    for lines, error, code, text in cases:
        with pytest.raises(error) as exc:  # type: ignore[type-var]
            payment_service.create_batch(db, actor=s.finance, project_id=s.w.project_id, lines=lines)
        assert exc.value.code == code and text in exc.value.message_zh, exc.value.message_zh  # type: ignore[attr-defined]
    assert state(db) == before


# --------------------------------------------------------------------------- the due list at scale


@dataclass
class Spread:
    """Seven households over two blocks and a sub-block of the east one; six signed."""

    s: Setup
    sub_block: int
    on_sign: dict[str, int]  # household code -> its on-signing instalment id
    vacate: int  # H0001's after-vacating instalment, made due


def spread(db: Session) -> Spread:
    """H0001..H0006 (east: 1, 3, 5; west: 2, 4, 6) and H0099 周子涵 in 东片区 / 一组. Signed in
    this order: H0001 (P1-0001), H0002, H0003, H0004, H0099 (P1-0005), H0006 without an account
    (P1-0006). H0001's after-vacating instalment is due too."""
    w = build_world(db, households=6)
    compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=SOURCE)
    sub = project_service.add_block(
        db,
        actor=ACTOR,
        project_id=w.project_id,
        code="E1",
        name="一组",
        level="group",
        parent_id=w.block_ids["E"],
    )
    extra = household_service.create_household(
        db,
        actor=ACTOR,
        project_id=w.project_id,
        block_id=sub.id,
        data={"code": "H0099", "head_name": "周子涵", "address": "青溪路99号"},
    )
    household_service.add_building(
        db,
        actor=ACTOR,
        scope=ALL,
        household_id=extra.id,
        data={"certificate_no": "Z00099", "structure": "砖混", "use": "住宅", "legal_area": "70.00"},
    )
    w.household_ids.append(extra.id)
    agreements = [sign(db, w, i) for i in range(4)] + [sign(db, w, 6), sign(db, w, 5, account="")]
    s = Setup(w, actor(w, "finance"), actor(w, "commander"), agreements)
    vacate = s.instalments(db, 0)[1]
    agreement_service.make_due(db, actor=ACTOR, instalment=vacate, due_on=today_shanghai())
    codes = ["H0001", "H0002", "H0003", "H0004", "H0099", "H0006"]
    return Spread(s, sub.id, {c: s.instalments(db, k)[0].id for k, c in enumerate(codes)}, vacate.id)


def ids_of(page: payment_service.DuePage) -> list[int]:
    return [d.instalment.instalment_id for d in page.items]


def test_the_due_list_is_filtered_by_block_kind_and_search(db: Session) -> None:
    sp = spread(db)
    pid, o, F = sp.s.w.project_id, sp.on_sign, payment_service.DueFilter
    everything = payment_service.due_page(db, project_id=pid)
    # sign order, then schedule order: H0001's two instalments first
    assert ids_of(everything) == [
        o["H0001"],
        sp.vacate,
        o["H0002"],
        o["H0003"],
        o["H0004"],
        o["H0099"],
        o["H0006"],
    ]
    assert (everything.total, everything.overall, everything.payee_missing) == (7, 7, 1)
    assert everything.kinds == {"on_sign": "签约后支付", "after_vacate": "腾空验收后支付"}
    assert everything.remainder_fen == sum(d.instalment.remainder_fen for d in everything.items)
    cases: list[tuple[payment_service.DueFilter, list[int]]] = [
        # a block holds the blocks below it
        (F(block_id=sp.s.w.block_ids["E"]), [o["H0001"], sp.vacate, o["H0003"], o["H0099"]]),
        (F(block_id=sp.sub_block), [o["H0099"]]),
        (F(block_id=sp.s.w.block_ids["W"]), [o["H0002"], o["H0004"], o["H0006"]]),
        (F(kind="after_vacate"), [sp.vacate]),
        (F(kind="on_sign", block_id=sp.s.w.block_ids["E"]), [o["H0001"], o["H0003"], o["H0099"]]),
        (F(kind="after_vacate", block_id=sp.s.w.block_ids["W"]), []),
        (F(kind="reward"), []),
        # the search: household code (any case), head name, agreement number
        (F(q=" h0002 "), [o["H0002"]]),
        (F(q="李秀"), [o["H0002"]]),
        (F(q="周子涵"), [o["H0099"]]),
        (F(q="p1-0005"), [o["H0099"]]),
        (F(q="H000"), [o["H0001"], sp.vacate, o["H0002"], o["H0003"], o["H0004"], o["H0006"]]),
        (F(q="张建国", kind="after_vacate"), [sp.vacate]),
        (F(q="没有这个人"), []),
        # a block that is not the project's, or does not exist, matches nothing
        (F(block_id=10**9), []),
    ]
    for f, expected in cases:
        page = payment_service.due_page(db, project_id=pid, due_filter=f)
        assert ids_of(page) == expected, f
        assert (page.total, page.overall) == (len(expected), 7), f
        assert page.remainder_fen == sum(d.instalment.remainder_fen for d in page.items), f
    with pytest.raises(NotFound):
        payment_service.due_page(db, project_id=10**9)


def test_the_due_list_is_paged_with_the_totals_of_the_filter(db: Session) -> None:
    sp = spread(db)
    pid, o = sp.s.w.project_id, sp.on_sign
    order = ids_of(payment_service.due_page(db, project_id=pid))
    pages = [payment_service.due_page(db, project_id=pid, offset=k, limit=3) for k in (0, 3, 6, 9)]
    assert [ids_of(p) for p in pages] == [order[:3], order[3:6], order[6:], []]
    assert [(p.total, p.page, p.pages) for p in pages] == [(7, 1, 3), (7, 2, 3), (7, 3, 3), (7, 4, 3)]
    full = payment_service.due_page(db, project_id=pid)
    assert all(p.remainder_fen == full.remainder_fen for p in pages)  # the filter's total, not the page's
    # a batch holding H0003's instalment: still due (not approved), no longer batchable
    held = payment_service.create_batch(
        db, actor=sp.s.finance, project_id=pid, lines=[payment_service.LineInput(o["H0003"])]
    )
    east = payment_service.DueFilter(block_id=sp.s.w.block_ids["E"])
    page = payment_service.due_page(db, project_id=pid, due_filter=east, offset=1, limit=2)
    assert ids_of(page) == [sp.vacate, o["H0003"]]
    assert (page.total, page.batchable) == (4, 3)
    rows = payment_service.due_page(db, project_id=pid, due_filter=east).items
    assert page.batchable_fen == sum(d.instalment.remainder_fen for d in rows) - held.total_fen
    assert [d.open_batches for d in rows] == [(), (), (held.batch_no,), ()]
    # what a batch's page lists to add: everything but its own lines
    others = payment_service.due_page(db, project_id=pid, due_filter=east, exclude=[o["H0003"]])
    assert ids_of(others) == [o["H0001"], sp.vacate, o["H0099"]] and others.total == 3


def test_a_batch_of_everything_a_filter_matches(db: Session) -> None:
    sp = spread(db)
    pid, o, F = sp.s.w.project_id, sp.on_sign, payment_service.DueFilter
    east = F(block_id=sp.s.w.block_ids["E"])
    expected = payment_service.due_page(db, project_id=pid, due_filter=east).items
    before = audit_service.count(db)
    b = payment_service.create_batch_from_filter(
        db, actor=sp.s.finance, project_id=pid, due_filter=east, title="东片区", note="按片区"
    )
    v = payment_service.get_batch(db, batch_id=b.id)
    assert [(p.line_no, p.instalment_id, p.amount_fen) for p in v.lines] == [
        (n, d.instalment.instalment_id, d.instalment.remainder_fen) for n, d in enumerate(expected, start=1)
    ]
    assert [p.instalment_id for p in v.lines] == [o["H0001"], sp.vacate, o["H0003"], o["H0099"]]
    assert (b.status, b.title, b.note, b.item_count) == ("draft", "东片区", "按片区", 4)
    assert audit_service.count(db) == before + 1
    # the same filter again: everything is held by the open batch; nothing is written
    refusals: list[tuple[payment_service.DueFilter, str, str]] = [
        (east, "nothing_due", "筛选出的应付款项中没有可列入批次的"),
        (F(q="没有这个人"), "nothing_due", "筛选出的应付款项中没有可列入批次的"),
        (F(block_id=10**9), "nothing_due", "筛选出的应付款项中没有可列入批次的"),
        # the west block holds H0006, whose agreement has no account: named, nothing written
        (F(block_id=sp.s.w.block_ids["W"]), "payee_missing", "H0006 杨丽娟"),
        # the empty filter is every due instalment (create_batch without lines): H0006 again
        (F(), "payee_missing", "H0006 杨丽娟"),
    ]
    before_state = state(db)
    for f, code, text in refusals:
        with pytest.raises(Conflict) as exc:
            payment_service.create_batch_from_filter(db, actor=sp.s.finance, project_id=pid, due_filter=f)
        assert exc.value.code == code and text in exc.value.message_zh, (f, exc.value.message_zh)
    assert state(db) == before_state
    # a filter leaving H0006 out: the other west households
    b2 = payment_service.create_batch_from_filter(
        db, actor=sp.s.finance, project_id=pid, due_filter=F(q="李秀英")
    )
    lines = payment_service.get_batch(db, batch_id=b2.id).lines
    assert [(p.instalment_id, b2.batch_no) for p in lines] == [(o["H0002"], 2)]


def test_a_batch_is_edited_a_page_at_a_time(db: Session) -> None:
    sp = spread(db)
    pid, o, L = sp.s.w.project_id, sp.on_sign, payment_service.LineInput
    b = payment_service.create_batch(
        db, actor=sp.s.finance, project_id=pid, lines=[L(o["H0001"]), L(o["H0002"], 100_00), L(o["H0003"])]
    )

    def lines() -> list[tuple[int, int, int]]:
        return [
            (p.line_no, p.instalment_id, p.amount_fen)
            for p in payment_service.get_batch(db, batch_id=b.id).lines
        ]

    first = lines()
    # a page showing only the second line, unchecked: it leaves; the others stay as they were
    payment_service.revise_batch(
        db, actor=sp.s.finance, batch_id=b.id, shown=[o["H0002"]], chosen=[], expected_version=1
    )
    assert lines() == [(1, o["H0001"], first[0][2]), (2, o["H0003"], first[2][2])]
    # a page showing the first line with a new amount, and H0004 checked to add
    payment_service.revise_batch(
        db,
        actor=sp.s.finance,
        batch_id=b.id,
        shown=[o["H0001"]],
        chosen=[L(o["H0001"], 500_00), L(o["H0004"], 200_00)],
        expected_version=2,
    )
    assert lines() == [(1, o["H0001"], 500_00), (2, o["H0003"], first[2][2]), (3, o["H0004"], 200_00)]
    # the additions form: nothing shown, everything the filter matches (after-vacating) added
    payment_service.revise_batch(
        db,
        actor=sp.s.finance,
        batch_id=b.id,
        shown=[],
        chosen=[],
        add_filter=payment_service.DueFilter(q="张建国"),
        expected_version=3,
    )
    vacate_left = (
        payment_service.due_page(
            db, project_id=pid, due_filter=payment_service.DueFilter(kind="after_vacate")
        )
        .items[0]
        .instalment.remainder_fen
    )
    assert lines()[3:] == [(4, sp.vacate, vacate_left)]  # H0001's on-signing line is not added twice
    assert len(lines()) == 4
    # refused: a stale version (names who changed it), a filter adding nothing; nothing changes
    before = state(db)
    with pytest.raises(Conflict) as exc:
        payment_service.revise_batch(
            db, actor=sp.s.finance, batch_id=b.id, shown=[sp.vacate], chosen=[], expected_version=1
        )
    assert exc.value.code == "stale_version" and "测试finance" in exc.value.message_zh, exc.value.message_zh
    with pytest.raises(Conflict) as exc:
        payment_service.revise_batch(
            db,
            actor=sp.s.finance,
            batch_id=b.id,
            shown=[],
            chosen=[],
            add_filter=payment_service.DueFilter(block_id=sp.sub_block, q="H0001"),
            expected_version=4,
        )
    assert exc.value.code == "nothing_due"
    assert state(db) == before


# --------------------------------------------------------------------------- two people


def test_the_same_user_cannot_prepare_and_approve(db: Session) -> None:
    s = setup(db, signed=1)
    b = submitted(db, s)
    # a user holding both roles' permissions is still one person: refused with 403, nothing changes
    before = state(db)
    for decide in (
        lambda: payment_service.approve_batch(db, actor=s.finance, batch_id=b.id),
        lambda: payment_service.reject_batch(db, actor=s.finance, batch_id=b.id, reason="自己退回"),
        lambda: payment_service.approve_batch(db, actor=ACTOR, batch_id=b.id),  # a system job decides nothing
    ):
        with pytest.raises(PermissionDenied) as exc:
            decide()
        assert exc.value.code == "same_person" and exc.value.http_status == 403
        assert "须由编制人以外的另一人" in exc.value.message_zh
    assert state(db) == before
    # whoever edited a batch counts as a preparer too
    other = actor(s.w, "case_officer")
    b2 = payment_service.create_batch(
        db,
        actor=s.finance,
        project_id=s.w.project_id,
        lines=[payment_service.LineInput(s.instalments(db, 0)[0].id, 1)],
    )
    payment_service.update_batch(
        db,
        actor=s.commander,
        batch_id=b2.id,
        lines=[payment_service.LineInput(s.instalments(db, 0)[0].id, 2)],
        expected_version=b2.version,
    )
    payment_service.submit_batch(db, actor=other, batch_id=b2.id)
    for who in (s.commander, other):
        with pytest.raises(PermissionDenied):
            payment_service.approve_batch(db, actor=who, batch_id=b2.id)
    # ...while another person approves: the amount is committed against the instalment
    approved = payment_service.approve_batch(db, actor=s.commander, batch_id=b.id)
    assert (approved.status, approved.approved_by) == ("approved", s.commander.user_id)
    on_sign = s.instalments(db, 0)[0]
    assert on_sign.committed_fen == on_sign.amount_fen and on_sign.paid_fen == 0
    assert {p.status for p in payment_service.get_batch(db, batch_id=b.id).lines} == {"approved"}


def test_paying_more_than_is_due_is_refused_and_nothing_changes(db: Session) -> None:
    s = setup(db, signed=1)
    on_sign = s.instalments(db, 0)[0]
    full = [payment_service.LineInput(on_sign.id, on_sign.amount_fen)]
    first = submitted(db, s, full)
    second = submitted(db, s, [payment_service.LineInput(on_sign.id, 500_00)])
    payment_service.approve_batch(db, actor=s.commander, batch_id=first.id)
    before = state(db)
    with pytest.raises(Conflict) as exc:
        payment_service.approve_batch(db, actor=s.commander, batch_id=second.id)
    assert exc.value.code == "overpay"
    amount = on_sign.amount_fen
    assert exc.value.message_zh == (
        "支付金额超过应付金额，未作任何更改：协议 P1-0001 的“签约后支付”"
        f"应付 {amount // 100:,}.{amount % 100:02d} 元，已付 0.00 元，"
        f"已审批待付 {amount // 100:,}.{amount % 100:02d} 元，本批次 500.00 元，超出应付 500.00 元"
    )
    assert exc.value.details[0]["requested_fen"] == 500_00
    assert state(db) == before
    # the batch stays submitted: it can be rejected and edited down to what is left (nothing)
    payment_service.reject_batch(db, actor=s.commander, batch_id=second.id, reason="该笔已在第 1 批支付")
    view = payment_service.get_batch(db, batch_id=second.id)
    assert (view.batch.status, view.rejection) == ("rejected", "该笔已在第 1 批支付")
    with pytest.raises(Conflict) as exc:
        payment_service.update_batch(
            db,
            actor=s.finance,
            batch_id=second.id,
            lines=[payment_service.LineInput(on_sign.id, 1)],
            expected_version=view.batch.version,
        )
    assert exc.value.code == "overpay" and "尚可支付 0.00 元" in exc.value.message_zh
    cancelled = payment_service.cancel_batch(db, actor=s.finance, batch_id=second.id, reason="重复编制")
    assert cancelled.status == "cancelled"
    assert {p.status for p in db.scalars(select(Payment).where(Payment.batch_id == second.id))} == {
        "cancelled"
    }


def test_illegal_moves_and_stale_versions_are_409(db: Session) -> None:
    s = setup(db, signed=1)
    b = payment_service.create_batch(db, actor=s.finance, project_id=s.w.project_id)
    version = b.version
    before = state(db)
    for move in (
        lambda: payment_service.approve_batch(db, actor=s.commander, batch_id=b.id),
        lambda: payment_service.export_batch(db, actor=s.finance, batch_id=b.id, fmt="csv"),
        lambda: payment_service.import_result(db, actor=s.finance, batch_id=b.id, rows=[]),
        lambda: payment_service.submit_batch(
            db, actor=s.finance, batch_id=b.id, expected_version=version + 1
        ),
    ):
        with pytest.raises(Conflict) as exc:
            move()
        assert exc.value.code in ("illegal_transition", "stale_version")
    assert state(db) == before
    with pytest.raises(Conflict) as exc:
        payment_service.submit_batch(db, actor=s.finance, batch_id=b.id, expected_version=version + 1)
    assert exc.value.code == "stale_version" and "测试finance" in exc.value.message_zh
    payment_service.submit_batch(db, actor=s.finance, batch_id=b.id, expected_version=version)
    with pytest.raises(Conflict) as exc:
        payment_service.cancel_batch(db, actor=s.finance, batch_id=b.id, reason="x", expected_version=version)
    assert exc.value.code == "stale_version"
    with pytest.raises(NotFound):
        payment_service.get_batch(db, batch_id=10**12)


# --------------------------------------------------------------------------- the bank file


def test_bank_file_columns_xlsx_and_csv(db: Session) -> None:
    from python_calamine import CalamineWorkbook

    s = setup(db)
    b = submitted(db, s)
    payment_service.approve_batch(db, actor=s.commander, batch_id=b.id)
    before = audit_service.count(db)
    f = payment_service.export_batch(db, actor=s.finance, batch_id=b.id, fmt="xlsx")
    assert f.filename == f"支付批次-{s.w.project_id}-001.xlsx"
    db.refresh(b)
    assert b.status == "exported" and b.exported_at is not None
    wb = CalamineWorkbook.from_filelike(io.BytesIO(f.content))
    assert wb.sheet_names == ["代发明细", "说明"]
    rows = wb.get_sheet_by_name("代发明细").to_python()
    on_sign = [s.instalments(db, i)[0] for i in range(2)]
    assert rows == [
        ["序号", "收款人", "账号", "开户行", "金额（元）", "协议编号", "用途"],
        [
            "1",
            "张建国",
            "6222021234567890123",
            BANK,
            yuan(on_sign[0].amount_fen),
            "P1-0001",
            "P1-0001 签约后支付",
        ],
        [
            "2",
            "李秀英",
            "6222021234567890123",
            BANK,
            yuan(on_sign[1].amount_fen),
            "P1-0002",
            "P1-0002 签约后支付",
        ],
    ]
    c = payment_service.export_batch(db, actor=s.finance, batch_id=b.id, fmt="csv")
    assert c.content.startswith(b"\xef\xbb\xbf") and c.media_type.startswith("text/csv")
    text = c.content.decode("utf-8-sig")
    assert text.splitlines()[0] == "序号,收款人,账号,开户行,金额（元）,协议编号,用途"
    assert list(csv.reader(io.StringIO(text)))[1:] == [[str(x) for x in r] for r in rows[1:]]
    assert "\r\n" in text
    # both downloads are audited (they carry account numbers); the status moved once
    history = [r.action for r in payment_service.batch_history(db, batch_id=b.id)]
    assert history == ["create", "submit", "approve", "export", "export"]
    assert audit_service.count(db) == before + 2


# --------------------------------------------------------------------------- the result file


def test_a_result_file_with_a_bad_row_applies_nothing_and_names_the_line(db: Session) -> None:
    s = setup(db)
    b = exported(db, s)
    lines = payment_service.get_batch(db, batch_id=b.id).lines
    data = result_csv(
        [
            ["1", "P1-0001", yuan(lines[0].amount_fen), "成功", "BK0001", ""],
            ["2", "P1-0002", "1.00", "成功", "BK0002", ""],
            ["", "", "", "", "", ""],
            ["9", "", "1.00", "已付", "", ""],
        ]
    )
    rows = payment_service.read_result_file(data, "回盘.csv")
    assert [r.line for r in rows] == [2, 3, 5]
    before = state(db)
    with pytest.raises(ValidationFailed) as exc:
        payment_service.import_result(db, actor=s.finance, batch_id=b.id, rows=rows)
    assert exc.value.message_zh.startswith(
        "回盘文件有 3 处错误，未登记任何一笔：第 3 行“金额”：1.00 元与本批次序号 2 的金额"
    )
    assert [d["message"] for d in exc.value.details] == [
        f"第 3 行“金额”：1.00 元与本批次序号 2 的金额 {yuan(lines[1].amount_fen)} 元不符",
        "第 5 行“序号”：本批次没有序号 9",
        "第 5 行“结果”：应为“成功”或“失败”，现为“已付”",
    ]
    assert {d["row"] for d in exc.value.details} == {3, 5}
    assert state(db) == before
    # a dry run reports the same without writing
    check = payment_service.check_result(db, batch_id=b.id, rows=rows, paid_on=today_shanghai())
    assert not check.ok and len(check.problems) == 3 and [r.line for r in check.rows] == [2]
    assert state(db) == before


def test_result_rows_are_checked_one_by_one(db: Session) -> None:
    s = setup(db)
    b = exported(db, s)
    lines = payment_service.get_batch(db, batch_id=b.id).lines
    a0, a1 = yuan(lines[0].amount_fen), yuan(lines[1].amount_fen)
    header = ["序号", "协议编号", "金额（元）", "结果", "银行流水号", "失败原因", "账号"]
    data = result_csv(
        [
            ["1", "P1-0002", a0, "成功", "BK1", "", ""],  # agreement of another line
            ["1", "", a0, "失败", "", "账户冻结", ""],  # the same payment again
            ["2", "", a1, "成功", "", "", "6222000000000000"],  # no reference, another account
            ["x", "", "1.5.0", "成功", "BK3", "", ""],
        ],
        header,
    )
    check = payment_service.check_result(
        db, batch_id=b.id, rows=payment_service.read_result_file(data, "r.csv"), paid_on=today_shanghai()
    )
    assert [p.as_dict()["message"] for p in check.problems] == [
        "第 2 行“协议编号”：“P1-0002”与本批次序号 1 的协议编号“P1-0001”不符",
        "第 3 行“序号”：序号 1 的款项与第 2 行重复",
        "第 4 行“银行流水号”：支付成功的款项须有银行流水号",
        "第 4 行“账号”：与本批次序号 2 的收款账号不符",
        "第 5 行“序号”：“x”不是有效的序号",
        "第 5 行“金额”：“1.5.0”不是有效的金额（元，最多两位小数）",
    ]
    # a file without the columns is refused at its header
    with pytest.raises(ValidationFailed) as exc:
        payment_service.read_result_file(result_csv([["1"]], ["序号", "收款人"]), "r.csv")
    assert "找不到表头" in exc.value.message_zh and exc.value.details[0]["row"] == 1


def test_full_payment_marks_the_household_paid(db: Session) -> None:
    s = setup(db, signed=2)
    # the after-vacating share falls due (as a vacating acceptance would make it)
    for i in (0, 1):
        after = s.instalments(db, i)[1]
        agreement_service.make_due(db, actor=ACTOR, instalment=after, due_on=today_shanghai())
    b = exported(db, s)
    lines = payment_service.get_batch(db, batch_id=b.id).lines
    assert len(lines) == 4
    first = s.w.household_ids[0]
    rows = [
        [str(p.line_no), "", yuan(p.amount_fen), "成功", f"BK{p.line_no:04d}", ""]
        if p.household_id == first
        else [str(p.line_no), "", yuan(p.amount_fen), "失败", "", "户名与账号不符"]
        for p in lines
    ]
    paid_on = today_shanghai()
    result = payment_service.import_result(
        db,
        actor=s.finance,
        batch_id=b.id,
        rows=payment_service.read_result_file(result_csv(rows), "r.csv"),
        paid_on=paid_on,
    )
    assert (result.paid, result.failed, result.closed) == (2, 2, True)
    assert result.households_paid == [first]
    db.expire_all()
    h0 = household_service.get_household(db, scope=ALL, household_id=s.w.household_ids[0])
    h1 = household_service.get_household(db, scope=ALL, household_id=s.w.household_ids[1])
    assert h0.paid_on == paid_on and h1.paid_on is None
    assert [(i.status, i.paid_fen == i.amount_fen, i.committed_fen) for i in s.instalments(db, 0)] == [
        ("paid", True, 0),
        ("paid", True, 0),
    ]
    # the failed payment released its amount: still due, nothing committed, payable again
    failed = [p for p in payment_service.get_batch(db, batch_id=b.id).lines if p.status == "failed"]
    assert [p.failure_reason for p in failed] == ["户名与账号不符"] * 2
    for p in failed:
        i = db.get(Instalment, p.instalment_id)
        assert i is not None and (i.status, i.committed_fen, i.paid_fen) == ("due", 0, 0)
    again = payment_service.create_batch(db, actor=s.finance, project_id=s.w.project_id)
    assert sorted(p.instalment_id for p in payment_service.get_batch(db, batch_id=again.id).lines) == sorted(
        p.instalment_id for p in failed
    )
    db.refresh(b)
    assert b.status == "closed" and b.closed_at is not None
    # a closed batch takes no more results
    with pytest.raises(Conflict):
        payment_service.import_result(db, actor=s.finance, batch_id=b.id, rows=[])


def test_a_partial_result_leaves_the_batch_exported(db: Session) -> None:
    s = setup(db)
    b = exported(db, s)
    first = payment_service.get_batch(db, batch_id=b.id).lines[0]
    rows = payment_service.read_result_file(
        result_csv([["1", "P1-0001", yuan(first.amount_fen), "成功", "BK9", ""]]), "r.csv"
    )
    r = payment_service.import_result(db, actor=s.finance, batch_id=b.id, rows=rows)
    assert (r.paid, r.closed, r.households_paid) == (
        1,
        False,
        [],
    )  # the after-vacating share is still scheduled
    db.refresh(b)
    assert b.status == "exported"
    with pytest.raises(ValidationFailed) as exc:
        payment_service.import_result(db, actor=s.finance, batch_id=b.id, rows=rows)
    assert exc.value.details[0]["message"] == "第 2 行“结果”：序号 1 的款项已登记为“已支付”"
    with pytest.raises(Conflict) as cexc:
        payment_service.import_result(
            db, actor=s.finance, batch_id=b.id, rows=rows, paid_on=today_shanghai() + timedelta(days=1)
        )
    assert cexc.value.code == "paid_on"
    before = state(db)
    with pytest.raises(ValidationFailed) as exc:
        payment_service.import_result(db, actor=s.finance, batch_id=b.id, rows=[])
    assert exc.value.message_zh == "回盘文件中没有数据行"
    assert state(db) == before


# --------------------------------------------------------------------------- funds


def test_funds_view(db: Session) -> None:
    s = setup(db, signed=2, households=4)
    budget = compensation_service.project_budget(db, project_id=s.w.project_id)
    f = payment_service.project_funds(db, project_id=s.w.project_id)
    totals = [a.total_fen for a in s.agreements]
    on_sign = [s.instalments(db, i)[0].amount_fen for i in range(2)]
    after = [s.instalments(db, i)[1].amount_fen for i in range(2)]
    t = f.total
    assert (t.budget_fen, t.signed_fen, t.paid_fen, t.committed_fen, t.due_fen, t.scheduled_fen) == (
        budget.total_fen,
        sum(totals),
        0,
        0,
        sum(on_sign),
        sum(after),
    )
    assert budget.total_fen > sum(totals) and (t.households, t.signed_households) == (4, 2)
    assert "按补偿方案第 1 版“货币补偿”测算" in f.budget_note
    # per block: households 0 and 2 are in E, 1 and 3 in W
    assert [(b.label, b.households, b.signed_fen) for b in f.blocks] == [
        ("东片区", 2, totals[0]),
        ("西片区", 2, totals[1]),
    ]
    assert sum(b.budget_fen or 0 for b in f.blocks) == budget.total_fen
    b = exported(db, s, [payment_service.LineInput(s.instalments(db, 0)[0].id)])
    f = payment_service.project_funds(db, project_id=s.w.project_id)
    assert (f.total.committed_fen, f.total.due_fen) == (on_sign[0], sum(on_sign))
    line = payment_service.get_batch(db, batch_id=b.id).lines[0]
    payment_service.import_result(
        db,
        actor=s.finance,
        batch_id=b.id,
        rows=payment_service.read_result_file(
            result_csv([["1", "", yuan(line.amount_fen), "成功", "BK1", ""]]), "r.csv"
        ),
    )
    f = payment_service.project_funds(db, project_id=s.w.project_id)
    assert (f.total.paid_fen, f.total.committed_fen, f.total.due_fen, f.total.unpaid_fen) == (
        on_sign[0],
        0,
        on_sign[1],
        sum(totals) - on_sign[0],
    )


def test_funds_without_a_policy(db: Session) -> None:
    w = build_world(db, households=2)
    f = payment_service.project_funds(db, project_id=w.project_id)
    assert (f.total.budget_fen, f.total.signed_fen, f.budget_note) == (None, 0, "尚未发布补偿方案，无预算")


# --------------------------------------------------------------------------- concurrency


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_concurrent_approvals_that_together_would_overpay_one_wins(
    backend: str, tmp_path: Path, settings_env: Path
) -> None:
    """Two batches each paying the whole on-signing share of the same agreements, approved by two
    leaders at the same moment: exactly one approval commits, the other is refused (overpay) and
    leaves its batch submitted; the instalments hold exactly their amount."""
    url, handle = new_database(backend, tmp_path)
    migrate.upgrade(url)
    engine = make_engine(url).execution_options(**{WRITE_OPTION: True})
    try:
        with Session(engine) as db:
            s = setup(db, signed=2)
            from anju.identity import service as identity_service

            other = identity_service.create_user(
                db,
                actor=ACTOR,
                username="zhihui2",
                display_name="第二指挥长",
                password="Test-Passw0rd!",
                role="commander",
            )
            leaders = [
                s.commander,
                Actor(user_id=other.id, username="zhihui2", display_name="第二指挥长", role="commander"),
            ]
            ids = [s.instalments(db, i)[0].id for i in range(2)]
            amounts = [s.instalments(db, i)[0].amount_fen for i in range(2)]
            # the lines in opposite orders: the locks are still taken in id order (no deadlock)
            b1 = submitted(db, s, [payment_service.LineInput(i) for i in ids])
            b2 = submitted(
                db,
                s,
                [payment_service.LineInput(i, a) for i, a in reversed(list(zip(ids, amounts, strict=True)))],
            )
            batch_ids = [b1.id, b2.id]
            db.commit()
        barrier = threading.Barrier(2)
        outcomes: dict[int, str] = {}

        def approve(k: int) -> None:
            with Session(engine) as db:
                try:
                    barrier.wait(timeout=10)
                    payment_service.approve_batch(db, actor=leaders[k], batch_id=batch_ids[k])
                    db.commit()
                    outcomes[k] = "approved"
                except Conflict as exc:
                    db.rollback()
                    outcomes[k] = exc.code
                except BaseException as exc:  # reported below
                    db.rollback()
                    outcomes[k] = repr(exc)

        threads = [threading.Thread(target=approve, args=(k,)) for k in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(outcomes.values()) == ["approved", "overpay"], outcomes
        winner = next(k for k, v in outcomes.items() if v == "approved")
        with Session(engine) as db:
            rows = {i.id: i for i in db.scalars(select(Instalment).where(Instalment.id.in_(ids)))}
            assert [(rows[i].committed_fen, rows[i].paid_fen) for i in ids] == [(a, 0) for a in amounts]
            statuses = {b.id: b.status for b in db.scalars(select(PaymentBatch))}
            assert statuses == {
                batch_ids[winner]: "approved",
                batch_ids[1 - winner]: "submitted",
            }
            assert (
                db.scalar(select(func.count()).select_from(Payment).where(Payment.status == "approved")) == 2
            )
            assert audit_service.verify(db).ok
    finally:
        engine.dispose()
        if handle is not None:
            handle.drop()
