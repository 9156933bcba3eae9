"""Pagination of list screens and API lists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_PAGE_SIZE = 200


@dataclass(frozen=True, slots=True)
class PageRequest:
    """1-based page number and a bounded page size."""

    page: int = 1
    size: int = 20

    @classmethod
    def of(cls, page: int | None, size: int | None, default_size: int = 20) -> PageRequest:
        """Clamp user-supplied values into range."""
        p = max(1, page or 1)
        s = min(MAX_PAGE_SIZE, max(1, size or default_size))
        return cls(page=p, size=s)

    @property
    def offset(self) -> int:
        """Rows to skip."""
        return (self.page - 1) * self.size


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results with the total count."""

    items: list[T]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // self.size))
