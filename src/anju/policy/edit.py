"""Editing a policy's numbers in place: the fields a form shows, and the YAML text with new values.

The form moves the values of parameters (numbers, tables, bands, dated values, block overrides),
clocks, date-window tiers, and the bounds (``min`` / ``max``) of the household facts the policy
declares (``facts:``). Office-set group measures (``measures:``) have no value in the policy: the
office records theirs on the standards page, so the form has nothing of them to move.

A policy's formulas, comments, order and layout are the author's; a form only moves numbers,
dates and categories. So the text is never re-emitted from the model: each edited scalar's exact
span (the YAML parser's start and end offsets) is replaced by the new literal and everything else
stays byte for byte. No round-trip YAML library is needed (none is installed), and the result
parses to the old data with exactly the edited values changed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from anju.core.text import find_control_chars
from anju.policy.errors import PolicyError, Problem
from anju.policy.model import _Loader

PathT = tuple[str | int, ...]

# Keys inside a parameter, clock or tier that are not values a form moves (names, units, formulas).
_SKIP_KEYS = {"label", "unit", "ref", "keys", "by", "event", "clock", "count"}
_DAY_KEYS = {"after", "upto"}
_DATE_KEYS = {"from", "date"}


@dataclass(frozen=True, slots=True)
class Field:
    """One value of a policy a form can edit, with what a person needs to edit it correctly."""

    key: str  # stable form name: the YAML path as JSON
    path: PathT
    section: str  # "parameters" | "clocks" | "tiers" | "facts"
    name: str  # parameter, clock, tier or declared fact name
    kind: str  # "number" | "day" (whole number bound of a window or band) | "date" | "text" (a category)
    label: str  # the parameter's label
    detail: str  # where inside it: table keys, band, dated entry, block override, window
    unit: str
    ref: str
    value: str  # as written in the YAML (for a % parameter: 10 means 10%)
    line: int  # 1-based line of the value in the text
    start: int  # character offsets of the scalar (with its quotes) in the text
    end: int
    style: str | None


def field_key(path: PathT) -> str:
    """The form name of a YAML path."""
    return json.dumps(list(path), ensure_ascii=False, separators=(",", ":"))


def _compose(text: str) -> yaml.Node | None:
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _detail(path: PathT, spec_keys: list[str], windows_kind: str) -> str:
    """A short Chinese description of where a value sits inside its parameter, clock or tier."""
    parts: list[str] = []
    i = 0
    table_depth = 0
    while i < len(path):
        p = path[i]
        if p == "dated" and i + 1 < len(path):
            parts.append(f"第{int(path[i + 1]) + 1}个日期段")
            i += 2
            continue
        if p == "overrides" and i + 1 < len(path):
            parts.append(f"{path[i + 1]}调整")
            i += 2
            continue
        if p in ("bands", "windows") and i + 1 < len(path):
            parts.append(f"第{int(path[i + 1]) + 1}{windows_kind}")
            i += 2
            continue
        if p == "table":
            table_depth = 1
            i += 1
            continue
        if table_depth:
            dim = spec_keys[table_depth - 1] if table_depth - 1 < len(spec_keys) else ""
            parts.append(f"{dim.split(' ')[0]}={p}" if dim else str(p))
            table_depth += 1
            i += 1
            continue
        names = {
            "from": "起始日期",
            "after": "超过第…日" if windows_kind != "档" else "下限（不含）",
            "upto": "不超过第…日" if windows_kind != "档" else "上限（含）",
            "otherwise": "其他时间",
            "default": "表外取值",
            "value": "",
            "date": "",
            "min": "下限",
            "max": "上限",
        }
        word = names.get(str(p), str(p))
        if word:
            parts.append(word)
        i += 1
    return " · ".join(parts)


@dataclass(frozen=True, slots=True)
class _Spec:
    section: str
    name: str
    label: str
    unit: str
    bound_unit: str
    ref: str
    keys: list[str]
    category: bool
    windows_kind: str


# The values of a declared fact a form moves: its bounds (the rest is what the fact is).
_FACT_KEYS = {"min", "max"}
_NUMERIC_FACTS = {"number", "count", "money"}


def _walk(node: yaml.Node, path: PathT, last: str | int | None, s: _Spec, out: list[Field]) -> None:
    if isinstance(node, yaml.MappingNode):
        for kn, vn in node.value:
            key = str(kn.value)
            if key in _SKIP_KEYS and not _inside_table(path):
                continue
            if s.section == "facts" and (len(path) != 2 or key not in _FACT_KEYS):
                continue
            _walk(vn, (*path, key), key, s, out)
        return
    if isinstance(node, yaml.SequenceNode):
        for i, vn in enumerate(node.value):
            _walk(vn, (*path, i), i, s, out)
        return
    if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
        return
    if s.section == "clocks" or last in _DATE_KEYS:
        kind = "date"
    elif last in _DAY_KEYS and not _inside_table(path):
        kind = "day"
    elif s.category:
        kind = "text"
    else:
        kind = "number"
    out.append(
        Field(
            key=field_key(path),
            path=path,
            section=s.section,
            name=s.name,
            kind=kind,
            label=s.label,
            detail=_detail(path[2:], s.keys, s.windows_kind),
            unit=s.unit if kind == "number" else (s.bound_unit if kind == "day" else ""),
            ref=s.ref,
            value=str(node.value),
            line=node.start_mark.line + 1,
            start=node.start_mark.index,
            end=node.end_mark.index,
            style=node.style,
        )
    )


def fields(text: str) -> list[Field]:
    """Every editable value of the policy text (parameters, clocks, tiers, the bounds of declared
    facts), in document order.

    Raises :class:`PolicyError` when the text is not readable YAML.
    """
    from anju.policy.model import load_yaml

    data, _marks = load_yaml(text)  # refuses control characters and bad YAML with line/column
    root = _compose(text)
    out: list[Field] = []
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        return out
    for k, section in root.value:
        sec = str(k.value)
        if sec not in _SECTIONS or not isinstance(section, yaml.MappingNode):
            continue
        got = data.get(sec)
        sec_data: dict[Any, Any] = got if isinstance(got, dict) else {}
        for name_node, spec in section.value:
            name = str(name_node.value)
            raw = sec_data.get(_data_key(sec_data, name), {})
            d = raw if isinstance(raw, dict) else {}
            if sec == "facts" and d.get("type") not in _NUMERIC_FACTS:
                continue  # only numeric facts have bounds (the checker refuses them elsewhere)
            s = _Spec(
                section=sec,
                name=name,
                label=str(d.get("label", name)),
                unit=_unit_of(sec, d),
                bound_unit=str(d.get("by", "")) if sec == "parameters" else "日",
                ref=str(d.get("ref", "")),
                keys=[str(x) for x in d.get("keys") or []],
                category=sec == "parameters" and _is_category(d),
                windows_kind="档" if sec == "parameters" else "个时间窗",
            )
            _walk(spec, (sec, name), name, s, out)
    return out


_SECTIONS = ("parameters", "clocks", "tiers", "facts")


def _unit_of(section: str, spec: dict[Any, Any]) -> str:
    if section == "clocks":
        return ""
    if section == "facts" and spec.get("type") == "money":
        return str(spec.get("unit") or "元")  # a money fact is in 元 unless it says 元/㎡ ...
    return str(spec.get("unit", "") or "")


def _data_key(d: dict[Any, Any], name: str) -> Any:
    for k in d:
        if str(k) == name:
            return k
    return name


def _inside_table(path: PathT) -> bool:
    return "table" in path


def _is_category(spec: dict[Any, Any]) -> bool:
    sample = spec
    dated = spec.get("dated")
    if isinstance(dated, list) and dated and isinstance(dated[0], dict):
        sample = dated[0]
    v = sample.get("value")
    if not isinstance(v, str):
        return False
    try:
        Decimal(v)
    except InvalidOperation:
        return True
    return False


class FieldProblem(ValueError):
    """A value a form sent that cannot be written (the message names the field, in Chinese)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


_PLAIN_TEXT = re.compile(r"^[^\s\-?:,\[\]{}#&*!|>'\"%@`][^:#,\[\]{}]*$")


def literal(f: Field, raw: str) -> str:
    """The YAML literal that writes ``raw`` into field ``f``; raises :class:`FieldProblem`."""
    text = raw.strip().replace(",", "").replace("，", "") if f.kind != "text" else raw.strip()
    if f.kind == "number":
        try:
            v = Decimal(text)
        except InvalidOperation:
            raise FieldProblem(f.key, f"“{raw}”不是数字") from None
        if not v.is_finite():
            raise FieldProblem(f.key, f"“{raw}”不是有限的数字")
        out = format(v, "f")
    elif f.kind == "day":
        if not re.fullmatch(r"\d{1,5}", text):
            # a window counts days; a band counts its own unit (人, 月, ㎡ ...)
            what = "整数日数" if f.unit in ("", "日") else f"整数（{f.unit}）"
            raise FieldProblem(f.key, f"“{raw}”应为{what}（0 或正整数）")
        out = str(int(text))
    elif f.kind == "date":
        try:
            out = date.fromisoformat(text).isoformat()
        except ValueError:
            raise FieldProblem(f.key, f"“{raw}”不是日期，应写成 2025-04-01") from None
    else:
        if not text:
            raise FieldProblem(f.key, "不能为空")
        if find_control_chars(text, multiline=False) or "\n" in text or len(text) > 100:
            raise FieldProblem(f.key, "应为一行、最多100个字的文字")
        if _PLAIN_TEXT.match(text) and text.lower() not in (
            "true",
            "false",
            "null",
            "yes",
            "no",
            "on",
            "off",
            "~",
        ):
            try:
                Decimal(text)
            except InvalidOperation:
                return _keep_quotes(f, text)
        return json.dumps(text, ensure_ascii=False)
    return _keep_quotes(f, out)


def _keep_quotes(f: Field, out: str) -> str:
    # A value the author quoted stays quoted (as a string it must keep reading as before).
    if f.style == '"':
        return json.dumps(out, ensure_ascii=False)
    if f.style == "'":
        return "'" + out.replace("'", "''") + "'"
    return out


def same_value(f: Field, raw: str) -> bool:
    """Whether ``raw`` writes the value already there (so the text need not change)."""
    try:
        new = literal(f, raw)
    except FieldProblem:
        return False
    if f.kind == "number":
        try:
            return Decimal(f.value.replace("_", "")) == Decimal(
                raw.strip().replace(",", "").replace("，", "")
            )
        except InvalidOperation:
            return False
    old_literal = _keep_quotes(f, f.value) if f.kind != "text" else None
    return new == old_literal or raw.strip() == f.value


def apply(text: str, changes: dict[str, str]) -> str:
    """The policy text with the fields named in ``changes`` (form key -> new value) rewritten.

    Only the edited scalars' spans change; every other character (comments, formulas, layout)
    stays. Unknown keys and malformed values raise :class:`FieldProblem` (nothing is returned
    half-done).
    """
    by_key = {f.key: f for f in fields(text)}
    edits: list[tuple[int, int, str]] = []
    for key, raw in changes.items():
        f = by_key.get(key)
        if f is None:
            raise FieldProblem(key, "方案中没有这个取值（方案可能已被修改，请刷新）")
        if same_value(f, raw):
            continue
        edits.append((f.start, f.end, literal(f, raw)))
    out = text
    for start, end, new in sorted(edits, reverse=True):
        out = out[:start] + new + out[end:]
    return out


def _entity_lines(text: str) -> list[tuple[str, str, int, int]]:
    """(section, name, first line, last line) of every parameter, clock and tier (1-based)."""
    root = _compose(text)
    out: list[tuple[str, str, int, int]] = []
    if not isinstance(root, yaml.MappingNode):
        return out
    for k, section in root.value:
        if str(k.value) in _SECTIONS and isinstance(section, yaml.MappingNode):
            for kn, vn in section.value:
                last = vn.end_mark.line + (1 if vn.end_mark.column > 0 else 0)
                out.append(
                    (str(k.value), str(kn.value), kn.start_mark.line + 1, max(last, kn.start_mark.line + 1))
                )
    return out


def problems_by_field(
    text: str, problems: list[Problem], changed: set[str] | None = None
) -> tuple[dict[str, list[str]], list[Problem]]:
    """Checker problems attached to a form field: the value on the problem's line, else (a problem
    of a whole parameter, clock or tier, e.g. overlapping windows) its changed value, else its
    first value. Problems elsewhere (formulas, items) are returned separately."""
    fs = fields(text)
    by_line: dict[int, str] = {}
    for f in fs:
        by_line.setdefault(f.line, f.key)
    by_entity: dict[tuple[str, str], list[str]] = {}
    for f in fs:
        by_entity.setdefault((f.section, f.name), []).append(f.key)
    spans = _entity_lines(text)
    attached: dict[str, list[str]] = {}
    rest: list[Problem] = []
    for p in problems:
        line = p.location.line or 0
        key = by_line.get(line)
        if key is None:
            for sec, name, first, last in spans:
                keys = by_entity.get((sec, name))
                if keys and first <= line <= last:
                    hit = [k for k in keys if changed and k in changed]
                    key = (hit or keys)[0]
                    break
        if key is None:
            rest.append(p)
        else:
            attached.setdefault(key, []).append(p.message_zh)
    return attached, rest


def check_text(text: str, file: str = "<policy>") -> list[Problem]:
    """Every problem the reader and the checker find in a policy text (empty: it is valid)."""
    from anju.policy.check import load_policy

    try:
        load_policy(text, file)
    except PolicyError as exc:
        return list(exc.problems)
    return []
