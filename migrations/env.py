"""Alembic environment: the URL comes from the caller (anju.db.migrate) or the settings."""

from __future__ import annotations

from alembic import context

from anju.config import get_settings
from anju.db.registry import Base
from anju.db.session import make_engine

config = context.config
url = config.attributes.get("database_url") or get_settings().effective_database_url
connection = config.attributes.get("connection")


def _run(conn) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=conn,
        target_metadata=Base.metadata,
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
