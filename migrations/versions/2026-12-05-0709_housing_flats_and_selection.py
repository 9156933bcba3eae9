"""housing flats and selection

Resettlement flats (#11): estates with their delivery dates, buildings, flat types, the flat
stock (unique code per estate, status, price tier), selection events over one or more estates
with the lottery commitment (seed hash, seed source, roster and its hash), the fixed selection
order, and selections (one live selection per flat through the unique ``flat_lock`` column).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 07:09:00+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import anju.db.base

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "estate",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("planned_delivery_on", sa.Date(), nullable=True),
        sa.Column("actual_delivery_on", sa.Date(), nullable=True),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], name=op.f("fk_estate_project_id_project")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_estate")),
        sa.UniqueConstraint("project_id", "code", name=op.f("uq_estate_project_id_code")),
    )
    op.create_table(
        "flat_type",
        sa.Column("estate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("plan_sha256", sa.String(length=64), nullable=True),
        sa.Column("plan_filename", sa.String(length=200), nullable=True),
        sa.Column("gross_area", anju.db.base.Area(precision=12, scale=2), nullable=True),
        sa.Column("inner_area", anju.db.base.Area(precision=12, scale=2), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(["estate_id"], ["estate.id"], name=op.f("fk_flat_type_estate_id_estate")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flat_type")),
        sa.UniqueConstraint("estate_id", "code", name=op.f("uq_flat_type_estate_id_code")),
    )
    op.create_table(
        "housing_building",
        sa.Column("estate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("floors", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["estate_id"], ["estate.id"], name=op.f("fk_housing_building_estate_id_estate")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_housing_building")),
        sa.UniqueConstraint("estate_id", "code", name=op.f("uq_housing_building_estate_id_code")),
    )
    op.create_table(
        "selection_event",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=True),
        sa.Column("order_kind", sa.String(length=16), nullable=False),
        sa.Column("seed", sa.String(length=500), nullable=True),
        sa.Column("seed_source", sa.String(length=500), nullable=False),
        sa.Column("seed_committed_hash", sa.String(length=64), nullable=True),
        sa.Column("seed_published_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column(
            "roster",
            sa.Text().with_variant(mysql.LONGTEXT(), "mariadb").with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column("roster_hash", sa.String(length=64), nullable=False),
        sa.Column("order_fixed_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("current_position", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"], name=op.f("fk_selection_event_created_by_user")),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_selection_event_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_selection_event")),
    )
    with op.batch_alter_table("selection_event", schema=None) as batch_op:
        batch_op.create_index("ix_selection_event_project", ["project_id"], unique=False)

    op.create_table(
        "flat",
        sa.Column("estate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("building_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("flat_type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("unit", sa.Integer(), nullable=False),
        sa.Column("floor", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("gross_area", anju.db.base.Area(precision=12, scale=2), nullable=False),
        sa.Column("inner_area", anju.db.base.Area(precision=12, scale=2), nullable=False),
        sa.Column("shared_area", anju.db.base.Area(precision=12, scale=2), nullable=False),
        sa.Column("orientation", sa.String(length=16), nullable=False),
        sa.Column("price_tier", sa.String(length=32), nullable=False),
        sa.Column(
            "market_unit_price_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=200), nullable=False),
        sa.Column("status_changed_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("selection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["building_id"], ["housing_building.id"], name=op.f("fk_flat_building_id_housing_building")
        ),
        sa.ForeignKeyConstraint(["estate_id"], ["estate.id"], name=op.f("fk_flat_estate_id_estate")),
        sa.ForeignKeyConstraint(
            ["flat_type_id"], ["flat_type.id"], name=op.f("fk_flat_flat_type_id_flat_type")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_flat_household_id_household")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flat")),
        sa.UniqueConstraint("estate_id", "code", name=op.f("uq_flat_estate_id_code")),
    )
    with op.batch_alter_table("flat", schema=None) as batch_op:
        batch_op.create_index("ix_flat_building", ["building_id"], unique=False)
        batch_op.create_index("ix_flat_estate_status", ["estate_id", "status"], unique=False)
        batch_op.create_index("ix_flat_household", ["household_id"], unique=False)

    op.create_table(
        "selection_event_estate",
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("estate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["estate_id"], ["estate.id"], name=op.f("fk_selection_event_estate_estate_id_estate")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["selection_event.id"],
            name=op.f("fk_selection_event_estate_event_id_selection_event"),
        ),
        sa.PrimaryKeyConstraint("event_id", "estate_id", name=op.f("pk_selection_event_estate")),
    )
    op.create_table(
        "selection_order_entry",
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("call_order", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sign_no", sa.Integer(), nullable=True),
        sa.Column("draw_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["selection_event.id"],
            name=op.f("fk_selection_order_entry_event_id_selection_event"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_selection_order_entry_household_id_household")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_selection_order_entry")),
        sa.UniqueConstraint(
            "event_id", "household_id", name=op.f("uq_selection_order_entry_event_id_household_id")
        ),
        sa.UniqueConstraint("event_id", "position", name=op.f("uq_selection_order_entry_event_id_position")),
    )
    with op.batch_alter_table("selection_order_entry", schema=None) as batch_op:
        batch_op.create_index("ix_selection_order_entry_call", ["event_id", "call_order"], unique=False)

    op.create_table(
        "selection",
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("flat_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("flat_lock", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("agreement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("selected_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column("operator_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("undone_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("undone_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("undo_reason", sa.String(length=500), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["agreement_id"], ["agreement.id"], name=op.f("fk_selection_agreement_id_agreement")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["selection_event.id"], name=op.f("fk_selection_event_id_selection_event")
        ),
        sa.ForeignKeyConstraint(["flat_id"], ["flat.id"], name=op.f("fk_selection_flat_id_flat")),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_selection_household_id_household")
        ),
        sa.ForeignKeyConstraint(["operator_id"], ["user.id"], name=op.f("fk_selection_operator_id_user")),
        sa.ForeignKeyConstraint(["undone_by"], ["user.id"], name=op.f("fk_selection_undone_by_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_selection")),
        sa.UniqueConstraint("flat_lock", name=op.f("uq_selection_flat_lock")),
    )
    with op.batch_alter_table("selection", schema=None) as batch_op:
        batch_op.create_index("ix_selection_event_household", ["event_id", "household_id"], unique=False)
        batch_op.create_index("ix_selection_flat", ["flat_id"], unique=False)


def downgrade() -> None:
    # Tables only, in reverse order: their indexes go with them (MariaDB refuses to drop an index a
    # foreign key uses).
    op.drop_table("selection")
    op.drop_table("selection_order_entry")
    op.drop_table("selection_event_estate")
    op.drop_table("flat")
    op.drop_table("selection_event")
    op.drop_table("housing_building")
    op.drop_table("flat_type")
    op.drop_table("estate")
