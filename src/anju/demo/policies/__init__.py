"""Compensation policies of the demo projects (fictional), published when the demo is built."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from anju.compensation import service as compensation_service
from anju.core.actor import Actor

POLICY_DIR = Path(__file__).resolve().parent
DEMO_POLICIES = {"QX-2024-01": "rural.yaml", "QX-2024-02": "shantytown.yaml"}


_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def shift_dates(source: str, days: int) -> str:
    """``source`` with every ISO date moved by ``days`` (the demo's story is dated relative to today)."""
    if days == 0:
        return source

    def moved(m: re.Match[str]) -> str:
        return (date(int(m[1]), int(m[2]), int(m[3])) + timedelta(days=days)).isoformat()

    return _ISO_DATE.sub(moved, source)


def publish_demo_policies(
    session: Session, *, actor: Actor, projects: dict[str, int], shift_days: int = 0
) -> int:
    """Publish the demo policy of each demo project (``code -> project id``); returns how many.

    ``shift_days`` moves every date of the policies (signing clocks, windows) with the demo's calendar.
    """
    published = 0
    for code, file_name in DEMO_POLICIES.items():
        if code in projects:
            source = shift_dates((POLICY_DIR / file_name).read_text(encoding="utf-8"), shift_days)
            compensation_service.publish(
                session, actor=actor, project_id=projects[code], source=source, file_name=file_name
            )
            published += 1
    return published
