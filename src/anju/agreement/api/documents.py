"""JSON-side route of agreement documents: the agreement as PDF or DOCX.

Thin over :mod:`anju.agreement.service.documents`. Reading an agreement is reading its household
(HOUSEHOLD_READ within the user's scope: outside it the agreement is a 404). The payee's account
number is printed in full only for users with PII_READ.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.agreement import service as agreement_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import get_db, requires
from anju.web.params import READ_ERRORS, IdPath, error_responses

# 409 template_error: the project's uploaded template fails with this agreement's data.
router = APIRouter(tags=["agreements"], responses=error_responses(*READ_ERRORS, 409))
READ = requires(Permission.HOUSEHOLD_READ)
DocumentFormat = Annotated[
    Literal["pdf", "docx"],
    Query(description="pdf（默认，可直接打印）或 docx（按项目的协议模板生成，可编辑）"),
]


@router.get(
    "/agreements/{agreement_id}/document",
    response_class=Response,
    responses={
        200: {
            "content": {"application/pdf": {}, agreement_service.DOCX_TYPE: {}},
            "description": "协议文本（PDF 或 Word 文档）",
        }
    },
)
def agreement_document(
    agreement_id: IdPath,
    format: DocumentFormat = "pdf",
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> Response:
    """The agreement (current revision) as PDF or DOCX: household, agreement and sign order numbers,
    every item with its amount, the total and its Chinese capital form, the payment schedule, the
    condition if any, the policy version and hash, and the signature block."""
    pii = user.can(Permission.PII_READ)
    if format == "docx":
        content = agreement_service.agreement_docx(
            db, scope=user.scope, agreement_id=agreement_id, full_account=pii
        )
        media, disposition = agreement_service.DOCX_TYPE, "attachment"
    else:
        content = agreement_service.agreement_pdf(
            db, scope=user.scope, agreement_id=agreement_id, full_account=pii
        )
        media, disposition = "application/pdf", "inline"
    name = agreement_service.document_file_name(
        db, scope=user.scope, agreement_id=agreement_id, suffix=format
    )
    return Response(
        content,
        media_type=media,
        headers={"Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name)}"},
    )
