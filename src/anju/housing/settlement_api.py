"""JSON routes of a household's settlement (选房结算，多退少补) with its monthly transition fees, and of
an estate's delivery dates (交房日期)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.core.dates import today_shanghai
from anju.housing import service as housing_service
from anju.housing.api import estate_read
from anju.housing.schemas import EstateRead
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import READ_ERRORS, WRITE_ERRORS, IdPath, error_responses

router = APIRouter(tags=["housing"], responses=error_responses(*READ_ERRORS))


class SettlementLineRead(BaseModel):
    """One line of the settlement: an area at a unit price (元/㎡)."""

    label: str
    area: Decimal
    unit_price: Decimal
    amount_fen: int


class RecordRead(BaseModel):
    """The record the settlement wrote: a refund instalment or a receivable."""

    id: int
    kind: str = Field(description="instalment（退还该户）| receivable（该户补交）")
    amount_fen: int
    settled_fen: int = Field(description="已付（退还）或已收（补交）金额（分）")
    status: str
    status_label: str
    due_on: date | None
    version: int


class TransitionMonthRead(BaseModel):
    """One month of transition fee."""

    number: int
    first_day: date
    last_day: date
    late: bool
    amount_fen: int


class TransitionRead(BaseModel):
    """Transition fees by today: the delivery that applies, months, totals and what is scheduled."""

    planned_delivery_on: date | None
    actual_delivery_on: date | None
    start_on: date | None
    due_on: date | None = Field(description="逾期起点：计划交房日加交房后过渡月数")
    monthly_fen: int | None
    late_monthly_fen: int | None
    normal_months: int
    late_months: int
    total_fen: int
    scheduled_fen: int = Field(description="付款计划中已列入的过渡费（分）")
    months: list[TransitionMonthRead]
    trace: list[str]
    error: str = ""


class SettlementRead(BaseModel):
    """A household's settlement (from its agreement's frozen snapshot) and its transition fees."""

    household_id: int
    agreement_id: int | None
    policy_version: int | None
    as_of: date | None
    flats: list[str]
    entitled_area: Decimal | None
    selected_area: Decimal | None
    lines: list[SettlementLineRead]
    flats_cost_fen: int | None
    credit_fen: int | None
    refund_fen: int | None
    balance_fen: int | None = Field(description="> 0 该户应补交；< 0 应退还该户（分）")
    balance_text: str
    notes: list[str]
    record: RecordRead | None
    error: str = ""
    transition: TransitionRead | None


class EstateDeliveryUpdate(BaseModel):
    """Change an estate's delivery dates (only the fields sent; null clears); ``version`` as read."""

    model_config = ConfigDict(extra="forbid")

    planned_delivery_on: date | None = None
    actual_delivery_on: date | None = None
    version: Annotated[int, Field(ge=1, le=2**31 - 1, description="读取时的版本号；过期为 409")]


def _area(d: Decimal) -> Decimal:
    """An area with two places (``60`` -> ``60.00``), more only when it has them."""
    q = d.quantize(Decimal("0.01"))
    return q if q == d else d


def _transition(ht: housing_service.HouseholdTransition | None) -> TransitionRead | None:
    if ht is None:
        return None
    f = ht.fees
    return TransitionRead(
        planned_delivery_on=ht.planned_delivery_on,
        actual_delivery_on=ht.actual_delivery_on,
        start_on=f.start if f else None,
        due_on=f.due if f else None,
        monthly_fen=f.monthly_fen if f else None,
        late_monthly_fen=f.late_fen if f else None,
        normal_months=f.normal_months if f else 0,
        late_months=f.late_months if f else 0,
        total_fen=f.total_fen if f else 0,
        scheduled_fen=ht.scheduled_fen,
        months=[
            TransitionMonthRead(
                number=m.number,
                first_day=m.first_day,
                last_day=m.last_day,
                late=m.late,
                amount_fen=m.amount_fen,
            )
            for m in (f.months if f else [])
        ],
        trace=f.trace if f else [],
        error=ht.error,
    )


def settlement_read(
    view: housing_service.SettlementView, ht: housing_service.HouseholdTransition | None
) -> SettlementRead:
    """A settlement view as the API shows it."""
    s = view.settlement
    record: RecordRead | None = None
    if view.instalment is not None:
        i = view.instalment
        record = RecordRead(
            id=i.id,
            kind="instalment",
            amount_fen=i.amount_fen,
            settled_fen=i.paid_fen,
            status=i.status,
            status_label=agreement_service.INSTALMENT_STATUSES.get(i.status, i.status),
            due_on=i.due_on,
            version=i.version,
        )
    elif view.receivable is not None:
        r = view.receivable
        record = RecordRead(
            id=r.id,
            kind="receivable",
            amount_fen=r.amount_fen,
            settled_fen=r.received_fen,
            status=r.status,
            status_label=agreement_service.RECEIVABLE_STATUSES.get(r.status, r.status),
            due_on=r.due_on,
            version=r.version,
        )
    return SettlementRead(
        household_id=view.household_id,
        agreement_id=view.agreement.id if view.agreement else None,
        policy_version=view.policy_version,
        as_of=view.as_of,
        flats=[f.code for f in view.flats],
        entitled_area=_area(s.entitled_area) if s else None,
        selected_area=_area(s.selected_area) if s else None,
        lines=[
            SettlementLineRead(
                label=x.label, area=_area(x.area), unit_price=x.unit_price, amount_fen=x.amount_fen
            )
            for x in (s.lines if s else [])
        ],
        flats_cost_fen=s.flats_cost_fen if s else None,
        credit_fen=s.credit_fen if s else None,
        refund_fen=s.refund_fen if s else None,
        balance_fen=s.balance_fen if s else None,
        balance_text=housing_service.balance_text(s.balance_fen) if s else "",
        notes=s.notes if s else [],
        record=record,
        error=view.error,
        transition=_transition(ht),
    )


@router.get("/households/{household_id}/settlement", response_model=SettlementRead)
def get_settlement(
    household_id: IdPath,
    user: CurrentUser = Depends(requires(Permission.HOUSEHOLD_READ)),
    db: Session = Depends(get_db),
) -> SettlementRead:
    """The household's settlement of its chosen flats (多退少补) computed from its agreement's frozen
    snapshot, the record it wrote (refund instalment or receivable), and its transition fees by
    today; ``error`` says why something cannot be computed (no swap agreement, no flat ...)."""
    view = housing_service.household_settlement(db, scope=user.scope, household_id=household_id)
    ht = housing_service.household_transition(db, household_id=household_id, as_of=today_shanghai())
    return settlement_read(view, ht)


@router.patch("/estates/{estate_id}", response_model=EstateRead, responses=error_responses(*WRITE_ERRORS))
def change_estate_delivery(
    estate_id: IdPath,
    body: EstateDeliveryUpdate,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.HOUSING_MANAGE)),
    db: Session = Depends(get_db),
) -> EstateRead:
    """Change the estate's planned / actual delivery dates (交房); a stale ``version`` is a 409
    ``stale_version``, an actual delivery in the future a 409 ``delivery_date``. Audited; the transition fees of the
    project's swap households are recomputed as of today."""
    changes: dict[str, date | None] = {
        k: getattr(body, k)
        for k in ("planned_delivery_on", "actual_delivery_on")
        if k in body.model_fields_set
    }
    housing_service.update_estate_delivery(
        db,
        actor=user.actor(client_ip(request)),
        estate_id=estate_id,
        expected_version=body.version,
        changes=changes,
        today=today_shanghai(),
    )
    return estate_read(housing_service.estate_summary(db, estate_id=estate_id))
