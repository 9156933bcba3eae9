"""Jobs that anchor the audit chain outside the database: by cron, by the server, after a rekey.

Each job is its own unit of work. Anchoring only reads the database (the last record and the
head row, in a short read transaction) and never holds a write transaction; all appends to the
anchor folder happen under its lock, so a rekey and the server's periodic anchors never interleave.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
from sqlalchemy.orm import Session

from anju.audit import anchors, keys, rules
from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.db.session import get_sessionmaker, unit_of_work

log = logging.getLogger("anju.audit")


@dataclass(frozen=True)
class AnchorOutcome:
    """``anchor`` is the newest anchor of the chain's head; ``written`` says whether it was appended now."""

    anchor: rules.Anchor | None
    written: bool
    path: Path | None = None


@contextmanager
def _read_session() -> Iterator[Session]:
    session = get_sessionmaker()()
    try:
        yield session
    finally:
        session.rollback()  # read only: nothing to keep, and no transaction left open
        session.close()


def anchor_now(*, force: bool = False) -> AnchorOutcome:
    """Append a signed head anchor unless the newest anchor already names this head (or ``force``).

    Raises :class:`anju.audit.service.AuditChainBroken` when the last record does not verify.
    """
    with anchors.locked() as folder:
        with _read_session() as session:
            head = audit_service.signed_head(session)
        if head is None:
            return AnchorOutcome(None, False)
        last = anchors.last_anchor(folder)
        if not force and last is not None and (last.seq, last.hash) == (head.seq, head.hash):
            return AnchorOutcome(last, False)
        return AnchorOutcome(head, True, anchors.append(folder, head))


def verify_now(
    *, extra_anchor_lines: list[str] | None = None, allow_legacy: bool = False
) -> audit_service.VerifyResult:
    """:func:`anju.audit.service.verify` in a read transaction, with the folder's and the given anchors."""
    lines = anchors.read_lines() + audit_service.command_line_anchors(extra_anchor_lines or [])
    with _read_session() as session:
        return audit_service.verify(session, anchor_lines=lines, allow_legacy=allow_legacy)


def rekey_now(*, actor: Actor) -> tuple[audit_service.RekeyResult, rules.Anchor | None]:
    """Re-MAC the chain with the current key (see :func:`anju.audit.service.rekey`) and anchor it.

    Under the anchor folder's lock: the rekey line, which retires the hash checks of older head
    anchors, is appended before the commit (a failed commit then only weakens those checks, where
    the reverse order could leave every old anchor contradicting the committed chain); the new
    head is anchored after the commit.
    """
    ring = keys.keyring()
    with anchors.locked() as folder:
        with unit_of_work() as session:
            result = audit_service.rekey(
                session, actor=actor, keyring=ring, anchor_lines=anchors.read_lines(folder)
            )
            if result.records:
                anchors.append(
                    folder,
                    rules.sign_anchor(
                        kind=rules.REKEY_KIND,
                        seq=result.last_seq,
                        hash=result.old_head_hash,
                        at=utcnow(),
                        key_id=ring.current_id,
                        key=ring.current,
                    ),
                )
        with _read_session() as session:
            head = audit_service.signed_head(session, keyring=ring)
        if head is not None:
            anchors.append(folder, head)
    return result, head


async def periodic_anchors(minutes: float) -> None:
    """Anchor the head every ``minutes`` while the server runs (each worker process runs one).

    A failure is logged and retried at the next interval; it never stops the server.
    """
    limiter = anyio.CapacityLimiter(1)  # not the request threads' limiter
    while True:
        await anyio.sleep(minutes * 60)
        try:
            outcome = await anyio.to_thread.run_sync(anchor_now, limiter=limiter)
            if outcome.written and outcome.anchor is not None:
                log.info("audit anchor written: %s", outcome.anchor.line())
        except Exception:
            log.exception("audit anchor not written")
