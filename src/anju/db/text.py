"""Portable text predicates that use each backend's fastest plain substring test."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func
from sqlalchemy.orm import Session


def contains(session: Session, column: Any, needle: str) -> ColumnElement[bool]:
    """``needle`` occurs in ``column`` (case-sensitive; callers lower-case both sides).

    ``instr``/``strpos`` compare bytes; SQLite's ``LIKE`` folds case character by character and
    is about twice as slow on CJK text, and needs escaping of ``%`` and ``_``.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return func.strpos(column, needle) > 0
    return func.instr(column, needle) > 0
