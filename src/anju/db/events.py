"""Change events published after commit, for live pages (big screens, consoles).

A service calls :func:`notify` inside its transaction; nothing leaves the process unless the
transaction commits (a rolled-back write must never move a big screen). After the commit every
queued event goes to the publisher installed with :func:`set_publisher` (the web layer's live hub,
which fans out across worker processes); without one, events are dropped (CLI jobs, tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

_PENDING = "anju_events"


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """Something changed in ``topic`` (e.g. ``project:12``); ``kind`` says what (visit, stage ...)."""

    topic: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


Publisher = Callable[[list[ChangeEvent]], None]
_publisher: Publisher | None = None


def set_publisher(publisher: Publisher | None) -> None:
    """Install (or remove) the function that receives committed events."""
    global _publisher
    _publisher = publisher


def notify(session: Session, *, topic: str, kind: str, data: dict[str, Any] | None = None) -> None:
    """Queue an event to be published when ``session`` commits (dropped on rollback)."""
    session.info.setdefault(_PENDING, []).append(ChangeEvent(topic=topic, kind=kind, data=data or {}))


def project_topic(project_id: int) -> str:
    """The topic of everything that moves a project's numbers."""
    return f"project:{project_id}"


def selection_event_topic(event_id: int) -> str:
    """The topic of what moves one selection event's big screen (选房大屏): its calls,
    selections and the status of the flats it offers."""
    return f"selection-event:{event_id}"


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending: list[ChangeEvent] = session.info.pop(_PENDING, [])
    if pending and _publisher is not None:
        _publisher(pending)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
