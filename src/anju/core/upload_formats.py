"""Inspection of Excel 97-2003 workbooks, CSV, JSON/GeoJSON and images (see :mod:`anju.core.uploads`)."""

from __future__ import annotations

import io
import re
import struct
from array import array
from dataclasses import dataclass

from anju.core.upload_checks import (
    SheetExtent,
    UploadLimits,
    UploadRejected,
    _check_extent,
    _check_shared_text,
    _col_letters,
    _corrupt,
    _too_big,
)

# ---------------------------------------------------------------- xls (BIFF8)

# BIFF8 cell records: each starts with the row (u16) and the column (u16).
_BIFF_CELLS = frozenset({0x0006, 0x00BD, 0x00BE, 0x00D6, 0x00FD, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E})
_BIFF_BOF, _BIFF_EOF, _BIFF_DIMENSIONS, _BIFF_SHEET = 0x0809, 0x000A, 0x0200, 0x0085
_BIFF_SST, _BIFF_CONTINUE, _BIFF_LABELSST = 0x00FC, 0x003C, 0x00FD


def inspect_xls(data: bytes, filename: str, limits: UploadLimits) -> list[SheetExtent]:
    """Each worksheet's extent in an Excel 97-2003 workbook, from its DIMENSIONS and cell records,
    read where the reader reads them (the offset each sheet's BOUNDSHEET record gives), and the
    shared-string text its LABELSST cells copy."""
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
    unpack = struct.unpack_from
    end = len(book)
    # The workbook globals: each sheet's name and the offset of its substream (where the reader
    # goes for it, wherever that is), and the shared-string table.
    boundsheets: list[tuple[int, str]] = []
    sst: list[tuple[int, int]] = []  # (offset, length) of the SST record and each CONTINUE
    pos = 0
    while pos + 4 <= end:
        rtype, size = unpack("<HH", book, pos)
        body = pos + 4
        pos = body + size
        if rtype == _BIFF_EOF:
            break
        if rtype == _BIFF_SHEET and size >= 8:
            offset, _state, kind = unpack("<IBB", book, body)
            if kind == 0:  # a worksheet (charts and macro sheets hold no cells the reader keeps)
                boundsheets.append((offset, _biff_text(book, body + 6, body + size)))
        elif rtype == _BIFF_SST:
            sst = [(body, size)]
        elif rtype == _BIFF_CONTINUE and sst and sst[-1][0] + sst[-1][1] + 4 == body:
            sst.append((body, size))
    if len(boundsheets) > limits.max_entries:  # each is read from its offset: bound the passes
        raise _too_big(filename, "的工作表个数", "sheet count", limits.max_entries, len(boundsheets))
    sizes = _sst_sizes(book, sst) if sst else array("I")
    sheets: list[SheetExtent] = []
    total = shared_total = 0
    for n, (offset, title) in enumerate(boundsheets):
        current = SheetExtent(part=f"sheet{n + 1}", title=title)
        pos, depth = offset, 0
        while pos + 4 <= end:
            rtype, size = unpack("<HH", book, pos)
            body = pos + 4
            pos = body + size
            if rtype == _BIFF_BOF:
                depth += 1
                continue
            if rtype == _BIFF_EOF:
                depth -= 1
                if depth <= 0:
                    break
                continue
            if size < 4:
                continue
            if rtype in _BIFF_CELLS:
                row, col = unpack("<HH", book, body)
                if rtype in (0x00BD, 0x00BE) and size >= 6:  # MULRK / MULBLANK: last column at the end
                    col = max(col, unpack("<H", book, body + size - 2)[0])
                current.cells += 1
                current.max_row = max(current.max_row, row + 1)
                current.max_column = max(current.max_column, col + 1)
                if rtype == _BIFF_LABELSST and size >= 10:
                    # the reader copies the shared string into the cell: count its size each time
                    isst = unpack("<I", book, body + 6)[0]
                    got = sizes[isst] if isst < len(sizes) else 0
                    current.shared_cells += 1
                    current.shared_text += got
                    shared_total += got
                    if shared_total > limits.max_shared_text_bytes:
                        _check_shared_text(filename, current, shared_total, limits)
            elif rtype == _BIFF_DIMENSIONS and size >= 14:
                _first_row, last_row, _first_col, last_col = unpack("<IIHH", book, body)
                current.declared_rows, current.declared_columns = last_row, last_col
                if last_row:
                    current.declared_ref = f"A1:{_col_letters(max(1, last_col))}{last_row}"
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
    return sheets


def _sst_sizes(book: bytes, segments: list[tuple[int, int]]) -> array[int]:
    """The size in bytes (as UTF-16 or Latin-1 text) of each string of a BIFF8 shared-string table
    held in ``segments`` (the SST record and its CONTINUE records). A string's characters may run on
    into the next record, which then starts with a new flags byte; its formatting runs and extended
    data may too, without one. A table that does not parse gives the strings found so far."""
    sizes = array("I")
    bounds = [start + length for start, length in segments]
    starts = [start for start, _ in segments]
    seg = 0
    pos = starts[0] + 8  # total and unique counts
    count = struct.unpack_from("<I", book, starts[0] + 4)[0] if segments[0][1] >= 8 else 0

    def advance(p: int, n: int) -> tuple[int, int]:
        """Move ``n`` bytes on from ``p`` across record boundaries (no flags bytes)."""
        nonlocal seg
        while n > 0 and seg < len(bounds):
            room = bounds[seg] - p
            if n < room:
                return p + n, 0
            n -= room
            seg += 1
            p = starts[seg] if seg < len(starts) else bounds[-1]
        return p, n

    try:
        for _ in range(count):
            if seg < len(bounds) and pos >= bounds[seg]:
                seg += 1
                if seg >= len(starts):
                    break
                pos = starts[seg]
            cch, flags = struct.unpack_from("<HB", book, pos)
            pos += 3
            runs = ext = 0
            if flags & 0x08:
                runs = struct.unpack_from("<H", book, pos)[0]
                pos += 2
            if flags & 0x04:
                ext = struct.unpack_from("<I", book, pos)[0]
                pos += 4
            wide = flags & 0x01
            left = cch
            nbytes = 0
            while left > 0:
                room = (bounds[seg] - pos) // (2 if wide else 1)
                take = min(left, room)
                pos += take * (2 if wide else 1)
                nbytes += take * (2 if wide else 1)
                left -= take
                if left > 0:  # continued in the next record, after a new flags byte
                    seg += 1
                    if seg >= len(starts):
                        break
                    wide = book[starts[seg]] & 0x01
                    pos = starts[seg] + 1
            sizes.append(nbytes)
            pos, _rest = advance(pos, 4 * runs + ext)
    except (struct.error, IndexError):
        pass
    return sizes


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
