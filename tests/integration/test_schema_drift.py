"""The migrated schema equals the models on every backend (no drift)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from anju.db.registry import Base


def test_migrations_match_models(engine_for: Engine) -> None:
    with engine_for.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []
