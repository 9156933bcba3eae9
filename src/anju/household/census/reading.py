"""Census import part: reading an uploaded xlsx or csv into raw rows, sheet by sheet, through the upload
inspection (see the package docstring).
"""

from __future__ import annotations

import csv
import hashlib
import io
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO

from anju import uploads as upload_policy
from anju.core import uploads as core_uploads
from anju.errors import ValidationFailed
from anju.household import rules
from anju.household.census.results import CellError, RawCensus, RawSheet, column_letter
from anju.household.census.spec import (
    _SHEET_ORDER,
    CSV_SHEET,
    SHEET_BY_KEY,
    SHEETS,
    Progress,
    SheetSpec,
    _no_progress,
    _norm_header,
)

__all__ = [
    "SheetHandler",
    "read_census",
    "sha256_of",
]


def sha256_of(data: bytes) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(data).hexdigest()


def _blank_row(values: Iterable[Any]) -> bool:
    for v in values:
        if v is None:
            continue
        if isinstance(v, str):
            if v.strip():
                return False
            continue
        return False
    return True


def _sheet_from_rows(
    spec: SheetSpec, grid: Sequence[Sequence[Any]], errors: list[CellError]
) -> RawSheet | None:
    """Find the header row (the first of the first 10 rows naming 户号) and map the data rows."""
    by_header = {_norm_header(c.header): c.field.name for c in spec.columns}
    key_header = _norm_header(spec.columns[0].header)
    header_index = None
    for i, row in enumerate(grid[:10]):
        if any(_norm_header(v) == key_header for v in row):
            header_index = i
            break
    if header_index is None:
        errors.append(CellError(spec.title, None, spec.columns[0].header, "", "找不到表头行（须有“户号”列）"))
        return None
    columns: dict[str, int] = {}
    ignored: list[str] = []
    for j, value in enumerate(grid[header_index]):
        name = by_header.get(_norm_header(value))
        if name is None:
            if rules._text(value):
                ignored.append(rules._text(value))
            continue
        if name in columns:
            errors.append(
                CellError(spec.title, header_index + 1, rules._text(value), column_letter(j), "表头重复")
            )
            continue
        columns[name] = j
    for c in spec.columns:
        if c.field.required and c.field.name not in columns:
            errors.append(CellError(spec.title, header_index + 1, c.header, "", f"缺少必填列“{c.header}”"))
    width = max(columns.values(), default=-1) + 1
    # Values in the spec's field order; an absent column reads as None.
    n = len(spec.columns)
    present = [(pos, columns[c.field.name]) for pos, c in enumerate(spec.columns) if c.field.name in columns]
    complete = len(present) == n
    pick = itemgetter(*[j for _pos, j in present]) if complete and n > 1 else None
    rows: list[tuple[int, Sequence[Any]]] = []
    data = grid[header_index + 1 :]
    if pick is not None and all(len(row) >= width for row in data):
        # the usual case (python-calamine gives rectangular rows): pick the columns in C, and
        # keep a row at once when its first cell (户号) is filled
        for i, picked in enumerate(map(pick, data), header_index + 2):
            first = picked[0]
            if (first.__class__ is str and first.strip()) or not _blank_row(picked):
                rows.append((i, picked))
        return RawSheet(spec.key, spec.title, header_index + 1, columns, rows, ignored)
    for i in range(header_index + 1, len(grid)):
        row = grid[i]
        if len(row) < width:
            row = [*row, *([None] * (width - len(row)))]
        if pick is not None:
            values: Sequence[Any] = pick(row)
        else:
            filled: list[Any] = [None] * n
            for pos, j in present:
                filled[pos] = row[j]
            values = filled
        if _blank_row(values):
            continue
        rows.append((i + 1, values))
    return RawSheet(spec.key, spec.title, header_index + 1, columns, rows, ignored)


def _decode_csv(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed("CSV 文件编码无法识别，请另存为 UTF-8", "undecodable CSV")


SheetHandler = Callable[[str, "RawSheet | None"], None]
"""``handler(sheet key, sheet or None)``, called once for each sheet of ``SHEETS`` as it is read:
户 first and 房屋 before 评估, the order :class:`_Check` needs."""


def read_census(
    source: Path | bytes | BinaryIO,
    filename: str = "",
    progress: Progress | None = None,
    on_sheet: SheetHandler | None = None,
) -> RawCensus:
    """Read a census workbook (.xlsx / .xlsm / .xls via python-calamine, or a .csv of the 户 sheet).

    The bytes are inspected first (:func:`anju.core.uploads.open_workbook`: real type, sizes,
    each sheet's extent; :class:`anju.uploads.UploadRefused` when out of bounds), so that the
    reader never allocates beyond the configured limits. Structural problems (missing sheet, header or required column) are returned in ``errors``;
    nothing is validated cell by cell here. ``on_sheet`` gets each sheet as soon as it is read
    (the import checks it while the next one is parsed).
    """
    progress = progress or _no_progress
    limit = upload_policy.limits().max_bytes
    if isinstance(source, Path):
        filename = filename or source.name
        size = source.stat().st_size
        if size > limit:  # refused without reading it
            raise upload_policy.refusal(core_uploads.file_too_large(source.name, limit, size))
        with source.open("rb") as fh:
            data = fh.read(limit + 1)
    elif isinstance(source, bytes):
        data = source
    else:
        data = source.read(limit + 1)
    filename = core_uploads.safe_filename(filename, "census.xlsx")
    try:
        return _read(data, filename, progress, on_sheet)
    except core_uploads.UploadRejected as exc:
        raise upload_policy.refusal(exc) from None


def _read(data: bytes, filename: str, progress: Progress, on_sheet: SheetHandler | None) -> RawCensus:
    # Inspected before python-calamine sees it: a workbook out of bounds is refused here, and each
    # worksheet of a big one is scanned in a child process just ahead of its parse.
    kind, inspection = core_uploads.open_workbook(
        data, filename, upload_policy.limits(), order=tuple(s.title for s in _READ_ORDER), fork=True
    )
    try:
        return _read_inspected(data, filename, kind, inspection, progress, on_sheet)
    finally:
        if inspection is not None:
            inspection.close()


def _read_inspected(
    data: bytes,
    filename: str,
    kind: str,
    inspection: core_uploads.ZipInspection | None,
    progress: Progress,
    on_sheet: SheetHandler | None,
) -> RawCensus:
    digest = sha256_of(data)
    errors: list[CellError] = []
    sheets: dict[str, RawSheet] = {}
    progress("读取", 0, 1)
    if kind == "csv":
        try:
            grid: Sequence[Sequence[Any]] = list(csv.reader(io.StringIO(_decode_csv(data))))
        except csv.Error as exc:  # e.g. a quoted cell longer than the reader's field limit
            raise ValidationFailed(f"CSV 文件格式有误：{exc}", f"malformed CSV: {exc}") from None
        sheet = _sheet_from_rows(SHEET_BY_KEY[CSV_SHEET], grid, errors)
        if sheet is not None:
            sheets[CSV_SHEET] = sheet
        progress("读取", 1, 1)
        if on_sheet is not None:
            for spec in SHEETS:
                on_sheet(spec.key, sheets.get(spec.key))
        return RawCensus(sheets=sheets, errors=errors, filename=filename, sha256=digest)
    wb = _open_workbook(data)
    names = {n.strip(): n for n in wb.sheet_names}
    real = [names.get(spec.title) for spec in _READ_ORDER]
    gate = None if inspection is None else inspection.sheet
    for n, (spec, parsed) in enumerate(zip(_READ_ORDER, _parse_sheets(wb, real, gate), strict=True)):
        sheet = None
        if parsed is None:
            if spec.required:
                errors.append(CellError(spec.title, None, "", "", f"缺少“{spec.title}”工作表"))
        else:
            sheet = _sheet_from_rows(spec, parsed.to_python(skip_empty_area=False), errors)
            if sheet is not None:
                sheets[spec.key] = sheet
            progress("读取", n + 1, len(SHEETS))
        if on_sheet is not None:
            on_sheet(spec.key, sheet)
    errors.sort(key=lambda e: _SHEET_ORDER[e.sheet])  # stable: each sheet's own order is kept
    return RawCensus(sheets=sheets, errors=errors, filename=filename, sha256=digest)


# The order sheets are read and handed on: 户 first (the others name its households), 评估 after
# 房屋 (valuations name buildings), and the big 成员 sheet last, so that it is parsed while the
# smaller ones are checked instead of keeping the checking thread waiting.
_READ_ORDER = tuple(
    SHEET_BY_KEY[k] for k in ("households", "buildings", "tenants", "homesteads", "valuations", "members")
)


def _open_workbook(data: bytes) -> Any:
    from python_calamine import CalamineWorkbook

    try:
        return CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own error types for every unreadable file
        raise ValidationFailed(
            "无法读取该文件，请上传 .xlsx、.xls 或 .csv 格式的入户调查表", f"unreadable workbook: {exc}"
        ) from exc


def _parse_sheets(
    wb: Any, names: Sequence[str | None], gate: Callable[[str], object] | None = None
) -> Iterator[Any]:
    """The parsed sheets of ``names`` in order (``None`` for an absent name), parsed ahead on a
    second thread, then the workbook closed. ``gate(name)`` runs before each sheet is parsed
    (the upload inspection: it raises for a sheet out of bounds, and nothing more is parsed).

    python-calamine releases the GIL while it parses a sheet (about half of reading a file),
    so the next sheet is parsed while this thread converts and checks the previous one. Only
    the parsing thread touches the workbook.
    """
    parsed: queue.SimpleQueue[tuple[Any, BaseException | None]] = queue.SimpleQueue()

    def parse() -> None:
        try:
            for name in names:
                if name is not None and gate is not None:
                    gate(name)  # the sheet's inspection: raises when it is out of bounds
                parsed.put((None if name is None else wb.get_sheet_by_name(name), None))
        except BaseException as exc:  # handed to the reading thread
            parsed.put((None, exc))
        finally:
            wb.close()

    thread = threading.Thread(target=parse, name="census-parse", daemon=True)
    thread.start()
    try:
        for _name in names:
            sheet, error = parsed.get()
            if error is not None:
                raise error
            yield sheet
    finally:
        thread.join()
