"""Date arithmetic of the formula language (``days_between``, ``months_between``, ``add_months``),
once on ``date`` values (the scalar evaluator: plain calendar reasoning) and once on ordinals
(``date.toordinal()``, 0 = unknown) written with integer operators only, so that the very same
function runs on Python ints, on numpy int64 arrays (the bulk evaluator) and inside a numba
kernel (registered as a kernel helper). The two are checked against each other by property tests.

Conventions (docs/policy-language.md, "日期与月份"):

* ``days_between(a, b)`` is ``b - a`` in days: the first day is not counted, the last is
  (2026-01-01 -> 2026-01-31 = 30 日). ``inclusive=true`` counts both ends (31 日), as in
  "自 A 日起至 B 日止".
* ``months_between(a, b)`` counts calendar months from ``a``: month ``k`` is
  ``[add_months(a, k-1), add_months(a, k))`` (the day clamped to the month's end, as the
  transition fees count, :func:`anju.core.dates.add_months`). ``started=false`` (default): whole
  months only; ``started=true``: a month that has begun counts whole.
* Time does not run backwards: ``b`` before ``a`` gives 0 (write the dates the other way round
  for the opposite direction), and so does an unknown date (guard with ``known(...)``).
* ``add_months(d, n)`` moves ``d`` by ``n`` months (day clamped to the month's end); an unknown
  date stays unknown.

Ordinal functions are branch-free on purpose (``x * (cond)`` instead of ``if``): they are inlined
into the kernels' household loop, where branches on random data mispredict.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from anju.core.dates import add_months

__all__ = [
    "ORD_MAX",
    "add_months_d",
    "add_months_o",
    "days_between_d",
    "days_between_o",
    "months_between_d",
    "months_between_o",
]

#: The last ordinal a date may have (9999-12-31).
ORD_MAX = date.max.toordinal()

# ----------------------------------------------------------------------------- on dates (scalar)


def days_between_d(a: date | None, b: date | None, inclusive: bool = False) -> int:
    """Days from ``a`` to ``b`` (0 when either is unknown or ``b`` is before ``a``)."""
    if a is None or b is None or b < a:
        return 0
    return (b - a).days + (1 if inclusive else 0)


def months_between_d(a: date | None, b: date | None, started: bool = False) -> int:
    """Calendar months from ``a`` to ``b``: whole months, or months begun with ``started``."""
    if a is None or b is None or b <= a:
        return 0
    k = (b.year - a.year) * 12 + b.month - a.month
    if add_months(a, k) > b:
        k -= 1
    # k: the most whole months, add_months(a, k) <= b < add_months(a, k + 1)
    if started and add_months(a, k) < b:
        k += 1
    return k


def add_months_d(d: date | None, n: int) -> date | None:
    """``d`` moved by ``n`` months (unknown stays unknown); ValueError/OverflowError past year 9999."""
    if d is None:
        return None
    return add_months(d, n)


# ----------------------------------------------------------------------------- on ordinals
# Days from civil and back after H. Hinnant's algorithms ("chrono-compatible low-level date
# algorithms"), shifted to Python's ordinals (0001-01-01 = 1); written out in each function so
# that every one of them compiles on its own inside a kernel.


def days_between_o(a: Any, b: Any, inclusive: Any) -> Any:
    """Ordinal form of :func:`days_between_d` (``inclusive`` 0 or 1)."""
    return (b - a + inclusive) * ((a != 0) & (b != 0) & (b >= a))


def months_between_o(a: Any, b: Any, started: Any) -> Any:
    """Ordinal form of :func:`months_between_d` (``started`` 0 or 1)."""
    # a -> (ya, ma, da)
    z = a + 305
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    da = doy - (153 * mp + 2) // 5 + 1
    ma = mp + 3 - 12 * (mp >= 10)
    ya = yoe + era * 400 + (ma <= 2)
    # b -> (yb, mb, db)
    z = b + 305
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    db = doy - (153 * mp + 2) // 5 + 1
    mb = mp + 3 - 12 * (mp >= 10)
    yb = yoe + era * 400 + (mb <= 2)
    # the last day of b's month
    leap = (yb % 4 == 0) & ((yb % 100 != 0) | (yb % 400 == 0))
    short = (mb == 4) | (mb == 6) | (mb == 9) | (mb == 11)
    last = 31 - short * 1 - (mb == 2) * (3 - leap * 1)
    # a's day in b's month (clamped) against b's day
    c = da + (last - da) * (last < da)
    k = (yb - ya) * 12 + mb - ma
    k = k - (c > db) * (1 - started) + (c < db) * started
    return k * ((a != 0) & (b != 0) & (b > a))


def add_months_o(d: Any, n: Any) -> Any:
    """Ordinal form of :func:`add_months_d` (0 stays 0; no range check: callers check the result
    against 1 .. :data:`ORD_MAX`)."""
    z = d + 305
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    dd = doy - (153 * mp + 2) // 5 + 1
    mm = mp + 3 - 12 * (mp >= 10)
    yy = yoe + era * 400 + (mm <= 2)
    t = yy * 12 + mm - 1 + n
    y = t // 12
    m = t - y * 12 + 1
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    short = (m == 4) | (m == 6) | (m == 9) | (m == 11)
    last = 31 - short * 1 - (m == 2) * (3 - leap * 1)
    day = dd + (last - dd) * (last < dd)
    # (y, m, day) -> ordinal
    y2 = y - (m <= 2)
    era = y2 // 400
    yoe = y2 - era * 400
    mp = m - 3 + 12 * (m <= 2)
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return (era * 146097 + doe - 305) * (d != 0)
