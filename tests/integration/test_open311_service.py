"""The Open311 use cases on every backend: what GET requests finds (the 90-day window, status,
ids), what POST requests writes (channel, key, answers, private name and phone, one submit event)
and that a refused POST writes nothing."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.service_request.models import RequestEvent, ServiceApiKey, ServiceRequest
from anju.service_request.open311 import Open311Error
from anju.service_request.service import open311 as open311_service
from tests.api.open311_world import seed


def _count(db: Session) -> tuple[int, int]:
    return (
        db.scalar(select(func.count()).select_from(ServiceRequest)) or 0,
        db.scalar(select(func.count()).select_from(RequestEvent)) or 0,
    )


def test_search_window_status_and_ids(db: Session) -> None:
    s = seed(db, None)
    found = open311_service.search(db, params={})
    assert [r["service_request_id"] for r in found] == [s["open"], s["closed"]]
    closed = found[1]
    assert closed["status"] == "closed"
    assert closed["updated_datetime"] == datetime.fromisoformat(s["closed_at"])
    assert closed["status_notes"] == "已更换灯泡" and closed["agency_responsible"] == "城管"
    assert [r["service_request_id"] for r in open311_service.search(db, params={"status": "open"})] == [
        s["open"]
    ]
    old_at = datetime.fromisoformat(s["old_at"])
    span = {
        "start_date": (old_at - timedelta(hours=1)).isoformat(),
        "end_date": (old_at + timedelta(hours=1)).isoformat(),
    }
    assert [r["service_request_id"] for r in open311_service.search(db, params=span)] == [s["old"]]
    by_ids = open311_service.search(
        db, params={"service_request_id": f"{s['old']}, {s['open']}", "status": "closed"}
    )
    assert [r["service_request_id"] for r in by_ids] == [s["open"], s["old"]]
    assert open311_service.one(db, service_request_id=s["old"])[0]["status"] == "open"


def test_create_writes_one_request_with_its_submit_event(db: Session) -> None:
    s = seed(db, None)
    before = _count(db)
    (answer,) = open311_service.create(
        db,
        api_key=s["key"],
        form={
            "service_code": s["lamp"],
            "lat": "32.0412345",
            "long": "118.78",
            "first_name": "小明",
            "last_name": "李",
            "phone": "13900001111",
            "email": "li@example.com",
        },
        attributes={"kind": ["dark"], "pole": [" "]},
    )
    assert _count(db) == (before[0] + 1, before[1] + 1)
    req = db.scalar(select(ServiceRequest).where(ServiceRequest.code == answer["service_request_id"]))
    assert req is not None
    key = db.scalar(
        select(ServiceApiKey).where(ServiceApiKey.key_hash == hashlib.sha256(s["key"].encode()).hexdigest())
    )
    assert key is not None and key.name == "12345 热线 App"
    assert (req.channel, req.api_key_id, req.status) == ("open311", key.id, "submitted")
    assert (req.reporter_name, req.reporter_phone) == ("李小明", "13900001111")
    assert json.loads(req.attributes) == {"kind": "dark"}
    assert str(req.lat) == "32.041235" and str(req.lng) == "118.780000"
    assert req.description == "路灯不亮"
    events = list(db.scalars(select(RequestEvent).where(RequestEvent.request_id == req.id)))
    assert [(e.action, e.from_status, e.to_status) for e in events] == [("submit", "", "submitted")]


@pytest.mark.parametrize(
    ("change", "code", "text"),
    [
        ({"api_key": ""}, 403, "缺少 api_key"),
        ({"api_key": "nope"}, 403, "api_key 无效或已停用"),
        ({"service_code": ""}, 400, "缺少 service_code"),
        ({"lat": "", "long": ""}, 400, "须提供位置"),
        ({"long": ""}, 400, "lat 和 long 须同时提供"),
        ({"long": "181"}, 400, "long 须在 -180 到 180 之间"),
        ({"media_url": "file:///etc/passwd"}, 400, "media_url 须为 http(s) 地址"),
        ({"address_string": "幸福路\x001号"}, 400, "address_string：含有控制字符"),
    ],
)
def test_refused_create_writes_nothing(db: Session, change: dict[str, str], code: int, text: str) -> None:
    s = seed(db, None)
    form = {"service_code": s["lamp"], "lat": "32.04", "long": "118.78", **change}
    api_key = form.pop("api_key", s["key"])
    before = _count(db)
    with pytest.raises(Open311Error) as exc:
        open311_service.create(db, api_key=api_key, form=form, attributes={"kind": ["dark"]})
    assert (exc.value.code, exc.value.description[: len(text)]) == (code, text)
    assert _count(db) == before


def test_revoked_key_is_refused(db: Session) -> None:
    s = seed(db, None)
    with pytest.raises(Open311Error) as exc:
        open311_service.check_key(db, s["revoked_key"])
    assert (exc.value.code, exc.value.description) == (403, "api_key 无效或已停用")
    assert open311_service.check_key(db, s["key"]).name == "12345 热线 App"
