"""user administration and audit filters

Issue 13 items 2 and 9: ``user.must_change_password`` (set by an administrator's password reset:
the one-time password only opens the change form), and two indexes for the audit page's filters
by person and by action, read newest first (keyset on ``seq``) over millions of records.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 10:02:31+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, not batch mode: on SQLite a batch rebuild of ``user`` drops the table, which
# every foreign key to it refuses once it holds rows. SQLite (>= 3.35) adds and drops columns itself.


def upgrade() -> None:
    op.create_index("ix_audit_record_action", "audit_record", ["action", "seq"], unique=False)
    op.create_index("ix_audit_record_actor", "audit_record", ["actor_id", "seq"], unique=False)
    op.add_column(
        "user", sa.Column("must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False)
    )


def downgrade() -> None:
    op.drop_column("user", "must_change_password")
    op.drop_index("ix_audit_record_actor", table_name="audit_record")
    op.drop_index("ix_audit_record_action", table_name="audit_record")
