"""Campaign command (攻坚指挥): visits, the campaign side of each household, 一户一策 and the stage timeline.

Teams and household assignments (包户到人) are identity rows (they drive data scopes); the
household's current stage is its ``status`` in the household file. This domain keeps what the
campaign adds: who went, what the family said, the plan, and when each stage was reached.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from anju.db.base import Base, BigId, IdMixin, UTCDateTime, VersionMixin


class Visit(IdMixin, Base):
    """走访 / 谈话: one visit to a household, logged by a team member (often offline, synced later).

    ``idempotency_key`` is chosen by the device; a retried sync with the same key returns the stored
    visit instead of storing it twice. Visits are never deleted: a mistaken one is voided with a reason.
    """

    __tablename__ = "visit"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_visit_household_at", "household_id", "visited_at"),
        Index("ix_visit_project_at", "project_id", "visited_at"),
    )

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"))
    team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("team.id"))
    recorded_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime())
    off_hours: Mapped[bool] = mapped_column(Boolean, default=False)  # evening (>= 18:00, < 7:00) or weekend
    duration_min: Mapped[int] = mapped_column(Integer, default=0)
    place: Mapped[str] = mapped_column(String(128), default="")
    staff: Mapped[str] = mapped_column(String(500), default="")  # staff present, 、-separated names
    concern_text: Mapped[str] = mapped_column(String(2000), default="")
    attitude: Mapped[str] = mapped_column(String(16))  # support | wait | resist
    outcome: Mapped[str] = mapped_column(String(1000), default="")
    next_step: Mapped[str] = mapped_column(String(500), default="")
    next_due_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str] = mapped_column(String(500), default="")


class VisitPersuader(IdMixin, Base):
    """An outside persuader brought to a visit (亲属, 朋友, 战友, 村贤 ...), with name and relation."""

    __tablename__ = "visit_persuader"

    visit_id: Mapped[int] = mapped_column(BigId, ForeignKey("visit.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    relation: Mapped[str] = mapped_column(String(16))  # key of rules.PERSUADER_RELATIONS
    note: Mapped[str] = mapped_column(String(128), default="")
    sort: Mapped[int] = mapped_column(Integer, default=0)


class VisitConcern(IdMixin, Base):
    """One concern tag of a visit (面积认定, 补偿标准 ...); a row per tag so they can be counted."""

    __tablename__ = "visit_concern"
    __table_args__ = (Index("ix_visit_concern_project_tag", "project_id", "tag"),)

    visit_id: Mapped[int] = mapped_column(BigId, ForeignKey("visit.id"), index=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    tag: Mapped[str] = mapped_column(String(32))  # key of rules.CONCERN_TAGS


class HouseholdCampaign(IdMixin, VersionMixin, Base):
    """The campaign tab of one household: attitude, difficulty, escalation and the visit summary.

    Created on first need (a visit, a plan, a difficulty). ``last_visit_at`` / ``next_due_on``
    are kept with each visit so the alerts are one indexed query, not a scan of all visits.
    """

    __tablename__ = "household_campaign"
    __table_args__ = (
        UniqueConstraint("household_id"),
        Index("ix_household_campaign_project", "project_id", "difficulty"),
    )

    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"))
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    attitude: Mapped[str] = mapped_column(String(16), default="")  # '' until the first visit
    previous_attitude: Mapped[str] = mapped_column(String(16), default="")
    attitude_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    difficulty: Mapped[int] = mapped_column(Integer, default=0)  # 0 none, 1-3 难点户 level
    difficulty_reason: Mapped[str] = mapped_column(String(500), default="")
    escalated_to: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))  # 包案领导
    escalated_to_name: Mapped[str] = mapped_column(String(64), default="")  # leader who is not a user
    last_visit_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    visit_count: Mapped[int] = mapped_column(Integer, default=0)
    next_step: Mapped[str] = mapped_column(String(500), default="")
    next_due_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HouseholdPlan(IdMixin, VersionMixin, Base):
    """一户一策: the strategy for one (usually hard) household, with an owner and steps."""

    __tablename__ = "household_plan"
    __table_args__ = (UniqueConstraint("household_id"),)

    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"))
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"), index=True)
    summary: Mapped[str] = mapped_column(String(2000), default="")  # the situation and the approach
    owner_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | done
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PlanStep(IdMixin, VersionMixin, Base):
    """One step of a household plan, with its status and due date."""

    __tablename__ = "plan_step"

    plan_id: Mapped[int] = mapped_column(BigId, ForeignKey("household_plan.id"), index=True)
    text: Mapped[str] = mapped_column(String(500))
    owner_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="todo")  # todo | doing | done | dropped
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sort: Mapped[int] = mapped_column(Integer, default=0)


class StageChange(IdMixin, Base):
    """The household's stage timeline: each transition with the date it counts from and who made it.

    ``reached_on`` is the office date the stage was reached (e.g. the signing date), ``at`` when it was
    recorded. Progress for a past date reads the household file's dates; this is the timeline shown.
    """

    __tablename__ = "stage_change"
    __table_args__ = (Index("ix_stage_change_project_on", "project_id", "to_stage", "reached_on"),)

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id"))
    household_id: Mapped[int] = mapped_column(BigId, ForeignKey("household.id"), index=True)
    from_stage: Mapped[str] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    reached_on: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    by_name: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
