"""Census import (入户调查表): the template, reading, validation of every cell, and the bulk write.

The workbook has the sheets 户 (households), 成员 (members), 房屋 (buildings) and optionally
承租人 (tenants), 宅基地 (homesteads) and 评估 (valuations). Each sheet has one header row in
Chinese (the first row that contains 户号); a 填写说明 sheet explains every column. Child sheets
refer to the 户 sheet by 户号; valuations name their building by 房屋序号 or 产权证号.

A ``.csv`` file holds the 户 sheet only (UTF-8 with or without BOM, or GB18030 as saved by
Excel/WPS on Chinese Windows); members and buildings need the xlsx template.

The import is all-or-nothing: :func:`validate` reports every bad cell with sheet, Excel row
number, column header and column letter; :func:`write` runs only on a clean file and inserts in
bulk (multi-row INSERTs on SQLite, the driver's ``executemany`` elsewhere), appending one audit
record per household plus a summary record. The caller owns the transaction (CLI command, web
request or job).

Speed (issue #2: an import within 3x of reading the file): sheets are parsed on a second thread
while the previous one is checked column by column (:mod:`anju.household.column_cleaning`);
the INSERTs run on a thread of their own; a big import encrypts identity numbers and builds the
audit snapshots in a forked child process (:mod:`anju.core.forked`).
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import queue
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from itertools import chain, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from anju import uploads as upload_policy
from anju.audit import service as audit_service
from anju.config import get_settings
from anju.core import secrets
from anju.core import uploads as core_uploads
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.core.forked import Forked
from anju.core.masking import mask_id_number
from anju.db.session import begin_read, begin_write
from anju.errors import Conflict, ValidationFailed
from anju.household import rules
from anju.household import service as household_service
from anju.household.column_cleaning import ColumnCleaner, Judge, judge_for
from anju.household.models import Building, Homestead, Household, Member, Tenant, Valuation
from anju.project import service as project_service

# ---------------------------------------------------------------- specification

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``; phase is a Chinese label (读取 / 校验 / 写入)."""

BATCH = 5000
_MULTIROW = 500  # rows per multi-row INSERT on SQLite
PREVIEW_ROWS = 20
CSV_SHEET = "households"


def _no_progress(_phase: str, _done: int, _total: int) -> None:
    return None


def _status(value: Any) -> str:
    text = rules._text(value)
    if text in rules.STATUSES:
        return text
    for code, label in rules.STATUSES.items():
        if text == label:
            return code
    raise ValueError("应为 " + " / ".join(rules.STATUSES.values()) + " 之一")


def _order(value: Any) -> int:
    n = rules.parse_int(value)
    if n < 1 or n > 999:
        raise ValueError("应为1-999的整数")
    return n


def _key_code(value: Any) -> str:
    return rules._text(value)


_HH_CODE = rules.Field("household_code", "户号", _key_code, required=True)
_EXTRA_HOUSEHOLD = (
    rules.Field("block", "所属区块", rules._text_max(128), default=""),
    rules.Field("status", "状态", _status, default="surveyed"),
    rules.Field("sign_on", "签约日期", rules.parse_date, default=None),
    rules.Field("vacate_on", "腾空日期", rules.parse_date, default=None),
)
_BUILDING_ORDER = rules.Field("building_order", "房屋序号", _order, default=None)
_MONTHLY_RENT = rules.Field(
    "monthly_rent",
    "月租金(元)",
    rules.parse_decimal,
    default=Decimal("0.00"),
    check=rules._range(0, 10000000, "元"),
)
_VALUATION_CERT = rules.Field("certificate_no", "产权证号", rules._text_max(64), default="")


@dataclass(frozen=True, slots=True)
class Column:
    """One template column: the cleaning field, its width and dropdown choices."""

    field: rules.Field
    width: float = 12
    choices: tuple[str, ...] = ()
    text: bool = False  # cell format "@" so Excel keeps long digit strings intact
    note: str = ""

    @property
    def header(self) -> str:
        """The Chinese header as written in the template."""
        return self.field.label


@dataclass(frozen=True, slots=True)
class SheetSpec:
    """One sheet of the census workbook."""

    key: str
    title: str
    columns: tuple[Column, ...]
    required: bool
    note: str

    @property
    def fields(self) -> tuple[rules.Field, ...]:
        """The cleaning fields of every column, in order."""
        return tuple(c.field for c in self.columns)


def _f(fields: tuple[rules.Field, ...], name: str) -> rules.Field:
    return next(f for f in fields if f.name == name)


_YESNO = ("是", "否")
_STRUCT = tuple(rules.STRUCTURES.values())
_USE = tuple(rules.USES.values())
_DET = tuple(rules.DETERMINATIONS.values())
_M = rules.MEMBER_FIELDS
_B = rules.BUILDING_FIELDS
_T = rules.TENANT_FIELDS
_HS = rules.HOMESTEAD_FIELDS
_V = rules.VALUATION_FIELDS
_H = rules.HOUSEHOLD_FIELDS

_KEY_NOTE = "与“户”表的户号一致"

SHEETS: tuple[SheetSpec, ...] = (
    SheetSpec(
        "households",
        "户",
        (
            Column(_f(_H, "code"), 14, text=True, note="字母、数字、- 或 _，项目内唯一"),
            Column(_f(_H, "head_name"), 12),
            Column(_f(_H, "address"), 34),
            Column(_EXTRA_HOUSEHOLD[0], 22, note="区块编号、名称或路径（如 李家村/一组），须已在项目中建立"),
            Column(_f(_H, "contact_phone"), 15, text=True),
            Column(_EXTRA_HOUSEHOLD[1], 10, tuple(rules.STATUSES.values()), note="不填为“已调查”"),
            Column(_EXTRA_HOUSEHOLD[2], 12, note="YYYY-MM-DD；已签约及以后状态必填"),
            Column(_EXTRA_HOUSEHOLD[3], 12, note="YYYY-MM-DD"),
            Column(_f(_H, "remark"), 30),
        ),
        True,
        "每户一行。",
    ),
    SheetSpec(
        "members",
        "成员",
        (
            Column(_HH_CODE, 14, text=True, note=_KEY_NOTE),
            Column(_f(_M, "name"), 10),
            Column(_f(_M, "relation"), 12, rules.RELATIONS),
            Column(_f(_M, "id_number"), 22, text=True, note="18位，须以文本格式填写"),
            Column(_f(_M, "phone"), 15, text=True),
            Column(_f(_M, "dibao"), 6, _YESNO),
            Column(_f(_M, "disability_grade"), 9, ("1级", "2级", "3级", "4级"), note="无残疾不填"),
            Column(_f(_M, "serious_illness"), 6, _YESNO),
            Column(_f(_M, "martyr_family"), 6, _YESNO),
            Column(_f(_M, "shidu"), 6, _YESNO),
            Column(_f(_M, "only_child"), 9, _YESNO),
            Column(_f(_M, "youfu"), 6, _YESNO),
            Column(_f(_M, "resettlement_counted"), 13, ("是", "否", "待定")),
            Column(_f(_M, "resettlement_reason"), 24),
        ),
        False,
        "每人一行，户主一般列第一行。",
    ),
    SheetSpec(
        "buildings",
        "房屋",
        (
            Column(_HH_CODE, 14, text=True, note=_KEY_NOTE),
            Column(_BUILDING_ORDER, 9, note="本户内第几处房屋，不填按出现顺序编号"),
            Column(_f(_B, "certificate_no"), 18, text=True),
            Column(_f(_B, "structure"), 8, _STRUCT),
            Column(_f(_B, "use"), 8, _USE),
            Column(_f(_B, "floors"), 6),
            Column(_f(_B, "built_year"), 9),
            Column(_f(_B, "legal_area"), 13),
            Column(_f(_B, "unregistered_area"), 14),
            Column(_f(_B, "unregistered_determination"), 14, _DET),
            Column(_f(_B, "location"), 20),
        ),
        False,
        "每处房屋（每本证）一行；面积单位为平方米，最多两位小数。",
    ),
    SheetSpec(
        "tenants",
        "承租人",
        (
            Column(_HH_CODE, 14, text=True, note=_KEY_NOTE),
            Column(_f(_T, "name"), 20),
            Column(_f(_T, "kind"), 8, tuple(rules.TENANT_KINDS.values())),
            Column(_f(_T, "credential"), 22, text=True),
            Column(_f(_T, "contact_phone"), 15, text=True),
            Column(_f(_T, "business"), 16),
            Column(_f(_T, "area"), 13),
            Column(_MONTHLY_RENT, 12),
            Column(_f(_T, "lease_start_on"), 12),
            Column(_f(_T, "lease_end_on"), 12),
        ),
        False,
        "可选；承租个人或企业。",
    ),
    SheetSpec(
        "homesteads",
        "宅基地",
        (
            Column(_HH_CODE, 14, text=True, note=_KEY_NOTE),
            Column(_f(_HS, "area"), 15),
            Column(_f(_HS, "approved_year"), 10),
            Column(_f(_HS, "certificate_no"), 20, text=True),
        ),
        False,
        "可选；集体土地项目每户至多一行。",
    ),
    SheetSpec(
        "valuations",
        "评估",
        (
            Column(_HH_CODE, 14, text=True, note=_KEY_NOTE),
            Column(_BUILDING_ORDER, 9, note="与“房屋”表的房屋序号一致；或填产权证号"),
            Column(_VALUATION_CERT, 18, text=True, note="与“房屋”表的产权证号一致"),
            Column(_f(_V, "firm"), 20),
            Column(_f(_V, "report_no"), 16, text=True),
            Column(_f(_V, "valued_on"), 12),
            Column(_f(_V, "assessed_unit_price"), 15),
            Column(_f(_V, "assessed_value"), 15),
            Column(_f(_V, "decoration"), 13),
            Column(_f(_V, "fixtures"), 12),
        ),
        False,
        "可选；评估机构的分户评估结果，每处房屋至多一行。",
    ),
)
SHEET_BY_KEY = {s.key: s for s in SHEETS}
_SHEET_ORDER = {s.title: i for i, s in enumerate(SHEETS)}
NOTES_SHEET = "填写说明"


def _norm_header(text: Any) -> str:
    s = rules._text(text).replace(" ", "").replace("\u3000", "").replace("*", "").replace("＊", "")
    s = (
        s.replace("（", "(")
        .replace("）", ")")
        .replace("m²", "㎡")
        .replace("m2", "㎡")
        .replace("平方米", "㎡")
    )
    return s.lower()


# ---------------------------------------------------------------- errors and results


def column_letter(index: int) -> str:
    """Excel column letter of a 0-based column index (0 -> A, 26 -> AA)."""
    out = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


@dataclass(frozen=True, slots=True)
class CellError:
    """One problem in the file: sheet title, Excel row number, column header and letter, message."""

    sheet: str
    row: int | None
    column: str
    letter: str
    message: str

    def text(self) -> str:
        """``“成员”表 第5行 D列（身份证号）：身份证号校验位错误`` as shown to people."""
        where = f"“{self.sheet}”表"
        if self.row is not None:
            where += f" 第{self.row}行"
        if self.column:
            where += f" {self.letter}列（{self.column}）" if self.letter else f"（{self.column}）"
        return f"{where}：{self.message}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the API and the web page."""
        return {
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "letter": self.letter,
            "message": self.message,
            "text": self.text(),
        }


@dataclass
class RawSheet:
    """A sheet as read: the header row, which column holds which field, and the data rows."""

    key: str
    title: str
    header_row: int  # Excel row number of the header
    columns: dict[str, int]  # field name -> 0-based column index
    rows: list[tuple[int, Sequence[Any]]]  # (Excel row number, raw values in the spec's field order)
    ignored: list[str] = field(default_factory=list)


@dataclass
class RawCensus:
    """What was read from a file (or built in memory by the demo), before validation."""

    sheets: dict[str, RawSheet]
    errors: list[CellError] = field(default_factory=list)
    filename: str = ""
    sha256: str = ""

    def row_count(self) -> int:
        """Data rows over all sheets."""
        return sum(len(s.rows) for s in self.sheets.values())


def raw_from_rows(
    rows: Mapping[str, Sequence[Mapping[str, Any]]], *, filename: str = "", sha256: str = ""
) -> RawCensus:
    """A :class:`RawCensus` from in-memory rows keyed by field name (demo data, tests).

    Row numbers are given as if the rows were written below a header in row 1.
    """
    sheets: dict[str, RawSheet] = {}
    for key, data in rows.items():
        spec = SHEET_BY_KEY[key]
        columns = {c.field.name: i for i, c in enumerate(spec.columns)}
        names = [c.field.name for c in spec.columns]
        sheets[key] = RawSheet(
            key, spec.title, 1, columns, [(i + 2, tuple(r.get(n) for n in names)) for i, r in enumerate(data)]
        )
    return RawCensus(sheets=sheets, filename=filename, sha256=sha256)


@dataclass
class CleanCensus:
    """Validated rows ready to be written; household rows carry their resolved block."""

    households: list[dict[str, Any]] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)
    buildings: list[dict[str, Any]] = field(default_factory=list)
    tenants: list[dict[str, Any]] = field(default_factory=list)
    homesteads: list[dict[str, Any]] = field(default_factory=list)
    valuations: list[dict[str, Any]] = field(default_factory=list)

    def tables(self) -> tuple[list[dict[str, Any]], ...]:
        """households, members, buildings, tenants, homesteads, valuations."""
        return self.households, self.members, self.buildings, self.tenants, self.homesteads, self.valuations


@dataclass
class CensusPreview:
    """Dry-run figures: rows per sheet, totals and the first rows of the 户 sheet."""

    counts: dict[str, int]
    totals: dict[str, str]
    first_rows: list[dict[str, str]]


@dataclass
class CensusCheck:
    """Outcome of :func:`validate`: the errors (empty when the file is clean), the rows and a preview."""

    errors: list[CellError]
    clean: CleanCensus
    preview: CensusPreview

    @property
    def ok(self) -> bool:
        """Whether the file may be written."""
        return not self.errors


@dataclass
class ImportSummary:
    """What :func:`write` inserted."""

    households: int
    members: int
    buildings: int
    tenants: int
    homesteads: int
    valuations: int
    audit_seq: int
    filename: str = ""
    sha256: str = ""
    household_ids: dict[str, int] = field(default_factory=dict)  # code -> id of the new households

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "households": self.households,
            "members": self.members,
            "buildings": self.buildings,
            "tenants": self.tenants,
            "homesteads": self.homesteads,
            "valuations": self.valuations,
            "audit_seq": self.audit_seq,
            "filename": self.filename,
            "sha256": self.sha256,
        }


class ErrorList(list[CellError]):
    """The errors of one import, bounded: the first ``per_column`` of each column (sheet and
    column) and at most ``total`` in all are kept; the rest are only counted, per column.

    A hostile or badly shifted file can hold millions of bad cells; keeping, sorting and showing
    each would cost more memory and time than the import itself.
    """

    def __init__(self, per_column: int | None = None, total: int | None = None) -> None:
        super().__init__()
        settings = get_settings()
        self.per_column = settings.import_errors_per_column if per_column is None else per_column
        self.total = settings.import_max_errors if total is None else total
        self.kept: dict[tuple[str, str], int] = defaultdict(int)
        self.omitted: dict[tuple[str, str, str], int] = defaultdict(int)  # (sheet, column, letter)

    def append(self, error: CellError) -> None:
        """Keep ``error``, or count it when its column or the whole list is full."""
        key = (error.sheet, error.letter or error.column)
        if self.kept[key] >= self.per_column or len(self) >= self.total:
            self.omitted[(error.sheet, error.column, error.letter)] += 1
            return
        self.kept[key] += 1
        super().append(error)

    @property
    def found(self) -> int:
        """Errors found in all: listed and omitted."""
        return len(self) + sum(self.omitted.values())

    def omitted_list(self) -> list[dict[str, Any]]:
        """``[{sheet, column, letter, count, text}]`` of the errors not listed, per column."""
        out = []
        for (sheet, column, letter), n in sorted(
            self.omitted.items(), key=lambda kv: (_SHEET_ORDER.get(kv[0][0], 99), len(kv[0][2]), kv[0][2])
        ):
            where = f"“{sheet}”表" + (
                f" {letter}列（{column}）" if letter else (f"（{column}）" if column else "")
            )
            out.append(
                {
                    "sheet": sheet,
                    "column": column,
                    "letter": letter,
                    "count": n,
                    "text": f"{where}另有 {n} 处错误未列出",
                }
            )
        return out


def error_count(errors: list[CellError]) -> int:
    """All errors found, including those an :class:`ErrorList` only counted."""
    return errors.found if isinstance(errors, ErrorList) else len(errors)


def omitted_errors(errors: list[CellError]) -> list[dict[str, Any]]:
    """The per-column counts of errors not listed (see :meth:`ErrorList.omitted_list`)."""
    return errors.omitted_list() if isinstance(errors, ErrorList) else []


class CensusInvalid(ValidationFailed):
    """The census file has errors; ``details`` lists them (sheet, row, column, message): every one,
    or, for a file with many, the first of each column, with ``omitted`` counting the rest."""

    code = "census_invalid"

    def __init__(self, errors: list[CellError]) -> None:
        total = error_count(errors)
        listed = f"（列出 {len(errors)} 处，其余按列计数）" if total > len(errors) else ""
        super().__init__(
            f"入户调查表有 {total} 处错误{listed}，未导入任何数据",
            f"census file has {total} errors; nothing was imported",
            details=[e.to_dict() for e in errors],
        )
        self.errors = errors
        self.total = total
        self.omitted = omitted_errors(errors)

    def to_dict(self) -> dict[str, Any]:
        """JSON body: the listed errors in ``details``, plus ``total`` and ``omitted`` per column."""
        body = super().to_dict()
        body["total"] = self.total
        body["omitted"] = self.omitted
        return body


# ---------------------------------------------------------------- reading


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


# ---------------------------------------------------------------- validation


@dataclass
class ProjectContext:
    """What validation needs to know about the target project."""

    project_id: int
    blocks_by_code: dict[str, int]
    blocks_by_name: dict[str, list[int]]
    blocks_by_path: dict[str, int]
    existing_codes: set[str]
    existing_digests: dict[str, str]  # identity digest -> household code


def load_context(session: Session, project_id: int) -> ProjectContext:
    """Blocks, household codes and member identity digests already in the project."""
    project_service.get_project(session, project_id)
    blocks = project_service.blocks(session, project_id)
    paths = project_service.block_paths(session, project_id)
    by_name: dict[str, list[int]] = {}
    for b in blocks:
        by_name.setdefault(b.name, []).append(b.id)
    codes = set(session.scalars(select(Household.code).where(Household.project_id == project_id)))
    digests: dict[str, str] = {}
    if codes:
        for digest, code in session.execute(
            select(Member.id_number_digest, Household.code)
            .join(Household, Household.id == Member.household_id)
            .where(
                Household.project_id == project_id,
                Household.voided_at.is_(None),
                Member.voided_at.is_(None),
                Member.id_number_digest != "",
            )
        ):
            digests[str(digest)] = str(code)
    return ProjectContext(
        project_id=project_id,
        blocks_by_code={b.code: b.id for b in blocks},
        blocks_by_name=by_name,
        blocks_by_path={p.replace(" ", ""): bid for bid, p in paths.items()},
        existing_codes=codes,
        existing_digests=digests,
    )


class _Errors:
    """Collects :class:`CellError` for one sheet, resolving field names to header and letter."""

    def __init__(self, out: list[CellError], sheet: RawSheet) -> None:
        self.out = out
        self.sheet = sheet
        spec = SHEET_BY_KEY[sheet.key]
        self.labels = {c.field.name: c.header for c in spec.columns}

    def add(self, row: int, name: str, message: str) -> None:
        j = self.sheet.columns.get(name)
        self.out.append(
            CellError(
                self.sheet.title,
                row,
                self.labels.get(name, name),
                column_letter(j) if j is not None else "",
                message,
            )
        )

    def fields(self, row: int, errs: list[rules.FieldError]) -> None:
        for e in errs:
            self.add(row, e.field, e.message)


def _resolve_block(ctx: ProjectContext, text: str) -> tuple[int | None, str]:
    if not text:
        return None, ""
    if text in ctx.blocks_by_code:
        return ctx.blocks_by_code[text], ""
    compact = text.replace(" ", "").replace("／", "/")
    if compact in ctx.blocks_by_path:
        return ctx.blocks_by_path[compact], ""
    ids = ctx.blocks_by_name.get(text, [])
    if len(ids) == 1:
        return ids[0], ""
    if len(ids) > 1:
        return None, f"区块名称“{text}”在本项目中不唯一，请填写区块编号或完整路径（如 李家村/一组）"
    return None, f"区块“{text}”不存在于本项目，请先在项目中建立该区块"


def _text_id_number(f: rules.Field) -> Judge:
    """The judge of the 身份证号 column: a numeric cell is refused whatever it holds."""
    judge = judge_for(f)

    def text_only(value: Any) -> tuple[bool, Any]:
        if isinstance(value, float):
            # 18 digits do not survive a numeric cell: the last digits are already lost
            return False, "身份证号须以文本格式填写（数字格式会丢失末位）"
        return judge(value)

    return text_only


_SIGNED_OR_LATER = frozenset({"signed", "vacated", "demolished", "archived"})


class _Check:
    """The validation of :func:`validate`, one sheet at a time, 户 first and 房屋 before 评估
    (child sheets refer to the 户 sheet, valuations to the 房屋 sheet), so that an import can check
    a sheet while the next one is still being read."""

    def __init__(
        self, ctx: ProjectContext, errors: list[CellError], *, progress: Progress, total: int, secret: str
    ) -> None:
        self.ctx = ctx
        self.errors = errors
        self.clean = CleanCensus()
        self.progress = progress
        self.total = total  # 0 while the file is still being read: progress waits for the count
        self.done = 0
        self.step = max(1000, total // 100)
        self.secret = secret
        self.known: set[str] = set()
        self.building_keys: dict[tuple[str, int], int] = {}  # (code, order) -> row
        self.cert_keys: dict[tuple[str, str], int] = {}  # (code, certificate) -> order

    def tick(self) -> None:
        self.done += 1
        if self.total and (self.done % self.step == 0 or self.done == self.total):
            self.progress("校验", self.done, self.total)

    def count(self, total: int) -> None:
        """The file is read: report progress against its ``total`` rows from now on."""
        self.total = total
        self.step = max(1000, total // 100)
        self.progress("校验", self.done, total)

    def sheet(self, key: str, sheet: RawSheet | None) -> None:
        """Check one sheet (``None`` when the file has no such sheet)."""
        getattr(self, key)(sheet)

    def child_key(self, errs: _Errors, row_no: int, out: dict[str, Any]) -> str | None:
        code = out.get("household_code")
        if code is None:
            return None
        if code not in self.known:
            errs.add(row_no, "household_code", f"户号“{code}”在“户”表中不存在")
            return None
        return str(code)

    def child_rows(
        self, sheet: RawSheet, key: str
    ) -> Iterator[tuple[_Errors, int, dict[str, Any], bool, str | None]]:
        """Each row of a sheet that belongs to households, its cells cleaned and errors noted:
        ``(errors, row number, values, whether a cell was bad, 户号 if it names a known household)``."""
        errs = _Errors(self.errors, sheet)
        cleaned = ColumnCleaner(SHEET_BY_KEY[key].fields).clean([values for _, values in sheet.rows])
        for (row_no, _values), (out, field_errors) in zip(sheet.rows, cleaned, strict=True):
            self.tick()
            if field_errors:
                errs.fields(row_no, field_errors)
            yield errs, row_no, out, bool(field_errors), self.child_key(errs, row_no, out)

    # households --------------------------------------------------------------
    def households(self, sheet: RawSheet | None) -> None:
        """户 sheet: cells, duplicate and existing 户号, blocks, 签约日期 by status."""
        if sheet is None:
            return
        errs = _Errors(self.errors, sheet)
        cleaned = ColumnCleaner(SHEET_BY_KEY["households"].fields).clean([values for _, values in sheet.rows])
        first_row: dict[str, int] = {}
        blocks: dict[str, tuple[int | None, str]] = {}  # a few blocks serve thousands of rows
        for (row_no, _values), (out, field_errors) in zip(sheet.rows, cleaned, strict=True):
            self.tick()
            if field_errors:
                errs.fields(row_no, field_errors)
            code = out.get("code")
            if code:
                if code in first_row:
                    errs.add(row_no, "code", f"户号“{code}”与第{first_row[code]}行重复")
                    code = None
                elif code in self.ctx.existing_codes:
                    errs.add(row_no, "code", f"户号“{code}”在本项目中已存在")
                    first_row[code] = row_no
                    code = None
                else:
                    first_row[code] = row_no
            block_text = out.get("block", "") or ""
            resolved = blocks.get(block_text)
            if resolved is None:
                resolved = blocks[block_text] = _resolve_block(self.ctx, block_text)
            block_id, problem = resolved
            if problem:
                errs.add(row_no, "block", problem)
            status = out.get("status", "surveyed")
            if status in _SIGNED_OR_LATER and "sign_on" in out and out["sign_on"] is None:
                errs.add(row_no, "sign_on", f"状态为“{rules.STATUSES[status]}”时须填写签约日期")
            if code and not field_errors:
                out["block_id"] = block_id
                out["_row"] = row_no
                self.clean.households.append(out)
        self.known = set(first_row)

    # members -----------------------------------------------------------------
    def members(self, sheet: RawSheet | None) -> None:
        """成员 sheet: cells, identity numbers unique in the file and the project, one 户主 per household."""
        if sheet is None:
            return
        errs = _Errors(self.errors, sheet)
        spec = SHEET_BY_KEY["members"]
        cleaner = ColumnCleaner(spec.fields, {"id_number": _text_id_number(_f(spec.fields, "id_number"))})
        cleaned = cleaner.clean([values for _, values in sheet.rows])
        seen_ids: dict[str, int] = {}
        heads: dict[str, int] = {}
        sort: dict[str, int] = {}
        check_db = bool(self.ctx.existing_digests)
        for (row_no, _values), (out, field_errors) in zip(sheet.rows, cleaned, strict=True):
            self.tick()
            if field_errors:
                errs.fields(row_no, field_errors)
            code = self.child_key(errs, row_no, out)
            id_number = out.get("id_number")
            bad = bool(field_errors) or code is None
            if id_number:
                if id_number in seen_ids:
                    errs.add(row_no, "id_number", f"身份证号与本表第{seen_ids[id_number]}行重复")
                    bad = True
                else:
                    seen_ids[id_number] = row_no
                    if check_db:
                        digest = secrets.blind_index(self.secret, id_number)
                        other = self.ctx.existing_digests.get(digest)
                        if other is not None:
                            errs.add(row_no, "id_number", f"该身份证号已登记在本项目户“{other}”")
                            bad = True
            if code is not None and out.get("relation") == "户主":
                if code in heads:
                    errs.add(row_no, "relation", f"户“{code}”已有户主（第{heads[code]}行）")
                    bad = True
                else:
                    heads[code] = row_no
            if not bad and code is not None:
                n = sort.get(code, 0)
                sort[code] = n + 1
                out["sort"] = n
                self.clean.members.append(out)

    # buildings ---------------------------------------------------------------
    def buildings(self, sheet: RawSheet | None) -> None:
        """房屋 sheet: cells, 房屋序号 and 产权证号 unique per household."""
        if sheet is None:
            return
        next_order: dict[str, int] = {}
        for errs, row_no, out, field_errors, code in self.child_rows(sheet, "buildings"):
            bad = bool(field_errors) or code is None
            legal = out.get("legal_area")
            extra = out.get("unregistered_area")
            if legal is not None and extra is not None and legal == 0 and extra == 0:
                errs.add(row_no, "legal_area", "合法面积与未登记面积不能同时为0")
                bad = True
            if code is None:
                continue
            order = out.get("building_order")
            if order is None:
                order = next_order.get(code, 0) + 1
                while (code, order) in self.building_keys:
                    order += 1
            if (code, order) in self.building_keys:
                errs.add(
                    row_no, "building_order", f"房屋序号{order}与第{self.building_keys[(code, order)]}行重复"
                )
                continue
            self.building_keys[(code, order)] = row_no
            next_order[code] = max(next_order.get(code, 0), order)
            cert = out.get("certificate_no") or ""
            if cert:
                if (code, cert) in self.cert_keys:
                    errs.add(row_no, "certificate_no", f"产权证号“{cert}”在本户中重复")
                    bad = True
                self.cert_keys[(code, cert)] = order
            if not bad:
                out["building_order"] = order
                out["sort"] = order - 1
                self.clean.buildings.append(out)

    # tenants -----------------------------------------------------------------
    def tenants(self, sheet: RawSheet | None) -> None:
        """承租人 sheet: cells and lease dates."""
        if sheet is None:
            return
        for errs, row_no, out, field_errors, code in self.child_rows(sheet, "tenants"):
            start, end = out.get("lease_start_on"), out.get("lease_end_on")
            if start and end and end < start:
                errs.add(row_no, "lease_end_on", "租期止不能早于租期起")
                continue
            if not field_errors and code is not None:
                self.clean.tenants.append(out)

    # homesteads --------------------------------------------------------------
    def homesteads(self, sheet: RawSheet | None) -> None:
        """宅基地 sheet: at most one per household."""
        if sheet is None:
            return
        seen: dict[str, int] = {}
        for errs, row_no, out, field_errors, code in self.child_rows(sheet, "homesteads"):
            if code is not None and code in seen:
                errs.add(row_no, "household_code", f"户“{code}”的宅基地已在第{seen[code]}行填写")
                continue
            if code is not None:
                seen[code] = row_no
            if not field_errors and code is not None:
                self.clean.homesteads.append(out)

    # valuations --------------------------------------------------------------
    def valuations(self, sheet: RawSheet | None) -> None:
        """评估 sheet: each names one building of the 房屋 sheet, at most once."""
        if sheet is None:
            return
        valued: dict[tuple[str, int], int] = {}
        for errs, row_no, out, field_errors, code in self.child_rows(sheet, "valuations"):
            if code is None:
                continue
            order = out.get("building_order")
            cert = out.get("certificate_no") or ""
            target: int
            if order is not None:
                if (code, order) in self.building_keys:
                    target = order
                    if cert and self.cert_keys.get((code, cert)) != order:
                        errs.add(row_no, "certificate_no", f"产权证号“{cert}”与房屋序号{order}不是同一处房屋")
                        continue
                else:
                    errs.add(row_no, "building_order", f"在“房屋”表中找不到户“{code}”的第{order}处房屋")
                    continue
            elif cert:
                found = self.cert_keys.get((code, cert))
                if found is None:
                    errs.add(
                        row_no, "certificate_no", f"在“房屋”表中找不到户“{code}”产权证号为“{cert}”的房屋"
                    )
                    continue
                target = found
            else:
                errs.add(row_no, "building_order", "须填写房屋序号或产权证号")
                continue
            if (code, target) in valued:
                errs.add(row_no, "building_order", f"该房屋的评估结果已在第{valued[(code, target)]}行填写")
                continue
            valued[(code, target)] = row_no
            if not field_errors:
                out["building_order"] = target
                self.clean.valuations.append(out)

    def finish(self, raw: RawCensus) -> CensusCheck:
        """The reading errors and the cell errors in reading order (sheet, row, column), and the preview."""
        self.errors[:0] = raw.errors
        self.errors.sort(key=lambda e: (_SHEET_ORDER.get(e.sheet, 99), e.row or 0, e.letter))
        self.progress("校验", self.total, self.total)
        return CensusCheck(errors=self.errors, clean=self.clean, preview=_preview(raw, self.clean))


def validate(
    raw: RawCensus,
    ctx: ProjectContext,
    *,
    progress: Progress | None = None,
    secret_key: str | None = None,
) -> CensusCheck:
    """Check every row and cell of ``raw`` against the project; never touches the database.

    Reports each problem (types, required cells, identity numbers, duplicates in the file and in
    the project, unknown 户号 in child sheets, unknown blocks, absurd areas) with its position.
    """
    progress = progress or _no_progress
    total = raw.row_count()
    progress("校验", 0, total)
    check = _Check(
        ctx, ErrorList(), progress=progress, total=total, secret=secret_key or get_settings().secret_key
    )
    for spec in SHEETS:
        check.sheet(spec.key, raw.sheets.get(spec.key))
    return check.finish(raw)


def _preview(raw: RawCensus, clean: CleanCensus) -> CensusPreview:
    counts = {s.title: len(raw.sheets[s.key].rows) if s.key in raw.sheets else 0 for s in SHEETS}
    zero = Decimal("0.00")
    totals = {
        "户数": str(len(clean.households)),
        "人数": str(len(clean.members)),
        "计入安置人口": str(sum(1 for m in clean.members if m.get("resettlement_counted"))),
        "合法面积(㎡)": f"{sum((b['legal_area'] for b in clean.buildings), zero):,.2f}",
        "未登记面积(㎡)": f"{sum((b['unregistered_area'] for b in clean.buildings), zero):,.2f}",
        "宅基地面积(㎡)": f"{sum((h['area'] for h in clean.homesteads), zero):,.2f}",
        "评估金额(元)": f"{sum((v['assessed_value'] for v in clean.valuations), zero):,.2f}",
    }
    first: list[dict[str, str]] = []
    sheet = raw.sheets.get("households")
    if sheet is not None:
        for row_no, values in sheet.rows[:PREVIEW_ROWS]:
            item = {"行号": str(row_no)}
            for c, v in zip(SHEET_BY_KEY["households"].columns, values, strict=True):
                item[c.header] = "" if v is None else rules._text(v)
            first.append(item)
    return CensusPreview(counts=counts, totals=totals, first_rows=first)


# ---------------------------------------------------------------- writing


_HOUSEHOLD_SNAPSHOT = (
    "code",
    "head_name",
    "address",
    "contact_phone",
    "remark",
    "status",
    "sign_on",
    "vacate_on",
)
_GROUP_TEXT = (
    ("dibao", "低保"),
    ("serious_illness", "大病"),
    ("martyr_family", "烈属"),
    ("shidu", "失独"),
    ("only_child", "独生子女"),
    ("youfu", "优抚"),
)


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, date):
        return v.isoformat()
    return v


def _household_snapshot(h: Mapping[str, Any]) -> dict[str, Any]:
    """Household facts as ``{field: [None, value]}`` (the shape of a creation diff), blanks left out."""
    out: dict[str, Any] = {}
    for n in _HOUSEHOLD_SNAPSHOT:
        v = h.get(n)
        if v is not None and v != "":
            out[n] = [None, v if v.__class__ is str else _plain(v)]
    if h.get("block_id") is not None:
        out["block_id"] = [None, h["block_id"]]
    return out


def _member_text(m: Mapping[str, Any], masked: str) -> str:
    parts = [m["relation"], masked]
    parts.extend(label for name, label in _GROUP_TEXT if m.get(name))
    if m.get("disability_grade"):
        parts.append(f"残疾{m['disability_grade']}级")
    if m.get("phone"):
        parts.append(m["phone"])
    counted = m.get("resettlement_counted")
    parts.append("安置人口待定" if counted is None else ("计入安置人口" if counted else "不计入安置人口"))
    if m.get("resettlement_reason"):
        parts.append(m["resettlement_reason"])
    return f"{m['name']}（{'，'.join(parts)}）"


def _building_text(b: Mapping[str, Any]) -> str:
    text = (
        f"{b['building_order']}号 {rules.STRUCTURES[b['structure']]} {rules.USES[b['use']]} "
        f"合法面积{b['legal_area']}㎡"
    )
    if b.get("unregistered_area"):
        det = rules.DETERMINATIONS[b.get("unregistered_determination") or "pending"]
        text += f" 未登记{b['unregistered_area']}㎡（{det}）"
    for name, label in (
        ("certificate_no", "证号"),
        ("floors", "层数"),
        ("built_year", "建成"),
        ("location", "位置"),
    ):
        if b.get(name) not in (None, ""):
            text += f" {label}{b[name]}"
    return text


def _valuation_text(v: Mapping[str, Any]) -> str:
    text = f"{v['building_order']}号房屋 单价{v['assessed_unit_price']}元/㎡ 评估金额{v['assessed_value']}元"
    if v.get("decoration"):
        text += f" 装修{v['decoration']}元"
    if v.get("fixtures"):
        text += f" 附属物{v['fixtures']}元"
    text += f" {v['firm']}"
    if v.get("report_no"):
        text += f" 报告{v['report_no']}"
    if v.get("valued_on"):
        text += f" {v['valued_on'].isoformat()}"
    return text


def _tenant_text(t: Mapping[str, Any], masked: str) -> str:
    parts = [rules.TENANT_KINDS[t["kind"]]]
    if masked:
        parts.append(masked)
    if t.get("area"):
        parts.append(f"{t['area']}㎡")
    if t.get("monthly_rent"):
        parts.append(f"月租{t['monthly_rent']}元")
    if t.get("lease_start_on") or t.get("lease_end_on"):
        parts.append(f"租期{_plain(t.get('lease_start_on')) or ''}至{_plain(t.get('lease_end_on')) or ''}")
    if t.get("business"):
        parts.append(t["business"])
    return f"{t['name']}（{'，'.join(parts)}）"


def _homestead_text(hs: Mapping[str, Any]) -> str:
    text = f"{hs['area']}㎡"
    if hs.get("approved_year"):
        text += f" {hs['approved_year']}年批准"
    if hs.get("certificate_no"):
        text += f" 证号{hs['certificate_no']}"
    return text


# Types whose equal values are interchangeable (unlike Decimal("1.0") == Decimal("1.00")), so a
# bind processor's result can be shared between equal values of a column.
_FEW_VALUES = frozenset({bool, type(None), date, str})


def _sqlite_date_text(v: Any) -> Any:
    """The text Python's sqlite3 module stores for a date or datetime parameter (its default
    adapters: ``isoformat()`` and ``isoformat(" ")``), given here once per distinct value instead
    of by an adapter call per row on the insert thread. SQLAlchemy leaves these to the driver."""
    if v.__class__ is datetime:
        return v.isoformat(" ")
    if v.__class__ is date:
        return v.isoformat()
    return v


def _holds_dates(type_: Any) -> bool:
    try:
        return type_.python_type in (date, datetime)
    except NotImplementedError:
        return False


class _Same:
    """A column value shared by every row of an insert (converted for the driver once)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class _Writer:
    """Runs an import's INSERTs in order on a second thread while this thread prepares the next table.

    The drivers release the GIL while the database works (SQLite's B-tree inserts, a server's
    round trips), so converting and hashing the next rows overlaps with storing the previous
    ones. The connection is used by one thread at a time: the caller reads from the database
    only after :meth:`wait`, and :meth:`close` re-raises the first error of the thread.
    """

    def __init__(self, session: Session, tick: Callable[[int], None]) -> None:
        self.conn = session.connection()
        self.tick = tick
        self.jobs: queue.SimpleQueue[tuple[str, Any, int] | threading.Event | None] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="census-insert", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            if isinstance(job, threading.Event):
                job.set()
                continue
            if self.error is not None:
                continue
            sql, params, rows = job
            try:
                self.conn.exec_driver_sql(sql, params)
                self.tick(rows)
            except BaseException as exc:  # handed to the importing thread by wait()/close()
                self.error = exc

    def insert(self, table: Any, columns: Mapping[str, list[Any] | _Same], n: int) -> None:
        """Queue a bulk INSERT of ``n`` rows given column by column (``executemany`` in batches).

        The statement is compiled once for the dialect and the column types' own bind
        processors convert the values (dates, UTC datetimes, areas, booleans), so the rows are
        stored exactly as the ORM would store them; a value shared by all rows (``_Same``) is
        converted once. Skipping SQLAlchemy's per-row parameter assembly roughly halves the write.
        """
        if not n:
            return
        dialect = self.conn.dialect
        keys = list(columns)
        compiled = insert(table).compile(dialect=dialect, column_keys=keys)
        sql = str(compiled)
        ready: dict[str, Iterable[Any]] = {}
        text = _sqlite_date_text if dialect.name == "sqlite" and dialect.driver == "pysqlite" else None
        for k, col in columns.items():
            p = table.c[k].type.bind_processor(dialect)
            if isinstance(col, _Same):
                v = p(col.value) if p is not None else col.value
                ready[k] = repeat(text(v) if text is not None else v, n)
            elif p is None and (text is None or not _holds_dates(table.c[k].type)):
                ready[k] = col
            elif set(map(type, col)) <= _FEW_VALUES:
                # booleans, dates, codes: convert each distinct value once
                converted = {v: p(v) if p is not None else v for v in set(col)}
                if text is not None:
                    converted = {v: text(c) for v, c in converted.items()}
                ready[k] = list(map(converted.__getitem__, col))
            elif p is None:
                ready[k] = list(map(_sqlite_date_text, col))
            else:
                ready[k] = list(map(p, col))
        params: list[Any]
        if compiled.positional:
            params = list(zip(*[ready[k] for k in compiled.positiontup or ()], strict=False))
        else:
            params = [
                dict(zip(keys, values, strict=True))
                for values in zip(*[ready[k] for k in keys], strict=False)
            ]
        width = len(compiled.positiontup or ())
        per_statement = self._rows_per_statement(sql, width) if compiled.positional else 0
        if per_statement > 1:
            self._queue_multirow(sql, params, per_statement)
            return
        for start in range(0, n, BATCH):
            chunk = params[start : start + BATCH]
            self.jobs.put((sql, chunk, len(chunk)))

    def _rows_per_statement(self, sql: str, width: int) -> int:
        """How many rows one multi-row INSERT may carry on SQLite (0 elsewhere).

        ``executemany`` takes the GIL back after every row that SQLite stores, and while this
        thread prepares the next table it holds the GIL for up to the switch interval each
        time: one statement of many rows takes it back once per few hundred rows instead.
        (psycopg pipelines ``executemany``; PyMySQL already rewrites it to multi-row VALUES.)
        """
        if self.conn.dialect.name != "sqlite" or " VALUES (" not in sql:
            return 0
        import sqlite3

        getlimit = getattr(self.conn.connection.dbapi_connection, "getlimit", None)
        limit = getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if getlimit is not None else 999
        return min(_MULTIROW, int(limit) // max(1, width))

    def _queue_multirow(self, sql: str, params: list[Any], per_statement: int) -> None:
        head, group = sql.split(" VALUES ", 1)
        statements: dict[int, str] = {}
        for start in range(0, len(params), per_statement):
            rows = params[start : start + per_statement]
            text = statements.get(len(rows))
            if text is None:
                text = statements[len(rows)] = f"{head} VALUES {', '.join([group] * len(rows))}"
            self.jobs.put((text, tuple(chain.from_iterable(rows)), len(rows)))

    def wait(self) -> None:
        """Return once every queued INSERT has run; raise the first error."""
        done = threading.Event()
        self.jobs.put(done)
        while not done.wait(0.5):
            if not self.thread.is_alive():  # pragma: no cover - the thread only ends on close()
                break
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Stop the thread (after the queued INSERTs) and raise the first error."""
        if self.thread.is_alive():
            self.jobs.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error


def _ids_of(rows: list[dict[str, Any]], ids: Mapping[str, int]) -> list[int]:
    return [ids[r["household_code"]] for r in rows]


def write(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    clean: CleanCensus,
    filename: str = "",
    sha256: str = "",
    progress: Progress | None = None,
) -> ImportSummary:
    """Insert validated census rows in bulk and audit them; the caller commits.

    One audit record per household (a snapshot of its facts, identity numbers masked) plus a
    summary record naming the file and its SHA-256.
    """
    progress = progress or _no_progress
    total = (
        len(clean.households) * 2
        + 1
        + len(clean.members)
        + len(clean.buildings)
        + len(clean.tenants)
        + len(clean.homesteads)
        + len(clean.valuations)
    )
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        progress("写入", done, total)

    progress("写入", 0, total)
    # The project row first, the audit head last: the lock order of every household write.
    project_service.bump_households_version(session, project_id)  # list and what-if caches
    # The members' encrypted identity numbers and the audit snapshots need only the clean rows:
    # a big import computes them in a forked child on the other core while this process and the
    # insert thread prepare and store the rows.
    ahead = Forked(
        partial(household_service.member_identities, [m["id_number"] for m in clean.members]),
        partial(_audit_changes, clean),
        fork=len(clean.households) >= _FORK_MIN_HOUSEHOLDS,
    )
    try:
        with _sqlite_page_cache(session, _IMPORT_CACHE_KIB):
            writer = _Writer(session, tick)
            try:
                summary = _write_rows(session, writer, actor, project_id, clean, filename, sha256, ahead)
            finally:
                writer.close()
    finally:
        ahead.cancel()
    return summary


_FORK_MIN_HOUSEHOLDS = 5000  # below this a child process costs more than it saves


_IMPORT_CACHE_KIB = 256 * 1024


@contextmanager
def _sqlite_page_cache(session: Session, kib: int) -> Iterator[None]:
    """On SQLite, let this connection cache up to ``kib`` KiB of pages while the block runs.

    The identity-number index takes its keys in random order: with the default 2 MB cache each
    insert reads pages back and spills others, so a big import spends about twice as long in
    SQLite. The cache only grows as pages are used and shrinks back afterwards.
    """
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{int(kib)}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(before or -2000)}")


def _fen(amount: Decimal) -> int:
    # yuan_to_fen of a validated amount: parse_decimal has quantized it to exactly 2 places
    return int(amount.scaleb(2))


def _write_rows(
    session: Session,
    writer: _Writer,
    actor: Actor,
    project_id: int,
    clean: CleanCensus,
    filename: str,
    sha256: str,
    ahead: Forked,
) -> ImportSummary:
    """The write; ``ahead`` computes the members' identity columns (result 0) and the audit
    snapshots (result 1)."""
    now = utcnow()
    none, blank = _Same(None), _Same("")
    zero = Decimal("0.00")
    H, M, B, T, HS, V = clean.tables()

    names_of: dict[str, list[str]] = {}
    for m in M:
        names_of.setdefault(m["household_code"], []).append(m["name"])
    search = rules.search_text
    writer.insert(
        Household.__table__,
        {
            "project_id": _Same(project_id),
            "block_id": [h.get("block_id") for h in H],
            "parcel_id": none,
            "code": [h["code"] for h in H],
            "address": [h["address"] for h in H],
            "head_name": [h["head_name"] for h in H],
            "contact_phone": [h.get("contact_phone", "") for h in H],
            "status": [h.get("status") or "surveyed" for h in H],
            "sign_on": [h.get("sign_on") for h in H],
            "vacate_on": [h.get("vacate_on") for h in H],
            "remark": [h.get("remark", "") for h in H],
            "search_text": [
                search(
                    h["code"],
                    h["head_name"],
                    h["address"],
                    [n for n in names_of.get(h["code"], ()) if n != h["head_name"]],
                )
                for h in H
            ],
            "version": _Same(1),
            "created_at": _Same(now),
            "updated_at": _Same(now),
            "voided_at": none,
            "void_reason": blank,
        },
        len(H),
    )
    del names_of

    # The child rows' columns need no database id: they are prepared while the households are
    # stored (and the identity numbers encrypted ahead).
    members: dict[str, list[Any] | _Same] = {
        "name": [m["name"] for m in M],
        "relation": [m["relation"] for m in M],
        "phone": [m.get("phone", "") for m in M],
        "dibao": [m.get("dibao", False) for m in M],
        "disability_grade": [m.get("disability_grade") for m in M],
        "serious_illness": [m.get("serious_illness", False) for m in M],
        "martyr_family": [m.get("martyr_family", False) for m in M],
        "shidu": [m.get("shidu", False) for m in M],
        "only_child": [m.get("only_child", False) for m in M],
        "youfu": [m.get("youfu", False) for m in M],
        "resettlement_counted": [m.get("resettlement_counted") for m in M],
        "resettlement_reason": [m.get("resettlement_reason", "") for m in M],
        "sort": [m["sort"] for m in M],
        "voided_at": none,
        "void_reason": blank,
    }
    buildings: dict[str, list[Any] | _Same] = {
        "certificate_no": [b.get("certificate_no", "") for b in B],
        "structure": [b["structure"] for b in B],
        "use": [b["use"] for b in B],
        "floors": [b.get("floors") for b in B],
        "built_year": [b.get("built_year") for b in B],
        "legal_area": [b["legal_area"] for b in B],
        "unregistered_area": [b.get("unregistered_area", zero) for b in B],
        "unregistered_determination": [b.get("unregistered_determination", "pending") for b in B],
        "location": [b.get("location", "") for b in B],
        "sort": [b["sort"] for b in B],
        "voided_at": none,
        "void_reason": blank,
    }
    t_masked = _tenant_masked(T)
    tenants: dict[str, list[Any] | _Same] = {
        "name": [t["name"] for t in T],
        "kind": [t["kind"] for t in T],
        "credential_masked": t_masked,
        "contact_phone": [t.get("contact_phone", "") for t in T],
        "business": [t.get("business", "") for t in T],
        "area": [t.get("area", zero) for t in T],
        "monthly_rent_fen": [_fen(t.get("monthly_rent", zero)) for t in T],
        "lease_start_on": [t.get("lease_start_on") for t in T],
        "lease_end_on": [t.get("lease_end_on") for t in T],
        "voided_at": none,
        "void_reason": blank,
    }
    homesteads: dict[str, list[Any] | _Same] = {
        "area": [hs["area"] for hs in HS],
        "approved_year": [hs.get("approved_year") for hs in HS],
        "certificate_no": [hs.get("certificate_no", "") for hs in HS],
        "voided_at": none,
        "void_reason": blank,
    }
    idents: dict[str, list[Any]] = ahead.result(0)
    members.update(idents)
    del idents

    writer.wait()
    new_codes = {h["code"] for h in H}
    ids: dict[str, int] = {
        str(code): int(hid)
        for code, hid in session.execute(
            select(Household.code, Household.id).where(Household.project_id == project_id)
        )
        if code in new_codes
    }
    writer.insert(Member.__table__, {"household_id": _ids_of(M, ids), **members}, len(M))
    writer.insert(Building.__table__, {"household_id": _ids_of(B, ids), **buildings}, len(B))
    writer.insert(Tenant.__table__, {"household_id": _ids_of(T, ids), **tenants}, len(T))
    writer.insert(Homestead.__table__, {"household_id": _ids_of(HS, ids), **homesteads}, len(HS))
    del members, buildings, tenants, homesteads
    del t_masked
    # the audit snapshots (from the child process, or built now) while the database stores the child rows
    changes: dict[str, str] = ahead.result(1)

    reason = f"入户调查表导入：{filename}" if filename else "入户调查表导入"
    entries = [
        audit_service.AuditEntry(
            action="import",
            entity="household",
            entity_id=str(ids[code]),
            changes={},  # given as changes_json
            reason=reason,
            project_id=project_id,
            household_id=ids[code],
            changes_json=text,
        )
        for code, text in changes.items()
    ]
    summary = ImportSummary(
        households=len(clean.households),
        members=len(clean.members),
        buildings=len(clean.buildings),
        tenants=len(clean.tenants),
        homesteads=len(clean.homesteads),
        valuations=len(clean.valuations),
        audit_seq=0,
        filename=filename,
        sha256=sha256,
        household_ids=ids,
    )
    counts = summary.as_dict()
    counts.pop("audit_seq")
    entries.append(
        audit_service.AuditEntry(
            action="import",
            entity="census",
            entity_id=(sha256 or "memory")[:64],
            changes=counts,
            reason=reason,
            project_id=project_id,
        )
    )

    if V:
        valuations: dict[str, list[Any] | _Same] = {
            "firm": [v["firm"] for v in V],
            "report_no": [v.get("report_no", "") for v in V],
            "valued_on": [v.get("valued_on") for v in V],
            "assessed_unit_price_fen": [_fen(v["assessed_unit_price"]) for v in V],
            "assessed_value_fen": [_fen(v["assessed_value"]) for v in V],
            "decoration_fen": [_fen(v.get("decoration", zero)) for v in V],
            "fixtures_fen": [_fen(v.get("fixtures", zero)) for v in V],
            "created_at": _Same(now),
            "voided_at": none,
            "void_reason": blank,
        }
        writer.wait()  # the buildings are stored
        new_ids = {v: k for k, v in ids.items()}
        building_ids: dict[tuple[str, int], int] = {}
        for bid, hid, sort in session.execute(
            select(Building.id, Building.household_id, Building.sort)
            .join(Household, Household.id == Building.household_id)
            .where(Household.project_id == project_id)
        ):
            code = new_ids.get(hid)
            if code is not None:
                building_ids[(code, int(sort) + 1)] = int(bid)
        writer.insert(
            Valuation.__table__,
            {
                "building_id": [building_ids[(v["household_code"], v["building_order"])] for v in V],
                **valuations,
            },
            len(V),
        )

    writer.wait()
    for start in range(0, len(entries), BATCH * 2):
        summary.audit_seq = audit_service.record_many(
            session, actor=actor, entries=entries[start : start + BATCH * 2]
        )
        writer.tick(min(BATCH * 2, len(entries) - start))
    return summary


def _tenant_masked(T: list[dict[str, Any]]) -> list[str]:
    """Each tenant's credential as stored and audited: a person's identity number masked."""
    return [
        mask_id_number(t.get("credential", "") or "")
        if t["kind"] == "person"
        else (t.get("credential", "") or "")
        for t in T
    ]


def _audit_changes(clean: CleanCensus) -> dict[str, str]:
    """Each household's audit snapshot as canonical JSON, by 户号: its facts as a creation diff,
    and each kind of child record as one readable line per record (identity numbers masked)."""
    H, M, B, T, HS, V = clean.tables()
    member_masked = [mask_id_number(m["id_number"]) for m in M]  # as member_identities masks them
    tenant_masked = _tenant_masked(T)
    snapshots: dict[str, dict[str, Any]] = {h["code"]: _household_snapshot(h) for h in H}
    code_of = itemgetter("household_code")
    for kind, rows, texts in (
        ("tenants", T, map(_tenant_text, T, tenant_masked)),
        ("homestead", HS, map(_homestead_text, HS)),
        ("members", M, map(_member_text, M, member_masked)),
        ("buildings", B, map(_building_text, B)),
        ("valuations", V, map(_valuation_text, V)),
    ):
        lines: defaultdict[str, list[str]] = defaultdict(list)
        for code, text in zip(map(code_of, rows), texts, strict=True):
            lines[code].append(text)
        for code, got in lines.items():
            snapshots[code][kind] = [None, "；".join(got)]
    canonical = audit_service.canonical_json
    return {code: canonical(snap) for code, snap in snapshots.items()}


# ---------------------------------------------------------------- one call


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while an import runs.

    An import holds millions of new rows (dicts, lists and tuples, none of them in reference
    cycles). The collector starts after every few hundred new containers and, as its oldest
    generation grows, walks all of them again and again: about 18% of the import's time for
    100,000 households, for nothing to collect. Reference counting still frees memory; the
    collector resumes when the import ends (if it was running: nested or concurrent imports
    leave it as the first one found it).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class ImportOutcome:
    """Result of :func:`import_census`: the check and, unless dry run, what was written."""

    check: CensusCheck
    summary: ImportSummary | None
    filename: str
    sha256: str


def import_census(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    source: Path | bytes | BinaryIO,
    filename: str = "",
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportOutcome:
    """Read, validate and (unless ``dry_run``) write a census file into a project.

    Raises :class:`CensusInvalid` listing every error when the file is not clean; nothing is
    written then. The caller owns the transaction and commits.
    """
    with cyclic_gc_paused():
        return _import_census(session, actor, project_id, source, filename, dry_run, progress or _no_progress)


def _import_census(
    session: Session,
    actor: Actor,
    project_id: int,
    source: Path | bytes | BinaryIO,
    filename: str,
    dry_run: bool,
    progress: Progress,
) -> ImportOutcome:
    checker: _Check | None = None
    # Read and check without SQLite's write lock; take it only for the write phase.
    begin_read(session)
    seen = project_service.households_version(session, project_id, fresh=True)

    def on_sheet(key: str, sheet: RawSheet | None) -> None:
        nonlocal checker
        if checker is None:  # the file opened: an unreadable one is reported before the project
            ctx = load_context(session, project_id)
            checker = _Check(ctx, ErrorList(), progress=progress, total=0, secret=get_settings().secret_key)
        checker.sheet(key, sheet)

    raw = read_census(source, filename, progress, on_sheet=on_sheet)
    assert checker is not None  # every sheet of SHEETS is handed over, present or not
    checker.count(raw.row_count())
    check = checker.finish(raw)
    if check.errors:
        raise CensusInvalid(check.errors)
    summary = None
    if not dry_run:
        _lock_for_write(session, project_id, check.clean, seen)
        summary = write(
            session,
            actor=actor,
            project_id=project_id,
            clean=check.clean,
            filename=raw.filename,
            sha256=raw.sha256,
            progress=progress,
        )
    return ImportOutcome(check=check, summary=summary, filename=raw.filename, sha256=raw.sha256)


def _lock_for_write(session: Session, project_id: int, clean: CleanCensus, seen: int) -> None:
    """Start the write phase (SQLite's write lock is taken here, not while the file was read and
    checked) and check again what may have changed since: household codes and identity numbers
    registered in the project meanwhile. Raises :class:`Conflict` naming them; nothing is written.
    """
    begin_write(session)
    if project_service.households_version(session, project_id, fresh=True) == seen:
        return
    ctx = load_context(session, project_id)
    codes = sorted({h["code"] for h in clean.households} & ctx.existing_codes)
    taken: list[str] = []
    if ctx.existing_digests:
        secret = get_settings().secret_key
        for m in clean.members:
            number = m.get("id_number")
            other = ctx.existing_digests.get(secrets.blind_index(secret, number)) if number else None
            if other is not None:
                taken.append(f"{m.get('name', '')}（已登记在户“{other}”）")
    if codes or taken:
        parts = []
        if codes:
            more = f" 等 {len(codes)} 个" if len(codes) > 10 else ""
            parts.append("户号 " + "、".join(codes[:10]) + more)
        if taken:
            more = f" 等 {len(taken)} 人" if len(taken) > 10 else ""
            parts.append("身份证号：" + "、".join(taken[:10]) + more)
        raise Conflict(
            "检查之后本项目已有人登记了相同的" + "；".join(parts) + "。未导入任何数据，请重新检查后再导入",
            "households registered meanwhile clash with the file; nothing was imported",
            code="census_changed",
        )


def import_rows(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
    label: str = "",
    progress: Progress | None = None,
) -> ImportSummary:
    """Validate and write in-memory census rows (keyed by field name) through the import path.

    Used by the demo generator and tests; raises :class:`CensusInvalid` like a file import.
    """
    with cyclic_gc_paused():
        raw = raw_from_rows(rows, filename=label, sha256=sha256_of(label.encode()) if label else "")
        begin_read(session)
        seen = project_service.households_version(session, project_id, fresh=True)
        check = validate(raw, load_context(session, project_id), progress=progress)
        if check.errors:
            raise CensusInvalid(check.errors)
        _lock_for_write(session, project_id, check.clean, seen)
        return write(
            session,
            actor=actor,
            project_id=project_id,
            clean=check.clean,
            filename=label,
            sha256=raw.sha256,
            progress=progress,
        )


# ---------------------------------------------------------------- template


def _display_width(text: str) -> float:
    return sum(2.1 if ord(ch) > 0x2E80 else 1.1 for ch in text) + 2


def write_workbook(
    target: Path | BinaryIO,
    rows: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
    *,
    validation_rows: int = 5000,
) -> None:
    """Write the census template (with ``rows`` of data keyed by field name, if given).

    Formatted headers (required ones red with ``*``), a comment on each header, dropdowns for
    every closed vocabulary, frozen header row and key column, Chinese widths, text-formatted
    identity and code columns, and a 填写说明 sheet. Data is streamed (constant memory).
    """
    import xlsxwriter

    # text stays text (no formulas, links or numbers made from strings), as in the ledger
    wb = xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    head = wb.add_format(
        {
            "bold": True,
            "bg_color": "#F2DCDB",
            "border": 1,
            "align": "center",
            "valign": "vcenter",
            "text_wrap": True,
        }
    )
    head_req = wb.add_format(
        {
            "bold": True,
            "bg_color": "#F2DCDB",
            "border": 1,
            "align": "center",
            "valign": "vcenter",
            "text_wrap": True,
            "font_color": "#C00000",
        }
    )
    text_fmt = wb.add_format({"num_format": "@"})
    rows = rows or {}
    for spec in SHEETS:
        ws = wb.add_worksheet(spec.title)
        ws.set_row(0, 30)
        for j, col in enumerate(spec.columns):
            width = max(col.width, _display_width(col.header))
            ws.set_column(j, j, width, text_fmt if col.text else None)
            label = col.header + ("*" if col.field.required else "")
            ws.write_string(0, j, label, head_req if col.field.required else head)
            note = col.note or ("必填" if col.field.required else "")
            if col.choices:
                note = (note + "；" if note else "") + "可选：" + "、".join(col.choices)
            if note:
                ws.write_comment(0, j, note, {"x_scale": 1.6})
            if col.choices:
                ws.data_validation(
                    1,
                    j,
                    validation_rows,
                    j,
                    {
                        "validate": "list",
                        "source": list(col.choices),
                        "error_title": "输入有误",
                        "error_message": "请从下拉列表中选择：" + "、".join(col.choices),
                        "error_type": "warning",
                    },
                )
        ws.freeze_panes(1, 1)
        r = 1
        names = [c.field.name for c in spec.columns]
        text_cols = {i for i, c in enumerate(spec.columns) if c.text}
        for data in rows.get(spec.key, ()):
            for j, name in enumerate(names):
                v = data.get(name)
                if v is None or v == "":
                    continue
                if j in text_cols or isinstance(v, str):
                    ws.write_string(r, j, str(v))
                elif isinstance(v, bool):
                    ws.write_string(r, j, "是" if v else "否")
                elif isinstance(v, int | Decimal):
                    ws.write_number(r, j, v)
                elif isinstance(v, date):
                    ws.write_string(r, j, v.isoformat())
                else:
                    ws.write(r, j, v)
            r += 1
        if r > 1:
            ws.autofilter(0, 0, r - 1, len(spec.columns) - 1)
    notes = wb.add_worksheet(NOTES_SHEET)
    notes.set_column(0, 0, 10)
    notes.set_column(1, 1, 20)
    notes.set_column(2, 2, 8)
    notes.set_column(3, 3, 70)
    title = wb.add_format({"bold": True, "font_size": 14})
    notes.write_string(0, 0, "入户调查表填写说明", title)
    lines = [
        "1. 每个工作表第一行为表头，请勿修改表头文字；红色带 * 的列必填。",
        "2. “成员”“房屋”“承租人”“宅基地”“评估”各表通过“户号”与“户”表关联。",
        "3. 身份证号、电话、户号、证号请以文本格式填写，避免末位丢失。",
        "4. 面积单位为平方米，金额单位为元，最多两位小数；日期格式 YYYY-MM-DD。",
        "5. 导入时逐行逐格校验，任何一处有误则整份文件不导入，并列出每处错误的表、行、列。",
        "6. 也可只导入 CSV 文件（仅含“户”表各列，UTF-8 或 GB18030 编码）。",
    ]
    for i, line in enumerate(lines):
        notes.write_string(i + 1, 0, line)
    r = len(lines) + 2
    notes.write_row(r, 0, ["工作表", "列", "必填", "说明"], head)
    r += 1
    for spec in SHEETS:
        for col in spec.columns:
            explain = col.note
            if col.choices:
                explain = (explain + "；" if explain else "") + "可选：" + "、".join(col.choices)
            notes.write_row(r, 0, [spec.title, col.header, "是" if col.field.required else "", explain])
            r += 1
    wb.close()


def template_bytes() -> bytes:
    """The empty census template as xlsx bytes."""
    buf = io.BytesIO()
    write_workbook(buf)
    return buf.getvalue()
