"""Checks on free text typed by people: invisible control characters and length.

One checker serves the JSON API (pydantic types in ``anju.web.params``), the edit forms and the
census import (``anju.household.rules``) and policy sources, so the same value gets the same
Chinese message wherever it comes from.

Refused everywhere: NUL and the other C0 controls, DEL, the C1 controls, and the bidirectional
embedding/override/isolate controls U+202A-U+202E and U+2066-U+2069 (they make a name read
differently from what is stored, e.g. "张三\u202e" tricks). Multi-line text (remarks, reasons,
policy sources) may hold tab, line feed and carriage return.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

MAX_REASON: Final = 500  # characters of a change or void reason (audit_record.reason)
# The largest record id a request may name: 2^53-1, the largest integer every JSON client holds
# exactly (a JavaScript number), well inside BIGINT; a larger number is refused, never sent to the database.
MAX_ID: Final = 2**53 - 1

# C0 except \t \n \r, DEL, C1, and the bidi embedding/override/isolate controls.
MULTILINE_CONTROL_CLASS: Final = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
SINGLE_LINE_CONTROL_CLASS: Final = r"\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_MULTILINE = re.compile(f"[{MULTILINE_CONTROL_CLASS}]")
_SINGLE_LINE = re.compile(f"[{SINGLE_LINE_CONTROL_CLASS}]")

# JSON Schema patterns (ECMA 262 and Rust regex both read these escapes) for the OpenAPI document.
MULTILINE_PATTERN: Final = f"^[^{MULTILINE_CONTROL_CLASS}]*$"
SINGLE_LINE_PATTERN: Final = f"^[^{SINGLE_LINE_CONTROL_CLASS}]*$"

_NAMES: Final = {
    0x00: "空字符 NUL",
    0x09: "制表符",
    0x0A: "换行符",
    0x0D: "回车符",
    0x1B: "转义符 ESC",
    0x7F: "删除符 DEL",
}


def find_control_chars(value: str, *, multiline: bool = False) -> list[tuple[int, str]]:
    """Every refused character of ``value`` as ``(0-based index, character)``, in order."""
    pattern = _MULTILINE if multiline else _SINGLE_LINE
    return [(m.start(), m.group()) for m in pattern.finditer(value)]


def describe_char(ch: str) -> str:
    """``U+202E（从右至左强制符）`` style description of one character."""
    code = ord(ch)
    name = _NAMES.get(code)
    if name is None:
        if 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
            name = "文字方向控制符 " + unicodedata.name(ch, "")
        else:
            name = "控制字符"
    return f"U+{code:04X}（{name}）"


def control_char_problem(value: str, *, multiline: bool = False) -> str | None:
    """Chinese description of the first refused character (without the field name), or ``None``."""
    pattern = _MULTILINE if multiline else _SINGLE_LINE
    m = pattern.search(value)
    if m is None:
        return None
    count = len(pattern.findall(value))
    more = f"，共{count}处" if count > 1 else ""
    return f"含有不可见的控制字符：第{m.start() + 1}个字符是 {describe_char(m.group())}{more}，请删除后重试"


def length_problem(value: str, max_len: int) -> str | None:
    """Chinese ``不能超过N个字（现有M个字）`` when ``value`` is longer than ``max_len``."""
    if len(value) > max_len:
        return f"不能超过{max_len}个字（现有{len(value)}个字）"
    return None


def text_problem(value: str, *, max_len: int | None = None, multiline: bool = False) -> str | None:
    """The first problem of ``value`` (length first: a huge value is not scanned), or ``None``."""
    if max_len is not None and (problem := length_problem(value, max_len)):
        return problem
    return control_char_problem(value, multiline=multiline)


def check_text(value: str, field: str, *, max_len: int | None = None, multiline: bool = False) -> str:
    """Return ``value`` unchanged, or raise ``ValueError`` with a Chinese message naming ``field``."""
    problem = text_problem(value, max_len=max_len, multiline=multiline)
    if problem:
        raise ValueError(f"{field}{problem}")
    return value
