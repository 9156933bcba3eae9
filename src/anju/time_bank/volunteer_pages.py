"""Time-bank pages around one volunteer: the register (list and sign-up of a new volunteer), a
volunteer's hours and points with their ledger, the community's verification (identity and family,
which gifts between close kin need), gifts of hours within a family, donations to the pool (公益池),
and the rules in force (minimum before redemption, yearly cap, publicity days, name masking)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju import i18n
from anju.errors import DomainError, ValidationFailed
from anju.i18n import N_
from anju.identity.service import CurrentUser
from anju.time_bank import rules
from anju.time_bank import service as tb
from anju.time_bank.pages import MANAGE, READ, REVIEW, _back, _form, _int, _refused
from anju.web.deps import client_ip, get_db
from anju.web.params import IdPath
from anju.web.templating import lang_of, render

router = APIRouter(include_in_schema=False)
KIND_LABELS = {
    "credit": N_("服务入账"),
    "redeem": N_("兑换"),
    "gift": N_("家庭转赠"),
    "donate": N_("捐入公益池"),
    "cap": N_("超年度上限转入公益池"),
    "award": N_("道德积分"),
    "reversal": N_("冲正"),
}


@router.get("/time-bank/volunteers")
def volunteer_list(
    request: Request, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """Volunteers by community with their verification, and the sign-up form."""
    volunteers = tb.volunteers(db)
    balances = {
        a.owner_ref: a.balance
        for a in tb.accounts(db)
        if a.owner_kind == "volunteer" and a.unit == rules.MINUTES
    }
    ctx = {
        "active": "time_bank",
        "volunteers": volunteers,
        "balances": balances,
        "communities": tb.community_names(db),
        "hours": rules.hours_text,
        "ok": request.query_params.get("ok", "")[:200],
        "error": request.query_params.get("error", "")[:200],
    }
    return render(request, "time_bank/volunteers.html", ctx)


@router.post("/time-bank/volunteers")
async def register(
    request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """Register a volunteer (a phone already registered is refused)."""
    form = await _form(request)
    try:
        v = tb.create_volunteer(
            db,
            actor=user.actor(client_ip(request)),
            community_id=_int(form, "community_id", N_("社区")),
            name=form.get("name", "").strip()[:64],
            phone=form.get("phone", "").strip()[:32],
            family_code=form.get("family_code", "").strip()[:32],
        )
    except DomainError as exc:
        return _refused(db, "/time-bank/volunteers", exc)
    return _back(f"/time-bank/volunteers/{v.id}", ok=i18n.t("志愿者已登记，待社区核验", lang_of(request)))


@router.get("/time-bank/volunteers/{volunteer_id}")
def volunteer_page(
    volunteer_id: IdPath, request: Request, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """A volunteer: hours and points (balance and ledger sum), the latest ledger entries, and the
    forms for verification, gifts within the family, donations and redemption."""
    v = tb.get_volunteer(db, volunteer_id)
    accounts = []
    for unit in (rules.MINUTES, rules.POINTS):
        acc = tb.volunteer_account(db, v, unit)
        accounts.append(
            {
                "unit": unit,
                "account": acc,
                "sum": tb.ledger_sum(db, account_id=acc.id),
                "entries": tb.entries(db, account_id=acc.id, limit=50),
            }
        )
    family = [
        o for o in tb.volunteers(db) if v.family_code and o.family_code == v.family_code and o.id != v.id
    ]
    ctx = {
        "active": "time_bank",
        "v": v,
        "accounts": accounts,
        "family": family,
        "items": tb.catalogue(db),
        "community": tb.community_names(db).get(v.community_id, ""),
        "hours": rules.hours_text,
        "kinds": KIND_LABELS,
        "settings": tb.settings(db),
        "ok": request.query_params.get("ok", "")[:200],
        "error": request.query_params.get("error", "")[:200],
    }
    return render(request, "time_bank/volunteer.html", ctx)


@router.post("/time-bank/volunteers/{volunteer_id}/verify")
async def verify(
    volunteer_id: IdPath, request: Request, user: CurrentUser = Depends(REVIEW), db: Session = Depends(get_db)
) -> Response:
    """The community verifies the volunteer's identity and family code."""
    form = await _form(request)
    path = f"/time-bank/volunteers/{volunteer_id}"
    try:
        tb.verify_volunteer(
            db,
            actor=user.actor(client_ip(request)),
            volunteer_id=volunteer_id,
            family_code=form.get("family_code", "").strip()[:32],
            version=_int(form, "version", N_("版本")),
        )
    except DomainError as exc:
        return _refused(db, path, exc)
    return _back(path, ok=i18n.t("已核验", lang_of(request)))


def _minutes(form: dict[str, str]) -> int:
    """Hours typed in the form (halves allowed) as minutes."""
    raw = form.get("hours", "").strip()
    try:
        minutes = round(float(raw) * 60) if raw else 0
    except ValueError:
        minutes = 0
    if minutes <= 0 or minutes % 30:
        message = i18n.t("时长须为大于零的整点或半小时，如 1.5")
        raise ValidationFailed(message, details=[{"field": "hours", "message": message}])
    return minutes


@router.post("/time-bank/volunteers/{volunteer_id}/gift")
async def gift(
    volunteer_id: IdPath, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """Give hours to a verified close kin of the same family."""
    form = await _form(request)
    path = f"/time-bank/volunteers/{volunteer_id}"
    try:
        minutes = _minutes(form)
        tb.gift(
            db,
            actor=user.actor(client_ip(request)),
            from_volunteer_id=volunteer_id,
            to_volunteer_id=_int(form, "to_volunteer_id", N_("受赠人")),
            minutes=minutes,
        )
    except DomainError as exc:
        return _refused(db, path, exc)
    return _back(path, ok=i18n.t("已转赠 {hours} 小时", lang_of(request), hours=rules.hours_text(minutes)))


@router.post("/time-bank/volunteers/{volunteer_id}/donate")
async def donate(
    volunteer_id: IdPath, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """Donate hours of the volunteer's account to the pool (公益池)."""
    form = await _form(request)
    path = f"/time-bank/volunteers/{volunteer_id}"
    try:
        minutes = _minutes(form)
        v = tb.get_volunteer(db, volunteer_id)
        acc = tb.volunteer_account(db, v, rules.MINUTES)
        tb.donate(db, actor=user.actor(client_ip(request)), account_id=acc.id, minutes=minutes)
    except DomainError as exc:
        return _refused(db, path, exc)
    return _back(
        path, ok=i18n.t("已捐入公益池 {hours} 小时", lang_of(request), hours=rules.hours_text(minutes))
    )


@router.post("/time-bank/settings")
async def save_settings(
    request: Request, user: CurrentUser = Depends(REVIEW), db: Session = Depends(get_db)
) -> Response:
    """Change the rules in force (each change audited)."""
    form = await _form(request)
    current = tb.settings(db)
    try:
        for key in rules.SETTING_LABELS:
            raw = form.get(key, "").strip()
            if raw == "" or not raw.lstrip("-").isdigit():
                continue
            if int(raw) != current.get(key):
                tb.set_setting(db, actor=user.actor(client_ip(request)), key=key, value=int(raw))
    except DomainError as exc:
        return _refused(db, "/time-bank", exc)
    return _back("/time-bank", ok=i18n.t("规则已保存", lang_of(request)))
