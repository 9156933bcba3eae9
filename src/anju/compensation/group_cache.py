"""Group facts of a project, computed once per data version and updated incrementally.

Every calculation that may use a sign or vacate rate (the sheet, signing, the what-if, collective
rewards, the housing calculator) needs the project's group facts: each block's households, their
sign and vacate dates, certificates and legal area, and the office-set measures. Rebuilding them
from the whole project on every call cost 12-26x the calculation itself (#12 item 8).

They are kept per (database, project) in this process, keyed by the project's household data
version (:func:`anju.household.service.data_key`, a counter in the project row that every
household write bumps) and the identity of the recorded measure values: both are read from the
database, so a change made by another worker is seen on the next call. When the version moved,
only the households whose own version changed (or that appeared or were voided) are read again
and only their blocks are recounted: a signing or a vacating updates one block instead of the
whole project. A change of the block tree rebuilds everything.

A transaction that changed the project's households itself (it bumped the version and has not
committed) gets its own view, computed from the shared entry but never stored in it: a rolled
back version number could otherwise be reused by another writer.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from anju.compensation import group_measures
from anju.household import service as household_service
from anju.policy import facts
from anju.project import service as project_service

__all__ = ["STATS", "clear", "group_facts"]

Row = tuple[str, tuple[str, ...], date | None, date | None, int, int]

# How the cache answered, for the bench and the tests: hit, incremental, rebuild, measures.
STATS: Counter[str] = Counter()

_MAX = 16
_LOCK = threading.Lock()  # guards _CACHE and the published fields of entries
_PROJECT_LOCKS: dict[tuple[str, int], threading.Lock] = {}


@dataclass
class _Entry:
    data_key: tuple[Any, ...]
    measures_key: tuple[int, int]
    chains: dict[int, tuple[str, tuple[str, ...]]]
    versions: dict[int, int]  # household id -> version
    rows: dict[int, Row]  # household id -> (block code, chain, sign, vacate, certificates, area)
    members: dict[str, set[int]]  # block code -> household ids
    blocks: dict[str, facts.BlockGroup]
    measures: dict[str, dict[str, tuple[facts.MeasureValue, ...]]]
    group: facts.GroupFacts = field(default_factory=facts.GroupFacts)

    def copy(self) -> _Entry:
        return _Entry(
            self.data_key,
            self.measures_key,
            self.chains,
            dict(self.versions),
            dict(self.rows),
            {k: set(v) for k, v in self.members.items()},
            dict(self.blocks),
            self.measures,
            self.group,
        )


_CACHE: dict[tuple[str, int], _Entry] = {}


def clear() -> None:
    """Forget every cached project (tests, after a restore)."""
    with _LOCK:
        _CACHE.clear()


def _chains(session: Session, project_id: int) -> dict[int, tuple[str, tuple[str, ...]]]:
    """block id -> (own code, parent codes from the outermost)."""
    blocks = {b.id: b for b in project_service.blocks(session, project_id)}
    out: dict[int, tuple[str, tuple[str, ...]]] = {}
    for bid, b in blocks.items():
        chain: list[str] = []
        parent = b.parent_id
        while parent is not None and parent in blocks and len(chain) <= len(blocks):
            chain.append(blocks[parent].code)
            parent = blocks[parent].parent_id
        out[bid] = (b.code, tuple(reversed(chain)))
    return out


def _row(chains: dict[int, tuple[str, tuple[str, ...]]], r: household_service.GroupRow) -> Row:
    code, chain = chains.get(r[1], ("", ())) if r[1] else ("", ())
    return code, chain, r[2], r[3], r[4], r[5]


def _count_block(e: _Entry, code: str) -> None:
    """Recount one block from its households' rows (or drop it when it has none left)."""
    ids = e.members.get(code)
    if not ids:
        e.members.pop(code, None)
        e.blocks.pop(code, None)
        return
    blocks, _ = facts.build_blocks(e.rows[i] for i in ids)
    e.blocks[code] = blocks[code]


def _parents(e: _Entry) -> dict[str, str]:
    parents: dict[str, str] = {}
    chain_of = {row[0]: row[1] for row in (e.rows[next(iter(ids))] for ids in e.members.values() if ids)}
    for code, chain in chain_of.items():
        path = (*chain, code)
        for child, parent in zip(path[1:], path[:-1], strict=True):
            parents[child] = parent
    return parents


def _build(session: Session, project_id: int, data_key: tuple[Any, ...], mkey: tuple[int, int]) -> _Entry:
    chains = _chains(session, project_id)
    versions = household_service.household_versions(session, project_id=project_id)
    rows = {r[0]: _row(chains, r) for r in household_service.group_rows(session, project_id=project_id)}
    members: dict[str, set[int]] = {}
    for hid, row in rows.items():
        members.setdefault(row[0], set()).add(hid)
    blocks, _parents_unused = facts.build_blocks(rows.values())
    measures = group_measures.engine_values(session, project_id, {bid: c for bid, (c, _) in chains.items()})
    e = _Entry(data_key, mkey, chains, versions, rows, members, blocks, measures)
    e.group = facts.GroupFacts(blocks=dict(blocks), parents=_parents(e), measures=measures)
    return e


def _refresh(
    session: Session, project_id: int, e: _Entry, data_key: tuple[Any, ...], mkey: tuple[int, int]
) -> _Entry:
    """Bring ``e`` (mutated: the caller owns it) up to the database: only changed households."""
    if data_key != e.data_key:
        chains = _chains(session, project_id)
        if chains != e.chains:
            STATS["rebuild"] += 1
            return _build(session, project_id, data_key, mkey)
        versions = household_service.household_versions(session, project_id=project_id)
        changed = [hid for hid, v in versions.items() if e.versions.get(hid) != v]
        gone = [hid for hid in e.versions if hid not in versions]
        if len(changed) + len(gone) > max(64, len(versions) // 4):
            STATS["rebuild"] += 1
            return _build(session, project_id, data_key, mkey)
        STATS["incremental"] += 1
        touched: set[str] = set()
        for hid in [*changed, *gone]:
            old = e.rows.pop(hid, None)
            if old is not None:
                e.members.get(old[0], set()).discard(hid)
                touched.add(old[0])
        for r in household_service.group_rows(session, project_id=project_id, household_ids=changed):
            row = _row(chains, r)
            e.rows[r[0]] = row
            e.members.setdefault(row[0], set()).add(r[0])
            touched.add(row[0])
        e.versions = versions
        for code in touched:
            _count_block(e, code)
        e.data_key = data_key
    if mkey != e.measures_key:
        STATS["measures"] += 1
        e.measures = group_measures.engine_values(
            session, project_id, {bid: c for bid, (c, _) in e.chains.items()}
        )
        e.measures_key = mkey
    e.group = facts.GroupFacts(blocks=dict(e.blocks), parents=_parents(e), measures=e.measures)
    return e


def group_facts(session: Session, project_id: int) -> facts.GroupFacts:
    """The project's group facts as the database holds them now (see the module doc): block
    counts, sign and vacate dates with certificate and area weights, and office-set measures.
    The same object is returned while nothing changed, so its rates and the bulk evaluator's
    index of it are computed once per data version as well."""
    data_key = household_service.data_key(session, project_id=project_id)
    mkey = group_measures.measures_key(session, project_id)
    ck = (str(data_key[0]), project_id)
    private = project_service.households_written(session, project_id) or group_measures.measures_written(
        session, project_id
    )
    if private:
        own: _Entry | None = session.info.get(("anju.group_facts", project_id))
        if own is not None and own.data_key == data_key and own.measures_key == mkey:
            return own.group
    with _LOCK:
        entry = _CACHE.get(ck)
        if entry is not None and entry.data_key == data_key and entry.measures_key == mkey:
            STATS["hit"] += 1
            return entry.group
        lock = _PROJECT_LOCKS.setdefault(ck, threading.Lock())
    if private:
        base = entry.copy() if entry is not None else None
        mine = (
            _refresh(session, project_id, base, data_key, mkey)
            if base
            else _build(session, project_id, data_key, mkey)
        )
        if base is None:
            STATS["rebuild"] += 1
        session.info[("anju.group_facts", project_id)] = mine
        return mine.group
    with lock:
        with _LOCK:
            entry = _CACHE.get(ck)
        if entry is not None and entry.data_key == data_key and entry.measures_key == mkey:
            STATS["hit"] += 1
            return entry.group
        work = entry.copy() if entry is not None else None
        if work is None:
            STATS["rebuild"] += 1
            fresh = _build(session, project_id, data_key, mkey)
        else:
            fresh = _refresh(session, project_id, work, data_key, mkey)
        with _LOCK:
            _CACHE[ck] = fresh
            while len(_CACHE) > _MAX:
                _CACHE.pop(next(iter(_CACHE)))
        return fresh.group
