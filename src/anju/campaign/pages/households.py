"""HTML pages of the campaign: households."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
