"""Inspection of uploaded files before anything parses them, and sealing of files kept on disk.

Every upload (census workbooks, attachments; later flat stock lists, bank result files, GeoJSON)
goes through here first. The real type comes from the leading bytes, never from the name or the
declared content type. Each inspector reads the file's own structure cheaply and refuses it with
:class:`UploadRejected` (a clear Chinese message naming the file, the part or sheet, the limit and
the value found) when it is out of bounds, so that a parser never sees a file that would make it
allocate without bound:

- xlsx (zip): entry count, path names, each entry's declared *and* actual uncompressed size (read
  through with a byte cap, so a lying header does not help), compression ratio, and for each
  worksheet its declared ``<dimension ref>`` and the true extent (highest row and column of any
  cell reference, and the number of cells) from a streaming scan of the sheet XML. python-calamine
  allocates the whole rectangle from A1 to the farthest cell: a 1.5 KB file with cells in A1 and
  XFD1048576 asks for 512 GiB;
- xls (OLE2/BIFF8): the same extents from the cell records of each sheet's substream;
- csv: size, lines, line length, columns;
- JSON/GeoJSON: size, nesting depth, coordinate count;
- images (PNG, JPEG, GIF, WebP): the declared pixel dimensions against a pixel limit.

This module is pure (no database, no settings, nothing else of Anju): callers pass
:class:`UploadLimits` built from their settings and turn :class:`UploadRejected` into their own error.
"""

from __future__ import annotations

import html
import io
import os
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

from anju.core.forked import Forked

MiB = 1024 * 1024
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384

# ---------------------------------------------------------------- limits and refusals


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """Bounds for one kind of upload. The defaults fit a 100,000-household census workbook
    (its largest sheet, 成员, spans 343,009 rows x 14 columns = 4.8 million cells; 440 MB of XML
    compressed into 44 MB) with room to spare."""

    max_bytes: int = 50 * MiB
    max_entries: int = 1_000  # zip entries
    max_unzipped_bytes: int = 1024 * MiB  # all entries together, as actually decompressed
    max_ratio: int = 100  # uncompressed / compressed, per entry larger than ratio_floor_bytes
    ratio_floor_bytes: int = MiB
    max_sheet_cells: int = 10_000_000  # rows x columns of one sheet's extent (from A1)
    max_total_cells: int = 20_000_000  # the same summed over the workbook's sheets
    max_rows: int = EXCEL_MAX_ROWS
    max_columns: int = EXCEL_MAX_COLUMNS
    max_line_chars: int = 100_000  # csv
    max_lines: int = 2_000_000  # csv
    max_json_depth: int = 64
    max_json_coordinates: int = 5_000_000
    max_image_pixels: int = 50_000_000
    max_image_side: int = 30_000


class UploadRejected(Exception):
    """An upload is refused. ``code`` is stable; ``limit`` and ``actual`` are the values compared."""

    def __init__(
        self,
        code: str,
        message_zh: str,
        message_en: str,
        *,
        filename: str = "",
        part: str = "",
        limit: int | str | None = None,
        actual: int | str | None = None,
    ) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.filename = filename
        self.part = part
        self.limit = limit
        self.actual = actual

    def __reduce__(self) -> tuple[Any, ...]:
        # picklable, so that a refusal found in a child process reaches the parent
        return (
            _rejected,
            (self.code, self.message_zh, self.message_en, self.filename, self.part, self.limit, self.actual),
        )

    def details(self) -> dict[str, Any]:
        """Structured form for a JSON body."""
        return {
            "field": "file",
            "filename": self.filename,
            "part": self.part,
            "limit": self.limit,
            "actual": self.actual,
            "message": self.message_zh,
        }


def _rejected(
    code: str,
    zh: str,
    en: str,
    filename: str,
    part: str,
    limit: int | str | None,
    actual: int | str | None,
) -> UploadRejected:
    return UploadRejected(code, zh, en, filename=filename, part=part, limit=limit, actual=actual)


def _too_big(
    filename: str, what_zh: str, what_en: str, limit: int, actual: int, part: str = ""
) -> UploadRejected:
    return UploadRejected(
        "upload_too_large",
        f"文件“{filename}”{what_zh}为 {actual:,}，超过上限 {limit:,}，已拒绝（未读取其内容）",
        f"{filename}: {what_en} is {actual:,}, over the limit of {limit:,}",
        filename=filename,
        part=part,
        limit=limit,
        actual=actual,
    )


def _unsafe(filename: str, why_zh: str, why_en: str, part: str = "") -> UploadRejected:
    return UploadRejected(
        "upload_unsafe",
        f"文件“{filename}”{why_zh}，已拒绝",
        f"{filename}: {why_en}",
        filename=filename,
        part=part,
    )


def _corrupt(filename: str, why_en: str, part: str = "") -> UploadRejected:
    return UploadRejected(
        "upload_corrupt",
        f"文件“{filename}”已损坏或格式不正确，无法读取",
        f"{filename}: damaged or malformed ({why_en})",
        filename=filename,
        part=part,
    )


# ---------------------------------------------------------------- file names


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe_filename(name: str, default: str = "file") -> str:
    """The last component of an uploaded file name, without directories (``/`` or ``\\``), control
    and bidirectional-override characters or leading dots; at most 200 characters."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name or ""))[-1]
    base = _CONTROL.sub("", base).strip().lstrip(".").strip()
    if len(base) > 200:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 200 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else base[:200]
    return base or default


# ---------------------------------------------------------------- sniffing

KIND_LABELS = {
    "zip": "ZIP 压缩包",
    "xlsx": "Excel 工作簿（.xlsx）",
    "docx": "Word 文档（.docx）",
    "ods": "OpenDocument 表格",
    "ole": "Office 97-2003 文档",
    "pdf": "PDF 文件",
    "png": "PNG 图片",
    "jpeg": "JPEG 图片",
    "gif": "GIF 图片",
    "webp": "WebP 图片",
    "bmp": "BMP 图片",
    "tiff": "TIFF 图片",
    "svg": "SVG 图形",
    "html": "HTML 网页",
    "xml": "XML 文件",
    "json": "JSON 文件",
    "elf": "Linux 可执行程序",
    "pe": "Windows 可执行程序",
    "script": "脚本",
    "gzip": "GZIP 压缩包",
    "rar": "RAR 压缩包",
    "7z": "7z 压缩包",
    "text": "文本文件",
    "empty": "空文件",
    "unknown": "无法识别的文件",
}

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty archive
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"\x7fELF", "elf"),
    (b"#!", "script"),
    (b"\x1f\x8b", "gzip"),
    (b"Rar!\x1a\x07", "rar"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)
_MARKUP = re.compile(
    rb"<\s*(!doctype\s+html|html|head|body|script|iframe|svg|meta|a\s|img|object|embed|style|form|\?xml)",
    re.IGNORECASE,
)


def sniff(data: bytes) -> str:
    """The file's real kind from its leading bytes: one of :data:`KIND_LABELS`' keys.

    A zip is reported as ``zip`` here (see :func:`zip_kind` for xlsx/docx); text that contains
    markup anywhere in its first 4 KiB is ``html``/``svg``/``xml``, never ``text``.
    """
    if not data:
        return "empty"
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:2] == b"MZ" and b"\x00" in data[2:64]:  # DOS/Windows program (text has no NUL)
        return "pe"
    if data[:2] == b"BM" and b"\x00" in data[2:14]:
        return "bmp"
    head = data[:4096]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    for bom in (b"\xff\xfe", b"\xfe\xff"):
        if head.startswith(bom):  # UTF-16 text: look at it as ASCII
            head = head[2:].replace(b"\x00", b"")
    markup = _MARKUP.search(head)
    if markup:
        tag = markup.group(1).lower()
        if tag.startswith(b"svg") or b"<svg" in head.lower():
            return "svg"
        if tag.startswith(b"?xml"):
            return "svg" if b"<svg" in data[:65536].lower() else "xml"
        return "html"
    stripped = head.lstrip()
    if stripped[:1] in (b"{", b"["):
        return "json"
    if b"\x00" in head:
        return "unknown"
    try:
        head.decode("utf-8")
        return "text"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:  # a character cut at the 4 KiB boundary
            return "text"
    try:
        head.decode("gb18030")
        return "text"
    except UnicodeDecodeError:
        return "unknown"


def label(kind: str) -> str:
    """The Chinese name of a kind for messages."""
    return KIND_LABELS.get(kind, kind)


# ---------------------------------------------------------------- zip


@dataclass(slots=True)
class ZipEntry:
    """One member of an archive as declared in its central directory and as actually decompressed."""

    name: str
    compressed: int
    declared: int
    actual: int = 0

    @property
    def ratio(self) -> float:
        """Actual uncompressed size over compressed size."""
        return self.actual / max(1, self.compressed)


@dataclass(slots=True)
class SheetExtent:
    """A worksheet's declared range and its true extent from the cell references."""

    part: str
    title: str = ""
    declared_ref: str = ""
    declared_rows: int = 0
    declared_columns: int = 0
    max_row: int = 0
    max_column: int = 0
    cells: int = 0
    # The fast scan reads a row number only when it is beyond the bound it tests (``max_row`` with
    # its first two digits): a cell could sit unnoticed at most this far down, within 10% of max_row.
    row_bound: int = 0

    @property
    def rows(self) -> int:
        """Rows of the rectangle a reader allocates (declared or found)."""
        return max(self.max_row, self.declared_rows)

    @property
    def columns(self) -> int:
        """Columns of that rectangle."""
        return max(self.max_column, self.declared_columns)

    @property
    def grid_cells(self) -> int:
        """Cells of the rectangle a reader allocates (A1 to the farthest row and column)."""
        return self.rows * self.columns


@dataclass(slots=True)
class ZipReport:
    """What :func:`inspect_zip` found."""

    kind: str  # xlsx | docx | ods | zip
    entries: list[ZipEntry] = field(default_factory=list)
    sheets: list[SheetExtent] = field(default_factory=list)

    @property
    def unzipped(self) -> int:
        """All entries' actual uncompressed bytes."""
        return sum(e.actual for e in self.entries)


def _check_member_name(filename: str, name: str) -> None:
    bad = ""
    if "\\" in name:
        bad = "含反斜杠"
    elif name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        bad = "为绝对路径"
    elif any(p == ".." for p in name.split("/")):
        bad = "含“..”"
    elif "\x00" in name or _CONTROL.search(name):
        bad = "含控制字符"
    if bad:
        raise _unsafe(
            filename,
            f"包含非法路径的压缩成员“{_CONTROL.sub('?', name)[:100]}”（{bad}）",
            f"archive member with an unsafe path {name[:100]!r}",
            part=name,
        )


def zip_kind(names: set[str]) -> str:
    """xlsx, docx or ods by the archive's well-known parts; otherwise zip."""
    if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
        return "xlsx"
    if "word/document.xml" in names:
        return "docx"
    if "content.xml" in names and "mimetype" in names:
        return "ods"
    return "zip"


_CHUNK_IN = 256 * 1024
_CHUNK_OUT = 4 * MiB


def _inflate(
    data: bytes, info: zipfile.ZipInfo, cap: int, filename: str, sink: Callable[[bytes], None] | None
) -> int:
    """Decompress one member from its raw bytes (the local header located by hand), stopping as
    soon as more than ``cap`` bytes come out; returns the bytes produced. The declared uncompressed
    size is never trusted: the output is counted."""
    offset = info.header_offset
    header = data[offset : offset + 30]
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise _corrupt(filename, "bad local header", info.filename)
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    start = offset + 30 + name_len + extra_len
    raw = memoryview(data)[start : start + info.compress_size]
    if len(raw) < info.compress_size:
        raise _corrupt(filename, "member runs past the end of the file", info.filename)
    produced = 0
    if info.compress_type == zipfile.ZIP_STORED:
        produced = len(raw)
        if produced > cap:
            return produced
        if sink is not None:
            for i in range(0, len(raw), _CHUNK_OUT):
                sink(bytes(raw[i : i + _CHUNK_OUT]))
        return produced
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise _unsafe(
            filename,
            f"使用了不支持的压缩方式（{info.compress_type}）",
            f"unsupported compression method {info.compress_type}",
            info.filename,
        )
    inflater = zlib.decompressobj(-15)
    pos = 0
    pending = b""
    try:
        while True:
            if not pending:
                if pos >= len(raw):
                    break
                pending = bytes(raw[pos : pos + _CHUNK_IN])
                pos += _CHUNK_IN
            out = inflater.decompress(pending, _CHUNK_OUT)
            pending = inflater.unconsumed_tail
            produced += len(out)
            if produced > cap:
                return produced
            if out and sink is not None:
                sink(out)
            if inflater.eof:
                break
        tail = inflater.flush()
    except zlib.error as exc:
        raise _corrupt(filename, f"deflate: {exc}", info.filename) from exc
    produced += len(tail)
    if tail and sink is not None and produced <= cap:
        sink(tail)
    return produced


def _member_result(
    data: bytes,
    info: zipfile.ZipInfo,
    filename: str,
    limits: UploadLimits,
    budget: int,
    scanner: _SheetScanner | None,
) -> ZipEntry:
    """Decompress one member within its caps (the ratio's and what is left of the total) and
    refuse it when it expands too much or does not hold what its header declares."""
    per_entry = max(limits.ratio_floor_bytes, limits.max_ratio * max(1, info.compress_size))
    actual = _inflate(data, info, min(budget, per_entry), filename, scanner.feed if scanner else None)
    entry = ZipEntry(info.filename, info.compress_size, info.file_size, actual)
    if actual > per_entry:
        raise UploadRejected(
            "upload_too_large",
            f"文件“{filename}”的压缩成员“{info.filename[:100]}”压缩比超过上限 {limits.max_ratio} 倍"
            f"（压缩 {info.compress_size:,} 字节，解压超过 {actual:,} 字节），疑似压缩炸弹，已拒绝",
            f"{filename}: member {info.filename[:100]!r} expands more than {limits.max_ratio}x "
            f"({info.compress_size:,} -> over {actual:,} bytes)",
            filename=filename,
            part=info.filename,
            limit=limits.max_ratio,
            actual=int(entry.ratio),
        )
    if actual > budget:
        raise _unzipped_over(filename, limits, info.filename, actual)
    if actual != info.file_size:
        # a reader may trust the header; a member that lies about its size is not a real workbook
        raise _unsafe(
            filename,
            f"的压缩成员“{info.filename[:100]}”声明解压后 {info.file_size:,} 字节，实际为 {actual:,} 字节",
            f"member {info.filename[:100]!r} declares {info.file_size:,} bytes but holds {actual:,}",
            info.filename,
        )
    return entry


def _unzipped_over(filename: str, limits: UploadLimits, part: str, actual: int) -> UploadRejected:
    return UploadRejected(
        "upload_too_large",
        f"文件“{filename}”解压后超过 {limits.max_unzipped_bytes:,} 字节的上限"
        f"（至压缩成员“{part[:100]}”处），已拒绝",
        f"{filename}: uncompressed content over {limits.max_unzipped_bytes:,} bytes",
        filename=filename,
        part=part,
        limit=limits.max_unzipped_bytes,
        actual=actual,
    )


def _scan_sheet(
    data: bytes, info: zipfile.ZipInfo, filename: str, title: str, limits: UploadLimits
) -> tuple[ZipEntry | None, SheetExtent | None, UploadRejected | None]:
    """One worksheet decompressed and scanned: its entry and extent, or the refusal (returned, so
    that it can travel from a child process)."""

    def run(exact: bool) -> tuple[ZipEntry, SheetExtent]:
        scanner = _SheetScanner(info.filename, title, exact=exact)
        entry = _member_result(data, info, filename, limits, limits.max_unzipped_bytes, scanner)
        return entry, scanner.finish()

    try:
        try:
            entry, extent = run(False)
        except _NeedsWalk:
            entry, extent = run(True)
        _check_extent(filename, extent, limits)
    except UploadRejected as exc:
        return None, None, exc
    return entry, extent, None


FORK_MIN_BYTES = 4 * MiB  # compressed worksheet bytes from which the scan runs in a child process


class ZipInspection:
    """An archive whose structure is checked (entries, names, declared sizes, the actual size of
    every member that is not a worksheet); worksheets are decompressed and scanned on demand by
    :meth:`sheet`, or all ahead in a forked child process (``order`` first) for a big workbook, so
    that the reader can parse one sheet while the next is still being scanned.
    """

    def __init__(
        self,
        data: bytes,
        filename: str,
        limits: UploadLimits,
        *,
        scan_sheets: bool = True,
        order: tuple[str, ...] = (),
        fork: bool = False,
    ) -> None:
        self.data, self.filename, self.limits = data, filename, limits
        if len(data) > limits.max_bytes:
            raise _too_big(filename, "大小（字节）", "size", limits.max_bytes, len(data))
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            infos = archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
            raise _corrupt(filename, f"zip: {exc}") from exc
        if len(infos) > limits.max_entries:
            raise _too_big(
                filename, "中的压缩成员个数", "archive member count", limits.max_entries, len(infos)
            )
        names: set[str] = set()
        for info in infos:
            _check_member_name(filename, info.filename)
            if info.filename in names:
                raise _unsafe(
                    filename,
                    f"含同名的压缩成员“{info.filename[:100]}”",
                    f"duplicate archive member {info.filename[:100]!r}",
                    info.filename,
                )
            names.add(info.filename)
        self.kind = zip_kind(names)
        declared = sum(i.file_size for i in infos)
        if declared > limits.max_unzipped_bytes:
            raise _too_big(
                filename,
                "声明的解压后总大小（字节）",
                "declared uncompressed size",
                limits.max_unzipped_bytes,
                declared,
            )
        scan = scan_sheets and self.kind == "xlsx"
        if scan and any(n.startswith("xl/worksheets/") and n.endswith(".bin") for n in names):
            raise UploadRejected(
                "upload_wrong_type",
                f"文件“{filename}”是二进制工作簿（.xlsb），请在 Excel 中另存为 .xlsx 后上传",
                f"{filename}: binary workbooks (.xlsb) are not accepted; save as .xlsx",
                filename=filename,
            )
        parts = _sheet_parts(data, archive, infos, filename, limits) if scan else {}
        self.entries: list[ZipEntry] = []
        self.total = 0
        for info in infos:
            if info.filename not in parts:
                entry = _member_result(
                    data, info, filename, limits, limits.max_unzipped_bytes - self.total, None
                )
                self.entries.append(entry)
                self.total += entry.actual
        # worksheets: the wanted titles in the reader's order, then the rest
        rank = {t: i for i, t in enumerate(order)}
        sheet_infos = sorted(
            (i for i in infos if i.filename in parts), key=lambda i: rank.get(parts[i.filename], len(rank))
        )
        self.titles = {parts[i.filename]: n for n, i in enumerate(sheet_infos)}
        self.sheets: list[SheetExtent] = []
        self._cells = 0
        self._fns = [partial(_scan_sheet, data, i, filename, parts[i.filename], limits) for i in sheet_infos]
        self._forked: Forked | None = None
        if fork and sum(i.compress_size for i in sheet_infos) >= FORK_MIN_BYTES:
            self._forked = Forked(*self._fns)

    def _result(self, index: int) -> tuple[ZipEntry | None, SheetExtent | None, UploadRejected | None]:
        if self._forked is not None:
            got: tuple[ZipEntry | None, SheetExtent | None, UploadRejected | None] = self._forked.result(
                index
            )
            return got
        return self._fns[index]()

    def sheet_by_index(self, index: int) -> SheetExtent:
        """The extent of the ``index``-th worksheet in scan order (every earlier one is checked first)."""
        while len(self.sheets) <= index:
            entry, extent, refusal = self._result(len(self.sheets))
            if refusal is not None:
                self.close()
                raise refusal
            assert entry is not None and extent is not None
            self.entries.append(entry)
            self.total += entry.actual
            if self.total > self.limits.max_unzipped_bytes:
                self.close()
                raise _unzipped_over(self.filename, self.limits, entry.name, self.total)
            self._cells += extent.grid_cells
            if self._cells > self.limits.max_total_cells:
                self.close()
                raise _too_big(
                    self.filename,
                    "各工作表的单元格范围合计",
                    "cells over all sheets",
                    self.limits.max_total_cells,
                    self._cells,
                    part=extent.part,
                )
            self.sheets.append(extent)
        return self.sheets[index]

    def sheet(self, title: str) -> SheetExtent | None:
        """The checked extent of the worksheet named ``title``; raises :class:`UploadRejected`
        when it, or a sheet scanned before it, is out of bounds. A title the workbook part does not
        name (the reader spelled it differently) has every sheet scanned, and gives ``None``."""
        index = self.titles.get(title)
        if index is None:
            self.check_all()
            return None
        return self.sheet_by_index(index)

    def check_all(self) -> ZipReport:
        """Scan every worksheet; the whole report."""
        for i in range(len(self._fns)):
            self.sheet_by_index(i)
        return ZipReport(kind=self.kind, entries=list(self.entries), sheets=list(self.sheets))

    def close(self) -> None:
        """Stop a child process still scanning (safe to repeat)."""
        if self._forked is not None:
            self._forked.cancel()
            self._forked = None


def inspect_zip(data: bytes, filename: str, limits: UploadLimits, *, scan_sheets: bool = True) -> ZipReport:
    """Check an archive's structure and every member's real size; for an xlsx (``scan_sheets``)
    also measure each worksheet's extent. Raises :class:`UploadRejected` at the first bound crossed.
    """
    inspection = ZipInspection(data, filename, limits, scan_sheets=scan_sheets)
    try:
        return inspection.check_all()
    finally:
        inspection.close()


def _sheet_where(extent: SheetExtent) -> str:
    return f"工作表“{extent.title}”" if extent.title else f"工作表部件“{extent.part}”"


def _check_extent(filename: str, extent: SheetExtent, limits: UploadLimits) -> None:
    where = _sheet_where(extent)
    rows, cols = extent.rows, extent.columns
    declared = f"（声明范围 {extent.declared_ref}）" if extent.declared_ref else ""
    if rows > limits.max_rows:
        raise _too_big(
            filename,
            f"{where}的行数{declared}",
            f"rows of sheet {extent.title or extent.part}",
            limits.max_rows,
            rows,
            extent.part,
        )
    if cols > limits.max_columns:
        raise _too_big(
            filename,
            f"{where}的列数{declared}",
            f"columns of sheet {extent.title or extent.part}",
            limits.max_columns,
            cols,
            extent.part,
        )
    if extent.grid_cells > limits.max_sheet_cells:
        raise UploadRejected(
            "upload_too_large",
            f"文件“{filename}”{where}的单元格范围为 {rows:,} 行 × {cols:,} 列 = {extent.grid_cells:,} 格{declared}，"
            f"超过上限 {limits.max_sheet_cells:,} 格，已拒绝（未读取其内容）；请删除表格远处的多余单元格后重新上传",
            f"{filename}: sheet {extent.title or extent.part} spans {rows:,} x {cols:,} = {extent.grid_cells:,} cells, "
            f"over the limit of {limits.max_sheet_cells:,}",
            filename=filename,
            part=extent.part,
            limit=limits.max_sheet_cells,
            actual=extent.grid_cells,
        )


# ---------------------------------------------------------------- xlsx sheet scan

_SHEET_TAG = re.compile(rb"<(?:\w+:)?sheet\b([^>]*)>")
_ATTR = re.compile(rb'([\w:]+)\s*=\s*"([^"]*)"')
_REL_TAG = re.compile(rb"<(?:\w+:)?Relationship\b([^>]*)>")


def _small_part(
    data: bytes, archive: zipfile.ZipFile, name: str, filename: str, limits: UploadLimits
) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return b""
    out: list[bytes] = []
    cap = min(4 * MiB, limits.max_unzipped_bytes)
    size = _inflate(data, info, cap, filename, out.append)
    if size > cap:
        raise _too_big(filename, f"的部件“{name}”大小（字节）", f"part {name}", cap, size, name)
    return b"".join(out)


def _sheet_parts(
    data: bytes, archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], filename: str, limits: UploadLimits
) -> dict[str, str]:
    """Worksheet part name -> sheet title, from the workbook and its relationships; every part
    under ``xl/worksheets/`` is scanned even when nothing names it."""
    rels: dict[str, str] = {}
    for tag in _REL_TAG.finditer(_small_part(data, archive, "xl/_rels/workbook.xml.rels", filename, limits)):
        attrs = dict(_ATTR.findall(tag.group(1)))
        target = html.unescape(attrs.get(b"Target", b"").decode("utf-8", "replace"))
        target = target.lstrip("/") if target.startswith("/") else "xl/" + target
        rels[attrs.get(b"Id", b"").decode("utf-8", "replace")] = os.path.normpath(target).replace("\\", "/")
    parts: dict[str, str] = {}
    for tag in _SHEET_TAG.finditer(_small_part(data, archive, "xl/workbook.xml", filename, limits)):
        attrs = {k.split(b":")[-1] if k != b"name" else k: v for k, v in _ATTR.findall(tag.group(1))}
        rid = attrs.get(b"id", b"").decode("utf-8", "replace")
        title = html.unescape(attrs.get(b"name", b"").decode("utf-8", "replace"))
        if rid in rels:
            parts[rels[rid]] = title
    names = {i.filename for i in infos}
    for name in names:
        if name.startswith("xl/worksheets/") and name.endswith(".xml") and name not in parts:
            parts[name] = ""
    return {p: t for p, t in parts.items() if p in names}


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n


def _col_letters(n: int) -> str:
    out = ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


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

    def __init__(self, part: str, title: str = "", *, exact: bool = False) -> None:
        self.extent = SheetExtent(part=part, title=title)
        self.exact = exact
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
        self._scan(buf[:cut] if cut < len(buf) else buf)

    def _scan(self, buf: bytes) -> None:
        e = self.extent
        if self.head:
            m = _DIMENSION.search(buf, 0, 65536)
            if m:
                self._declared(m.group(1).decode("ascii", "replace"))
                self.head = False
            elif b"<sheetData" in buf or b":sheetData" in buf:
                self.head = False
        if self.exact:
            self._walk(buf)
            return
        last_row = buf.rfind(b'<row r="')
        if last_row >= 0:
            m = _ROW_NUMBER.match(buf, last_row + 8)
            if m:
                e.max_row = max(e.max_row, int(m.group(1)))
        pattern, bound = _outliers(e.max_column, e.max_row)
        m = pattern.search(buf)
        while m is not None:
            if not _REF_AT.match(buf, m.end()):
                raise _NeedsWalk
            for letters, digits in _REF.findall(buf):
                if len(letters) > 3 or len(digits) > 7:
                    e.max_column = max(e.max_column, EXCEL_MAX_COLUMNS * 26)
                    e.max_row = max(e.max_row, EXCEL_MAX_ROWS * 10)
                    return  # far out of bounds: refused when the sheet ends
                e.max_column = max(e.max_column, _col_number(letters))
                e.max_row = max(e.max_row, int(digits))
            pattern, bound = _outliers(e.max_column, e.max_row)
            again = pattern.search(buf, m.start())
            if again is not None and again.start() == m.start():
                raise _NeedsWalk  # a reference the fast pattern does not read (e.g. leading zeros)
            m = again
        e.row_bound = max(e.row_bound, bound)
        self.cells += buf.count(b"<c ")

    def _walk(self, buf: bytes) -> None:
        e = self.extent
        for close, name, attrs, _empty in _TAG.findall(buf):
            if close:
                continue
            ref = dict(_ATTR.findall(attrs)).get(b"r")
            if name == b"row":
                self.cur_row = int(ref) if ref and ref.isdigit() and len(ref) < 12 else self.cur_row + 1
                self.cur_col = 0
                e.max_row = max(e.max_row, self.cur_row)
                continue
            self.cells += 1
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
            self._scan(self.carry)
            self.carry = b""
        e = self.extent
        e.cells = self.cells
        if e.cells == 0:
            e.max_row = e.max_column = 0
        return e


# ---------------------------------------------------------------- xls (BIFF8)

# BIFF8 cell records: each starts with the row (u16) and the column (u16).
_BIFF_CELLS = frozenset({0x0006, 0x00BD, 0x00BE, 0x00D6, 0x00FD, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E})
_BIFF_BOF, _BIFF_EOF, _BIFF_DIMENSIONS, _BIFF_SHEET = 0x0809, 0x000A, 0x0200, 0x0085


def inspect_xls(data: bytes, filename: str, limits: UploadLimits) -> list[SheetExtent]:
    """Each worksheet's extent in an Excel 97-2003 workbook, from its DIMENSIONS and cell records."""
    import olefile

    if len(data) > limits.max_bytes:
        raise _too_big(filename, "大小（字节）", "size", limits.max_bytes, len(data))
    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
        stream = next((s for s in ("Workbook", "Book") if ole.exists(s)), None)
        if stream is None:
            raise _corrupt(filename, "no Workbook stream")
        book = ole.openstream(stream).read(limits.max_unzipped_bytes + 1)
    except UploadRejected:
        raise
    except Exception as exc:  # olefile raises OSError and its own errors for damaged files
        raise _corrupt(filename, f"ole: {exc}") from exc
    if len(book) > limits.max_unzipped_bytes:
        raise _too_big(
            filename, "的工作簿数据（字节）", "workbook stream", limits.max_unzipped_bytes, len(book)
        )
    titles: list[str] = []
    sheets: list[SheetExtent] = []
    current: SheetExtent | None = None
    depth = 0
    pos, end = 0, len(book)
    unpack = struct.unpack_from
    total = 0
    while pos + 4 <= end:
        rtype, size = unpack("<HH", book, pos)
        body = pos + 4
        pos = body + size
        if rtype == _BIFF_BOF:
            depth += 1
            if depth == 1 and size >= 4 and unpack("<H", book, body + 2)[0] in (0x0010, 0x0020, 0x0040):
                n = len(sheets)
                current = SheetExtent(part=f"sheet{n + 1}", title=titles[n] if n < len(titles) else "")
            continue
        if rtype == _BIFF_EOF:
            depth -= 1
            if depth == 0 and current is not None:
                _check_extent(filename, current, limits)
                total += current.grid_cells
                if total > limits.max_total_cells:
                    raise _too_big(
                        filename,
                        "各工作表的单元格范围合计",
                        "cells over all sheets",
                        limits.max_total_cells,
                        total,
                        current.part,
                    )
                sheets.append(current)
                current = None
            continue
        if rtype == _BIFF_SHEET and current is None and size >= 8:
            titles.append(_biff_text(book, body + 6, body + size))
        elif current is not None and size >= 4:
            if rtype in _BIFF_CELLS:
                row, col = unpack("<HH", book, body)
                if rtype in (0x00BD, 0x00BE) and size >= 6:  # MULRK / MULBLANK: last column at the end
                    col = max(col, unpack("<H", book, body + size - 2)[0])
                current.cells += 1
                current.max_row = max(current.max_row, row + 1)
                current.max_column = max(current.max_column, col + 1)
            elif rtype == _BIFF_DIMENSIONS and size >= 14:
                _first_row, last_row, _first_col, last_col = unpack("<IIHH", book, body)
                current.declared_rows, current.declared_columns = last_row, last_col
                if last_row:
                    current.declared_ref = f"A1:{_col_letters(max(1, last_col))}{last_row}"
    return sheets


def _biff_text(book: bytes, start: int, end: int) -> str:
    """A short BIFF8 unicode string (length u8, flags u8, then compressed or UTF-16LE characters)."""
    if start + 2 > end:
        return ""
    n, flags = book[start], book[start + 1]
    raw = book[start + 2 : end]
    try:
        return raw[: n * 2].decode("utf-16-le") if flags & 1 else raw[:n].decode("latin-1")
    except UnicodeDecodeError:
        return ""


# ---------------------------------------------------------------- csv


@dataclass(slots=True)
class CsvReport:
    """Lines, the longest line in characters, and the most separators on one line (+1)."""

    lines: int
    longest_line: int
    columns: int


def inspect_csv(data: bytes, filename: str, limits: UploadLimits) -> CsvReport:
    """Bound a CSV file before a reader splits it: size, line count, line length, columns."""
    if len(data) > limits.max_bytes:
        raise _too_big(filename, "大小（字节）", "size", limits.max_bytes, len(data))
    if b"\x00" in data:
        raise _corrupt(filename, "NUL bytes in a text file")
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    if lines > limits.max_lines:
        raise _too_big(filename, "的行数", "lines", limits.max_lines, lines)
    columns = 0
    longest = max(map(len, data.split(b"\n")), default=0)
    if longest > limits.max_line_chars:
        raise _too_big(filename, "最长一行的字节数", "longest line (bytes)", limits.max_line_chars, longest)
    if data:
        columns = max(line.count(b",") for line in data.split(b"\n", 1000)[:1000]) + 1
        if columns > limits.max_columns:
            raise _too_big(filename, "的列数", "columns", limits.max_columns, columns)
    return CsvReport(lines=lines, longest_line=longest, columns=columns)


# ---------------------------------------------------------------- JSON / GeoJSON

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKETS = re.compile(rb"[\[\]{}]")
_COORDINATE = re.compile(rb"\[\s*-?[0-9][^\[\]{}]*\]")


@dataclass(slots=True)
class JsonReport:
    """Nesting depth and the number of innermost number arrays (GeoJSON positions)."""

    depth: int
    coordinates: int


def inspect_json(data: bytes, filename: str, limits: UploadLimits) -> JsonReport:
    """Bound a JSON or GeoJSON document before ``json.loads`` builds it: size, nesting, positions."""
    if len(data) > limits.max_bytes:
        raise _too_big(filename, "大小（字节）", "size", limits.max_bytes, len(data))
    bare = _JSON_STRING.sub(b'""', data)
    depth = deepest = 0
    for m in _JSON_BRACKETS.finditer(bare):
        if m.group() in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limits.max_json_depth:
                    raise _too_big(filename, "的嵌套层数", "nesting depth", limits.max_json_depth, deepest)
        else:
            depth -= 1
    coordinates = sum(1 for _ in _COORDINATE.finditer(bare))
    if coordinates > limits.max_json_coordinates:
        raise _too_big(filename, "的坐标点数", "coordinate count", limits.max_json_coordinates, coordinates)
    return JsonReport(depth=deepest, coordinates=coordinates)


# ---------------------------------------------------------------- images


@dataclass(frozen=True, slots=True)
class ImageSize:
    """An image's declared pixel dimensions."""

    kind: str
    width: int
    height: int


def image_size(data: bytes, kind: str) -> ImageSize | None:
    """Width and height from the image header (PNG IHDR, JPEG SOFn, GIF screen, WebP VP8/VP8L/VP8X)."""
    try:
        if kind == "png" and data[12:16] == b"IHDR":
            w, h = struct.unpack(">II", data[16:24])
            return ImageSize(kind, w, h)
        if kind == "gif":
            w, h = struct.unpack("<HH", data[6:10])
            return ImageSize(kind, w, h)
        if kind == "webp":
            chunk = data[12:16]
            if chunk == b"VP8X":
                w = int.from_bytes(data[24:27], "little") + 1
                h = int.from_bytes(data[27:30], "little") + 1
                return ImageSize(kind, w, h)
            if chunk == b"VP8L":
                bits = int.from_bytes(data[21:25], "little")
                return ImageSize(kind, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
            if chunk == b"VP8 ":
                w, h = struct.unpack("<HH", data[26:30])
                return ImageSize(kind, w & 0x3FFF, h & 0x3FFF)
            return None
        if kind == "jpeg":
            return _jpeg_size(data)
    except struct.error:
        return None
    return None


def _jpeg_size(data: bytes) -> ImageSize | None:
    pos = 2
    n = len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if pos + 9 > n:
                return None
            h, w = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return ImageSize("jpeg", w, h)
        if marker == 0xDA or length < 2:  # image data before any frame header
            return None
        pos += 2 + length
    return None


def inspect_image(data: bytes, filename: str, kind: str, limits: UploadLimits) -> ImageSize:
    """Refuse an image whose header is unreadable or whose pixels exceed the limits."""
    size = image_size(data, kind)
    if size is None or size.width <= 0 or size.height <= 0:
        raise _corrupt(filename, f"{kind} header")
    side = max(size.width, size.height)
    if side > limits.max_image_side:
        raise _too_big(filename, "的图片边长（像素）", "image side (pixels)", limits.max_image_side, side)
    pixels = size.width * size.height
    if pixels > limits.max_image_pixels:
        raise _too_big(filename, "的图片像素数", "image pixels", limits.max_image_pixels, pixels)
    return size


# ---------------------------------------------------------------- census workbooks


@dataclass(slots=True)
class WorkbookReport:
    """What :func:`inspect_workbook` found: the real kind and the sheets' extents (none for csv)."""

    kind: str  # xlsx | xls | csv
    sheets: list[SheetExtent] = field(default_factory=list)
    unzipped: int = 0


def open_workbook(
    data: bytes,
    filename: str,
    limits: UploadLimits,
    *,
    order: tuple[str, ...] = (),
    fork: bool = False,
) -> tuple[str, ZipInspection | None]:
    """Inspect a spreadsheet upload by its content, before a reader opens it: an xlsx/xlsm (its
    structure now, its worksheets on demand through the returned :class:`ZipInspection`, ``order``
    first, ahead in a child process when ``fork`` and the workbook is big), an Excel 97-2003 xls
    (every sheet now), or, when the name ends in ``.csv``, a CSV text file. Returns the kind
    (``xlsx``, ``xls`` or ``csv``) and the inspection of an xlsx. Anything else is refused, naming
    what the file really is."""
    if not data:
        raise UploadRejected(
            "upload_empty", f"文件“{filename}”为空", f"{filename} is empty", filename=filename
        )
    if len(data) > limits.max_bytes:
        raise _too_big(filename, "大小（字节）", "size", limits.max_bytes, len(data))
    kind = sniff(data)
    wants_csv = filename.lower().endswith(".csv")
    if kind == "zip":
        inspection = ZipInspection(data, filename, limits, order=order, fork=fork and not wants_csv)
        if inspection.kind == "xlsx" and not wants_csv:
            return "xlsx", inspection
        inspection.close()
        kind = inspection.kind
    elif kind == "ole" and not wants_csv:
        inspect_xls(data, filename, limits)
        return "xls", None
    elif kind == "text" and wants_csv:
        inspect_csv(data, filename, limits)
        return "csv", None
    expected = "CSV 文本文件" if wants_csv else "Excel 工作簿（.xlsx 或 .xls）"
    raise UploadRejected(
        "upload_wrong_type",
        f"文件“{filename}”的内容是{label(kind)}，不是{expected}，已拒绝",
        f"{filename} holds {kind}, not a {'csv' if wants_csv else 'spreadsheet'}",
        filename=filename,
        actual=kind,
    )


def inspect_workbook(data: bytes, filename: str, limits: UploadLimits) -> WorkbookReport:
    """:func:`open_workbook` with every worksheet scanned at once."""
    kind, inspection = open_workbook(data, filename, limits)
    if inspection is None:
        return WorkbookReport(kind, inspect_xls(data, filename, limits) if kind == "xls" else [])
    report = inspection.check_all()
    return WorkbookReport(kind, report.sheets, report.unzipped)


# ---------------------------------------------------------------- attachments

ATTACHMENT_TYPES: dict[str, tuple[str, str]] = {
    # sniffed kind -> (content type served, extension)
    "png": ("image/png", ".png"),
    "jpeg": ("image/jpeg", ".jpg"),
    "gif": ("image/gif", ".gif"),
    "webp": ("image/webp", ".webp"),
    "pdf": ("application/pdf", ".pdf"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
}
IMAGE_KINDS = frozenset({"png", "jpeg", "gif", "webp"})
_GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/x-download"})
_TYPE_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}


@dataclass(frozen=True, slots=True)
class AttachmentCheck:
    """An accepted attachment: its sniffed kind, the content type to serve, and whether inline."""

    kind: str
    content_type: str
    inline: bool
    width: int = 0
    height: int = 0


def inspect_attachment(
    data: bytes, filename: str, declared_type: str, limits: UploadLimits
) -> AttachmentCheck:
    """Accept a photo, scan or document by its content: PNG/JPEG/GIF/WebP images within the pixel
    limits, PDF, and Word/Excel (.docx/.xlsx, archive inspected). A declared content type that
    disagrees with the content is refused; so are HTML, SVG, scripts and programs."""
    if not data:
        raise UploadRejected(
            "upload_empty", f"文件“{filename}”为空", f"{filename} is empty", filename=filename
        )
    if len(data) > limits.max_bytes:
        raise _too_big(filename, "大小（字节）", "size", limits.max_bytes, len(data))
    kind = sniff(data)
    if kind == "zip":
        kind = inspect_zip(data, filename, limits, scan_sheets=False).kind
    if kind not in ATTACHMENT_TYPES:
        raise UploadRejected(
            "upload_wrong_type",
            f"文件“{filename}”的内容是{label(kind)}，附件只能是 JPG、PNG、GIF、WEBP 图片，PDF，或 Word/Excel（.docx/.xlsx）文件",
            f"{filename} holds {kind}; attachments must be images, PDF, .docx or .xlsx",
            filename=filename,
            actual=kind,
        )
    content_type, _ext = ATTACHMENT_TYPES[kind]
    declared = declared_type.split(";")[0].strip().lower()
    declared = _TYPE_ALIASES.get(declared, declared)
    if declared not in _GENERIC_TYPES and declared != content_type:
        raise UploadRejected(
            "upload_type_mismatch",
            f"文件“{filename}”声明的类型为 {declared[:80]}，但内容是{label(kind)}，已拒绝",
            f"{filename} is declared as {declared[:80]} but holds {kind}",
            filename=filename,
            limit=declared[:80],
            actual=kind,
        )
    if kind in IMAGE_KINDS:
        size = inspect_image(data, filename, kind, limits)
        return AttachmentCheck(kind, content_type, True, size.width, size.height)
    return AttachmentCheck(kind, content_type, False)


def serving(data: bytes) -> tuple[str, bool]:
    """The content type to serve stored attachment bytes with, and whether inline, sniffed again
    (rows stored before uploads were inspected carry the declared type): an allow-listed image is
    inline, other allow-listed types are downloads, anything else is ``application/octet-stream``."""
    kind = sniff(data)
    if kind == "zip":
        try:
            kind = zip_kind(set(zipfile.ZipFile(io.BytesIO(data)).namelist()))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            kind = "zip"
    if kind in ATTACHMENT_TYPES:
        return ATTACHMENT_TYPES[kind][0], kind in IMAGE_KINDS
    return "application/octet-stream", False


# ---------------------------------------------------------------- sealed files

_SEAL_MAGIC = b"ANJU-SEALED-1\n"


def new_key() -> bytes:
    """A random 256-bit key for :func:`seal` (kept in memory only)."""
    return os.urandom(32)


def seal(key: bytes, data: bytes, label_: bytes = b"upload") -> bytes:
    """``data`` encrypted with AES-GCM under ``key`` (a fresh nonce; ``label_`` is authenticated)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    return _SEAL_MAGIC + nonce + AESGCM(key).encrypt(nonce, data, label_)


def unseal(key: bytes, blob: bytes, label_: bytes = b"upload") -> bytes:
    """Inverse of :func:`seal`; raises ``ValueError`` when the key or the bytes are wrong."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not blob.startswith(_SEAL_MAGIC):
        raise ValueError("not a sealed file")
    body = blob[len(_SEAL_MAGIC) :]
    try:
        return AESGCM(key).decrypt(body[:12], body[12:], label_)
    except InvalidTag as exc:
        raise ValueError("sealed file does not open with this key") from exc


def iter_chunks(data: bytes, size: int = _CHUNK_OUT) -> Iterator[bytes]:
    """``data`` in slices of ``size`` bytes (test helper for streaming scanners)."""
    for i in range(0, len(data), size):
        yield data[i : i + size]
