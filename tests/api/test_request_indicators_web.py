"""Indicators over HTTP: the JSON route, the dashboard, the monthly report (PDF text via pdftotext,
DOCX text), the public board without login (no reporter data) and its photos; refusals."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from anju.db.session import unit_of_work
from anju.service_request.models import RequestPhoto, ServiceRequest
from tests.factories import World
from tests.integration.test_request_indicators import TOTAL, build_month

ClientAs = Callable[[str], tuple[TestClient, str, World]]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def month_world(client_as: ClientAs) -> ClientAs:
    with unit_of_work() as db:
        build_month(db)
        ids = dict(
            (code, rid)
            for code, rid in db.query(ServiceRequest.code, ServiceRequest.id).filter(
                ServiceRequest.code.in_(["R1", "R2"])
            )
        )
        db.query(ServiceRequest).filter(ServiceRequest.code == "R1").update(
            {"result": "已更换灯泡，恢复照明"}
        )
        at = datetime(2031, 3, 5, tzinfo=UTC)
        for rid, stage in ((ids["R1"], "publish"), (ids["R1"], "submit")):
            db.add(
                RequestPhoto(
                    request_id=rid,
                    stage=stage,
                    content_type="image/png",
                    size=len(PNG),
                    sha256="0" * 64,
                    data=PNG,
                    uploaded_at=at,
                )
            )
    return client_as


def test_indicators_json(month_world: ClientAs) -> None:
    client, _, _ = month_world("community")
    r = client.get(
        "/api/v1/service-requests/indicators", params={"group": "grid", "month": "2031-03", "trend": 2}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [row["name"] for row in body["rows"]] == ["东埠一网格", "西城一网格"]
    assert {k: body["total"][k] for k in TOTAL} == TOTAL
    assert [(t["month"], t["received"]) for t in body["trend"]] == [("2031-02", 1), ("2031-03", 7)]


@pytest.mark.parametrize(
    ("params", "field"), [({"month": "2031-3"}, "month"), ({"group": "street"}, "group")]
)
def test_indicators_json_refuses_bad_arguments(
    month_world: ClientAs, params: dict[str, str], field: str
) -> None:
    client, _, _ = month_world("community")
    r = client.get("/api/v1/service-requests/indicators", params=params)
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == field


def test_indicators_need_grid_read(month_world: ClientAs) -> None:
    client, _, _ = month_world("finance")
    assert client.get("/api/v1/service-requests/indicators").status_code == 403
    client.cookies.clear()
    assert client.get("/api/v1/service-requests/indicators").status_code == 401
    assert client.get("/service-requests/dashboard", follow_redirects=False).status_code == 303


def test_dashboard_page(month_world: ClientAs) -> None:
    client, _, _ = month_world("commander")
    r = client.get("/service-requests/dashboard", params={"month": "2031-03", "group": "department"})
    assert r.status_code == 200, r.text
    html = r.text
    assert "诉求办理指标" in html and 'id="rq-map"' in html and 'id="rq-trend"' in html
    assert '<td data-label="部门">城管</td>' in html
    assert '<td class="num" data-label="按期结案率">40.0%</td>' in html  # 城管: 2 of 5 on time
    assert 'href="/service-requests/dashboard"' in html  # the nav entry


def test_open_map(month_world: ClientAs) -> None:
    client, _, _ = month_world("grid_worker")
    body = client.get("/api/v1/service-requests/open-map").json()
    names = {f["properties"]["name"]: f["properties"]["open"] for f in body["features"]}
    # open: R2b (dispatched) and R5 (in progress) in 东埠一网格; R2 is closed
    assert names["东埠一网格"] == 2 and names["西城一网格"] == 0
    assert body["features"][0]["geometry"]["type"] == "Polygon"


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_report_pdf_text(month_world: ClientAs, tmp_path: Path) -> None:
    client, _, _ = month_world("community")
    r = client.get("/service-requests/report.pdf", params={"month": "2031-03"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(r.content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True, text=True
    ).stdout
    flat = "".join(text.split())
    assert "2031年3月居民诉求办理情况月报" in flat
    assert "共受理居民诉求7件（立案派遣6件），办结4件" in flat
    assert "结案率66.7%" in flat and "按期结案率50.0%" in flat and "返工率25.0%" in flat
    assert "东埠一网格" in flat and "城管" in flat and "西城社区" in flat
    assert "张三" not in flat


def test_report_docx_text(month_world: ClientAs) -> None:
    client, _, _ = month_world("community")
    r = client.get("/service-requests/report.docx", params={"month": "2031-03"})
    assert r.status_code == 200
    xml = zipfile.ZipFile(io.BytesIO(r.content)).read("word/document.xml").decode()
    assert "2031 年 3 月居民诉求办理情况月报" in xml
    assert "延期率 16.7%" in xml and "东埠一网格" in xml and "住建" in xml
    assert "{%" not in xml and "{{" not in xml


def test_public_board_without_login(month_world: ClientAs) -> None:
    client, _, _ = month_world("community")
    client.cookies.clear()
    r = client.get("/public/board")
    assert r.status_code == 200
    html = r.text
    # published or closed, newest result first: R2 (published 04-01), R4, R3, R7, R1
    codes = [c for c in ("R2", "R4", "R3", "R7", "R1") if f"编号 {c}<" in html]
    assert codes == ["R2", "R4", "R3", "R7", "R1"]
    assert html.index("编号 R2<") < html.index("编号 R4<") < html.index("编号 R1<")
    assert "已更换灯泡，恢复照明" in html and "★★★★★" in html
    assert "张三" not in html and "13800000000" not in html and "R5" not in html and "R6" not in html
    assert "下一页" not in html


def test_board_photos(month_world: ClientAs) -> None:
    client, _, _ = month_world("community")
    client.cookies.clear()
    html = client.get("/public/board").text
    import re

    ids = re.findall(r'src="/public/board/photos/(\d+)"', html)
    assert len(ids) == 1
    r = client.get(f"/public/board/photos/{ids[0]}")
    assert r.status_code == 200 and r.content == PNG and r.headers["content-type"] == "image/png"
    # the resident's own photo (stage submit) is never public
    assert client.get(f"/public/board/photos/{int(ids[0]) + 1}").status_code == 404
