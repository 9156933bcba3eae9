"""JSON routes of payments: batches (create, submit, approve, reject, export, import result), funds."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["payments"])
