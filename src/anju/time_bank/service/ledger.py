"""The double-entry ledger: accounts, transfers under row locks taken in id order, reversals,
settings, redemptions, gifts within a family and donations to the pool."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.core.dates import SHANGHAI, to_shanghai, utcnow
from anju.db.session import begin_write
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.time_bank import rules
from anju.time_bank.models import (
    BankSetting,
    CatalogueItem,
    LedgerEntry,
    Redemption,
    TimeAccount,
    Volunteer,
)

POOL_REF = "公益池"
BANK_REF = "bank"


def settings(session: Session) -> dict[str, int]:
    """The rules in force: defaults overridden by ``bank_setting`` rows."""
    values = dict(rules.DEFAULT_SETTINGS)
    for row in session.scalars(select(BankSetting)):
        values[row.key] = row.value
    return values


def set_setting(session: Session, *, actor: Actor, key: str, value: int) -> None:
    """Change one configurable rule (audited)."""
    rules.check_setting(key, value)
    begin_write(session)
    row = session.get(BankSetting, key)
    before = row.value if row is not None else rules.DEFAULT_SETTINGS[key]
    if row is None:
        session.add(BankSetting(key=key, value=value))
    else:
        row.value = value
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="timebank.setting",
        entity="bank_setting",
        entity_id=key,
        changes={"value": [before, value]},
    )


def account(session: Session, *, owner_kind: str, owner_ref: str, unit: str, label: str = "") -> TimeAccount:
    """The account of an owner in a unit, opened on first use."""
    if owner_kind not in rules.OWNER_KINDS or unit not in rules.UNITS:
        raise ValidationFailed(f"账户类型无效：{owner_kind}/{unit}")
    found = session.scalars(
        select(TimeAccount).where(
            TimeAccount.owner_kind == owner_kind, TimeAccount.owner_ref == owner_ref, TimeAccount.unit == unit
        )
    ).first()
    if found is not None:
        return found
    begin_write(session)
    acc = TimeAccount(
        owner_kind=owner_kind,
        owner_ref=owner_ref,
        unit=unit,
        label=label or owner_ref,
        balance=0,
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():  # two first uses at once: the loser reads the winner's row
            session.add(acc)
    except IntegrityError:
        return session.scalars(
            select(TimeAccount).where(
                TimeAccount.owner_kind == owner_kind,
                TimeAccount.owner_ref == owner_ref,
                TimeAccount.unit == unit,
            )
        ).one()
    return acc


def volunteer_account(session: Session, volunteer: Volunteer, unit: str) -> TimeAccount:
    """A volunteer's account of hours (``minutes``) or moral-bank points (``points``)."""
    return account(
        session, owner_kind="volunteer", owner_ref=str(volunteer.id), unit=unit, label=volunteer.name
    )


def bank_account(session: Session, unit: str) -> TimeAccount:
    """The issuer of a unit: credits come from it, redemptions return to it."""
    return account(session, owner_kind="bank", owner_ref=BANK_REF, unit=unit, label="银行")


def pool_account(session: Session) -> TimeAccount:
    """The public pool (公益池) of donated hours."""
    return account(session, owner_kind="pool", owner_ref=POOL_REF, unit=rules.MINUTES, label=POOL_REF)


def _lock(session: Session, ids: Sequence[int]) -> dict[int, TimeAccount]:
    """Lock the accounts in id order (no deadlock between two transfers) and read them fresh."""
    rows = session.scalars(
        select(TimeAccount)
        .where(TimeAccount.id.in_(sorted(set(ids))))
        .order_by(TimeAccount.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    if len(rows) != len(set(ids)):
        raise NotFound("账户不存在")
    return {r.id: r for r in rows}


def post(
    session: Session,
    *,
    actor: Actor,
    legs: Sequence[tuple[int, int]],
    kind: str,
    memo: str = "",
    reverses: str = "",
    at: datetime | None = None,
    audit: bool = True,
) -> str:
    """Post one transfer: ``legs`` (account id, signed amount) summing to zero, in one unit.

    The accounts are locked in id order, the balances checked after the lock (only the issuer may be
    negative), the entries appended and the cached balances moved; returns the transfer id.
    """
    rules.check_legs(legs)
    begin_write(session)
    accounts = _lock(session, [a for a, _ in legs])
    rules.check_same_unit([a.unit for a in accounts.values()])
    after = {a.id: (a.owner_kind, a.balance) for a in accounts.values()}
    for account_id, amount in legs:
        kind_, bal = after[account_id]
        after[account_id] = (kind_, bal + amount)
    rules.check_balances(after)
    transfer_id = str(uuid.uuid4())
    when = at or utcnow()
    for account_id, amount in legs:
        session.add(
            LedgerEntry(
                transfer_id=transfer_id,
                account_id=account_id,
                amount=amount,
                kind=kind,
                reverses=reverses,
                memo=memo[:200],
                actor_user_id=actor.user_id,
                created_at=when,
            )
        )
        accounts[account_id].balance += amount
    session.flush()
    if audit:
        audit_service.record(
            session,
            actor=actor,
            action=f"timebank.{kind}",
            entity="ledger_transfer",
            entity_id=transfer_id,
            changes={"legs": [[a, m] for a, m in legs], "memo": memo},
        )
    return transfer_id


def reverse(session: Session, *, actor: Actor, transfer_id: str, reason: str) -> str:
    """Correct a transfer by its reversal (the opposite legs); a transfer is reversed at most once."""
    if not reason.strip():
        raise ValidationFailed("冲正须写明理由", details=[{"field": "reason", "message": "必填"}])
    begin_write(session)
    entries = session.scalars(select(LedgerEntry).where(LedgerEntry.transfer_id == transfer_id)).all()
    if not entries:
        raise NotFound("转账不存在")
    if entries[0].kind == "reversal":
        raise Conflict("冲正记录不能再冲正", code="reversal_of_reversal")
    done = session.scalar(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.reverses == transfer_id)
    )
    if done:
        raise Conflict("该转账已冲正", code="already_reversed")
    return post(
        session,
        actor=actor,
        legs=[(e.account_id, -e.amount) for e in entries],
        kind="reversal",
        memo=f"冲正：{reason}",
        reverses=transfer_id,
    )


def get_volunteer(session: Session, volunteer_id: int) -> Volunteer:
    """One volunteer or 404."""
    v = session.get(Volunteer, volunteer_id)
    if v is None:
        raise NotFound("志愿者不存在")
    return v


def credited_in_year(session: Session, *, account_id: int, now: datetime) -> int:
    """Minutes credited to an account in the calendar year (Asia/Shanghai) of ``now``."""
    year = to_shanghai(now).year
    start = datetime(year, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.account_id == account_id,
            LedgerEntry.kind == "credit",
            LedgerEntry.amount > 0,
            LedgerEntry.created_at >= start,
            LedgerEntry.created_at < end,
        )
    )
    return int(total or 0)


def credit_hours(
    session: Session,
    *,
    actor: Actor,
    account_: TimeAccount,
    minutes: int,
    memo: str,
    at: datetime | None = None,
) -> str:
    """Credit reviewed minutes; what would pass the yearly cap goes to the pool in the same transfer."""
    cap = settings(session)["yearly_cap_minutes"]
    when = at or utcnow()
    kept, excess = rules.split_for_cap(
        credited_this_year=credited_in_year(session, account_id=account_.id, now=when),
        minutes=minutes,
        cap=cap,
    )
    bank = bank_account(session, rules.MINUTES)
    legs = [(bank.id, -minutes)]
    if kept:
        legs.append((account_.id, kept))
    if excess:
        legs.append((pool_account(session).id, excess))
    return post(session, actor=actor, legs=legs, kind="credit", memo=memo, at=when)


def create_item(
    session: Session, *, actor: Actor, unit: str, kind: str, name: str, price: int
) -> CatalogueItem:
    """Add a catalogue item: a service or goods (never cash) priced in minutes or points."""
    if unit not in rules.UNITS:
        raise ValidationFailed(f"单位无效：{unit}", details=[{"field": "unit", "message": "无效"}])
    if kind not in rules.ITEM_KINDS:
        raise ValidationFailed(f"类型无效：{kind}", details=[{"field": "kind", "message": "无效"}])
    if price <= 0:
        raise ValidationFailed("价格必须大于零", details=[{"field": "price", "message": "必须大于零"}])
    begin_write(session)
    item = CatalogueItem(unit=unit, kind=kind, name=name, price=price, active=True, created_at=utcnow())
    session.add(item)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="timebank.item",
        entity="catalogue_item",
        entity_id=item.id,
        changes={"name": name, "unit": unit, "price": price},
    )
    return item


def catalogue(session: Session, *, unit: str | None = None) -> list[CatalogueItem]:
    """Active catalogue items, by unit then price."""
    q = select(CatalogueItem).where(CatalogueItem.active.is_(True))
    if unit:
        q = q.where(CatalogueItem.unit == unit)
    return list(session.scalars(q.order_by(CatalogueItem.unit, CatalogueItem.price, CatalogueItem.id)))


@dataclass
class RedemptionResult:
    """A redemption and the balance left."""

    redemption_id: int
    transfer_id: str
    balance: int


def redeem(
    session: Session, *, actor: Actor, volunteer_id: int, item_id: int, at: datetime | None = None
) -> RedemptionResult:
    """Redeem a catalogue item from a volunteer's account of the item's unit.

    The account is locked first and checked inside the lock: the minimum saved before redeeming (hours)
    and no overdraft, so concurrent redemptions can never take the balance below zero.
    """
    begin_write(session)
    v = get_volunteer(session, volunteer_id)
    item = session.get(CatalogueItem, item_id)
    if item is None or not item.active:
        raise NotFound("兑换项目不存在或已下架")
    acc = volunteer_account(session, v, item.unit)
    bank = bank_account(session, item.unit)
    locked = _lock(session, [acc.id, bank.id])
    minimum = settings(session)["min_balance_minutes"] if item.unit == rules.MINUTES else 0
    rules.check_redeemable(balance=locked[acc.id].balance, price=item.price, minimum=minimum)
    transfer_id = post(
        session,
        actor=actor,
        legs=[(acc.id, -item.price), (bank.id, item.price)],
        kind="redeem",
        memo=f"兑换：{item.name}",
        at=at,
    )
    r = Redemption(
        item_id=item.id,
        volunteer_id=v.id,
        price=item.price,
        transfer_id=transfer_id,
        created_at=at or utcnow(),
    )
    session.add(r)
    session.flush()
    return RedemptionResult(redemption_id=r.id, transfer_id=transfer_id, balance=locked[acc.id].balance)


def gift(
    session: Session, *, actor: Actor, from_volunteer_id: int, to_volunteer_id: int, minutes: int
) -> str:
    """Give hours to a close kin: both verified and of one family (``family_code``)."""
    if minutes <= 0:
        raise ValidationFailed("转赠时长必须大于零", details=[{"field": "minutes", "message": "必须大于零"}])
    giver = get_volunteer(session, from_volunteer_id)
    taker = get_volunteer(session, to_volunteer_id)
    if giver.id == taker.id:
        raise Conflict("不能转赠给自己", code="gift_to_self")
    if not (
        giver.verified and taker.verified and giver.family_code and giver.family_code == taker.family_code
    ):
        raise Conflict("仅限已核实的直系亲属之间转赠", code="not_close_kin")
    a = volunteer_account(session, giver, rules.MINUTES)
    b = volunteer_account(session, taker, rules.MINUTES)
    return post(
        session,
        actor=actor,
        legs=[(a.id, -minutes), (b.id, minutes)],
        kind="gift",
        memo=f"{giver.name} 转赠 {taker.name}",
    )


def donate(session: Session, *, actor: Actor, account_id: int, minutes: int) -> str:
    """Donate hours of a volunteer's or a team's account to the pool (team hours may only be donated)."""
    if minutes <= 0:
        raise ValidationFailed("捐赠时长必须大于零", details=[{"field": "minutes", "message": "必须大于零"}])
    acc = session.get(TimeAccount, account_id)
    if acc is None or acc.unit != rules.MINUTES or acc.owner_kind not in ("volunteer", "team", "family"):
        raise NotFound("可捐赠的时长账户不存在")
    pool = pool_account(session)
    return post(
        session,
        actor=actor,
        legs=[(acc.id, -minutes), (pool.id, minutes)],
        kind="donate",
        memo=f"{acc.label} 捐入公益池",
    )


def entries(session: Session, *, account_id: int, limit: int = 200) -> list[LedgerEntry]:
    """The latest entries of an account, newest first."""
    return list(
        session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.account_id == account_id)
            .order_by(LedgerEntry.id.desc())
            .limit(limit)
        )
    )


def ledger_sum(session: Session, *, account_id: int) -> int:
    """The derived balance: the sum of the account's entries."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(LedgerEntry.account_id == account_id)
        )
        or 0
    )


def accounts(session: Session) -> list[TimeAccount]:
    """Every account, by id."""
    return list(session.scalars(select(TimeAccount).order_by(TimeAccount.id)))


def get_account(session: Session, account_id: int) -> TimeAccount:
    """One account or 404."""
    acc = session.get(TimeAccount, account_id)
    if acc is None:
        raise NotFound("账户不存在")
    return acc
