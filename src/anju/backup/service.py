"""Backups: an online SQLite copy, and a portable archive of every table and attachment.

Two kinds:

- :func:`anju.backup.sqlite_copy.sqlite_copy` / ``restore_sqlite_copy``: the embedded database file copied with
  SQLite's online backup API in one step (a consistent snapshot; in WAL mode the server's writers
  carry on meanwhile). Attachments are not in it (they are files, kept by checksum and never changed).
- :func:`create_archive` / :func:`restore_archive`: a zip that moves between SQLite, PostgreSQL and
  MariaDB. ``manifest.json`` (format version, app version, Alembic revision, per-table columns,
  row counts and SHA-256 of each part), ``tables/<table>.jsonl`` (one JSON object per row in
  primary-key order; Decimal, dates and datetimes as text, datetimes in UTC) read from one
  snapshot transaction, and ``attachments/<sha256>`` (every attachment's bytes, named by checksum).

A restore writes into a freshly migrated, empty database of the same Alembic revision in one
transaction: the manifest, every part's checksum and row count are checked as the rows are
inserted, PostgreSQL sequences are moved past the restored ids, the audit chain is verified, and
only then is the transaction committed; anything wrong rolls everything back (and removes the
attachment files this restore added). Backup files hold personal data: they are created with mode
0600. The secret key and the audit keys are not in any backup.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Column, Connection, Engine, Table, TypeDecorator, func, insert, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

import anju
from anju.audit import service as audit_service
from anju.config import get_settings
from anju.db import registry
from anju.errors import DomainError

FORMAT = "anju-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
BATCH = 1000
_CHUNK = 1 << 20
_SHA = re.compile(r"[0-9a-f]{64}")
_AS_IS = (int, bool, str)  # JSON holds these exactly as they are
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# Marks a write transaction (``BEGIN IMMEDIATE`` on SQLite; see anju.db.session).
_WRITE_OPTION = "anju_write"


class BackupInvalid(DomainError):
    """The backup file is damaged, truncated, altered or not an Anju backup."""

    code = "backup_invalid"
    http_status = 422


class RestoreRefused(DomainError):
    """The target cannot take this backup (not empty, other schema revision, chain does not verify)."""

    code = "restore_refused"
    http_status = 409


class Progress:
    """Progress callbacks (no-ops here; the CLI shows Rich bars)."""

    def start(self, label: str, total: int) -> None:
        """A new phase of ``total`` steps begins."""

    def advance(self, steps: int) -> None:
        """``steps`` more steps of the current phase are done."""


@dataclass
class ArchiveSummary:
    """What a backup holds or what a restore wrote."""

    revision: str
    rows: dict[str, int] = field(default_factory=dict)
    attachments: int = 0
    attachment_bytes: int = 0
    audit: audit_service.VerifyResult | None = None


# ------------------------------------------------------------------ values


def _codec(column: Column[Any]) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """(encode, decode) between a column's Python value and its exact JSON form."""
    kind = _python_type(column)
    if kind is bool:
        return bool, bool
    if kind is int:
        return int, int
    if kind is Decimal:
        return str, Decimal
    if kind is datetime:
        return _encode_datetime, datetime.fromisoformat
    if kind is date:
        return date.isoformat, date.fromisoformat
    if kind is bytes:
        return lambda v: base64.b64encode(v).decode("ascii"), base64.b64decode
    if kind is str:
        return str, str
    raise TypeError(f"column {column.table}.{column.name}: no backup codec for {kind.__name__}")


def _python_type(column: Column[Any]) -> type:
    """The Python type of a column's values (a TypeDecorator's is its implementation's)."""
    kind_of = column.type
    if isinstance(kind_of, TypeDecorator):
        kind_of = kind_of.impl_instance
    try:
        return kind_of.python_type
    except NotImplementedError:  # pragma: no cover - every Anju type has one
        return object


def _encode_datetime(value: datetime) -> str:
    """An aware instant as ISO text in UTC; a naive one as it is."""
    return (value.astimezone(UTC) if value.tzinfo else value).isoformat()


def tables() -> list[Table]:
    """Every application table, parents before children (the order of writing and restoring)."""
    return list(registry.Base.metadata.sorted_tables)


def read_rows(conn: Connection, table: Table) -> Iterator[dict[str, Any]]:
    """Every row of ``table`` in primary-key order, encoded, streamed in batches."""
    stmt = select(table).order_by(*table.primary_key.columns).execution_options(yield_per=BATCH)
    names = [c.name for c in table.columns]
    # Integers, booleans and text are JSON as they are: only the other columns are converted.
    convert = [(i, _codec(c)[0]) for i, c in enumerate(table.columns) if _python_type(c) not in _AS_IS]
    for row in conn.execute(stmt):
        values = list(row)
        for i, enc in convert:
            if (v := values[i]) is not None:
                values[i] = enc(v)
        yield dict(zip(names, values, strict=True))


def alembic_revision(conn: Connection) -> str:
    """The database's Alembic revision ("" when it was never migrated)."""
    try:
        with conn.begin_nested():
            return str(conn.scalar(text("SELECT version_num FROM alembic_version")) or "")
    except SQLAlchemyError:
        return ""


# ------------------------------------------------------------------ files


@contextmanager
def private_file(target: Path) -> Iterator[tuple[Path, IO[bytes]]]:
    """A new file beside ``target`` with mode 0600, renamed to ``target`` on success, removed on failure."""
    if target.exists():
        raise BackupInvalid(
            f"备份文件 {target} 已存在，请换一个文件名（不覆盖已有备份）",
            f"backup file {target} exists (existing backups are never overwritten)",
            code="backup_exists",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # whatever the umask: the file holds personal data
    try:
        with os.fdopen(fd, "wb") as handle:
            yield tmp, handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _member(name: str) -> zipfile.ZipInfo:
    """A zip member stamped with the current time (streamed members would otherwise say 1980)."""
    info = zipfile.ZipInfo(name, date_time=datetime.now().timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16
    return info


def _attachment_file(root: Path, sha256: str) -> Path:
    """Same layout as ``household_service.attachment_path``: ``<root>/ab/abcdef...``."""
    return root / sha256[:2] / sha256


def _attachment_checksums() -> Column[Any]:
    """``attachment.sha256``: the one column whose values name files (read through the registry's metadata)."""
    return registry.Base.metadata.tables["attachment"].c.sha256


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------------ archive: write


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A read transaction that sees one snapshot of the whole database for its duration."""
    with engine.connect() as conn:
        dialect = conn.dialect.name
        if dialect in ("postgresql", "mysql", "mariadb"):
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            raw = conn.connection.dbapi_connection
            if dialect == "sqlite" and not getattr(raw, "in_transaction", True):
                conn.exec_driver_sql("BEGIN")  # the driver would read statement by statement otherwise
            yield conn


def create_archive(
    engine: Engine, target: Path, *, attachment_dir: Path | None = None, progress: Progress | None = None
) -> ArchiveSummary:
    """Write every table and attachment of the database at ``engine`` into the zip ``target`` (mode 0600).

    All tables are read in one snapshot transaction, so the archive is consistent while the
    server keeps writing. Refuses to overwrite ``target``; a missing or altered attachment file
    aborts the backup (nothing is left behind).
    """
    progress = progress or Progress()
    root = attachment_dir or get_settings().attachment_dir
    with private_file(target) as (_tmp, handle), _snapshot(engine) as conn:
        revision = alembic_revision(conn)
        if not revision:
            raise BackupInvalid("数据库尚未迁移，没有可备份的内容", "the database was never migrated")
        check_code_revision(revision, "数据库")
        summary = ArchiveSummary(revision=revision)
        parts: list[dict[str, Any]] = []
        with zipfile.ZipFile(
            handle, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6, allowZip64=True
        ) as zf:
            for table in tables():
                total = int(conn.scalar(select(func.count()).select_from(table)) or 0)
                progress.start(f"表 {table.name}", total)
                name = f"tables/{table.name}.jsonl"
                digest, rows, pending = hashlib.sha256(), 0, 0
                with zf.open(_member(name), "w", force_zip64=True) as out:
                    for obj in read_rows(conn, table):
                        line = _JSON.encode(obj).encode() + b"\n"
                        digest.update(line)
                        out.write(line)
                        rows += 1
                        pending += 1
                        if pending == BATCH:
                            progress.advance(pending)
                            pending = 0
                progress.advance(pending)
                summary.rows[table.name] = rows
                parts.append(
                    {
                        "table": table.name,
                        "file": name,
                        "columns": [c.name for c in table.columns],
                        "rows": rows,
                        "sha256": digest.hexdigest(),
                    }
                )
            files = _write_attachments(conn, zf, root, progress, summary)
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "app_version": anju.__version__,
                "alembic_revision": revision,
                "dialect": conn.dialect.name,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "tables": parts,
                "attachments": files,
            }
            zf.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
    return summary


def _write_attachments(
    conn: Connection, zf: zipfile.ZipFile, root: Path, progress: Progress, summary: ArchiveSummary
) -> list[dict[str, Any]]:
    sha_column = _attachment_checksums()
    digests = [str(d) for d in conn.scalars(select(sha_column).distinct().order_by(sha_column))]
    progress.start("附件", len(digests))
    files: list[dict[str, Any]] = []
    for sha in digests:
        path = _attachment_file(root, sha)
        digest, size = hashlib.sha256(), 0
        try:
            with path.open("rb") as src, zf.open(_member(f"attachments/{sha}"), "w", force_zip64=True) as out:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
        except FileNotFoundError:
            raise BackupInvalid(
                f"附件文件缺失：{path}（数据库中有该附件的记录），备份未生成",
                f"attachment file missing: {path}; no backup written",
                code="attachment_missing",
            ) from None
        if digest.hexdigest() != sha:
            raise BackupInvalid(
                f"附件文件校验失败：{path} 的内容与其校验值不符（可能已被篡改），备份未生成",
                f"attachment file {path} does not match its checksum; no backup written",
                code="attachment_mismatch",
            )
        files.append({"sha256": sha, "file": f"attachments/{sha}", "size": size})
        summary.attachments += 1
        summary.attachment_bytes += size
        progress.advance(1)
    return files


# ------------------------------------------------------------------ archive: restore


def broken(source: Path, why_zh: str, why_en: str) -> BackupInvalid:
    """The refusal of an unusable backup file, saying why and that nothing was written."""
    return BackupInvalid(
        f"备份文件 {source.name} 无法使用：{why_zh}。未写入任何数据",
        f"backup {source.name} unusable: {why_en}; nothing was written",
    )


def read_manifest(zf: zipfile.ZipFile, source: Path) -> dict[str, Any]:
    """The archive's manifest, checked for shape and for the parts it names."""
    try:
        manifest = json.loads(zf.read(MANIFEST))
    except KeyError:
        raise broken(source, "缺少 manifest.json（不是安居备份或文件不完整）", "no manifest.json") from None
    except (ValueError, zipfile.BadZipFile, zlib.error, OSError) as exc:
        raise broken(source, f"manifest.json 已损坏（{exc}）", f"manifest.json damaged ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise broken(source, "不是安居备份文件", "not an Anju backup")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise broken(
            source,
            f"备份格式版本 {manifest.get('format_version')} 不受本程序支持（支持 {FORMAT_VERSION}）",
            f"format version {manifest.get('format_version')} not supported",
        )
    try:
        parts = [(p["file"], p["sha256"]) for p in manifest["tables"]]
        parts += [(a["file"], a["sha256"]) for a in manifest["attachments"]]
        str(manifest["alembic_revision"])
    except (KeyError, TypeError) as exc:
        raise broken(source, f"manifest.json 缺少字段 {exc}", f"manifest.json lacks {exc}") from None
    names = set(zf.namelist())
    for name, sha in parts:
        if name not in names:
            raise broken(source, f"缺少 {name}（文件不完整）", f"{name} missing (truncated)")
        if not isinstance(sha, str) or not _SHA.fullmatch(sha):
            raise broken(source, f"{name} 的校验值格式有误", f"bad checksum for {name}")
    return manifest


def code_revision() -> str:
    """The newest Alembic revision this program knows (its tables are this revision's)."""
    from alembic.script import ScriptDirectory

    from anju.db import migrate

    return str(ScriptDirectory.from_config(migrate.alembic_config("")).get_current_head())


def check_code_revision(revision: str, what: str) -> None:
    """This program reads and writes the tables of its own revision only."""
    code = code_revision()
    if revision != code:
        raise RestoreRefused(
            f"{what}的数据库版本（{revision}）与本程序的版本（{code}）不一致：数据库请先运行 anju db upgrade；"
            "备份请用生成它的同版本安居恢复，再升级",
            f"{what} revision {revision} differs from this program's {code}",
            code="revision_mismatch",
        )


def check_target(conn: Connection, revision: str, *, replace: bool) -> None:
    """The target is migrated to ``revision`` and empty (or emptied here when ``replace``)."""
    current = alembic_revision(conn)
    if not current:
        raise RestoreRefused(
            "目标数据库尚未迁移：请先运行 anju db upgrade 建立空库，再恢复",
            "the target database is not migrated: run `anju db upgrade` first",
        )
    if current != revision:
        raise RestoreRefused(
            f"备份的数据库版本（{revision}）与目标数据库版本（{current}）不一致：请用与备份同版本的程序，"
            f"或先把目标库迁移到 {revision}（anju db upgrade {revision}）后再恢复",
            f"backup revision {revision} differs from the target's {current}",
            code="revision_mismatch",
        )
    filled = [
        (t.name, n) for t in tables() if (n := int(conn.scalar(select(func.count()).select_from(t)) or 0))
    ]
    if filled and not replace:
        listed = "、".join(f"{name}（{n} 行）" for name, n in filled[:5])
        raise RestoreRefused(
            f"目标数据库不是空库：{listed}。恢复只写入新建并迁移好的空库；确需清空并覆盖，请加 --replace",
            f"the target database is not empty ({', '.join(name for name, _ in filled)}); use --replace to overwrite",
            code="target_not_empty",
        )
    for table in reversed(tables()):
        if any(name == table.name for name, _ in filled):
            conn.execute(table.delete())


def restore_archive(
    engine: Engine,
    source: Path,
    *,
    attachment_dir: Path | None = None,
    replace: bool = False,
    accept_unverified: bool = False,
    progress: Progress | None = None,
) -> ArchiveSummary:
    """Restore the archive ``source`` into the empty, migrated database at ``engine``, all or nothing.

    Checks the manifest, the Alembic revision, every part's SHA-256 and row count; inserts in one
    transaction; copies the attachments (checksum verified) into ``attachment_dir``; moves
    PostgreSQL sequences past the restored ids; verifies the audit chain with this installation's
    keys and anchors. Any failure rolls the database back and removes the attachment files it
    added. ``replace`` first empties a non-empty target (in the same transaction);
    ``accept_unverified`` commits even when the audit chain does not verify (the result says why).
    """
    progress = progress or Progress()
    root = attachment_dir or get_settings().attachment_dir
    try:
        zf = zipfile.ZipFile(source)
    except FileNotFoundError:
        raise BackupInvalid(f"找不到备份文件 {source}", f"backup file {source} not found") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise broken(
            source, "不是有效的 zip 归档（文件已损坏或被截断）", f"not a valid zip ({exc})"
        ) from None
    created: list[Path] = []
    with zf:
        manifest = read_manifest(zf, source)
        revision = str(manifest["alembic_revision"])
        check_code_revision(revision, "备份")
        by_name = {p["table"]: p for p in manifest["tables"]}
        known = {t.name for t in tables()}
        if set(by_name) != known:
            raise RestoreRefused(
                f"备份中的表与本程序不一致（多出：{sorted(set(by_name) - known)}，缺少：{sorted(known - set(by_name))}）",
                "the backup's tables differ from this program's",
                code="revision_mismatch",
            )
        summary = ArchiveSummary(revision=revision)
        try:
            with engine.connect() as conn:
                conn.execution_options(**{_WRITE_OPTION: True})
                with conn.begin():
                    check_target(conn, revision, replace=replace)
                    if conn.dialect.name == "sqlite":
                        conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")  # checked at commit
                    for table in tables():
                        try:
                            summary.rows[table.name] = _load_table(
                                conn, zf, source, table, by_name[table.name], progress
                            )
                        except SQLAlchemyError as exc:  # the rows contradict the schema: not a backup of ours
                            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
                            raise broken(
                                source,
                                f"表 {table.name} 的数据无法写入（{reason}）",
                                f"{table.name}: {reason}",
                            ) from None
                    _restore_attachments(
                        conn, zf, source, manifest["attachments"], root, created, progress, summary
                    )
                    _reset_sequences(conn)
                    summary.audit = verify_chain(conn)
                    if not summary.audit.ok and not accept_unverified:
                        raise RestoreRefused(
                            f"恢复后的审计链核验不通过：第 {summary.audit.broken_seq} 条记录，{summary.audit.problem}。"
                            "已回滚，未写入任何数据。请确认 ANJU_AUDIT_KEYS 与备份时的配置相同（以及锚点目录）；"
                            "如确需在核验不通过时恢复，请加 --accept-unverified",
                            f"audit chain does not verify after restore: {summary.audit.problem_en}; rolled back",
                            code="audit_unverified",
                        )
        except BaseException:
            for path in created:
                path.unlink(missing_ok=True)
            raise
    return summary


def _load_table(
    conn: Connection,
    zf: zipfile.ZipFile,
    source: Path,
    table: Table,
    part: dict[str, Any],
    progress: Progress,
) -> int:
    """Insert one table's rows from its JSON-lines part; checks columns, checksum and row count."""
    name = str(part["file"])
    columns = [c.name for c in table.columns]
    if list(part.get("columns") or []) != columns:
        raise RestoreRefused(
            f"备份中表 {table.name} 的列与本程序不一致",
            f"columns of {table.name} differ",
            code="revision_mismatch",
        )
    decoders = [(c.name, _codec(c)[1]) for c in table.columns if _python_type(c) not in _AS_IS]
    plain = [(c.name, _python_type(c)) for c in table.columns if _python_type(c) in _AS_IS]
    expected = set(columns)
    progress.start(f"表 {table.name}", int(part.get("rows") or 0))
    digest, rows, batch = hashlib.sha256(), 0, []
    stmt = insert(table)
    try:
        with zf.open(name) as stream:
            for lineno, line in enumerate(stream, start=1):
                digest.update(line)
                try:
                    obj = json.loads(line)
                    if not isinstance(obj, dict) or set(obj) != expected:
                        raise ValueError("列不符")
                    for k, dec in decoders:
                        if (v := obj[k]) is not None:
                            obj[k] = dec(v)
                    _check_plain(obj, plain)
                    batch.append(obj)
                except (ValueError, TypeError, ArithmeticError) as exc:
                    raise broken(
                        source, f"{name} 第 {lineno} 行无法读取（{exc}）", f"{name} line {lineno}: {exc}"
                    ) from None
                rows += 1
                if len(batch) == BATCH:
                    conn.execute(stmt, batch)
                    progress.advance(len(batch))
                    batch = []
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:  # CRC error, truncated member
        raise broken(source, f"{name} 已损坏（{exc}）", f"{name} damaged ({exc})") from None
    if digest.hexdigest() != part["sha256"]:
        raise broken(source, f"{name} 的 SHA-256 与清单不符（文件被改动或损坏）", f"{name} checksum mismatch")
    if rows != part.get("rows"):
        raise broken(
            source, f"{name} 有 {rows} 行，清单记载 {part.get('rows')} 行", f"{name} row count mismatch"
        )
    if batch:
        conn.execute(stmt, batch)
        progress.advance(len(batch))
    return rows


def _check_plain(obj: dict[str, Any], plain: list[tuple[str, type]]) -> None:
    """Integers, booleans and text arrive with their JSON type (SQLite would store anything anywhere)."""
    for name, kind in plain:
        v = obj[name]
        if v is not None and (type(v) is not kind):
            raise ValueError(f"列 {name} 应为 {kind.__name__}，实为 {type(v).__name__}")


def _restore_attachments(
    conn: Connection,
    zf: zipfile.ZipFile,
    source: Path,
    entries: list[dict[str, Any]],
    root: Path,
    created: list[Path],
    progress: Progress,
    summary: ArchiveSummary,
) -> None:
    """Copy each attachment into place (checksum checked); every attachment row must have its file."""
    progress.start("附件", len(entries))
    present: set[str] = set()
    for entry in entries:
        sha, name = str(entry["sha256"]), str(entry["file"])
        dest = _attachment_file(root, sha)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{sha}.{os.getpid()}.part")
        digest, size = hashlib.sha256(), 0
        try:
            with zf.open(name) as src, tmp.open("wb") as out:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            if digest.hexdigest() != sha:
                raise broken(
                    source, f"附件 {name} 的内容与校验值不符", f"attachment {name} checksum mismatch"
                )
            if dest.exists() and _file_sha256(dest) == sha:
                tmp.unlink()
            else:
                existed = dest.exists()
                os.replace(tmp, dest)
                if not existed:
                    created.append(dest)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            raise broken(
                source, f"附件 {name} 已损坏（{exc}）", f"attachment {name} damaged ({exc})"
            ) from None
        finally:
            tmp.unlink(missing_ok=True)
        present.add(sha)
        summary.attachments += 1
        summary.attachment_bytes += size
        progress.advance(1)
    for sha in conn.scalars(select(_attachment_checksums()).distinct()):
        if sha not in present and not _attachment_file(root, sha).exists():
            raise broken(source, f"缺少附件文件 {sha}（数据库中有该附件的记录）", f"attachment {sha} missing")


def _reset_sequences(conn: Connection) -> None:
    """Make new rows get ids after the restored ones.

    PostgreSQL sequences do not move when ids are inserted explicitly; InnoDB and SQLite raise
    their counters to the highest inserted id by themselves.
    """
    if conn.dialect.name != "postgresql":
        return
    for table in tables():
        for column in table.primary_key.columns:
            if column.autoincrement is not True and not (column.autoincrement == "auto" and _is_int(column)):
                continue
            seq = conn.scalar(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": f'"{table.name}"', "c": column.name}
            )
            if seq:
                conn.execute(
                    text(
                        f'SELECT setval(:s, COALESCE((SELECT MAX("{column.name}") FROM "{table.name}"), 0) + 1, false)'
                    ),
                    {"s": seq},
                )


def _is_int(column: Column[Any]) -> bool:
    return _python_type(column) is int


def verify_chain(conn: Connection) -> audit_service.VerifyResult:
    """The audit chain as restored (inside the restoring transaction), with this installation's keys."""
    session = Session(bind=conn)
    try:
        return audit_service.verify(session)
    finally:
        session.close()
