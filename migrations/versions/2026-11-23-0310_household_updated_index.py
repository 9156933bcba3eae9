"""household updated index

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 03:10:00+00:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Finds the households changed since a moment (the list's search text is refreshed from them)
    # and serves the list sorted by last change.
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.create_index("ix_household_project_updated", ["project_id", "updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.drop_index("ix_household_project_updated")
