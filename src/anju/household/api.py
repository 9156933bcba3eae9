"""JSON routes of the household file; thin over :mod:`anju.household.service`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.orm import Session

from anju.compensation import service as compensation_service
from anju.core.pagination import PageRequest
from anju.core.text import SINGLE_LINE_CONTROL_CLASS
from anju.errors import ValidationFailed
from anju.household import schemas as s
from anju.household import search as household_search
from anju.household import service as household_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import (
    READ_ERRORS,
    IdPath,
    OptionalIdQuery,
    PageQuery,
    PageSizeQuery,
    TextQuery,
    error_responses,
)

# A search in the URL: no control characters, and no run of 15 digits (an identity number goes in
# the body of POST .../households/search, never in a URL). Documented so that clients see the rule.
_C = SINGLE_LINE_CONTROL_CLASS
SearchQuery = Annotated[
    str,
    Query(
        description="户号、姓名、地址（按身份证号查询请用 POST …/households/search）",
        json_schema_extra={
            "pattern": f"^(?:[^{_C}\\d]|\\d(?: *\\d){{0,13}} *(?:[^{_C}\\d ]|$))*$",
            "maxLength": 2000,
        },
    ),
]
router = APIRouter(tags=["households"], responses=error_responses(*READ_ERRORS))
READ = requires(Permission.HOUSEHOLD_READ)
WRITE = requires(Permission.HOUSEHOLD_WRITE)
REGISTER = requires(Permission.HOUSEHOLD_IMPORT)


@router.get("/projects/{project_id}/households", response_model=s.HouseholdPage)
def list_households(
    project_id: IdPath,
    q: SearchQuery = "",
    block_id: OptionalIdQuery = None,
    status: TextQuery = "",
    sort: TextQuery = "code",
    desc: bool = False,
    page: PageQuery = 1,
    size: PageSizeQuery = 20,
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> s.HouseholdPage:
    """Search and page households (name, code, address, or a full identity number)."""
    if household_search.mentions_id_number(q):
        # An identity number in a URL ends up in access logs, proxies and browser histories.
        raise ValidationFailed(
            household_search.ID_IN_URL_ZH,
            household_search.ID_IN_URL_EN,
            details=[{"field": "q", "message": household_search.ID_IN_URL_ZH}],
        )
    result = household_service.list_households(
        db,
        scope=user.scope,
        project_id=project_id,
        q=q,
        block_id=block_id,
        status=status,
        sort=sort,
        descending=desc,
        page=PageRequest.of(page, size),
    )
    return s.HouseholdPage(
        items=[s.HouseholdRowRead.model_validate(r) for r in result.items],
        total=result.total,
        page=result.page,
        size=result.size,
        pages=result.pages,
    )


@router.post(
    "/projects/{project_id}/households/search",
    response_model=s.HouseholdPage,
    responses={422: {"description": "查询条件有误"}},
)
def search_households(
    project_id: Annotated[int, Path(ge=1, le=2**53 - 1)],
    body: household_search.HouseholdSearch,
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> s.HouseholdPage:
    """Search households with the conditions in the body: the way to search by identity number.

    Same fields and answer as ``GET /projects/{project_id}/households``; an identity number in
    ``q`` matches the member holding it exactly. The number is not put in the URL, so it stays
    out of access logs, proxies and histories.
    """
    result = household_service.list_households(
        db,
        scope=user.scope,
        project_id=project_id,
        q=body.q,
        block_id=body.block_id,
        status=body.status,
        sort=body.sort,
        descending=body.desc,
        page=PageRequest.of(body.page, body.size),
    )
    return s.HouseholdPage(
        items=[s.HouseholdRowRead.model_validate(r) for r in result.items],
        total=result.total,
        page=result.page,
        size=result.size,
        pages=result.pages,
    )


@router.post(
    "/projects/{project_id}/households",
    response_model=s.Created,
    status_code=201,
    responses=error_responses(409),
)
def create_household(
    project_id: IdPath,
    body: s.HouseholdCreate,
    request: Request,
    user: CurrentUser = Depends(REGISTER),
    db: Session = Depends(get_db),
) -> s.Created:
    """Register a household (the census office's act, like the census import; field teams edit only)."""
    data = body.data()
    block_id = data.pop("block_id", None)
    h = household_service.create_household(
        db,
        actor=user.actor(client_ip(request)),
        project_id=project_id,
        data=data,
        block_id=int(str(block_id)) if block_id else None,
        reason=body.reason,
    )
    return s.Created(id=h.id)


@router.get("/households/{household_id}", response_model=s.HouseholdRead)
def get_household(
    household_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> s.HouseholdRead:
    """The whole household file (identity numbers masked)."""
    f = household_service.get_household_file(db, scope=user.scope, household_id=household_id)
    h = f.household
    buildings = []
    for bf in f.buildings:
        b = s.BuildingRead.model_validate(bf.building)
        b.valuation = s.ValuationRead.model_validate(bf.valuation) if bf.valuation else None
        buildings.append(b)
    return s.HouseholdRead(
        id=h.id,
        project_id=h.project_id,
        code=h.code,
        head_name=h.head_name,
        address=h.address,
        contact_phone=h.contact_phone,
        status=h.status,
        block_id=h.block_id,
        block_path=f.block_path,
        sign_on=h.sign_on,
        vacate_on=h.vacate_on,
        remark=h.remark,
        version=h.version,
        updated_at=h.updated_at,
        members=[s.MemberRead.model_validate(m) for m in f.members],
        buildings=buildings,
        tenants=[s.TenantRead.model_validate(t) for t in f.tenants],
        homestead=s.HomesteadRead.model_validate(f.homestead) if f.homestead else None,
        attachments=[s.AttachmentRead.model_validate(a) for a in f.attachments],
    )


@router.patch("/households/{household_id}", response_model=s.Changed, responses=error_responses(409))
def update_household(
    household_id: IdPath,
    body: s.HouseholdUpdate,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.Changed:
    """Change basic facts; returns the audited diff and the household's new version.

    ``version`` is the one read; when someone changed the household since, the answer is a 409
    (``stale_version``) naming who changed it and when, and nothing is written.
    """
    changes = household_service.update_household(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        household_id=household_id,
        data=body.data(),
        reason=body.reason,
        expected_version=body.version,
    )
    return s.Changed(
        changes=changes, version=household_service.version_of(db, kind="household", record_id=household_id)
    )


@router.get("/households/{household_id}/history", response_model=list[s.AuditRecordRead])
def household_history(
    household_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> list[s.AuditRecordRead]:
    """Who changed what and when, newest first."""
    return [
        s.AuditRecordRead.model_validate(r)
        for r in household_service.history(db, scope=user.scope, household_id=household_id)
    ]


@router.post(
    "/households/{household_id}/members",
    response_model=s.Created,
    status_code=201,
    responses=error_responses(409),
)
def add_member(
    household_id: IdPath,
    body: s.MemberCreate,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.Created:
    """Add a family member."""
    m = household_service.add_member(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        household_id=household_id,
        data=body.data(),
        reason=body.reason,
    )
    return s.Created(id=m.id)


@router.patch("/members/{member_id}", response_model=s.Changed, responses=error_responses(409))
def update_member(
    member_id: IdPath,
    body: s.MemberWrite,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.Changed:
    """Change a member; returns the audited diff and the member's new version (a stale ``version`` is a 409)."""
    changes = household_service.update_member(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        member_id=member_id,
        data=body.data(),
        reason=body.reason,
        expected_version=body.version,
    )
    return s.Changed(
        changes=changes, version=household_service.version_of(db, kind="member", record_id=member_id)
    )


@router.post("/members/{member_id}/void", response_model=s.Changed, responses=error_responses(409))
def void_member(
    member_id: IdPath,
    body: s.VoidIn,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.Changed:
    """Void a member registered by mistake."""
    household_service.void_member(
        db, actor=user.actor(client_ip(request)), scope=user.scope, member_id=member_id, reason=body.reason
    )
    return s.Changed(changes={})


@router.post(
    "/households/{household_id}/buildings",
    response_model=s.Created,
    status_code=201,
    responses=error_responses(409),
)
def add_building(
    household_id: IdPath,
    body: s.BuildingCreate,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.Created:
    """Register a building."""
    b = household_service.add_building(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        household_id=household_id,
        data=body.data(),
        reason=body.reason,
    )
    return s.Created(id=b.id)


@router.patch("/buildings/{building_id}", response_model=s.Changed, responses=error_responses(409))
def update_building(
    building_id: IdPath,
    body: s.BuildingWrite,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.Changed:
    """Change a building; returns the audited diff and the building's new version (a stale ``version`` is a 409)."""
    changes = household_service.update_building(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        building_id=building_id,
        data=body.data(),
        reason=body.reason,
        expected_version=body.version,
    )
    return s.Changed(
        changes=changes, version=household_service.version_of(db, kind="building", record_id=building_id)
    )


@router.post(
    "/buildings/{building_id}/valuations",
    response_model=s.Created,
    status_code=201,
    responses=error_responses(409),
)
def add_valuation(
    building_id: IdPath,
    body: s.ValuationWrite,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.Created:
    """Record a valuation result of a building."""
    v = household_service.add_valuation(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        building_id=building_id,
        data=body.data(),
        reason=body.reason,
    )
    return s.Created(id=v.id)


@router.post(
    "/households/{household_id}/tenants",
    response_model=s.Created,
    status_code=201,
    responses=error_responses(409),
)
def add_tenant(
    household_id: IdPath,
    body: s.TenantWrite,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.Created:
    """Register a tenant."""
    t = household_service.add_tenant(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        household_id=household_id,
        data=body.data(),
        reason=body.reason,
    )
    return s.Created(id=t.id)


@router.put("/households/{household_id}/homestead", response_model=s.Created, responses=error_responses(409))
def set_homestead(
    household_id: IdPath,
    body: s.HomesteadWrite,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.Created:
    """Create or change the homestead facts (a stale ``version`` of an existing homestead is a 409)."""
    hs = household_service.set_homestead(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        household_id=household_id,
        data=body.data(),
        reason=body.reason,
        expected_version=body.version,
    )
    return s.Created(id=hs.id)


def _policy_facts_read(db: Session, user: CurrentUser, household_id: int) -> s.PolicyFactsRead:
    f = household_service.get_household_file(db, scope=user.scope, household_id=household_id)
    decls = compensation_service.declared_facts(db, f.household.project_id)
    stored = household_service.policy_facts_of(db, scope=user.scope, household_id=household_id)
    rows = household_service.policy_fact_values(decls, stored)
    groups = household_service.element_policy_fact_values(
        decls,
        household_service.element_policy_facts_of(db, scope=user.scope, household_id=household_id),
        [(b.building.id, b.building.certificate_no or f"#{b.building.id}") for b in f.buildings],
        [(m.id, m.name) for m in f.members],
    )

    def read(r: dict[str, Any]) -> s.PolicyFactRead:
        return s.PolicyFactRead(
            id=r["id"],
            label=r["label"],
            type=r["type"],
            unit=r["unit"],
            required=r["required"],
            ref=r["ref"],
            choices=r["choices"],
            value=r["text"] or None,
            shown=r["shown"],
            missing=r["missing"],
        )

    def group(g: dict[str, Any]) -> s.PolicyFactGroupRead:
        return s.PolicyFactGroupRead(id=g["id"], place=g["place"], facts=[read(r) for r in g["rows"]])

    return s.PolicyFactsRead(
        version=f.household.version,
        facts=[read(r) for r in rows],
        buildings=[group(g) for g in groups if g["level"] == "building"],
        members=[group(g) for g in groups if g["level"] == "member"],
    )


@router.get("/households/{household_id}/policy-facts", response_model=s.PolicyFactsRead)
def get_policy_facts(
    household_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> s.PolicyFactsRead:
    """The facts the project's policy declares (published version, else the newest draft), with this
    household's values; ``missing`` marks a required fact not recorded (the policy will not compute)."""
    return _policy_facts_read(db, user, household_id)


@router.put(
    "/households/{household_id}/policy-facts", response_model=s.Changed, responses=error_responses(409)
)
def set_policy_facts(
    household_id: IdPath,
    body: s.PolicyFactsWrite,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.Changed:
    """Set declared facts (all or nothing, each error naming its field as ``fact.ID``); audited; a
    stale household ``version`` is a 409 naming who changed it."""
    f = household_service.get_household_file(db, scope=user.scope, household_id=household_id)
    decls = compensation_service.declared_facts(db, f.household.project_id)
    changes = household_service.set_policy_facts(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        household_id=household_id,
        decls=decls,
        data=body.values,
        reason=body.reason,
        expected_version=body.version,
    )
    return s.Changed(
        changes=changes, version=household_service.version_of(db, kind="household", record_id=household_id)
    )
