"""The bounds every upload is checked against and the refusal it gets (see :mod:`anju.core.uploads`).

Pure: nothing else of Anju. Callers build :class:`UploadLimits` from their settings and turn
:class:`UploadRejected` into their own error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    # Text the cells of a workbook take from its shared strings, each reference counted (the reader
    # copies the string into every cell that names it: one 32 KB string in 5 million cells is 160 GB).
    max_shared_text_bytes: int = 1024 * MiB


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


def file_too_large(filename: str, limit: int, actual: int) -> UploadRejected:
    """The refusal of a file over the size limit (``actual`` bytes)."""
    return _too_big(filename, "大小（字节）", "size", limit, actual)


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
    shared_cells: int = 0  # cells whose value is a shared string (t="s")
    shared_text: int = 0  # bytes those cells take from the shared strings (an upper bound, or exact)

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


def _check_shared_text(filename: str, extent: SheetExtent, total: int, limits: UploadLimits) -> None:
    if total > limits.max_shared_text_bytes:
        where = f"工作表“{extent.title}”" if extent.title else f"工作表部件“{extent.part}”"
        raise UploadRejected(
            "upload_too_large",
            f"文件“{filename}”{where}及之前各表的单元格引用的共享文本合计 {total:,} 字节，"
            f"超过上限 {limits.max_shared_text_bytes:,} 字节，已拒绝（未读取其内容）",
            f"{filename}: cells up to sheet {extent.title or extent.part} take {total:,} bytes of shared "
            f"strings, over the limit of {limits.max_shared_text_bytes:,}",
            filename=filename,
            part=extent.part,
            limit=limits.max_shared_text_bytes,
            actual=total,
        )
