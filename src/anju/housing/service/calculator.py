"""Housing service part: the calculator (算账器) shown to a family at the desk: cash versus swap
side by side from its own facts, its swap entitlement (安置资格), and the flats still available in
the project's estates, grouped by (estate, flat type, gross area), each with what it would cost or
refund (产权调换结算 against that one flat) and whether the entitlement rules allow it.

Reads only: nothing is written and nothing is audited. Facts come from the household file (what
the family would sign today); the date parameters are read at the household's sign date, else the
policy's effective date, as :func:`anju.compensation.service.entitlement` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from anju.compensation import service as compensation_service
from anju.errors import DomainError
from anju.household import service as household_service
from anju.housing.service.stock import flat_rows, list_estates
from anju.identity.service import DataScope
from anju.policy import facts
from anju.policy.errors import EvaluationError
from anju.policy.swap import Entitlement, Flat, SwapSettlement, Violation, settle_swap, violations

__all__ = ["Calculator", "FlatOffer", "OptionTotal", "calculator"]

SAMPLE_CODES = 6  # flat codes named per group; the rest are counted


@dataclass(frozen=True, slots=True)
class OptionTotal:
    """One option of the policy for the household: its total, or why it cannot be computed."""

    option: str
    label: str
    total_fen: int | None
    error: str = ""


@dataclass(slots=True)
class FlatOffer:
    """Available flats of one estate, flat type and gross area (and market unit price, which the
    settlement may use), with the settlement against one of them and the rules it breaks."""

    estate_id: int
    estate_code: str
    estate_name: str
    flat_type: str
    flat_type_name: str
    gross_area: Decimal
    market_unit_price_fen: int | None
    flat_ids: list[int] = field(default_factory=list)
    flat_codes: list[str] = field(default_factory=list)
    settlement: SwapSettlement | None = None
    settle_error: str = ""
    violations: list[Violation] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many available flats the group holds."""
        return len(self.flat_ids)

    @property
    def allowed(self) -> bool:
        """Whether the entitlement rules allow choosing one of these flats (as a first flat)."""
        return not self.violations and not self.settle_error

    @property
    def balance_fen(self) -> int | None:
        """> 0: the family pays; < 0: it is refunded; ``None``: not computable."""
        return None if self.settlement is None else self.settlement.balance_fen


@dataclass(slots=True)
class Calculator:
    """Everything the calculator page and API show for one household."""

    household_id: int
    household_code: str
    head_name: str
    project_id: int
    policy_version: int
    policy_name: str
    policy_hash: str
    as_of: date
    options: list[OptionTotal]
    entitlement: Entitlement | None
    entitlement_error: str
    offers: list[FlatOffer]

    @property
    def available_flats(self) -> int:
        """Available flats over every group."""
        return sum(o.count for o in self.offers)


def calculator(
    session: Session, *, scope: DataScope, household_id: int, as_of: date | None = None
) -> Calculator:
    """The calculator of one household (404 out of scope or without a published policy).

    Every option of the latest published policy is computed (``compensation_service.calculate``);
    the swap entitlement (``compensation_service.entitlement``); and every available flat of the
    project's estates, grouped by estate, flat type, gross area and market unit price, is settled
    alone (``settle_swap``: balance > 0 the family pays, < 0 it is refunded) and screened against
    the entitlement as a first flat of a selection still in progress (``violations`` with ``complete=False``)."""
    file = household_service.get_household_file(session, scope=scope, household_id=household_id)
    h = file.household
    project_id = h.project_id
    pv = compensation_service.get_version(session, project_id)
    checked = compensation_service.checked_version(pv)
    ((_, hf),) = compensation_service.project_facts(
        session, scope=scope, project_id=project_id, household_ids=[household_id]
    )
    when = as_of or hf.sign_on or checked.policy.meta.effective_on
    group = compensation_service.group_facts(session, project_id)

    options: list[OptionTotal] = []
    for option, label in checked.policy.options.items():
        try:
            _, result = compensation_service.calculate(
                session, scope=scope, household_id=household_id, option=option, as_of=when
            )
        except DomainError as exc:
            options.append(OptionTotal(option, label, None, exc.message_zh))
            continue
        options.append(OptionTotal(option, label, result.total_fen))

    ent: Entitlement | None = None
    ent_error = ""
    if checked.policy.swap is not None:
        try:
            ent = compensation_service.entitlement(
                session, scope=scope, household_id=household_id, as_of=when
            ).entitlement
        except DomainError as exc:
            ent_error = exc.message_zh
    else:
        ent_error = "本方案没有产权调换结算规则"

    estates = {s.estate.id: s.estate for s in list_estates(session, project_id=project_id)}
    groups: dict[tuple[int, str, Decimal, int | None], FlatOffer] = {}
    for r in flat_rows(session, estate_ids=list(estates), status="available"):
        f = r.flat
        key = (f.estate_id, r.flat_type, f.gross_area, f.market_unit_price_fen)
        offer = groups.get(key)
        if offer is None:
            e = estates[f.estate_id]
            offer = groups[key] = FlatOffer(
                e.id, e.code, e.name, r.flat_type, r.flat_type_name, f.gross_area, f.market_unit_price_fen
            )
        offer.flat_ids.append(f.id)
        if len(offer.flat_codes) < SAMPLE_CODES:
            offer.flat_codes.append(f.code)
    offers = sorted(
        groups.values(), key=lambda o: (o.estate_code, o.gross_area, o.flat_type, o.flat_codes[0])
    )

    for o in offers:
        spec = _spec(o)
        # as the first flat of a selection still in progress (screen_candidates with nothing chosen);
        # called per group because flat codes repeat across estates
        o.violations = violations(ent, [spec], complete=False) if ent is not None else []
        if ent is None:
            o.settle_error = ent_error
            continue
        try:
            # formulas over the chosen flats see this flat as the household's selection
            trial = facts.ChosenFlat(
                spec.code, spec.area, flat_type=spec.flat_type, price_fen=spec.market_unit_price_fen
            )
            o.settlement = settle_swap(checked, replace(hf, flats=(trial,)), [spec], as_of=when, group=group)
        except EvaluationError as exc:
            o.settle_error = exc.message_zh
    return Calculator(
        household_id=h.id,
        household_code=h.code,
        head_name=h.head_name,
        project_id=project_id,
        policy_version=pv.version,
        policy_name=pv.name,
        policy_hash=pv.content_hash,
        as_of=when,
        options=options,
        entitlement=ent,
        entitlement_error=ent_error,
        offers=offers,
    )


def _spec(o: FlatOffer) -> Flat:
    """The engine flat of a group (its first flat stands for all: same type, area and price)."""
    return Flat(
        code=o.flat_codes[0],
        area=o.gross_area,
        flat_type=o.flat_type,
        market_unit_price_fen=o.market_unit_price_fen,
        flat_type_name=o.flat_type_name,
    )
