"""JSON routes of the campaign: visits."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["campaign"])
