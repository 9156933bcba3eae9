"""Project service part: the block tree (片区 / 村 / 组): adding and changing blocks, and the tree
read through a cache per household-data version (see the package docstring).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.audit.service import field_diff
from anju.core.actor import Actor
from anju.db import events
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.identity import service as identity_service
from anju.project import rules
from anju.project.models import Block
from anju.project.service.projects import (
    _check_reason,
    _invalid,
    bump_households_version,
    get_project,
    households_version,
)

__all__ = [
    "BlockInfo",
    "add_block",
    "block_by_code",
    "block_paths",
    "block_versions",
    "blocks",
    "clear_caches",
    "descendant_block_ids",
    "get_block",
    "update_block",
]


def get_block(session: Session, block_id: int) -> Block:
    """A block by id; raises :class:`NotFound`."""
    block = session.get(Block, block_id)
    if block is None:
        raise NotFound("区块不存在", "block not found")
    return block


def _parent_of(session: Session, project_id: int) -> dict[int, int | None]:
    return {
        int(i): (int(p) if p is not None else None)
        for i, p in session.execute(select(Block.id, Block.parent_id).where(Block.project_id == project_id))
    }


def _check_parent(session: Session, project_id: int, parent_id: int | None) -> None:
    if parent_id is None:
        return
    found = session.scalar(select(Block.project_id).where(Block.id == parent_id))
    if found != project_id:
        raise NotFound(
            "上级区块不存在或不属于本项目",
            "parent block not in project",
            details=[{"field": "parent_id", "message": "上级区块：不存在或不属于本项目"}],
        )


def _block_code_taken(session: Session, project_id: int, code: str, *, but: int | None = None) -> None:
    found = session.scalar(select(Block.id).where(Block.project_id == project_id, Block.code == code))
    if found is not None and found != but:
        raise Conflict(
            f"区块编号“{code}”在本项目中已存在",
            f"block {code} exists",
            code="duplicate_block",
            details=[{"field": "code", "message": f"区块编号：“{code}”在本项目中已存在"}],
        )


def add_block(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    code: str,
    name: str,
    level: str,
    parent_id: int | None = None,
    sort: int | str = 0,
    geometry: str | None = None,
    reason: str = "",
) -> Block:
    """Add a block (片区/村/组) to a project, under ``parent_id`` (same project) if given; audited."""
    _check_reason(reason)
    get_project(session, project_id)
    values, errors = rules.check_block({"code": code, "name": name, "level": level, "sort": sort})
    if errors:
        raise _invalid("区块信息", errors)
    _check_parent(session, project_id, parent_id)
    _block_code_taken(session, project_id, values["code"])
    block = Block(project_id=project_id, parent_id=parent_id, geometry=geometry, version=1, **values)
    session.add(block)
    session.flush()
    bump_households_version(session, project_id)  # the block tree is cached per version
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="block",
        entity_id=block.id,
        project_id=project_id,
        changes=field_diff({}, {**values, "parent_id": parent_id}),
        reason=reason,
    )
    return block


def update_block(
    session: Session,
    *,
    actor: Actor,
    block_id: int,
    data: Mapping[str, Any],
    expected_version: int | None,
    reason: str = "",
) -> dict[str, list[Any]]:
    """Rename, re-level, re-sort or move a block (``parent_id``: another block of the project, or
    None for the top); a move under itself or one of its descendants is refused. Returns the
    audited diff; a stale ``expected_version`` is a 409 naming who changed the block."""
    _check_reason(reason)
    block = session.scalar(
        select(Block).where(Block.id == block_id).with_for_update().execution_options(populate_existing=True)
    )
    if block is None:
        raise NotFound("区块不存在", "block not found")
    if expected_version is not None and block.version != expected_version:
        raise identity_service.stale_version(
            session, what="区块信息", entity="block", entity_id=block.id, current=block.version
        )
    unknown = sorted(set(data) - {*rules.BLOCK_LABELS, "parent_id"})
    if unknown:
        raise ValidationFailed(
            "不认识的字段：" + "、".join(unknown),
            "unknown fields",
            details=[{"field": f, "message": f"不认识的字段“{f}”"} for f in unknown],
        )
    values, errors = rules.check_block(data, partial=True)
    if errors:
        raise _invalid("区块信息", errors)
    if "parent_id" in data:
        parent_id = data["parent_id"]
        if parent_id is not None and (isinstance(parent_id, bool) or not isinstance(parent_id, int)):
            raise ValidationFailed(
                "上级区块应为区块编号（整数）",
                "invalid parent",
                details=[{"field": "parent_id", "message": "上级区块：应为区块的 id（整数）或空"}],
            )
        _check_parent(session, block.project_id, parent_id)
        if parent_id is not None and rules.parent_cycle(
            block.id, parent_id, _parent_of(session, block.project_id)
        ):
            raise Conflict(  # a conflict with the tree as it is now, like an illegal transition
                "不能把区块移到它自己或它的下级区块之下",
                "parent cycle",
                code="block_cycle",
                details=[{"field": "parent_id", "message": "上级区块：不能是该区块自己或它的下级区块"}],
            )
        values["parent_id"] = parent_id
    if "code" in values and values["code"] != block.code:
        _block_code_taken(session, block.project_id, values["code"], but=block.id)
    changes = field_diff({k: getattr(block, k) for k in values}, values)
    if not changes:
        return {}
    for k in changes:
        setattr(block, k, values[k])
    block.version = block.version + 1
    session.flush()
    bump_households_version(session, block.project_id)
    audit_service.record(
        session,
        actor=actor,
        action="update",
        entity="block",
        entity_id=block.id,
        project_id=block.project_id,
        changes=changes,
        reason=reason,
    )
    events.notify(
        session, topic=events.project_topic(block.project_id), kind="blocks", data={"block_id": block.id}
    )
    return changes


@dataclass(frozen=True, slots=True)
class BlockInfo:
    """A block as read-only data (shared between requests through the block cache)."""

    id: int
    project_id: int
    parent_id: int | None
    code: str
    name: str
    level: str
    sort: int


@dataclass(frozen=True, slots=True)
class _BlockTree:
    ordered: tuple[BlockInfo, ...]  # parents before children, by sort and code
    paths: dict[int, str]
    children: dict[int | None, tuple[int, ...]]


_tree_cache: OrderedDict[tuple[Any, ...], _BlockTree] = OrderedDict()
_tree_lock = threading.Lock()


def _tree(session: Session, project_id: int) -> _BlockTree:
    # Blocks are read on every list page; they change only through add_block, which bumps the
    # project's households_version, so the tree is cached per version.
    key = (str(session.get_bind().engine.url), project_id, households_version(session, project_id))
    with _tree_lock:
        hit = _tree_cache.get(key)
        if hit is not None:
            return hit
    rows = [
        BlockInfo(r.id, r.project_id, r.parent_id, r.code, r.name, r.level, r.sort)
        for r in session.execute(
            select(
                Block.id, Block.project_id, Block.parent_id, Block.code, Block.name, Block.level, Block.sort
            )
            .where(Block.project_id == project_id)
            .order_by(Block.sort, Block.code)
        )
    ]
    children: dict[int | None, list[BlockInfo]] = {}
    for b in rows:
        children.setdefault(b.parent_id, []).append(b)
    ordered: list[BlockInfo] = []

    def walk(parent: int | None) -> None:
        for b in children.get(parent, []):
            ordered.append(b)
            walk(b.id)

    walk(None)
    by_id = {b.id: b for b in rows}
    paths: dict[int, str] = {}
    for bid, b in by_id.items():
        names = [b.name]
        parent = b.parent_id
        while parent is not None and parent in by_id:
            names.append(by_id[parent].name)
            parent = by_id[parent].parent_id
        paths[bid] = " / ".join(reversed(names))
    tree = _BlockTree(tuple(ordered), paths, {k: tuple(b.id for b in v) for k, v in children.items()})
    with _tree_lock:
        _tree_cache[key] = tree
        while len(_tree_cache) > 64:
            _tree_cache.popitem(last=False)
    return tree


def blocks(session: Session, project_id: int) -> list[BlockInfo]:
    """Blocks of a project in tree order (parents before children, by sort and code)."""
    return list(_tree(session, project_id).ordered)


def block_paths(session: Session, project_id: int) -> dict[int, str]:
    """``block id -> '东片区 / 李家村 / 一组'`` for display."""
    return dict(_tree(session, project_id).paths)


def block_by_code(session: Session, project_id: int) -> dict[str, BlockInfo]:
    """``code -> block`` of a project (the census import resolves blocks by code or name)."""
    return {b.code: b for b in _tree(session, project_id).ordered}


def descendant_block_ids(session: Session, block_id: int, project_id: int | None = None) -> list[int]:
    """The block and every block below it (empty if the block does not exist)."""
    if project_id is None:
        project_id = session.scalar(select(Block.project_id).where(Block.id == block_id))
        if project_id is None:
            return []
    tree = _tree(session, project_id)
    if block_id not in tree.paths:
        return []
    out, stack = [], [block_id]
    while stack:
        b = stack.pop()
        out.append(b)
        stack.extend(tree.children.get(b, ()))
    return out


def clear_caches() -> None:
    """Forget cached block trees (tests that roll back and reuse ids)."""
    with _tree_lock:
        _tree_cache.clear()


def block_versions(session: Session, project_id: int) -> dict[int, int]:
    """``block id -> version`` of a project's blocks (edit forms send the version they read)."""
    rows = session.execute(select(Block.id, Block.version).where(Block.project_id == project_id))
    return {int(i): int(v or 1) for i, v in rows}
