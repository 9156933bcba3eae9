"""Payment service part: the due list at scale (the payments page, a batch's additions, the API).

A project of a thousand households has close to a thousand due instalments at a time: the list is
filtered (block / 片区 with the blocks below it, instalment kind, a search of household code, head
name or agreement number) and paged, its totals are those of the filter, and a batch can be made
of everything the filter matches on the server (the form posts the filter, not the rows).

The due rows come from one query of the agreement domain (:func:`anju.agreement.service.payable_instalments`:
due, with money left, in sign order); blocks and labels from the household domain. The filters
are applied to those rows here: the payment domain does not reach into the other domains' tables,
and one project's due list is bounded by its households (a few thousand rows at most), so this
costs a few milliseconds; only the page's rows are rendered or serialised.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from anju.core.actor import Actor
from anju.errors import Conflict
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.payment.models import PaymentBatch
from anju.payment.service.batches import (
    DueItem,
    LineInput,
    _live_lines,
    _load,
    create_batch,
    due_items,
    update_batch,
)
from anju.project import service as project_service

__all__ = [
    "MAX_SEARCH",
    "DueFilter",
    "DuePage",
    "create_batch_from_filter",
    "due_page",
    "filtered_due",
    "revise_batch",
]

MAX_SEARCH = 100  # characters of a search: codes, names and agreement numbers are short


@dataclass(frozen=True, slots=True)
class DueFilter:
    """What the due list is narrowed to; the empty filter is every due instalment.

    ``block_id``: households of that block and the blocks below it (a block of another project
    matches nothing); ``kind``: an instalment kind (``on_sign``, ``after_vacate``...); ``q``: part
    of the household code, the head of household's name or the agreement number (case ignored).
    """

    block_id: int | None = None
    kind: str = ""
    q: str = ""

    @property
    def active(self) -> bool:
        """Whether anything is filtered."""
        return self.block_id is not None or bool(self.kind) or bool(self.needle)

    @property
    def needle(self) -> str:
        """The search text as compared (trimmed, lower case, bounded)."""
        return self.q.strip()[:MAX_SEARCH].lower()


@dataclass
class DuePage:
    """One page of the filtered due list, with the totals of everything the filter matches."""

    items: list[DueItem]  # the rows of this page, in sign order
    total: int  # rows the filter matches
    remainder_fen: int  # what is left to pay of them (amount - paid - approved)
    batchable: int  # of them, those a new batch would take (not wholly held by open batches)
    batchable_fen: int  # and what it would take of them
    payee_missing: int  # of them, those whose agreement lacks the payee's name, bank or account
    overall: int  # due rows of the project without the filter
    offset: int = 0
    limit: int | None = None
    kinds: dict[str, str] = field(default_factory=dict)  # kinds among the project's due rows -> label

    @property
    def page(self) -> int:
        """1-based page number (1 without a limit)."""
        return self.offset // self.limit + 1 if self.limit else 1

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // self.limit)) if self.limit else 1


def _payee_complete(d: DueItem) -> bool:
    i = d.instalment
    return all(v.strip() for v in (i.payee_name, i.payee_bank, i.payee_account))


def filtered_due(
    session: Session, *, project_id: int, due_filter: DueFilter = DueFilter()
) -> tuple[list[DueItem], list[DueItem]]:
    """``(every due row of the project, the rows the filter matches)``, both in sign order
    (see :func:`anju.payment.service.due_items`; 404 for an unknown project)."""
    every = due_items(session, project_id=project_id)
    if not due_filter.active:
        return every, every
    rows = every
    if due_filter.kind:
        rows = [d for d in rows if d.instalment.kind == due_filter.kind]
    if due_filter.block_id is not None:
        blocks = project_service.descendant_block_ids(session, due_filter.block_id, project_id)
        inside = (
            {
                h.id
                for h in household_service.placed_households(
                    session,
                    scope=identity_service.DataScope.everything(),
                    project_id=project_id,
                    block_ids=blocks,
                )
            }
            if blocks
            else set()
        )
        rows = [d for d in rows if d.instalment.household_id in inside]
    needle = due_filter.needle
    if needle:
        rows = [
            d
            for d in rows
            if needle in d.household_code.lower()
            or needle in d.head_name.lower()
            or needle in d.instalment.agreement_no.lower()
        ]
    return every, rows


def due_page(
    session: Session,
    *,
    project_id: int,
    due_filter: DueFilter = DueFilter(),
    offset: int = 0,
    limit: int | None = None,
    exclude: Collection[int] = (),
) -> DuePage:
    """The due list narrowed by ``due_filter``, rows ``offset`` to ``offset + limit`` (all without a
    limit), with the totals of every matching row (the page's summary cards and the API's count).
    ``exclude``: instalment ids left out (a batch's own lines, when it lists what may be added)."""
    every, rows = filtered_due(session, project_id=project_id, due_filter=due_filter)
    if exclude:
        left_out = set(exclude)
        rows = [d for d in rows if d.instalment.instalment_id not in left_out]
    offset = max(offset, 0)
    batchable = [d for d in rows if d.suggested_fen > 0]
    kinds: dict[str, str] = {}
    for d in every:
        kinds.setdefault(d.instalment.kind, d.instalment.kind_label)
    return DuePage(
        items=rows[offset : offset + limit] if limit is not None else rows[offset:],
        total=len(rows),
        remainder_fen=sum(d.instalment.remainder_fen for d in rows),
        batchable=len(batchable),
        batchable_fen=sum(d.suggested_fen for d in batchable),
        payee_missing=sum(1 for d in rows if not _payee_complete(d)),
        overall=len(every),
        offset=offset,
        limit=limit,
        kinds=kinds,
    )


def _nothing_matches() -> Conflict:
    return Conflict(
        "筛选出的应付款项中没有可列入批次的（已付清，或已全部列入未审批的批次）",
        "nothing the filter matches can go into a batch",
        code="nothing_due",
    )


def create_batch_from_filter(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    due_filter: DueFilter,
    title: str = "",
    note: str = "",
) -> PaymentBatch:
    """Prepare a batch of every due instalment the filter matches, each for what is left to pay
    less what open batches hold (rows open batches hold entirely are left out).

    The empty filter is :func:`create_batch` without lines (every due instalment). Otherwise the
    matching rows are read again in this transaction and go through :func:`create_batch` like
    chosen lines: every check (payee details, amounts, the line limit) and the audit are the same.
    """
    if not due_filter.active:
        return create_batch(session, actor=actor, project_id=project_id, title=title, note=note)
    _every, rows = filtered_due(session, project_id=project_id, due_filter=due_filter)
    lines = [LineInput(d.instalment.instalment_id) for d in rows if d.suggested_fen > 0]
    if not lines:
        raise _nothing_matches()
    return create_batch(session, actor=actor, project_id=project_id, lines=lines, title=title, note=note)


def revise_batch(
    session: Session,
    *,
    actor: Actor,
    batch_id: int,
    shown: Sequence[int],
    chosen: Sequence[LineInput],
    add_filter: DueFilter | None = None,
    expected_version: int | None,
    title: str | None = None,
    note: str | None = None,
) -> PaymentBatch:
    """Edit a batch a page at a time: the lines of instalments in ``shown`` (the rows the form
    showed) become those of ``chosen`` (kept with their new amounts, or dropped when not chosen);
    lines not shown stay as they are, in their order; chosen instalments not in the batch are
    added at the end, and with ``add_filter`` so is every due instalment the filter matches that
    the batch does not hold (for what is left less what other open batches hold).

    The whole new list goes through :func:`update_batch` (the same checks, version and audit).
    """
    # Read the lines under the batch's lock: a concurrent edit cannot slip in between this read
    # and update_batch (which checks ``expected_version`` and names who changed the batch).
    batch = _load(session, batch_id, lock=True)
    wanted = {line.instalment_id: line for line in chosen}
    on_form = set(shown)
    lines: list[LineInput] = []
    held: set[int] = set()
    for p in _live_lines(session, batch.id):
        held.add(p.instalment_id)
        if p.instalment_id not in on_form:
            lines.append(LineInput(p.instalment_id, p.amount_fen))
        elif p.instalment_id in wanted:
            lines.append(wanted[p.instalment_id])
    lines.extend(line for line in chosen if line.instalment_id not in held)
    if add_filter is not None:
        taken = {line.instalment_id for line in lines}
        _every, rows = filtered_due(session, project_id=batch.project_id, due_filter=add_filter)
        extra = [
            LineInput(d.instalment.instalment_id)
            for d in rows
            if d.instalment.instalment_id not in taken
            and d.instalment.instalment_id not in held
            and d.suggested_fen > 0
        ]
        if not extra:
            raise _nothing_matches()
        lines.extend(extra)
    return update_batch(
        session,
        actor=actor,
        batch_id=batch_id,
        lines=lines,
        expected_version=expected_version,
        title=title,
        note=note,
    )
