"""The signing desk (签约台): find a household, choose cash or swap, see the calculation sheet as of
the sign date, enter the payee, review it with the family, sign.

One page, three states: choosing (GET), reviewing (POST without ``confirm``: nothing is written)
and signed (the POST with ``confirm=1`` signs and redirects to the page showing the agreement
number and the sign order number). A refusal re-renders the page with the message and its status,
nothing typed lost, nothing written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.agreement import rules
from anju.agreement import service as agreement_service
from anju.agreement.pages.common import sheet_data
from anju.compensation import service as compensation_service
from anju.core.dates import today_shanghai
from anju.errors import Conflict, DomainError, NotFound, ValidationFailed
from anju.household import service as household_service
from anju.i18n import N_, msg
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath, parse_id
from anju.web.templating import render

router = APIRouter(include_in_schema=False)
SIGN = requires(Permission.AGREEMENT_SIGN)


@dataclass
class OptionTotal:
    """One option (货币补偿 / 产权调换) with its total as of the sign date, or why it cannot be computed."""

    code: str
    label: str
    total_fen: int | None
    error: str = ""


@dataclass
class Workspace:
    """The chosen household on the desk: its file, its live agreement, the options and the sheet."""

    household: Any
    block_path: str
    live: Any  # the live agreement (then no signing), or None
    options: list[OptionTotal]
    option: str
    sign_on: date
    data: dict[str, Any] | None
    error: str = ""
    ready: bool = True
    payee: dict[str, str] = field(default_factory=dict)

    @property
    def can_sign(self) -> bool:
        """Whether the sign button is offered: ready, not signed, a sheet without error."""
        return self.ready and self.live is None and self.data is not None and not self.error


def _date(value: str, today: date) -> tuple[date, str]:
    """The sign date typed (default today) and a message when it is refused."""
    value = value.strip()
    if not value:
        return today, ""
    try:
        on = date.fromisoformat(value)
    except ValueError:
        return today, N_("签约日期应为日期（YYYY-MM-DD），已按今天计算")
    if on > today:
        return today, msg("签约日期不能晚于今天（{isoformat}），已按今天计算", isoformat=today.isoformat())
    return on, ""


def _policy_options(db: Session, project_id: int) -> dict[str, str]:
    """The options of the project's published policy that an agreement can have (cash, swap)."""
    pv = compensation_service.get_version(db, project_id)
    options = compensation_service.checked_version(pv).policy.options
    return {code: rules.OPTIONS[code] for code in options if code in rules.OPTIONS}


def _workspace(
    db: Session,
    user: CurrentUser,
    project_id: int,
    household_id: int,
    option: str,
    sign_on: date,
    payee: dict[str, str] | None = None,
) -> Workspace:
    file = household_service.get_household_file(db, scope=user.scope, household_id=household_id)
    h = file.household
    if h.project_id != project_id:
        raise NotFound(N_("该户不在本项目中"), "household of another project")
    live = agreement_service.agreement_for_household(db, scope=user.scope, household_id=h.id)
    ready = h.status in agreement_service.READY_STAGES
    options = _policy_options(db, project_id)
    totals: list[OptionTotal] = []
    calcs: dict[str, Any] = {}
    for code, label in options.items():
        try:
            calc = compensation_service.signing_calculation(
                db, scope=user.scope, household_id=h.id, option=code, sign_on=sign_on
            )
        except ValidationFailed as exc:  # not computable for this household: say why
            totals.append(OptionTotal(code, label, None, exc.message_zh))
            continue
        calcs[code] = calc
        totals.append(OptionTotal(code, label, calc.result.total_fen))
    chosen = option if option in options else next(iter(options), "")
    data = None
    error = next((o.error for o in totals if o.code == chosen and o.error), "")
    if chosen in calcs:
        calc = calcs[chosen]
        data = sheet_data(
            items=calc.result.items,
            total_fen=calc.result.total_fen,
            option_label=options[chosen],
            as_of=sign_on,
            policy_name=calc.version.name,
            policy_version=calc.version.version,
            policy_ref=calc.version.legal_ref,
            policy_hash=calc.version.content_hash,
            warnings=list(calc.result.warnings),
            subtotals=calc.result.subtotals,
        )
    return Workspace(
        household=h,
        block_path=file.block_path,
        live=live,
        options=totals,
        option=chosen,
        sign_on=sign_on,
        data=data,
        error=error,
        ready=ready,
        payee=payee or {"name": h.head_name, "bank": "", "account": ""},
    )


def _page(
    request: Request,
    db: Session,
    user: CurrentUser,
    project_id: int,
    *,
    q: str = "",
    household_id: int | None = None,
    option: str = "",
    sign_on: str = "",
    payee: dict[str, str] | None = None,
    review: bool = False,
    signed_id: int | None = None,
    message: str = "",
    problems: list[dict[str, Any]] | None = None,
    status_code: int = 200,
) -> Response:
    project = project_service.get_project(db, project_id)
    today = today_shanghai()
    on, date_message = _date(sign_on, today)
    ctx: dict[str, Any] = {
        "project": project,
        "active": "signing",
        "today": today,
        "queue": agreement_service.signing_queue(db, scope=user.scope, project_id=project_id, q=q),
        "signings": agreement_service.signings_on_day(db, scope=user.scope, project_id=project_id, on=today),
        "message": message,
        "problems": problems or [],
        "date_message": date_message,
        "review": review,
        "ws": None,
        "signed": None,
        "no_policy": "",
        "STATUSES_AGREEMENT": rules.STATUSES,
    }
    if signed_id is not None:
        a = agreement_service.get_agreement(db, scope=user.scope, agreement_id=signed_id)
        if a.project_id != project_id:
            raise NotFound(N_("协议不存在"), "agreement of another project")
        ctx["signed"] = a
        ctx["signed_household"] = household_service.get_household(
            db, scope=user.scope, household_id=a.household_id
        )
        ctx["signed_option"] = rules.OPTIONS.get(a.option, a.option)
    elif household_id is not None:
        try:
            ctx["ws"] = _workspace(db, user, project_id, household_id, option, on, payee)
        except NotFound as exc:
            # not page text (a file name, a check or the terminal)
            if "补偿方案" not in exc.message_zh:
                raise
            ctx["no_policy"] = exc.message_zh
    return render(request, "agreement/desk.html", ctx, status_code=status_code)


@router.get("/projects/{project_id}/signing")
def signing_desk(
    project_id: IdPath,
    request: Request,
    q: str = "",
    household_id: str = "",
    option: str = "",
    sign_on: str = "",
    signed: str = "",
    user: CurrentUser = Depends(SIGN),
    db: Session = Depends(get_db),
) -> Response:
    """The signing desk: the households ready to sign (or a search), the chosen household's options
    and calculation sheet as of the sign date, the payee form; ``signed`` shows a signing's result."""
    return _page(
        request,
        db,
        user,
        project_id,
        q=q,
        household_id=parse_id(household_id),
        option=option,
        sign_on=sign_on,
        signed_id=parse_id(signed),
    )


@router.post("/projects/{project_id}/signing")
def signing_submit(
    project_id: IdPath,
    request: Request,
    household_id: str = Form(""),
    option: str = Form(""),
    sign_on: str = Form(""),
    payee_name: str = Form(""),
    payee_bank: str = Form(""),
    payee_account: str = Form(""),
    confirm: str = Form(""),
    user: CurrentUser = Depends(SIGN),
    db: Session = Depends(get_db),
) -> Response:
    """Review (without ``confirm``: the summary to read with the family, nothing written) or sign
    (``confirm=1``: 303 to the desk showing the agreement and its sign order number)."""
    payee_form = {"name": payee_name, "bank": payee_bank, "account": payee_account}
    hid = parse_id(household_id)
    if hid is None:
        return _page(request, db, user, project_id, message=N_("请先选择要签约的户"), status_code=409)
    today = today_shanghai()
    try:
        on = date.fromisoformat(sign_on.strip()) if sign_on.strip() else today
    except ValueError:
        return _page(
            request, db, user, project_id, household_id=hid, option=option, payee=payee_form,
            message=N_("签约日期应为日期（YYYY-MM-DD）"), status_code=422,
        )  # fmt: skip
    try:
        payee = agreement_service.clean_payee(
            agreement_service.Payee(name=payee_name, bank=payee_bank, account=payee_account), default_name=""
        )
        if on > today:
            raise Conflict(
                msg("签约日期不能晚于今天（{isoformat}）", isoformat=today.isoformat()),
                "sign_on after today",
                code="sign_date",
            )
        if confirm != "1":
            ws = _workspace(db, user, project_id, hid, option, on, payee_form)
            if ws.live is not None:
                raise Conflict(N_("该户已签订协议，不能重复签约"), "already signed", code="already_signed")
            if not ws.ready:
                stage = household_service.stage_labels().get(ws.household.status, ws.household.status)
                raise Conflict(
                    msg("该户当前阶段为“{stage}”，不能签约", stage=stage),
                    "not ready",
                    code="illegal_transition",
                )
            if ws.error or ws.data is None:
                raise Conflict(ws.error or N_("无法计算补偿金额"), "not computable", code="not_computable")
            return _page(
                request, db, user, project_id, household_id=hid, option=ws.option, sign_on=on.isoformat(),
                payee={"name": payee.name, "bank": payee.bank, "account": payee.account}, review=True,
            )  # fmt: skip
        if household_service.get_household(db, scope=user.scope, household_id=hid).project_id != project_id:
            raise NotFound(N_("该户不在本项目中"), "household of another project")
        # A second click on 确认签约 (or a signing by a colleague meanwhile) says so in those words.
        if agreement_service.agreement_for_household(db, scope=user.scope, household_id=hid) is not None:
            raise Conflict(N_("该户已签订协议，不能重复签约"), "already signed", code="already_signed")
        agreement_id = agreement_service.sign(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            household_id=hid,
            option=option,
            sign_on=on,
            payee=payee,
        ).id
    except DomainError as exc:
        db.rollback()
        # not page text (a file name, a check or the terminal)
        if isinstance(exc, NotFound) and "补偿方案" not in exc.message_zh:
            raise
        return _page(
            request, db, user, project_id, household_id=hid, option=option, sign_on=sign_on, payee=payee_form,
            message=exc.message_zh, problems=list(exc.details or []), status_code=exc.http_status,
        )  # fmt: skip
    return RedirectResponse(f"/projects/{project_id}/signing?signed={agreement_id}", status_code=303)
