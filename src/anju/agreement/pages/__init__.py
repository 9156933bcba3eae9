"""HTML pages of signing, one module per page family; ``routers`` is mounted at the root."""

from fastapi import APIRouter

from anju.agreement.pages import desk, documents

routers: list[APIRouter] = [
    desk.router,
    documents.router,
]
