"""Upload inspection part: zip containers (xlsx): entry count, path names, each entry's declared and
actual uncompressed size (read through with a byte cap), compression ratio, and each worksheet's
declared and true extent from a streaming scan of its XML (:mod:`anju.core.sheet_scan`).

Re-exported by :mod:`anju.core.uploads`, which callers import.
"""

from __future__ import annotations

import html
import io
import os
import re
import struct
import zipfile
import zlib
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from anju.core.forked import Forked
from anju.core.sheet_scan import _ATTR, _NeedsWalk, _SharedRefs, _SharedStrings, _SheetScanner
from anju.core.upload_checks import (
    MiB,
    SheetExtent,
    UploadLimits,
    UploadRejected,
    _check_extent,
    _check_shared_text,
    _corrupt,
    _too_big,
    _unsafe,
)

# Control and bidirectional-override characters: never in a file or entry name shown to people.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


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
    sink: Callable[[bytes], None] | None,
) -> ZipEntry:
    """Decompress one member within its caps (the ratio's and what is left of the total) and
    refuse it when it expands too much or does not hold what its header declares."""
    per_entry = max(limits.ratio_floor_bytes, limits.max_ratio * max(1, info.compress_size))
    actual = _inflate(data, info, min(budget, per_entry), filename, sink)
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
    data: bytes,
    info: zipfile.ZipInfo,
    filename: str,
    title: str,
    limits: UploadLimits,
    shared: array[int] | None = None,
) -> tuple[ZipEntry | None, SheetExtent | None, UploadRejected | None]:
    """One worksheet decompressed and scanned: its entry and extent, or the refusal (returned, so
    that it can travel from a child process). With the workbook's shared-string sizes, the text its
    cells take from them is bounded (count x longest string) and, if that is over the limit, added
    up exactly in a second pass."""

    def run(exact: bool) -> tuple[ZipEntry, SheetExtent]:
        scanner = _SheetScanner(info.filename, title, exact=exact, shared=bool(shared))
        entry = _member_result(data, info, filename, limits, limits.max_unzipped_bytes, scanner.feed)
        return entry, scanner.finish()

    try:
        try:
            entry, extent = run(False)
        except _NeedsWalk:
            entry, extent = run(True)
        _check_extent(filename, extent, limits)
        if shared:
            extent.shared_text = extent.shared_cells * max(shared)
            if extent.shared_text > limits.max_shared_text_bytes:
                refs = _SharedRefs(shared)
                _inflate(data, info, limits.max_unzipped_bytes, filename, refs.feed)
                extent.shared_text = refs.finish()
            _check_shared_text(filename, extent, extent.shared_text, limits)
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
        shared_part = _shared_strings_part(data, archive, filename, limits) if scan else None
        self.shared: array[int] | None = None
        self.entries: list[ZipEntry] = []
        self.total = 0
        for info in infos:
            if info.filename not in parts:
                sizes = _SharedStrings() if info.filename == shared_part else None
                entry = _member_result(
                    data,
                    info,
                    filename,
                    limits,
                    limits.max_unzipped_bytes - self.total,
                    sizes.feed if sizes else None,
                )
                self.entries.append(entry)
                self.total += entry.actual
                if sizes is not None and sizes.sizes:
                    self.shared = sizes.sizes
        # worksheets: the wanted titles in the reader's order, then the rest
        rank = {t: i for i, t in enumerate(order)}
        sheet_infos = sorted(
            (i for i in infos if i.filename in parts), key=lambda i: rank.get(parts[i.filename], len(rank))
        )
        self.titles = {parts[i.filename]: n for n, i in enumerate(sheet_infos)}
        self.sheets: list[SheetExtent] = []
        self._cells = 0
        self._shared_total = 0
        self._fns = [
            partial(_scan_sheet, data, i, filename, parts[i.filename], limits, self.shared)
            for i in sheet_infos
        ]
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
            self._shared_total += extent.shared_text
            if self._shared_total > self.limits.max_shared_text_bytes:
                self.close()
                _check_shared_text(self.filename, extent, self._shared_total, self.limits)
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


# ---------------------------------------------------------------- xlsx sheet scan

_SHEET_TAG = re.compile(rb"<(?:\w+:)?sheet\b([^>]*)>")
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


def _shared_strings_part(
    data: bytes, archive: zipfile.ZipFile, filename: str, limits: UploadLimits
) -> str | None:
    """The shared-strings part the workbook's relationships name (as the reader finds it)."""
    for tag in _REL_TAG.finditer(_small_part(data, archive, "xl/_rels/workbook.xml.rels", filename, limits)):
        attrs = dict(_ATTR.findall(tag.group(1)))
        if attrs.get(b"Type", b"").endswith(b"/sharedStrings"):
            target = html.unescape(attrs.get(b"Target", b"").decode("utf-8", "replace"))
            target = target.lstrip("/") if target.startswith("/") else "xl/" + target
            return os.path.normpath(target).replace("\\", "/")
    return "xl/sharedStrings.xml"


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
