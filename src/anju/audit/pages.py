"""Audit page: verify the chain and read the latest records."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.audit import service as audit_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import get_db, requires
from anju.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/audit")
def audit_page(
    request: Request,
    verify: bool = False,
    user: CurrentUser = Depends(requires(Permission.AUDIT_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """The newest audit records; auditors can run a full chain verification."""
    result = audit_service.verify(db) if verify and user.can(Permission.AUDIT_VERIFY) else None
    recent = audit_service.recent(db, limit=50)
    return render(
        request,
        "audit/index.html",
        {"result": result, "recent": recent, "total": audit_service.count(db), "active": "audit"},
    )
