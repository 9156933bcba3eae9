"""HTML pages of the campaign: bigscreen."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
