"""The calculation sheet in words: each item's basis in Chinese with the family's own numbers.

The scalar evaluator (:mod:`anju.policy.scalar`) records, while it evaluates a formula with its
trace on, the value of every node and what a tier, a band or a sign rate looked up (a *hit*). This
module turns that into the lines a family reads, e.g. ``合法面积 98.60 ㎡ × 房屋重置价 1,000 元/㎡ =
98,600.00 元`` or ``2025年4月10日签约，为签约期开始（2025年4月1日）当日起第 10 日，落在“30日内”``:
parameters, tiers, clocks and derived quantities are named by their labels (the English half of a
bilingual label and a trailing remark in brackets are left out; a missing label becomes a generic
word by unit, never the identifier), percentages are shown as %, floors and caps in words, only the
branch that was taken, and no line twice. It is pure: it reads the checked policy and the values,
nothing else. The formula view (the trace's steps) stays for policy authors.

Parts (import the package: ``from anju.policy.wording import Wording, certificate_lines``):

- ``words``: field labels, the hits the evaluator records, numbers, money, dates and labels as text,
  which numbers are rates (:func:`is_rate`);
- ``base``: the wording's state, the labels of declarations and quantities with their units;
- ``phrases``: phrases per construct (arithmetic, names, facts, lookups, calls, dates, ``pick``);
- ``lookups``: bands, rates, group measures and tiers in words, and conditions;
- ``lines``: the lines of an item (amount, ``if``, floor, cap, not applicable), the assembled
  :class:`Wording`, subtotals, rounding and certificates.
"""

from __future__ import annotations

from anju.policy.wording.lines import Wording, certificate_lines, rounding_line, unique
from anju.policy.wording.lines import subtotal_sentence as subtotal_sentence
from anju.policy.wording.words import COLLECTION_WORDS as COLLECTION_WORDS
from anju.policy.wording.words import FIELD_LABELS as FIELD_LABELS
from anju.policy.wording.words import ROUNDING_UNIT_WORDS as ROUNDING_UNIT_WORDS
from anju.policy.wording.words import ROUNDING_WORDS as ROUNDING_WORDS
from anju.policy.wording.words import (
    BandHit,
    Hit,
    MeasureHit,
    RateHit,
    TierHit,
    clean_label,
    date_text,
    money,
    quantity,
)
from anju.policy.wording.words import PickHit as PickHit
from anju.policy.wording.words import generic_word as generic_word
from anju.policy.wording.words import is_rate as is_rate
from anju.policy.wording.words import percent as percent
from anju.policy.wording.words import window_text as window_text

__all__ = [
    "BandHit",
    "Hit",
    "MeasureHit",
    "RateHit",
    "TierHit",
    "Wording",
    "certificate_lines",
    "clean_label",
    "date_text",
    "money",
    "quantity",
    "rounding_line",
    "unique",
]
