"""Compensation policies of the demo projects (fictional), published when the demo is built."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from anju.compensation import service as compensation_service
from anju.core.actor import Actor

POLICY_DIR = Path(__file__).resolve().parent
DEMO_POLICIES = {"QX-2024-01": "rural.yaml", "QX-2024-02": "shantytown.yaml"}


def publish_demo_policies(session: Session, *, actor: Actor, projects: dict[str, int]) -> int:
    """Publish the demo policy of each demo project (``code -> project id``); returns how many."""
    published = 0
    for code, file_name in DEMO_POLICIES.items():
        if code in projects:
            source = (POLICY_DIR / file_name).read_text(encoding="utf-8")
            compensation_service.publish(
                session, actor=actor, project_id=projects[code], source=source, file_name=file_name
            )
            published += 1
    return published
