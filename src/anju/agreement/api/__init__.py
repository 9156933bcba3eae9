"""JSON routes of signing, one module per concern; ``routers`` is mounted under ``/api/v1``."""

from fastapi import APIRouter

from anju.agreement.api import agreements, changes, clearance, documents, receivables

routers: list[APIRouter] = [
    agreements.router,
    changes.router,
    documents.router,
    clearance.router,
    receivables.router,
]
