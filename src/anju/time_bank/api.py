"""JSON routes of the time bank and the moral bank under ``/api/v1/time-bank``."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.time_bank import service as tb
from anju.time_bank.schemas import (
    AccountLedger,
    AccountRead,
    ActivityCreate,
    ActivityRead,
    AwardCreate,
    AwardDecision,
    AwardObjection,
    AwardRead,
    BoardRow,
    CheckTime,
    ClaimRead,
    DonationCreate,
    EntryRead,
    GiftCreate,
    ItemCreate,
    ItemRead,
    RedemptionCreate,
    RedemptionRead,
    ReversalCreate,
    Review,
    RuleCreate,
    RuleRead,
    SettingUpdate,
    Settled,
    SignupCreate,
    SignupRead,
    Transfer,
    VolunteerCreate,
    VolunteerRead,
    VolunteerVerify,
)
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import READ_ERRORS, WRITE_ERRORS, IdPath, error_responses

SettingKey = Literal["min_balance_minutes", "yearly_cap_minutes", "publicity_days", "name_mask"]

router = APIRouter(prefix="/time-bank", tags=["time-bank"], responses=error_responses(*READ_ERRORS))
READ = requires(Permission.TIMEBANK_READ)
MANAGE = requires(Permission.TIMEBANK_MANAGE)
REVIEW = requires(Permission.TIMEBANK_REVIEW)
W = error_responses(*WRITE_ERRORS)


@router.get("/volunteers", response_model=list[VolunteerRead])
def list_volunteers(user: CurrentUser = Depends(READ), db: Session = Depends(get_db)) -> list[VolunteerRead]:
    """Every volunteer."""
    return [VolunteerRead.model_validate(v) for v in tb.volunteers(db)]


@router.post("/volunteers", response_model=VolunteerRead, status_code=201, responses=W)
def create_volunteer(
    body: VolunteerCreate,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> VolunteerRead:
    """Register a volunteer; a phone already registered is a 409 ``duplicate_volunteer``."""
    v = tb.create_volunteer(db, actor=user.actor(client_ip(request)), **body.model_dump())
    return VolunteerRead.model_validate(v)


@router.post("/volunteers/{volunteer_id}/verify", response_model=VolunteerRead, responses=W)
def verify_volunteer(
    volunteer_id: IdPath,
    body: VolunteerVerify,
    request: Request,
    user: CurrentUser = Depends(REVIEW),
    db: Session = Depends(get_db),
) -> VolunteerRead:
    """Mark a volunteer (and family, for gifts between close kin) as verified by the community."""
    v = tb.verify_volunteer(
        db,
        actor=user.actor(client_ip(request)),
        volunteer_id=volunteer_id,
        family_code=body.family_code,
        version=body.version,
    )
    return VolunteerRead.model_validate(v)


@router.get("/volunteers/{volunteer_id}/accounts", response_model=list[AccountLedger])
def volunteer_accounts(
    volunteer_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> list[AccountLedger]:
    """A volunteer's hours and points: balance, ledger sum and the latest entries."""
    v = tb.get_volunteer(db, volunteer_id)
    out = []
    for unit in ("minutes", "points"):
        acc = tb.volunteer_account(db, v, unit)
        out.append(
            AccountLedger(
                account=AccountRead.model_validate(acc),
                ledger_sum=tb.ledger_sum(db, account_id=acc.id),
                entries=[EntryRead.model_validate(e) for e in tb.entries(db, account_id=acc.id)],
            )
        )
    return out


@router.get("/accounts", response_model=list[AccountRead])
def list_accounts(user: CurrentUser = Depends(READ), db: Session = Depends(get_db)) -> list[AccountRead]:
    """Every ledger account (volunteers, families, teams, the pool, the issuer)."""
    return [AccountRead.model_validate(a) for a in tb.accounts(db)]


@router.get("/activities", response_model=list[ActivityRead])
def list_activities(user: CurrentUser = Depends(READ), db: Session = Depends(get_db)) -> list[ActivityRead]:
    """The latest activities."""
    return [ActivityRead.model_validate(a) for a in tb.activities(db)]


@router.post("/activities", response_model=ActivityRead, status_code=201, responses=W)
def create_activity(
    body: ActivityCreate, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> ActivityRead:
    """Publish an activity (category, community, optional grid, time, place, capacity, minutes)."""
    a = tb.create_activity(db, actor=user.actor(client_ip(request)), **body.model_dump())
    return ActivityRead.model_validate(a)


@router.get("/activities/{activity_id}/signups", response_model=list[SignupRead])
def list_signups(
    activity_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> list[SignupRead]:
    """The sign-ups of an activity."""
    tb.get_activity(db, activity_id)
    return [SignupRead.model_validate(s) for s, _ in tb.signups(db, activity_id=activity_id)]


@router.post("/activities/{activity_id}/signups", response_model=SignupRead, status_code=201, responses=W)
def sign_up(
    activity_id: IdPath,
    body: SignupCreate,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> SignupRead:
    """Sign a volunteer up; a full activity is a 409 ``activity_full``."""
    s = tb.sign_up(
        db, actor=user.actor(client_ip(request)), activity_id=activity_id, volunteer_id=body.volunteer_id
    )
    return SignupRead.model_validate(s)


@router.post("/signups/{signup_id}/check-in", response_model=SignupRead, responses=W)
def check_in(
    signup_id: IdPath,
    request: Request,
    body: CheckTime | None = None,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> SignupRead:
    """签到 now, or at the time the field worker noted (never in the future)."""
    at = body.at if body else None
    s = tb.check_in(db, actor=user.actor(client_ip(request)), signup_id=signup_id, at=at)
    return SignupRead.model_validate(s)


@router.post("/signups/{signup_id}/check-out", response_model=ClaimRead, responses=W)
def check_out(
    signup_id: IdPath,
    request: Request,
    body: CheckTime | None = None,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> ClaimRead:
    """签退 now (or at the noted time): the hours claim waiting for two reviewers."""
    at = body.at if body else None
    c = tb.check_out(db, actor=user.actor(client_ip(request)), signup_id=signup_id, at=at)
    return _claim_read(db, c.id)


def _claim_read(db: Session, claim_id: int) -> ClaimRead:
    for c, v, a in tb.claims(db, statuses=tb.CLAIM_STATUSES, claim_id=claim_id):
        return ClaimRead(
            id=c.id,
            volunteer_id=v.id,
            volunteer_name=v.name,
            activity_title=a.title,
            minutes=c.minutes,
            status=c.status,
            first_reviewer_id=c.first_reviewer_id,
            second_reviewer_id=c.second_reviewer_id,
            transfer_id=c.transfer_id,
        )
    raise AssertionError("claim vanished")  # pragma: no cover - read in the writing transaction


@router.get("/claims", response_model=list[ClaimRead])
def review_queue(user: CurrentUser = Depends(READ), db: Session = Depends(get_db)) -> list[ClaimRead]:
    """Hours claims waiting for a first or a second review, oldest first."""
    return [
        ClaimRead(
            id=c.id,
            volunteer_id=v.id,
            volunteer_name=v.name,
            activity_title=a.title,
            minutes=c.minutes,
            status=c.status,
            first_reviewer_id=c.first_reviewer_id,
            second_reviewer_id=c.second_reviewer_id,
            transfer_id=c.transfer_id,
        )
        for c, v, a in tb.claims(db)
    ]


@router.post("/claims/{claim_id}/review", response_model=ClaimRead, responses=W)
def review(
    claim_id: IdPath,
    body: Review,
    request: Request,
    user: CurrentUser = Depends(REVIEW),
    db: Session = Depends(get_db),
) -> ClaimRead:
    """Approve or reject hours: two different reviewers, neither the volunteer; credited at the second.

    The same reviewer again is a 409 ``same_reviewer``; the volunteer is a 403 ``own_hours``.
    """
    tb.review(
        db, actor=user.actor(client_ip(request)), claim_id=claim_id, approve=body.approve, reason=body.reason
    )
    return _claim_read(db, claim_id)


@router.get("/catalogue", response_model=list[ItemRead])
def list_items(user: CurrentUser = Depends(READ), db: Session = Depends(get_db)) -> list[ItemRead]:
    """The catalogue: services and goods in minutes or points."""
    return [ItemRead.model_validate(i) for i in tb.catalogue(db)]


@router.post("/catalogue", response_model=ItemRead, status_code=201, responses=W)
def create_item(
    body: ItemCreate, request: Request, user: CurrentUser = Depends(REVIEW), db: Session = Depends(get_db)
) -> ItemRead:
    """Add a catalogue item (services or goods, never cash)."""
    return ItemRead.model_validate(
        tb.create_item(db, actor=user.actor(client_ip(request)), **body.model_dump())
    )


@router.post("/redemptions", response_model=RedemptionRead, status_code=201, responses=W)
def redeem(
    body: RedemptionCreate,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> RedemptionRead:
    """Redeem an item; below the minimum or the price is a 409 (``below_minimum``, ``insufficient_balance``)."""
    r = tb.redeem(
        db, actor=user.actor(client_ip(request)), volunteer_id=body.volunteer_id, item_id=body.item_id
    )
    return RedemptionRead(redemption_id=r.redemption_id, transfer_id=r.transfer_id, balance=r.balance)


@router.post("/gifts", response_model=Transfer, status_code=201, responses=W)
def gift(
    body: GiftCreate, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Transfer:
    """Give hours to a verified close kin (409 ``not_close_kin`` otherwise)."""
    return Transfer(transfer_id=tb.gift(db, actor=user.actor(client_ip(request)), **body.model_dump()))


@router.post("/donations", response_model=Transfer, status_code=201, responses=W)
def donate(
    body: DonationCreate, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Transfer:
    """Donate hours of a volunteer's or team's account to the pool (公益池)."""
    return Transfer(transfer_id=tb.donate(db, actor=user.actor(client_ip(request)), **body.model_dump()))


@router.post("/transfers/{transfer_id}/reversal", response_model=Transfer, status_code=201, responses=W)
def reverse(
    transfer_id: str,
    body: ReversalCreate,
    request: Request,
    user: CurrentUser = Depends(REVIEW),
    db: Session = Depends(get_db),
) -> Transfer:
    """Correct a transfer by its reversal (at most once); the reason goes into the ledger and the audit."""
    return Transfer(
        transfer_id=tb.reverse(
            db, actor=user.actor(client_ip(request)), transfer_id=transfer_id, reason=body.reason
        )
    )


@router.get("/settings", response_model=dict[str, int])
def get_settings(user: CurrentUser = Depends(READ), db: Session = Depends(get_db)) -> dict[str, int]:
    """The configurable rules in force."""
    return tb.settings(db)


@router.put("/settings/{key}", response_model=dict[str, int], responses=W)
def put_setting(
    key: SettingKey,
    body: SettingUpdate,
    request: Request,
    user: CurrentUser = Depends(REVIEW),
    db: Session = Depends(get_db),
) -> dict[str, int]:
    """Change one rule (minimum before redemption, yearly cap, publicity days, name masking)."""
    tb.set_setting(db, actor=user.actor(client_ip(request)), key=key, value=body.value)
    return tb.settings(db)


@router.get("/moral/rules", response_model=list[RuleRead])
def list_rules(user: CurrentUser = Depends(READ), db: Session = Depends(get_db)) -> list[RuleRead]:
    """The moral bank's earning rules."""
    return [RuleRead.model_validate(r) for r in tb.earning_rules(db)]


@router.post("/moral/rules", response_model=RuleRead, status_code=201, responses=W)
def create_rule(
    body: RuleCreate, request: Request, user: CurrentUser = Depends(REVIEW), db: Session = Depends(get_db)
) -> RuleRead:
    """Add an earning rule."""
    return RuleRead.model_validate(
        tb.create_rule(db, actor=user.actor(client_ip(request)), **body.model_dump())
    )


def _award_reads(db: Session, statuses: tuple[str, ...] | None = None) -> list[AwardRead]:
    return [
        AwardRead(
            id=a.id,
            volunteer_id=v.id,
            volunteer_name=v.name,
            rule_name=r.name,
            points=a.points,
            deed=a.deed,
            status=a.status,
            publicity_ends_on=a.publicity_ends_on,
            objection=a.objection,
        )
        for a, v, r in tb.awards(db, statuses=statuses)
    ]


@router.get("/moral/awards", response_model=list[AwardRead])
def list_awards(user: CurrentUser = Depends(READ), db: Session = Depends(get_db)) -> list[AwardRead]:
    """Awards, newest first (公示中, 有异议, 已生效, 已撤销)."""
    return _award_reads(db)


@router.post("/moral/awards", response_model=AwardRead, status_code=201, responses=W)
def propose_award(
    body: AwardCreate, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> AwardRead:
    """Propose an award: shown publicly for the configured days before it counts."""
    a = tb.propose_award(db, actor=user.actor(client_ip(request)), **body.model_dump())
    return next(x for x in _award_reads(db) if x.id == a.id)


@router.post("/moral/awards/{award_id}/objection", response_model=AwardRead, responses=W)
def object_to(
    award_id: IdPath,
    body: AwardObjection,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> AwardRead:
    """Record an objection received during the 公示 (holds the award)."""
    tb.object_to(db, actor=user.actor(client_ip(request)), award_id=award_id, objection=body.objection)
    return next(x for x in _award_reads(db) if x.id == award_id)


@router.post("/moral/awards/{award_id}/decision", response_model=AwardRead, responses=W)
def decide(
    award_id: IdPath,
    body: AwardDecision,
    request: Request,
    user: CurrentUser = Depends(REVIEW),
    db: Session = Depends(get_db),
) -> AwardRead:
    """Decide an objection: upheld withdraws the award, dismissed returns it to 公示."""
    tb.decide_objection(
        db, actor=user.actor(client_ip(request)), award_id=award_id, upheld=body.upheld, reason=body.reason
    )
    return next(x for x in _award_reads(db) if x.id == award_id)


@router.post("/moral/settle", response_model=Settled, responses=W)
def settle(request: Request, user: CurrentUser = Depends(REVIEW), db: Session = Depends(get_db)) -> Settled:
    """Credit every award whose 公示 has ended without a pending objection."""
    return Settled(counted=tb.settle(db, actor=user.actor(client_ip(request))))


@router.get("/leaderboard", response_model=list[BoardRow])
def leaderboard(
    unit: Literal["minutes", "points"] = "minutes",
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> list[BoardRow]:
    """The leaderboard of hours (``minutes``) or points, names masked as configured."""
    u = unit
    return [
        BoardRow(rank=b.rank, name=b.name, community_id=b.community_id, amount=b.amount)
        for b in tb.leaderboard(db, unit=u)
    ]
