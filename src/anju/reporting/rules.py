"""Pure rules of the daily dispatch report (每日调度通报): statuses, limits, the frozen snapshot's
digest, and the one formatting of its numbers that the page, the DOCX and the PDF all print.

No I/O. The snapshot (``numbers``) is plain JSON: integers for counts, rates as decimal strings
with 4 places (``"0.6250"``), dates as ISO text. Everything a person reads is derived from it by
:func:`document`, so a frozen report prints the same text whatever code version renders it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from anju.core import text
from anju.errors import Conflict, ValidationFailed

REPORT_STATUSES = {"draft": "草稿", "issued": "已签发"}

# Version of the snapshot layout; a renderer reads every version it ever wrote.
NUMBERS_FORMAT = 1
MAX_TITLE = 200
MAX_COMMENTARY = 5000
# Households listed by name in the report; the rest are counted.
STALLED_TOP = 20
OVERDUE_TOP = 20


def previous_day(report_on: date) -> date:
    """The day before ``report_on`` (the change is signed on ``report_on`` minus signed on this day)."""
    return report_on - timedelta(days=1)


EARLIEST_REPORT_ON = date(2000, 1, 1)


def check_report_on(report_on: date, today: date) -> None:
    """A report covers a day that has begun: refuse a date after ``today`` (office time), and dates
    before 2000 (no campaign of Anju's ran then; day arithmetic stays far from ``date.min``).

    A 409 (``report_date``), as for stage moves: the date is well formed but conflicts with the
    calendar, and a day after today becomes valid tomorrow.
    """
    if report_on < EARLIEST_REPORT_ON:
        raise Conflict(
            f"通报日期 {report_on.isoformat()} 早于 2000-01-01，请检查日期",
            "the report date lies before 2000",
            code="report_date",
            details=[{"field": "report_on", "message": "通报日期不能早于 2000-01-01"}],
        )
    if report_on > today:
        raise Conflict(
            f"通报日期 {report_on.isoformat()} 晚于今天（{today.isoformat()}），只能为今天或以前的日期编写通报",
            "the report date lies in the future",
            code="report_date",
            details=[{"field": "report_on", "message": "通报日期不能晚于今天"}],
        )


def check_editable(status: str, report_on: date) -> None:
    """An issued report is frozen: refuse every change (409)."""
    if status == "issued":
        raise Conflict(
            f"{report_on.isoformat()} 的调度通报已签发，不能再修改或重复签发",
            "the report is issued and frozen",
            code="report_issued",
        )


def check_commentary(commentary: str, title: str | None) -> None:
    """The commentary (multi-line, at most 5000 characters) and title (one line, 200): no control characters."""
    problems = []
    for field, label, value, max_len, multiline in (
        ("commentary", "指挥长讲评", commentary, MAX_COMMENTARY, True),
        ("title", "通报标题", title, MAX_TITLE, False),
    ):
        if value is None:
            continue
        problem = text.text_problem(value, max_len=max_len, multiline=multiline)
        if problem:
            problems.append({"field": field, "message": f"{label}{problem}"})
    if problems:
        raise ValidationFailed("；".join(p["message"] for p in problems), "invalid text", details=problems)


def default_title(project_name: str, report_on: date) -> str:
    """``青溪路地块征收项目每日调度通报（2026年12月4日）``."""
    return f"{project_name}每日调度通报（{report_on.year}年{report_on.month}月{report_on.day}日）"[:MAX_TITLE]


def canonical(numbers: dict[str, Any]) -> bytes:
    """The snapshot as canonical JSON bytes (sorted keys, no spaces, UTF-8): what is stored and hashed."""
    return json.dumps(numbers, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def digest(numbers: dict[str, Any]) -> str:
    """SHA-256 (hex) of :func:`canonical`."""
    return hashlib.sha256(canonical(numbers)).hexdigest()


def rate_text(rate: Any) -> str:
    """A rate (``Decimal``/text with 4 places, 0..1) printed as a percentage: ``"0.6250"`` -> ``62.50%``.

    ``None`` (no households to divide by) prints ``—``.
    """
    if rate is None or rate == "":
        return "—"
    try:
        value = Decimal(str(rate)) * 100
    except InvalidOperation:
        return "—"
    return f"{value.quantize(Decimal('0.01'))}%"


def rate_4(rate: Any) -> str | None:
    """A rate as the snapshot stores it: text with exactly 4 places, or ``None``."""
    if rate is None or rate == "":
        return None
    return str(Decimal(str(rate)).quantize(Decimal("0.0001")))


def change_text(change: int) -> str:
    """``+3`` / ``-2`` / ``持平``."""
    if change > 0:
        return f"+{change}"
    if change < 0:
        return str(change)
    return "持平"


def per_day_text(value: Any) -> str:
    """A per-day figure (decimal text) with two places; ``None`` prints ``—``."""
    if value is None or value == "":
        return "—"
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    except InvalidOperation:
        return "—"


def int_text(value: Any) -> str:
    """A count; ``None`` prints ``—``."""
    return "—" if value is None else str(int(value))


def _days_text(days: Any) -> str:
    return "从未走访" if days is None else f"{int(days)} 天"


def _on_track_text(on_track: Any) -> str:
    if on_track is None:
        return "—"
    return "达到" if on_track else "未达到"


def _time_text(iso: Any) -> str:
    """An ISO instant with its offset (office time) as ``2026-12-04 00:44``."""
    if not iso:
        return "—"
    text = str(iso)
    return text[:10] + " " + text[11:16] if len(text) >= 16 else text


def document(
    numbers: dict[str, Any],
    *,
    title: str,
    commentary: str,
    status: str,
    issued_by: str = "",
    issued_at: str = "",
    numbers_sha256: str = "",
) -> dict[str, Any]:
    """Everything the report prints, as text, from the snapshot: the page, the DOCX and the PDF use it.

    ``commentary`` becomes a list of paragraphs (blank lines dropped).
    """
    h = numbers["headline"]
    headline = {
        "households": int_text(h["households"]),
        "target": int_text(h.get("target")),
        "signed": int_text(h["signed"]),
        "sign_rate": rate_text(h["sign_rate"]),
        "signed_on_day": int_text(h["signed_on_day"]),
        "signed_prev_day": int_text(h["signed_prev_day"]),
        "signed_change": change_text(int(h["signed_on_day"]) - int(h["signed_prev_day"])),
        "signed_last7": int_text(h.get("signed_last7")),
        "vacated": int_text(h["vacated"]),
        "vacate_rate": rate_text(h["vacate_rate"]),
        "demolished": int_text(h["demolished"]),
        "demolish_rate": rate_text(h["demolish_rate"]),
        "paid": int_text(h["paid"]),
        "pay_rate": rate_text(h["pay_rate"]),
        "remaining": int_text(h.get("remaining")),
        "days_since_launch": int_text(h.get("days_since_launch")),
        "days_left": int_text(h.get("days_left")),
        "deadline_on": h.get("deadline_on") or "—",
        "need_per_day": per_day_text(h.get("need_per_day")),
        "actual_per_day": per_day_text(h.get("actual_per_day")),
        "on_track": _on_track_text(h.get("on_track")),
        "planned": int_text(h.get("planned")),
    }
    blocks = [
        {
            "name": b["name"],
            "label": "　" * int(b.get("depth", 0)) + b["name"],
            "depth": int(b.get("depth", 0)),
            "households": int_text(b["households"]),
            "signed": int_text(b["signed"]),
            "sign_rate": rate_text(b["sign_rate"]),
            "signed_on_day": int_text(b["signed_on_day"]),
            "vacated": int_text(b["vacated"]),
            "demolished": int_text(b["demolished"]),
            "paid": int_text(b["paid"]),
        }
        for b in numbers["blocks"]
    ]
    teams = [
        {
            "rank": str(t["rank"]),
            "name": t["name"],
            "level": t.get("level", ""),
            "households": int_text(t["households"]),
            "signed": int_text(t["signed"]),
            "sign_rate": rate_text(t["sign_rate"]),
            "signed_on_day": int_text(t["signed_on_day"]),
            "signed_last7": int_text(t.get("signed_last7")),
        }
        for t in numbers["teams"]
    ]
    records = numbers.get("records") or {}
    stalled = numbers["stalled"]
    overdue = numbers["overdue"]
    return {
        "title": title,
        "status": status,
        "status_label": REPORT_STATUSES.get(status, status),
        "project": numbers["project"]["name"],
        "report_on": numbers["report_on"],
        "report_on_text": _date_zh(numbers["report_on"]),
        "previous_on": numbers["previous_on"],
        "issued_by": issued_by,
        "issued_at": issued_at,
        "numbers_sha256": numbers_sha256,
        "headline": headline,
        "blocks": blocks,
        "teams": teams,
        "records": {
            "last_signed_at": _time_text(records.get("last_signed_at")),
            "completed_blocks": [
                {
                    "name": b["name"],
                    "completed_on": b.get("completed_on") or "—",
                    "days": int_text(b.get("days")),
                }
                for b in records.get("completed_blocks", [])
            ],
        },
        "stalled": {
            "days": str(stalled["days"]),
            "total": str(stalled["total"]),
            "shown": str(len(stalled["items"])),
            "items": [
                {
                    "household_id": s.get("household_id"),
                    "code": s["code"],
                    "head_name": s["head_name"],
                    "team": s.get("team") or "—",
                    "person": s.get("person") or "—",
                    "days": _days_text(s.get("days")),
                }
                for s in stalled["items"]
            ],
        },
        "overdue": {
            "total": str(overdue["total"]),
            "shown": str(len(overdue["items"])),
            "items": [
                {
                    "household_id": o.get("household_id"),
                    "code": o["code"],
                    "head_name": o["head_name"],
                    "team": o.get("team") or "—",
                    "person": o.get("person") or "—",
                    "step": o.get("step") or "—",
                    "due_on": o.get("due_on") or "—",
                    "days": f"{int(o['days'])} 天" if o.get("days") is not None else "—",
                }
                for o in overdue["items"]
            ],
        },
        "concerns": [
            {"label": c["label"], "visits": str(c["visits"]), "households": str(c["households"])}
            for c in numbers["concerns"]
            if int(c["visits"]) > 0
        ],
        "commentary": [p.strip() for p in commentary.splitlines() if p.strip()],
    }


def _date_zh(iso: str) -> str:
    d = date.fromisoformat(iso)
    return f"{d.year}年{d.month}月{d.day}日"
