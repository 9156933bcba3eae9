"""JSON routes of the five-order loop: the office's list (filters, keyset paging), one request with
its history, each action as ``POST /service-requests/{id}/{action}``; and the public routes of
residents without an account (submit, nearby, follow by code and secret, verify or reopen)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session

from anju.core import uploads as core_uploads
from anju.core.actor import Actor
from anju.core.masking import mask_phone
from anju.errors import NotFound
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.service_request import rules
from anju.service_request import schemas as s
from anju.service_request import service as request_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import (
    MAX_ID,
    READ_ERRORS,
    WRITE_ERRORS,
    IdPath,
    OptionalIdQuery,
    error_responses,
)

StatusName = Literal["submitted", "dispatched", "in_progress", "published", "closed", "rejected", "merged"]
CURSOR_PATTERN = request_service.CURSOR_PATTERN
SecretQuery = Annotated[str, Query(pattern=r"^[0-9A-Za-z]{1,32}$", description="提交时得到的查询码")]
CodePath = Annotated[str, Path(pattern=r"^[0-9A-Za-z-]{1,32}$", description="诉求编号，如 20261205-0007")]
#: Roles that see the reporter's phone in full (they call the resident back).
CALL_BACK_ROLES = frozenset({"community", "department", "grid_worker"})
router = APIRouter(tags=["service-requests"], responses=error_responses(*READ_ERRORS))
public_router = APIRouter(tags=["public-requests"])
READ = requires(Permission.GRID_READ)
SUBMIT = requires(Permission.REQUEST_SUBMIT)
ACCEPT = requires(Permission.REQUEST_ACCEPT)
HANDLE = requires(Permission.REQUEST_HANDLE)
CONFIRM = requires(Permission.REQUEST_CONFIRM)
BASE = "/service-requests"
PUBLIC = "/public/requests"


def _events(db: Session, req: request_service.ServiceRequest, *, public_only: bool) -> list[s.EventRead]:
    out = []
    for e in request_service.history(db, request_id=req.id, public_only=public_only):
        a = rules.ACTIONS.get(e.action)
        out.append(
            s.EventRead(
                action=e.action,
                action_label=a.label if a else rules.EXTRA_ACTIONS.get(e.action, e.action),
                from_status=e.from_status,
                to_status=e.to_status,
                gb_step=e.gb_step,
                actor=e.actor_label,
                reason=e.reason,
                at=e.at,
            )
        )
    return out


def request_read(db: Session, req: request_service.ServiceRequest, role: str) -> s.RequestRead:
    """A request as the office sees it: the reporter's phone in full only for those who call back
    (the desk, the department, grid workers); masked for readers such as the auditor."""
    cat, dep = request_service.names(db, req)
    return s.RequestRead(
        id=req.id,
        code=req.code,
        category_id=req.category_id,
        category=cat,
        description=req.description,
        address=req.address,
        lng=req.lng,
        lat=req.lat,
        grid_id=req.grid_id,
        community_id=req.community_id,
        reporter_name=req.reporter_name,
        reporter_phone=req.reporter_phone if role in CALL_BACK_ROLES else mask_phone(req.reporter_phone),
        channel=req.channel,
        status=req.status,
        status_label=rules.STATUSES.get(req.status, req.status),
        gb_step=rules.GB_STEP_OF_STATUS.get(req.status, ""),
        priority=req.priority,
        department_id=req.department_id,
        department=dep,
        status_note=req.status_note,
        result=req.result,
        due_at=req.due_at,
        close_due_at=req.close_due_at,
        overdue_at=req.overdue_at,
        escalation_level=req.escalation_level,
        rating=req.rating,
        resolution=req.resolution,
        reopen_count=req.reopen_count,
        sendback_count=req.sendback_count,
        postpone_count=req.postpone_count,
        postpone_pending=req.postpone_pending,
        merged_into_id=req.merged_into_id,
        submitted_at=req.submitted_at,
        accepted_at=req.accepted_at,
        taken_at=req.taken_at,
        published_at=req.published_at,
        closed_at=req.closed_at,
        updated_at=req.updated_at,
        version=req.version,
    )


def request_detail(db: Session, req: request_service.ServiceRequest, role: str) -> s.RequestDetail:
    """A request with its whole history and photo ids."""
    return s.RequestDetail(
        **request_read(db, req, role).model_dump(),
        history=_events(db, req, public_only=False),
        photos=[p.id for p in request_service.photos(db, request_id=req.id)],
    )


def public_read(db: Session, req: request_service.ServiceRequest) -> s.PublicRequestRead:
    """What a resident following the request sees (no personal data, no internal rows)."""
    cat, dep = request_service.names(db, req)
    return s.PublicRequestRead(
        code=req.code,
        category_id=req.category_id,
        category=cat,
        description=req.description,
        address=req.address,
        lng=req.lng,
        lat=req.lat,
        status=req.status,
        status_label=rules.STATUSES.get(req.status, req.status),
        open311_status=rules.OPEN311_STATUS.get(req.status, "open"),
        order_index=rules.order_index(req.status),
        status_note=req.status_note,
        result=req.result,
        department=dep,
        rating=req.rating,
        resolution=req.resolution,
        submitted_at=req.submitted_at,
        published_at=req.published_at,
        closed_at=req.closed_at,
        version=req.version,
        history=_events(db, req, public_only=True),
        photos=[p.id for p in request_service.photos(db, request_id=req.id)],
    )


def _actor(user: CurrentUser, request: Request) -> Actor:
    return user.actor(client_ip(request))


def _photo_response(db: Session, request_id: int, photo_id: int) -> Response:
    for p in request_service.photos(db, request_id=request_id):
        if p.id == photo_id:
            content_type, inline = core_uploads.serving(p.data)
            disposition = "inline" if inline else "attachment"
            return Response(
                p.data,
                media_type=content_type,
                headers={
                    "Content-Disposition": f"{disposition}; filename=photo-{p.id}",
                    "Cache-Control": "private",
                },
            )
    raise NotFound(f"照片（编号 {photo_id}）不存在", "no such photo")


async def _photos(files: list[UploadFile]) -> list[request_service.Photo]:
    return [
        request_service.Photo(await f.read(), f.filename or "", f.content_type or "")
        for f in files
        if f.filename
    ]


# --------------------------------------------------------------------------- the office


@router.get(BASE, response_model=s.RequestList)
def list_requests(
    status: StatusName | None = Query(
        None, description="状态：" + "、".join(f"{k}={v}" for k, v in rules.STATUSES.items())
    ),
    category_id: OptionalIdQuery = None,
    grid_id: OptionalIdQuery = None,
    department_id: OptionalIdQuery = None,
    submitted_from: date | None = Query(None, description="提交日期起（含，北京时间）"),
    submitted_to: date | None = Query(None, description="提交日期止（含，北京时间）"),
    overdue: bool | None = Query(None, description="true=只看超期，false=只看未超期"),
    cursor: str = Query("", max_length=40, pattern=CURSOR_PATTERN, description="上一页返回的 next_cursor"),
    limit: int = Query(50, ge=1, le=200),
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> s.RequestList:
    """Requests, newest first, ``limit`` at a time (keyset paging: pass ``next_cursor`` back).
    A department member sees only their departments' requests."""
    page = request_service.list_requests(
        db,
        actor=user.actor(),
        filters=request_service.Filters(
            status=status,
            category_id=category_id,
            grid_id=grid_id,
            department_id=department_id,
            submitted_from=submitted_from,
            submitted_to=submitted_to,
            overdue=overdue,
        ),
        cursor=cursor,
        limit=limit,
    )
    return s.RequestList(
        items=[request_read(db, r, user.role) for r in page.items], next_cursor=page.next_cursor
    )


@router.post(BASE, response_model=s.Submitted, status_code=201, responses=error_responses(*WRITE_ERRORS))
async def submit_for_resident(
    request: Request,
    category_id: int = Form(..., ge=1, le=MAX_ID),
    description: str = Form(..., max_length=2000),
    lng: Decimal | None = Form(None),
    lat: Decimal | None = Form(None),
    address: str = Form("", max_length=200),
    reporter_name: str = Form("", max_length=64),
    reporter_phone: str = Form("", max_length=32),
    grid_id: int | None = Form(None, ge=1, le=MAX_ID, description="网格（默认按地图点位确定）"),
    photos: list[UploadFile] = File(default_factory=list),
    user: CurrentUser = Depends(SUBMIT),
    db: Session = Depends(get_db),
) -> s.Submitted:
    """A grid worker (or the community desk) files a request on a resident's behalf."""
    files = await _photos(photos)
    done = request_service.submit(
        db,
        actor=_actor(user, request),
        category_id=category_id,
        description=description,
        location=request_service.Location(lng=lng, lat=lat, address=address, grid_id=grid_id),
        reporter_name=reporter_name,
        reporter_phone=reporter_phone,
        photos=files,
    )
    return _submitted(done)


@router.get(BASE + "/{request_id}", response_model=s.RequestDetail)
def get_request(
    request_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> s.RequestDetail:
    """One request with its whole history (internal rows included) and photo ids."""
    return request_detail(db, request_service.get(db, actor=user.actor(), request_id=request_id), user.role)


@router.get(BASE + "/{request_id}/photos/{photo_id}", response_class=Response)
def get_photo(
    request_id: IdPath, photo_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """A photo of a request."""
    request_service.get(db, actor=user.actor(), request_id=request_id)
    return _photo_response(db, request_id, photo_id)


W_ERRORS = error_responses(*WRITE_ERRORS)


@router.post(BASE + "/{request_id}/accept", response_model=s.RequestDetail, responses=W_ERRORS)
def accept(
    request_id: IdPath,
    body: s.AcceptBody,
    request: Request,
    user: CurrentUser = Depends(ACCEPT),
    db: Session = Depends(get_db),
) -> s.RequestDetail:
    """组织定单: priority, department (default: the category's), deadlines from the time limits."""
    req = request_service.accept(
        db,
        actor=_actor(user, request),
        request_id=request_id,
        version=body.version,
        priority=body.priority,
        department_id=body.department_id,
        category_id=body.category_id,
        note=body.note,
    )
    return request_detail(db, req, user.role)


@router.post(BASE + "/{request_id}/reject", response_model=s.RequestDetail, responses=W_ERRORS)
def reject(
    request_id: IdPath,
    body: s.ReasonBody,
    request: Request,
    user: CurrentUser = Depends(ACCEPT),
    db: Session = Depends(get_db),
) -> s.RequestDetail:
    """不予受理, with the reason the resident sees."""
    req = request_service.reject(
        db, actor=_actor(user, request), request_id=request_id, version=body.version, reason=body.reason
    )
    return request_detail(db, req, user.role)


@router.post(BASE + "/{request_id}/merge", response_model=s.RequestDetail, responses=W_ERRORS)
def merge(
    request_id: IdPath,
    body: s.MergeBody,
    request: Request,
    user: CurrentUser = Depends(ACCEPT),
    db: Session = Depends(get_db),
) -> s.RequestDetail:
    """合并重复: the duplicate joins an earlier open request."""
    req = request_service.merge(
        db,
        actor=_actor(user, request),
        request_id=request_id,
        version=body.version,
        into_id=body.into_id,
        reason=body.reason,
    )
    return request_detail(db, req, user.role)


@router.post(BASE + "/{request_id}/postpone-decision", response_model=s.RequestDetail, responses=W_ERRORS)
def decide_postpone(
    request_id: IdPath,
    body: s.PostponeDecisionBody,
    request: Request,
    user: CurrentUser = Depends(ACCEPT),
    db: Session = Depends(get_db),
) -> s.RequestDetail:
    """Approve (the deadline moves) or deny (with a reason) a department's postponement."""
    req = request_service.decide_postpone(
        db,
        actor=_actor(user, request),
        request_id=request_id,
        version=body.version,
        approve=body.approve,
        reason=body.reason,
    )
    return request_detail(db, req, user.role)


@router.post(BASE + "/{request_id}/take", response_model=s.RequestDetail, responses=W_ERRORS)
def take(
    request_id: IdPath,
    body: s.VersionBody,
    request: Request,
    user: CurrentUser = Depends(HANDLE),
    db: Session = Depends(get_db),
) -> s.RequestDetail:
    """部门接单 (members of the request's department only; two at once: one wins, 409 for the other)."""
    req = request_service.take(db, actor=_actor(user, request), request_id=request_id, version=body.version)
    return request_detail(db, req, user.role)


@router.post(BASE + "/{request_id}/send-back", response_model=s.RequestDetail, responses=W_ERRORS)
def send_back(
    request_id: IdPath,
    body: s.ReasonBody,
    request: Request,
    user: CurrentUser = Depends(HANDLE),
    db: Session = Depends(get_db),
) -> s.RequestDetail:
    """退回: not this department's matter; back to 定单 (counted)."""
    req = request_service.send_back(
        db, actor=_actor(user, request), request_id=request_id, version=body.version, reason=body.reason
    )
    return request_detail(db, req, user.role)


@router.post(BASE + "/{request_id}/postpone", response_model=s.RequestDetail, responses=W_ERRORS)
def postpone(
    request_id: IdPath,
    body: s.PostponeBody,
    request: Request,
    user: CurrentUser = Depends(HANDLE),
    db: Session = Depends(get_db),
) -> s.RequestDetail:
    """申请延期 with a reason and the new deadline; the community decides."""
    req = request_service.request_postpone(
        db,
        actor=_actor(user, request),
        request_id=request_id,
        version=body.version,
        new_due_at=body.new_due_at,
        reason=body.reason,
    )
    return request_detail(db, req, user.role)


@router.post(BASE + "/{request_id}/publish", response_model=s.RequestDetail, responses=W_ERRORS)
async def publish(
    request_id: IdPath,
    request: Request,
    version: int = Form(..., ge=1, le=MAX_ID),
    result: str = Form(..., max_length=2000),
    photos: list[UploadFile] = File(default_factory=list),
    user: CurrentUser = Depends(HANDLE),
    db: Session = Depends(get_db),
) -> s.RequestDetail:
    """党员晒单: the result with photos (multipart) on the public board; the verification window starts."""
    files = await _photos(photos)
    req = request_service.publish(
        db, actor=_actor(user, request), request_id=request_id, version=version, result=result, photos=files
    )
    return request_detail(db, req, user.role)


@router.post(BASE + "/{request_id}/verify", response_model=s.RequestDetail, responses=W_ERRORS)
def verify(
    request_id: IdPath,
    body: s.VerifyBody,
    request: Request,
    user: CurrentUser = Depends(CONFIRM),
    db: Session = Depends(get_db),
) -> s.RequestDetail:
    """群众验单 on the resident's behalf: rating 1-5, solved or partly; closes the request."""
    req = request_service.verify(
        db,
        actor=_actor(user, request),
        request_id=request_id,
        version=body.version,
        rating=body.rating,
        resolution=body.resolution,
        comment=body.comment,
    )
    return request_detail(db, req, user.role)


@router.post(BASE + "/{request_id}/reopen", response_model=s.RequestDetail, responses=W_ERRORS)
def reopen(
    request_id: IdPath,
    body: s.ReopenBody,
    request: Request,
    user: CurrentUser = Depends(CONFIRM),
    db: Session = Depends(get_db),
) -> s.RequestDetail:
    """Not solved: back to the department (返工, counted)."""
    req = request_service.reopen(
        db,
        actor=_actor(user, request),
        request_id=request_id,
        version=body.version,
        reason=body.reason,
        rating=body.rating,
    )
    return request_detail(db, req, user.role)


# --------------------------------------------------------------------------- residents (no account)


def _submitted(done: request_service.Submitted) -> s.Submitted:
    r = done.request
    return s.Submitted(
        id=r.id,
        code=r.code,
        secret=done.secret,
        status=r.status,
        follow_url=f"/api/v1{PUBLIC}/{r.code}",
    )


def _exact(degrees: float) -> Decimal:
    """A coordinate from the query as the exact decimal the columns keep (6 places)."""
    return Decimal(repr(degrees)).quantize(Decimal("0.000001"))


@public_router.get(PUBLIC + "/nearby", response_model=list[s.NearbyRead])
def nearby(
    category_id: int = Query(..., ge=1, le=MAX_ID),
    # Numbers in the query's schema (a Decimal's allows text a client may send empty); exact from here on.
    lng: float = Query(..., ge=-180, le=180, description="经度（WGS-84）"),
    lat: float = Query(..., ge=-90, le=90, description="纬度（WGS-84）"),
    db: Session = Depends(get_db),
) -> list[s.NearbyRead]:
    """Open (and lately closed) requests of the category within ~100 m, to follow instead of filing."""
    return [
        s.NearbyRead(
            code=r.code,
            description=r.description,
            address=r.address,
            status=r.status,
            status_label=rules.STATUSES.get(r.status, r.status),
            submitted_at=r.submitted_at,
        )
        for r in request_service.nearby(db, category_id=category_id, lng=_exact(lng), lat=_exact(lat))
    ]


@public_router.post(PUBLIC, response_model=s.Submitted, status_code=201, responses=error_responses(422, 429))
async def submit(
    request: Request,
    category_id: int = Form(..., ge=1, le=MAX_ID),
    description: str = Form(..., max_length=2000),
    lng: Decimal | None = Form(None),
    lat: Decimal | None = Form(None),
    address: str = Form("", max_length=200),
    reporter_name: str = Form("", max_length=64),
    reporter_phone: str = Form("", max_length=32),
    photos: list[UploadFile] = File(default_factory=list),
    db: Session = Depends(get_db),
) -> s.Submitted:
    """居民点单 without an account (multipart: fields and up to 6 photos). Returns the public code
    and the follow secret, shown this once (only its SHA-256 is kept). Rate-limited per network
    address (429)."""
    ip = client_ip(request)
    request_service.check_submit_rate(db, address=ip)
    files = await _photos(photos)
    done = request_service.submit(
        db,
        actor=None,
        category_id=category_id,
        description=description,
        location=request_service.Location(lng=lng, lat=lat, address=address),
        reporter_name=reporter_name,
        reporter_phone=reporter_phone,
        photos=files,
        client_address=ip,
    )
    return _submitted(done)


@public_router.get(PUBLIC + "/{code}", response_model=s.PublicRequestRead, responses=error_responses(404))
def follow(
    code: CodePath,
    secret: SecretQuery,
    db: Session = Depends(get_db),
) -> s.PublicRequestRead:
    """Follow a request by its code and secret: state, the five orders' progress, public history."""
    return public_read(db, request_service.by_code(db, code=code, secret=secret))


@public_router.get(
    PUBLIC + "/{code}/photos/{photo_id}", response_class=Response, responses=error_responses(404)
)
def public_photo(
    code: CodePath,
    photo_id: IdPath,
    secret: SecretQuery,
    db: Session = Depends(get_db),
) -> Response:
    """A photo of a followed request."""
    req = request_service.by_code(db, code=code, secret=secret)
    return _photo_response(db, req.id, photo_id)


@public_router.post(
    PUBLIC + "/{code}/verify", response_model=s.PublicRequestRead, responses=error_responses(404, 409, 422)
)
def public_verify(
    code: CodePath, body: s.PublicVerifyBody, db: Session = Depends(get_db)
) -> s.PublicRequestRead:
    """群众验单 by the resident: rating 1-5, solved or partly solved; closes the request."""
    req = request_service.by_code(db, code=code, secret=body.secret)
    request_service.verify(
        db,
        actor=None,
        request_id=req.id,
        version=body.version,
        rating=body.rating,
        resolution=body.resolution,
        comment=body.comment,
        secret=body.secret,
    )
    return public_read(db, req)


@public_router.post(
    PUBLIC + "/{code}/reopen", response_model=s.PublicRequestRead, responses=error_responses(404, 409, 422)
)
def public_reopen(
    code: CodePath, body: s.PublicReopenBody, db: Session = Depends(get_db)
) -> s.PublicRequestRead:
    """Not solved: the resident sends it back to the department (返工)."""
    req = request_service.by_code(db, code=code, secret=body.secret)
    request_service.reopen(
        db,
        actor=None,
        request_id=req.id,
        version=body.version,
        reason=body.reason,
        rating=body.rating,
        secret=body.secret,
    )
    return public_read(db, req)


routers = [router, public_router]
