"""Census import part: what reading and checking produce: cell errors with their position, the raw and the
clean rows, the preview and the import summary (see the package docstring).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from anju.config import get_settings
from anju.errors import ValidationFailed
from anju.household.census.spec import _SHEET_ORDER, SHEET_BY_KEY

__all__ = [
    "CellError",
    "CensusCheck",
    "CensusInvalid",
    "CensusPreview",
    "CleanCensus",
    "ErrorList",
    "ImportSummary",
    "RawCensus",
    "RawSheet",
    "column_letter",
    "error_count",
    "omitted_errors",
    "raw_from_rows",
]


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
