"""login attempt outcome

Every login attempt is recorded: ``outcome`` tells a success, a wrong password and an attempt
refused by throttling apart (a refused attempt does not count as a failure, so waiting out a lock
is not prolonged by trying). Rows written before this revision are failures ('').

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 00:40:00+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=16), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.drop_column("outcome")
