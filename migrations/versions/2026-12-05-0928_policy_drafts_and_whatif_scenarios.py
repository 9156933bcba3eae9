"""policy drafts and whatif scenarios

Policy drafts edited in the form or as YAML (#13 item 5): immutable, numbered per project.
Named what-if scenarios (#13 item 6): parameter overrides as JSON, archived instead of deleted.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 09:28:43.762375+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import anju.db.base

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_draft",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("based_on", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "source",
            sa.Text().with_variant(mysql.LONGTEXT(), "mariadb").with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["policy_draft.id"], name=op.f("fk_policy_draft_parent_id_policy_draft")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_policy_draft_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_draft")),
        sa.UniqueConstraint("project_id", "number", name=op.f("uq_policy_draft_project_id_number")),
    )
    with op.batch_alter_table("policy_draft", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policy_draft_project_id"), ["project_id"], unique=False)

    op.create_table(
        "whatif_scenario",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("option", sa.String(length=32), nullable=False),
        sa.Column(
            "overrides",
            sa.Text().with_variant(mysql.LONGTEXT(), "mariadb").with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column("archived_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("archived_by", sa.String(length=64), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_whatif_scenario_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatif_scenario")),
    )
    with op.batch_alter_table("whatif_scenario", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_whatif_scenario_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    # Dropping a table drops its indexes (MySQL refuses to drop one a foreign key needs).
    op.drop_table("whatif_scenario")
    op.drop_table("policy_draft")
