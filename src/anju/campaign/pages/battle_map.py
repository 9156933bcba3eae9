"""HTML pages of the campaign: battle_map."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
