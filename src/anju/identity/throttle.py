"""Login throttling: which attempts are refused, for how long, and the record of every attempt.

Three limits, each counted on :class:`~anju.identity.models.LoginAttempt` rows (the policy is
written down in docs/security.md):

1. **Pair** (account, address): after ``login_max_failures`` failures since the pair's last
   success (looking back at most a day), the pair waits ``login_lock_minutes``, doubled for every
   further failure, at most a day. This is what stops guessing from one address.
2. **Address**: ``login_address_max_failures`` failures from one address on any accounts within
   ``login_lock_minutes`` lock the address for ``login_lock_minutes`` after its last failure
   (one machine trying many accounts).
3. **Account** (soft): ``login_account_max_failures`` failures on one account from all addresses
   within ``login_lock_minutes`` refuse the account to addresses it has not logged in from during
   ``login_trusted_days`` (guessing spread over many addresses).

An address the account logged in from recently is exempt from limits 2 and 3 for that account:
a stranger can therefore not lock a user out of their usual computer (only someone at that same
address can, through limit 1). Attempts refused by throttling are recorded with the outcome
``throttled`` and do not count as failures, so trying during a lock does not prolong it.

Attempts are keyed on :func:`account_key`, the normalised username (NFKC, stripped, casefolded),
so ``"finance "`` and ``"ＦＩＮＡＮＣＥ"`` count against ``finance``; a key that does not fit the
column (or holds control characters) is replaced by a digest, so long names are counted too.
"""

from __future__ import annotations

import hashlib
import logging
import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from anju.config import get_settings
from anju.core.dates import utcnow
from anju.errors import TooManyAttempts
from anju.identity.models import LoginAttempt

log = logging.getLogger("anju.login")

SUCCESS = "success"
FAILURE = "failure"
THROTTLED = "throttled"

KEY_LENGTH = 64  # LoginAttempt.username
MAX_LOCK = timedelta(days=1)
PAIR_LOOKBACK = timedelta(days=1)


def account_key(username: str) -> str:
    """The throttling key of a typed username: NFKC, stripped, casefolded; a digest when it does not fit.

    The digest form (``~`` and 40 hex digits of SHA-256) is used for names longer than the column
    and for names with control characters (NUL cannot be stored in PostgreSQL text).
    """
    key = unicodedata.normalize("NFKC", username).strip().casefold()
    if len(key) > KEY_LENGTH or any(unicodedata.category(c) == "Cc" for c in key):
        return "~" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return key


def _address(ip: str) -> str:
    return ip[:64]


def _failed() -> ColumnElement[bool]:
    # Rows written before the outcome column existed were failures ('').
    return and_(
        LoginAttempt.succeeded.is_(False), or_(LoginAttempt.outcome == FAILURE, LoginAttempt.outcome == "")
    )


@dataclass(frozen=True, slots=True)
class Lock:
    """A limit in force: which one, and until when."""

    kind: str  # pair | address | account
    until: datetime

    def wait_minutes(self, now: datetime) -> int:
        """Whole minutes to wait, rounded up (at least 1)."""
        return max(1, math.ceil((self.until - now).total_seconds() / 60))

    def message_zh(self, now: datetime) -> str:
        """The Chinese message naming the wait."""
        minutes = self.wait_minutes(now)
        if self.kind == "address":
            return f"此网络地址登录失败次数过多，请 {minutes} 分钟后再试"
        if self.kind == "account":
            return (
                f"该账号近期登录失败次数过多，已暂停从新的网络地址登录，请 {minutes} 分钟后再试，"
                "或在最近成功登录过的电脑上登录"
            )
        return f"登录失败次数过多，请 {minutes} 分钟后再试"

    def message_en(self, now: datetime) -> str:
        """The English message naming the wait."""
        minutes = self.wait_minutes(now)
        return f"too many failed logins ({self.kind}), try again in {minutes} minutes"


def _pair_lock(session: Session, key: str, ip: str, now: datetime) -> Lock | None:
    settings = get_settings()
    pair = and_(LoginAttempt.username == key, LoginAttempt.ip == ip)
    since = now - PAIR_LOOKBACK
    last_ok = session.scalar(
        select(func.max(LoginAttempt.at)).where(
            pair, LoginAttempt.outcome == SUCCESS, LoginAttempt.at >= since
        )
    )
    if last_ok is not None:
        since = last_ok
    count, last = session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(pair, _failed(), LoginAttempt.at > since)
    ).one()
    count = int(count or 0)
    if count < settings.login_max_failures or last is None:
        return None
    extra = min(count - settings.login_max_failures, 20)  # 2**20 minutes is far past the cap
    wait = min(timedelta(minutes=settings.login_lock_minutes * 2**extra), MAX_LOCK)
    until: datetime = last + wait
    return Lock("pair", until) if until > now else None


def _window_lock(
    session: Session, kind: str, where: ColumnElement[bool], limit: int, now: datetime
) -> Lock | None:
    minutes = get_settings().login_lock_minutes
    count, last = session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            where, _failed(), LoginAttempt.at >= now - timedelta(minutes=minutes)
        )
    ).one()
    if int(count or 0) < limit or last is None:
        return None
    until: datetime = last + timedelta(minutes=minutes)
    return Lock(kind, until) if until > now else None


def trusted(session: Session, *, key: str, ip: str, now: datetime) -> bool:
    """Whether the account logged in successfully from this address within ``login_trusted_days``."""
    since = now - timedelta(days=get_settings().login_trusted_days)
    found = session.scalar(
        select(LoginAttempt.id)
        .where(
            LoginAttempt.username == key,
            LoginAttempt.ip == ip,
            LoginAttempt.outcome == SUCCESS,
            LoginAttempt.at >= since,
        )
        .limit(1)
    )
    return found is not None


def current_lock(session: Session, *, username: str, ip: str, now: datetime | None = None) -> Lock | None:
    """The longest lock in force for this username and address, or ``None``."""
    settings = get_settings()
    now = now or utcnow()
    key, ip = account_key(username), _address(ip)
    locks = [_pair_lock(session, key, ip, now)]
    if not trusted(session, key=key, ip=ip, now=now):
        locks.append(
            _window_lock(session, "address", LoginAttempt.ip == ip, settings.login_address_max_failures, now)
        )
        locks.append(
            _window_lock(
                session, "account", LoginAttempt.username == key, settings.login_account_max_failures, now
            )
        )
    found = [lock for lock in locks if lock is not None]
    return max(found, key=lambda lock: lock.until) if found else None


def check(session: Session, *, username: str, ip: str) -> None:
    """Raise :class:`TooManyAttempts` (with the wait in minutes) when a limit is in force."""
    now = utcnow()
    lock = current_lock(session, username=username, ip=ip, now=now)
    if lock is not None:
        raise TooManyAttempts(
            lock.message_zh(now),
            lock.message_en(now),
            details={"limit": lock.kind, "retry_after_minutes": lock.wait_minutes(now)},
        )


def record(session: Session, *, username: str, ip: str, outcome: str) -> None:
    """Record one attempt (``success``, ``failure`` or ``throttled``) and log it, without the password.

    The caller commits this even when the request fails (``request.state.commit_anyway``).
    """
    key = account_key(username)
    session.add(
        LoginAttempt(
            username=key, ip=_address(ip), at=utcnow(), succeeded=outcome == SUCCESS, outcome=outcome
        )
    )
    level = logging.INFO if outcome == SUCCESS else logging.WARNING
    log.log(level, "login %s: account=%r address=%s", outcome, key, _address(ip))
