"""Daily dispatch report (每日调度通报): api."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["dispatch"])
