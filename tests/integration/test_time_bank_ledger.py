"""Time-bank ledger on SQLite, PostgreSQL and MariaDB (issue #14 acceptance): concurrent redemptions
cannot overdraw; one reviewer cannot approve the same hours twice or alone, nor the volunteer; the
ledger sums equal the cached balances; the yearly cap donates the excess; transfers only between
verified close kin; team hours only donatable; points never become hours; corrections are reversals."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from anju.core.actor import Actor
from anju.db.session import WRITE_OPTION, is_lock_error
from anju.errors import Conflict, DomainError, PermissionDenied, ValidationFailed
from anju.grid.models import Community
from anju.identity import service as identity_service
from anju.time_bank import service as tb
from anju.time_bank.models import HoursClaim, LedgerEntry, TimeAccount
from tests.factories import ACTOR, PASSWORD

T0 = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)


def _community(db: Session) -> int:
    c = Community(code="C" + uuid.uuid4().hex[:8], name="东埠社区", created_at=T0)
    db.add(c)
    db.flush()
    return c.id


def _reviewer(db: Session, name: str) -> Actor:
    u = identity_service.create_user(
        db,
        actor=ACTOR,
        username=f"{name}{uuid.uuid4().hex[:6]}",
        display_name=name,
        password=PASSWORD,
        role="community",
    )
    return Actor(user_id=u.id, username=u.username, display_name=name, role="community")


def _phone() -> str:
    return "139" + str(uuid.uuid4().int)[:8]


def _claim(db: Session, community_id: int, volunteer_id: int, minutes: int = 120, team: str = "") -> int:
    a = tb.create_activity(
        db,
        actor=ACTOR,
        community_id=community_id,
        category="环境整治",
        title="清理楼道",
        place="幸福里",
        starts_at=T0,
        ends_at=T0 + timedelta(hours=4),
        capacity=5,
        minutes_offered=minutes,
        team_name=team,
    )
    s = tb.sign_up(db, actor=ACTOR, activity_id=a.id, volunteer_id=volunteer_id)
    tb.check_in(db, actor=ACTOR, signup_id=s.id, at=T0)
    return tb.check_out(db, actor=ACTOR, signup_id=s.id, at=T0 + timedelta(hours=3)).id


def _assert_ledger_consistent(db: Session) -> None:
    total = db.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)))
    assert total == 0
    for acc in db.scalars(select(TimeAccount)):
        assert tb.ledger_sum(db, account_id=acc.id) == acc.balance
        if acc.owner_kind != "bank":
            assert acc.balance >= 0


def test_two_different_reviewers_credit_the_hours(db: Session) -> None:
    cid = _community(db)
    v = tb.create_volunteer(db, actor=ACTOR, community_id=cid, name="王秀兰", phone=_phone())
    first, second = _reviewer(db, "审核甲"), _reviewer(db, "审核乙")
    claim_id = _claim(db, cid, v.id)
    c = tb.review(db, actor=first, claim_id=claim_id, approve=True)
    assert (c.status, c.transfer_id) == ("first_approved", "")
    assert tb.volunteer_account(db, v, "minutes").balance == 0
    with pytest.raises(Conflict) as err:
        tb.review(db, actor=first, claim_id=claim_id, approve=True)
    assert err.value.code == "same_reviewer"
    assert db.get(HoursClaim, claim_id).status == "first_approved"  # type: ignore[union-attr]
    assert tb.volunteer_account(db, v, "minutes").balance == 0
    c = tb.review(db, actor=second, claim_id=claim_id, approve=True)
    assert (c.status, c.first_reviewer_id, c.second_reviewer_id) == (
        "credited",
        first.user_id,
        second.user_id,
    )
    assert tb.volunteer_account(db, v, "minutes").balance == 120
    with pytest.raises(Conflict) as err:
        tb.review(db, actor=_reviewer(db, "审核丙"), claim_id=claim_id, approve=True)
    assert err.value.code == "claim_closed"
    assert tb.volunteer_account(db, v, "minutes").balance == 120
    _assert_ledger_consistent(db)


def test_the_volunteer_never_reviews_own_hours(db: Session) -> None:
    cid = _community(db)
    me = _reviewer(db, "网格员志愿者")
    v = tb.create_volunteer(
        db, actor=ACTOR, community_id=cid, name="赵志强", phone=_phone(), user_id=me.user_id
    )
    claim_id = _claim(db, cid, v.id)
    with pytest.raises(PermissionDenied):
        tb.review(db, actor=me, claim_id=claim_id, approve=True)
    tb.review(db, actor=_reviewer(db, "甲"), claim_id=claim_id, approve=True)
    with pytest.raises(PermissionDenied):
        tb.review(db, actor=me, claim_id=claim_id, approve=True)
    assert db.get(HoursClaim, claim_id).status == "first_approved"  # type: ignore[union-attr]
    assert tb.volunteer_account(db, v, "minutes").balance == 0


def test_yearly_cap_donates_the_excess_to_the_pool(db: Session) -> None:
    cid = _community(db)
    tb.set_setting(db, actor=ACTOR, key="yearly_cap_minutes", value=150)
    v = tb.create_volunteer(db, actor=ACTOR, community_id=cid, name="孙丽娟", phone=_phone())
    pool_before = tb.pool_account(db).balance
    for _ in range(2):
        claim_id = _claim(db, cid, v.id, minutes=120)
        tb.review(db, actor=_reviewer(db, "甲"), claim_id=claim_id, approve=True)
        tb.review(db, actor=_reviewer(db, "乙"), claim_id=claim_id, approve=True, at=T0)
    assert tb.volunteer_account(db, v, "minutes").balance == 150
    assert tb.pool_account(db).balance - pool_before == 90
    _assert_ledger_consistent(db)


def test_redemption_needs_the_minimum_and_never_overdraws(db: Session) -> None:
    cid = _community(db)
    tb.set_setting(db, actor=ACTOR, key="min_balance_minutes", value=100)
    v = tb.create_volunteer(db, actor=ACTOR, community_id=cid, name="周建华", phone=_phone())
    item = tb.create_item(db, actor=ACTOR, unit="minutes", kind="service", name="上门理发", price=90)
    with pytest.raises(Conflict) as err:
        tb.redeem(db, actor=ACTOR, volunteer_id=v.id, item_id=item.id)
    assert err.value.code == "below_minimum"
    claim_id = _claim(db, cid, v.id, minutes=120)
    tb.review(db, actor=_reviewer(db, "甲"), claim_id=claim_id, approve=True)
    tb.review(db, actor=_reviewer(db, "乙"), claim_id=claim_id, approve=True)
    r = tb.redeem(db, actor=ACTOR, volunteer_id=v.id, item_id=item.id)
    assert r.balance == 30
    with pytest.raises(Conflict):
        tb.redeem(db, actor=ACTOR, volunteer_id=v.id, item_id=item.id)
    assert tb.volunteer_account(db, v, "minutes").balance == 30
    tb.reverse(db, actor=ACTOR, transfer_id=r.transfer_id, reason="服务未提供")
    assert tb.volunteer_account(db, v, "minutes").balance == 120
    with pytest.raises(Conflict) as err:
        tb.reverse(db, actor=ACTOR, transfer_id=r.transfer_id, reason="再来一次")
    assert err.value.code == "already_reversed"
    _assert_ledger_consistent(db)


def test_gifts_only_between_verified_close_kin_and_team_hours_only_donated(db: Session) -> None:
    cid = _community(db)
    tb.set_setting(db, actor=ACTOR, key="yearly_cap_minutes", value=90000)
    fam = "F" + uuid.uuid4().hex[:6]
    a = tb.create_volunteer(
        db, actor=ACTOR, community_id=cid, name="母亲", phone=_phone(), family_code=fam, verified=True
    )
    b = tb.create_volunteer(db, actor=ACTOR, community_id=cid, name="女儿", phone=_phone(), family_code=fam)
    claim_id = _claim(db, cid, a.id)
    tb.review(db, actor=_reviewer(db, "甲"), claim_id=claim_id, approve=True)
    tb.review(db, actor=_reviewer(db, "乙"), claim_id=claim_id, approve=True)
    with pytest.raises(Conflict) as err:
        tb.gift(db, actor=ACTOR, from_volunteer_id=a.id, to_volunteer_id=b.id, minutes=60)
    assert err.value.code == "not_close_kin"
    assert tb.volunteer_account(db, a, "minutes").balance == 120
    b = tb.verify_volunteer(db, actor=ACTOR, volunteer_id=b.id, family_code=fam, version=b.version)
    tb.gift(db, actor=ACTOR, from_volunteer_id=a.id, to_volunteer_id=b.id, minutes=60)
    assert (
        tb.volunteer_account(db, a, "minutes").balance,
        tb.volunteer_account(db, b, "minutes").balance,
    ) == (60, 60)
    team = "青年突击队" + uuid.uuid4().hex[:4]
    claim_id = _claim(db, cid, b.id, team=team)
    tb.review(db, actor=_reviewer(db, "甲"), claim_id=claim_id, approve=True)
    tb.review(db, actor=_reviewer(db, "乙"), claim_id=claim_id, approve=True)
    team_acc = tb.account(db, owner_kind="team", owner_ref=team, unit="minutes")
    assert team_acc.balance == 120 and tb.volunteer_account(db, b, "minutes").balance == 60
    pool = tb.pool_account(db).balance
    tb.donate(db, actor=ACTOR, account_id=team_acc.id, minutes=120)
    assert (team_acc.balance, tb.pool_account(db).balance - pool) == (0, 120)
    _assert_ledger_consistent(db)


def test_points_never_mix_with_hours_and_awards_count_after_publicity(db: Session) -> None:
    cid = _community(db)
    v = tb.create_volunteer(db, actor=ACTOR, community_id=cid, name="李桂兰", phone=_phone())
    rule = tb.create_rule(db, actor=ACTOR, code="R" + uuid.uuid4().hex[:6], name="见义勇为", points=50)
    award = tb.propose_award(
        db, actor=ACTOR, volunteer_id=v.id, rule_id=rule.id, deed="救助落水儿童", today=date(2026, 6, 1)
    )
    assert award.publicity_ends_on == date(2026, 6, 7)
    assert tb.settle(db, actor=ACTOR, today=date(2026, 6, 7)) == 0
    other = tb.propose_award(
        db, actor=ACTOR, volunteer_id=v.id, rule_id=rule.id, deed="重复申报", today=date(2026, 6, 1)
    )
    tb.object_to(db, actor=ACTOR, award_id=other.id, objection="同一事迹重复申报")
    tb.decide_objection(db, actor=ACTOR, award_id=other.id, upheld=True, reason="异议成立")
    assert tb.settle(db, actor=ACTOR, today=date(2026, 6, 8)) >= 1
    assert tb.volunteer_account(db, v, "points").balance == 50
    assert tb.volunteer_account(db, v, "minutes").balance == 0
    pts = tb.volunteer_account(db, v, "points")
    mins = tb.volunteer_account(db, v, "minutes")
    with pytest.raises(ValidationFailed):
        tb.post(db, actor=ACTOR, legs=[(pts.id, -10), (mins.id, 10)], kind="gift")
    assert (pts.balance, mins.balance) == (50, 0)
    _assert_ledger_consistent(db)


# --- concurrency: committed data on the session's database of each backend


@pytest.fixture
def funded(engine_for: Engine, settings_env: object) -> Iterator[tuple[Engine, int, int, int]]:
    """A volunteer with 600 minutes, an item of 100 minutes, min balance 0 (committed)."""
    with Session(engine_for, expire_on_commit=False) as db:
        tb.set_setting(db, actor=ACTOR, key="min_balance_minutes", value=0)
        tb.set_setting(db, actor=ACTOR, key="yearly_cap_minutes", value=90000)
        cid = _community(db)
        v = tb.create_volunteer(db, actor=ACTOR, community_id=cid, name="并发志愿者", phone=_phone())
        acc = tb.volunteer_account(db, v, "minutes")
        bank = tb.bank_account(db, "minutes")
        tb.post(db, actor=ACTOR, legs=[(bank.id, -600), (acc.id, 600)], kind="credit")
        item = tb.create_item(db, actor=ACTOR, unit="minutes", kind="goods", name="爱心米面", price=100)
        db.commit()
        yield engine_for, v.id, item.id, acc.id


def test_concurrent_redemptions_cannot_overdraw(funded: tuple[Engine, int, int, int]) -> None:
    engine, volunteer_id, item_id, account_id = funded
    threads_n = 16
    ok: list[int] = []
    refused: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads_n)

    def redeem() -> None:
        barrier.wait()
        for _ in range(30):
            with Session(engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False) as db:
                try:
                    r = tb.redeem(db, actor=ACTOR, volunteer_id=volunteer_id, item_id=item_id)
                    db.commit()
                    ok.append(r.balance)
                    return
                except DomainError as exc:
                    db.rollback()
                    refused.append(exc.code)
                    return
                except Exception as exc:  # a lock timeout or deadlock: the client tries again
                    db.rollback()
                    if not is_lock_error(exc):
                        errors.append(exc)
                        return
        errors.append(AssertionError("gave up"))

    threads = [threading.Thread(target=redeem) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(ok) == 6
    assert sorted(ok) == [0, 100, 200, 300, 400, 500]
    assert refused == ["insufficient_balance"] * (threads_n - 6)
    with Session(engine) as db:
        acc = db.get(TimeAccount, account_id)
        assert acc is not None and acc.balance == 0
        assert tb.ledger_sum(db, account_id=account_id) == 0
        _assert_ledger_consistent(db)


def test_concurrent_second_approvals_credit_once(engine_for: Engine, settings_env: object) -> None:
    with Session(engine_for, expire_on_commit=False) as db:
        tb.set_setting(db, actor=ACTOR, key="yearly_cap_minutes", value=90000)
        cid = _community(db)
        v = tb.create_volunteer(db, actor=ACTOR, community_id=cid, name="并发审核", phone=_phone())
        claim_id = _claim(db, cid, v.id)
        first = _reviewer(db, "甲")
        seconds = [_reviewer(db, f"复核{n}") for n in range(6)]
        tb.review(db, actor=first, claim_id=claim_id, approve=True)
        acc_id = tb.volunteer_account(db, v, "minutes").id
        db.commit()
    results: list[str] = []
    barrier = threading.Barrier(len(seconds) + 1)

    def approve(actor: Actor) -> None:
        barrier.wait()
        for _ in range(30):
            with Session(engine_for.execution_options(**{WRITE_OPTION: True})) as db:
                try:
                    tb.review(db, actor=actor, claim_id=claim_id, approve=True)
                    db.commit()
                    results.append("ok")
                    return
                except DomainError as exc:
                    db.rollback()
                    results.append(exc.code)
                    return
                except Exception as exc:
                    db.rollback()
                    if not is_lock_error(exc):
                        results.append(repr(exc))
                        return

    threads = [threading.Thread(target=approve, args=(a,)) for a in [first, *seconds]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted(["ok"] + ["claim_closed"] * 5 + ["same_reviewer"]) or sorted(
        results
    ) == sorted(["ok"] + ["claim_closed"] * 6)
    with Session(engine_for) as db:
        acc = db.get(TimeAccount, acc_id)
        assert acc is not None and acc.balance == 120
        assert tb.ledger_sum(db, account_id=acc_id) == 120
