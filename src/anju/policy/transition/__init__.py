"""The ``transition`` block: monthly transition fees (临时安置费 / 过渡费) until the resettlement
flat is delivered, with grace months after delivery and a multiplier for late delivery.

Written as data in the policy::

    transition:
      label: 临时安置费（按月）
      options: [swap]                 # the options that are paid this way (default: [swap])
      monthly: sum(buildings, building.legal_area) * transition_rate   # 元/月, a formula of the household
      start: vacate_on                # vacate_on (腾空之日) | sign_on (签约之日)
      grace_months: 3                 # months still paid after delivery (装修过渡)
      late_multiplier: 2              # months after planned delivery + grace are paid x 2
      # or instead: late_monthly: monthly_by_area + 1500元/月   (元/月 for an overdue month)
      due: add_months(household.vacate_on, 18)   # optional: the first overdue day
      when: not fact.turnover_flat    # optional: when false the block pays nothing
      months: started                 # started: a started month counts whole | whole: only whole months
      ref: 方案第十一条

Months are calendar months counted from the start date ``s``: month ``k`` is
``[add_months(s, k-1), add_months(s, k))`` (:func:`anju.core.dates.add_months`, the day clamped to
the month's end). The fee runs from ``s`` up to ``end = actual delivery + grace_months`` (open
while the flat is not delivered); it is counted up to ``as_of`` (inclusive) when that comes first.

* ``months: started`` — a month is paid when it has begun before the end (its first day is
  before ``end`` and not after ``as_of``); a month is late (multiplied) when its part inside
  the fee period reaches beyond ``due = planned delivery + grace_months``.
* ``months: whole`` — a month is paid only when it lies wholly before the end (and has fully
  elapsed by ``as_of``); it is late only when it starts on or after ``due``.

A flat delivered on or before its planned date never has late months, under either convention.
``due:`` (a date formula, e.g. by the chosen flat's 楼型) replaces ``planned delivery + grace``; an
unknown ``due`` gives no late months. The monthly fee is rounded once (the policy's rounding); a late
month pays ``round(late_monthly)`` when given, else ``round(monthly x late_multiplier)`` (both given
is a checker problem). ``when:`` false: no months at all, and the reason in words. Everything is
exact :class:`~decimal.Decimal` and fen.

Parts: :mod:`.block` (the definitions, their reading, called by :mod:`anju.policy.model`, and their
checking, called by :mod:`anju.policy.check`) and :mod:`.fees` (the evaluation, :func:`transition_fees`).
"""

from anju.policy.transition.block import (
    KEYS,
    MONTH_CONVENTIONS,
    STARTS,
    TransitionRules,
    check_transition,
    read_transition,
)
from anju.policy.transition.fees import TransitionFees, TransitionMonth, count_months, transition_fees

__all__ = [
    "KEYS",
    "MONTH_CONVENTIONS",
    "STARTS",
    "TransitionFees",
    "TransitionMonth",
    "TransitionRules",
    "check_transition",
    "count_months",
    "read_transition",
    "transition_fees",
]
