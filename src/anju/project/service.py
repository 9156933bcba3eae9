"""Project use cases: projects, the block tree, parcels and the overview figures."""

from __future__ import annotations

from datetime import date

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
) -> Project:
    """Create a project; audited."""
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
        changes={"code": [None, code], "name": [None, name], "kind": [None, kind]},
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


def blocks(session: Session, project_id: int) -> list[Block]:
    """Blocks of a project in tree order (parents before children, by sort and code)."""
    rows = list(
        session.scalars(select(Block).where(Block.project_id == project_id).order_by(Block.sort, Block.code))
    )
    children: dict[int | None, list[Block]] = {}
    for b in rows:
        children.setdefault(b.parent_id, []).append(b)
    out: list[Block] = []

    def walk(parent: int | None) -> None:
        for b in children.get(parent, []):
            out.append(b)
            walk(b.id)

    walk(None)
    return out


def block_paths(session: Session, project_id: int) -> dict[int, str]:
    """``block id -> '东片区 / 李家村 / 一组'`` for display."""
    by_id = {b.id: b for b in session.scalars(select(Block).where(Block.project_id == project_id))}
    paths: dict[int, str] = {}
    for bid, b in by_id.items():
        names = [b.name]
        parent = b.parent_id
        while parent is not None and parent in by_id:
            names.append(by_id[parent].name)
            parent = by_id[parent].parent_id
        paths[bid] = " / ".join(reversed(names))
    return paths


def block_by_code(session: Session, project_id: int) -> dict[str, Block]:
    """``code -> block`` of a project (the census import resolves blocks by code or name)."""
    return {b.code: b for b in session.scalars(select(Block).where(Block.project_id == project_id))}


def descendant_block_ids(session: Session, block_id: int) -> list[int]:
    """The block and every block below it."""
    block = session.get(Block, block_id)
    if block is None:
        return []
    rows = session.execute(
        select(Block.id, Block.parent_id).where(Block.project_id == block.project_id)
    ).all()
    children: dict[int | None, list[int]] = {}
    for bid, parent in rows:
        children.setdefault(parent, []).append(bid)
    out, stack = [], [block_id]
    while stack:
        b = stack.pop()
        out.append(b)
        stack.extend(children.get(b, []))
    return out


def bump_households_version(session: Session, project_id: int) -> None:
    """Note that a household file of the project changed (invalidates list caches in every worker)."""
    session.execute(
        update(Project).where(Project.id == project_id).values(households_version=Project.households_version + 1)
    )


def households_version(session: Session, project_id: int) -> int:
    """The project's household-data version (see :func:`bump_households_version`)."""
    return int(session.scalar(select(Project.households_version).where(Project.id == project_id)) or 0)
