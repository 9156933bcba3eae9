"""Daily dispatch report (每日调度通报): pages."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
