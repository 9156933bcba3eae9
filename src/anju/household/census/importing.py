"""Census import part: one call that reads, validates and writes a file (or in-memory rows), with the
write lock taken only for the write and a re-check of what changed meanwhile.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from anju.config import get_settings
from anju.core import secrets
from anju.core.actor import Actor
from anju.db.session import begin_read, begin_write
from anju.errors import Conflict
from anju.household.census.context import load_context
from anju.household.census.policy_facts import (
    check_element_fact_cells,
    check_fact_cells,
    read_fact_cells,
    write_element_fact_values,
    write_fact_values,
)
from anju.household.census.reading import read_census, sha256_of
from anju.household.census.results import (
    CensusCheck,
    CensusInvalid,
    CleanCensus,
    ErrorList,
    ImportSummary,
    RawSheet,
    raw_from_rows,
)
from anju.household.census.spec import Progress, _no_progress
from anju.household.census.validation import _Check, validate
from anju.household.census.writing import write
from anju.policy.declared import FactDecl
from anju.project import service as project_service

__all__ = [
    "ImportOutcome",
    "cyclic_gc_paused",
    "import_census",
    "import_rows",
]


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while an import runs.

    An import holds millions of new rows (dicts, lists and tuples, none of them in reference
    cycles). The collector starts after every few hundred new containers and, as its oldest
    generation grows, walks all of them again and again: about 18% of the import's time for
    100,000 households, for nothing to collect (py-spy, bench/RESULTS.md "Census import"). Reference counting still frees memory; the
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
    policy_facts: Mapping[str, FactDecl] | None = None,
) -> ImportOutcome:
    """Read, validate and (unless ``dry_run``) write a census file into a project.

    ``policy_facts``: the facts the project's policy declares (from the compensation service);
    their columns of the 户 sheet are checked and written with the rest (a household lacking a
    required one is an error naming its row and column).

    Raises :class:`CensusInvalid` listing every error when the file is not clean; nothing is
    written then. The caller owns the transaction and commits.
    """
    if policy_facts and not isinstance(source, bytes):
        # read twice (the census, then the declared-fact columns): keep the bytes
        source = source.read_bytes() if isinstance(source, Path) else source.read()
    with cyclic_gc_paused():
        return _import_census(
            session,
            actor,
            project_id,
            source,
            filename,
            dry_run,
            progress or _no_progress,
            policy_facts or {},
        )


def _import_census(
    session: Session,
    actor: Actor,
    project_id: int,
    source: Path | bytes | BinaryIO,
    filename: str,
    dry_run: bool,
    progress: Progress,
    policy_facts: Mapping[str, FactDecl],
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
    fact_values: dict[str, dict[str, str | None]] = {}
    element_values: dict[str, dict[int, dict[str, str | None]]] = {}
    if policy_facts and not raw.errors:
        assert isinstance(source, bytes)
        fact_values, fact_errors = check_fact_cells(
            read_fact_cells(source, raw.filename or filename, policy_facts), policy_facts
        )
        for e in fact_errors:
            check.errors.append(e)
        for level in ("building", "member"):
            if any(d.level == level for d in policy_facts.values()):
                cells = read_fact_cells(source, raw.filename or filename, policy_facts, level)
                element_values[level], level_errors = check_element_fact_cells(cells, policy_facts, level)
                check.errors.extend(level_errors)
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
        write_fact_values(
            session,
            actor=actor,
            project_id=project_id,
            decls=policy_facts,
            values=fact_values,
            reason=f"普查导入：{raw.filename}"[:200],
        )
        for level, rows in (("building", check.clean.buildings), ("member", check.clean.members)):
            write_element_fact_values(
                session,
                actor=actor,
                project_id=project_id,
                decls=policy_facts,
                level=level,
                values=element_values.get(level, {}),
                rows=rows,
                reason=f"普查导入：{raw.filename}"[:200],
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
