"""The formula language: tokenizer, parser and syntax tree.

The grammar (lowest precedence first)::

    expr    := 'if' expr 'then' expr ('elif' expr 'then' expr)* 'else' expr | or
    or      := and ('or' and)*
    and     := not ('and' not)*
    not     := 'not' not | cmp
    cmp     := add (('=='|'!='|'<'|'<='|'>'|'>=') add)?
    add     := mul (('+'|'-') mul)*
    mul     := unary (('*'|'/') unary)*
    unary   := '-' unary | primary
    primary := NUMBER [unit] | STRING | 'true' | 'false' | '(' expr ')'
             | name ('.' name)* [ '[' expr (',' expr)* ']' | '(' args ')' ]
    args    := arg (',' arg)*;  arg := expr | key '=' expr   (key a name or 'else';
               'order=' expr may be followed by 'desc' or 'asc')
    unit    := '[' text ']' | unit symbols written right after the number (元 ㎡ 人 月 日 户 证 %)

User text is never given to Python's ``eval`` or ``ast``: this module reads it character by
character. Every node keeps its character span so errors and traces can point into the formula.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from anju.policy.units import ONE, Unit, UnitSyntaxError, parse_unit

UNIT_SYMBOLS = "元㎡人月日户证"
KEYWORDS = {"if", "then", "elif", "else", "and", "or", "not", "true", "false"}


class SyntaxProblem(Exception):
    """A syntax error at character ``offset`` of the formula text."""

    def __init__(self, offset: int, message_zh: str, message_en: str) -> None:
        self.offset = offset
        self.message_zh = message_zh
        self.message_en = message_en
        super().__init__(f"{offset}: {message_zh} / {message_en}")


@dataclass(slots=True)
class Token:
    """One token: kind is 'num', 'str', 'name', 'op', 'kw' or 'end'."""

    kind: str
    text: str
    start: int
    end: int
    value: Any = None  # Decimal for numbers (already divided by 100 for percentages)
    unit: Unit | None = None


def _is_name_char(ch: str, first: bool) -> bool:
    if ch == "_":
        return True
    if first:
        return ch.isidentifier()
    return ("a" + ch).isidentifier()


def tokenize(text: str) -> list[Token]:
    """Split a formula into tokens; raises :class:`SyntaxProblem` on a bad character."""
    out: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
            continue
        if ch == "#":  # comment to end of line
            while i < n and text[i] != "\n":
                i += 1
            continue
        start = i
        if ch.isdecimal():  # not isdigit(): ① and ² are digits but no number Decimal can read
            while i < n and text[i].isdecimal():
                i += 1
            if i < n - 1 and text[i] == "." and text[i + 1].isdecimal():
                i += 1
                while i < n and text[i].isdecimal():
                    i += 1
            raw = text[start:i]
            value = Decimal(raw)
            unit: Unit | None = None
            j = i
            while j < n and text[j] == " ":
                j += 1
            if j < n and text[j] == "%":
                value = value / 100
                unit = ONE
                i = j + 1
            elif j < n and text[j] == "[":
                close = text.find("]", j)
                if close < 0:
                    raise SyntaxProblem(j, "单位缺少右方括号", "unit is missing its closing ']'")
                try:
                    unit, pct = parse_unit(text[j + 1 : close])
                except UnitSyntaxError as exc:
                    raise SyntaxProblem(j + 1, f"不认识的单位“{exc}”", f"unknown unit '{exc}'") from exc
                if pct:
                    value = value / 100
                i = close + 1
            elif j < n and text[j] in UNIT_SYMBOLS:
                k = j
                while k < n and (text[k] in UNIT_SYMBOLS or text[k] == "/"):
                    if text[k] == "/" and not (k + 1 < n and text[k + 1] in UNIT_SYMBOLS):
                        break
                    k += 1
                # a unit symbol glued to more letters is a name (e.g. 人数), not a unit
                if not (k < n and _is_name_char(text[k], False) and text[k] not in UNIT_SYMBOLS):
                    try:
                        unit, _ = parse_unit(text[j:k])
                    except UnitSyntaxError as exc:  # e.g. a symbol written twice: 5㎡㎡
                        raise SyntaxProblem(j, f"不认识的单位“{exc}”", f"unknown unit '{exc}'") from exc
                    i = k
            out.append(Token("num", text[start:i], start, i, value, unit))
            continue
        if ch in "'\"“‘":
            close_ch = {"'": "'", '"': '"', "“": "”", "‘": "’"}[ch]
            end = text.find(close_ch, i + 1)
            if end < 0:
                raise SyntaxProblem(i, "字符串缺少结束引号", "string is missing its closing quote")
            out.append(Token("str", text[start : end + 1], start, end + 1, text[i + 1 : end]))
            i = end + 1
            continue
        if _is_name_char(ch, True):
            while i < n and _is_name_char(text[i], False):
                i += 1
            word = text[start:i]
            out.append(Token("kw" if word in KEYWORDS else "name", word, start, i))
            continue
        two = text[i : i + 2]
        if two in ("==", "!=", "<=", ">="):
            out.append(Token("op", two, i, i + 2))
            i += 2
            continue
        if ch in "+-*/()[],.<>=":
            out.append(Token("op", ch, i, i + 1))
            i += 1
            continue
        if ch in "（），":
            raise SyntaxProblem(
                i, f"请使用半角符号，而不是“{ch}”", f"use ASCII punctuation instead of '{ch}'"
            )
        raise SyntaxProblem(i, f"无法识别的字符“{ch}”", f"unexpected character '{ch}'")
    out.append(Token("end", "", n, n))
    return out


# ----------------------------------------------------------------------------- syntax tree


@dataclass(eq=False, slots=True)
class Node:
    """Base of all syntax nodes; ``start``/``end`` are character offsets in the formula."""

    start: int
    end: int
    ty: Any = field(default=None, init=False, repr=False)  # filled in by the checker
    ref: Any = field(default=None, init=False, repr=False)  # resolved meaning of a name


@dataclass(eq=False, slots=True)
class Num(Node):
    """A number literal with its unit."""

    value: Decimal
    unit: Unit


@dataclass(eq=False, slots=True)
class Str(Node):
    """A string literal (a category such as '砖混' or a block code)."""

    value: str


@dataclass(eq=False, slots=True)
class Bool(Node):
    """``true`` or ``false``."""

    value: bool


@dataclass(eq=False, slots=True)
class Name(Node):
    """A dotted name: a parameter, item, clock, tier, or a field such as ``building.legal_area``."""

    parts: tuple[str, ...]


@dataclass(eq=False, slots=True)
class Index(Node):
    """A table lookup ``table[key, ...]``."""

    name: Name
    keys: list[Node]


@dataclass(eq=False, slots=True)
class Call(Node):
    """A function call ``f(arg, ..., key=arg)``."""

    func: str
    args: list[Node]
    kwargs: dict[str, Node]
    func_start: int = 0


@dataclass(eq=False, slots=True)
class Unary(Node):
    """Negation."""

    op: str
    operand: Node


@dataclass(eq=False, slots=True)
class Binary(Node):
    """Arithmetic ``+ - * /``."""

    op: str
    left: Node
    right: Node


@dataclass(eq=False, slots=True)
class Compare(Node):
    """Comparison ``== != < <= > >=``."""

    op: str
    left: Node
    right: Node


@dataclass(eq=False, slots=True)
class BoolOp(Node):
    """``and`` / ``or`` (both sides are always evaluated: there are no side effects)."""

    op: str
    left: Node
    right: Node


@dataclass(eq=False, slots=True)
class Not(Node):
    """``not``."""

    operand: Node


@dataclass(eq=False, slots=True)
class If(Node):
    """``if c1 then v1 elif c2 then v2 else v3``."""

    branches: list[tuple[Node, Node]]
    orelse: Node


@functools.lru_cache(maxsize=4096)
def _tokens(text: str) -> tuple[Token, ...]:
    """The tokens of ``text``, shared between parses of the same text (the parser only reads them;
    a what-if re-parses every formula of the policy on each call)."""
    return tuple(tokenize(text))


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def take(self) -> Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def at(self, kind: str, text: str | None = None) -> bool:
        t = self.tok
        return t.kind == kind and (text is None or t.text == text)

    def expect(self, kind: str, text: str) -> Token:
        if not self.at(kind, text):
            t = self.tok
            got = t.text or "公式结尾"
            raise SyntaxProblem(
                t.start, f"此处应为“{text}”，却是“{got}”", f"expected '{text}' but found '{got or 'end'}'"
            )
        return self.take()

    def parse(self) -> Node:
        if self.at("end"):
            raise SyntaxProblem(0, "公式为空", "the formula is empty")
        node = self.expr()
        if not self.at("end"):
            t = self.tok
            raise SyntaxProblem(
                t.start, f"多余的内容“{t.text}”", f"unexpected '{t.text}' after the expression"
            )
        return node

    def expr(self) -> Node:
        if self.at("kw", "if"):
            start = self.take().start
            branches = []
            cond = self.expr()
            self.expect("kw", "then")
            branches.append((cond, self.expr()))
            while self.at("kw", "elif"):
                self.take()
                c = self.expr()
                self.expect("kw", "then")
                branches.append((c, self.expr()))
            self.expect("kw", "else")
            orelse = self.expr()
            return If(start, orelse.end, branches, orelse)
        return self.or_()

    def or_(self) -> Node:
        left = self.and_()
        while self.at("kw", "or"):
            self.take()
            right = self.and_()
            left = BoolOp(left.start, right.end, "or", left, right)
        return left

    def and_(self) -> Node:
        left = self.not_()
        while self.at("kw", "and"):
            self.take()
            right = self.not_()
            left = BoolOp(left.start, right.end, "and", left, right)
        return left

    def not_(self) -> Node:
        if self.at("kw", "not"):
            start = self.take().start
            operand = self.not_()
            return Not(start, operand.end, operand)
        return self.cmp()

    def cmp(self) -> Node:
        left = self.add()
        if self.tok.kind == "op" and self.tok.text in ("==", "!=", "<", "<=", ">", ">="):
            op = self.take().text
            right = self.add()
            if self.tok.kind == "op" and self.tok.text in ("==", "!=", "<", "<=", ">", ">="):
                t = self.tok
                raise SyntaxProblem(
                    t.start,
                    "比较不能连写，请用 and 连接",
                    "comparisons cannot be chained; join them with 'and'",
                )
            return Compare(left.start, right.end, op, left, right)
        return left

    def add(self) -> Node:
        left = self.mul()
        while self.tok.kind == "op" and self.tok.text in ("+", "-"):
            op = self.take().text
            right = self.mul()
            left = Binary(left.start, right.end, op, left, right)
        return left

    def mul(self) -> Node:
        left = self.unary()
        while self.tok.kind == "op" and self.tok.text in ("*", "/"):
            op = self.take().text
            right = self.unary()
            left = Binary(left.start, right.end, op, left, right)
        return left

    def unary(self) -> Node:
        if self.at("op", "-"):
            start = self.take().start
            operand = self.unary()
            return Unary(start, operand.end, "-", operand)
        if self.at("op", "+"):
            self.take()
            return self.unary()
        return self.primary()

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "num":
            self.take()
            return Num(t.start, t.end, t.value, t.unit if t.unit is not None else ONE)
        if t.kind == "str":
            self.take()
            return Str(t.start, t.end, t.value)
        if t.kind == "kw" and t.text in ("true", "false"):
            self.take()
            return Bool(t.start, t.end, t.text == "true")
        if self.at("op", "("):
            self.take()
            node = self.expr()
            close = self.expect("op", ")")
            node.start, node.end = t.start, close.end
            return node
        if t.kind == "name":
            self.take()
            parts = [t.text]
            end = t.end
            while self.at("op", "."):
                self.take()
                nt = self.tok
                if nt.kind != "name":
                    raise SyntaxProblem(nt.start, "“.”后应为名称", "a name must follow '.'")
                self.take()
                parts.append(nt.text)
                end = nt.end
            name = Name(t.start, end, tuple(parts))
            if self.at("op", "["):
                self.take()
                keys = [self.expr()]
                while self.at("op", ","):
                    self.take()
                    keys.append(self.expr())
                close = self.expect("op", "]")
                return Index(t.start, close.end, name, keys)
            if self.at("op", "("):
                if len(parts) != 1:
                    raise SyntaxProblem(t.start, "函数名不能带“.”", "a function name cannot contain '.'")
                self.take()
                args: list[Node] = []
                kwargs: dict[str, Node] = {}
                if not self.at("op", ")"):
                    while True:
                        if (
                            (self.tok.kind == "name" or self.at("kw", "else"))
                            and self.toks[self.i + 1].text == "="
                            and (self.toks[self.i + 1].kind == "op")
                        ):
                            key = self.take().text
                            self.take()
                            kwargs[key] = self.expr()
                            if (
                                key == "order"
                                and self.tok.kind == "name"
                                and self.tok.text in ("desc", "asc")
                            ):
                                # ``order=expr desc``: descending (``asc``, the default, may be written)
                                word = self.take()
                                if word.text == "desc":
                                    kwargs["desc"] = Bool(word.start, word.end, True)
                        else:
                            if kwargs:
                                raise SyntaxProblem(
                                    self.tok.start,
                                    "位置参数不能写在命名参数之后",
                                    "positional argument after a keyword argument",
                                )
                            args.append(self.expr())
                        if self.at("op", ","):
                            self.take()
                            continue
                        break
                close = self.expect("op", ")")
                return Call(t.start, close.end, parts[0], args, kwargs, t.start)
            return name
        got = t.text or "公式结尾"
        raise SyntaxProblem(
            t.start,
            f"此处应为数值、名称或“(”，却是“{got}”",
            f"expected a value, a name or '(' but found '{t.text or 'end'}'",
        )


def parse(text: str) -> Node:
    """Parse a formula into a syntax tree; raises :class:`SyntaxProblem`."""
    return _Parser(text).parse()


def walk(node: Node) -> list[Node]:
    """All nodes of a tree, parents before children."""
    out: list[Node] = []
    stack = [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(reversed(children(n)))
    return out


def children(n: Node) -> list[Node]:
    """The direct children of a node."""
    if isinstance(n, Index):
        return [n.name, *n.keys]
    if isinstance(n, Call):
        return [*n.args, *n.kwargs.values()]
    if isinstance(n, Unary | Not):
        return [n.operand]
    if isinstance(n, Binary | Compare | BoolOp):
        return [n.left, n.right]
    if isinstance(n, If):
        out: list[Node] = []
        for c, v in n.branches:
            out += [c, v]
        return [*out, n.orelse]
    return []
