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

The bounds and refusals live in :mod:`anju.core.upload_checks`, the worksheet scan in
:mod:`anju.core.sheet_scan`, the zip/xlsx container inspection in :mod:`anju.core.upload_zip`, the
xls/csv/JSON/image inspectors in :mod:`anju.core.upload_formats`;
this module re-exports what callers use. All are pure (no database, no settings, nothing else of
Anju): callers pass
:class:`UploadLimits` built from their settings and turn :class:`UploadRejected` into their own error.
"""

from __future__ import annotations

import io
import os
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from anju.core.upload_checks import (
    EXCEL_MAX_COLUMNS,
    EXCEL_MAX_ROWS,
    SheetExtent,
    UploadLimits,
    UploadRejected,
    _too_big,
    file_too_large,
)
from anju.core.upload_formats import (
    CsvReport,
    ImageSize,
    JsonReport,
    image_size,
    inspect_csv,
    inspect_image,
    inspect_json,
    inspect_xls,
)
from anju.core.upload_zip import (
    _CHUNK_OUT,
    _CONTROL,
    ZipInspection,
    ZipReport,
    inspect_zip,
    zip_kind,
)

__all__ = [
    "ATTACHMENT_TYPES",
    "EXCEL_MAX_COLUMNS",
    "EXCEL_MAX_ROWS",
    "AttachmentCheck",
    "CsvReport",
    "ImageSize",
    "JsonReport",
    "SheetExtent",
    "UploadLimits",
    "UploadRejected",
    "WorkbookReport",
    "ZipInspection",
    "ZipReport",
    "file_too_large",
    "image_size",
    "inspect_attachment",
    "inspect_csv",
    "inspect_image",
    "inspect_json",
    "inspect_workbook",
    "inspect_xls",
    "inspect_zip",
    "open_workbook",
    "safe_filename",
    "seal",
    "serving",
    "sniff",
    "unseal",
]

# ---------------------------------------------------------------- file names


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
