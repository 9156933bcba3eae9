"""Reading the audit log: filter by person, record kind, action and dates; keyset pages; xlsx export.

The log may hold millions of records, so pages are keyset pages on ``seq`` (never OFFSET, which
reads every skipped row) and the export streams: it reads the filtered records ``_EXPORT_BATCH``
at a time and XlsxWriter's ``constant_memory`` mode flushes each row to disk as it is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from anju.audit import labels
from anju.audit.models import AuditRecord
from anju.core.dates import SHANGHAI, to_shanghai
from anju.errors import ValidationFailed

SYSTEM_ACTOR = 0  # the filter value for records of system jobs (no user: ``actor_id`` is NULL)
_EXPORT_BATCH = 5000
# An xlsx sheet holds 1,048,576 rows; the header takes one.
EXPORT_LIMIT = 1_000_000


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which records to read; every field optional. Dates are Asia/Shanghai calendar days, inclusive."""

    actor_id: int | None = None  # SYSTEM_ACTOR for system jobs
    entity: str = ""
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None
    household_id: int | None = None

    def check(self) -> None:
        """Raise :class:`ValidationFailed` naming the field when a value cannot match anything sensible."""
        errors = []
        if self.entity and self.entity not in labels.ENTITIES:
            errors.append({"field": "entity", "message": f"未知的对象类别：{self.entity[:32]}"})
        if self.action and self.action not in labels.ACTIONS:
            errors.append({"field": "action", "message": f"未知的操作：{self.action[:32]}"})
        if self.date_from and self.date_to and self.date_from > self.date_to:
            errors.append({"field": "date_to", "message": "结束日期早于开始日期"})
        if errors:
            raise ValidationFailed(
                "筛选条件有误：" + "；".join(e["message"] for e in errors),
                "invalid audit filter",
                details=errors,
            )

    def clauses(self) -> list[ColumnElement[bool]]:
        """The SQL conditions of this filter."""
        out: list[ColumnElement[bool]] = []
        if self.actor_id == SYSTEM_ACTOR:
            out.append(AuditRecord.actor_id.is_(None))
        elif self.actor_id is not None:
            out.append(AuditRecord.actor_id == self.actor_id)
        if self.entity:
            out.append(AuditRecord.entity == self.entity)
        if self.action:
            out.append(AuditRecord.action == self.action)
        if self.date_from:
            out.append(AuditRecord.at >= _utc_start(self.date_from))
        if self.date_to:
            out.append(AuditRecord.at < _utc_start(self.date_to + timedelta(days=1)))
        if self.household_id is not None:
            out.append(AuditRecord.household_id == self.household_id)
        return out

    def describe(self) -> dict[str, Any]:
        """The filter as plain values (for the export's audit record and the sheet's title)."""
        return {
            k: (v.isoformat() if isinstance(v, date) else v)
            for k, v in (
                ("actor_id", self.actor_id),
                ("entity", self.entity),
                ("action", self.action),
                ("date_from", self.date_from),
                ("date_to", self.date_to),
                ("household_id", self.household_id),
            )
            if v not in (None, "")
        }


def _utc_start(day: date) -> datetime:
    """The UTC instant at which ``day`` begins in Asia/Shanghai."""
    return datetime.combine(day, time(0), tzinfo=SHANGHAI).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One keyset page, newest first. ``older`` / ``newer``: the cursor of the next page that way, if any."""

    records: list[AuditRecord]
    older: int | None  # pass as ``before`` for the next older page
    newer: int | None  # pass as ``after`` for the next newer page


def filtered_page(
    session: Session,
    *,
    where: AuditFilter,
    before: int | None = None,
    after: int | None = None,
    limit: int = 50,
) -> AuditPage:
    """A page of the filtered records, newest first: those with ``seq`` below ``before``, or the
    ``limit`` just above ``after`` (paging back), or the newest when neither is given."""
    where.check()
    limit = max(1, min(limit, 500))
    base = where.clauses()
    if after is not None:
        rows = list(
            session.scalars(
                select(AuditRecord)
                .where(*base, AuditRecord.seq > after)
                .order_by(AuditRecord.seq)
                .limit(limit + 1)
            )
        )
        more_newer = len(rows) > limit
        rows = rows[:limit]
        rows.reverse()
        older = rows[-1].seq if rows and _exists(session, base, AuditRecord.seq < rows[-1].seq) else None
        return AuditPage(rows, older, rows[0].seq if rows and more_newer else None)
    bound = [AuditRecord.seq < before] if before is not None else []
    rows = list(
        session.scalars(
            select(AuditRecord).where(*base, *bound).order_by(AuditRecord.seq.desc()).limit(limit + 1)
        )
    )
    more_older = len(rows) > limit
    rows = rows[:limit]
    newer = (
        rows[0].seq
        if rows and before is not None and _exists(session, base, AuditRecord.seq > rows[0].seq)
        else None
    )
    return AuditPage(rows, rows[-1].seq if rows and more_older else None, newer)


def _exists(session: Session, base: list[ColumnElement[bool]], extra: ColumnElement[bool]) -> bool:
    return session.scalar(select(AuditRecord.seq).where(and_(*base, extra)).limit(1)) is not None


def count_matching(session: Session, *, where: AuditFilter) -> int:
    """How many records the filter matches."""
    where.check()
    return int(session.scalar(select(func.count()).select_from(AuditRecord).where(*where.clauses())) or 0)


def _iter_filtered(session: Session, where: AuditFilter) -> Iterator[AuditRecord]:
    """Every filtered record, newest first, ``_EXPORT_BATCH`` per query (keyset on ``seq``)."""
    base = where.clauses()
    before: int | None = None
    while True:
        bound = [AuditRecord.seq < before] if before is not None else []
        rows = list(
            session.scalars(
                select(AuditRecord).where(*base, *bound).order_by(AuditRecord.seq.desc()).limit(_EXPORT_BATCH)
            )
        )
        if not rows:
            return
        yield from rows
        before = rows[-1].seq
        for r in rows:  # read-only here: keep the session's identity map small
            session.expunge(r)


EXPORT_HEADERS = ("序号", "时间", "操作人", "操作", "对象", "变更内容", "理由", "签名")


# Fields that only a machine reads (digests, keys, shapes): the page leaves them out, the export keeps them.
_TECHNICAL = ("sha256", "hash", "idempotency_key", "geometry")


def changes_text(
    entity: str,
    changes: str,
    value_of: Callable[[str, Any], Any] | None = None,
    *,
    brief: bool = False,
    translate: Callable[[str], str] | None = None,
) -> str:
    """The changes of a record in words: ``签约日期：2026-01-02 → 2026-01-03；状态：…``.

    ``brief`` (the page) leaves out digests and shapes and cuts long structured values short.
    ``translate`` (the page in another language) turns field names and worded values (a status,
    是/否) into that language; other values are data and stay as they are.
    """
    tr = translate or (lambda text: text)
    try:
        data = json.loads(changes) if changes else {}
    except ValueError:
        return changes
    if not isinstance(data, dict):
        return str(data)
    parts = []
    for name, pair in data.items():
        if brief and name.endswith(_TECHNICAL):
            continue
        label = tr(labels.field_label(name))
        if isinstance(pair, list) and len(pair) == 2:
            before, after = pair
        else:
            before, after = None, pair
        cut = 60 if brief else 200
        shown_before = tr(_plain(value_of(name, before) if value_of else before, cut))
        shown_after = tr(_plain(value_of(name, after) if value_of else after, cut))
        parts.append(
            f"{label}：{shown_before} → {shown_after}" if before is not None else f"{label}：{shown_after}"
        )
    return "；".join(parts)


def _plain(value: Any, cut: int = 200) -> str:
    if value is None:
        return "（空）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        return text if len(text) <= cut else text[:cut] + "…"
    return str(value)


def export_xlsx(
    session: Session,
    *,
    where: AuditFilter,
    target: Path,
    name_of: Callable[[list[AuditRecord]], dict[int, str]],
    tmpdir: Path | None = None,
) -> int:
    """Write the filtered records to ``target`` (xlsx, newest first); returns how many.

    ``name_of`` names a batch of records (``seq -> "户 LJ00001 段平"``): the caller looks the
    names up through the domains that own them. Refuses a filter that matches more rows than a
    sheet holds (:data:`EXPORT_LIMIT`), naming the count, before writing anything.
    """
    import xlsxwriter

    total = count_matching(session, where=where)
    if total > EXPORT_LIMIT:
        raise ValidationFailed(
            f"筛选结果共 {total:,} 条，超过一个工作表可容纳的 {EXPORT_LIMIT:,} 条，请缩小日期范围或增加筛选条件",
            f"{total} records match; narrow the filter to at most {EXPORT_LIMIT}",
            details=[{"field": "date_from", "message": "请缩小日期范围"}],
        )
    options: dict[str, Any] = {
        "constant_memory": True,
        "strings_to_numbers": False,
        "strings_to_formulas": False,
    }
    if tmpdir is not None:
        options["tmpdir"] = str(tmpdir)
    wb = xlsxwriter.Workbook(str(target), options)
    try:
        ws = wb.add_worksheet("审计日志")
        head = wb.add_format({"bold": True, "bg_color": "#E8EEF7", "border": 1})
        ws.set_column(0, 0, 8)
        ws.set_column(1, 1, 17)
        ws.set_column(2, 3, 12)
        ws.set_column(4, 4, 28)
        ws.set_column(5, 5, 60)
        ws.set_column(6, 6, 30)
        ws.set_column(7, 7, 14)
        for col, title in enumerate(EXPORT_HEADERS):
            ws.write_string(0, col, title, head)
        ws.freeze_panes(1, 0)
        row = 0
        batch: list[AuditRecord] = []
        for record in _iter_filtered(session, where):
            batch.append(record)
            if len(batch) >= _EXPORT_BATCH:
                row = _write_rows(ws, row, batch, name_of(batch))
                batch = []
        if batch:
            row = _write_rows(ws, row, batch, name_of(batch))
    finally:
        wb.close()
    return row


def _write_rows(ws: Any, row: int, batch: list[AuditRecord], names: dict[int, str]) -> int:
    for r in batch:
        row += 1
        ws.write_number(row, 0, r.seq)
        ws.write_string(row, 1, to_shanghai(r.at).strftime("%Y-%m-%d %H:%M:%S"))
        ws.write_string(row, 2, r.actor_name)
        ws.write_string(row, 3, labels.action_label(r.action))
        ws.write_string(row, 4, names.get(r.seq) or labels.record_name(r.entity, r.entity_id, None))
        ws.write_string(row, 5, changes_text(r.entity, r.changes))
        ws.write_string(row, 6, r.reason or "")
        ws.write_string(row, 7, r.hash[:12])
    return row
