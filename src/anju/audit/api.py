"""JSON routes of the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import get_db, requires

router = APIRouter(prefix="/audit", tags=["audit"])


class VerifyRead(BaseModel):
    """Result of verifying the hash chain."""

    ok: bool
    checked: int
    broken_seq: int | None
    broken_id: int | None
    problem: str
    problem_en: str


@router.get("/verify", response_model=VerifyRead)
def verify(user: CurrentUser = Depends(requires(Permission.AUDIT_VERIFY)), db: Session = Depends(get_db)) -> VerifyRead:
    """Walk the whole chain and report the first broken record, if any."""
    r = audit_service.verify(db)
    return VerifyRead(
        ok=r.ok, checked=r.checked, broken_seq=r.broken_seq, broken_id=r.broken_id, problem=r.problem,
        problem_en=r.problem_en,
    )
