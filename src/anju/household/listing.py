"""Caches behind the household list: grouped counts and search matches per project data version.

A list request must stay fast on 100,000 households. Counting the project's households and
scanning ``search_text`` for a name are the two full passes; both results depend only on the
project's household data, so they are cached under the project's ``households_version`` (bumped
by every household write) and the highest household id (moved by bulk imports). The caches are
per process and bounded; every worker keeps its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

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
    """Identity of the project's current household data, cheap to read (two index lookups)."""
    version = project_service.households_version(session, project_id)
    max_id = session.scalar(select(func.max(Household.id)))
    return (str(session.get_bind().engine.url), project_id, version, max_id)


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


def grouped_counts(session: Session, project_id: int, key: tuple[Any, ...]) -> dict[tuple[int | None, str], int]:
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


def search(session: Session, project_id: int, needle: str, key: tuple[Any, ...]) -> SearchResult:
    """Live households of the project whose search text contains ``needle`` (cached per data version)."""

    def compute() -> SearchResult:
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

    return _cached(("search", needle, *key), compute)


def clear() -> None:
    """Forget everything (tests)."""
    with _lock:
        _cache.clear()
