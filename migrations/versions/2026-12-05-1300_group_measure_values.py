"""group measure values

Office-set group measures (#12 item 3): values the office records for a measure the policy
declares ``set_by: office`` (e.g. 整片腾空率 of a 片区), with an effective date, who and why.
Never updated: a correction is a new row.

Revision ID: 0020
Revises: 0021
Create Date: 2026-12-05 13:00:00+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import anju.db.base

revision = "0020"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_measure_value",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("measure_id", sa.String(length=64), nullable=False),
        sa.Column("block_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("value", sa.Numeric(precision=16, scale=4), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["block_id"], ["block.id"], name=op.f("fk_group_measure_value_block_id_block")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_group_measure_value_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_measure_value")),
    )
    with op.batch_alter_table("group_measure_value", schema=None) as batch_op:
        batch_op.create_index(
            "ix_group_measure_value_lookup",
            ["project_id", "measure_id", "block_id", "effective_on"],
            unique=False,
        )


def downgrade() -> None:
    # Dropping the table drops its index (MariaDB refuses to drop it first: the project foreign key uses it).
    op.drop_table("group_measure_value")
