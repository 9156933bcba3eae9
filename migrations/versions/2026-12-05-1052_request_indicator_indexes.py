"""request indicator indexes

Indicators of the five-order loop (#14 item 3) select requests whose deadline to close or whose
closing falls in a month, the public board lists results newest first, and the map counts open
requests per grid: index those.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 10:52:00+00:00
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.create_index("ix_service_request_close_due", ["close_due_at"], unique=False)
        batch_op.create_index("ix_service_request_closed", ["closed_at"], unique=False)
        batch_op.create_index("ix_service_request_published", ["published_at"], unique=False)
        batch_op.create_index("ix_service_request_open_grid", ["status", "grid_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.drop_index("ix_service_request_open_grid")
        batch_op.drop_index("ix_service_request_published")
        batch_op.drop_index("ix_service_request_closed")
        batch_op.drop_index("ix_service_request_close_due")
