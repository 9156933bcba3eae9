"""Volunteers, activities, sign-up, check-in/out and hours claims reviewed by two people."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.db.session import begin_write
from anju.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from anju.grid import service as grid_service
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.time_bank import rules
from anju.time_bank.models import Activity, HoursClaim, Signup, Volunteer
from anju.time_bank.service import ledger


def create_volunteer(
    session: Session,
    *,
    actor: Actor,
    community_id: int,
    name: str,
    phone: str,
    family_code: str = "",
    household_id: int | None = None,
    verified: bool = False,
    user_id: int | None = None,
) -> Volunteer:
    """Register a volunteer (audited); a phone already registered is a 409."""
    begin_write(session)
    _check_refs(session, community_id=community_id, household_id=household_id, user_id=user_id)
    if session.scalar(select(func.count()).select_from(Volunteer).where(Volunteer.phone == phone)):
        raise Conflict(f"手机号 {phone} 已登记为志愿者", code="duplicate_volunteer")
    v = Volunteer(
        community_id=community_id,
        name=name,
        phone=phone,
        family_code=family_code,
        household_id=household_id,
        verified=verified,
        user_id=user_id,
        created_at=utcnow(),
    )
    session.add(v)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="timebank.volunteer",
        entity="volunteer",
        entity_id=v.id,
        changes={
            "name": name,
            "community_id": community_id,
            "family_code": family_code,
            "verified": verified,
        },
        household_id=household_id,
    )
    return v


def _check_refs(
    session: Session,
    *,
    community_id: int,
    grid_id: int | None = None,
    household_id: int | None = None,
    user_id: int | None = None,
) -> None:
    """Named records must exist (a 422 naming the field, never a foreign-key 500)."""
    missing = []
    if community_id not in community_names(session):
        missing.append(("community_id", "社区"))
    if grid_id is not None:
        try:
            grid_service.get_grid(session, grid_id)
        except NotFound:
            missing.append(("grid_id", "网格"))
    if household_id is not None:
        try:
            household_service.get_household(
                session, scope=identity_service.DataScope.everything(), household_id=household_id
            )
        except NotFound:
            missing.append(("household_id", "户"))
    if user_id is not None:
        try:
            identity_service.get_user(session, user_id)
        except NotFound:
            missing.append(("user_id", "用户"))
    if missing:
        raise NotFound(
            "、".join(label for _, label in missing) + "不存在",
            details=[{"field": f, "message": "不存在"} for f, _ in missing],
        )


def verify_volunteer(
    session: Session, *, actor: Actor, volunteer_id: int, family_code: str, version: int
) -> Volunteer:
    """Mark a volunteer's identity and family (close kin) as verified by the community (audited)."""
    begin_write(session)
    v = ledger.get_volunteer(session, volunteer_id)
    if v.version != version:
        raise Conflict("志愿者信息已被他人修改，请刷新", code="stale_version")
    before = {"verified": v.verified, "family_code": v.family_code}
    v.verified = True
    v.family_code = family_code
    v.version += 1
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="timebank.verify",
        entity="volunteer",
        entity_id=v.id,
        changes={"before": before, "after": {"verified": True, "family_code": family_code}},
    )
    return v


def volunteers(session: Session, *, community_id: int | None = None) -> list[Volunteer]:
    """Volunteers by name."""
    q = select(Volunteer)
    if community_id:
        q = q.where(Volunteer.community_id == community_id)
    return list(session.scalars(q.order_by(Volunteer.id)))


def create_activity(
    session: Session,
    *,
    actor: Actor,
    community_id: int,
    category: str,
    title: str,
    place: str,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    minutes_offered: int,
    grid_id: int | None = None,
    team_name: str = "",
) -> Activity:
    """Publish a volunteer activity (audited)."""
    if category not in rules.CATEGORIES:
        raise ValidationFailed(
            f"活动类别无效：{category}", details=[{"field": "category", "message": "无效"}]
        )
    if ends_at <= starts_at:
        raise Conflict(
            "结束时间必须晚于开始时间",
            code="date_order",
            details=[{"field": "ends_at", "message": "早于开始"}],
        )
    if capacity <= 0 or minutes_offered <= 0:
        raise ValidationFailed(
            "名额与时长必须大于零", details=[{"field": "capacity", "message": "必须大于零"}]
        )
    begin_write(session)
    _check_refs(session, community_id=community_id, grid_id=grid_id)
    a = Activity(
        community_id=community_id,
        grid_id=grid_id,
        category=category,
        title=title,
        place=place,
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
        minutes_offered=minutes_offered,
        team_name=team_name,
        created_at=utcnow(),
    )
    session.add(a)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="timebank.activity",
        entity="volunteer_activity",
        entity_id=a.id,
        changes={"title": title, "category": category, "capacity": capacity, "minutes": minutes_offered},
    )
    return a


def get_activity(session: Session, activity_id: int) -> Activity:
    """One activity or 404."""
    a = session.get(Activity, activity_id)
    if a is None:
        raise NotFound("活动不存在")
    return a


def activities(session: Session, *, limit: int = 100) -> list[Activity]:
    """The latest activities first."""
    return list(
        session.scalars(select(Activity).order_by(Activity.starts_at.desc(), Activity.id.desc()).limit(limit))
    )


def signups(session: Session, *, activity_id: int) -> list[tuple[Signup, Volunteer]]:
    """The sign-ups of an activity with their volunteers."""
    rows = session.execute(
        select(Signup, Volunteer)
        .join(Volunteer, Volunteer.id == Signup.volunteer_id)
        .where(Signup.activity_id == activity_id)
        .order_by(Signup.id)
    ).all()
    return [(s, v) for s, v in rows]


def sign_up(
    session: Session, *, actor: Actor, activity_id: int, volunteer_id: int, at: datetime | None = None
) -> Signup:
    """Sign a volunteer up; full activities and second sign-ups are refused (409)."""
    begin_write(session)
    a = session.scalars(
        select(Activity)
        .where(Activity.id == activity_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if a is None:
        raise NotFound("活动不存在")
    ledger.get_volunteer(session, volunteer_id)
    taken = session.scalar(
        select(func.count())
        .select_from(Signup)
        .where(Signup.activity_id == a.id, Signup.status != "cancelled")
    )
    if session.scalar(
        select(func.count())
        .select_from(Signup)
        .where(Signup.activity_id == a.id, Signup.volunteer_id == volunteer_id)
    ):
        raise Conflict("该志愿者已报名此活动", code="already_signed")
    if (taken or 0) >= a.capacity:
        raise Conflict(f"活动“{a.title}”名额已满（{a.capacity} 人）", code="activity_full")
    s = Signup(activity_id=a.id, volunteer_id=volunteer_id, status="signed", created_at=at or utcnow())
    session.add(s)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="timebank.signup",
        entity="volunteer_signup",
        entity_id=s.id,
        changes={"activity_id": a.id, "volunteer_id": volunteer_id},
    )
    return s


def _signup(session: Session, signup_id: int) -> Signup:
    s = session.scalars(
        select(Signup)
        .where(Signup.id == signup_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if s is None:
        raise NotFound("报名记录不存在")
    return s


def _not_future(at: datetime | None) -> None:
    if at is not None and at > utcnow() + timedelta(minutes=5):
        raise Conflict(
            "签到/签退时间不能晚于现在", code="future_time", details=[{"field": "at", "message": "晚于现在"}]
        )


def check_in(session: Session, *, actor: Actor, signup_id: int, at: datetime | None = None) -> Signup:
    """签到: a signed-up volunteer arrives."""
    begin_write(session)
    s = _signup(session, signup_id)
    if s.status != "signed":
        raise Conflict(f"当前状态“{rules.STATUS_LABELS[s.status]}”不能签到", code="illegal_transition")
    _not_future(at)
    s.status = "checked_in"
    s.checked_in_at = at or utcnow()
    s.version += 1
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="timebank.check_in",
        entity="volunteer_signup",
        entity_id=s.id,
        changes={"at": s.checked_in_at.isoformat()},
    )
    return s


def check_out(session: Session, *, actor: Actor, signup_id: int, at: datetime | None = None) -> HoursClaim:
    """签退: the volunteer leaves; the minutes between check-in and check-out (at most those offered)
    become an hours claim waiting for two reviewers."""
    begin_write(session)
    s = _signup(session, signup_id)
    if s.status != "checked_in" or s.checked_in_at is None:
        raise Conflict(f"当前状态“{rules.STATUS_LABELS[s.status]}”不能签退", code="illegal_transition")
    a = get_activity(session, s.activity_id)
    _not_future(at)
    out_at = at or utcnow()
    minutes = rules.worked_minutes(
        checked_in_minute=int(s.checked_in_at.timestamp()) // 60,
        checked_out_minute=int(out_at.timestamp()) // 60,
        offered=a.minutes_offered,
    )
    s.status = "checked_out"
    s.checked_out_at = out_at
    s.version += 1
    claim = HoursClaim(
        signup_id=s.id, volunteer_id=s.volunteer_id, minutes=minutes, status="pending", created_at=out_at
    )
    session.add(claim)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="timebank.check_out",
        entity="volunteer_signup",
        entity_id=s.id,
        changes={"at": out_at.isoformat(), "claim_id": claim.id, "minutes": minutes},
    )
    return claim


CLAIM_STATUSES = ("pending", "first_approved", "credited", "rejected")


def claims(
    session: Session,
    *,
    statuses: tuple[str, ...] = ("pending", "first_approved"),
    claim_id: int | None = None,
    limit: int = 200,
) -> list[tuple[HoursClaim, Volunteer, Activity]]:
    """Hours claims (the review queue by default), oldest first."""
    rows = session.execute(
        select(HoursClaim, Volunteer, Activity)
        .join(Volunteer, Volunteer.id == HoursClaim.volunteer_id)
        .join(Signup, Signup.id == HoursClaim.signup_id)
        .join(Activity, Activity.id == Signup.activity_id)
        .where(HoursClaim.status.in_(statuses), *([HoursClaim.id == claim_id] if claim_id else []))
        .order_by(HoursClaim.id)
        .limit(limit)
    ).all()
    return [(c, v, a) for c, v, a in rows]


def _reviewer_excluded_users(session: Session, volunteer: Volunteer) -> frozenset[int]:
    """User accounts that are the volunteer (a staff member who volunteers)."""
    return frozenset({volunteer.user_id}) if volunteer.user_id is not None else frozenset()


def review(
    session: Session,
    *,
    actor: Actor,
    claim_id: int,
    approve: bool,
    reason: str = "",
    at: datetime | None = None,
) -> HoursClaim:
    """Approve or reject an hours claim. Two different reviewers must approve, neither the volunteer;
    the minutes are credited at the second approval (yearly cap applied). Idempotency: the claim row
    is locked, so the same reviewer can never count twice, even from two requests at once."""
    if actor.user_id is None:
        raise ValidationFailed("审核人必须是系统用户")
    begin_write(session)
    c = session.scalars(
        select(HoursClaim)
        .where(HoursClaim.id == claim_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if c is None:
        raise NotFound("服务时长记录不存在")
    v = ledger.get_volunteer(session, c.volunteer_id)
    excluded = _reviewer_excluded_users(session, v)
    if not approve:
        if actor.user_id in excluded:
            raise PermissionDenied("志愿者本人不能审核自己的服务时长", code="own_hours")
        if c.status not in ("pending", "first_approved"):
            raise Conflict("该时长已处理", code="claim_closed")
        if not reason.strip():
            raise ValidationFailed("驳回须写明理由", details=[{"field": "reason", "message": "必填"}])
        before = c.status
        c.status = "rejected"
        c.reject_reason = reason[:200]
        c.version += 1
        session.flush()
        audit_service.record(
            session,
            actor=actor,
            action="timebank.reject",
            entity="hours_claim",
            entity_id=c.id,
            changes={"status": [before, "rejected"]},
            reason=reason,
        )
        return c
    nxt = rules.check_review(
        status=c.status,
        reviewer_id=actor.user_id,
        volunteer_user_ids=excluded,
        first_reviewer_id=c.first_reviewer_id,
    )
    before = c.status
    if nxt == "first_approved":
        c.first_reviewer_id = actor.user_id
    else:
        c.second_reviewer_id = actor.user_id
        signup = session.get(Signup, c.signup_id)
        activity = get_activity(session, signup.activity_id) if signup else None
        if activity is not None and activity.team_name:
            acc = ledger.account(session, owner_kind="team", owner_ref=activity.team_name, unit=rules.MINUTES)
        else:
            acc = ledger.volunteer_account(session, v, rules.MINUTES)
        c.transfer_id = ledger.credit_hours(
            session,
            actor=actor,
            account_=acc,
            minutes=c.minutes,
            memo=f"服务时长：{activity.title if activity else ''}",
            at=at,
        )
    c.status = nxt
    c.version += 1
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="timebank.approve",
        entity="hours_claim",
        entity_id=c.id,
        changes={"status": [before, nxt], "minutes": c.minutes},
    )
    return c


def community_names(session: Session) -> dict[int, str]:
    """Communities by id for forms and lists (the grid domain's, in its order)."""
    return {c.id: c.name for c in grid_service.list_communities(session)}
