"""The SQLite copy: the embedded database file copied with SQLite's online backup API, and put back.

Attachments are not in a copy (they are files named by checksum that never change: copy the
attachment folder after the database). See :mod:`anju.backup.service` for the portable archive.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import suppress
from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url

from anju.audit import service as audit_service
from anju.backup.service import (
    BackupInvalid,
    RestoreRefused,
    alembic_revision,
    broken,
    check_target,
    private_file,
    verify_chain,
)

_SQLITE_MAGIC = b"SQLite format 3\x00"


def sqlite_path(url: str) -> Path:
    """The file of a SQLite URL; refuses any other database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        raise BackupInvalid(
            "数据库副本只适用于内置的 SQLite 文件；PostgreSQL 请用 pg_dump，MariaDB/MySQL 请用 mysqldump，"
            "或用 anju backup 生成可移植的归档",
            "a database copy is for the embedded SQLite file only (use pg_dump / mysqldump or the archive)",
            code="not_sqlite",
        )
    return Path(parsed.database)


def sqlite_copy(url: str, target: Path) -> str:
    """Copy the SQLite database at ``url`` to ``target`` (mode 0600) with the online backup API.

    One backup step copies every page under a single read transaction: a consistent snapshot,
    and in WAL mode the server's writers are not blocked meanwhile (copying in several steps
    would restart whenever another connection writes). Returns the copy's Alembic revision.
    """
    path = sqlite_path(url)
    if not path.exists():
        raise BackupInvalid(f"找不到数据库文件 {path}", f"database file {path} not found")
    with private_file(target) as (tmp, _handle):
        src = sqlite3.connect(path)
        dst = sqlite3.connect(tmp)
        try:
            src.execute("PRAGMA busy_timeout=10000")
            src.backup(dst)
            ok = dst.execute("PRAGMA integrity_check").fetchone()[0]
            if ok != "ok":
                raise BackupInvalid(f"数据库副本完整性检查失败：{ok}", f"integrity check failed: {ok}")
            row = _sqlite_revision(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dst.close()
            src.close()
    return row


def _sqlite_revision(conn: sqlite3.Connection) -> str:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return ""
    return str(row[0]) if row else ""


def is_sqlite_file(path: Path) -> bool:
    """Whether ``path`` starts like a SQLite database file."""
    try:
        with path.open("rb") as handle:
            return handle.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError:
        return False


def restore_sqlite_copy(
    engine: Engine, source: Path, *, replace: bool = False, accept_unverified: bool = False
) -> audit_service.VerifyResult:
    """Put a :func:`sqlite_copy` back as the SQLite database at ``engine`` (server stopped).

    The copy is checked (integrity, Alembic revision equal to the target's, audit chain with this
    installation's keys, on a scratch copy so the backup file is never modified) before the target
    is touched; the target must be migrated and empty unless ``replace``. The page copy into the
    target is a single SQLite transaction. Attachments are not in a database copy.
    """
    from anju.db.session import make_engine

    target_path = sqlite_path(str(engine.url))
    if not is_sqlite_file(source):
        raise BackupInvalid(f"{source} 不是 SQLite 数据库副本", f"{source} is not a SQLite database copy")
    scratch = target_path.with_name(f".{target_path.name}.restore-{os.getpid()}")
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        tmp = sqlite3.connect(scratch)
        try:
            src.backup(tmp)
            ok = tmp.execute("PRAGMA integrity_check").fetchone()[0]
            revision = _sqlite_revision(tmp)
        except sqlite3.DatabaseError as exc:
            raise broken(source, f"SQLite 文件已损坏（{exc}）", f"damaged SQLite file ({exc})") from None
        finally:
            tmp.close()
            src.close()
        if ok != "ok":
            raise broken(source, f"完整性检查失败（{ok}）", f"integrity check failed ({ok})")
        with engine.connect() as conn, conn.begin():
            if replace:  # the page copy replaces the whole file
                _check_revision_only(conn, revision)
            else:
                check_target(conn, revision, replace=False)
        scratch_engine = make_engine(f"sqlite:///{scratch}")
        try:
            with scratch_engine.connect() as conn, conn.begin():
                result = verify_chain(conn)
        finally:
            scratch_engine.dispose()
        if not result.ok and not accept_unverified:
            raise RestoreRefused(
                f"备份的审计链核验不通过：第 {result.broken_seq} 条记录，{result.problem}。未写入任何数据。"
                "请确认 ANJU_AUDIT_KEYS 与备份时的配置相同；如确需恢复，请加 --accept-unverified",
                f"audit chain of the copy does not verify: {result.problem_en}",
                code="audit_unverified",
            )
        engine.dispose()
        src = sqlite3.connect(scratch)
        dst = sqlite3.connect(target_path)
        try:
            dst.execute("PRAGMA busy_timeout=10000")
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        return result
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with suppress(FileNotFoundError):
                Path(f"{scratch}{suffix}").unlink()


def _check_revision_only(conn: Connection, revision: str) -> None:
    current = alembic_revision(conn)
    if current and current != revision:
        raise RestoreRefused(
            f"备份的数据库版本（{revision}）与目标数据库版本（{current}）不一致",
            f"backup revision {revision} differs from the target's {current}",
            code="revision_mismatch",
        )
