"""Pydantic shapes of the dispatch report API (每日调度通报)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from anju.reporting import rules
from anju.web.params import MAX_ID, PARAM_LABELS, TextRule

PARAM_LABELS.setdefault("report_on", "通报日期")
PARAM_LABELS.setdefault("commentary", "指挥长讲评")
PARAM_LABELS.setdefault("title", "通报标题")


class DispatchReportSummary(BaseModel):
    """A stored report in the archive list (issued reports, and drafts someone has edited)."""

    report_on: date
    status: str = Field(description="draft（草稿）或 issued（已签发）")
    status_label: str
    title: str
    version: int
    issued_by: str
    issued_at: datetime | None
    numbers_sha256: str
    pdf_sha256: str


class DispatchReportRead(BaseModel):
    """One report: a draft computed from live data now, or an issued report from its frozen numbers.

    ``numbers`` is the snapshot: ``headline`` (households, signed, sign_rate, signed_on_day,
    signed_prev_day, vacated, vacate_rate, demolished, demolish_rate, paid, pay_rate, remaining,
    days_since_launch, days_left, deadline_on, need_per_day, actual_per_day), ``blocks`` and
    ``teams`` (the same counts per block and per team, teams with their rank), ``stalled`` and
    ``overdue`` (totals and up to 20 households each; only households in the reader's scope are
    listed), ``concerns`` (tag, label, count). Rates are decimal text with 4 places (0.6250 = 62.50%),
    equal to the progress API's for the same date. ``version`` is 0 while nothing is stored.
    """

    project_id: int
    report_on: date
    status: str
    status_label: str
    title: str
    commentary: str
    version: int
    issued_by: str
    issued_at: datetime | None
    numbers_sha256: str = Field(description="签发时冻结数据的 SHA-256（草稿为当前计算结果的指纹）")
    pdf_sha256: str = Field(description="归档 PDF 的 SHA-256（草稿为空）")
    partial: bool = Field(description="户名单仅列出您权限范围内的户")
    numbers: dict[str, Any]


class DispatchCommentaryUpdate(BaseModel):
    """The commander's commentary (and optionally the title) of a draft."""

    model_config = ConfigDict(extra="forbid")
    commentary: Annotated[str, TextRule("指挥长讲评", rules.MAX_COMMENTARY, multiline=True)]
    title: Annotated[str, TextRule("通报标题", rules.MAX_TITLE)] | None = Field(
        None, description="通报标题（不传则不修改，传空字符串恢复默认标题）"
    )
    version: int = Field(ge=0, le=MAX_ID, description="读取时的版本号（尚未保存过的通报为 0）")


class DispatchIssue(BaseModel):
    """签发: optionally the version the commander read (a stale one is refused)."""

    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(None, ge=0, le=MAX_ID, description="读取时的版本号（尚未保存过的通报为 0）")
