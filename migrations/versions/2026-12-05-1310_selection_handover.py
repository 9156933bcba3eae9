"""selection handover date

The keys of a chosen resettlement flat handed over (交钥匙): the household's move-back date
(回迁), a fact compensation plans compute with (#12 item 2).

Revision ID: 0021
Revises: 0022
Create Date: 2026-12-05 13:10:00+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("selection", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handed_over_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("selection", schema=None) as batch_op:
        batch_op.drop_column("handed_over_on")
