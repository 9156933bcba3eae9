"""The moral bank (道德银行): earning rules, awards shown publicly (公示) with objections, settling
awards into points, and the public leaderboards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.core.dates import today_shanghai, utcnow
from anju.db.session import begin_write
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.time_bank import rules
from anju.time_bank.models import MoralAward, MoralRule, TimeAccount, Volunteer
from anju.time_bank.service import ledger


def create_rule(session: Session, *, actor: Actor, code: str, name: str, points: int) -> MoralRule:
    """Add an earning rule (audited); a code already used is a 409."""
    if points <= 0:
        raise ValidationFailed("积分必须大于零", details=[{"field": "points", "message": "必须大于零"}])
    begin_write(session)
    if session.scalars(select(MoralRule).where(MoralRule.code == code)).first() is not None:
        raise Conflict(f"规则编号 {code} 已存在", code="duplicate_rule")
    r = MoralRule(code=code, name=name, points=points, active=True)
    session.add(r)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="moral.rule",
        entity="moral_rule",
        entity_id=r.id,
        changes={"code": code, "name": name, "points": points},
    )
    return r


def earning_rules(session: Session) -> list[MoralRule]:
    """The active earning rules."""
    return list(session.scalars(select(MoralRule).where(MoralRule.active.is_(True)).order_by(MoralRule.id)))


def propose_award(
    session: Session, *, actor: Actor, volunteer_id: int, rule_id: int, deed: str, today: date | None = None
) -> MoralAward:
    """Propose an award by a rule; it is shown publicly (公示) for the configured days before it counts."""
    if not deed.strip():
        raise ValidationFailed("须写明事迹", details=[{"field": "deed", "message": "必填"}])
    begin_write(session)
    v = ledger.get_volunteer(session, volunteer_id)
    rule = session.get(MoralRule, rule_id)
    if rule is None or not rule.active:
        raise NotFound("积分规则不存在")
    day = today or today_shanghai()
    award = MoralAward(
        volunteer_id=v.id,
        rule_id=rule.id,
        points=rule.points,
        deed=deed[:200],
        status="publicity",
        publicity_ends_on=rules.publicity_end(day, ledger.settings(session)["publicity_days"]),
        created_by=actor.user_id,
        created_at=utcnow(),
    )
    session.add(award)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="moral.propose",
        entity="moral_award",
        entity_id=award.id,
        changes={
            "volunteer_id": v.id,
            "rule": rule.code,
            "points": rule.points,
            "ends_on": str(award.publicity_ends_on),
        },
    )
    return award


def _award(session: Session, award_id: int) -> MoralAward:
    a = session.scalars(
        select(MoralAward)
        .where(MoralAward.id == award_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if a is None:
        raise NotFound("积分公示不存在")
    return a


def object_to(session: Session, *, actor: Actor, award_id: int, objection: str) -> MoralAward:
    """Record an objection during the 公示: the award is held until a reviewer decides."""
    if not objection.strip():
        raise ValidationFailed("须写明异议内容", details=[{"field": "objection", "message": "必填"}])
    begin_write(session)
    a = _award(session, award_id)
    if a.status != "publicity":
        raise Conflict("该积分不在公示期，不能提出异议", code="not_in_publicity")
    a.status = "objected"
    a.objection = objection[:500]
    a.version += 1
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="moral.object",
        entity="moral_award",
        entity_id=a.id,
        changes={"status": ["publicity", "objected"]},
        reason=objection,
    )
    return a


def decide_objection(
    session: Session, *, actor: Actor, award_id: int, upheld: bool, reason: str
) -> MoralAward:
    """Decide an objection: upheld withdraws the award; dismissed puts it back into 公示."""
    if not reason.strip():
        raise ValidationFailed("须写明处理意见", details=[{"field": "reason", "message": "必填"}])
    begin_write(session)
    a = _award(session, award_id)
    if a.status != "objected":
        raise Conflict("该积分没有待处理的异议", code="no_objection")
    after = "withdrawn" if upheld else "publicity"
    a.status = after
    a.version += 1
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="moral.decide",
        entity="moral_award",
        entity_id=a.id,
        changes={"status": ["objected", after]},
        reason=reason,
    )
    return a


def settle(session: Session, *, actor: Actor, today: date | None = None) -> int:
    """Credit the points of every award whose 公示 ended without a pending objection; returns how many."""
    day = today or today_shanghai()
    begin_write(session)
    due = session.scalars(
        select(MoralAward)
        .where(MoralAward.status == "publicity", MoralAward.publicity_ends_on < day)
        .order_by(MoralAward.id)
        .with_for_update()
    ).all()
    bank = ledger.bank_account(session, rules.POINTS)
    n = 0
    for a in due:
        if not rules.award_counts(status=a.status, ends_on=a.publicity_ends_on, today=day):
            continue
        v = ledger.get_volunteer(session, a.volunteer_id)
        acc = ledger.volunteer_account(session, v, rules.POINTS)
        a.transfer_id = ledger.post(
            session,
            actor=actor,
            legs=[(bank.id, -a.points), (acc.id, a.points)],
            kind="award",
            memo=f"道德积分：{a.deed}",
        )
        a.status = "counted"
        a.version += 1
        n += 1
    session.flush()
    return n


def awards(
    session: Session, *, statuses: tuple[str, ...] | None = None, limit: int = 200
) -> list[tuple[MoralAward, Volunteer, MoralRule]]:
    """Awards with their volunteers and rules, newest first."""
    q = (
        select(MoralAward, Volunteer, MoralRule)
        .join(Volunteer, Volunteer.id == MoralAward.volunteer_id)
        .join(MoralRule, MoralRule.id == MoralAward.rule_id)
    )
    if statuses:
        q = q.where(MoralAward.status.in_(statuses))
    rows = session.execute(q.order_by(MoralAward.id.desc()).limit(limit)).all()
    return [(a, v, r) for a, v, r in rows]


@dataclass
class BoardLine:
    """One line of a public leaderboard: the name as configured (masked), the balance."""

    rank: int
    name: str
    community_id: int
    amount: int


def leaderboard(session: Session, *, unit: str, limit: int = 20) -> list[BoardLine]:
    """The volunteers with the largest balances of a unit, names masked as configured."""
    mask = ledger.settings(session)["name_mask"]
    # Two plain queries, no join on a cast id: MariaDB refuses to compare a cast with a column of
    # another collation.
    top = session.execute(
        select(TimeAccount.owner_ref, TimeAccount.balance)
        .where(TimeAccount.owner_kind == "volunteer", TimeAccount.unit == unit, TimeAccount.balance > 0)
        .order_by(TimeAccount.balance.desc(), TimeAccount.id)
        .limit(limit)
    ).all()
    ids = [int(ref) for ref, _ in top]
    by_id = {v.id: v for v in session.scalars(select(Volunteer).where(Volunteer.id.in_(ids)))}
    rows = [(by_id[int(ref)], bal) for ref, bal in top if int(ref) in by_id]
    return [
        BoardLine(
            rank=n + 1, name=rules.public_name(v.name, mask), community_id=v.community_id, amount=int(bal)
        )
        for n, (v, bal) in enumerate(rows)
    ]
