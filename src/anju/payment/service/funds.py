"""Payment service part: the funds view of a project (资金情况).

budget (the compensation budget: the what-if base total of the latest published policy), signed
(totals of live agreements: what the office has committed itself to), paid, approved and waiting
for the bank, due and not yet paid, and scheduled (waiting for vacating or a condition); per
block when the households have blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.compensation import service as compensation_service
from anju.errors import NotFound
from anju.household import service as household_service
from anju.project import service as project_service

__all__ = ["Funds", "FundsLine", "project_funds"]


@dataclass
class FundsLine:
    """Money of the project or of one block, fen."""

    label: str
    block_id: int | None = None
    households: int = 0  # live households
    signed_households: int = 0  # with a live agreement
    budget_fen: int | None = None
    signed_fen: int = 0
    paid_fen: int = 0
    committed_fen: int = 0
    due_fen: int = 0
    scheduled_fen: int = 0

    @property
    def unpaid_fen(self) -> int:
        """Signed but not paid yet."""
        return self.signed_fen - self.paid_fen

    @property
    def paid_share(self) -> float | None:
        """Paid as a share of signed (for a bar on the page only; never used in arithmetic)."""
        return self.paid_fen / self.signed_fen if self.signed_fen > 0 else None


@dataclass
class Funds:
    """A project's funds: the total line, the lines per block, and where the budget comes from."""

    project_id: int
    total: FundsLine
    blocks: list[FundsLine] = field(default_factory=list)
    budget_note: str = ""  # "货币补偿，方案第 3 版" or why there is no budget


def project_funds(session: Session, *, project_id: int) -> Funds:
    """The funds view of a project (every household: a project-wide figure)."""
    project_service.get_project(session, project_id)
    blocks = project_service.blocks(session, project_id)
    paths = project_service.block_paths(session, project_id)
    total = FundsLine(label="全项目")
    by_block: dict[int | None, FundsLine] = {}
    block_of: dict[int, int | None] = {}
    for fact in household_service.campaign_facts(session, project_id=project_id):
        hid, bid = int(fact[0]), fact[1]
        block_of[hid] = bid
        line = by_block.setdefault(
            bid, FundsLine(label=paths.get(bid, "未分片区") if bid else "未分片区", block_id=bid)
        )
        line.households += 1
        total.households += 1
    try:
        budget = compensation_service.project_budget(session, project_id=project_id)
    except NotFound:
        budget = None
    note = "尚未发布补偿方案，无预算"
    if budget is not None:
        note = f"按补偿方案第 {budget.policy_version} 版“{budget.option_label}”测算（方案测算的基准合计）"
        total.budget_fen = budget.total_fen
        code_to_id = {b.code: b.id for b in blocks}
        for code, fen in budget.by_block.items():
            bid = code_to_id.get(code)
            line = by_block.setdefault(
                bid, FundsLine(label=paths.get(bid, code) if bid else "未分片区", block_id=bid)
            )
            line.budget_fen = (line.budget_fen or 0) + fen
    for h in agreement_service.household_funds(session, project_id=project_id):
        bid = block_of.get(h.household_id)
        line = by_block.setdefault(
            bid, FundsLine(label=paths.get(bid, "未分片区") if bid else "未分片区", block_id=bid)
        )
        for target in (line, total):
            target.signed_fen += h.signed_fen
            target.paid_fen += h.paid_fen
            target.committed_fen += h.committed_fen
            target.due_fen += h.due_fen
            target.scheduled_fen += h.scheduled_fen
            if h.signed_fen:
                target.signed_households += 1
    order = {b.id: n for n, b in enumerate(blocks)}
    lines = sorted(by_block.values(), key=lambda x: (x.block_id is None, order.get(x.block_id or 0, 0)))
    return Funds(project_id=project_id, total=total, blocks=lines if len(lines) > 1 else [], budget_note=note)
