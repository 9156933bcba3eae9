"""user administration and audit filters

Issue 13 items 2 and 9: ``user.must_change_password`` (set by an administrator's password reset:
the one-time password only opens the change form), and two indexes for the audit page's filters
by person and by action, read newest first (keyset on ``seq``) over millions of records.

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-05 10:02:31+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.create_index("ix_audit_record_action", ["action", "seq"], unique=False)
        batch_op.create_index("ix_audit_record_actor", ["actor_id", "seq"], unique=False)
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_record_actor")
        batch_op.drop_index("ix_audit_record_action")
