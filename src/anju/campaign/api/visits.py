"""JSON routes of the campaign: visits (走访), idempotent by the ``Idempotency-Key`` header."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlalchemy.orm import Session

from anju.campaign import schemas as s
from anju.campaign import service as campaign_service
from anju.core.dates import utcnow
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import PARAM_LABELS, READ_ERRORS, WRITE_ERRORS, IdPath, error_responses

router = APIRouter(tags=["campaign"])
READ = requires(Permission.CAMPAIGN_READ)
WRITE = requires(Permission.VISIT_WRITE)
PARAM_LABELS.setdefault("Idempotency-Key", "幂等键（Idempotency-Key）")

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        description=(
            "设备为每条走访生成的幂等键（1 至 64 位字母、数字或 _ - : .）。同一键、同一户、同一内容重发时"
            "返回已保存的记录（200），不会重复保存；同一键用于不同内容时为 409 idempotency_key_reused。"
        ),
        json_schema_extra={
            "pattern": campaign_service.IDEMPOTENCY_KEY_PATTERN,
            "minLength": 1,
            "maxLength": 64,
        },
    ),
]


def _read(view: campaign_service.VisitView) -> s.VisitRead:
    return s.VisitRead.model_validate(view.to_dict())


@router.post(
    "/households/{household_id}/visits",
    response_model=s.VisitRead,
    status_code=201,
    responses={
        200: {"model": s.VisitRead, "description": "重发：该幂等键的走访已保存过，返回已保存的记录"},
        **error_responses(*WRITE_ERRORS),
    },
)
def record_visit(
    household_id: IdPath,
    body: s.VisitCreate,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.VisitRead:
    """Log a visit (201); a retry with the same ``Idempotency-Key`` and content returns the stored one (200).

    Outside the caller's households: 404. A wrong field: 422 naming it in Chinese. The same key with
    different content (or another household): 409 ``idempotency_key_reused``.
    """
    visit, created = campaign_service.record_visit(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        household_id=household_id,
        data=body,
        idempotency_key=idempotency_key,
        now=utcnow(),
    )
    if not created:
        response.status_code = 200
    return _read(campaign_service.get_visit(db, scope=user.scope, visit_id=visit.id))


@router.get(
    "/households/{household_id}/visits",
    response_model=list[s.VisitRead],
    responses=error_responses(*READ_ERRORS),
)
def list_visits(
    household_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> list[s.VisitRead]:
    """The household's visits, newest first, with persuaders, concern tags, recorder and team."""
    return [_read(v) for v in campaign_service.list_visits(db, scope=user.scope, household_id=household_id)]


@router.post(
    "/visits/{visit_id}/void",
    response_model=s.VisitRead,
    responses=error_responses(*WRITE_ERRORS),
)
def void_visit(
    visit_id: IdPath,
    body: s.VisitVoid,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.VisitRead:
    """Void a visit logged by mistake (kept, marked void, with the reason); audited. Twice: 409."""
    visit = campaign_service.void_visit(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        visit_id=visit_id,
        reason=body.reason,
        now=utcnow(),
    )
    return _read(campaign_service.get_visit(db, scope=user.scope, visit_id=visit.id))
