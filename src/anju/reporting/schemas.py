"""Pydantic shapes of the dispatch report API."""

from __future__ import annotations
