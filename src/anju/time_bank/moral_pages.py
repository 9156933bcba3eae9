"""Moral-bank pages (道德银行): the earning rules (configurable, each with its points), awards proposed
for a volunteer's deed and shown publicly (公示) before they count, objections raised during the
公示, and the time-bank catalogue's new items (services or goods, never cash)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju import i18n
from anju.errors import DomainError
from anju.i18n import N_
from anju.identity.service import CurrentUser
from anju.time_bank import rules
from anju.time_bank import service as tb
from anju.time_bank.pages import MANAGE, READ, REVIEW, _back, _form, _int, _refused
from anju.web.deps import client_ip, get_db
from anju.web.params import IdPath
from anju.web.templating import lang_of, render

router = APIRouter(include_in_schema=False)
PATH = "/time-bank/moral"


@router.get(PATH)
def moral_page(
    request: Request, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """Earning rules, awards by state (公示, objected, counted, withdrawn) and the forms."""
    ctx = {
        "active": "time_bank",
        "rules_": tb.earning_rules(db),
        "awards": tb.awards(db, limit=100),
        "volunteers": tb.volunteers(db)[:500],
        "labels": rules.STATUS_LABELS,
        "ok": request.query_params.get("ok", "")[:200],
        "error": request.query_params.get("error", "")[:200],
    }
    return render(request, "time_bank/moral.html", ctx)


@router.post(PATH + "/rules")
async def add_rule(
    request: Request, user: CurrentUser = Depends(REVIEW), db: Session = Depends(get_db)
) -> Response:
    """Add an earning rule (code, name, points)."""
    form = await _form(request)
    try:
        tb.create_rule(
            db,
            actor=user.actor(client_ip(request)),
            code=form.get("code", "").strip()[:32],
            name=form.get("name", "").strip()[:100],
            points=_int(form, "points", N_("积分")),
        )
    except DomainError as exc:
        return _refused(db, PATH, exc)
    return _back(PATH, ok=i18n.t("积分规则已添加", lang_of(request)))


@router.post(PATH + "/awards")
async def propose(
    request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """Propose an award for a deed; it goes into 公示."""
    form = await _form(request)
    try:
        tb.propose_award(
            db,
            actor=user.actor(client_ip(request)),
            volunteer_id=_int(form, "volunteer_id", N_("志愿者")),
            rule_id=_int(form, "rule_id", N_("积分规则")),
            deed=form.get("deed", "").strip()[:200],
        )
    except DomainError as exc:
        return _refused(db, PATH, exc)
    return _back(PATH, ok=i18n.t("已提交，进入公示", lang_of(request)))


@router.post(PATH + "/awards/{award_id}/objection")
async def object_to(
    award_id: IdPath, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """Record an objection raised during the 公示 (the award waits for a reviewer's decision)."""
    form = await _form(request)
    try:
        tb.object_to(
            db,
            actor=user.actor(client_ip(request)),
            award_id=award_id,
            objection=form.get("objection", "").strip()[:500],
        )
    except DomainError as exc:
        return _refused(db, PATH, exc)
    return _back(PATH, ok=i18n.t("异议已登记，待审核人处理", lang_of(request)))


@router.post("/time-bank/catalogue")
async def add_item(
    request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """Add a catalogue item priced in hours (whole minutes from hours typed) or points."""
    form = await _form(request)
    try:
        unit = form.get("unit", "")
        price = _int(form, "price", N_("价格"))
        tb.create_item(
            db,
            actor=user.actor(client_ip(request)),
            unit=unit,
            kind=form.get("kind", ""),
            name=form.get("name", "").strip()[:100],
            price=price * 60 if unit == rules.MINUTES else price,
        )
    except DomainError as exc:
        return _refused(db, "/time-bank", exc)
    return _back("/time-bank", ok=i18n.t("兑换项目已添加", lang_of(request)))
