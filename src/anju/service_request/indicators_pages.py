"""HTML pages of the loop's indicators: the dashboard (月度指标, trend, ranking, map of open requests),
the monthly report downloads, and the public board (公开栏, no login)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju import i18n
from anju.config import get_settings
from anju.core.dates import today_shanghai, utcnow
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.service_request import board as board_service
from anju.service_request import indicators as indicators_service
from anju.service_request import report as report_service
from anju.web.deps import get_db, requires
from anju.web.params import IdPath, PageQuery
from anju.web.templating import render

router = APIRouter(include_in_schema=False)
READ = requires(Permission.GRID_READ)
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TREND_MONTHS = 12
RANKED = 15


def pct(value: Any) -> str:
    """``"0.3333"`` as ``"33.3%"``; ``—`` when there is none."""
    if value is None or value == "":
        return "—"
    return f"{Decimal(str(value)) * 100:.1f}%"


def _month(month: str) -> str:
    return (
        indicators_service.parse_month(month) if month else indicators_service.current_month(today_shanghai())
    )


def _chart(trend: list[dict[str, Any]], ranked: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """What request_dashboard.js draws: the monthly trend and the rankings (rates in percent)."""

    def p(v: str | None) -> float | None:
        return None if v is None else round(float(Decimal(v) * 100), 1)

    return {
        "months": [t["month"] for t in trend],
        "received": [t["received"] for t in trend],
        "closed": [t["closed"] for t in trend],
        "closure": [p(t["closure_rate"]) for t in trend],
        "on_time": [p(t["on_time_rate"]) for t in trend],
        "satisfied": [p(t["satisfied_share"]) for t in trend],
        "rankings": {
            g: {"names": [r["name"] for r in rows], "on_time": [p(r["on_time_rate"]) for r in rows]}
            for g, rows in ranked.items()
        },
    }


@router.get("/service-requests/dashboard")
def dashboard_page(
    request: Request,
    month: str = "",
    group: str = "grid",
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> Response:
    """The month's indicators by grid, community or department, the 12-month trend, the rankings of
    grids and departments by 按期结案率, and the map of open requests."""
    month = _month(month)
    result = indicators_service.indicators(db, group=group, month=month).to_dict()
    trend = indicators_service.trend(db, group=group, month=month, months=TREND_MONTHS)
    ranked = {}
    for g in ("grid", "department"):
        rows = (
            result["rows"]
            if g == group
            else indicators_service.indicators(db, group=g, month=month).to_dict()["rows"]
        )
        due = [r for r in rows if r["due"]]
        due.sort(key=lambda r: (-Decimal(r["on_time_rate"]), -r["due"], r["name"]))
        ranked[g] = due[:RANKED]
    previous = indicators_service.previous_months(month, 2)[0]
    return render(
        request,
        "service_request/dashboard.html",
        {
            "active": "request_dashboard",
            "month": month,
            "previous": previous,
            "group": group,
            "groups": indicators_service.GROUPS,
            "r": result,
            "t": result["total"],
            "ranked": ranked,
            "chart": _chart(trend, ranked),
            "tiles": get_settings().map_tile_url,
            "pct": pct,
        },
    )


def _download(content: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


@router.get("/service-requests/report.pdf")
def report_pdf(month: str = "", user: CurrentUser = Depends(READ), db: Session = Depends(get_db)) -> Response:
    """The monthly report as PDF."""
    month = _month(month)
    pdf = report_service.pdf(db, month=month, now=utcnow())
    return _download(pdf, "application/pdf", i18n.t("诉求办理月报-{month}.pdf", month=month))


@router.get("/service-requests/report.docx")
def report_docx(
    month: str = "", user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """The monthly report as DOCX (editable in Word or WPS)."""
    month = _month(month)
    return _download(
        report_service.docx(db, month=month, now=utcnow()),
        DOCX_TYPE,
        i18n.t("诉求办理月报-{month}.docx", month=month),
    )


@router.get("/public/board")
def public_board(request: Request, page: PageQuery = 1, db: Session = Depends(get_db)) -> Response:
    """公开栏 (no login): recent published and closed requests with their results, photos and ratings;
    never who reported them."""
    data = board_service.board(db, page=page)
    return render(request, "service_request/board.html", {"b": data})


@router.get("/public/board/photos/{photo_id}")
def public_board_photo(photo_id: IdPath, db: Session = Depends(get_db)) -> Response:
    """A result photo of a request on the board (no login)."""
    content_type, data = board_service.board_photo(db, photo_id=photo_id)
    return Response(
        data,
        media_type=content_type,
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
