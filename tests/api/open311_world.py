"""Seed of the Open311 conformance suite (``ANJU_TEST_SEED=tests.api.open311_world:seed``): two
services (one with attributes), API keys (one revoked) and requests in every Open311 status, filed
and moved through the five orders by the request service."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from anju.core.dates import utcnow
from anju.service_request import service as request_service
from anju.service_request.models import ServiceCategory
from anju.service_request.service import open311 as open311_service
from tests.integration.request_world import build_requests

ATTRIBUTES = [
    {
        "code": "pole",
        "datatype": "string",
        "required": False,
        "description": "灯杆编号",
        "order": 2,
    },
    {
        "code": "kind",
        "datatype": "singlevaluelist",
        "required": True,
        "description": "故障情况",
        "order": 1,
        "values": [{"key": "dark", "name": "不亮"}, {"key": "flicker", "name": "闪烁"}],
    },
]


def seed(db: Session, world: Any) -> dict[str, Any]:
    """Categories, keys and three requests: open (2 days ago), closed (filed 3 days ago, closed
    yesterday) and old (200 days ago, open)."""
    w = build_requests(db)
    lamp = db.get(ServiceCategory, w.lamp)
    dispute = db.get(ServiceCategory, w.dispute)
    assert lamp is not None and dispute is not None
    lamp.attributes = json.dumps(ATTRIBUTES, ensure_ascii=False)
    lamp.group, lamp.keywords, lamp.description = "市容环境", "路灯,照明", "路灯不亮、闪烁"
    lamp.sort, dispute.sort = 1, 2
    key = open311_service.add_key(db, name="12345 热线 App")
    revoked = open311_service.add_key(db, name="旧客户端")
    open311_service.revoke_key(db, key_id=revoked.id)
    now = utcnow().replace(microsecond=0)

    def file(days: float, category_id: int) -> request_service.Submitted:
        return request_service.submit(
            db,
            actor=None,
            category_id=category_id,
            description="小区3号楼门口路灯不亮",
            location=request_service.Location(
                lng=Decimal("118.780000"), lat=Decimal("32.040000"), address="幸福路1号"
            ),
            reporter_name="王秀英",
            reporter_phone="13812345678",
            now=now - timedelta(days=days),
        )

    old = file(200, w.dispute)
    closed = file(3, w.lamp)
    rid = closed.request.id
    request_service.accept(db, actor=w.desk, request_id=rid, version=None, now=now - timedelta(days=2.9))
    request_service.take(db, actor=w.dept, request_id=rid, version=None, now=now - timedelta(days=2.8))
    request_service.publish(
        db, actor=w.dept, request_id=rid, version=None, result="已更换灯泡", now=now - timedelta(days=2)
    )
    closed_at = now - timedelta(days=1)
    request_service.verify(
        db, actor=None, request_id=rid, version=None, rating=5, secret=closed.secret, now=closed_at
    )
    opened = file(2, w.lamp)
    db.flush()
    return {
        "key": key.key,
        "revoked_key": revoked.key,
        "lamp": lamp.code,
        "dispute": dispute.code,
        "open": opened.request.code,
        "closed": closed.request.code,
        "old": old.request.code,
        "old_at": old.request.submitted_at.isoformat(),
        "closed_at": closed_at.isoformat(),
        "department": "城管",
    }
