"""HTML pages of the campaign: dashboard."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
