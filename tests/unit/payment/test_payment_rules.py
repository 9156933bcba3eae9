"""Pure payment rules: the batch transition table, two people, the bank file's cells, result rows."""

from __future__ import annotations

import pytest

from anju.core.masking import mask_account
from anju.errors import Conflict, PermissionDenied
from anju.payment import rules
from anju.payment.rules import PaymentLine, ResultRow, check_result_row


def test_every_batch_transition_is_in_the_table_and_nothing_else() -> None:
    allowed = {
        ("draft", "submitted"),
        ("draft", "cancelled"),
        ("submitted", "approved"),
        ("submitted", "rejected"),
        ("submitted", "cancelled"),
        ("rejected", "draft"),
        ("rejected", "cancelled"),
        ("approved", "exported"),
        ("exported", "closed"),
    }
    assert set(rules.BATCH_TRANSITIONS) == set(rules.BATCH_STATUSES)
    for a in rules.BATCH_STATUSES:
        for b in rules.BATCH_STATUSES:
            if (a, b) in allowed:
                rules.check_transition(a, b)
            else:
                with pytest.raises(Conflict) as exc:
                    rules.check_transition(a, b)
                assert exc.value.code == "illegal_transition"
    with pytest.raises(Conflict) as exc:
        rules.check_transition("approved", "cancelled")
    assert exc.value.message_zh == "支付批次状态为“已审批”，不能变为“已作废”"
    # approved money only leaves through the bank file; closed and cancelled are final
    assert rules.BATCH_TRANSITIONS["closed"] == rules.BATCH_TRANSITIONS["cancelled"] == frozenset()


def test_the_decider_is_never_a_preparer() -> None:
    rules.check_four_eyes(frozenset({1, 2}), 3)
    for preparers, actor in ((frozenset({1}), 1), (frozenset({1, 2}), 2), (frozenset(), None)):
        with pytest.raises(PermissionDenied) as exc:
            rules.check_four_eyes(preparers, actor)
        assert exc.value.code == "same_person" and exc.value.http_status == 403
    with pytest.raises(PermissionDenied) as exc:
        rules.check_four_eyes(frozenset({5}), 5, "退回")
    assert exc.value.message_zh == "支付批次须由编制人以外的另一人退回：您参与了本批次的编制或提交，不能退回"


@pytest.mark.parametrize(
    ("amount", "committed", "paid", "add", "over"),
    [
        (1000, 0, 0, 1000, False),
        (1000, 0, 0, 1001, True),
        (1000, 400, 0, 600, False),
        (1000, 400, 600, 1, True),
        (1000, 0, 999, 1, False),
        (1000, 0, 0, 0, True),  # nothing is not a payment
        (1000, 0, 0, -5, True),
    ],
)
def test_overpays(amount: int, committed: int, paid: int, add: int, over: bool) -> None:
    assert rules.overpays(amount_fen=amount, committed_fen=committed, paid_fen=paid, add_fen=add) is over


def test_bank_file_cells() -> None:
    assert [rules.amount_text(f) for f in (5, 1000, 10000110, 2030400, 9999999999)] == [
        "0.05",
        "10.00",
        "100001.10",
        "20304.00",
        "99999999.99",
    ]
    assert rules.EXPORT_HEADERS == ("序号", "收款人", "账号", "开户行", "金额（元）", "协议编号", "用途")
    assert [rules.csv_safe(v) for v in ("=1+1", "+86", "-3", "@SUM(A1)", "张三", "6222", "")] == [
        "'=1+1",
        "'+86",
        "'-3",
        "'@SUM(A1)",
        "张三",
        "6222",
        "",
    ]
    assert mask_account("6222 0212 3456 7890 123") == "6222***********0123"
    assert mask_account("12345678") == "****5678" and mask_account("123") == "***"


def test_result_headers_by_name() -> None:
    assert [
        rules.result_header_key(h)
        for h in ("序号", " 金额（元） ", "金额(元)", "处理结果", "银行流水号", "收款人", "其他", None)
    ] == [
        "line_no",
        "amount",
        "amount",
        "result",
        "bank_ref",
        "payee",
        None,
        None,
    ]
    assert rules.cell_text(12.0) == "12" and rules.cell_text(12.5) == "12.5" and rules.cell_text(None) == ""


LINES = [
    PaymentLine(
        payment_id=11,
        line_no=1,
        agreement_no="DP-0001",
        amount_fen=736_312_00,
        account="6222000011112222",
        status="approved",
    ),
    PaymentLine(
        payment_id=12,
        line_no=2,
        agreement_no="DP-0002",
        amount_fen=100_00,
        account="6222000011113333",
        status="approved",
    ),
    PaymentLine(
        payment_id=13,
        line_no=3,
        agreement_no="DP-0002",
        amount_fen=200_00,
        account="6222000011113333",
        status="paid",
    ),
]
BY_LINE = {p.line_no: p for p in LINES}
BY_AGREEMENT = {"DP-0001": [LINES[0]], "DP-0002": [LINES[1], LINES[2]]}


def check(row: ResultRow, seen: dict[int, int] | None = None) -> tuple[object, list[tuple[str, str]]]:
    return check_result_row(
        row, by_line_no=BY_LINE, by_agreement=BY_AGREEMENT, seen={} if seen is None else seen
    )


def test_a_good_row_names_its_payment() -> None:
    checked, problems = check(
        ResultRow(line=2, line_no="1", amount="736,312.00", result="成功", bank_ref="B1")
    )
    assert problems == [] and checked == rules.CheckedResult(2, 11, "paid", "B1", "")
    checked, problems = check(
        ResultRow(line=3, agreement_no="DP-0001", amount="736312", result="失败", failure_reason="账户冻结")
    )
    assert problems == [] and checked == rules.CheckedResult(3, 11, "failed", "", "账户冻结")


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            ResultRow(line=2, amount="1.00", result="成功", bank_ref="B"),
            [("序号", "序号和协议编号不能都为空")],
        ),
        (
            ResultRow(line=2, line_no="9", amount="1.00", result="成功", bank_ref="B"),
            [("序号", "本批次没有序号 9")],
        ),
        (
            ResultRow(line=2, line_no="1.5", amount="1.00", result="成功", bank_ref="B"),
            [("序号", "“1.5”不是有效的序号")],
        ),
        (
            ResultRow(line=2, agreement_no="DP-0002", amount="100.00", result="成功", bank_ref="B"),
            [("序号", "协议“DP-0002”在本批次有 2 笔款项，请填写序号以区分")],
        ),
        (
            ResultRow(line=2, agreement_no="DP-0404", amount="1.00", result="成功", bank_ref="B"),
            [("协议编号", "本批次没有协议编号为“DP-0404”的款项")],
        ),
        (
            ResultRow(line=2, line_no="2", amount="100.001", result="成功", bank_ref="B"),
            [("金额", "“100.001”不是有效的金额（元，最多两位小数）")],
        ),
        (
            ResultRow(line=2, line_no="2", amount="99.99", result="成功", bank_ref="B"),
            [("金额", "99.99 元与本批次序号 2 的金额 100.00 元不符")],
        ),
        (ResultRow(line=2, line_no="2", amount="", result="成功", bank_ref="B"), [("金额", "不能为空")]),
        (
            ResultRow(line=2, line_no="2", amount="100", result="", bank_ref="B"),
            [("结果", "应为“成功”或“失败”，现为空")],
        ),
        (
            ResultRow(line=2, line_no="2", amount="100", result="成功"),
            [("银行流水号", "支付成功的款项须有银行流水号")],
        ),
        (
            ResultRow(line=2, line_no="2", amount="100", result="失败", account="6222 0000 1111 9999"),
            [("账号", "与本批次序号 2 的收款账号不符")],
        ),
        (
            ResultRow(line=2, line_no="3", amount="200", result="成功", bank_ref="B"),
            [("结果", "序号 3 的款项已登记为“已支付”")],
        ),
        (
            ResultRow(line=2, line_no="2", amount="100", result="成功", bank_ref="B\x00"),
            [("银行流水号", "含有不可见的控制字符：第2个字符是 U+0000（空字符 NUL），请删除后重试")],
        ),
    ],
)
def test_a_bad_row_names_its_column(row: ResultRow, expected: list[tuple[str, str]]) -> None:
    checked, problems = check(row)
    assert checked is None
    assert problems == expected


def test_the_same_payment_twice_names_the_first_line() -> None:
    seen: dict[int, int] = {}
    assert check(ResultRow(line=2, line_no="2", amount="100", result="成功", bank_ref="B"), seen)[1] == []
    checked, problems = check(
        ResultRow(line=7, agreement_no="DP-0001", line_no="2", amount="100", result="失败"), seen
    )
    assert checked is None and ("协议编号", "“DP-0001”与本批次序号 2 的协议编号“DP-0002”不符") in problems
    checked, problems = check(ResultRow(line=8, line_no="2", amount="100", result="失败"), seen)
    assert problems == [("序号", "序号 2 的款项与第 2 行重复")]
