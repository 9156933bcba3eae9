"""The streaming scan of a worksheet's XML for its true extent (see :mod:`anju.core.uploads`).

python-calamine allocates the rectangle from A1 to a sheet's farthest cell; this finds that cell
(and counts the cells) without building anything per cell in the common case.
"""

from __future__ import annotations

import re
from array import array
from functools import lru_cache

from anju.core.upload_checks import (
    EXCEL_MAX_COLUMNS,
    EXCEL_MAX_ROWS,
    MiB,
    SheetExtent,
    _col_letters,
    _col_number,
)

_ODD_TYPE = re.compile(rb"\st(?:\s+=|=\s)")  # t = "s" with spaces, which the byte counts would miss
_ATTR = re.compile(rb"""([\w:]+)\s*=\s*["']([^"']*)["']""")  # XML allows either quote


def _greater(text: str, alphabet: str) -> str:
    """A regex matching strings of ``alphabet`` characters that sort after ``text`` as numbers of
    that base (longer, or as long and greater); ``text`` has no leading zero digit."""
    first, last = alphabet[0], alphabet[-1]
    k = len(text)
    lead = "1-9" if alphabet == "0123456789" else f"{first}-{last}"
    parts = [f"[{lead}][{first}-{last}]{{{k},}}"]
    for i, ch in enumerate(text):
        if ch == last:
            continue
        nxt = alphabet[alphabet.index(ch) + 1]
        parts.append(f"{re.escape(text[:i])}[{nxt}-{last}][{first}-{last}]{{{k - i - 1}}}")
    return "(?:" + "|".join(parts) + ")"


_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _row_fine(max_row: int) -> tuple[str, int]:
    """A regex for a row number and its closing quote, up to a bound just above ``max_row`` (same
    digit count, first two digits at most ``max_row``'s), and that bound: cheap to test at every
    cell (possessive quantifiers: no backtracking over the digits)."""
    if max_row <= 0:
        return "(?!)", 0
    t = str(max_row)
    d = len(t)
    if d == 1:
        return f'[1-{t}]"', max_row
    a, b = int(t[0]), int(t[1])
    alternatives = [f'[1-9][0-9]{{0,{d - 2}}}+"']
    if a > 1:
        alternatives.append(f'[1-{a - 1}][0-9]{{{d - 1}}}"')
    alternatives.append(f'{a}[0-{b}][0-9]{{{d - 2}}}"')
    return "(?:" + "|".join(alternatives) + ")", (a * 10 + b + 1) * 10 ** (d - 2) - 1


def _col_fine(max_col: int) -> str:
    if max_col <= 0:
        return "(?!)"
    if max_col <= 26:
        return f"[A-{_LETTERS[max_col - 1]}]"
    return f"(?!{_greater(_col_letters(max_col), _LETTERS)})[A-Z]{{1,3}}+"


@lru_cache(maxsize=256)
def _outliers(max_col: int, max_row: int) -> tuple[re.Pattern[bytes], int]:
    """A ``<c`` tag that does not start with a reference within column ``max_col`` and (about) row
    ``max_row``, and the row bound the pattern lets through."""
    rows, bound = _row_fine(max_row)
    pattern = rf'<c(?! r="{_col_fine(max_col)}{rows})(?=[\s>/])'
    return re.compile(pattern.encode()), bound


_REF = re.compile(rb' r="([A-Z]+)0*([0-9]+)"')
_REF_AT = re.compile(rb' r="[A-Z]')
_ROW_NUMBER = re.compile(rb'([0-9]{1,12})"')
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([^"]*)"')
_RANGE = re.compile(r"^\$?([A-Z]{1,4})\$?([0-9]{1,9})(?::\$?([A-Z]{1,4})\$?([0-9]{1,9}))?$")
_TAG = re.compile(rb"<(/?)(?:\w+:)?(row|c)(?=[\s>/])([^>]*?)(/?)>")


class _NeedsWalk(Exception):
    """A cell without a leading reference: the sheet is scanned again tag by tag."""


class _SheetScanner:
    """Streams a worksheet's XML once and keeps its farthest cell and its cell count.

    Fast mode, per 4 MiB chunk: the last ``<row r=`` raises the row bound (rows rise in a real
    sheet), then one regex search looks for a cell tag that does not start with a reference within
    the bounds so far. A real sheet has none after its first chunk; a reference beyond them widens
    the bounds from every reference of that chunk. A cell without a leading reference (the reader
    places it after the previous cell) raises :class:`_NeedsWalk`, and the sheet is scanned again
    in exact mode, which follows every row and cell tag as the reader does.
    """

    def __init__(self, part: str, title: str = "", *, exact: bool = False, shared: bool = False) -> None:
        self.extent = SheetExtent(part=part, title=title)
        self.exact = exact
        self.shared = shared  # the workbook has shared strings: count the cells that use them
        self.carry = b""
        self.head = True
        self.cells = 0
        self.cur_row = 0
        self.cur_col = 0

    def feed(self, chunk: bytes) -> None:
        """Scan the next piece of the sheet's XML (a tag cut at the end waits for the next piece)."""
        buf = self.carry + chunk if self.carry else chunk
        cut = buf.rfind(b"<")
        if cut <= 0 or len(buf) - cut > MiB:
            cut = len(buf)
        self.carry = buf[cut:]
        self._scan(buf, cut)  # buf[:cut], without copying it

    def _scan(self, buf: bytes, end: int) -> None:
        e = self.extent
        if self.head:
            m = _DIMENSION.search(buf, 0, min(end, 65536))
            if m:
                self._declared(m.group(1).decode("ascii", "replace"))
                self.head = False
            elif buf.find(b"sheetData", 0, end) >= 0:
                self.head = False
        if self.exact:
            self._walk(buf, end)
            return
        last_row = buf.rfind(b'<row r="', 0, end)
        if last_row >= 0:
            m = _ROW_NUMBER.match(buf, last_row + 8, end)
            if m:
                e.max_row = max(e.max_row, int(m.group(1)))
        pattern, bound = _outliers(e.max_column, e.max_row)
        m = pattern.search(buf, 0, end)
        while m is not None:
            if not _REF_AT.match(buf, m.end(), end):
                raise _NeedsWalk
            for letters, digits in _REF.findall(buf, 0, end):
                if len(letters) > 3 or len(digits) > 7:
                    e.max_column = max(e.max_column, EXCEL_MAX_COLUMNS * 26)
                    e.max_row = max(e.max_row, EXCEL_MAX_ROWS * 10)
                    return  # far out of bounds: refused when the sheet ends
                e.max_column = max(e.max_column, _col_number(letters))
                e.max_row = max(e.max_row, int(digits))
            pattern, bound = _outliers(e.max_column, e.max_row)
            again = pattern.search(buf, m.start(), end)
            if again is not None and again.start() == m.start():
                raise _NeedsWalk  # a reference the fast pattern does not read (e.g. leading zeros)
            m = again
        e.row_bound = max(e.row_bound, bound)
        self.cells += buf.count(b"<c ", 0, end)
        if self.shared:
            if _ODD_TYPE.search(buf, 0, end):
                raise _NeedsWalk  # a cell type written unusually (t = "s"): follow each tag
            e.shared_cells += buf.count(b't="s"', 0, end) + buf.count(b"t='s'", 0, end)

    def _walk(self, buf: bytes, end: int) -> None:
        e = self.extent
        for close, name, attrs, _empty in _TAG.findall(buf, 0, end):
            if close:
                continue
            ref = dict(_ATTR.findall(attrs)).get(b"r")
            if name == b"row":
                self.cur_row = int(ref) if ref and ref.isdigit() and len(ref) < 12 else self.cur_row + 1
                self.cur_col = 0
                e.max_row = max(e.max_row, self.cur_row)
                continue
            self.cells += 1
            if dict(_ATTR.findall(attrs)).get(b"t") == b"s":
                e.shared_cells += 1
            m = _RANGE.match(ref.decode("ascii", "replace")) if ref else None
            if m:
                self.cur_col = _col_number(m.group(1).encode())
                self.cur_row = int(m.group(2))
            else:
                self.cur_col += 1
                self.cur_row = max(self.cur_row, 1)
            e.max_column = max(e.max_column, self.cur_col)
            e.max_row = max(e.max_row, self.cur_row)

    def _declared(self, ref: str) -> None:
        e = self.extent
        e.declared_ref = ref[:40]
        m = _RANGE.match(ref.strip().upper())
        if not m:
            return
        end_col, end_row = (m.group(3), m.group(4)) if m.group(3) else (m.group(1), m.group(2))
        e.declared_columns = _col_number(end_col.encode())
        e.declared_rows = int(end_row)

    def finish(self) -> SheetExtent:
        if self.carry:
            self._scan(self.carry, len(self.carry))
            self.carry = b""
        e = self.extent
        e.cells = self.cells
        if e.cells == 0:
            e.max_row = e.max_column = 0
        return e


class _SharedStrings:
    """Streams ``sharedStrings.xml`` and keeps the size in bytes of each string (``<si>``)."""

    _SI = re.compile(rb"<(/?)(?:\w+:)?si(?=[\s>/])")

    def __init__(self) -> None:
        self.sizes = array("I")
        self.carry = b""
        self.pos = 0  # offset of the next byte fed
        self.start = -1

    def feed(self, chunk: bytes) -> None:
        buf = self.carry + chunk if self.carry else chunk
        base = self.pos - len(self.carry)
        cut = buf.rfind(b"<")
        if cut <= 0 or len(buf) - cut > MiB:
            cut = len(buf)
        for m in self._SI.finditer(buf, 0, cut):
            if not m.group(1):
                self.start = base + m.end()
            elif self.start >= 0:
                self.sizes.append(min(base + m.start() - self.start, 0xFFFFFFFF))
                self.start = -1
        self.carry = buf[cut:]
        self.pos += len(chunk)


class _SharedRefs:
    """Streams a worksheet and adds up the sizes of the shared strings its cells name."""

    _V = re.compile(rb"""\st\s*=\s*["']s["'][^>]*>\s*<v[^>]*>\s*([0-9]{1,10})\s*</v>""")

    def __init__(self, sizes: array[int]) -> None:
        self.sizes = sizes
        self.total = 0
        self.carry = b""

    def feed(self, chunk: bytes) -> None:
        buf = self.carry + chunk if self.carry else chunk
        cut = buf.rfind(b"<c ")
        if cut <= 0 or len(buf) - cut > MiB:
            cut = len(buf)
        sizes, n = self.sizes, len(self.sizes)
        self.total += sum(sizes[i] for i in map(int, self._V.findall(buf, 0, cut)) if i < n)
        self.carry = buf[cut:]

    def finish(self) -> int:
        while self.carry:
            self.feed(b"")
        return self.total
