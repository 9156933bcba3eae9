"""request submit address and the work calendar

Residents file requests without an account, so the public form is rate-limited per network
address: ``service_request.submit_address`` keeps a salted digest of it (never the address itself),
indexed with the time of submission. ``work_calendar`` holds the office's public holidays and
make-up working days (调休), which the deadlines on working days and hours count with.

Revision ID: 0022
Revises: 0018
Create Date: 2026-12-05 13:00:00+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("submit_address", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.create_index(
            "ix_service_request_submit_address", ["submit_address", "submitted_at"], unique=False
        )
    op.create_table(
        "work_calendar",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_calendar")),
        sa.UniqueConstraint("day", name=op.f("uq_work_calendar_day")),
    )


def downgrade() -> None:
    op.drop_table("work_calendar")
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.drop_index("ix_service_request_submit_address")
        batch_op.drop_column("submit_address")
