"""The five-order loop through its HTML pages: a resident files on the phone page (map point, photo)
and follows with the code and follow code; a grid worker files on a resident's behalf; the desk
accepts, the department takes and publishes with a photo, the resident rates on the follow page;
each refusal shows its Chinese message on the page and writes nothing; the public form is limited
per address; the request catalogue loads idempotently."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from anju.core.actor import Actor
from anju.db.session import unit_of_work
from anju.identity.models import User
from anju.service_request import service as request_service
from anju.service_request.models import Department, RequestEvent, ServiceCategory, ServiceRequest
from tests.api.conftest import page_csrf
from tests.api.permission_calls import PNG
from tests.factories import World

ClientAs = Callable[[str], tuple[TestClient, str, World]]
ADMIN = Actor.system("test")


def _catalogue() -> int:
    """The default catalogue; the world's department user acts for the street-lamp department."""
    with unit_of_work() as db:
        request_service.load_catalogue(db, actor=ADMIN)
        uid = db.scalar(select(User.id).where(User.username == "department"))
        lamp = db.scalar(select(ServiceCategory).where(ServiceCategory.code == "lamp"))
        assert lamp is not None and uid is not None
        dep = db.get(Department, lamp.department_id)
        assert dep is not None
        request_service.add_member(db, actor=ADMIN, department_code=dep.code, user_id=uid)
        return lamp.id


def _public_file(client: TestClient, category_id: int, **extra: Any) -> tuple[str, str]:
    client.cookies.clear()
    r = client.post(
        "/public/requests/new",
        data={
            "category_id": str(category_id),
            "description": "3 幢门口路灯不亮",
            "lng": "120.100000",
            "lat": "30.200000",
            "address": "幸福里 3 幢",
            **extra,
        },
        files=[("photos", ("现场.png", PNG, "image/png"))],
    )
    assert r.status_code == 201, r.text
    code = re.search(r'class="mono req-code">([0-9-]+)<', r.text)
    secret = re.search(r'id="req-secret">([0-9A-Z]+)<', r.text)
    assert code and secret, r.text
    return code.group(1), secret.group(1)


def _request_id(code: str) -> int:
    with unit_of_work() as db:
        rid = db.scalar(select(ServiceRequest.id).where(ServiceRequest.code == code))
        assert rid is not None
        return int(rid)


def _form(client: TestClient, path: str, data: dict[str, str], files: Any = None) -> Any:
    page = client.get(path.rsplit("/", 1)[0])
    assert page.status_code == 200, page.text
    version = re.search(r'name="version" value="(\d+)"', page.text)
    assert version
    return client.post(
        path,
        data={"csrf_token": page_csrf(page.text), "version": version.group(1), **data},
        files=files,
        follow_redirects=False,
    )


def test_the_loop_through_the_pages(client_as: ClientAs) -> None:
    lamp = _catalogue()
    client, _, _ = client_as("community")
    new = client.get("/public/requests/new")
    assert new.status_code == 200 and "路灯不亮" in new.text and 'id="req-map"' in new.text
    geo = client.get("/public/requests/grids.geojson")
    assert geo.status_code == 200 and geo.json()["type"] == "FeatureCollection"

    code, secret = _public_file(client, lamp)
    rid = _request_id(code)
    follow = client.get(f"/public/requests/{code}", params={"secret": secret})
    assert follow.status_code == 200 and "待定单" in follow.text and "3 幢门口路灯不亮" in follow.text
    wrong = client.get(f"/public/requests/{code}", params={"secret": "WRONG"})
    assert (wrong.status_code == 404 and "查询码" in wrong.text) or "不存在" in wrong.text

    # the desk: the list shows it, the page offers 定单; accepting moves it on
    client, _, _ = client_as("community")
    listed = client.get("/service-requests", params={"tab": "submitted"})
    assert listed.status_code == 200 and code in listed.text
    detail = client.get(f"/service-requests/{rid}")
    assert 'id="form-accept"' in detail.text and 'id="form-take"' not in detail.text
    r = _form(client, f"/service-requests/{rid}/accept", {"priority": "urgent"})
    assert r.status_code == 303 and r.headers["location"] == f"/service-requests/{rid}?done=accept"

    # the department: take, then publish with a photo
    client, _, _ = client_as("department")
    detail = client.get(f"/service-requests/{rid}")
    assert 'id="form-take"' in detail.text and 'id="form-accept"' not in detail.text
    assert _form(client, f"/service-requests/{rid}/take", {}).status_code == 303
    r = _form(
        client,
        f"/service-requests/{rid}/publish",
        {"result": "更换灯具 2 盏，已恢复照明"},
        files=[("photos", ("结果.png", PNG, "image/png"))],
    )
    assert r.status_code == 303, r.text

    # the resident rates on the follow page; the request closes and the board shows the result
    client.cookies.clear()
    follow = client.get(f"/public/requests/{code}", params={"secret": secret})
    assert 'id="verify-form"' in follow.text and "更换灯具 2 盏" in follow.text
    version = re.search(r'name="version" value="(\d+)"', follow.text)
    assert version
    r = client.post(
        f"/public/requests/{code}/verify",
        data={"secret": secret, "version": version.group(1), "rating": "5", "resolution": "solved"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    done = client.get(r.headers["location"])
    assert "已办结" in done.text and "感谢您的评价" in done.text
    board = client.get("/public/board")
    assert code in board.text and "更换灯具 2 盏" in board.text
    with unit_of_work() as db:
        actions = db.scalars(
            select(RequestEvent.action).where(RequestEvent.request_id == rid).order_by(RequestEvent.id)
        ).all()
    assert list(actions) == ["submit", "accept", "take", "publish", "verify"]


def test_refusals_show_chinese_messages_and_write_nothing(client_as: ClientAs) -> None:
    lamp = _catalogue()
    client, _, _ = client_as("community")
    # an empty description: the form comes back with the message and the values
    client.cookies.clear()
    r = client.post(
        "/public/requests/new", data={"category_id": str(lamp), "description": " ", "address": "x"}
    )
    assert r.status_code == 422 and "请描述诉求内容" in r.text
    r = client.post(
        "/public/requests/new", data={"category_id": "abc", "description": "路灯", "address": "x"}
    )
    assert r.status_code == 422 and "诉求分类须为正整数" in r.text
    r = client.post(
        "/public/requests/new",
        data={"category_id": str(lamp), "description": "路灯", "lng": "东经120", "lat": "30"},
    )
    assert r.status_code == 422 and "经度须为数字" in r.text
    code, _ = _public_file(client, lamp)
    rid = _request_id(code)
    client, _, _ = client_as("community")
    # reject without a reason: refused on the page, nothing written
    r = _form(client, f"/service-requests/{rid}/reject", {"reason": ""})
    assert r.status_code == 422 and "理由" in r.text and 'id="form-reject"' in r.text
    # merge into a code that does not exist
    r = _form(client, f"/service-requests/{rid}/merge", {"into_code": "20990101-0001", "reason": "重复"})
    assert r.status_code == 422 and "诉求编号“20990101-0001”不存在" in r.text
    # the department may not accept
    client, _, _ = client_as("department")
    page = client.get(f"/service-requests/{rid}")
    r = client.post(
        f"/service-requests/{rid}/accept",
        data={"csrf_token": page_csrf(page.text) if "csrf_token" in page.text else "", "version": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    with unit_of_work() as db:
        req = db.get(ServiceRequest, rid)
        assert req is not None and req.status == "submitted"
        assert (
            db.scalar(select(func.count()).select_from(RequestEvent).where(RequestEvent.request_id == rid))
            == 1
        )


def test_a_grid_worker_files_on_a_residents_behalf(client_as: ClientAs) -> None:
    lamp = _catalogue()
    client, _, _ = client_as("grid_worker")
    page = client.get("/service-requests/new")
    assert page.status_code == 200 and 'name="grid_id"' in page.text
    r = client.post(
        "/service-requests/new",
        data={
            "csrf_token": page_csrf(page.text),
            "category_id": str(lamp),
            "description": "独居老人家门口路灯坏了",
            "address": "东埠新村 5 幢",
            "reporter_name": "李阿姨",
            "reporter_phone": "13900000000",
        },
    )
    assert r.status_code == 201 and "查询码" in r.text
    code = re.search(r'class="mono req-code">([0-9-]+)<', r.text)
    assert code
    with unit_of_work() as db:
        req = db.scalar(select(ServiceRequest).where(ServiceRequest.code == code.group(1)))
        assert req is not None and req.channel == "grid_worker" and req.reporter_name == "李阿姨"


def test_the_public_form_is_limited_per_address(client_as: ClientAs, monkeypatch: pytest.MonkeyPatch) -> None:
    from anju.config import get_settings

    lamp = _catalogue()
    client, _, _ = client_as("community")
    monkeypatch.setenv("ANJU_PUBLIC_REQUESTS_PER_HOUR", "2")
    get_settings.cache_clear()
    try:
        _public_file(client, lamp)
        _public_file(client, lamp)
        r = client.post(
            "/public/requests/new",
            data={"category_id": str(lamp), "description": "第三件", "address": "x"},
        )
        assert r.status_code == 429 and "最多提交 2 件诉求" in r.text
        api = client.post(
            "/api/v1/public/requests",
            data={"category_id": str(lamp), "description": "第三件", "address": "x"},
        )
        assert api.status_code == 429
        with unit_of_work() as db:
            assert db.scalar(select(func.count()).select_from(ServiceRequest)) == 2
            # the address is kept as a digest only
            assert all(len(a) == 40 for a in db.scalars(select(ServiceRequest.submit_address)))
    finally:
        monkeypatch.setenv("ANJU_PUBLIC_REQUESTS_PER_HOUR", "0")
        get_settings.cache_clear()


def test_the_catalogue_loads_idempotently(client_as: ClientAs) -> None:
    _catalogue()
    with unit_of_work() as db:
        again = request_service.load_catalogue(db, actor=ADMIN)
        assert (again.departments_added, again.categories_added, again.limits_set) == (0, 0, 0)
        assert len(request_service.active_categories(db)) == len(request_service.DEFAULT_CATALOGUE.categories)


def test_the_work_calendar_page(client_as: ClientAs) -> None:
    client, _, _ = client_as("community")
    page = client.get("/service-requests/calendar", params={"year": 2027})
    assert page.status_code == 200 and "这一年还没有登记节假日" in page.text
    csrf = page_csrf(page.text)
    bad = client.post(
        "/service-requests/calendar",
        data={"csrf_token": csrf, "year": "2027", "days": "2027-10-01,放假,国庆节\n2027-10-05,休息,x"},
    )
    assert bad.status_code == 422 and "第 2 行：类型“休息”不对" in bad.text
    with unit_of_work() as db:
        assert request_service.work_calendar.list_days(db, year=2027) == []
    ok = client.post(
        "/service-requests/calendar",
        data={
            "csrf_token": csrf,
            "year": "2027",
            "days": "2027-10-01,放假,国庆节\n2027-10-09,调休上班,国庆节调休",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    shown = client.get(ok.headers["location"])
    assert "2027-10-09" in shown.text and "调休上班" in shown.text
    client, _, _ = client_as("department")
    assert client.get("/service-requests/calendar").status_code == 403
