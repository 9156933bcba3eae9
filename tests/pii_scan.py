"""After the test session: no plaintext identity number in any log or app data folder it produced.

A pytest plugin (loaded by tests/conftest.py). During the session it writes every log record of
the test process (root logger and uvicorn's loggers, which do not propagate) to a file; at the
end it scans

- that file and every ``*.log`` under the session's temporary folder (the e2e server's output),
- every SQLite database file (``*.db``, ``*.db-wal``, ``*.sqlite``) there,
- every app data folder the tests used: folders named ``data`` under the session's temporary
  folder (the ``ANJU_DATA_DIR`` of ``settings_env`` and of the e2e server) and ``ANJU_DATA_DIR``
  itself when set, including SQLite files, attachments, upload leftovers and anchors, and the
  members of ZIP containers (xlsx, docx) found there,

for valid GB 11643 identity numbers (18 characters with a correct check digit and birth date).
Test input files that tests write themselves outside those folders are not scanned. A finding
fails the session (exit code 1) and is reported as ``file:line`` with the number masked.

Every Anju process installs log redaction (:mod:`anju.core.redaction`, by the app factory and
the CLI); so does this test process at session start, as a server would.
"""

from __future__ import annotations

import logging
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from anju.core import redaction
from anju.core.ids import is_valid_id_number

_CANDIDATE = re.compile(rb"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])")
_MAX_FILE = 512 * 1024 * 1024
_MAX_MEMBER = 256 * 1024 * 1024
_DATABASES = ("*.db", "*.db-wal", "*.sqlite")
_LOGGERS = ("", "uvicorn", "uvicorn.access", "uvicorn.error", "anju")


@dataclass(frozen=True)
class Finding:
    """A plaintext identity number: where it is and its masked form."""

    where: str
    line: int
    masked: str

    def __str__(self) -> str:
        return f"{self.where}:{self.line}: plaintext identity number {self.masked}"


def _mask(number: str) -> str:
    return number[:6] + "********" + number[-4:]


def scan_bytes(data: bytes, where: str) -> list[Finding]:
    """Valid identity numbers in ``data`` (any encoding that keeps ASCII digits as bytes)."""
    out: list[Finding] = []
    for m in _CANDIDATE.finditer(data):
        number = m.group().decode("ascii").upper()
        if is_valid_id_number(number):
            out.append(Finding(where, data.count(b"\n", 0, m.start()) + 1, _mask(number)))
    return out


def scan_file(path: Path) -> list[Finding]:
    """:func:`scan_bytes` of a file, and of each member when it is a ZIP container (xlsx, docx)."""
    try:
        if path.stat().st_size > _MAX_FILE:
            return []
        data = path.read_bytes()
    except OSError:
        return []
    found = scan_bytes(data, str(path))
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as z:
                for info in z.infolist():
                    if info.file_size <= _MAX_MEMBER:
                        found += scan_bytes(z.read(info), f"{path}!{info.filename}")
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
            pass
    return found


def _files(folder: Path) -> Iterator[Path]:
    for root, _dirs, names in os.walk(folder):
        for name in names:
            p = Path(root) / name
            if p.is_file() and not p.is_symlink():
                yield p


def scan_folders(
    base: Path | None, extra_logs: Iterable[Path] = (), extra_data: Iterable[Path] = ()
) -> list[Finding]:
    """Scan the logs and app data folders of a session whose temporary folder is ``base``."""
    files: set[Path] = {p for p in extra_logs if p.is_file()}
    data_dirs = [d for d in extra_data if d.is_dir()]
    if base is not None and base.is_dir():
        files.update(p for p in base.rglob("*.log") if p.is_file())
        # SQLite databases the tests migrated and the app wrote (integration tests keep them in
        # a "db" folder rather than a data folder).
        files.update(p for pattern in _DATABASES for p in base.rglob(pattern) if p.is_file())
        data_dirs += [d for d in base.rglob("data") if d.is_dir()]
    for d in data_dirs:
        files.update(_files(d))
    found: list[Finding] = []
    for f in sorted(files):
        found += scan_file(f)
    return found


class PiiScan:
    """The plugin: captures the session's log records and scans at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.handler: logging.Handler | None = None
        self.log_path: Path | None = None
        self.base: Path | None = None
        self.levels: dict[str, int] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        redaction.install()
        factory = getattr(self.config, "_tmp_path_factory", None)
        if factory is None:
            return
        self.base = Path(factory.getbasetemp())
        self.log_path = self.base / "pii-scan-session.log"
        handler = logging.FileHandler(self.log_path, encoding="utf-8")
        handler.setLevel(logging.INFO)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        self.handler = handler
        for name in _LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(handler)
        anju = logging.getLogger("anju")
        self.levels["anju"] = anju.level
        if anju.getEffectiveLevel() > logging.INFO:
            anju.setLevel(logging.INFO)  # the login and import lines are INFO

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.handler is not None:
            for name in _LOGGERS:
                logging.getLogger(name).removeHandler(self.handler)
            self.handler.close()
            logging.getLogger("anju").setLevel(self.levels.get("anju", logging.NOTSET))
        env_data = os.environ.get("ANJU_DATA_DIR")
        findings = scan_folders(
            self.base,
            extra_logs=[self.log_path] if self.log_path else [],
            extra_data=[Path(env_data)] if env_data else [],
        )
        if not findings:
            return
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        lines = [str(f) for f in findings[:50]]
        if len(findings) > 50:
            lines.append(f"... and {len(findings) - 50} more")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_sep(
                "=", f"{len(findings)} plaintext identity number(s) in logs or data folders", red=True
            )
            for line in lines:
                reporter.write_line(line)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    """Register the scan (once; not in xdist workers, whose controller scans)."""
    if hasattr(config, "workerinput") or config.pluginmanager.has_plugin("anju-pii-scan"):
        return
    config.pluginmanager.register(PiiScan(config), "anju-pii-scan")
