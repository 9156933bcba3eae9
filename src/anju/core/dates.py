"""Dates and day counting.

Legal dates are ``date`` values in Asia/Shanghai; instants are stored as UTC ``datetime``.
Compensation plans count days from a clock (e.g. the start of the signing period) to an event
(e.g. the signing date). Plans differ on whether the clock's own day is day 1, so every count
names its convention explicitly through :class:`DayCount`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """The current instant, timezone-aware in UTC."""
    return datetime.now(UTC)


def today_shanghai(now: datetime | None = None) -> date:
    """The calendar date in Asia/Shanghai at ``now`` (default: the current instant)."""
    return (now or utcnow()).astimezone(SHANGHAI).date()


def to_shanghai(instant: datetime) -> datetime:
    """Show a stored UTC instant in Shanghai time; naive values are taken as UTC."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(SHANGHAI)


class DayCount(StrEnum):
    """How the clock date itself is counted.

    ``CLOCK_DAY_IS_DAY_1``: "自签约期开始之日起30日内" — the first day of the period is day 1,
    so an event on the clock date is on day 1 and 30 days end on clock + 29.
    ``NEXT_DAY_IS_DAY_1``: "自协议生效之日的次日起" — counting starts the day after the clock,
    so an event on clock + 1 is on day 1 and an event on the clock date itself is day 0.
    """

    CLOCK_DAY_IS_DAY_1 = "clock_day_is_day_1"
    NEXT_DAY_IS_DAY_1 = "next_day_is_day_1"


def day_number(clock: date, event: date, convention: DayCount) -> int:
    """The ordinal day on which ``event`` falls when counting from ``clock`` under ``convention``.

    Events before the clock give a number below 1 (0 or negative); callers decide whether that
    means "early" (usually the first tier) or "not applicable".
    """
    delta = (event - clock).days
    return delta + 1 if convention is DayCount.CLOCK_DAY_IS_DAY_1 else delta


@dataclass(frozen=True, slots=True)
class DayWindow:
    """A window of day numbers: ``after < n <= upto``; ``None`` leaves that side open.

    "within 30 days" is ``DayWindow(after=None, upto=30)``; "beyond 30 but not beyond 45" is
    ``DayWindow(after=30, upto=45)``. Both bounds follow the plan's wording: "beyond" (超过) is
    exclusive, "within / not beyond" (以内 / 不超过) is inclusive.
    """

    after: int | None
    upto: int | None

    def contains(self, n: int) -> bool:
        """Whether day number ``n`` lies in the window."""
        if self.after is not None and n <= self.after:
            return False
        return not (self.upto is not None and n > self.upto)


def add_months(d: date, months: int) -> date:
    """``d`` moved by ``months`` calendar months, the day clamped to the month's last day
    (2025-01-31 + 1 month = 2025-02-28; 2024-01-31 + 1 month = 2024-02-29).

    Month ``k`` (1, 2, ...) of a period starting on ``s`` is ``[add_months(s, k - 1),
    add_months(s, k))``: the transition fee engine counts months this way."""
    y, m0 = divmod(d.year * 12 + d.month - 1 + months, 12)
    m = m0 + 1
    last = 31 if m == 12 else (date(y, m + 1, 1) - date(y, m, 1)).days
    return date(y, m, min(d.day, last))
