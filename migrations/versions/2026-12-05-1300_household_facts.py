"""household facts declared by the policy

Facts a project's policy declares in its ``facts:`` block (#12 item 1: count of air conditioners,
committee-determined reward area ...), one row per household and fact, the value as text typed by
the declaration.

Revision ID: 0019
Revises: 0020
Create Date: 2026-12-05 13:00:00+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import anju.db.base

revision = "0019"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "household_fact",
        sa.Column("household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fact_id", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=True),
        sa.Column("updated_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_household_fact_household_id_household")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_fact")),
        sa.UniqueConstraint("household_id", "fact_id", name=op.f("uq_household_fact_household_id_fact_id")),
    )


def downgrade() -> None:
    op.drop_table("household_fact")
