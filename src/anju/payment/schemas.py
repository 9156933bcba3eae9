"""Pydantic shapes of the payments API: batches, their lines, decisions, the result import, funds."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from anju.payment import rules
from anju.web.params import MAX_ID, PARAM_LABELS, TextRule

__all__ = [
    "BatchCreate",
    "BatchDecision",
    "BatchEdit",
    "BatchEventRead",
    "BatchLineRead",
    "BatchRead",
    "BatchReject",
    "BatchSummaryRead",
    "DueInstalmentRead",
    "DueKind",
    "FundsLineRead",
    "FundsRead",
    "LineCreate",
    "ResultImportRead",
    "ResultProblemRead",
]

for _name, _label in {
    "batch_id": "支付批次编号",
    "instalment_id": "付款计划编号",
    "amount_fen": "金额（分）",
    "items": "款项",
    "title": "批次名称",
    "note": "备注",
    "format": "文件格式",
    "paid_on": "到账日期",
    "dry_run": "仅校验",
    "status": "状态",
    "kind": "款项类别",
    "limit": "条数",
    "offset": "起始位置",
    "q": "搜索",
}.items():
    PARAM_LABELS.setdefault(_name, _label)

_Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# Amounts are fen; the upper bound keeps any sum of a batch's lines far inside BIGINT.
_Fen = Annotated[int, Field(ge=1, le=10**13, description="金额（分，整数）")]
_Version = Annotated[
    int | None, Field(ge=1, le=2**31 - 1, description="批次的版本号（读取时的）；过期为 409")
]
_Title = Annotated[str, TextRule("批次名称", rules.MAX_TITLE)]
_Note = Annotated[str, TextRule("备注", rules.MAX_NOTE, multiline=True)]


class LineCreate(BaseModel):
    """A line of a batch: a due instalment (付款计划), and the amount (default: what is left to pay)."""

    model_config = ConfigDict(extra="forbid")

    instalment_id: _Id
    amount_fen: _Fen | None = None


class BatchCreate(BaseModel):
    """Prepare a batch from the project's due instalments: ``items`` (each at most once) or, when
    left out or null, every due instalment with money left that no open batch holds."""

    model_config = ConfigDict(extra="forbid")

    items: Annotated[list[LineCreate] | None, Field(min_length=1, max_length=rules.MAX_LINES)] = None
    title: _Title = ""
    note: _Note = ""


class BatchEdit(BaseModel):
    """Replace the lines of a draft or rejected batch (a rejected one becomes a draft again)."""

    model_config = ConfigDict(extra="forbid")

    items: Annotated[list[LineCreate], Field(min_length=1, max_length=rules.MAX_LINES)]
    title: Annotated[str, TextRule("批次名称", rules.MAX_TITLE)] | None = None
    note: Annotated[str, TextRule("备注", rules.MAX_NOTE, multiline=True)] | None = None
    version: _Version = None


class BatchDecision(BaseModel):
    """Submit or approve a batch: ``version`` as read (optional), a note for the record."""

    model_config = ConfigDict(extra="forbid")

    version: _Version = None
    note: _Note = ""


class BatchReject(BaseModel):
    """Reject or cancel a batch: the reason is required."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, TextRule("理由", rules.MAX_NOTE, multiline=True, required=True)]
    version: _Version = None


DueKind = Literal["on_sign", "after_vacate", "reward", "adjustment", "collective", "settlement", "transition"]
"""Instalment kinds (the agreement domain's ``INSTALMENT_KINDS``; a unit test keeps them equal)."""


class DueInstalmentRead(BaseModel):
    """A due instalment with money left to pay (the due list a batch is prepared from)."""

    instalment_id: int
    agreement_id: int
    agreement_no: str
    household_id: int
    household_code: str
    head_name: str
    kind: str
    kind_label: str
    purpose: str
    due_on: date | None
    amount_fen: int
    paid_fen: int
    committed_fen: int
    remainder_fen: int
    open_fen: int = Field(description="已列入未审批批次的金额")
    open_batches: list[int]
    payee_name: str
    payee_bank: str
    payee_account: str = Field(description="无查看个人信息权限的角色看到的是打码后的账号")
    payee_complete: bool


class BatchLineRead(BaseModel):
    """One payment of a batch."""

    id: int
    line_no: int
    instalment_id: int
    agreement_id: int
    agreement_no: str
    household_id: int
    household_code: str
    head_name: str
    payee_name: str
    payee_bank: str
    payee_account: str = Field(description="无查看个人信息权限的角色看到的是打码后的账号")
    amount_fen: int
    purpose: str
    status: str
    status_label: str
    bank_ref: str
    failure_reason: str
    result_at: datetime | None


class BatchEventRead(BaseModel):
    """A step of the batch's history (from the audit log)."""

    at: datetime
    action: str
    actor: str
    reason: str


class BatchSummaryRead(BaseModel):
    """A batch in a list."""

    id: int
    project_id: int
    project_name: str
    batch_no: int
    title: str
    status: str
    status_label: str
    total_fen: int
    item_count: int
    prepared_by: int | None
    prepared_by_name: str
    prepared_at: datetime
    approved_by: int | None
    approved_by_name: str
    approved_at: datetime | None
    version: int


class BatchRead(BatchSummaryRead):
    """A batch with its lines and history."""

    submitted_at: datetime | None
    exported_at: datetime | None
    closed_at: datetime | None
    note: str
    rejection: str = Field(description="最近一次退回的理由（批次已退回或重新编辑时）")
    lines: list[BatchLineRead]
    history: list[BatchEventRead]


class ResultProblemRead(BaseModel):
    """A problem of a result file: line number, column, and the Chinese message."""

    row: int
    column: str
    message: str


class ResultImportRead(BaseModel):
    """The check (``dry_run``) or the application of a bank result file."""

    dry_run: bool
    ok: bool
    rows: int
    paid: int
    failed: int
    paid_fen: int
    failed_fen: int
    closed: bool
    households_paid: list[int] = Field(description="因本次回盘而补偿款全部付清的户")
    problems: list[ResultProblemRead]
    batch: BatchSummaryRead


class FundsLineRead(BaseModel):
    """Money of the project or of one block (fen)."""

    label: str
    block_id: int | None
    households: int
    signed_households: int
    budget_fen: int | None = Field(
        description="补偿预算：最新补偿方案“方案测算”的基准合计；未发布方案时为 null"
    )
    signed_fen: int = Field(description="已签（承诺支付）：有效及待生效协议的合计")
    paid_fen: int = Field(description="已付：银行回盘成功的金额")
    committed_fen: int = Field(description="已审批待付：已审批、等待银行处理")
    due_fen: int = Field(description="应付未付：已到期尚未付清（含已审批待付）")
    scheduled_fen: int = Field(description="未到期：等待腾空验收或生效条件的款项")
    unpaid_fen: int = Field(description="已签未付 = 已签 − 已付")


class FundsRead(BaseModel):
    """A project's funds: budget, signed, paid, committed, due, scheduled; per block."""

    project_id: int
    budget_note: str
    total: FundsLineRead
    blocks: list[FundsLineRead]
