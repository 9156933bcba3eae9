"""Fused kernels part: numba (optional), the switch, the two refusals and the integer helpers the
generated kernels call (rounding divisions by a constant, branch-free selections), and the
statement types of the generated code (:class:`V`, :class:`LoopStmt`)."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from anju.core.money import RoundingMode
from anju.policy.datecalc import add_months_o, days_between_o, months_between_o

__all__ = [
    "AUTO_MIN_HOUSEHOLDS",
    "HAVE_NUMBA",
    "I64",
    "LoopStmt",
    "Overflow",
    "Unsupported",
    "V",
    "enabled",
    "numba",
]


numba: Any  # numba is optional: without it every evaluation uses the numpy evaluator
try:
    numba = importlib.import_module("numba")
    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is not installed
    numba = None
    HAVE_NUMBA = False

I64 = np.int64

#: Below this many households the automatic choice keeps the numpy evaluator unless a kernel for
#: the policy is already compiled (compiling costs seconds; small projects are fast either way).
AUTO_MIN_HOUSEHOLDS = 1000


def enabled() -> bool:
    """Whether kernels may be used: numba importable and ``ANJU_POLICY_JIT`` is not ``0``."""
    return HAVE_NUMBA and os.environ.get("ANJU_POLICY_JIT", "1").strip().lower() not in (
        "0",
        "false",
        "no",
        "off",
    )


class Unsupported(Exception):
    """The generator cannot express this policy as a kernel (the numpy evaluator is used)."""


class Overflow(Exception):
    """Some intermediate value could leave int64 (the numpy evaluator switches to exact Python ints)."""


# ----------------------------------------------------------------------------- rounding helpers
# ``x / d`` rounded to an integer, ``d > 0`` (a literal in the kernel); the same results as
# bulk.div_round. Every mode is symmetric about zero (ties go away from zero, towards zero or to
# the even neighbour; "down" truncates, "up" rounds away from zero), so the quotient is taken of
# the magnitude and the sign put back: an unsigned division by a constant compiles to a multiply
# and a shift, without the sign fix-ups of a floor division (measured: a third of the cost, ~5 ms of
# the certificate loop per 1,000,000 households; bench/RESULTS.md, "Policy engine", session 3).
# Written without branches (bool arithmetic): household data is random, branches mispredict.
# |x| <= LIMIT and 2 * d <= LIMIT, so no step leaves int64.


def _dr_half_up(x: int, d: int) -> np.int64:
    m = 0 - (x < 0)  # all ones when negative
    a = (x ^ m) - m
    q = np.int64(np.uint64(a + d // 2) // np.uint64(d))
    return (q ^ m) - m


def _dr_half_down(x: int, d: int) -> np.int64:
    m = 0 - (x < 0)  # all ones when negative
    a = (x ^ m) - m
    q = np.int64(np.uint64(a + (d - 1) // 2) // np.uint64(d))
    return (q ^ m) - m


def _dr_half_even(x: int, d: int) -> np.int64:
    m = 0 - (x < 0)  # all ones when negative
    a = (x ^ m) - m
    q = np.int64(np.uint64(a) // np.uint64(d))
    r2 = (a - q * d) * 2
    q = q + np.int64((r2 > d) | ((r2 == d) & ((q & 1) == 1)))
    return (q ^ m) - m


def _dr_down(x: int, d: int) -> np.int64:
    m = 0 - (x < 0)  # all ones when negative
    a = (x ^ m) - m
    q = np.int64(np.uint64(a) // np.uint64(d))
    return (q ^ m) - m


def _dr_up(x: int, d: int) -> np.int64:
    m = 0 - (x < 0)  # all ones when negative
    a = (x ^ m) - m
    q = np.int64(np.uint64(a + d - 1) // np.uint64(d))
    return (q ^ m) - m


def _u(x: int) -> int:
    """An index known to be in range, as unsigned: numba then skips the negative-index wraparound
    (three instructions and a load per subscript in the hot loops; with the other in-range
    subscripts the kernel went from ~76 to ~57 ms on one thread for 1,000,000 households,
    bench/RESULTS.md "Policy engine", session 3)."""
    return np.uint64(x)  # type: ignore[return-value]


# Selections are written as bit masks, never as ``a if c else b``: numba lowers a conditional
# expression to branches, which mispredict on random household data and keep LLVM from merging
# loads.


def _sel(c: bool, a: int, b: int) -> int:
    m = 0 - c  # all ones when c
    return (a & m) | (b & ~m)


def _bsel(c: bool, a: bool, b: bool) -> bool:
    return (c & a) | ((not c) & b)


def _imax(a: int, b: int) -> int:
    m = 0 - (a > b)
    return (a & m) | (b & ~m)


def _imin(a: int, b: int) -> int:
    m = 0 - (a < b)
    return (a & m) | (b & ~m)


_MINMAX = {"imax": _imax, "imin": _imin, "sel": _sel, "bsel": _bsel, "u": _u}
# Date arithmetic on ordinals: the very functions the numpy evaluator runs (branch-free integer code).
_MINMAX.update(days_between_o=days_between_o, months_between_o=months_between_o, add_months_o=add_months_o)

_HELPERS = {
    RoundingMode.HALF_UP: ("dr_half_up", _dr_half_up),
    RoundingMode.HALF_DOWN: ("dr_half_down", _dr_half_down),
    RoundingMode.HALF_EVEN: ("dr_half_even", _dr_half_even),
    RoundingMode.DOWN: ("dr_down", _dr_down),
    RoundingMode.UP: ("dr_up", _dr_up),
}


# ----------------------------------------------------------------------------- statements


@dataclass(slots=True)
class V:
    """An emitted value: a Python expression (a temporary or a literal), its level, scale and bound."""

    code: str
    level: str  # "const" | "hh" | "building" | "member" | "tenant"
    scale: int = 0
    bound: int = 0
    value: int | None = None  # the integer of a numeric literal


class _Loop:
    """The body of a loop over the elements of one household."""

    def __init__(self, el: str) -> None:
        self.el = el
        self.body: list[Any] = []
        self.cse: dict[tuple[str, str | None], V] = {}


@dataclass(slots=True)
class LoopStmt:
    """``for j in <the elements of household i>: body`` (loops over the same elements are fused)."""

    el: str
    header: str
    body: list[Any]


# (what, ids of the arrays, arguments) -> (weak references to the arrays, value): facts about a
# table's arrays, computed once (the arrays of a table are not changed in place).
