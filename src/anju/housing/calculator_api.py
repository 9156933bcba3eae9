"""JSON route of the desk calculator (算账器): a household's cash and swap totals, its entitlement,
and the available flats grouped by estate, flat type and gross area, each with what it would cost or
refund and whether the entitlement rules allow it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from anju.housing import service as housing_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import get_db, requires
from anju.web.params import READ_ERRORS, IdPath, error_responses

router = APIRouter(tags=["housing"], responses=error_responses(*READ_ERRORS))


class CalculatorOptionRead(BaseModel):
    """One option of the policy: its total, or why it cannot be computed."""

    option: str
    label: str
    total_fen: int | None = Field(description="合计（分）；null 为无法计算，见 error")
    error: str = ""


class CalculatorRuleRead(BaseModel):
    """A selection rule of the household's entitlement."""

    id: str
    label: str
    applies: bool
    description: str


class CalculatorEntitlementRead(BaseModel):
    """The household's swap entitlement (安置资格)."""

    entitled_area: Decimal = Field(description="应安置面积（㎡）")
    max_area: Decimal = Field(description="最大可选面积（㎡）")
    max_flats: int | None = Field(description="最多可选套数；null 为不限")
    rules: list[CalculatorRuleRead]


class CalculatorViolationRead(BaseModel):
    """A rule choosing such a flat would break."""

    rule_id: str
    label: str
    message: str


class CalculatorOfferRead(BaseModel):
    """Available flats of one estate, flat type and gross area, settled against one of them."""

    estate_id: int
    estate_code: str
    estate_name: str
    flat_type: str
    flat_type_name: str
    gross_area: Decimal
    count: int = Field(description="该组可选房源套数")
    flat_codes: list[str] = Field(description="该组前几套房源编号")
    flat_ids: list[int]
    balance_fen: int | None = Field(description="> 0 该户须补交，< 0 退还给该户（分）；null 为无法结算")
    flats_cost_fen: int | None
    credit_fen: int | None
    refund_fen: int | None
    settle_error: str = ""
    allowed: bool = Field(description="按安置资格规则可以选择（作为第一套）")
    violations: list[CalculatorViolationRead]


class CalculatorRead(BaseModel):
    """The calculator of one household."""

    household_id: int
    household_code: str
    policy_version: int
    policy_hash: str
    as_of: date = Field(description="参数取值日期：签约日，未签约为方案生效日")
    options: list[CalculatorOptionRead]
    entitlement: CalculatorEntitlementRead | None
    entitlement_error: str = ""
    available_flats: int
    offers: list[CalculatorOfferRead]


def calculator_read(c: housing_service.Calculator) -> CalculatorRead:
    """The calculator as the API shows it."""
    e = c.entitlement
    return CalculatorRead(
        household_id=c.household_id,
        household_code=c.household_code,
        policy_version=c.policy_version,
        policy_hash=c.policy_hash,
        as_of=c.as_of,
        options=[
            CalculatorOptionRead(option=o.option, label=o.label, total_fen=o.total_fen, error=o.error)
            for o in c.options
        ],
        entitlement=None
        if e is None
        else CalculatorEntitlementRead(
            entitled_area=e.entitled_area,
            max_area=e.max_area,
            max_flats=e.max_flats,
            rules=[
                CalculatorRuleRead(id=r.id, label=r.label, applies=r.applies, description=r.describe())
                for r in e.rules
            ],
        ),
        entitlement_error=c.entitlement_error,
        available_flats=c.available_flats,
        offers=[
            CalculatorOfferRead(
                estate_id=o.estate_id,
                estate_code=o.estate_code,
                estate_name=o.estate_name,
                flat_type=o.flat_type,
                flat_type_name=o.flat_type_name,
                gross_area=o.gross_area,
                count=o.count,
                flat_codes=o.flat_codes,
                flat_ids=o.flat_ids,
                balance_fen=o.balance_fen,
                flats_cost_fen=None if o.settlement is None else o.settlement.flats_cost_fen,
                credit_fen=None if o.settlement is None else o.settlement.credit_fen,
                refund_fen=None if o.settlement is None else o.settlement.refund_fen,
                settle_error=o.settle_error,
                allowed=o.allowed,
                violations=[
                    CalculatorViolationRead(rule_id=v.rule_id, label=v.label, message=v.message_zh)
                    for v in o.violations
                ],
            )
            for o in c.offers
        ],
    )


@router.get("/households/{household_id}/calculator", response_model=CalculatorRead)
def calculator(
    household_id: IdPath,
    as_of: date | None = None,
    user: CurrentUser = Depends(requires(Permission.POLICY_READ)),
    db: Session = Depends(get_db),
) -> CalculatorRead:
    """The household's calculator: every option's total, its swap entitlement, and the available
    flats of the project's estates grouped by estate, flat type and gross area, each settled alone
    (balance > 0: the family pays; < 0: it is refunded) and checked against the entitlement.
    404 when the household is out of reach or the project has no published policy."""
    return calculator_read(
        housing_service.calculator(db, scope=user.scope, household_id=household_id, as_of=as_of)
    )
