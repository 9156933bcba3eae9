"""HTML pages of signing, one module per page family; ``routers`` is mounted at the root."""

from fastapi import APIRouter

routers: list[APIRouter] = []
