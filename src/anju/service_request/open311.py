"""Open311 GeoReport v2 rendering: one data model, two encoders.

A response is a plain value tree (dicts keep their order, lists, str, int, bool, Decimal, datetime,
None). :func:`encode` writes it as JSON or as XML, chosen by the path suffix (``.json`` / ``.xml``),
both UTF-8. The XML element of each list item is named by the list (``endpoints`` -> ``endpoint``,
``attributes`` -> ``attribute`` ...; the root list by the endpoint: ``services`` -> ``service``,
``service_requests`` -> ``request``, ``errors`` -> ``error``), as the specification's examples do.
Datetimes are written in ISO 8601 with the Asia/Shanghai offset (+08:00); None is JSON null and an
empty XML element. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree as ET

from anju.core.dates import SHANGHAI

FORMATS: dict[str, str] = {
    "json": "application/json; charset=utf-8",
    "xml": "text/xml; charset=utf-8",
}
#: The media types discovery lists.
DISCOVERY_FORMATS = ("text/xml", "application/json")
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"

#: XML element of one item of a list, by the list's own element name.
ITEM_OF: dict[str, str] = {
    "discovery": "",
    "endpoints": "endpoint",
    "formats": "format",
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
}

#: Open311 error codes: the HTTP status is the code.
NOT_FOUND, FORBIDDEN, BAD_REQUEST = 404, 403, 400


@dataclass(frozen=True, slots=True)
class Open311Error(Exception):
    """An Open311 error response: the HTTP status and a description (a list of one error)."""

    code: int
    description: str


def iso(value: datetime) -> str:
    """``value`` in Asia/Shanghai, to the second, with its offset: 2026-12-05T09:30:00+08:00."""
    return value.astimezone(SHANGHAI).replace(microsecond=0).isoformat()


def _scalar_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso(value)
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Decimal):
        # Coordinates (6 places) are written as JSON numbers, as the specification's examples do;
        # a 6-place decimal round-trips through a double exactly enough for display.
        return float(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def to_json(tree: Any) -> bytes:
    """``tree`` as UTF-8 JSON (Chinese kept as characters, not escapes)."""
    return json.dumps(tree, ensure_ascii=False, default=_json_default).encode("utf-8")


def _append(parent: ET.Element, name: str, value: Any) -> None:
    el = ET.SubElement(parent, name)
    _fill(el, name, value)


def _fill(el: ET.Element, name: str, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, child in value.items():
            _append(el, str(key), child)
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        item = ITEM_OF.get(name) or "item"
        for child in value:
            _append(el, item, child)
    else:
        el.text = _scalar_text(value)


def to_xml(root: str, tree: Any) -> bytes:
    """``tree`` as UTF-8 XML under the element ``root``, with the XML declaration."""
    el = ET.Element(root)
    _fill(el, root, tree)
    ET.indent(el)
    body: bytes = ET.tostring(el, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def encode(fmt: str, root: str, tree: Any) -> tuple[bytes, str]:
    """``tree`` in ``fmt`` (json | xml): the body and its content type."""
    body = to_json(tree) if fmt == "json" else to_xml(root, tree)
    return body, FORMATS[fmt]


def errors_tree(error: Open311Error) -> list[dict[str, Any]]:
    """The specification's error list: ``[{code, description}]``."""
    return [{"code": error.code, "description": error.description}]


def split_format(name: str) -> tuple[str, str]:
    """``"20261205-0001.json"`` -> (``"20261205-0001"``, ``"json"``); an unknown or missing suffix
    is a 404 (there is no such resource)."""
    stem, dot, fmt = name.rpartition(".")
    if not dot or fmt not in FORMATS or not stem:
        raise Open311Error(NOT_FOUND, f"不支持的格式“{name}”：路径须以 .json 或 .xml 结尾")
    return stem, fmt


#: Attribute datatypes of a service definition.
DATATYPES = frozenset({"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"})


def normalise_attributes(raw: Any) -> list[dict[str, Any]]:
    """A category's ``attributes`` JSON as the specification's attribute list, in ``order``: each
    with variable, code, datatype, required, datatype_description, order, description and (for
    the two list types) values of {key, name}. Unusable entries (no code, unknown datatype) are
    skipped rather than served malformed."""
    out: list[dict[str, Any]] = []
    if not isinstance(raw, list):
        return out
    for n, a in enumerate(raw, start=1):
        if not isinstance(a, Mapping) or not str(a.get("code", "")).strip():
            continue
        datatype = str(a.get("datatype", "string"))
        if datatype not in DATATYPES:
            continue
        item: dict[str, Any] = {
            "variable": bool(a.get("variable", True)),
            "code": str(a["code"]).strip(),
            "datatype": datatype,
            "required": bool(a.get("required", False)),
            "datatype_description": str(a.get("datatype_description", "")),
            "order": int(a.get("order", n)),
            "description": str(a.get("description", "")),
        }
        if datatype in ("singlevaluelist", "multivaluelist"):
            item["values"] = [
                {"key": str(v.get("key", "")), "name": str(v.get("name", v.get("key", "")))}
                for v in a.get("values", [])
                if isinstance(v, Mapping)
            ]
        out.append(item)
    return sorted(out, key=lambda x: (x["order"], x["code"]))


def check_answers(definition: list[dict[str, Any]], answers: Mapping[str, list[str]]) -> dict[str, Any]:
    """The ``attribute[code]`` answers of a POST checked against a service definition: required
    ones present, list answers among the keys, numbers numeric, datetimes ISO 8601; unknown codes
    refused. Returns the answers to keep (lists for multivaluelist, else one string)."""
    by_code = {a["code"]: a for a in definition}
    for code in answers:
        if code not in by_code:
            raise Open311Error(BAD_REQUEST, f"attribute[{code}]：该服务没有这个属性")
    kept: dict[str, Any] = {}
    for code, a in by_code.items():
        given = [v for v in answers.get(code, []) if v.strip()]
        if not given:
            if a["required"] and a["variable"]:
                note = f"（{a['description']}）" if a["description"] else ""
                raise Open311Error(BAD_REQUEST, f"attribute[{code}]：必填{note}")
            continue
        datatype = a["datatype"]
        if datatype != "multivaluelist" and len(given) > 1:
            raise Open311Error(BAD_REQUEST, f"attribute[{code}]：只能有一个值")
        if datatype in ("singlevaluelist", "multivaluelist"):
            keys = {v["key"] for v in a.get("values", [])}
            for v in given:
                if v not in keys:
                    raise Open311Error(BAD_REQUEST, f"attribute[{code}]：“{v}”不是可选值之一")
        elif datatype == "number":
            try:
                Decimal(given[0])
            except ArithmeticError:
                raise Open311Error(BAD_REQUEST, f"attribute[{code}]：“{given[0]}”不是数字") from None
        elif datatype == "datetime":
            try:
                datetime.fromisoformat(given[0])
            except ValueError:
                raise Open311Error(
                    BAD_REQUEST, f"attribute[{code}]：“{given[0]}”不是 ISO 8601 时间"
                ) from None
        kept[code] = given if datatype == "multivaluelist" else given[0]
    return kept
