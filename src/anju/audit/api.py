"""JSON routes of the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.audit import rules
from anju.audit import service as audit_service
from anju.audit.pages import audit_filter, export_response, record_rows
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import get_db, requires
from anju.web.long_work import run_long
from anju.web.params import OptionalIdQuery, error_responses

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


class AuditRecordRead(BaseModel):
    """One audit record in words (``record`` names it: 户 LJ00001 段平, 协议 DP-QH-0001)."""

    seq: int
    at: datetime
    actor: str
    action: str
    action_label: str
    entity: str
    entity_label: str
    record: str
    changes: str
    reason: str
    hash: str
    key_id: str


class AuditPageRead(BaseModel):
    """A keyset page, newest first: pass ``older`` as ``before`` (or ``newer`` as ``after``) for the next."""

    records: list[AuditRecordRead]
    matched: int
    older: int | None
    newer: int | None


@router.get("/records", response_model=AuditPageRead)
def records(
    actor: str = "",
    entity: str = "",
    action: str = "",
    date_from: str = "",
    date_to: str = "",
    before: OptionalIdQuery = None,
    after: OptionalIdQuery = None,
    limit: Annotated[int, Query(ge=1, le=500, description="每页条数（1 至 500）")] = 50,
    user: CurrentUser = Depends(requires(Permission.AUDIT_READ)),
    db: Session = Depends(get_db),
) -> AuditPageRead:
    """Audit records filtered by person (user id, or ``system``), record kind, action and
    Asia/Shanghai dates (inclusive), newest first, keyset-paged (``limit`` 1-500)."""
    where = audit_filter(actor, entity, action, date_from, date_to)
    found = audit_service.filtered_page(db, where=where, before=before, after=after, limit=limit)
    return AuditPageRead(
        records=[AuditRecordRead(**row) for row in record_rows(db, found.records)],
        matched=audit_service.count_matching(db, where=where),
        older=found.older,
        newer=found.newer,
    )


@router.get("/records.xlsx", response_class=Response)
async def records_xlsx(
    request: Request,
    actor: str = "",
    entity: str = "",
    action: str = "",
    date_from: str = "",
    date_to: str = "",
    user: CurrentUser = Depends(requires(Permission.AUDIT_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """The filtered records as xlsx (the same sheet as the audit page's export)."""
    where = audit_filter(actor, entity, action, date_from, date_to)
    return await run_long(lambda: export_response(db, request, user, where))
