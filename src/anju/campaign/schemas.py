"""Pydantic shapes of the campaign API (one section per concern; keep to your section)."""

from __future__ import annotations

# --- teams and assignments ----------------------------------------------------------------

# --- visits -------------------------------------------------------------------------------

# --- household campaign tab, stages, plans, alerts ----------------------------------------

# --- progress, forecast, big screen --------------------------------------------------------
