"""signing and payments

Signing, agreements, sign order numbers, payments (#10): agreements with frozen snapshots,
the per-project sign counter and signing terms, amendment/cancellation requests, payment
schedules (instalments), payment batches and payments, vacating / demolition / tenant
clearance records, and uploaded agreement templates.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 06:22:42.840887+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import anju.db.base

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_counter",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("last_no", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_sign_counter_project_id_project")
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_sign_counter")),
    )
    op.create_table(
        "agreement_template",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("option", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "content",
            sa.LargeBinary()
            .with_variant(mysql.LONGBLOB(), "mariadb")
            .with_variant(mysql.LONGBLOB(), "mysql"),
            nullable=False,
        ),
        sa.Column("uploaded_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("uploaded_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column("retired_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_agreement_template_project_id_project")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["user.id"], name=op.f("fk_agreement_template_uploaded_by_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_template")),
    )
    with op.batch_alter_table("agreement_template", schema=None) as batch_op:
        batch_op.create_index("ix_agreement_template_project_option", ["project_id", "option"], unique=False)

    op.create_table(
        "payment_batch",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("batch_no", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("prepared_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("prepared_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column("submitted_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("approved_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("approved_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("exported_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("closed_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["approved_by"], ["user.id"], name=op.f("fk_payment_batch_approved_by_user")),
        sa.ForeignKeyConstraint(["prepared_by"], ["user.id"], name=op.f("fk_payment_batch_prepared_by_user")),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_payment_batch_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_batch")),
        sa.UniqueConstraint("project_id", "batch_no", name=op.f("uq_payment_batch_project_id_batch_no")),
    )
    with op.batch_alter_table("payment_batch", schema=None) as batch_op:
        batch_op.create_index("ix_payment_batch_status", ["status"], unique=False)

    op.create_table(
        "signing_terms",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("agreement_prefix", sa.String(length=32), nullable=False),
        sa.Column("on_sign_share_bp", sa.Integer(), nullable=False),
        sa.Column("condition_kind", sa.String(length=16), nullable=False),
        sa.Column("condition_rate_bp", sa.Integer(), nullable=False),
        sa.Column("condition_deadline_on", sa.Date(), nullable=True),
        sa.Column("updated_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("updated_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_signing_terms_project_id_project")
        ),
        sa.ForeignKeyConstraint(["updated_by"], ["user.id"], name=op.f("fk_signing_terms_updated_by_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_terms")),
        sa.UniqueConstraint("project_id", name=op.f("uq_signing_terms_project_id")),
    )
    op.create_table(
        "agreement",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("agreement_no", sa.String(length=64), nullable=False),
        sa.Column("sign_no", sa.Integer(), nullable=False),
        sa.Column("sign_no_issued_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("sign_no_issued_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column("option", sa.String(length=16), nullable=False),
        sa.Column("sign_on", sa.Date(), nullable=False),
        sa.Column("signed_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("snapshot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("total_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("payee_name", sa.String(length=64), nullable=False),
        sa.Column("payee_bank", sa.String(length=128), nullable=False),
        sa.Column("payee_account", sa.String(length=64), nullable=False),
        sa.Column("condition_kind", sa.String(length=16), nullable=False),
        sa.Column("condition_rate_bp", sa.Integer(), nullable=False),
        sa.Column("condition_block_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("condition_deadline_on", sa.Date(), nullable=True),
        sa.Column("decided_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("effective_on", sa.Date(), nullable=True),
        sa.Column("amendment_flag", sa.Boolean(), nullable=False),
        sa.Column("amendment_diff_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amendment_checked_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column("ended_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=500), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["condition_block_id"], ["block.id"], name=op.f("fk_agreement_condition_block_id_block")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_agreement_household_id_household")
        ),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], name=op.f("fk_agreement_project_id_project")),
        sa.ForeignKeyConstraint(
            ["sign_no_issued_by"], ["user.id"], name=op.f("fk_agreement_sign_no_issued_by_user")
        ),
        sa.ForeignKeyConstraint(["signed_by"], ["user.id"], name=op.f("fk_agreement_signed_by_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement")),
        sa.UniqueConstraint("agreement_no", name=op.f("uq_agreement_agreement_no")),
        sa.UniqueConstraint("project_id", "sign_no", name=op.f("uq_agreement_project_id_sign_no")),
    )
    with op.batch_alter_table("agreement", schema=None) as batch_op:
        batch_op.create_index("ix_agreement_household", ["household_id"], unique=False)
        batch_op.create_index("ix_agreement_project_status", ["project_id", "status"], unique=False)

    op.create_table(
        "demolition_record",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("demolished_on", sa.Date(), nullable=False),
        sa.Column("contractor", sa.String(length=128), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("photo_ids", sa.String(length=500), nullable=False),
        sa.Column("recorded_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("recorded_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column("voided_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("void_reason", sa.String(length=500), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_demolition_record_household_id_household")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_demolition_record_project_id_project")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["user.id"], name=op.f("fk_demolition_record_recorded_by_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demolition_record")),
    )
    with op.batch_alter_table("demolition_record", schema=None) as batch_op:
        batch_op.create_index("ix_demolition_record_household", ["household_id"], unique=False)

    op.create_table(
        "agreement_snapshot",
        sa.Column("agreement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("policy_version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("policy_hash", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column(
            "facts",
            sa.Text().with_variant(mysql.LONGTEXT(), "mariadb").with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column("facts_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "group",
            sa.Text().with_variant(mysql.LONGTEXT(), "mariadb").with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "items",
            sa.Text().with_variant(mysql.LONGTEXT(), "mariadb").with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "swap",
            sa.Text().with_variant(mysql.LONGTEXT(), "mariadb").with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column("total_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["agreement_id"], ["agreement.id"], name=op.f("fk_agreement_snapshot_agreement_id_agreement")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user.id"], name=op.f("fk_agreement_snapshot_created_by_user")
        ),
        sa.ForeignKeyConstraint(
            ["policy_version_id"],
            ["policy_version.id"],
            name=op.f("fk_agreement_snapshot_policy_version_id_policy_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_snapshot")),
        sa.UniqueConstraint(
            "agreement_id", "revision", name=op.f("uq_agreement_snapshot_agreement_id_revision")
        ),
    )
    op.create_table(
        "instalment",
        sa.Column("agreement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=128), nullable=False),
        sa.Column("item_ids", sa.String(length=500), nullable=False),
        sa.Column("amount_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("committed_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("paid_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"], ["agreement.id"], name=op.f("fk_instalment_agreement_id_agreement")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_instalment_household_id_household")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_instalment_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instalment")),
    )
    with op.batch_alter_table("instalment", schema=None) as batch_op:
        batch_op.create_index("ix_instalment_agreement", ["agreement_id"], unique=False)
        batch_op.create_index("ix_instalment_project_status", ["project_id", "status"], unique=False)

    op.create_table(
        "tenant_clearance",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cleared_on", sa.Date(), nullable=False),
        sa.Column(
            "checklist",
            sa.Text().with_variant(mysql.LONGTEXT(), "mariadb").with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column("inspector", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("photo_ids", sa.String(length=500), nullable=False),
        sa.Column("recorded_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("recorded_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column("voided_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("void_reason", sa.String(length=500), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_tenant_clearance_household_id_household")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_tenant_clearance_project_id_project")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["user.id"], name=op.f("fk_tenant_clearance_recorded_by_user")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_tenant_clearance_tenant_id_tenant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_clearance")),
    )
    with op.batch_alter_table("tenant_clearance", schema=None) as batch_op:
        batch_op.create_index("ix_tenant_clearance_project_on", ["project_id", "cleared_on"], unique=False)

    op.create_table(
        "vacate_record",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("agreement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("vacated_on", sa.Date(), nullable=False),
        sa.Column(
            "checklist",
            sa.Text().with_variant(mysql.LONGTEXT(), "mariadb").with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column("keys_handed", sa.Integer(), nullable=False),
        sa.Column("inspector", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("photo_ids", sa.String(length=500), nullable=False),
        sa.Column(
            "reward_instalment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("recorded_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("recorded_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column("voided_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("void_reason", sa.String(length=500), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["agreement_id"], ["agreement.id"], name=op.f("fk_vacate_record_agreement_id_agreement")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_vacate_record_household_id_household")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_vacate_record_project_id_project")
        ),
        sa.ForeignKeyConstraint(["recorded_by"], ["user.id"], name=op.f("fk_vacate_record_recorded_by_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vacate_record")),
    )
    with op.batch_alter_table("vacate_record", schema=None) as batch_op:
        batch_op.create_index("ix_vacate_record_household", ["household_id"], unique=False)

    op.create_table(
        "agreement_change",
        sa.Column("agreement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("requested_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("decided_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=False),
        sa.Column("snapshot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"], ["agreement.id"], name=op.f("fk_agreement_change_agreement_id_agreement")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["user.id"], name=op.f("fk_agreement_change_decided_by_user")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_agreement_change_project_id_project")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["user.id"], name=op.f("fk_agreement_change_requested_by_user")
        ),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["agreement_snapshot.id"],
            name=op.f("fk_agreement_change_snapshot_id_agreement_snapshot"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_change")),
    )
    with op.batch_alter_table("agreement_change", schema=None) as batch_op:
        batch_op.create_index("ix_agreement_change_status", ["status", "agreement_id"], unique=False)

    op.create_table(
        "payment",
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("agreement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("instalment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("payee_name", sa.String(length=64), nullable=False),
        sa.Column("payee_bank", sa.String(length=128), nullable=False),
        sa.Column("payee_account", sa.String(length=64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("purpose", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("bank_ref", sa.String(length=64), nullable=False),
        sa.Column("failure_reason", sa.String(length=200), nullable=False),
        sa.Column("result_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"], ["agreement.id"], name=op.f("fk_payment_agreement_id_agreement")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["payment_batch.id"], name=op.f("fk_payment_batch_id_payment_batch")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_payment_household_id_household")
        ),
        sa.ForeignKeyConstraint(
            ["instalment_id"], ["instalment.id"], name=op.f("fk_payment_instalment_id_instalment")
        ),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], name=op.f("fk_payment_project_id_project")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
    )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_index("ix_payment_agreement", ["agreement_id"], unique=False)
        batch_op.create_index("ix_payment_batch", ["batch_id"], unique=False)
        batch_op.create_index("ix_payment_instalment", ["instalment_id"], unique=False)


def downgrade() -> None:
    # Dropping a table drops its indexes (MariaDB refuses to drop an index a foreign key uses first).
    op.drop_table("payment")
    op.drop_table("agreement_change")
    op.drop_table("vacate_record")
    op.drop_table("tenant_clearance")
    op.drop_table("instalment")
    op.drop_table("agreement_snapshot")
    op.drop_table("demolition_record")
    op.drop_table("agreement")
    op.drop_table("signing_terms")
    op.drop_table("payment_batch")
    op.drop_table("agreement_template")
    op.drop_table("sign_counter")
