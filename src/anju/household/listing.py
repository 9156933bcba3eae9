"""Caches behind the household list, per project data version and per worker process.

A list request must stay fast on 100,000 households. What depends only on the project's household
data is kept under the project's ``households_version`` (bumped by every household write and by
census imports) and the highest household id: the grouped counts, the search matches of each
needle, the rendered result tables, and the search text of every live household in one string
(read once, then patched from the households changed since). The caches are bounded.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.core.dates import utcnow
from anju.db import text
from anju.household.models import Household
from anju.project import service as project_service

T = TypeVar("T")
MAX_ENTRIES = 512
# Searches matching more households than this are paged by the database directly (frequent
# matches are found quickly in code order); fewer are kept as an id list and paged from it.
MATCH_LIST_LIMIT = 2000

_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_lock = threading.Lock()


def data_key(session: Session, project_id: int) -> tuple[Any, ...]:
    """Identity of the project's current household data, cheap to read (two index lookups).

    Kept for the session (one request) while the project's version stays the same: the list page
    and the list service both ask for it.
    """
    version = project_service.households_version(session, project_id)
    memo: tuple[Any, ...] | None = session.info.get(("listing.data_key", project_id))
    if memo is not None and memo[2] == version:
        return memo
    max_id = session.scalar(select(func.max(Household.id)))
    key = (str(session.get_bind().engine.url), project_id, version, max_id)
    session.info[("listing.data_key", project_id)] = key
    return key


def _cached(key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            value: T = _cache[key]
            return value
    value = compute()
    with _lock:
        _cache[key] = value
        while len(_cache) > MAX_ENTRIES:
            _cache.popitem(last=False)
    return value


def grouped_counts(
    session: Session, project_id: int, key: tuple[Any, ...]
) -> dict[tuple[int | None, str], int]:
    """``(block_id, status) -> live households`` of the whole project (one covering-index pass).

    ``key`` is :func:`data_key` of the project, read once per request.
    """

    def compute() -> dict[tuple[int | None, str], int]:
        rows = session.execute(
            select(Household.block_id, Household.status, func.count())
            .where(Household.project_id == project_id, Household.voided_at.is_(None))
            .group_by(Household.block_id, Household.status)
        ).all()
        return {(b, str(s)): int(n) for b, s, n in rows}

    return _cached(("counts", *key), compute)


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Households matching a search: their ids (``None`` when too many to list) and how many."""

    ids: list[int] | None
    total: int


@dataclass(frozen=True, slots=True)
class _Corpus:
    """Every live household's search text in one string, each text followed by a newline.

    A substring search over it runs at C speed (``str.find``) and costs a few milliseconds on
    100,000 households, where the database scans every row (35-70 ms on SQLite) per new needle.
    """

    text: str
    starts: list[int]  # offset of each household's text in ``text``, ascending
    ids: list[int]  # household id of each text, same order
    texts: dict[int, str]  # household id -> its text (what a refresh patches)
    max_id: int  # highest household id read
    read_at: datetime  # when it was read (this server's clock, UTC)


_SEPARATOR = "\n"
# Project id -> (data key, corpus): only the newest version of each project is kept (a corpus
# of 100,000 households is ~10 MB; the LRU above would keep hundreds of stale ones).
_corpora: dict[int, tuple[tuple[Any, ...], _Corpus]] = {}
#: A refresh re-reads the households changed since this long before the previous read, so that a
#: change made before that read but committed after it (a long transaction such as a census
#: import, or another server's clock running behind) is not missed. New households are also found
#: by id.
REFRESH_OVERLAP = timedelta(minutes=10)
#: When more than this share of the households changed, the search text is read afresh.
REBUILD_SHARE = 0.2


def _assemble(texts: dict[int, str], max_id: int, read_at: datetime) -> _Corpus:
    ids = sorted(texts)
    parts = [texts[i] for i in ids]
    starts = [0, *accumulate(len(t) + 1 for t in parts)][:-1] if parts else []
    return _Corpus(_SEPARATOR.join(parts) + _SEPARATOR, starts, ids, texts, max_id, read_at)


def _read(session: Session, *where: Any) -> list[Any]:
    columns = (Household.id, Household.search_text, Household.voided_at, Household.project_id)
    return list(session.execute(select(*columns).where(*where)))


def _build(session: Session, project_id: int) -> _Corpus:
    read_at = utcnow()
    rows = _read(session, Household.project_id == project_id)
    texts = {int(hid): text_ for hid, text_, voided_at, _ in rows if voided_at is None}
    return _assemble(texts, max((int(r[0]) for r in rows), default=0), read_at)


def _refresh(session: Session, project_id: int, old: _Corpus) -> _Corpus:
    """``old`` brought up to date from the households changed or added since it was read."""
    read_at = utcnow()
    # New households by primary key alone (with the project in the condition too, SQLite walks the
    # project's index instead); other projects' are dropped here.
    changed = [r for r in _read(session, Household.id > old.max_id) if r[3] == project_id]
    changed += _read(
        session, Household.project_id == project_id, Household.updated_at >= old.read_at - REFRESH_OVERLAP
    )
    if not changed:
        return replace(old, read_at=read_at)
    if len(changed) > REBUILD_SHARE * max(1, len(old.texts)):
        return _build(session, project_id)
    texts = dict(old.texts)
    for hid, text_, voided_at, _ in changed:
        if voided_at is None:
            texts[int(hid)] = text_
        else:
            texts.pop(int(hid), None)
    return _assemble(texts, max([old.max_id, *(int(r[0]) for r in changed)]), read_at)


def _corpus(session: Session, project_id: int, key: tuple[Any, ...]) -> _Corpus:
    """The project's search text at ``key``: read once per worker, then patched as households change."""
    with _lock:
        hit = _corpora.get(project_id)
    if hit is not None and hit[0] == key:
        return hit[1]
    corpus = _refresh(session, project_id, hit[1]) if hit is not None else _build(session, project_id)
    with _lock:
        _corpora[project_id] = (key, corpus)
    return corpus


def search(session: Session, project_id: int, needle: str, key: tuple[Any, ...]) -> SearchResult:
    """Live households of the project whose search text contains ``needle`` (cached per data version)."""

    def scan() -> SearchResult:
        match = (
            Household.project_id == project_id,
            Household.voided_at.is_(None),
            text.contains(session, Household.search_text, needle),
        )
        ids = list(session.scalars(select(Household.id).where(*match).limit(MATCH_LIST_LIMIT + 1)))
        if len(ids) <= MATCH_LIST_LIMIT:
            return SearchResult(ids, len(ids))
        total = int(session.scalar(select(func.count()).select_from(Household).where(*match)) or 0)
        return SearchResult(None, total)

    def compute() -> SearchResult:
        if not needle or _SEPARATOR in needle:
            return scan()  # the separator would match across households
        corpus = _corpus(session, project_id, key)
        found: list[int] = []
        find, starts = corpus.text.find, corpus.starts
        pos = find(needle)
        while pos != -1:
            k = bisect_right(starts, pos) - 1
            found.append(corpus.ids[k])
            # Continue after this household's text: one hit per household.
            pos = find(needle, starts[k + 1]) if k + 1 < len(starts) else -1
        if len(found) <= MATCH_LIST_LIMIT:
            return SearchResult(found, len(found))
        return SearchResult(None, len(found))

    return _cached(("search", needle, *key), compute)


def results_html(key: tuple[Any, ...], render: Callable[[], str]) -> str:
    """The rendered result table of one list request, cached per data version.

    ``key`` is :func:`data_key` plus everything the table depends on (query, filters, sort,
    page, language). Only whole-project lists are cached: the table holds nothing of the user.
    """
    return _cached(("html", *key), render)


def clear() -> None:
    """Forget everything (tests)."""
    with _lock:
        _cache.clear()
        _corpora.clear()
