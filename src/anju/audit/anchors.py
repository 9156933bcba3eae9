"""Anchor files: signed audit-chain heads kept outside the database.

One line per anchor (see :class:`anju.audit.rules.Anchor`), appended to ``audit-anchors-YYYY-MM.txt``
in ``ANJU_AUDIT_ANCHOR_DIR`` (default ``<data_dir>/audit-anchors``), one file per month so that
closed months can go to write-once storage. Several server processes and cron may append at
once: appends hold an exclusive ``fcntl`` lock on ``.lock`` in the same folder, and readers
tolerate duplicate lines.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from anju.audit import rules
from anju.config import get_settings

try:  # POSIX; elsewhere appends are not serialised (one writer per machine is then assumed)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

FILE_GLOB = "audit-anchors-*.txt"


def anchor_dir() -> Path:
    """The configured anchor folder."""
    settings = get_settings()
    return settings.audit_anchor_dir or settings.data_dir / "audit-anchors"


def file_for(folder: Path, at: datetime) -> Path:
    """The month's anchor file of ``at`` (UTC)."""
    return folder / f"audit-anchors-{rules.anchor_stamp(at)[:7]}.txt"


@contextmanager
def locked(folder: Path | None = None) -> Iterator[Path]:
    """Hold the folder's append lock (blocking); yields the folder, created if missing."""
    folder = folder or anchor_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def append(folder: Path, anchor: rules.Anchor) -> Path:
    """Append ``anchor`` as one line and force it to disk; the caller holds :func:`locked`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = file_for(folder, anchor.at_datetime)
    # One write() of a whole line in append mode: a reader never sees half a line.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (anchor.line() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


@dataclass(frozen=True, slots=True)
class AnchorLine:
    """One non-blank line of an anchor file (or one given on the command line)."""

    source: str  # file name, or "命令行" for a line given to verify
    line_no: int
    text: str
    anchor: rules.Anchor | None  # None: not an anchor line


def read_lines(folder: Path | None = None) -> list[AnchorLine]:
    """Every non-blank, non-comment line of every anchor file of ``folder``, in file order."""
    folder = folder or anchor_dir()
    if not folder.is_dir():
        return []
    out: list[AnchorLine] = []
    for path in sorted(folder.glob(FILE_GLOB)):
        with open(path, encoding="ascii", errors="replace") as handle:
            for n, text in enumerate(handle, start=1):
                text = text.strip()
                if text and not text.startswith("#"):
                    out.append(AnchorLine(path.name, n, text, rules.parse_anchor(text)))
    return out


def last_anchor(folder: Path) -> rules.Anchor | None:
    """The newest well-formed anchor line of ``folder`` (by its signed time), if any.

    Reads only the newest month's file that holds one: a file is named after its lines' month.
    """
    if not folder.is_dir():
        return None
    for path in sorted(folder.glob(FILE_GLOB), reverse=True):
        with open(path, encoding="ascii", errors="replace") as handle:
            found = [a for text in handle if (a := rules.parse_anchor(text)) is not None]
        if found:
            return max(found, key=lambda a: a.at)
    return None
