"""building- and member-level facts declared by the policy

A declared fact may belong to one of the household's buildings (certificates) or members
(``level: building`` / ``level: member``): ``household_fact`` gains the nullable ``building_id`` and
``member_id`` and a non-null ``subject`` key (``h``, ``b:<id>``, ``m:<id>``), unique with the household
and the fact. The key is not the nullable ids themselves because NULLs never compare equal in a
unique constraint (SQLite, PostgreSQL and MariaDB alike), which would let two household-level rows
of one fact in.

Revision ID: 0023
Revises: 0019
Create Date: 2026-12-05 16:00:00+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0019"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("household_fact") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=32), server_default="h", nullable=False))
        batch.add_column(sa.Column("building_id", _ID, nullable=True))
        batch.add_column(sa.Column("member_id", _ID, nullable=True))
        batch.create_foreign_key(
            op.f("fk_household_fact_building_id_building"), "building", ["building_id"], ["id"]
        )
        batch.create_foreign_key(op.f("fk_household_fact_member_id_member"), "member", ["member_id"], ["id"])
        batch.create_unique_constraint(
            op.f("uq_household_fact_household_id_fact_id_subject"), ["household_id", "fact_id", "subject"]
        )
        batch.drop_constraint(op.f("uq_household_fact_household_id_fact_id"), type_="unique")


def downgrade() -> None:
    op.execute("DELETE FROM household_fact WHERE subject <> 'h'")
    with op.batch_alter_table("household_fact") as batch:
        batch.create_unique_constraint(
            op.f("uq_household_fact_household_id_fact_id"), ["household_id", "fact_id"]
        )
        batch.drop_constraint(op.f("uq_household_fact_household_id_fact_id_subject"), type_="unique")
        batch.drop_constraint(op.f("fk_household_fact_member_id_member"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_household_fact_building_id_building"), type_="foreignkey")
        batch.drop_column("member_id")
        batch.drop_column("building_id")
        batch.drop_column("subject")
