"""Types for what arrives at the edge: path and query integers, free text in JSON bodies.

Every id in a path or query is a positive integer of at most 2^53-1 (exact in JSON, inside BIGINT): a larger
number used to reach the driver and fail there with an ``OverflowError`` (a 500). Page numbers
and sizes are bounded so that an offset always fits. Free text refuses control characters and
reports its length limit (:mod:`anju.core.text`); the bounds and patterns also go into the
OpenAPI document, so API clients and schemathesis see the same rules the server applies.

Pydantic's own messages are English; :mod:`anju.web.errors` words the errors in Chinese with the
labels of :data:`PARAM_LABELS`, and the text types below raise Chinese messages themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Path, Query, Request
from pydantic import BaseModel, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from anju.core import text
from anju.core.pagination import MAX_PAGE_SIZE
from anju.errors import ValidationFailed

MAX_ID = text.MAX_ID  # 2^53-1: exact in every JSON client, inside BIGINT
MAX_PAGE = 100_000
MAX_REASON = text.MAX_REASON  # audit_record.reason

# Chinese names of path and query parameters, for validation messages.
PARAM_LABELS: dict[str, str] = {
    "project_id": "项目编号",
    "household_id": "户编号",
    "member_id": "成员编号",
    "building_id": "房屋编号",
    "tenant_id": "承租人编号",
    "attachment_id": "附件编号",
    "child_id": "记录编号",
    "user_id": "用户编号",
    "block_id": "区块编号",
    "version": "版本号",
    "old": "旧版本号",
    "new": "新版本号",
    "page": "页码",
    "size": "每页条数",
    "reason": "理由",
    "as_of": "计算日期",
    "option": "补偿方式",
    "source": "方案文本",
    "file_name": "文件名",
    "username": "用户名",
    "password": "密码",
    # policy drafts and what-if scenarios (#13 items 5, 6)
    "number": "草稿序号",
    "scenario_id": "测算编号",
    "ids": "测算编号",
    "year": "年份",
}

IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description=f"记录编号（1 至 {MAX_ID}）")]
"""A record id in the path."""

IdQuery = Annotated[int, Query(ge=1, le=MAX_ID, description=f"记录编号（1 至 {MAX_ID}）")]
"""A record id in the query string."""

OptionalIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID, description=f"记录编号（1 至 {MAX_ID}）")]
"""An optional record id in the query string."""

PageQuery = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"页码（1 至 {MAX_PAGE}）")]
"""A 1-based page number."""

PageSizeQuery = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"每页条数（1 至 {MAX_PAGE_SIZE}）")]
"""Rows per page."""

VersionQuery = Annotated[int | None, Query(ge=1, le=MAX_ID, description="版本号")]
"""An optional version number in the query string."""


def parse_id(value: str) -> int | None:
    """A form or query id given as text (``""`` for none): the id, or ``None`` when blank or out of range."""
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    n = int(value)
    return n if 1 <= n <= MAX_ID else None


@dataclass(frozen=True, slots=True)
class TextRule:
    """Metadata for ``Annotated[str, TextRule(...)]``: no control characters, at most ``max_len`` characters.

    The check words its message in Chinese with ``label`` and the limit and actual length. The
    OpenAPI document gets ``maxLength`` and a ``pattern`` (``required``: at least one visible
    character), so that API clients and schemathesis see the rule the server applies.
    """

    label: str
    max_len: int
    multiline: bool = False
    required: bool = False

    def check(self, value: str) -> str:
        problem = text.text_problem(value, max_len=self.max_len, multiline=self.multiline)
        if problem:
            # A custom error keeps the message free of pydantic's English "Value error," prefix.
            raise PydanticCustomError(
                "text_invalid", "{label}{problem}", {"label": self.label, "problem": problem}
            )
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        cls = text.MULTILINE_CONTROL_CLASS if self.multiline else text.SINGLE_LINE_CONTROL_CLASS
        if self.required:
            out.update(minLength=1, pattern=f"^[^{cls}]*[^{cls}\\s][^{cls}]*$")
        else:
            out["pattern"] = f"^[^{cls}]*$"
        out["maxLength"] = self.max_len
        return out


@dataclass(frozen=True, slots=True)
class NotNull:
    """Metadata for an optional field of a partial update that may be left out but not set to ``null``.

    ``Annotated[str | None, NotNull("姓名")] = None``: leaving the field out keeps the stored value;
    an explicit ``null`` would clear a required fact and is refused with a Chinese message. The
    OpenAPI document shows the field without its ``null`` branch.
    """

    label: str

    def refuse_null(self, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError(
                "not_null", "{label}不能为空（不修改时请不要发送该字段）", {"label": self.label}
            )
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self.refuse_null, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        if "anyOf" not in out:
            return {k: v for k, v in out.items() if k != "default"}
        branches = [b for b in out["anyOf"] if b != {"type": "null"}]
        rest = {k: v for k, v in out.items() if k not in ("anyOf", "default")}
        return {**branches[0], **rest} if len(branches) == 1 else {"anyOf": branches, **rest}


Reason = Annotated[str, TextRule("理由", text.MAX_REASON, multiline=True)]
"""The reason of a change or a voiding, kept in the audit record (at most 500 characters)."""

RequiredReason = Annotated[str, TextRule("理由", text.MAX_REASON, multiline=True, required=True)]
"""A reason that must be given (voiding)."""


# Chinese wording of pydantic's error types; ``{label}`` is the field's Chinese name.
_ERROR_TEXT: dict[str, str] = {
    "missing": "{label}必填",
    "int_parsing": "{label}应为整数",
    "int_type": "{label}应为整数",
    "int_from_float": "{label}应为整数",
    "int_parsing_size": "{label}超出范围",
    "bool_parsing": "{label}应为 true 或 false",
    "bool_type": "{label}应为 true 或 false",
    "date_parsing": "{label}应为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "{label}应为日期（YYYY-MM-DD）",
    "date_type": "{label}应为日期（YYYY-MM-DD）",
    "decimal_parsing": "{label}应为数字",
    "decimal_type": "{label}应为数字",
    "string_type": "{label}应为文本",
    "string_too_long": "{label}不能超过{max_length}个字",
    "string_too_short": "{label}至少{min_length}个字",
    "greater_than_equal": "{label}不能小于{ge}",
    "greater_than": "{label}应大于{gt}",
    "less_than_equal": "{label}不能大于{le}",
    "less_than": "{label}应小于{lt}",
    "extra_forbidden": "不认识的字段“{name}”",
    "json_invalid": "请求体不是有效的 JSON",
    "model_attributes_type": "请求体应为 JSON 对象",
    "dict_type": "请求体应为 JSON 对象",
    "model_type": "请求体应为 JSON 对象",
    "literal_error": "{label}的取值不在允许范围内",
    "enum": "{label}的取值不在允许范围内",
    "list_type": "{label}应为列表",
}


def describe_validation_error(err: dict[str, Any]) -> tuple[str, str]:
    """``(field, Chinese message)`` of one pydantic/FastAPI validation error.

    Numbers far beyond the limit are shown by their number of digits: echoing a thousand-digit number
    back helps nobody.
    """
    loc = [str(p) for p in err.get("loc", ()) if not isinstance(p, int)]
    name = loc[-1] if len(loc) > 1 else (loc[0] if loc else "")
    if name in ("body", "query", "path", "form", "header", "cookie"):
        name = ""
    label = PARAM_LABELS.get(name, f"“{name}”" if name else "请求")
    kind = str(err.get("type", ""))
    ctx = dict(err.get("ctx") or {})
    if kind == "text_invalid":
        return name, str(err.get("msg", ""))
    template = _ERROR_TEXT.get(kind)
    if template is None:
        message = str(err.get("msg", "")).removeprefix("Value error, ")
        return name, f"{label}不合法：{message}"
    value = err.get("input")
    if kind in ("less_than_equal", "int_parsing_size") and isinstance(value, str) and len(value) > 30:
        return name, f"{label}超出范围（{len(value)}位数字）"
    if kind == "string_too_long" and isinstance(value, str):
        return name, f"{label}不能超过{ctx.get('max_length')}个字（现有{len(value)}个字）"
    try:
        return name, template.format(label=label, name=name, **ctx)
    except (KeyError, IndexError, ValueError):
        return name, template.format_map(_Blank(label=label, name=name))


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


class ErrorBody(BaseModel):
    """Every error answer of the JSON API: a stable code, the Chinese message, and details per field or row."""

    code: str
    message: str
    message_en: str = ""
    details: Any = None


_STATUS_TEXT = {
    400: "请求无法处理",
    401: "未登录或会话已过期",
    403: "没有权限，或页面已过期（CSRF）",
    404: "记录不存在或不在您的权限范围内",
    409: "与当前状态冲突（重复、已被他人修改、非法的状态变化）",
    413: "上传的文件过大",
    422: "输入有误：details 逐项列出字段和原因",
    429: "尝试过于频繁，请稍后再试",
    503: "系统繁忙，请稍后再试",
}

READ_ERRORS = (401, 403, 404, 422)
"""What any authenticated route can answer besides success."""

WRITE_ERRORS = (401, 403, 404, 409, 422)
"""What a write can answer besides success."""


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a router or route: each status with :class:`ErrorBody` and its Chinese meaning."""
    return {s: {"model": ErrorBody, "description": _STATUS_TEXT.get(s, "错误")} for s in statuses}


MAX_QUERY_VALUE = 2000  # characters of one query-string value (a search, a filter, a return address)


async def query_guard(request: Request) -> None:
    """App-wide dependency: no query-string value may hold control characters or exceed 2000 characters.

    Typed parameters check themselves; this covers every text parameter of every route (search
    words, filters, tabs, options, ``next``) before any of them reaches a database, which would
    fail on a NUL (PostgreSQL) instead of answering.
    """
    problems = []
    for name, value in request.query_params.multi_items():
        problem = text.text_problem(value, max_len=MAX_QUERY_VALUE)
        if problem:
            label = PARAM_LABELS.get(name, f"查询参数“{name}”")
            problems.append({"field": name, "message": f"{label}{problem}"})
    if problems:
        raise ValidationFailed(
            "请求参数有误：" + "；".join(p["message"] for p in problems),
            "invalid query string",
            details=problems,
        )


TextQuery = Annotated[
    str,
    Query(json_schema_extra={"pattern": text.SINGLE_LINE_PATTERN, "maxLength": MAX_QUERY_VALUE}),
]
"""A text query parameter, documented with the rule :func:`query_guard` applies to every query value."""
