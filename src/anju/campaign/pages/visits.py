"""HTML pages of the campaign: visits."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
