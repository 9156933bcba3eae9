"""campaign command

Campaign command (#9): visits with persuaders and concern tags, the campaign side of each household
(attitude, difficulty, escalation), 一户一策 plans with steps, the stage timeline, nested teams,
assignment history, project targets and alert settings, and the frozen daily dispatch report.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 03:01:01.138671+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import anju.db.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dispatch_report",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("report_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column(
            "commentary",
            sa.Text().with_variant(mysql.LONGTEXT(), "mariadb").with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "numbers",
            sa.Text().with_variant(mysql.LONGTEXT(), "mariadb").with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column("numbers_sha256", sa.String(length=64), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column("issued_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("issued_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"], name=op.f("fk_dispatch_report_created_by_user")),
        sa.ForeignKeyConstraint(["issued_by"], ["user.id"], name=op.f("fk_dispatch_report_issued_by_user")),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_dispatch_report_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_report")),
        sa.UniqueConstraint("project_id", "report_on", name=op.f("uq_dispatch_report_project_id_report_on")),
    )
    op.create_table(
        "household_campaign",
        sa.Column("household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("attitude", sa.String(length=16), nullable=False),
        sa.Column("previous_attitude", sa.String(length=16), nullable=False),
        sa.Column("attitude_changed_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("difficulty", sa.Integer(), nullable=False),
        sa.Column("difficulty_reason", sa.String(length=500), nullable=False),
        sa.Column("escalated_to", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("escalated_to_name", sa.String(length=64), nullable=False),
        sa.Column("last_visit_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("visit_count", sa.Integer(), nullable=False),
        sa.Column("next_step", sa.String(length=500), nullable=False),
        sa.Column("next_due_on", sa.Date(), nullable=True),
        sa.Column("updated_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["escalated_to"], ["user.id"], name=op.f("fk_household_campaign_escalated_to_user")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_household_campaign_household_id_household")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_household_campaign_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_campaign")),
        sa.UniqueConstraint("household_id", name=op.f("uq_household_campaign_household_id")),
    )
    with op.batch_alter_table("household_campaign", schema=None) as batch_op:
        batch_op.create_index("ix_household_campaign_project", ["project_id", "difficulty"], unique=False)

    op.create_table(
        "household_plan",
        sa.Column("household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("summary", sa.String(length=2000), nullable=False),
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_household_plan_household_id_household")
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["user.id"], name=op.f("fk_household_plan_owner_id_user")),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_household_plan_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_plan")),
        sa.UniqueConstraint("household_id", name=op.f("uq_household_plan_household_id")),
    )
    with op.batch_alter_table("household_plan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_household_plan_project_id"), ["project_id"], unique=False)

    op.create_table(
        "stage_change",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("from_stage", sa.String(length=32), nullable=False),
        sa.Column("to_stage", sa.String(length=32), nullable=False),
        sa.Column("reached_on", sa.Date(), nullable=False),
        sa.Column("at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column("by_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("by_name", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(["by_user_id"], ["user.id"], name=op.f("fk_stage_change_by_user_id_user")),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_stage_change_household_id_household")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_stage_change_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stage_change")),
    )
    with op.batch_alter_table("stage_change", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stage_change_household_id"), ["household_id"], unique=False)
        batch_op.create_index(
            "ix_stage_change_project_on", ["project_id", "to_stage", "reached_on"], unique=False
        )

    op.create_table(
        "visit",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("recorded_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("visited_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column("off_hours", sa.Boolean(), nullable=False),
        sa.Column("duration_min", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(length=128), nullable=False),
        sa.Column("staff", sa.String(length=500), nullable=False),
        sa.Column("concern_text", sa.String(length=2000), nullable=False),
        sa.Column("attitude", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=1000), nullable=False),
        sa.Column("next_step", sa.String(length=500), nullable=False),
        sa.Column("next_due_on", sa.Date(), nullable=True),
        sa.Column("created_at", anju.db.base.UTCDateTime(), nullable=False),
        sa.Column("voided_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("void_reason", sa.String(length=500), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_visit_household_id_household")
        ),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], name=op.f("fk_visit_project_id_project")),
        sa.ForeignKeyConstraint(["recorded_by"], ["user.id"], name=op.f("fk_visit_recorded_by_user")),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_visit_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_visit_idempotency_key")),
    )
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.create_index("ix_visit_household_at", ["household_id", "visited_at"], unique=False)
        batch_op.create_index("ix_visit_project_at", ["project_id", "visited_at"], unique=False)

    op.create_table(
        "plan_step",
        sa.Column("plan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("done_at", anju.db.base.UTCDateTime(), nullable=True),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["user.id"], name=op.f("fk_plan_step_owner_id_user")),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["household_plan.id"], name=op.f("fk_plan_step_plan_id_household_plan")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_step")),
    )
    with op.batch_alter_table("plan_step", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_step_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "visit_concern",
        sa.Column("visit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_visit_concern_project_id_project")
        ),
        sa.ForeignKeyConstraint(["visit_id"], ["visit.id"], name=op.f("fk_visit_concern_visit_id_visit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_concern")),
    )
    with op.batch_alter_table("visit_concern", schema=None) as batch_op:
        batch_op.create_index("ix_visit_concern_project_tag", ["project_id", "tag"], unique=False)
        batch_op.create_index(batch_op.f("ix_visit_concern_visit_id"), ["visit_id"], unique=False)

    op.create_table(
        "visit_persuader",
        sa.Column("visit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=128), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(["visit_id"], ["visit.id"], name=op.f("fk_visit_persuader_visit_id_visit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_persuader")),
    )
    with op.batch_alter_table("visit_persuader", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_persuader_visit_id"), ["visit_id"], unique=False)

    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.add_column(sa.Column("demolish_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("paid_on", sa.Date(), nullable=True))

    with op.batch_alter_table("household_assignment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("assigned_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.add_column(sa.Column("reason", sa.String(length=500), server_default="", nullable=False))

    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("legal_basis", sa.String(length=1000), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("launched_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("deadline_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("target_sign_rate", sa.Integer(), server_default="100", nullable=False))
        batch_op.add_column(sa.Column("target_households", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("alert_no_visit_days", sa.Integer(), server_default="7", nullable=False)
        )

    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.add_column(sa.Column("kind", sa.String(length=16), server_default="squad", nullable=False))
        batch_op.add_column(sa.Column("sort", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index(batch_op.f("ix_team_parent_id"), ["parent_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_team_parent_id_team"), "team", ["parent_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_team_parent_id_team"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_team_parent_id"))
        batch_op.drop_column("sort")
        batch_op.drop_column("kind")
        batch_op.drop_column("parent_id")

    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("alert_no_visit_days")
        batch_op.drop_column("target_households")
        batch_op.drop_column("target_sign_rate")
        batch_op.drop_column("deadline_on")
        batch_op.drop_column("launched_on")
        batch_op.drop_column("legal_basis")

    with op.batch_alter_table("household_assignment", schema=None) as batch_op:
        batch_op.drop_column("reason")
        batch_op.drop_column("assigned_by")

    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.drop_column("paid_on")
        batch_op.drop_column("demolish_on")

    with op.batch_alter_table("visit_persuader", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_persuader_visit_id"))

    op.drop_table("visit_persuader")
    with op.batch_alter_table("visit_concern", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_concern_visit_id"))
        batch_op.drop_index("ix_visit_concern_project_tag")

    op.drop_table("visit_concern")
    with op.batch_alter_table("plan_step", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_step_plan_id"))

    op.drop_table("plan_step")
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.drop_index("ix_visit_project_at")
        batch_op.drop_index("ix_visit_household_at")

    op.drop_table("visit")
    with op.batch_alter_table("stage_change", schema=None) as batch_op:
        batch_op.drop_index("ix_stage_change_project_on")
        batch_op.drop_index(batch_op.f("ix_stage_change_household_id"))

    op.drop_table("stage_change")
    with op.batch_alter_table("household_plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_household_plan_project_id"))

    op.drop_table("household_plan")
    with op.batch_alter_table("household_campaign", schema=None) as batch_op:
        batch_op.drop_index("ix_household_campaign_project")

    op.drop_table("household_campaign")
    op.drop_table("dispatch_report")
