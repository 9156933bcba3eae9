"""Option comparison (算好拆迁账), entitlement (安置资格) and swap settlement against chosen flats
(产权调换结算).

Entitlement (the policy's ``swap_settlement.entitlement`` block, see :mod:`anju.policy.selection_rules`):
:func:`entitlement` computes once per household its entitled area, maximum area and flats and its
selection rules; :func:`violations` / :func:`check_selection` list the rules a selection breaks
(empty: allowed); :func:`screen_candidates` tells which flats may still be added.

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
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from anju.core.money import format_yuan, round_to_fen
from anju.policy.check import Checked
from anju.policy.errors import EvaluationError
from anju.policy.expr import Name
from anju.policy.facts import GroupFacts, Household
from anju.policy.scalar import EXACT, ROUNDING, Result, ScalarEvaluator


@dataclass(frozen=True, slots=True)
class Flat:
    """A resettlement flat offered for selection (房源); ``area`` is its gross area (建筑面积).

    A policy names flat types by code (``A``) or by name (``三室两厅``): both are matched."""

    code: str
    area: Decimal
    flat_type: str = ""
    market_unit_price_fen: int | None = None
    flat_type_name: str = ""

    def type_in(self, types: tuple[str, ...]) -> bool:
        """Whether the flat's type code or name is one of ``types``."""
        return self.flat_type in types or (self.flat_type_name != "" and self.flat_type_name in types)


def flats_of(household: Household) -> list[Flat]:
    """The household's selected flats (its facts' ``flats``) as flats to settle; a flat's price per
    ㎡ is its market unit price."""
    return [Flat(f.code, f.area, f.flat_type, f.price_fen) for f in household.flats]


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
        raise EvaluationError(
            "no-swap", "本方案没有产权调换结算规则", "this policy has no swap settlement rules"
        )
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
            bad = [f.code for f in flats if types and not f.type_in(types)]
            if bad:
                raise EvaluationError(
                    "flat-type",
                    f"应安置面积 {entitled}㎡ 只能选择户型 {'、'.join(types)}，{'、'.join(bad)} 不符合",
                    f"with an entitled area of {entitled} ㎡ only flat types {', '.join(types)} may be chosen",
                )
            break
    extra = selected - entitled
    if extra > rules.max_extra:
        raise EvaluationError(
            "flat-area",
            f"所选面积 {selected}㎡ 超出应安置面积 {entitled}㎡ 达 {extra}㎡，最多可超 {rules.max_extra}㎡",
            f"selected {selected} ㎡ exceeds the entitled {entitled} ㎡ by {extra} ㎡ (at most {rules.max_extra} ㎡)",
        )
    within = min(selected, entitled)
    e1 = min(max(extra, Decimal(0)), rules.extra_limit)
    e2 = max(extra - rules.extra_limit, Decimal(0))
    lines = [
        SettlementLine(
            "应安置面积内，按成本价 within entitled area at cost price",
            within,
            cost_price,
            _money(within * cost_price, checked),
        )
    ]
    if e1 > 0:
        lines.append(
            SettlementLine(
                f"超出 {rules.extra_limit}㎡ 以内部分 extra up to {rules.extra_limit} ㎡",
                e1,
                extra_price,
                _money(e1 * extra_price, checked),
            )
        )
    if e2 > 0:
        if market is None:
            prices = [f.market_unit_price_fen for f in flats if f.market_unit_price_fen is not None]
            if not prices:
                raise EvaluationError(
                    "market-price",
                    "超出部分需按市场价结算，但没有市场价",
                    "the area beyond the extra tier needs a market price",
                )
            market = Decimal(max(prices)).scaleb(-2)
            notes.append("市场价取所选房源中最高的市场单价 / market price: highest of the chosen flats")
        lines.append(
            SettlementLine(
                "其余超出部分，按市场价 remaining extra at market price",
                e2,
                market,
                _money(e2 * market, checked),
            )
        )
    refund_area = max(entitled - selected, Decimal(0))
    refund_fen = _money(refund_area * refund_price, checked) if refund_area > 0 else 0
    if refund_area > 0:
        notes.append(
            f"未选足的应安置面积 {refund_area}㎡ 按 {refund_price} 元/㎡ 退还 {format_yuan(refund_fen)} 元 / refund"
        )
    flats_cost = sum(x.amount_fen for x in lines)
    credit_fen = _money(credit, checked)
    balance = flats_cost - credit_fen - refund_fen
    return SwapSettlement(entitled, selected, credit_fen, lines, refund_fen, flats_cost, balance, notes)


# ----------------------------------------------------------------------------- entitlement (安置资格)


@dataclass(frozen=True, slots=True)
class SelectionRule:
    """A selection rule as it stands for one household: whether it applies and what it requires."""

    id: str
    label: str
    kind: str  # "min_flat_area" | "max_flat_area" | "flat_types_allowed"
    applies: bool
    area: Decimal | None = None
    count: int = 1
    flat_types: tuple[str, ...] = ()

    def describe(self) -> str:
        """The requirement in Chinese, e.g. ``至少 1 套 60.00㎡ 及以上的房源``."""
        if self.kind == "min_flat_area":
            return f"至少 {self.count} 套 {area_text(self.area)}㎡ 及以上的房源"
        if self.kind == "max_flat_area":
            return f"每套房源不超过 {area_text(self.area)}㎡"
        return f"户型限于 {'、'.join(self.flat_types)}"


@dataclass(frozen=True, slots=True)
class Entitlement:
    """What one swap household may select (安置资格), from the policy and the household's facts.

    ``max_area`` is the policy's ``entitlement.max_area`` but never beyond ``entitled_area +
    max_extra`` (what the settlement accepts); without the block it is exactly that.
    ``max_flats`` is ``None`` when the policy sets no limit. ``rules`` lists every rule of the
    policy (``applies`` tells whether its condition holds for this household), and first the old
    ``swap_settlement.flat_types`` band that fits the entitled area (id ``flat_types``), if any.
    """

    household: str
    entitled_area: Decimal
    max_area: Decimal
    max_flats: int | None
    rules: tuple[SelectionRule, ...]
    extra_limit: Decimal
    max_extra: Decimal

    @property
    def applicable_rules(self) -> tuple[SelectionRule, ...]:
        """The rules that apply to this household."""
        return tuple(r for r in self.rules if r.applies)


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken selection rule: its id (a policy rule id, or ``max_area`` / ``max_flats`` /
    ``flat_types``), its label, and a message naming the flats concerned."""

    rule_id: str
    label: str
    message_zh: str
    message_en: str = ""
    flats: tuple[str, ...] = ()


def area_text(d: Decimal | None) -> str:
    """An area for a message: two places (``60.00``), more only when the value has them."""
    if d is None:
        return "—"
    with decimal.localcontext(ROUNDING):
        return f"{d:.2f}" if d == d.quantize(Decimal("0.01")) else format(d.normalize(), "f")


class _EntitlementEvaluator(ScalarEvaluator):
    """The scalar evaluator plus the names only entitlement formulas see (``entitled``)."""

    def __init__(self, checked: Checked, household: Household, as_of: date, group: GroupFacts | None) -> None:
        super().__init__(checked, household, as_of, group, trace=False)
        self.extra: dict[str, Any] = {}

    def name(self, n: Name, el: Any) -> Any:
        if n.ref[0] == "extra":
            return self.extra[n.ref[1]]
        return super().name(n, el)


def entitlement(
    checked: Checked,
    household: Household,
    as_of: date | None = None,
    group: GroupFacts | None = None,
    option: str = "swap",
) -> Entitlement:
    """The entitlement of ``household``: entitled area, maximum area and flats, and its rules."""
    rules = checked.policy.swap
    if rules is None:
        raise EvaluationError(
            "no-swap", "本方案没有产权调换结算规则", "this policy has no swap settlement rules"
        )
    ev = _EntitlementEvaluator(checked, household, as_of or checked.policy.meta.effective_on, group)
    ev.evaluate(option)  # entitlement formulas may use the items of the swap option
    spec = rules.entitlement
    out: list[SelectionRule] = []
    with decimal.localcontext(EXACT):
        entitled: Decimal = ev.run(rules.entitled_area, None)
        ev.extra["entitled"] = entitled
        max_area = entitled + rules.max_extra
        if spec is not None and spec.max_area is not None:
            max_area = min(ev.run(spec.max_area, None), max_area)
        max_flats = None
        if spec is not None and spec.max_flats is not None:
            max_flats = max(int(ev.run(spec.max_flats, None)), 0)
        for upto, types in rules.flat_types:
            if upto is None or entitled <= upto:
                if types:
                    label = "可选户型" if upto is None else f"应安置面积不超过 {area_text(upto)}㎡ 的可选户型"
                    out.append(
                        SelectionRule("flat_types", label, "flat_types_allowed", True, flat_types=types)
                    )
                break
        for r in spec.rules if spec is not None else ():
            applies = True if r.when is None else bool(ev.run(r.when, None))
            area = _areal(ev.run(r.require.area, None)) if r.require.area is not None else None
            rule = SelectionRule(
                r.id, r.label, r.require.kind, applies, area, r.require.count, r.require.flat_types
            )
            out.append(rule if r.label else replace(rule, label=rule.describe()))
    return Entitlement(
        household.code,
        _areal(entitled),
        _areal(max_area),
        max_flats,
        tuple(out),
        rules.extra_limit,
        rules.max_extra,
    )


def _areal(d: Decimal) -> Decimal:
    """The same value written with two places when it needs no more (``40`` -> ``40.00``)."""
    with decimal.localcontext(ROUNDING):
        q = d.quantize(Decimal("0.01"))
    return q if q == d else d


def violations(ent: Entitlement, flats: list[Flat], *, complete: bool = True) -> list[Violation]:
    """Every rule ``flats`` break for a household with entitlement ``ent``.

    ``complete=False`` judges a selection still in progress (more flats may follow): a rule that
    asks for more flats (``min_flat_area``) is broken only when the flats and area left under
    ``max_flats`` / ``max_area`` can no longer meet it. The other limits are broken as soon as
    they are exceeded.
    """
    n = len(flats)
    selected = sum((f.area for f in flats), Decimal(0))
    codes = tuple(f.code for f in flats)
    out: list[Violation] = []
    if ent.max_flats is not None and n > ent.max_flats:
        out.append(
            Violation(
                "max_flats",
                "最多可选套数",
                f"最多可选 {ent.max_flats} 套房源，所选为 {n} 套",
                f"at most {ent.max_flats} flat(s) may be chosen, {n} chosen",
                codes,
            )
        )
    if selected > ent.max_area:
        out.append(
            Violation(
                "max_area",
                "最大可选面积",
                f"所选房源合计 {area_text(selected)}㎡，超过最大可选面积 {area_text(ent.max_area)}㎡"
                f"（应安置面积 {area_text(ent.entitled_area)}㎡）",
                f"the chosen flats total {selected} ㎡, more than the maximum of {ent.max_area} ㎡",
                codes,
            )
        )
    for r in ent.applicable_rules:
        if r.kind == "flat_types_allowed":
            bad = tuple(f.code for f in flats if not f.type_in(r.flat_types))
            if bad:
                out.append(
                    Violation(
                        r.id,
                        r.label,
                        f"{'、'.join(bad)} 的户型不在可选户型（{'、'.join(r.flat_types)}）之列",
                        f"flat(s) {', '.join(bad)} are not of an allowed type ({', '.join(r.flat_types)})",
                        bad,
                    )
                )
            continue
        assert r.area is not None
        if r.kind == "max_flat_area":
            bad = tuple(f.code for f in flats if f.area > r.area)
            if bad:
                out.append(
                    Violation(
                        r.id,
                        r.label,
                        f"{'、'.join(bad)} 的面积超过 {area_text(r.area)}㎡（{r.describe()}）",
                        f"flat(s) {', '.join(bad)} are larger than {r.area} ㎡",
                        bad,
                    )
                )
            continue
        have = sum(1 for f in flats if f.area >= r.area)
        need = r.count - have
        if need <= 0:
            continue
        if complete:
            out.append(
                Violation(
                    r.id,
                    r.label,
                    f"须{r.describe()}，所选只有 {have} 套",
                    f"at least {r.count} flat(s) of {r.area} ㎡ or more are required, {have} chosen",
                    codes,
                )
            )
            continue
        slots = None if ent.max_flats is None else ent.max_flats - n
        room = ent.max_area - selected
        if (slots is not None and need > slots) or need * r.area > room:
            left = f"最多还能再选 {max(slots, 0)} 套、" if slots is not None else "还能再选"
            out.append(
                Violation(
                    r.id,
                    r.label,
                    f"须{r.describe()}，已选 {have} 套，{left}{area_text(max(room, Decimal(0)))}㎡，已无法满足",
                    f"at least {r.count} flat(s) of {r.area} ㎡ or more are required; what is left can no longer meet it",
                    codes,
                )
            )
    return out


def check_selection(
    checked: Checked,
    household: Household,
    flats: list[Flat],
    as_of: date | None = None,
    group: GroupFacts | None = None,
    *,
    complete: bool = True,
) -> list[Violation]:
    """The rules of the policy that selecting ``flats`` breaks for ``household`` (empty: allowed).

    See :func:`violations` for ``complete``; raises :class:`EvaluationError` when the household
    cannot be evaluated."""
    return violations(entitlement(checked, household, as_of, group), flats, complete=complete)


def screen_candidates(
    ent: Entitlement, chosen: list[Flat], candidates: list[Flat]
) -> dict[str, list[Violation]]:
    """For each candidate flat (by code): what adding it to ``chosen`` would break (empty: it may
    still be chosen). Evaluates nothing: the entitlement is computed once by the caller."""
    return {c.code: violations(ent, [*chosen, c], complete=False) for c in candidates}


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
    if flats is None and household.flats:
        flats = flats_of(household)
    if flats is not None and checked.policy.swap is not None and "swap" in checked.policy.options:
        settlement = settle_swap(checked, household, flats, when, group)
    return OptionComparison(household.code, results, settlement)
