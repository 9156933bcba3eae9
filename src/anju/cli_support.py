"""What the domains' ``anju`` sub-commands share: the actor a command writes as, and how a refused
write is reported (the Chinese message with each field or row, exit status 2, nothing written)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from anju.core.actor import Actor
from anju.errors import DomainError
from anju.identity import service as identity_service

console = Console()


def fail(message: str) -> typer.Exit:
    """Print ``message`` in red; the exit (status 2) for the caller to raise."""
    console.print(f"[red]{message}[/red]", highlight=False)
    return typer.Exit(2)


def cli_actor(db: Session, username: str | None) -> Actor:
    """The actor a command writes as (audited): the account ``username`` names (``--user`` /
    ``--by``), otherwise the operator's system actor ``cli``. An unknown account exits 2."""
    if not username:
        return Actor.system("cli")
    try:
        user = identity_service.get_user_by_username(db, username)
    except DomainError as exc:
        raise fail(exc.message_zh) from None
    return Actor(user_id=user.id, username=user.username, display_name=user.display_name, role=user.role)


@contextmanager
def refusing() -> Iterator[None]:
    """Print a domain error in Chinese (each field, row or feature on a line of its own) and exit 2."""
    try:
        yield
    except DomainError as exc:
        console.print(f"[red]{exc.message_zh}[/red]", highlight=False)
        for d in exc.details or []:
            if isinstance(d, dict) and d.get("message") and d.get("message") != exc.message_zh:
                console.print(f"[red]  · {d['message']}[/red]", highlight=False)
        raise typer.Exit(2) from None
