"""JSON routes of the loop's indicators and its map of open requests; thin over
:mod:`anju.service_request.indicators` and :mod:`anju.service_request.board`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from anju.core.dates import today_shanghai
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.service_request import board as board_service
from anju.service_request import indicators as indicators_service
from anju.web.deps import get_db, requires
from anju.web.params import READ_ERRORS, error_responses

router = APIRouter(tags=["service-request-indicators"], responses=error_responses(*READ_ERRORS))
READ = requires(Permission.GRID_READ)
MONTH_PATTERN = r"^(|[2-9][0-9]{3}-(0[1-9]|1[0-2]))$"  # empty: this month


@router.get("/service-requests/indicators")
def get_indicators(
    group: Annotated[
        Literal["grid", "community", "department"],
        Query(description="grid（网格）| community（社区）| department（部门）"),
    ] = "grid",
    month: Annotated[
        str, Query(pattern=MONTH_PATTERN, description="月份 YYYY-MM（默认本月，Asia/Shanghai）")
    ] = "",
    trend: Annotated[int, Query(ge=0, le=36, description="另附截至该月的近 N 个月合计（0 为不附）")] = 0,
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> dict[str, Any]:
    """结案率、按期结案率、返工率、延期率、满意度与平均用时, by group for one month (rates as
    decimal text, ``null`` when there is nothing to divide), from the requests' history."""
    month = month or indicators_service.current_month(today_shanghai())
    out = indicators_service.indicators(db, group=group, month=month).to_dict()
    if trend:
        out["trend"] = indicators_service.trend(db, group=group, month=month, months=trend)
    return out


@router.get("/service-requests/open-map")
def get_open_map(user: CurrentUser = Depends(READ), db: Session = Depends(get_db)) -> dict[str, Any]:
    """GeoJSON of the grids, each with the number of its open requests."""
    return board_service.open_map(db)
