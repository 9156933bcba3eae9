"""Census import part: what validation needs to know of the target project: its blocks, the household
codes and the identity numbers (as blind-index digests) already registered there.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.household.models import Household, Member
from anju.project import service as project_service

__all__ = [
    "ProjectContext",
    "load_context",
]


@dataclass
class ProjectContext:
    """What validation needs to know about the target project."""

    project_id: int
    blocks_by_code: dict[str, int]
    blocks_by_name: dict[str, list[int]]
    blocks_by_path: dict[str, int]
    existing_codes: set[str]
    existing_digests: dict[str, str]  # identity digest -> household code


def load_context(session: Session, project_id: int) -> ProjectContext:
    """Blocks, household codes and member identity digests already in the project."""
    project_service.get_project(session, project_id)
    blocks = project_service.blocks(session, project_id)
    paths = project_service.block_paths(session, project_id)
    by_name: dict[str, list[int]] = {}
    for b in blocks:
        by_name.setdefault(b.name, []).append(b.id)
    codes = set(session.scalars(select(Household.code).where(Household.project_id == project_id)))
    digests: dict[str, str] = {}
    if codes:
        for digest, code in session.execute(
            select(Member.id_number_digest, Household.code)
            .join(Household, Household.id == Member.household_id)
            .where(
                Household.project_id == project_id,
                Household.voided_at.is_(None),
                Member.voided_at.is_(None),
                Member.id_number_digest != "",
            )
        ):
            digests[str(digest)] = str(code)
    return ProjectContext(
        project_id=project_id,
        blocks_by_code={b.code: b.id for b in blocks},
        blocks_by_name=by_name,
        blocks_by_path={p.replace(" ", ""): bid for bid, p in paths.items()},
        existing_codes=codes,
        existing_digests=digests,
    )


def _resolve_block(ctx: ProjectContext, text: str) -> tuple[int | None, str]:
    if not text:
        return None, ""
    if text in ctx.blocks_by_code:
        return ctx.blocks_by_code[text], ""
    compact = text.replace(" ", "").replace("／", "/")
    if compact in ctx.blocks_by_path:
        return ctx.blocks_by_path[compact], ""
    ids = ctx.blocks_by_name.get(text, [])
    if len(ids) == 1:
        return ids[0], ""
    if len(ids) > 1:
        return None, f"区块名称“{text}”在本项目中不唯一，请填写区块编号或完整路径（如 李家村/一组）"
    return None, f"区块“{text}”不存在于本项目，请先在项目中建立该区块"
