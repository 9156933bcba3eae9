"""The Open311 rendering layer: one value tree as JSON and XML, datetimes with +08:00, the error
list, path suffixes, service definitions and the checking of attribute answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from xml.etree import ElementTree as ET

import pytest

from anju.service_request import open311 as o

TREE = [
    {
        "service_request_id": "20261205-0001",
        "status": "open",
        "requested_datetime": datetime(2026, 12, 5, 1, 30, 5, 123456, tzinfo=UTC),
        "lat": Decimal("32.040000"),
        "media_url": None,
        "flag": True,
    }
]


def test_json_keeps_chinese_and_writes_shanghai_time() -> None:
    body = o.to_json([{"service_name": "路灯不亮", **TREE[0]}])
    assert "路灯不亮".encode() in body
    assert json.loads(body) == [
        {
            "service_name": "路灯不亮",
            "service_request_id": "20261205-0001",
            "status": "open",
            "requested_datetime": "2026-12-05T09:30:05+08:00",
            "lat": 32.04,
            "media_url": None,
            "flag": True,
        }
    ]


def test_xml_names_items_by_their_list() -> None:
    body = o.to_xml("service_requests", TREE)
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<service_requests>')
    root = ET.fromstring(body)
    assert [r.tag for r in root] == ["request"]
    assert [(c.tag, c.text) for c in root[0]] == [
        ("service_request_id", "20261205-0001"),
        ("status", "open"),
        ("requested_datetime", "2026-12-05T09:30:05+08:00"),
        ("lat", "32.040000"),
        ("media_url", None),
        ("flag", "true"),
    ]


def test_error_list_and_formats() -> None:
    err = o.Open311Error(403, "缺少 api_key")
    body, media = o.encode("json", "errors", o.errors_tree(err))
    assert (json.loads(body), media) == (
        [{"code": 403, "description": "缺少 api_key"}],
        "application/json; charset=utf-8",
    )
    body, media = o.encode("xml", "errors", o.errors_tree(err))
    root = ET.fromstring(body)
    assert media == "text/xml; charset=utf-8"
    assert [(e.tag, [(c.tag, c.text) for c in e]) for e in root] == [
        ("error", [("code", "403"), ("description", "缺少 api_key")])
    ]


@pytest.mark.parametrize("name", ["x", "x.html", ".json", "x."])
def test_bad_suffix_is_404(name: str) -> None:
    with pytest.raises(o.Open311Error) as exc:
        o.split_format(name)
    assert exc.value.code == 404


def test_split_format() -> None:
    assert o.split_format("20261205-0001.xml") == ("20261205-0001", "xml")
    assert o.split_format("a.b.json") == ("a.b", "json")


def test_normalise_attributes_skips_unusable_entries_and_orders() -> None:
    raw = [
        {"code": "b", "datatype": "number", "order": 2},
        {"code": "", "datatype": "string"},
        {"code": "c", "datatype": "colour"},
        "junk",
        {"code": "a", "datatype": "multivaluelist", "order": 1, "values": [{"key": "x"}]},
    ]
    assert o.normalise_attributes(raw) == [
        {
            "variable": True,
            "code": "a",
            "datatype": "multivaluelist",
            "required": False,
            "datatype_description": "",
            "order": 1,
            "description": "",
            "values": [{"key": "x", "name": "x"}],
        },
        {
            "variable": True,
            "code": "b",
            "datatype": "number",
            "required": False,
            "datatype_description": "",
            "order": 2,
            "description": "",
        },
    ]
    assert o.normalise_attributes({"not": "a list"}) == []


DEFINITION = o.normalise_attributes(
    [
        {
            "code": "kind",
            "datatype": "singlevaluelist",
            "required": True,
            "values": [{"key": "a"}, {"key": "b"}],
        },
        {"code": "many", "datatype": "multivaluelist", "values": [{"key": "a"}, {"key": "b"}]},
        {"code": "n", "datatype": "number"},
        {"code": "when", "datatype": "datetime"},
    ]
)


def test_check_answers_keeps_valid_ones() -> None:
    answers = {"kind": ["a"], "many": ["a", "b"], "n": ["3.5"], "when": ["2026-12-05T09:00:00+08:00"]}
    assert o.check_answers(DEFINITION, answers) == {
        "kind": "a",
        "many": ["a", "b"],
        "n": "3.5",
        "when": "2026-12-05T09:00:00+08:00",
    }


@pytest.mark.parametrize(
    ("answers", "text"),
    [
        ({}, "attribute[kind]：必填"),
        ({"kind": ["c"]}, "attribute[kind]：“c”不是可选值之一"),
        ({"kind": ["a", "b"]}, "attribute[kind]：只能有一个值"),
        ({"kind": ["a"], "many": ["a", "z"]}, "attribute[many]：“z”不是可选值之一"),
        ({"kind": ["a"], "n": ["three"]}, "attribute[n]：“three”不是数字"),
        ({"kind": ["a"], "when": ["tomorrow"]}, "attribute[when]：“tomorrow”不是 ISO 8601 时间"),
        ({"kind": ["a"], "other": ["x"]}, "attribute[other]：该服务没有这个属性"),
    ],
)
def test_check_answers_refuses(answers: dict[str, list[str]], text: str) -> None:
    with pytest.raises(o.Open311Error) as exc:
        o.check_answers(DEFINITION, answers)
    assert (exc.value.code, exc.value.description) == (400, text)
