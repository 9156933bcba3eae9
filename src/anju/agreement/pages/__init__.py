"""HTML pages of signing, one module per page family; ``routers`` is mounted at the root."""

from fastapi import APIRouter

from anju.agreement.pages import approvals, clearance, desk, documents, household, receivables, terms

routers: list[APIRouter] = [
    approvals.router,
    desk.router,
    documents.router,
    household.router,
    clearance.router,
    terms.router,
    receivables.router,
]
