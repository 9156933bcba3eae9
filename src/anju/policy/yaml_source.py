"""Reading a policy's YAML text: numbers as exact ``Decimal``, and where every value was written.

Every scalar, mapping and list keeps its place (file, line, column) so that later checks report
problems precisely; every YAML error, control character, impossible date or non-finite number
becomes a :class:`~anju.policy.errors.PolicyError` naming its line and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml

from anju.core.text import describe_char, find_control_chars
from anju.policy.errors import Location, PolicyError, Problem


class _Loader(yaml.SafeLoader):
    """Safe YAML loader that reads decimal numbers as ``Decimal`` (never float)."""


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
    if isinstance(exc, _BadScalar) and exc.problem_mark is not None:
        at = exc.problem_mark
        return Problem("value", exc.zh, str(exc.problem), Location(file, at.line + 1, at.column + 1))
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
        problem = exc.problem or exc.context or "?"
        return Problem("yaml", f"YAML 格式错误：{problem}", f"YAML syntax error: {problem}", loc)
    if isinstance(exc, yaml.reader.ReaderError):
        loc = _location_of(text, min(exc.position, len(text)), file)
        return Problem("yaml", f"YAML 无法读取：{exc.reason}", f"YAML reader error: {exc.reason}", loc)
    return Problem("yaml", f"YAML 格式错误：{exc}", f"YAML error: {exc}", Location(file, 1, 1))


def load_yaml(text: str, file: str = "<policy>") -> tuple[Any, dict[tuple[Any, ...], Src]]:
    """Load YAML text; returns the data and a map from path (keys / indexes) to :class:`Src`.

    Control characters (which the YAML reader refuses with an exception of its own) and every
    YAML error become a :class:`PolicyError` naming the line and column.
    """
    _refuse_control_chars(text, file)
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:  # the reader checks the text as it is handed over
        raise PolicyError([_yaml_problem(exc, text, file)]) from exc
    try:
        try:
            node = loader.get_single_node()
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
