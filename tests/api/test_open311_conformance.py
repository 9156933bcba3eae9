"""Open311 GeoReport v2 conformance: every endpoint in JSON and XML against a running server
(``tests/live_server.py``), errors included. XML is parsed with the standard library and checked
element by element; JSON and XML must carry the same records."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from tests.live_server import LiveWorld, serve_world

SEED = "tests.api.open311_world:seed"
FORMATS = ("json", "xml")
SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
ATTRIBUTE_FIELDS = [
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveWorld]:
    with serve_world(tmp_path_factory.mktemp("open311"), start_timeout=120, households=1, seed=SEED) as w:
        yield w


@pytest.fixture(scope="module")
def seed(live: LiveWorld) -> dict[str, Any]:
    data: dict[str, Any] = live.world["seed"]
    return data


class Reply:
    """One HTTP answer: status, content type and body."""

    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        self.status, self.content_type, self.body = status, content_type, body

    def json(self) -> Any:
        assert self.content_type == "application/json; charset=utf-8"
        return json.loads(self.body.decode("utf-8"))

    def xml(self) -> ET.Element:
        assert self.content_type == "text/xml; charset=utf-8"
        assert self.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
        return ET.fromstring(self.body)

    def tree(self, fmt: str) -> Any:
        """The body as JSON, or the XML turned into the same shape (lists by repeated items)."""
        return self.json() if fmt == "json" else _plain(self.xml())


def call(
    live: LiveWorld, method: str, path: str, params: dict[str, str] | list[tuple[str, str]] | None = None
) -> Reply:
    query = urllib.parse.urlencode(params or {})
    url = live.url + path
    data = None
    if method == "GET" and query:
        url += "?" + query
    elif method == "POST":
        data = query.encode("utf-8")
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return Reply(resp.status, resp.headers["content-type"], resp.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.headers["content-type"], exc.read())


LISTS = {"endpoints", "formats", "services", "attributes", "values", "service_requests", "errors"}


def _plain(el: ET.Element) -> Any:
    """An XML element as JSON-like data: a list element's children as a list, an element with
    children as a dict (in order), a leaf as its text ('' when empty)."""
    if el.tag in LISTS:
        return [_plain(c) for c in el]
    if len(el):
        return {c.tag: _plain(c) for c in el}
    return el.text or ""


def _xml_scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _as_xml_text(tree: Any) -> Any:
    """JSON data written the way the XML carries it (all text), to compare the two formats."""
    if isinstance(tree, list):
        return [_as_xml_text(v) for v in tree]
    if isinstance(tree, dict):
        return {k: _as_xml_text(v) for k, v in tree.items()}
    return _xml_scalar(tree)


def assert_error(reply: Reply, fmt: str, status: int, description_part: str) -> None:
    assert reply.status == status
    if fmt == "json":
        body = reply.json()
        assert isinstance(body, list) and len(body) == 1
        assert list(body[0]) == ["code", "description"]
        assert body[0]["code"] == status
        assert description_part in body[0]["description"]
    else:
        root = reply.xml()
        assert root.tag == "errors"
        assert [e.tag for e in root] == ["error"]
        assert [c.tag for c in root[0]] == ["code", "description"]
        assert root[0].findtext("code") == str(status)
        assert description_part in (root[0].findtext("description") or "")


def _shanghai(value: str) -> datetime:
    assert value.endswith("+08:00"), value
    return datetime.fromisoformat(value)


# --- discovery


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery(live: LiveWorld, fmt: str) -> None:
    reply = call(live, "GET", f"/open311/v2/discovery.{fmt}")
    assert reply.status == 200
    if fmt == "xml":
        root = reply.xml()
        assert root.tag == "discovery"
        assert [c.tag for c in root] == ["changeset", "contact", "key_service", "endpoints"]
        assert [e.tag for e in root.find("endpoints") or []] == ["endpoint"]
        endpoint = root.find("endpoints/endpoint")
        assert endpoint is not None
        assert [c.tag for c in endpoint] == ["specification", "url", "changeset", "type", "formats"]
        assert [f.text for f in endpoint.findall("formats/format")] == ["text/xml", "application/json"]
    body = reply.tree(fmt)
    assert list(body) == ["changeset", "contact", "key_service", "endpoints"]
    _shanghai(body["changeset"])
    assert body["endpoints"] == [
        {
            "specification": "http://wiki.open311.org/GeoReport_v2",
            "url": live.url + "/open311/v2",
            "changeset": body["changeset"],
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }
    ]


# --- services and definitions


@pytest.mark.parametrize("fmt", FORMATS)
def test_services(live: LiveWorld, seed: dict[str, Any], fmt: str) -> None:
    reply = call(live, "GET", f"/open311/v2/services.{fmt}")
    assert reply.status == 200
    if fmt == "xml":
        root = reply.xml()
        assert root.tag == "services"
        assert all(s.tag == "service" and [c.tag for c in s] == SERVICE_FIELDS for s in root)
    body = reply.tree(fmt)
    ours = [s for s in body if s["service_code"] in (seed["lamp"], seed["dispute"])]
    expected: list[dict[str, Any]] = [
        {
            "service_code": seed["lamp"],
            "service_name": "路灯不亮",
            "description": "路灯不亮、闪烁",
            "metadata": True,
            "type": "realtime",
            "keywords": "路灯,照明",
            "group": "市容环境",
        },
        {
            "service_code": seed["dispute"],
            "service_name": "邻里纠纷",
            "description": "",
            "metadata": False,
            "type": "realtime",
            "keywords": "",
            "group": "",
        },
    ]
    assert ours == (expected if fmt == "json" else _as_xml_text(expected))


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition(live: LiveWorld, seed: dict[str, Any], fmt: str) -> None:
    reply = call(live, "GET", f"/open311/v2/services/{seed['lamp']}.{fmt}")
    assert reply.status == 200
    if fmt == "xml":
        root = reply.xml()
        assert root.tag == "service_definition"
        assert [c.tag for c in root] == ["service_code", "attributes"]
        attrs = root.findall("attributes/attribute")
        assert [a.findtext("code") for a in attrs] == ["kind", "pole"]
        assert [c.tag for c in attrs[0]] == [*ATTRIBUTE_FIELDS, "values"]
        assert [c.tag for c in attrs[1]] == ATTRIBUTE_FIELDS
        assert [[c.tag for c in v] for v in attrs[0].findall("values/value")] == [["key", "name"]] * 2
    expected = {
        "service_code": seed["lamp"],
        "attributes": [
            {
                "variable": True,
                "code": "kind",
                "datatype": "singlevaluelist",
                "required": True,
                "datatype_description": "",
                "order": 1,
                "description": "故障情况",
                "values": [{"key": "dark", "name": "不亮"}, {"key": "flicker", "name": "闪烁"}],
            },
            {
                "variable": True,
                "code": "pole",
                "datatype": "string",
                "required": False,
                "datatype_description": "",
                "order": 2,
                "description": "灯杆编号",
            },
        ],
    }
    assert reply.tree(fmt) == (expected if fmt == "json" else _as_xml_text(expected))
    empty = call(live, "GET", f"/open311/v2/services/{seed['dispute']}.{fmt}")
    assert empty.status == 200
    if fmt == "json":
        assert empty.json() == {"service_code": seed["dispute"], "attributes": []}
    else:
        assert [(c.tag, c.text, len(c)) for c in empty.xml()] == [
            ("service_code", seed["dispute"], 0),
            ("attributes", None, 0),
        ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_service_definition_is_404(live: LiveWorld, fmt: str) -> None:
    assert_error(call(live, "GET", f"/open311/v2/services/no-such.{fmt}"), fmt, 404, "no-such")


# --- GET requests


def _record(reply: Reply, fmt: str) -> list[dict[str, Any]]:
    if fmt == "xml":
        root = reply.xml()
        assert root.tag == "service_requests"
        for r in root:
            assert r.tag == "request"
            assert [c.tag for c in r] == REQUEST_FIELDS
    body: list[dict[str, Any]] = reply.tree(fmt)
    if fmt == "json":
        assert all(list(r) == REQUEST_FIELDS for r in body)
    return body


def _ids(records: list[dict[str, Any]]) -> list[str]:
    return [r["service_request_id"] for r in records]


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_requests_default_is_last_90_days_newest_first(
    live: LiveWorld, seed: dict[str, Any], fmt: str
) -> None:
    reply = call(live, "GET", f"/open311/v2/requests.{fmt}")
    assert reply.status == 200
    records = _record(reply, fmt)
    assert _ids(records) == [seed["open"], seed["closed"]]  # the 200-day-old one is outside
    open_, closed = records
    assert open_["status"] == "open" and closed["status"] == "closed"
    assert closed["status_notes"] == "已更换灯泡"  # 晒单: the published result is public
    assert closed["agency_responsible"] == "城管"
    assert closed["service_code"] == seed["lamp"] and closed["service_name"] == "路灯不亮"
    assert closed["description"] == "小区3号楼门口路灯不亮"
    assert closed["address"] == "幸福路1号"
    # a closed request's updated_datetime is its close time
    assert _shanghai(closed["updated_datetime"]) == datetime.fromisoformat(seed["closed_at"])
    assert _shanghai(closed["requested_datetime"]) == datetime.fromisoformat(seed["closed_at"]) - timedelta(
        days=2
    )
    if fmt == "json":
        assert (closed["lat"], closed["long"]) == (32.04, 118.78)
        assert open_["expected_datetime"] is None or open_["expected_datetime"].endswith("+08:00")
    else:
        assert (closed["lat"], closed["long"]) == ("32.040000", "118.780000")
    # the reporter's name and phone never appear
    assert "王秀英".encode() not in reply.body and b"13812345678" not in reply.body


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_requests_filters(live: LiveWorld, seed: dict[str, Any], fmt: str) -> None:
    path = f"/open311/v2/requests.{fmt}"
    assert _ids(_record(call(live, "GET", path, {"status": "open"}), fmt)) == [seed["open"]]
    assert _ids(_record(call(live, "GET", path, {"status": "closed"}), fmt)) == [seed["closed"]]
    assert _ids(_record(call(live, "GET", path, {"status": "open,closed"}), fmt)) == [
        seed["open"],
        seed["closed"],
    ]
    assert _ids(_record(call(live, "GET", path, {"service_code": seed["dispute"]}), fmt)) == []
    old_at = datetime.fromisoformat(seed["old_at"])
    span = {
        "start_date": (old_at - timedelta(days=1)).isoformat(),
        "end_date": (old_at + timedelta(days=1)).isoformat(),
    }
    assert _ids(_record(call(live, "GET", path, span), fmt)) == [seed["old"]]
    assert _ids(_record(call(live, "GET", path, {**span, "service_code": seed["lamp"]}), fmt)) == []
    # service_request_id overrides every other filter
    ids = {
        "service_request_id": f"{seed['old']},{seed['closed']}",
        "service_code": seed["lamp"],
        "status": "open",
        "start_date": "2020-01-01T00:00:00+08:00",
        "end_date": "2020-01-02T00:00:00+08:00",
    }
    assert _ids(_record(call(live, "GET", path, ids), fmt)) == [seed["closed"], seed["old"]]


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_requests_errors(live: LiveWorld, seed: dict[str, Any], fmt: str) -> None:
    path = f"/open311/v2/requests.{fmt}"
    too_long = {"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-04-02T00:00:00+08:00"}
    assert_error(call(live, "GET", path, too_long), fmt, 400, "90 天")
    backwards = {"start_date": "2026-02-01T00:00:00+08:00", "end_date": "2026-01-01T00:00:00+08:00"}
    assert_error(call(live, "GET", path, backwards), fmt, 400, "end_date")
    assert_error(call(live, "GET", path, {"start_date": "yesterday"}), fmt, 400, "start_date")
    assert_error(call(live, "GET", path, {"service_code": "no-such"}), fmt, 400, "no-such")
    assert_error(call(live, "GET", path, {"status": "pending"}), fmt, 400, "status")
    # exactly 90 days is allowed
    ok = {"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-04-01T00:00:00+08:00"}
    assert call(live, "GET", path, ok).status == 200


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_one_request(live: LiveWorld, seed: dict[str, Any], fmt: str) -> None:
    reply = call(live, "GET", f"/open311/v2/requests/{seed['closed']}.{fmt}")
    assert reply.status == 200
    records = _record(reply, fmt)
    assert _ids(records) == [seed["closed"]]
    listed = _record(
        call(live, "GET", f"/open311/v2/requests.{fmt}", {"service_request_id": seed["closed"]}), fmt
    )
    assert records == listed
    assert_error(call(live, "GET", f"/open311/v2/requests/19990101-0001.{fmt}"), fmt, 404, "19990101-0001")


def test_json_and_xml_carry_the_same_records(live: LiveWorld) -> None:
    as_json = call(live, "GET", "/open311/v2/requests.json").json()
    as_xml = _plain(call(live, "GET", "/open311/v2/requests.xml").xml())
    for r in as_json:  # JSON numbers vs the XML's 6-place text
        r["lat"], r["long"] = (None if v is None else f"{v:.6f}" for v in (r["lat"], r["long"]))
    assert as_xml == _as_xml_text(as_json)


# --- POST requests


def _count(live: LiveWorld) -> int:
    return len(call(live, "GET", "/open311/v2/requests.json").json())


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_request(live: LiveWorld, seed: dict[str, Any], fmt: str) -> None:
    form = [
        ("api_key", seed["key"]),
        ("service_code", seed["lamp"]),
        ("lat", "32.041234"),
        ("long", "118.781234"),
        ("address_string", "幸福路2号"),
        ("description", "路灯一直闪"),
        ("first_name", "小明"),
        ("last_name", "李"),
        ("email", "li@example.com"),
        ("phone", "13900001111"),
        ("attribute[kind]", "flicker"),
        ("attribute[pole]", "HL-0042"),
        ("media_url", "https://example.com/lamp.jpg"),
    ]
    reply = call(live, "POST", f"/open311/v2/requests.{fmt}", form)
    assert reply.status == 200
    if fmt == "xml":
        root = reply.xml()
        assert root.tag == "service_requests"
        assert [[c.tag for c in r] for r in root] == [["service_request_id", "service_notice", "account_id"]]
    body = reply.tree(fmt)
    assert len(body) == 1
    new_id = body[0]["service_request_id"]
    assert isinstance(new_id, str) and new_id
    assert body[0]["service_notice"] == ""
    assert body[0]["account_id"] == (None if fmt == "json" else "")
    got = call(live, "GET", f"/open311/v2/requests/{new_id}.json")
    (record,) = got.json()
    assert record["status"] == "open"
    assert record["service_code"] == seed["lamp"]
    assert record["description"] == "路灯一直闪"
    assert record["address"] == "幸福路2号"
    assert (record["lat"], record["long"]) == (32.041234, 118.781234)
    assert record["media_url"] == "https://example.com/lamp.jpg"
    assert record["agency_responsible"] == "城管"
    for private in ("李小明", "13900001111", "li@example.com", "HL-0042"):
        assert private.encode() not in got.body


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_request_by_address_only(live: LiveWorld, seed: dict[str, Any], fmt: str) -> None:
    form = {"api_key": seed["key"], "service_code": seed["dispute"], "address_id": "幸福小区5栋"}
    reply = call(live, "POST", f"/open311/v2/requests.{fmt}", form)
    assert reply.status == 200
    new_id = reply.tree(fmt)[0]["service_request_id"]
    (record,) = call(live, "GET", f"/open311/v2/requests/{new_id}.json").json()
    assert (record["address"], record["lat"], record["long"]) == ("幸福小区5栋", None, None)
    assert record["description"] == "邻里纠纷"  # no description: the service's name


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_request_errors_write_nothing(live: LiveWorld, seed: dict[str, Any], fmt: str) -> None:
    path = f"/open311/v2/requests.{fmt}"
    good = {
        "api_key": seed["key"],
        "service_code": seed["lamp"],
        "lat": "32.04",
        "long": "118.78",
        "attribute[kind]": "dark",
    }
    before = _count(live)
    assert_error(
        call(live, "POST", path, {k: v for k, v in good.items() if k != "api_key"}), fmt, 403, "api_key"
    )
    assert_error(call(live, "POST", path, {**good, "api_key": "wrong"}), fmt, 403, "api_key")
    assert_error(call(live, "POST", path, {**good, "api_key": seed["revoked_key"]}), fmt, 403, "api_key")
    assert_error(call(live, "POST", path, {**good, "service_code": "no-such"}), fmt, 400, "no-such")
    assert_error(
        call(live, "POST", path, {k: v for k, v in good.items() if k != "service_code"}),
        fmt,
        400,
        "service_code",
    )
    no_place = {k: v for k, v in good.items() if k not in ("lat", "long")}
    assert_error(call(live, "POST", path, no_place), fmt, 400, "位置")
    assert_error(call(live, "POST", path, {**good, "lat": "132.0"}), fmt, 400, "lat")
    no_answer = {k: v for k, v in good.items() if k != "attribute[kind]"}
    assert_error(call(live, "POST", path, no_answer), fmt, 400, "attribute[kind]")
    assert_error(call(live, "POST", path, {**good, "attribute[kind]": "broken"}), fmt, 400, "broken")
    assert_error(call(live, "POST", path, {**good, "attribute[nope]": "x"}), fmt, 400, "attribute[nope]")
    assert_error(call(live, "POST", path, {**good, "jurisdiction_id": "elsewhere"}), fmt, 404, "elsewhere")
    assert _count(live) == before


# --- jurisdiction and formats


@pytest.mark.parametrize("fmt", FORMATS)
def test_jurisdiction_id(live: LiveWorld, seed: dict[str, Any], fmt: str) -> None:
    for path in (
        f"/open311/v2/services.{fmt}",
        f"/open311/v2/services/{seed['lamp']}.{fmt}",
        f"/open311/v2/requests.{fmt}",
        f"/open311/v2/requests/{seed['open']}.{fmt}",
    ):
        assert call(live, "GET", path, {"jurisdiction_id": "anju"}).status == 200
        assert_error(call(live, "GET", path, {"jurisdiction_id": "elsewhere"}), fmt, 404, "elsewhere")


def test_unknown_format_is_404_in_xml(live: LiveWorld, seed: dict[str, Any]) -> None:
    for path in (
        "/open311/v2/discovery.html",
        "/open311/v2/services.csv",
        f"/open311/v2/services/{seed['lamp']}",
        "/open311/v2/requests.yaml",
        f"/open311/v2/requests/{seed['open']}.txt",
    ):
        assert_error(call(live, "GET", path), "xml", 404, "格式")
