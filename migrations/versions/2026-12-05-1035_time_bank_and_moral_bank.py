"""time bank and moral bank

Volunteer time bank and moral bank (#14 item 6): volunteers, accounts and the double-entry ledger,
activities, sign-ups with check-in/out, hours claims with two reviewers, the catalogue, redemptions,
configurable rules (bank_setting), moral-bank earning rules and publicly shown awards.

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-05 10:35:15.033635+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import anju.db.base

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bank_setting",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_bank_setting")),
    )
    op.create_table(
        "catalogue_item",
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_item")),
    )
    op.create_table(
        "moral_rule",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moral_rule")),
        sa.UniqueConstraint("code", name=op.f("uq_moral_rule_code")),
    )
    op.create_table(
        "time_account",
        sa.Column("owner_kind", sa.String(length=16), nullable=False),
        sa.Column("owner_ref", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("balance", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_account")),
        sa.UniqueConstraint(
            "owner_kind", "owner_ref", "unit", name=op.f("uq_time_account_owner_kind_owner_ref_unit")
        ),
    )
    op.create_table(
        "ledger_entry",
        sa.Column("transfer_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amount", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reverses", sa.String(length=36), nullable=False),
        sa.Column("memo", sa.String(length=200), nullable=False),
        sa.Column("actor_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["time_account.id"], name=op.f("fk_ledger_entry_account_id_time_account")
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"], ["user.id"], name=op.f("fk_ledger_entry_actor_user_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entry")),
    )
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_entry_account", ["account_id", "id"], unique=False)
        batch_op.create_index("ix_ledger_entry_transfer", ["transfer_id"], unique=False)

    op.create_table(
        "volunteer",
        sa.Column("community_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("family_code", sa.String(length=32), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_volunteer_community_id_community")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_volunteer_household_id_household")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_volunteer_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer")),
        sa.UniqueConstraint("phone", name=op.f("uq_volunteer_phone")),
    )
    with op.batch_alter_table("volunteer", schema=None) as batch_op:
        batch_op.create_index("ix_volunteer_community", ["community_id"], unique=False)

    op.create_table(
        "volunteer_activity",
        sa.Column("community_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("grid_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("starts_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column("ends_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("minutes_offered", sa.Integer(), nullable=False),
        sa.Column("team_name", sa.String(length=64), nullable=False),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_volunteer_activity_community_id_community")
        ),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"], name=op.f("fk_volunteer_activity_grid_id_grid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer_activity")),
    )
    with op.batch_alter_table("volunteer_activity", schema=None) as batch_op:
        batch_op.create_index("ix_volunteer_activity_starts", ["starts_at"], unique=False)

    op.create_table(
        "moral_award",
        sa.Column("volunteer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rule_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("deed", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("publicity_ends_on", sa.Date(), nullable=False),
        sa.Column("objection", sa.String(length=500), nullable=False),
        sa.Column("transfer_id", sa.String(length=36), nullable=False),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"], name=op.f("fk_moral_award_created_by_user")),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["moral_rule.id"], name=op.f("fk_moral_award_rule_id_moral_rule")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteer.id"], name=op.f("fk_moral_award_volunteer_id_volunteer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moral_award")),
    )
    with op.batch_alter_table("moral_award", schema=None) as batch_op:
        batch_op.create_index("ix_moral_award_status", ["status"], unique=False)

    op.create_table(
        "redemption",
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("volunteer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("transfer_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["catalogue_item.id"], name=op.f("fk_redemption_item_id_catalogue_item")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteer.id"], name=op.f("fk_redemption_volunteer_id_volunteer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemption")),
    )
    op.create_table(
        "volunteer_signup",
        sa.Column("activity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("volunteer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("checked_in_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("checked_out_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["volunteer_activity.id"],
            name=op.f("fk_volunteer_signup_activity_id_volunteer_activity"),
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteer.id"], name=op.f("fk_volunteer_signup_volunteer_id_volunteer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer_signup")),
        sa.UniqueConstraint(
            "activity_id", "volunteer_id", name=op.f("uq_volunteer_signup_activity_id_volunteer_id")
        ),
    )
    op.create_table(
        "hours_claim",
        sa.Column("signup_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("volunteer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_reviewer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("second_reviewer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reject_reason", sa.String(length=200), nullable=False),
        sa.Column("transfer_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["first_reviewer_id"], ["user.id"], name=op.f("fk_hours_claim_first_reviewer_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["second_reviewer_id"], ["user.id"], name=op.f("fk_hours_claim_second_reviewer_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["signup_id"], ["volunteer_signup.id"], name=op.f("fk_hours_claim_signup_id_volunteer_signup")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteer.id"], name=op.f("fk_hours_claim_volunteer_id_volunteer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hours_claim")),
        sa.UniqueConstraint("signup_id", name=op.f("uq_hours_claim_signup_id")),
    )
    with op.batch_alter_table("hours_claim", schema=None) as batch_op:
        batch_op.create_index("ix_hours_claim_status", ["status"], unique=False)


def downgrade() -> None:
    # Dropping a table drops its indexes (MariaDB refuses to drop an index a foreign key uses first).
    op.drop_table("hours_claim")
    op.drop_table("volunteer_signup")
    op.drop_table("redemption")
    op.drop_table("moral_award")
    op.drop_table("volunteer_activity")
    op.drop_table("volunteer")
    op.drop_table("ledger_entry")
    op.drop_table("time_account")
    op.drop_table("moral_rule")
    op.drop_table("catalogue_item")
    op.drop_table("bank_setting")
