"""Sheet in words part: the wording's state, the labels of declarations and fields, and
quantities with their units."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from anju.policy.check import Checked
from anju.policy.expr import Name, Node, Num
from anju.policy.facts import Household
from anju.policy.wording.words import (
    FIELD_LABELS,
    BandHit,
    Hit,
    MeasureHit,
    RateHit,
    TierHit,
    clean_label,
    generic_word,
    is_rate,
    money,
    percent,
    quantity,
)


class WordingBase:
    """The wording's state: the policy, the household, the recorded values and hits; labels and quantities."""

    def __init__(self, checked: Checked, household: Household) -> None:
        self.c = checked
        self.p = checked.policy
        self.h = household
        self.values: Mapping[Node, Any] = {}
        self.hits: Mapping[Node, Hit] = {}
        self.extra: list[str] = []

    # -- labels

    def param_label(self, name: str) -> str:
        p = self.p.params[name]
        return clean_label(p.label, name, generic_word(p.unit, p.percent))

    def tier_label(self, name: str) -> str:
        t = self.p.tiers[name]
        return clean_label(t.label, name, "奖励标准")

    def clock_label(self, name: str) -> str:
        return clean_label(self.p.clocks[name].label, name, "方案日期")

    def derived_label(self, name: str) -> str:
        return clean_label(self.p.derived[name].label, name, "计算量")

    def item_label(self, name: str) -> str:
        return clean_label(self.c.items[name].label, name, "相关补偿")

    def subtotal_label(self, name: str) -> str:
        return clean_label(self.c.subtotals[name].label, name, "小计")

    def field_label(self, obj: str, attr: str) -> str:
        return FIELD_LABELS.get((obj, attr), "登记数据")

    # -- values

    def val(self, n: Node) -> Any:
        return self.values.get(n)

    def qty(self, n: Node, value: Any = None) -> str:
        """The node's value with its unit; computed amounts in 元 with 2 decimals."""
        v = self.val(n) if value is None else value
        ty = n.ty
        unit = ty.unit if ty is not None and getattr(ty, "kind", "") == "num" else None
        if isinstance(n, Num):
            return quantity(v if v is not None else n.value, n.unit, False)
        field = isinstance(n, Name) and bool(n.ref) and n.ref[0] == "field"
        standard = isinstance(n, Name) and bool(n.ref) and n.ref[0] == "param"
        # A household's figures keep their decimals (98.60 ㎡, and sums of them); standards do not.
        exact = field or (unit is not None and str(unit) == "㎡" and not standard)
        if unit is not None and str(unit) == "元" and not isinstance(n, Name):
            return money(v) if isinstance(v, Decimal) else quantity(v, unit)
        return quantity(v, unit, False, exact)

    def percentish(self, n: Node) -> bool:
        """Whether a quantity is a rate or a percentage (a number beside it is then shown as %)."""
        if isinstance(self.hits.get(n), RateHit):
            return True
        hit = self.hits.get(n)
        if isinstance(hit, MeasureHit):
            return hit.percent
        if isinstance(n, Name) and n.ref and n.ref[0] == "param":
            return self.p.params[n.ref[1]].percent
        return is_rate(self.c, n, "")  # tiers in %, derived rates, max(rate, 0) ...

    def side(self, n: Node, other: Node) -> str:
        """One side of a comparison: a plain number beside a rate is a percentage (``100%``)."""
        if isinstance(n, Num) and n.unit is not None and n.unit.dimensionless and self.percentish(other):
            return percent(n.value)
        return self.phrase(n)

    if TYPE_CHECKING:
        # Implemented by the other parts of the class (see the final class's bases).

        def phrase(self, n: Node, outer: int = 0) -> str: ...

        def _addends(self, n: Node) -> list[Node]: ...

        def _num(self, n: Num) -> str: ...

        def fact_label(self, fid: str) -> str: ...

        def _band_label(self, hit: BandHit) -> str: ...

        def rate_text(self, hit: RateHit) -> str: ...

        def measure_text(self, hit: MeasureHit) -> str: ...

        def tier_line(self, hit: TierHit) -> str: ...

        def label_only(self, n: Node) -> str: ...

        def condition(self, n: Node, truth: bool) -> str: ...
