"""JSON routes of the campaign: teams."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["campaign"])
