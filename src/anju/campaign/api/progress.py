"""JSON routes of the campaign: progress, daily series, rankings and forecast (thin over the service).

Every route needs CAMPAIGN_READ and counts only the households in the caller's data scope (a team
member: their own households; a team leader: the team's). Dates are office dates (Asia/Shanghai),
today by default. The big screen's data route lives with the live routes (``api/live.py``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from anju.campaign import schemas as s
from anju.campaign import service as campaign_service
from anju.core.dates import today_shanghai
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import get_db, requires
from anju.web.params import READ_ERRORS, IdPath, error_responses

router = APIRouter(tags=["campaign"], responses=error_responses(*READ_ERRORS))
READ = requires(Permission.CAMPAIGN_READ)

OnQuery = Annotated[
    date | None, Query(description="统计日期（YYYY-MM-DD，北京时间，2000-01-01 至 2099-12-31；默认今天）")
]


@router.get("/projects/{project_id}/progress", response_model=s.ProgressRead)
def progress(
    project_id: IdPath,
    on: OnQuery = None,
    concerns_from: Annotated[
        date | None, Query(description="关注点统计的起始日期（含；默认不限，截至统计日期）")
    ] = None,
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> Any:
    """Counts and rates as of the end of ``on`` for the project, each block (sub-blocks included)
    and each team: households, 已调查 … 已拆除 (cumulative: 已签约 includes 已腾空 and 已拆除) and paid,
    the day's signatures and the change from the day before; days since the launch, the reverse
    schedule against the actual pace, records (blocks at 100% and the last signature's time), team
    rankings and the concern tags of the visits."""
    p = campaign_service.progress(
        db, scope=user.scope, project_id=project_id, on=on or today_shanghai(), concern_from=concerns_from
    )
    return p.to_dict()


@router.get("/projects/{project_id}/progress/daily", response_model=s.DailySeriesRead)
def progress_daily(
    project_id: IdPath,
    until: Annotated[date | None, Query(description="最后一天（YYYY-MM-DD；默认今天）")] = None,
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> Any:
    """Cumulative counts at the end of each day from the launch (or the first signature) to ``until``
    (at most 1,000 days), the signatures of each day and the plan line, for the burn-up chart."""
    series = campaign_service.daily_series(
        db, scope=user.scope, project_id=project_id, until=until or today_shanghai()
    )
    return series.to_dict()


@router.get("/projects/{project_id}/rankings", response_model=s.RankingsRead)
def rankings(
    project_id: IdPath,
    on: OnQuery = None,
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> Any:
    """比学赶超: the teams ranked by households signed, sign rate and speed (signatures in the last
    7 days) as of ``on``; 大组 among 大组, 小组 among 小组; ties share a rank."""
    day = on or today_shanghai()
    p = campaign_service.progress(db, scope=user.scope, project_id=project_id, on=day)
    return {
        "project_id": project_id,
        "on": day,
        "groups": [t.to_dict() for t in p.rankings.get("groups", [])],
        "squads": [t.to_dict() for t in p.rankings.get("squads", [])],
    }


@router.get("/projects/{project_id}/forecast", response_model=s.ForecastRead)
def forecast(
    project_id: IdPath,
    on: OnQuery = None,
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> Any:
    """When the project and each block reach 100% signing: a survival model of the time to sign
    fitted to the signing history up to ``on`` (Weibull or log-logistic tail), the median date and a
    10th-90th percentile band from a parametric bootstrap; "insufficient" below 5 signatures."""
    f = campaign_service.forecast(db, project_id=project_id, on=on or today_shanghai(), scope=user.scope)
    return f.to_dict()
