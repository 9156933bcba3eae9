"""Option comparison (算好拆迁账) and swap settlement against chosen flats (产权调换结算).

Settlement rules (all amounts from the policy's ``swap_settlement`` formulas):

* area up to the entitled area is paid at the cost price;
* up to ``extra_limit`` ㎡ beyond it (e.g. 15) at the extra price;
* the rest up to ``max_extra`` ㎡ beyond it (e.g. 30) at the market price; more is refused;
* entitled area not taken is refunded at the refund price;
* the swap compensation credit is set against the flats' cost: a positive balance is paid by the
  household (补差价), a negative one refunded to it (退还).
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from anju.core.money import format_yuan, round_to_fen
from anju.policy.check import Checked
from anju.policy.errors import EvaluationError
from anju.policy.facts import GroupFacts, Household
from anju.policy.scalar import EXACT, ROUNDING, Result, ScalarEvaluator


@dataclass(frozen=True, slots=True)
class Flat:
    """A resettlement flat offered for selection (房源)."""

    code: str
    area: Decimal
    flat_type: str = ""
    market_unit_price_fen: int | None = None


@dataclass(slots=True)
class SettlementLine:
    """One line of the settlement: an area at a price."""

    label: str
    area: Decimal
    unit_price: Decimal
    amount_fen: int


@dataclass(slots=True)
class SwapSettlement:
    """The result of settling a swap household against its chosen flats."""

    entitled_area: Decimal
    selected_area: Decimal
    credit_fen: int
    lines: list[SettlementLine]
    refund_fen: int
    flats_cost_fen: int
    balance_fen: int  # > 0: the household pays; < 0: the household is refunded
    notes: list[str] = field(default_factory=list)

    @property
    def household_pays(self) -> bool:
        """Whether the household has to pay the difference."""
        return self.balance_fen > 0


@dataclass(slots=True)
class OptionComparison:
    """Cash and swap side by side for one household."""

    household: str
    results: dict[str, Result]
    settlement: SwapSettlement | None

    def totals(self) -> dict[str, int]:
        """Option -> total of its items (fen)."""
        return {k: r.total_fen for k, r in self.results.items()}


def _money(value: Decimal, checked: Checked) -> int:
    with decimal.localcontext(ROUNDING):
        return round_to_fen(value, checked.policy.meta.rounding_mode, checked.policy.meta.rounding_unit)


def settle_swap(
    checked: Checked,
    household: Household,
    flats: list[Flat],
    as_of: date | None = None,
    group: GroupFacts | None = None,
    option: str = "swap",
) -> SwapSettlement:
    """Settle ``household`` (swap option) against the ``flats`` it chose."""
    rules = checked.policy.swap
    if rules is None:
        raise EvaluationError("no-swap", "本方案没有产权调换结算规则", "this policy has no swap settlement rules")
    ev = ScalarEvaluator(checked, household, as_of or checked.policy.meta.effective_on, group, trace=False)
    ev.evaluate(option)
    with decimal.localcontext(EXACT):
        entitled: Decimal = ev.run(rules.entitled_area, None)
        credit: Decimal = ev.run(rules.credit, None)
        cost_price: Decimal = ev.run(rules.cost_price, None)
        extra_price: Decimal = ev.run(rules.extra_price, None)
        refund_price: Decimal = ev.run(rules.refund_price, None)
        market: Decimal | None = ev.run(rules.market_price, None) if rules.market_price is not None else None
    selected = sum((f.area for f in flats), Decimal(0))
    notes: list[str] = []
    for upto, types in rules.flat_types:
        if upto is None or entitled <= upto:
            bad = [f.code for f in flats if types and f.flat_type not in types]
            if bad:
                raise EvaluationError(
                    "flat-type", f"应安置面积 {entitled}㎡ 只能选择户型 {'、'.join(types)}，{'、'.join(bad)} 不符合",
                    f"with an entitled area of {entitled} ㎡ only flat types {', '.join(types)} may be chosen",
                )
            break
    extra = selected - entitled
    if extra > rules.max_extra:
        raise EvaluationError(
            "flat-area", f"所选面积 {selected}㎡ 超出应安置面积 {entitled}㎡ 达 {extra}㎡，最多可超 {rules.max_extra}㎡",
            f"selected {selected} ㎡ exceeds the entitled {entitled} ㎡ by {extra} ㎡ (at most {rules.max_extra} ㎡)",
        )
    within = min(selected, entitled)
    e1 = min(max(extra, Decimal(0)), rules.extra_limit)
    e2 = max(extra - rules.extra_limit, Decimal(0))
    lines = [SettlementLine("应安置面积内，按成本价 within entitled area at cost price", within, cost_price,
                            _money(within * cost_price, checked))]
    if e1 > 0:
        lines.append(SettlementLine(f"超出 {rules.extra_limit}㎡ 以内部分 extra up to {rules.extra_limit} ㎡",
                                    e1, extra_price, _money(e1 * extra_price, checked)))
    if e2 > 0:
        if market is None:
            prices = [f.market_unit_price_fen for f in flats if f.market_unit_price_fen is not None]
            if not prices:
                raise EvaluationError("market-price", "超出部分需按市场价结算，但没有市场价",
                                      "the area beyond the extra tier needs a market price")
            market = Decimal(max(prices)).scaleb(-2)
            notes.append("市场价取所选房源中最高的市场单价 / market price: highest of the chosen flats")
        lines.append(SettlementLine("其余超出部分，按市场价 remaining extra at market price", e2, market,
                                    _money(e2 * market, checked)))
    refund_area = max(entitled - selected, Decimal(0))
    refund_fen = _money(refund_area * refund_price, checked) if refund_area > 0 else 0
    if refund_area > 0:
        notes.append(f"未选足的应安置面积 {refund_area}㎡ 按 {refund_price} 元/㎡ 退还 {format_yuan(refund_fen)} 元 / refund")
    flats_cost = sum(x.amount_fen for x in lines)
    credit_fen = _money(credit, checked)
    balance = flats_cost - credit_fen - refund_fen
    return SwapSettlement(entitled, selected, credit_fen, lines, refund_fen, flats_cost, balance, notes)


def compare_options(
    checked: Checked,
    household: Household,
    as_of: date | None = None,
    group: GroupFacts | None = None,
    flats: list[Flat] | None = None,
) -> OptionComparison:
    """Evaluate every option of the policy for one household; settle the swap if flats are given."""
    when = as_of or checked.policy.meta.effective_on
    results = {
        opt: ScalarEvaluator(checked, household, when, group).evaluate(opt) for opt in checked.policy.options
    }
    settlement = None
    if flats is not None and checked.policy.swap is not None and "swap" in checked.policy.options:
        settlement = settle_swap(checked, household, flats, when, group)
    return OptionComparison(household.code, results, settlement)
