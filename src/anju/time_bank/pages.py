"""Time-bank pages: the community / grid worker's desk (activities, check-in, the review queue, the
catalogue and redemption, moral-bank awards in 公示) and the public leaderboard ``/public/time-bank``."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from anju import i18n
from anju.core.dates import SHANGHAI
from anju.errors import DomainError, ValidationFailed
from anju.i18n import N_
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.time_bank import rules
from anju.time_bank import service as tb
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath
from anju.web.templating import lang_of, render

router = APIRouter(include_in_schema=False)
READ = requires(Permission.TIMEBANK_READ)
MANAGE = requires(Permission.TIMEBANK_MANAGE)
REVIEW = requires(Permission.TIMEBANK_REVIEW)


def _back(path: str, *, ok: str = "", error: str = "") -> RedirectResponse:
    q = f"?ok={quote(ok)}" if ok else (f"?error={quote(error)}" if error else "")
    return RedirectResponse(path + q, status_code=303)


def _refused(db: Session, path: str, exc: DomainError) -> RedirectResponse:
    """Back to ``path`` with the refusal. The redirect is a 303, which the request's transaction
    would commit: roll back first, so that a refused action writes nothing."""
    db.rollback()
    return _back(path, error=exc.message_zh)


def _int(form: dict[str, str], key: str, label: str) -> int:
    value = form.get(key, "").strip()
    if not value.isdigit() or len(value) > 15 or int(value) <= 0:
        raise ValidationFailed(
            i18n.t("{label}必须是正整数", label=label),
            details=[{"field": key, "message": i18n.t("必须是正整数")}],
        )
    return int(value)


async def _form(request: Request) -> dict[str, str]:
    return {k: str(v) for k, v in (await request.form()).items()}


@router.get("/time-bank")
def desk(request: Request, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)) -> Response:
    """The desk: activities, the review queue, the catalogue, volunteers and awards in 公示."""
    volunteers = tb.volunteers(db)
    names = {v.id: v.name for v in volunteers}
    ctx = {
        "active": "time_bank",
        "activities": tb.activities(db, limit=30),
        "queue": tb.claims(db),
        "items": tb.catalogue(db),
        "volunteers": volunteers[:500],
        "names": names,
        "awards": tb.awards(db, statuses=("publicity", "objected"), limit=50),
        "settings": tb.settings(db),
        "labels": rules.STATUS_LABELS,
        "setting_labels": rules.SETTING_LABELS,
        "categories": rules.CATEGORIES,
        "hours": rules.hours_text,
        "ok": request.query_params.get("ok", "")[:200],
        "error": request.query_params.get("error", "")[:200],
        "me": user.id,
        "communities": tb.community_names(db),
    }
    return render(request, "time_bank/desk.html", ctx)


@router.post("/time-bank/activities")
async def create_activity(
    request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """Publish an activity from the desk form (date, start time and hours in Shanghai time)."""
    form = await _form(request)
    try:
        start = datetime.fromisoformat(f"{form.get('day', '')}T{form.get('start', '') or '09:00'}").replace(
            tzinfo=SHANGHAI
        )
    except ValueError:
        return _back("/time-bank", error=i18n.t("活动日期或时间格式不正确", lang_of(request)))
    try:
        hours = _int(form, "hours", N_("时长（小时）"))
        a = tb.create_activity(
            db,
            actor=user.actor(client_ip(request)),
            community_id=_int(form, "community_id", N_("社区")),
            category=form.get("category", ""),
            title=form.get("title", "").strip()[:100],
            place=form.get("place", "").strip()[:200],
            starts_at=start,
            ends_at=start + timedelta(hours=hours),
            capacity=_int(form, "capacity", N_("名额")),
            minutes_offered=hours * 60,
        )
    except DomainError as exc:
        return _refused(db, "/time-bank", exc)
    return _back(f"/time-bank/activities/{a.id}", ok=i18n.t("活动已发布", lang_of(request)))


@router.get("/time-bank/activities/{activity_id}")
def activity_page(
    activity_id: IdPath, request: Request, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """One activity: sign-ups with check-in and check-out (phone friendly for the field)."""
    a = tb.get_activity(db, activity_id)
    ctx = {
        "active": "time_bank",
        "a": a,
        "rows": tb.signups(db, activity_id=activity_id),
        "volunteers": tb.volunteers(db, community_id=a.community_id)[:500],
        "community": tb.community_names(db).get(a.community_id, ""),
        "labels": rules.STATUS_LABELS,
        "hours": rules.hours_text,
        "ok": request.query_params.get("ok", "")[:200],
        "error": request.query_params.get("error", "")[:200],
    }
    return render(request, "time_bank/activity.html", ctx)


@router.post("/time-bank/activities/{activity_id}/signups")
async def sign_up(
    activity_id: IdPath, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """Sign a volunteer up."""
    form = await _form(request)
    path = f"/time-bank/activities/{activity_id}"
    try:
        tb.sign_up(
            db,
            actor=user.actor(client_ip(request)),
            activity_id=activity_id,
            volunteer_id=_int(form, "volunteer_id", N_("志愿者")),
        )
    except DomainError as exc:
        return _refused(db, path, exc)
    return _back(path, ok=i18n.t("已报名", lang_of(request)))


@router.post("/time-bank/signups/{signup_id}/check-in")
def check_in(
    signup_id: IdPath, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """签到 now."""
    try:
        s = tb.check_in(db, actor=user.actor(client_ip(request)), signup_id=signup_id)
    except DomainError as exc:
        return _refused(db, "/time-bank", exc)
    return _back(f"/time-bank/activities/{s.activity_id}", ok=i18n.t("已签到", lang_of(request)))


@router.post("/time-bank/signups/{signup_id}/check-out")
def check_out(
    signup_id: IdPath, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """签退 now: the hours wait for two reviewers."""
    try:
        c = tb.check_out(db, actor=user.actor(client_ip(request)), signup_id=signup_id)
    except DomainError as exc:
        return _refused(db, "/time-bank", exc)
    return _back(
        "/time-bank",
        ok=i18n.t("已签退，{hours} 小时待两人审核", lang_of(request), hours=rules.hours_text(c.minutes)),
    )


@router.post("/time-bank/claims/{claim_id}/review")
async def review(
    claim_id: IdPath, request: Request, user: CurrentUser = Depends(REVIEW), db: Session = Depends(get_db)
) -> Response:
    """Approve (first or second review) or reject hours from the queue."""
    form = await _form(request)
    approve = form.get("decision") != "reject"
    try:
        c = tb.review(
            db,
            actor=user.actor(client_ip(request)),
            claim_id=claim_id,
            approve=approve,
            reason=form.get("reason", "")[:200],
        )
    except DomainError as exc:
        return _refused(db, "/time-bank", exc)
    return _back(
        "/time-bank",
        ok=i18n.t(
            "审核完成：{status}",
            lang_of(request),
            status=i18n.t(rules.STATUS_LABELS[c.status], lang_of(request)),
        ),
    )


@router.post("/time-bank/redemptions")
async def redeem(
    request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """Redeem a catalogue item for a volunteer."""
    form = await _form(request)
    try:
        r = tb.redeem(
            db,
            actor=user.actor(client_ip(request)),
            volunteer_id=_int(form, "volunteer_id", N_("志愿者")),
            item_id=_int(form, "item_id", N_("兑换项目")),
        )
    except DomainError as exc:
        return _refused(db, "/time-bank", exc)
    return _back("/time-bank", ok=i18n.t("兑换成功，余额 {balance}", lang_of(request), balance=r.balance))


@router.get("/public/time-bank")
def public_board(request: Request, db: Session = Depends(get_db)) -> Response:
    """The public leaderboards (hours, moral points) and the awards in 公示, names masked as configured."""
    mask = tb.settings(db)["name_mask"]
    awards = [
        (a, rules.public_name(v.name, mask), r.name)
        for a, v, r in tb.awards(db, statuses=("publicity", "objected"))
    ]
    ctx = {
        "hours_board": tb.leaderboard(db, unit=rules.MINUTES),
        "points_board": tb.leaderboard(db, unit=rules.POINTS),
        "awards": awards,
        "hours": rules.hours_text,
        "labels": rules.STATUS_LABELS,
        "communities": tb.community_names(db),
    }
    return render(request, "time_bank/public.html", ctx)


@router.post("/time-bank/awards/{award_id}/decision")
async def decide_objection(
    award_id: IdPath, request: Request, user: CurrentUser = Depends(REVIEW), db: Session = Depends(get_db)
) -> Response:
    """Decide an objection to an award in 公示: upheld withdraws it, dismissed returns it to 公示."""
    form = await _form(request)
    try:
        a = tb.decide_objection(
            db,
            actor=user.actor(client_ip(request)),
            award_id=award_id,
            upheld=form.get("decision") == "uphold",
            reason=form.get("reason", "")[:500],
        )
    except DomainError as exc:
        return _refused(db, "/time-bank", exc)
    return _back(
        "/time-bank",
        ok=i18n.t(
            "异议已处理：{status}",
            lang_of(request),
            status=i18n.t(rules.STATUS_LABELS[a.status], lang_of(request)),
        ),
    )
