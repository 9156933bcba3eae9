"""Reading a policy's (or a cases file's) YAML text: numbers as exact ``Decimal``, and where every
value was written.

Every scalar, mapping and list keeps its place (file, line, column) so that later checks report
problems precisely; every YAML error, control character, impossible date or non-finite number
becomes a :class:`~anju.policy.errors.PolicyError` naming its line and column.

Whatever a file holds, reading it is quick and never raises anything else: a file that is no text
(a workbook renamed ``.yaml``, binary data), larger than :data:`MAX_BYTES`, nested deeper than
:data:`MAX_DEPTH` or whose aliases (``*a``) would expand it by more than :data:`MAX_ALIAS_NODES`
values ("billion laughs") is refused with a message, and so is a key written twice in one mapping
(YAML itself would silently keep the last one).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from anju.core.text import describe_char, find_control_chars
from anju.policy.errors import Location, PolicyError, Problem

# Real plans and their cases files are tens of kilobytes; the pure-Python YAML reader takes seconds
# per megabyte, so anything larger is refused before it is read.
MAX_BYTES = 1024 * 1024
# Tables nested by three keys inside an override are about ten levels deep.
MAX_DEPTH = 50
# Values aliases may add beyond those written: an anchor reused a few times is fine, an alias bomb
# (each level repeating the one before) is refused as soon as it grows past this.
MAX_ALIAS_NODES = 100_000
MERGE_TAG = "tag:yaml.org,2002:merge"


class _Refused(yaml.composer.ComposerError):
    """A document the loader refuses to build: too deep, an alias bomb, an alias of itself."""

    def __init__(self, mark: Any, zh: str, en: str) -> None:
        super().__init__(None, None, en, mark)
        self.zh = zh


class _Loader(yaml.SafeLoader):
    """Safe YAML loader that reads decimal numbers as ``Decimal`` (never float), refuses documents
    nested too deeply or blown up by aliases, and notes keys written twice in a mapping."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._written = 0  # nodes written in the text
        self._open: set[str] = set()  # anchors of values being composed (an alias of one is a cycle)
        self._size: dict[int, tuple[int, int]] = {}  # finished node -> (expanded nodes, expanded depth)
        self.duplicates: list[tuple[str, Any, Any]] = []  # (key, first mark, second mark)

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            if event.anchor in self._open:
                raise _Refused(
                    event.start_mark,
                    f"别名 *{event.anchor} 引用了包含它自身的内容（无限嵌套）",
                    f"alias *{event.anchor} refers to a value that contains it (endless nesting)",
                )
            return super().compose_node(parent, index)
        event = self.peek_event()  # type: ignore[no-untyped-call]
        self._depth += 1
        self._written += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(
                event.start_mark,
                f"YAML 嵌套层次过深（超过 {MAX_DEPTH} 层）",
                f"YAML nested more than {MAX_DEPTH} levels deep",
            )
        if event.anchor is not None:
            self._open.add(event.anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open.discard(event.anchor)

    def compose_sequence_node(self, anchor: Any) -> Any:
        node = super().compose_sequence_node(anchor)
        self._finish(node, node.value)
        return node

    def compose_mapping_node(self, anchor: Any) -> Any:
        node = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], Any] = {}
        for k, _ in node.value:
            if isinstance(k, yaml.ScalarNode) and k.tag != MERGE_TAG:
                first = seen.setdefault((k.tag, k.value), k.start_mark)
                if first is not k.start_mark:
                    self.duplicates.append((k.value, first, k.start_mark))
        self._finish(node, [x for pair in node.value for x in pair])
        return node

    def _finish(self, node: Any, children: list[Any]) -> None:
        """Count what ``node`` expands to (aliases counted in full) and refuse a blow-up."""
        size, depth = 1, 1
        for c in children:
            s, d = self._size.get(id(c), (1, 1))
            size += s
            depth = max(depth, d + 1)
        self._size[id(node)] = (size, depth)
        if size > self._written + MAX_ALIAS_NODES:
            raise _Refused(
                node.start_mark,
                f"别名（*）展开后的内容过多（超过 {MAX_ALIAS_NODES} 个值），已拒绝读取",
                f"aliases (*) expand this to more than {MAX_ALIAS_NODES} values; refused",
            )
        if depth > MAX_DEPTH:
            raise _Refused(
                node.start_mark,
                f"别名（*）展开后嵌套超过 {MAX_DEPTH} 层",
                f"aliases (*) nest this more than {MAX_DEPTH} levels deep",
            )


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        value = Decimal(text)
    except ArithmeticError:
        value = Decimal("nan")
    if not value.is_finite():  # .inf, .nan: no amount, area or rate is one
        raise _BadScalar(node, f"“{node.value}”不是有限的数值", f"'{node.value}' is not a finite number")
    return value


class _BadScalar(yaml.constructor.ConstructorError):
    """A scalar that looks like a date or a number but is none (2024-02-30, .nan)."""

    def __init__(self, node: yaml.ScalarNode, zh: str, en: str) -> None:
        super().__init__(None, None, en, node.start_mark)
        self.zh = zh


def _construct_date(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError as exc:  # e.g. 2024-02-30: a date-shaped text that is no date
        raise _BadScalar(node, f"不存在的日期“{node.value}”", f"no such date '{node.value}'") from exc


_Loader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_date)


@dataclass(frozen=True, slots=True)
class Src:
    """Where a YAML scalar was written, enough to map a formula offset onto line and column."""

    file: str
    line: int  # 0-based line of the scalar's first character
    column: int  # 0-based column
    style: str | None  # None (plain), "'", '"', '|', '>'
    lines: tuple[str, ...] = ()

    def location(self, offset: int = 0, text: str = "") -> Location:
        """The 1-based location of character ``offset`` of the scalar's value."""
        if self.style in ("|", ">"):
            before = text[:offset]
            row = before.count("\n")
            col = offset - (before.rfind("\n") + 1)
            line_no = self.line + 1 + row
            indent = 0
            if 0 <= line_no < len(self.lines):
                src = self.lines[line_no]
                indent = len(src) - len(src.lstrip(" "))
            return Location(self.file, line_no + 1, indent + col + 1)
        quote = 1 if self.style in ("'", '"') else 0
        return Location(self.file, self.line + 1, self.column + 1 + quote + offset)


MAX_CONTROL_PROBLEMS = 20  # listed one by one; the rest are counted


def _location_of(text: str, index: int, file: str) -> Location:
    """1-based line and column of character ``index`` of ``text``."""
    line = text.count("\n", 0, index) + 1
    return Location(file, line, index - (text.rfind("\n", 0, index) + 1) + 1)


def _refuse_control_chars(text: str, file: str) -> None:
    found = find_control_chars(text, multiline=True)
    if not found:
        return
    problems = [
        Problem(
            "control_char",
            f"含有不可见的控制字符 {describe_char(ch)}，请删除",
            f"invalid control character U+{ord(ch):04X}",
            _location_of(text, i, file),
        )
        for i, ch in found[:MAX_CONTROL_PROBLEMS]
    ]
    if len(found) > MAX_CONTROL_PROBLEMS:
        rest = len(found) - MAX_CONTROL_PROBLEMS
        problems.append(
            Problem(
                "control_char",
                f"另有{rest}处控制字符",
                f"{rest} more control characters",
                problems[-1].location,
            )
        )
    raise PolicyError(problems)


def _yaml_problem(exc: yaml.YAMLError, text: str, file: str) -> Problem:
    if isinstance(exc, _BadScalar | _Refused) and exc.problem_mark is not None:
        at = exc.problem_mark
        code = "value" if isinstance(exc, _BadScalar) else "yaml"
        return Problem(code, exc.zh, str(exc.problem), Location(file, at.line + 1, at.column + 1))
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
        problem = exc.problem or exc.context or "?"
        return Problem("yaml", f"YAML 格式错误：{problem}", f"YAML syntax error: {problem}", loc)
    if isinstance(exc, yaml.reader.ReaderError):
        loc = _location_of(text, min(exc.position, len(text)), file)
        return Problem("yaml", f"YAML 无法读取：{exc.reason}", f"YAML reader error: {exc.reason}", loc)
    return Problem("yaml", f"YAML 格式错误：{exc}", f"YAML error: {exc}", Location(file, 1, 1))


def _too_large(size: int, file: str) -> Problem:
    mb = f"{size / 1024 / 1024:.1f}"
    return Problem(
        "file",
        f"文件过大（{mb} MB）：方案和测试用例文件最大 {MAX_BYTES // 1024 // 1024} MB",
        f"the file is too large ({mb} MB); policies and cases files are at most {MAX_BYTES // 1024 // 1024} MB",
        Location(file, 1, 1),
    )


def _duplicate(key: str, first: Any, second: Any, file: str) -> Problem:
    return Problem(
        "duplicate-key",
        f"重复的键“{key}”：第 {first.line + 1} 行已写过（YAML 只会保留后写的一个，请删去或合并）",
        f"duplicate key '{key}', first written on line {first.line + 1} (YAML would silently keep only the last)",
        Location(file, second.line + 1, second.column + 1),
    )


def read_yaml_file(path: str | Path, what_zh: str = "文件", what_en: str = "the file") -> str:
    """The text of a YAML file (UTF-8, a BOM allowed); a missing file, a directory, a file over
    :data:`MAX_BYTES`, a workbook or other binary file and a byte that is no UTF-8 are refused
    with a :class:`PolicyError` naming the file (and the line and column of a bad byte)."""
    p = Path(path)
    at = Location(str(p), 1, 1)

    def refuse(zh: str, en: str, code: str = "file", where: Location = at) -> PolicyError:
        return PolicyError([Problem(code, f"{what_zh}{zh}", f"{what_en} {en}", where)])

    try:
        if not p.exists():
            raise refuse("不存在", "does not exist")
        if not p.is_file():
            raise refuse("是目录或设备，不是普通文件", "is not a regular file")
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise PolicyError([_too_large(size, str(p))])
        raw = p.read_bytes()
    except OSError as exc:
        raise refuse(f"无法读取（{exc.strerror or exc}）", f"cannot be read ({exc.strerror or exc})") from exc
    if raw.startswith(b"PK\x03\x04") or raw.startswith(b"\xd0\xcf\x11\xe0"):
        raise refuse(
            "是 Excel 工作簿（或压缩包），不是 YAML 文本",
            "is a workbook (or an archive), not YAML text",
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", errors="replace")) + 1
        raise refuse(
            "须为 UTF-8 编码的文本",
            "must be UTF-8 text",
            "encoding",
            Location(str(p), line, column),
        ) from exc


def load_yaml(text: str, file: str = "<policy>") -> tuple[Any, dict[tuple[Any, ...], Src]]:
    """Load YAML text; returns the data and a map from path (keys / indexes) to :class:`Src`.

    Control characters (which the YAML reader refuses with an exception of its own), every YAML
    error, a text over :data:`MAX_BYTES`, nesting or alias expansion beyond the limits and keys
    written twice become a :class:`PolicyError` naming the line and column.
    """
    if len(text) > MAX_BYTES:
        raise PolicyError([_too_large(len(text.encode("utf-8", errors="replace")), file)])
    _refuse_control_chars(text, file)
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:  # the reader checks the text as it is handed over
        raise PolicyError([_yaml_problem(exc, text, file)]) from exc
    try:
        try:
            node = loader.get_single_node()
            if loader.duplicates:
                raise PolicyError(
                    [_duplicate(key, first, second, file) for key, first, second in loader.duplicates]
                )
            data = loader.construct_document(node) if node is not None else None
        except yaml.YAMLError as exc:
            raise PolicyError([_yaml_problem(exc, text, file)]) from exc
        except RecursionError as exc:
            raise PolicyError(
                [Problem("yaml", "YAML 嵌套层次过深", "YAML nested too deeply", Location(file, 1, 1))]
            ) from exc
    finally:
        loader.dispose()
    lines = tuple(text.splitlines())
    marks: dict[tuple[Any, ...], Src] = {}

    def visit(n: yaml.Node, path: tuple[Any, ...]) -> None:
        style = n.style if isinstance(n, yaml.ScalarNode) else None
        marks[path] = Src(file, n.start_mark.line, n.start_mark.column, style, lines)
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                key = loader.construct_object(k, deep=True) if isinstance(k, yaml.ScalarNode) else None
                if isinstance(key, Decimal | int | bool):
                    key = str(k.value)
                marks[(*path, ("key", key))] = Src(file, k.start_mark.line, k.start_mark.column, None, lines)
                visit(v, (*path, key))
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                visit(v, (*path, i))

    if node is not None:
        visit(node, ())
    return data, marks
