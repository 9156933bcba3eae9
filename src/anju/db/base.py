"""Declarative base, constraint naming convention and portable column types.

Every type here maps to plain SQL that SQLite, PostgreSQL(-family) and MySQL(-family) all
understand, so the schema can move to openGauss, KingbaseES, TiDB or OceanBase unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, MetaData, Numeric, Text, TypeDecorator
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY; elsewhere ids are 64-bit.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# Integer fen; 64-bit everywhere.
Fen = BigInteger().with_variant(Integer(), "sqlite")
# Long text: MySQL's TEXT stops at 64 KiB, audit snapshots and GeoJSON may be larger.
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
# Bytes of an uploaded template or similar small document (MariaDB BLOB stops at 64 KiB).
LongBlob = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


class UTCDateTime(TypeDecorator[datetime]):
    """Store instants as naive UTC (portable), hand them back timezone-aware in UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite raw text in some aggregate paths
            value = datetime.fromisoformat(value)
        result: datetime = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return result


class Area(TypeDecorator[Decimal]):
    """Area in ㎡ with 2 decimals, always handed back as ``Decimal`` (SQLite stores it as text-safe numeric)."""

    impl = Numeric(12, 2, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(value).quantize(Decimal("0.01"))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).quantize(Decimal("0.01"))


class Base(DeclarativeBase):
    """Base of every model; tables are singular nouns from the glossary."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class IdMixin:
    """Surrogate integer primary key."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)


class VersionMixin:
    """Optimistic concurrency: every change raises ``version``; a write that names a stale one is refused."""

    version: Mapped[int] = mapped_column(Integer, server_default="1")
