"""Project use cases: projects, the block tree, parcels and the overview figures."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.project import rules
from anju.project.models import Block, Parcel, Project


def list_projects(session: Session) -> list[Project]:
    """All projects, newest first."""
    return list(session.scalars(select(Project).order_by(Project.id.desc())))


def get_project(session: Session, project_id: int) -> Project:
    """A project by id; raises :class:`NotFound`."""
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound("项目不存在", "project not found")
    return project


@dataclass(frozen=True, slots=True)
class ProjectHeader:
    """What a page frame shows of a project (read with plain columns, no ORM object)."""

    id: int
    code: str
    name: str
    kind: str
    status: str


def project_header(session: Session, project_id: int) -> ProjectHeader:
    """A project's header by id, reading its household-data version in the same statement
    (see :func:`households_version`); raises :class:`NotFound`. For hot read-only pages."""
    row = session.execute(
        select(Project.id, Project.code, Project.name, Project.kind, Project.status, Project.households_version)
        .where(Project.id == project_id)
    ).first()
    if row is None:
        raise NotFound("项目不存在", "project not found")
    session.info.setdefault(("households_version", project_id), int(row[5] or 0))
    return ProjectHeader(int(row[0]), row[1], row[2], row[3], row[4])


def get_project_by_code(session: Session, code: str) -> Project:
    """A project by its code; raises :class:`NotFound`."""
    project = session.scalar(select(Project).where(Project.code == code))
    if project is None:
        raise NotFound(f"项目“{code}”不存在", f"project {code} not found")
    return project


def create_project(
    session: Session,
    *,
    actor: Actor,
    code: str,
    name: str,
    kind: str,
    district: str = "",
    description: str = "",
    signing_start_on: date | None = None,
    signing_end_on: date | None = None,
    status: str = "survey",
) -> Project:
    """Create a project (in the given procedure stage); audited."""
    if status not in rules.PROJECT_STATUSES:
        raise ValidationFailed(
            "项目阶段无效", "invalid project status", details=[{"field": "status", "message": "项目阶段无效"}]
        )
    if kind not in rules.PROJECT_KINDS:
        raise ValidationFailed(
            "项目类型无效", "invalid project kind", details=[{"field": "kind", "message": "项目类型无效"}]
        )
    if session.scalar(select(Project.id).where(Project.code == code)) is not None:
        raise Conflict(f"项目编号“{code}”已存在", f"project {code} exists")
    project = Project(
        code=code,
        name=name,
        kind=kind,
        district=district,
        description=description,
        signing_start_on=signing_start_on,
        signing_end_on=signing_end_on,
        status=status,
        created_at=utcnow(),
    )
    session.add(project)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="project",
        entity_id=project.id,
        project_id=project.id,
        changes={"code": [None, code], "name": [None, name], "kind": [None, kind], "status": [None, status]},
    )
    return project


def add_block(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    code: str,
    name: str,
    level: str,
    parent_id: int | None = None,
    sort: int = 0,
    geometry: str | None = None,
) -> Block:
    """Add a block (片区/村/组) to a project; audited."""
    if level not in rules.BLOCK_LEVELS:
        raise ValidationFailed("区块层级无效", "invalid block level")
    block = Block(
        project_id=project_id,
        parent_id=parent_id,
        code=code,
        name=name,
        level=level,
        sort=sort,
        geometry=geometry,
    )
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
        changes={
            "code": [None, code],
            "name": [None, name],
            "level": [None, level],
            "parent_id": [None, parent_id],
        },
    )
    return block


def add_parcel(
    session: Session, *, actor: Actor, project_id: int, block_id: int | None, code: str, geometry: str | None
) -> Parcel:
    """Add a parcel (宗地) with GeoJSON geometry; audited."""
    parcel = Parcel(project_id=project_id, block_id=block_id, code=code, geometry=geometry)
    session.add(parcel)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="parcel",
        entity_id=parcel.id,
        project_id=project_id,
        changes={"code": [None, code], "block_id": [None, block_id]},
    )
    return parcel


@dataclass(frozen=True, slots=True)
class ParcelShape:
    """A parcel's id, code, block and GeoJSON text (for maps)."""

    id: int
    code: str
    block_id: int | None
    geometry: str | None


def parcel_shapes(session: Session, project_id: int) -> list[ParcelShape]:
    """Every parcel of a project with its GeoJSON text, by code."""
    rows = session.execute(
        select(Parcel.id, Parcel.code, Parcel.block_id, Parcel.geometry)
        .where(Parcel.project_id == project_id)
        .order_by(Parcel.code)
    )
    return [ParcelShape(int(r[0]), r[1], r[2], r[3]) for r in rows]


def block_shapes(session: Session, project_id: int) -> dict[int, str]:
    """``block id -> GeoJSON text`` of the project's blocks that have a boundary."""
    rows = session.execute(
        select(Block.id, Block.geometry).where(Block.project_id == project_id, Block.geometry.is_not(None))
    )
    return {int(i): str(g) for i, g in rows if g}


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


def bump_households_version(session: Session, project_id: int) -> None:
    """Note that a household file of the project changed (invalidates list caches in every worker)."""
    session.execute(
        update(Project)
        .where(Project.id == project_id)
        .values(households_version=Project.households_version + 1)
    )
    session.info.pop(("households_version", project_id), None)


def households_version(session: Session, project_id: int, *, fresh: bool = False) -> int:
    """The project's household-data version (see :func:`bump_households_version`).

    Read once per session (one request): a list page asks for it several times. ``fresh`` reads
    it again (a job that spans two transactions compares the version it checked against).
    """
    key = ("households_version", project_id)
    if fresh:
        session.info.pop(key, None)
    if key not in session.info:
        session.info[key] = int(
            session.scalar(select(Project.households_version).where(Project.id == project_id)) or 0
        )
    version: int = session.info[key]
    return version


def clear_caches() -> None:
    """Forget cached block trees (tests that roll back and reuse ids)."""
    with _tree_lock:
        _tree_cache.clear()
