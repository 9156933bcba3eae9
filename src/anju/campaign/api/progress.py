"""JSON routes of the campaign: progress, daily series, rankings and forecast (thin over the service).

Every route needs CAMPAIGN_READ and counts only the households in the caller's data scope (a team
member: their own households; a team leader: the team's). Dates are office dates (Asia/Shanghai),
today by default. The big screen's data route lives with the live routes (``api/live.py``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel
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

# The JSON of a result the service answered from its cache, rendered once: a cache hit then costs
# the session check and the service's version reads only (see bench/RESULTS.md "Campaign progress").
_rendered: OrderedDict[tuple[int, str], tuple[Any, bytes]] = OrderedDict()
_rendered_lock = threading.Lock()


def _respond(model: type[BaseModel], result: Any, shape: Any = None, *, view: str = "") -> Response:
    """``result`` (a service result kept in its cache) as JSON validated by ``model``, rendered once per
    result object; ``shape`` turns it into the model's fields (default ``result.to_dict()``)."""
    key = (id(result), view or model.__name__)
    with _rendered_lock:
        hit = _rendered.get(key)
        if hit is not None and hit[0] is result:
            _rendered.move_to_end(key)
            return Response(content=hit[1], media_type="application/json")
    data = shape(result) if shape is not None else result.to_dict()
    body = model.model_validate(data).model_dump_json().encode()
    with _rendered_lock:
        _rendered[key] = (result, body)  # the reference keeps the id from being reused meanwhile
        while len(_rendered) > 64:
            _rendered.popitem(last=False)
    return Response(content=body, media_type="application/json")


OnQuery = Annotated[date | None, Query(description="统计日期（YYYY-MM-DD，北京时间；默认今天）")]


@router.get("/projects/{project_id}/progress", response_model=s.ProgressRead)
def progress(
    project_id: IdPath,
    on: OnQuery = None,
    concerns_from: Annotated[
        date | None,
        Query(description="关注点统计的起始日期（含；默认不限，截至统计日期；晚于统计日期时为零）"),
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
    return _respond(s.ProgressRead, p)


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
    return _respond(s.DailySeriesRead, series)


@router.get("/projects/{project_id}/rankings", response_model=s.RankingsRead)
def rankings(
    project_id: IdPath,
    on: OnQuery = None,
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> Any:
    """比学赶超: the teams ranked by households signed, sign rate and speed (signatures in the last
    7 days) as of ``on``; 大组 among 大组, 小组 among 小组; ties share a rank."""
    p = campaign_service.progress(db, scope=user.scope, project_id=project_id, on=on or today_shanghai())

    def shape(r: Any) -> dict[str, Any]:
        return {
            "project_id": r.project_id,
            "on": r.on,
            "groups": [t.to_dict() for t in r.rankings.get("groups", [])],
            "squads": [t.to_dict() for t in r.rankings.get("squads", [])],
        }

    return _respond(s.RankingsRead, p, shape, view="rankings")


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
    return _respond(s.ForecastRead, f)
