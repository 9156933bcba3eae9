"""HTML pages of payments: the finance payments page, batch pages, the approvals inbox, funds."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
