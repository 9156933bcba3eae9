"""JSON routes of the campaign: progress."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["campaign"])
