"""Uploads as the application sees them: limits from the settings, refusals as domain errors, and
the sealed store where an upload waits for its job.

:mod:`anju.core.uploads` inspects bytes and knows nothing of settings or errors; this module binds
it to both. The store keeps each file AES-GCM encrypted under a random key that lives only in the
memory of the job that uses it, in ``<data>/imports/<pid>-<token>.sealed``: a file left behind by a
killed process is unreadable, and :func:`sweep` removes it (files of processes that are gone, files
older than ``import_file_ttl_minutes``, and anything else found there, such as the plaintext
uploads older versions kept).
"""

from __future__ import annotations

import csv
import io
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anju.config import get_settings
from anju.core import uploads as core
from anju.errors import ValidationFailed

log = logging.getLogger("anju")

MiB = 1024 * 1024


def limits() -> core.UploadLimits:
    """The upload limits from the settings."""
    s = get_settings()
    return core.UploadLimits(
        max_bytes=s.max_upload_mb * MiB,
        max_entries=s.upload_max_entries,
        max_unzipped_bytes=s.upload_max_unzipped_mb * MiB,
        max_ratio=s.upload_max_ratio,
        max_sheet_cells=s.upload_max_sheet_cells,
        max_total_cells=s.upload_max_total_cells,
        max_rows=s.upload_max_rows,
        max_columns=s.upload_max_columns,
        max_image_pixels=s.upload_max_image_pixels,
        max_shared_text_bytes=s.upload_max_shared_text_mb * MiB,
    )


class UploadRefused(ValidationFailed):
    """An upload refused by its inspection (HTTP 422); ``code`` says why (``upload_too_large``,
    ``upload_wrong_type``, ``upload_type_mismatch``, ``upload_unsafe``, ``upload_corrupt``, ``upload_empty``)."""

    code = "upload_refused"


def refusal(exc: core.UploadRejected) -> UploadRefused:
    """The domain error for an inspection's refusal."""
    return UploadRefused(exc.message_zh, exc.message_en, code=exc.code, details=[exc.details()])


def inspect_attachment(content: bytes, filename: str, declared_type: str) -> core.AttachmentCheck:
    """:func:`anju.core.uploads.inspect_attachment` with the configured limits; raises :class:`UploadRefused`."""
    try:
        return core.inspect_attachment(content, filename, declared_type, limits())
    except core.UploadRejected as exc:
        raise refusal(exc) from None


# ---------------------------------------------------------------- the sealed store

SUFFIX = ".sealed"


def store_dir() -> Path:
    """``<data>/imports``."""
    return get_settings().data_dir / "imports"


@dataclass(frozen=True)
class SealedUpload:
    """An upload kept encrypted on disk; ``key`` exists only here (in the job's memory)."""

    path: Path
    key: bytes
    size: int

    def read(self) -> bytes:
        """The plaintext bytes (decrypted in memory)."""
        return core.unseal(self.key, self.path.read_bytes())

    def delete(self) -> None:
        """Remove the file (safe to repeat)."""
        self.path.unlink(missing_ok=True)


def put(content: bytes) -> SealedUpload:
    """Encrypt ``content`` under a new random key into the store."""
    folder = store_dir()
    folder.mkdir(parents=True, exist_ok=True)
    key = core.new_key()
    path = folder / f"{os.getpid()}-{secrets.token_hex(12)}{SUFFIX}"
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(core.seal(key, content))
    tmp.replace(path)
    return SealedUpload(path=path, key=key, size=len(content))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process with that number
        return True
    return True


def scratch_dir() -> Path:
    """This process's folder for temporary files that hold personal data (a ledger being written,
    XlsxWriter's row files): ``<data>/tmp/<pid>``, removed by :func:`sweep` once the process is gone."""
    folder = get_settings().data_dir / "tmp" / str(os.getpid())
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _sweep_scratch() -> int:
    root = get_settings().data_dir / "tmp"
    if not root.is_dir():
        return 0
    removed = 0
    for path in root.iterdir():
        if path.name.isdigit() and _alive(int(path.name)):
            continue
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        removed += 1
    return removed


def sweep(keep: set[Path] | None = None) -> int:
    """Remove what no live job can use from ``<data>/imports``: files of processes that are gone,
    files of this process not in ``keep`` (older than a minute), files older than the TTL, and
    anything that is not a sealed upload (plaintext left by older versions); and the scratch
    folders (``<data>/tmp/<pid>``) of processes that are gone. Returns how many were removed."""
    removed = _sweep_scratch()
    folder = store_dir()
    if not folder.is_dir():
        return removed
    ttl = get_settings().import_file_ttl_minutes * 60
    now = time.time()
    for path in folder.iterdir():
        try:
            pid_text, _, _rest = path.name.partition("-")
            sealed = path.name.endswith(SUFFIX) and pid_text.isdigit()
            if sealed:
                pid = int(pid_text)
                mine = pid == os.getpid()
                stale = now - path.stat().st_mtime > ttl
                orphan = mine and keep is not None and path not in keep and now - path.stat().st_mtime > 60
                if not (stale or orphan or not _alive(pid)):
                    continue
            elif (
                path.name.endswith(SUFFIX + ".part")
                and pid_text.isdigit()
                and _alive(int(pid_text))
                and now - path.stat().st_mtime <= ttl
            ):
                continue  # being written right now
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
        except OSError:  # raced with another process's sweep
            continue
    if removed:
        log.info("removed %d stale upload file(s) from %s", removed, folder)
    return removed


def decode_csv(data: bytes) -> list[list[str]]:
    """The rows of an uploaded CSV, UTF-8 (with or without BOM) or GB18030 as Excel in China saves it."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            decoded = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValidationFailed("CSV 文件编码无法识别，请另存为 UTF-8", "undecodable CSV")
    try:
        return [list(r) for r in csv.reader(io.StringIO(decoded))]
    except csv.Error as exc:
        raise ValidationFailed(f"CSV 文件格式有误：{exc}", f"malformed CSV: {exc}") from None


def first_sheet(data: bytes, filename: str, *, unreadable: str) -> list[list[Any]]:
    """The first sheet's cells of an uploaded workbook (or a CSV's rows), after the upload inspection
    (type, sizes, sheet extents). ``unreadable`` is the Chinese message for a file no reader can open
    (say which file is expected: "请上传 .xlsx 格式的房源表")."""
    try:
        report = core.inspect_workbook(data, filename, limits())
    except core.UploadRejected as exc:
        raise refusal(exc) from None
    if report.kind == "csv":
        return decode_csv(data)
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        try:
            if not wb.sheet_names:
                raise ValidationFailed("工作簿中没有工作表", "no sheet")
            rows: list[list[Any]] = wb.get_sheet_by_name(wb.sheet_names[0]).to_python(skip_empty_area=False)
        finally:
            wb.close()
    except ValidationFailed:
        raise
    except Exception as exc:  # calamine raises its own error types for every unreadable file
        raise ValidationFailed(unreadable, f"unreadable workbook: {exc}") from exc
    return rows
