"""HTML page of the campaign dashboard (攻坚进度): headline numbers, burn-up with plan and forecast,
blocks, team rankings (亮榜), concerns and alerts, as of a chosen date."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.campaign import service as campaign_service
from anju.core.dates import today_shanghai
from anju.errors import ValidationFailed
from anju.i18n import N_, msg
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import get_db, requires
from anju.web.params import IdPath
from anju.web.templating import render

router = APIRouter(include_in_schema=False)

# Blocks in the bar chart: the top level, or the level below when the top has fewer than this.
MIN_TOP_BLOCKS = 3
MAX_BAR_BLOCKS = 40


def pct(value: Any) -> str:
    """``"0.3333"`` (a rate) as ``"33.3%"``; '' when there is none."""
    if value is None or value == "":
        return ""
    try:
        return f"{Decimal(str(value)) * 100:.1f}%"
    except InvalidOperation:
        return ""


def _as_of(value: str, today: date) -> date:
    """The 截至日期 from the query: a date not after today (office time); today when blank."""
    value = value.strip()
    if not value:
        return today
    try:
        on = date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            N_("截至日期应为日期（YYYY-MM-DD）"),
            "the date must be YYYY-MM-DD",
            details=[{"field": "on", "message": N_("应为日期（YYYY-MM-DD）")}],
        ) from None
    if on > today:
        raise ValidationFailed(
            msg("截至日期不能晚于今天（{isoformat}）", isoformat=today.isoformat()),
            "the date cannot be in the future",
            details=[{"field": "on", "message": N_("不能晚于今天")}],
        )
    if on.year < 2000:
        raise ValidationFailed(
            N_("截至日期不能早于 2000 年"),
            "the date is too early",
            details=[{"field": "on", "message": N_("不能早于 2000 年")}],
        )
    return on


def _bar_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The blocks the bar chart shows: top-level ones, or their children when there are few."""
    top = [b for b in blocks if b["depth"] == 0]
    if len(top) < MIN_TOP_BLOCKS:
        second = [b for b in blocks if b["depth"] == 1]
        if second:
            top = second
    return [b for b in top if b["households"]][:MAX_BAR_BLOCKS]


def _chart_data(
    progress: dict[str, Any], daily: dict[str, Any], forecast: dict[str, Any], bars: list[dict[str, Any]]
) -> dict[str, Any]:
    """What dashboard.js draws: the burn-up (actual, plan, forecast with its band), blocks, concerns."""
    days = daily["days"]
    plan = [[d, v] for d, v in zip(days, daily["plan"], strict=True) if v is not None]
    deadline = progress["deadline_on"]
    if deadline and plan and deadline > days[-1]:
        plan.append([deadline, daily["target"]])
    curve = [c for c in forecast.get("curve", []) if c["date"] >= progress["on"]]
    return {
        "on": progress["on"],
        "target": daily["target"],
        "households": daily["households"],
        "deadline": deadline,
        "burnup": {
            "signed": [[d, v] for d, v in zip(days, daily["series"]["signed"], strict=True)],
            "vacated": [[d, v] for d, v in zip(days, daily["series"]["vacated"], strict=True)],
            "per_day": [[d, v] for d, v in zip(days, daily["signed_per_day"], strict=True)],
            "plan": plan,
            "forecast": [[c["date"], c["expected"]] for c in curve],
            "low": [[c["date"], c["low"]] for c in curve],
            "high": [[c["date"], c["high"]] for c in curve],
            "forecast_date": forecast["project"]["date"],
        },
        "blocks": {
            "names": [b["name"] for b in bars],
            "signed": [round(float(Decimal(b["rates"]["signed"]) * 100), 1) for b in bars],
            "vacated": [round(float(Decimal(b["rates"]["vacated"]) * 100), 1) for b in bars],
            "counts": [[b["signed"], b["vacated"], b["households"]] for b in bars],
        },
        "concerns": {
            "labels": [c["label"] for c in progress["concerns"]],
            "visits": [c["visits"] for c in progress["concerns"]],
            "households": [c["households"] for c in progress["concerns"]],
        },
    }


@router.get("/projects/{project_id}/campaign")
def dashboard_page(
    project_id: IdPath,
    request: Request,
    on: str = "",
    user: CurrentUser = Depends(requires(Permission.CAMPAIGN_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """The dashboard of a project within the user's scope as of ``on`` (today by default)."""
    project = project_service.get_project(db, project_id)
    today = today_shanghai()
    as_of = _as_of(on, today)
    scope = user.scope
    progress = campaign_service.progress(db, scope=scope, project_id=project_id, on=as_of).to_dict()
    daily = campaign_service.daily_series(db, scope=scope, project_id=project_id, until=as_of).to_dict()
    forecast = campaign_service.forecast(db, project_id=project_id, on=as_of, scope=scope).to_dict()
    alerts = campaign_service.alerts(db, scope=scope, project_id=project_id, today=today)
    forecast_by_block = {b["block_id"]: b for b in forecast["blocks"]}
    bars = _bar_blocks(progress["blocks"])
    return render(
        request,
        "campaign/dashboard.html",
        {
            "project": project,
            "active": "campaign",
            "on": as_of,
            "today": today,
            "previous": as_of - timedelta(days=1),
            "next": as_of + timedelta(days=1) if as_of < today else None,
            "p": progress,
            "t": progress["totals"],
            "s": progress["schedule"],
            "fc": forecast["project"],
            "forecast_by_block": forecast_by_block,
            "alerts": alerts,
            "alert_kinds": campaign_service.ALERT_KINDS,
            "chart": _chart_data(progress, daily, forecast, bars),
            "pct": pct,
        },
    )
