"""Pydantic shapes of the signing API (one section per concern; keep to your section)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from anju.agreement import rules
from anju.web.params import MAX_ID, PARAM_LABELS, Reason, RequiredReason, TextRule

# --- signing ------------------------------------------------------------------------------
for _name, _label in {
    "agreement_id": "协议编号",
    "sign_on": "签约日期",
    "payee_name": "收款人",
    "payee_bank": "开户行",
    "payee_account": "收款账号",
    "agreement_prefix": "协议编号前缀",
    "on_sign_share_bp": "签约后支付比例",
    "condition": "生效条件",
    "rate_bp": "签约率",
    "deadline_on": "截止日期",
    "status": "协议状态",
}.items():
    PARAM_LABELS.setdefault(_name, _label)

OptionLiteral = Literal["cash", "swap"]
StatusLiteral = Literal["pending", "effective", "void", "cancelled"]
_Bp = Annotated[int, Field(ge=0, le=10000, description="基点（1% = 100）")]


class AgreementCreate(BaseModel):
    """Sign an agreement for the household (签约): the option, the sign date (not after today, not
    before the household's current stage was reached) and the payee (收款人; blank: the head of
    household, the bank details later)."""

    model_config = ConfigDict(extra="forbid")

    option: OptionLiteral = Field(description="cash 货币补偿 / swap 产权调换")
    sign_on: date = Field(description="签约日期（YYYY-MM-DD）")
    payee_name: Annotated[str, TextRule("收款人", rules.MAX_PAYEE_NAME)] = ""
    payee_bank: Annotated[str, TextRule("开户行", rules.MAX_PAYEE_BANK)] = ""
    payee_account: Annotated[
        str,
        Field(
            max_length=rules.MAX_PAYEE_ACCOUNT,
            pattern=rules.PAYEE_ACCOUNT_PATTERN,
            description="收款账号：6 至 32 位数字，可用空格或 - 分隔；不知道时留空",
        ),
    ] = ""


class StepRead(BaseModel):
    """One line of an item's trace."""

    text: str
    value: str
    note: str = ""


class CertificateRead(BaseModel):
    """The part of a per-certificate item for one certificate."""

    certificate_no: str
    applies: bool
    amount_fen: int
    notes: list[str] = []


class AgreementItemRead(BaseModel):
    """One item of the frozen calculation, with its trace, as signed."""

    id: str
    label: str
    applies: bool
    amount_fen: int
    formula: str = ""
    per: str = "household"
    steps: list[StepRead] = []
    notes: list[str] = []
    certificates: list[CertificateRead] = []
    ref: str = ""
    basis: list[str] = Field(default=[], description="计算依据：中文说明，含本户数字（签约时冻结）")


class SnapshotRead(BaseModel):
    """What the agreement says, frozen: the policy version and hash, the facts' hash, every item."""

    revision: int
    policy_version: int
    policy_hash: str
    as_of: date
    facts_sha256: str
    total_fen: int
    reason: str
    created_at: datetime
    items: list[AgreementItemRead]


class InstalmentRead(BaseModel):
    """One line of the payment schedule (付款计划)."""

    id: int
    kind: str
    kind_label: str
    purpose: str
    amount_fen: int
    committed_fen: int
    paid_fen: int
    status: str
    status_label: str
    due_on: date | None


class AgreementRead(BaseModel):
    """An agreement: its numbers, option, status, total (and in capitals), payee, condition, flags.

    ``payee_account`` is masked (last four digits) for roles without PII_READ.
    """

    id: int
    project_id: int
    household_id: int
    household_code: str
    head_name: str
    agreement_no: str
    sign_no: int
    sign_no_issued_at: datetime
    sign_no_issued_by: str
    option: str
    option_label: str
    sign_on: date
    status: str
    status_label: str
    total_fen: int
    total_yuan: str
    total_capital: str
    payee_name: str
    payee_bank: str
    payee_account: str
    condition_kind: str
    condition_label: str
    condition_rate_bp: int
    condition_deadline_on: date | None
    effective_on: date | None
    amendment_flag: bool
    amendment_diff_fen: int
    version: int


class AgreementDetailRead(AgreementRead):
    """An agreement with its current snapshot (items), the number of revisions and its schedule."""

    snapshot: SnapshotRead
    revisions: int
    instalments: list[InstalmentRead]


class NoCondition(BaseModel):
    """No condition (无附生效条件): agreements are effective on signing."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["none"]


class RateCondition(BaseModel):
    """Effective once the block's (``block_rate``) or the project's (``project_rate``) sign rate
    reaches ``rate_bp`` by ``deadline_on``; void if it has not by then."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["block_rate", "project_rate"]
    rate_bp: Annotated[int, Field(ge=1, le=10000, description="签约率（基点，8000 = 80%）")]
    deadline_on: date = Field(description="条件成就的截止日期（新设的不能早于今天）")


class AllSignedCondition(BaseModel):
    """Effective once every household of the project has signed by ``deadline_on`` (整区域)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["all_signed"]
    deadline_on: date = Field(description="条件成就的截止日期（新设的不能早于今天）")


Condition = Annotated[NoCondition | RateCondition | AllSignedCondition, Field(discriminator="kind")]


class SigningTermsPut(BaseModel):
    """A project's signing terms (签约设置), all at once: the agreement number prefix, the share of
    the total paid on signing (the rest after vacating) and the condition new agreements carry.
    ``version`` as read (0 while only the defaults exist); a stale one is a 409."""

    model_config = ConfigDict(extra="forbid")

    agreement_prefix: Annotated[
        str,
        Field(
            min_length=1,
            max_length=rules.MAX_PREFIX,
            pattern=rules.PREFIX_PATTERN,
            description="协议编号前缀（字母、数字、汉字、- _ 〔〕（））；另一项目已用的为 409",
        ),
    ]
    on_sign_share_bp: _Bp
    condition: Condition
    version: Annotated[int, Field(ge=0, le=2**31 - 1, description="读取时的版本号（尚未保存过为 0）")]
    reason: Reason = ""

    def condition_values(self) -> dict[str, Any]:
        """The condition as the service's keyword arguments."""
        c = self.condition
        return {
            "condition_kind": c.kind,
            "condition_rate_bp": c.rate_bp if isinstance(c, RateCondition) else 0,
            "condition_deadline_on": None if isinstance(c, NoCondition) else c.deadline_on,
        }


class SigningTermsRead(BaseModel):
    """A project's signing terms; ``saved`` false: the defaults, never saved (``version`` 0)."""

    project_id: int
    saved: bool
    version: int
    agreement_prefix: str
    on_sign_share_bp: int
    condition_kind: str
    condition_label: str
    condition_rate_bp: int
    condition_deadline_on: date | None
    updated_by: str
    updated_at: datetime | None


# --- clearance ----------------------------------------------------------------------------
for _name, _label in {
    "vacated_on": "腾空日期",
    "demolished_on": "拆除日期",
    "cleared_on": "清退日期",
    "checklist": "检查项",
    "keys_handed": "交钥匙数",
    "inspector": "验收人",
    "contractor": "拆除单位",
    "photo_ids": "照片",
    "tenant_id": "承租人编号",
}.items():
    PARAM_LABELS.setdefault(_name, _label)

_PhotoIds = Annotated[
    list[Annotated[int, Field(ge=1, le=MAX_ID)]],
    Field(max_length=20, description="该户已上传的现场照片（附件编号，须为图片），最多 20 张"),
]
_Inspector = Annotated[str, TextRule("验收人", 64, required=True)]
_ClearanceNote = Annotated[str, TextRule("备注", 1000, multiline=True)]


class VacateChecklist(BaseModel):
    """The vacating acceptance checklist: true = checked and in order. Unchecked items are kept as
    what was still open at the acceptance (not refused)."""

    model_config = ConfigDict(extra="forbid")

    utilities_settled: bool = Field(False, description=rules.VACATE_CHECKLIST["utilities_settled"])
    registration_moved: bool = Field(False, description=rules.VACATE_CHECKLIST["registration_moved"])
    emptied: bool = Field(False, description=rules.VACATE_CHECKLIST["emptied"])
    doors_windows_intact: bool = Field(False, description=rules.VACATE_CHECKLIST["doors_windows_intact"])
    keys_handed: bool = Field(False, description=rules.VACATE_CHECKLIST["keys_handed"])


class TenantChecklist(BaseModel):
    """The tenant clearance checklist: true = checked and in order."""

    model_config = ConfigDict(extra="forbid")

    rent_settled: bool = Field(False, description=rules.TENANT_CHECKLIST["rent_settled"])
    license_moved: bool = Field(False, description=rules.TENANT_CHECKLIST["license_moved"])
    emptied: bool = Field(False, description=rules.TENANT_CHECKLIST["emptied"])
    keys_handed: bool = Field(False, description=rules.TENANT_CHECKLIST["keys_handed"])


class VacateCreate(BaseModel):
    """Accept a household's vacating (交验空房 / 腾空验收). The date may not be after today nor before
    the signing (409 ``vacate_date``); the household needs a live agreement (409 ``not_signed``)."""

    model_config = ConfigDict(extra="forbid")

    vacated_on: date = Field(description="腾空日期（YYYY-MM-DD，不晚于今天，不早于签约日期）")
    checklist: VacateChecklist = Field(default_factory=VacateChecklist)
    keys_handed: Annotated[int, Field(ge=0, le=99, description="交钥匙数（把）")] = 0
    inspector: _Inspector
    note: _ClearanceNote = ""
    photo_ids: _PhotoIds = []


class DemolitionCreate(BaseModel):
    """Record the demolition (拆除) of a vacated household; the date not after today nor before the
    vacating (409 ``demolition_date``)."""

    model_config = ConfigDict(extra="forbid")

    demolished_on: date = Field(description="拆除日期（YYYY-MM-DD，不晚于今天，不早于腾空日期）")
    contractor: Annotated[str, TextRule("拆除单位", 128, required=True)]
    note: _ClearanceNote = ""
    photo_ids: _PhotoIds = []


class TenantClearanceCreate(BaseModel):
    """Record a tenant's (承租人 / 承租企业) clearance (清退); the date not after today."""

    model_config = ConfigDict(extra="forbid")

    cleared_on: date = Field(description="清退日期（YYYY-MM-DD，不晚于今天）")
    checklist: TenantChecklist = Field(default_factory=TenantChecklist)
    inspector: _Inspector
    note: _ClearanceNote = ""
    photo_ids: _PhotoIds = []


class ClearanceVoid(BaseModel):
    """Void a clearance record entered in error; the reason is required and kept."""

    model_config = ConfigDict(extra="forbid")

    reason: RequiredReason


class ChecklistItemRead(BaseModel):
    """One item of a checklist as recorded."""

    key: str
    label: str
    done: bool


class VacateRecordRead(BaseModel):
    """A vacating acceptance (live or voided)."""

    id: int
    household_id: int
    agreement_id: int | None
    vacated_on: date
    checklist: list[ChecklistItemRead]
    keys_handed: int
    inspector: str
    note: str
    photo_ids: list[int]
    reward_instalment_id: int | None
    recorded_at: datetime
    voided_at: datetime | None
    void_reason: str


class VacateResultRead(BaseModel):
    """What a vacating acceptance did: the record, the stage, the instalments made due and the reward
    (the items that grew with the vacating date, id -> fen)."""

    record: VacateRecordRead
    stage: str
    stage_label: str
    made_due: list[InstalmentRead]
    reward: InstalmentRead | None
    reward_items: dict[str, int]
    reward_labels: dict[str, str]


class DemolitionRecordRead(BaseModel):
    """A demolition record (live or voided)."""

    id: int
    household_id: int
    demolished_on: date
    contractor: str
    note: str
    photo_ids: list[int]
    recorded_at: datetime
    voided_at: datetime | None
    void_reason: str


class TenantClearanceRead(BaseModel):
    """A tenant's clearance record."""

    id: int
    tenant_id: int
    household_id: int
    cleared_on: date
    checklist: list[ChecklistItemRead]
    inspector: str
    note: str
    photo_ids: list[int]
    recorded_at: datetime
    voided_at: datetime | None
    void_reason: str


class HouseholdTenantRead(BaseModel):
    """A tenant of the household with its live clearance (null: not cleared yet)."""

    id: int
    name: str
    kind: str
    clearance: TenantClearanceRead | None


class ClearanceRead(BaseModel):
    """A household's clearance: stage, live agreement and schedule, vacating and demolition records
    (the live one first, voided ones kept), tenants with their clearance."""

    household_id: int
    stage: str
    stage_label: str
    agreement_id: int | None
    agreement_no: str | None
    agreement_status: str | None
    instalments: list[InstalmentRead]
    vacate: VacateRecordRead | None
    demolition: DemolitionRecordRead | None
    vacate_history: list[VacateRecordRead]
    demolition_history: list[DemolitionRecordRead]
    tenants: list[HouseholdTenantRead]


class ProjectTenantRead(BaseModel):
    """A tenant of a project's household, with its live clearance."""

    id: int
    household_id: int
    household_code: str
    head_name: str
    name: str
    kind: str
    business: str
    clearance: TenantClearanceRead | None


class DailyCountRead(BaseModel):
    """Clearances recorded for one day."""

    day: date
    count: int


class TenantClearanceListRead(BaseModel):
    """A project's tenants (within the caller's scope) with counts: cleared / total, cleared today,
    and clearances per day (oldest first)."""

    project_id: int
    total: int
    cleared: int
    open: int
    cleared_today: int
    daily: list[DailyCountRead]
    tenants: list[ProjectTenantRead]


# --- amendments and conditions ------------------------------------------------------------
for _name, _label in {
    "change_id": "申请编号",
    "kind": "申请类型",
    "note": "审批意见",
    "on": "检查日期",
}.items():
    PARAM_LABELS.setdefault(_name, _label)

ChangeKindLiteral = Literal["amend", "cancel"]
ChangeStatusLiteral = Literal["requested", "approved", "rejected"]
_Version = Annotated[int, Field(ge=1, le=2**31 - 1, description="读取时的版本号；已变化的为 409")]


class ChangeCreate(BaseModel):
    """Ask for an amendment (``amend`` 协议变更: the agreement is recalculated with the household's
    current facts under the latest policy) or a cancellation (``cancel`` 协议解除), with the reason.
    ``version``: the agreement's as read (optional)."""

    model_config = ConfigDict(extra="forbid")

    kind: ChangeKindLiteral = Field(description="amend 协议变更 / cancel 协议解除")
    reason: RequiredReason
    version: _Version | None = None


class ChangeApproval(BaseModel):
    """Approve a change request (a leader other than the requester); ``note`` optional."""

    model_config = ConfigDict(extra="forbid")

    note: Reason = ""
    version: _Version | None = None


class ChangeRejection(BaseModel):
    """Reject a change request, with the reason (required)."""

    model_config = ConfigDict(extra="forbid")

    note: RequiredReason
    version: _Version | None = None


class ChangeRead(BaseModel):
    """A change request (变更/解除申请) and its decision."""

    id: int
    project_id: int
    agreement_id: int
    agreement_no: str
    household_id: int
    household_code: str
    head_name: str
    kind: str
    kind_label: str
    reason: str
    status: str
    status_label: str
    requested_by: str
    requested_at: datetime
    decided_by: str
    decided_at: datetime | None
    decision_note: str
    snapshot_id: int | None
    version: int


class ItemDiffRead(BaseModel):
    """An item whose amount differs: as signed, as the current facts and latest policy give it."""

    id: str
    label: str
    signed_fen: int
    current_fen: int
    diff_fen: int


class FactChangeRead(BaseModel):
    """A household fact that differs from the one signed on."""

    path: str
    label: str
    signed: str
    current: str


class AmendmentRead(BaseModel):
    """Whether an amendment may be needed (``flag``), and the difference item by item.

    ``current_total_fen`` null and ``problem`` set: the latest policy cannot compute the household.
    ``open_change``: the request waiting for a decision, if any.
    """

    agreement_id: int
    live: bool
    flag: bool
    signed_total_fen: int
    current_total_fen: int | None
    diff_fen: int
    signed_policy_version: int
    current_policy_version: int | None
    items: list[ItemDiffRead]
    facts: list[FactChangeRead]
    problem: str
    checked_at: datetime | None
    open_change: ChangeRead | None


class ConditionCheck(BaseModel):
    """Decide the project's pending conditional agreements as of ``on`` (today when left out; not
    after today)."""

    model_config = ConfigDict(extra="forbid")

    on: date | None = Field(None, description="检查日期（YYYY-MM-DD，不晚于今天；不填为今天）")


class ConditionRunRead(BaseModel):
    """What a check decided: agreements made effective, made void, and how many still wait."""

    on: date
    effective: list[int]
    void: list[int]
    waiting: int


class ConditionProgressRead(BaseModel):
    """How far a condition is: ``signed`` of ``total`` households of the area, ``needed`` to meet it."""

    kind: str
    label: str
    rate_bp: int
    block_id: int | None
    area_name: str
    deadline_on: date | None
    signed: int
    total: int
    needed: int
    decided: bool | None
    met_on: date | None


class ConditionGroupRead(BaseModel):
    """Pending agreements sharing one condition, with its progress and the days to the deadline."""

    progress: ConditionProgressRead
    pending: int
    days_left: int | None


class ConditionBoardRead(BaseModel):
    """A project's conditional agreements (counts only, no household): waiting groups, and how many
    are pending, effective and void."""

    on: date
    pending: int
    effective: int
    void: int
    groups: list[ConditionGroupRead]
