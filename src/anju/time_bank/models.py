"""Volunteer time bank (时间银行) and moral bank (道德银行): volunteers, their accounts and the
double-entry ledger, activities with sign-up and check-in, hours claims with two reviewers, the
catalogue and redemptions, moral-bank earning rules and publicly shown awards.

The ledger is append-only: a transfer is two or more :class:`LedgerEntry` rows with the same
``transfer_id`` whose amounts sum to zero; a correction is a reversal transfer, never an update.
Hours are integer minutes (unit ``minutes``), moral-bank points integer points (unit ``points``); an
account holds one unit and a transfer never mixes units, so points never become hours.
``TimeAccount.balance`` is a cache of the sum of its entries, written under the account's row lock
(tests check it equals the ledger sum).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from anju.db.base import Base, BigId, IdMixin, UTCDateTime, VersionMixin

Amount = BigInteger().with_variant(Integer(), "sqlite")


class Volunteer(IdMixin, VersionMixin, Base):
    """A volunteer (志愿者) of a community, linked to a household file when a resident there.

    ``family_code`` groups close kin (as verified by the community): gifts of hours go only between
    verified volunteers of one family.
    """

    __tablename__ = "volunteer"
    __table_args__ = (UniqueConstraint("phone"), Index("ix_volunteer_community", "community_id"))

    community_id: Mapped[int] = mapped_column(BigId, ForeignKey("community.id"))
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32))
    household_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("household.id"))
    family_code: Mapped[str] = mapped_column(String(32), default="")
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    # The volunteer's own user account when a staff member volunteers: never a reviewer of own hours.
    user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TimeAccount(IdMixin, Base):
    """An account of the ledger: owner ``volunteer`` (owner_ref = volunteer id), ``family``
    (family code), ``team`` (team name; its hours may only be donated), ``pool`` (公益池, hours donated
    and the yearly-cap excess) or ``bank`` (the issuer: credits come from it and redemptions go back to
    it, so it alone may be negative); unit ``minutes`` or ``points``."""

    __tablename__ = "time_account"
    __table_args__ = (UniqueConstraint("owner_kind", "owner_ref", "unit"),)

    owner_kind: Mapped[str] = mapped_column(String(16))
    owner_ref: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(8))
    label: Mapped[str] = mapped_column(String(64), default="")
    balance: Mapped[int] = mapped_column(Amount, default=0)  # cache of sum(entries), under row lock
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerEntry(IdMixin, Base):
    """One immutable movement; the entries of one ``transfer_id`` sum to zero."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        Index("ix_ledger_entry_account", "account_id", "id"),
        Index("ix_ledger_entry_transfer", "transfer_id"),
    )

    transfer_id: Mapped[str] = mapped_column(String(36))
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("time_account.id"))
    amount: Mapped[int] = mapped_column(Amount)
    kind: Mapped[str] = mapped_column(String(16))  # credit redeem gift donate cap award reversal
    reverses: Mapped[str] = mapped_column(String(36), default="")  # the transfer a reversal undoes
    memo: Mapped[str] = mapped_column(String(200), default="")
    actor_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Activity(IdMixin, VersionMixin, Base):
    """A volunteer activity (志愿活动) of a community, optionally of one grid."""

    __tablename__ = "volunteer_activity"
    __table_args__ = (Index("ix_volunteer_activity_starts", "starts_at"),)

    community_id: Mapped[int] = mapped_column(BigId, ForeignKey("community.id"))
    grid_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("grid.id"))
    category: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(100))
    place: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    capacity: Mapped[int] = mapped_column(Integer)
    minutes_offered: Mapped[int] = mapped_column(Integer)
    team_name: Mapped[str] = mapped_column(String(64), default="")  # hours go to this team's account
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Signup(IdMixin, VersionMixin, Base):
    """A volunteer's sign-up (报名) for an activity, with check-in and check-out (签到 / 签退)."""

    __tablename__ = "volunteer_signup"
    __table_args__ = (UniqueConstraint("activity_id", "volunteer_id"),)

    activity_id: Mapped[int] = mapped_column(BigId, ForeignKey("volunteer_activity.id"))
    volunteer_id: Mapped[int] = mapped_column(BigId, ForeignKey("volunteer.id"))
    status: Mapped[str] = mapped_column(String(16))  # signed checked_in checked_out cancelled
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HoursClaim(IdMixin, VersionMixin, Base):
    """Service hours of one sign-up waiting for two reviewers (neither the volunteer); credited at the
    second approval (``transfer_id``)."""

    __tablename__ = "hours_claim"
    __table_args__ = (UniqueConstraint("signup_id"), Index("ix_hours_claim_status", "status"))

    signup_id: Mapped[int] = mapped_column(BigId, ForeignKey("volunteer_signup.id"))
    volunteer_id: Mapped[int] = mapped_column(BigId, ForeignKey("volunteer.id"))
    minutes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # pending first_approved credited rejected
    first_reviewer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    second_reviewer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    reject_reason: Mapped[str] = mapped_column(String(200), default="")
    transfer_id: Mapped[str] = mapped_column(String(36), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CatalogueItem(IdMixin, VersionMixin, Base):
    """A service or goods (never cash) of the time bank (price in minutes) or of the moral bank (price
    in points)."""

    __tablename__ = "catalogue_item"

    unit: Mapped[str] = mapped_column(String(8))  # minutes | points
    kind: Mapped[str] = mapped_column(String(8))  # service | goods
    name: Mapped[str] = mapped_column(String(100))
    price: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Redemption(IdMixin, Base):
    """A volunteer's redemption (兑换) of a catalogue item; the ledger transfer is ``transfer_id``."""

    __tablename__ = "redemption"

    item_id: Mapped[int] = mapped_column(BigId, ForeignKey("catalogue_item.id"))
    volunteer_id: Mapped[int] = mapped_column(BigId, ForeignKey("volunteer.id"))
    price: Mapped[int] = mapped_column(Integer)
    transfer_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BankSetting(Base):
    """A configurable rule of the banks: ``min_balance_minutes``, ``yearly_cap_minutes``,
    ``publicity_days``, ``name_mask`` (0 full, 1 surname only) ..."""

    __tablename__ = "bank_setting"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class MoralRule(IdMixin, VersionMixin, Base):
    """An earning rule of the moral bank (e.g. 见义勇为 50 分, 垃圾分类示范户 5 分)."""

    __tablename__ = "moral_rule"
    __table_args__ = (UniqueConstraint("code"),)

    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    points: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class MoralAward(IdMixin, VersionMixin, Base):
    """A moral-bank award: shown publicly (公示) until ``publicity_ends_on``; an objection holds it; it
    counts (points credited) only when settled after the period with no objection upheld."""

    __tablename__ = "moral_award"
    __table_args__ = (Index("ix_moral_award_status", "status"),)

    volunteer_id: Mapped[int] = mapped_column(BigId, ForeignKey("volunteer.id"))
    rule_id: Mapped[int] = mapped_column(BigId, ForeignKey("moral_rule.id"))
    points: Mapped[int] = mapped_column(Integer)
    deed: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # publicity objected counted withdrawn
    publicity_ends_on: Mapped[date] = mapped_column(Date)
    objection: Mapped[str] = mapped_column(String(500), default="")
    transfer_id: Mapped[str] = mapped_column(String(36), default="")
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
