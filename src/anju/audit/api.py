"""JSON routes of the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy.orm import Session

from anju.audit import rules
from anju.audit import service as audit_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import get_db, requires
from anju.web.params import error_responses

router = APIRouter(prefix="/audit", tags=["audit"], responses=error_responses(401, 403, 422))


class AnchorRead(BaseModel):
    """A signed statement about the chain's head (kept outside the database)."""

    kind: str
    seq: int
    hash: str
    at: str
    key_id: str
    line: str  # the printable one-line form, as in the anchor files

    @classmethod
    def of(cls, a: rules.Anchor | None) -> AnchorRead | None:
        """The API form of ``a``."""
        if a is None:
            return None
        return cls(kind=a.kind, seq=a.seq, hash=a.hash, at=a.at, key_id=a.key_id, line=a.line())


class VerifyRead(BaseModel):
    """Result of verifying the keyed chain against the audit keys and the anchors."""

    ok: bool
    checked: int
    broken_seq: int | None
    broken_id: int | None
    problem: str
    problem_en: str
    key_ids: list[str]
    key_counts: dict[str, int]  # records per key id; "" counts legacy (unkeyed) records
    legacy: int
    anchors_read: int
    anchors_checked: int
    anchors_superseded: int
    newest_anchor: AnchorRead | None
    head: AnchorRead | None  # the verified head, signed now (only when ok)
    notes: list[str]


@router.get("/verify", response_model=VerifyRead)
def verify(
    user: CurrentUser = Depends(requires(Permission.AUDIT_VERIFY)), db: Session = Depends(get_db)
) -> VerifyRead:
    """Walk the whole chain and the anchors; report the first problem, if any."""
    r = audit_service.verify(db)
    return VerifyRead(
        ok=r.ok,
        checked=r.checked,
        broken_seq=r.broken_seq,
        broken_id=r.broken_id,
        problem=r.problem,
        problem_en=r.problem_en,
        key_ids=r.key_ids,
        key_counts=r.key_counts,
        legacy=r.legacy,
        anchors_read=r.anchors_read,
        anchors_checked=r.anchors_checked,
        anchors_superseded=r.anchors_superseded,
        newest_anchor=AnchorRead.of(r.newest_anchor),
        head=AnchorRead.of(r.head),
        notes=r.notes,
    )
