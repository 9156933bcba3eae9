"""receivables

Resettlement settlement (#11 item 6): money a household owes the office under its agreement
(应收款), e.g. the difference it pays for its chosen flats; finance records the receipt.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 09:30:00+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import anju.db.base

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "receivable",
        sa.Column("agreement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=128), nullable=False),
        sa.Column("amount_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("received_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=True),
        sa.Column("receipt_ref", sa.String(length=200), nullable=False),
        sa.Column("received_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column("cancelled_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("cancel_reason", sa.String(length=500), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"], ["agreement.id"], name=op.f("fk_receivable_agreement_id_agreement")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_receivable_household_id_household")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_receivable_project_id_project")
        ),
        sa.ForeignKeyConstraint(["received_by"], ["user.id"], name=op.f("fk_receivable_received_by_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receivable")),
    )
    with op.batch_alter_table("receivable", schema=None) as batch_op:
        batch_op.create_index("ix_receivable_household", ["household_id"], unique=False)
        batch_op.create_index("ix_receivable_project", ["project_id"], unique=False)


def downgrade() -> None:
    # The table only: its indexes go with it (MariaDB refuses to drop an index a foreign key uses).
    op.drop_table("receivable")
