"""housing building rise

The 楼型 (多层 / 高层) of a resettlement building, for ``flat.rise`` in compensation formulas
(#12 item 2); NULL = by the floors count (10 and more: 高层).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 16:00:00+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("housing_building", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rise", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("housing_building", schema=None) as batch_op:
        batch_op.drop_column("rise")
