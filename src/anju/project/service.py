"""Project use cases: projects, the block tree, parcels and the overview figures."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from anju import uploads as upload_policy
from anju.audit import service as audit_service
from anju.audit.service import field_diff
from anju.core import uploads as core_uploads
from anju.core.actor import Actor
from anju.core.dates import to_shanghai, utcnow
from anju.core.text import MAX_REASON, text_problem
from anju.core.uploads import safe_filename
from anju.db import events
from anju.errors import Conflict, DomainError, NotFound, ValidationFailed
from anju.identity import service as identity_service
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
        select(
            Project.id, Project.code, Project.name, Project.kind, Project.status, Project.households_version
        ).where(Project.id == project_id)
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


def _invalid(what: str, errors: Sequence[rules.FieldError]) -> DomainError:
    """The error for a form's problems: the Chinese message lists them, ``details`` one per field.

    A 422, except when every problem is dates out of order: well-formed dates that conflict with
    each other (or with the stored ones) are a 409 ``date_order``, as a date that conflicts with
    the calendar is elsewhere; a schema can state a date's form, not its order.
    """
    message = f"{what}有误：" + "；".join(e.text() for e in errors)
    details = [e.detail() for e in errors]
    if all(e.kind == "date_order" for e in errors):
        return Conflict(message, f"{what}: dates out of order", code="date_order", details=details)
    return ValidationFailed(message, f"invalid {what}", details=details)


def _stale(session: Session, *, what: str, entity: str, entity_id: int, current: int) -> Conflict:
    """The 409 for a write based on an old version, naming who changed the record last and when."""
    record = audit_service.last_change(session, entity=entity, entity_id=entity_id)
    detail: dict[str, Any] = {"field": "version", "current_version": current}
    if record is None:
        message = f"{what}已被他人修改，请刷新页面后重试"
        message_en = "changed by someone else meanwhile; reload and try again"
    else:
        who = identity_service.display_name(session, record.actor_id, record.actor_name)
        when = to_shanghai(record.at)
        message = f"{what}已被 {who} 于 {when:%Y-%m-%d %H:%M} 修改，请刷新页面后重试"
        message_en = f"changed by {who} at {when:%Y-%m-%d %H:%M} meanwhile; reload and try again"
        detail.update(changed_by=who, changed_at=when.isoformat())
    detail["message"] = message
    return Conflict(message, message_en, code="stale_version", details=[detail])


def _check_reason(reason: str) -> None:
    problem = text_problem(reason, max_len=MAX_REASON, multiline=True)
    if problem:
        raise ValidationFailed(
            f"理由{problem}", "invalid reason", details=[{"field": "reason", "message": f"理由{problem}"}]
        )


def _code_taken(session: Session, code: str, *, but: int | None = None) -> None:
    found = session.scalar(select(Project.id).where(Project.code == code))
    if found is not None and found != but:
        raise Conflict(
            f"项目编号“{code}”已存在",
            f"project {code} exists",
            code="duplicate_project",
            details=[{"field": "code", "message": f"项目编号：“{code}”已被其他项目使用"}],
        )


def project_values(project: Project) -> dict[str, Any]:
    """The project's editable fields as they are now (forms start from these)."""
    return {f: getattr(project, f) for f in rules.PROJECT_EDITABLE}


def create_project(
    session: Session,
    *,
    actor: Actor,
    code: str,
    name: str,
    kind: str,
    reason: str = "",
    **fields: Any,
) -> Project:
    """Create a project; audited with every field set.

    ``fields`` are the other fields of :data:`anju.project.rules.PROJECT_FIELDS` (status, district,
    description, decision_no, legal_basis, signing_start_on, signing_end_on, launched_on,
    deadline_on, target_sign_rate 1-100, target_households, alert_no_visit_days 1-90), as values
    or as the text a form sends; every problem is reported at once, naming its field.
    """
    _check_reason(reason)
    unknown = sorted(set(fields) - set(rules.PROJECT_EDITABLE))
    if unknown:
        raise ValidationFailed(
            "不认识的字段：" + "、".join(unknown),
            "unknown fields",
            details=[{"field": f, "message": f"不认识的字段“{f}”"} for f in unknown],
        )
    values, errors = rules.check_project({"code": code, "name": name, "kind": kind, **fields})
    if errors:
        raise _invalid("项目信息", errors)
    _code_taken(session, values["code"])
    project = Project(**values, version=1, households_version=0, created_at=utcnow())
    session.add(project)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="project",
        entity_id=project.id,
        project_id=project.id,
        changes=field_diff({}, values),
        reason=reason,
    )
    return project


def _lock_project(session: Session, project_id: int) -> Project:
    project = session.scalar(
        select(Project)
        .where(Project.id == project_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if project is None:
        raise NotFound("项目不存在", "project not found")
    return project


def update_project(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    data: Mapping[str, Any],
    expected_version: int | None,
    reason: str = "",
) -> dict[str, list[Any]]:
    """Change a project's fields and targets (only the keys in ``data``); returns the audited diff.

    ``expected_version`` is the version the editor read: when someone changed the project since,
    the answer is a 409 ``stale_version`` naming who and when, and nothing is written. The
    dates of the result must stay in order (signing start ≤ end ≤ deadline).
    """
    _check_reason(reason)
    project = _lock_project(session, project_id)
    if expected_version is not None and project.version != expected_version:
        raise _stale(
            session, what="项目信息", entity="project", entity_id=project.id, current=project.version
        )
    unknown = sorted(set(data) - set(rules.PROJECT_EDITABLE))
    if unknown:
        raise ValidationFailed(
            "不认识的字段：" + "、".join(unknown),
            "unknown fields",
            details=[{"field": f, "message": f"不认识的字段“{f}”"} for f in unknown],
        )
    values, errors = rules.check_project(data, current=project_values(project))
    if errors:
        raise _invalid("项目信息", errors)
    if "code" in values and values["code"] != project.code:
        _code_taken(session, values["code"], but=project.id)
    before = {k: getattr(project, k) for k in values}
    changes = field_diff(before, values)
    if not changes:
        return {}
    for k in changes:
        setattr(project, k, values[k])
    project.version = project.version + 1
    audit_service.record(
        session,
        actor=actor,
        action="update",
        entity="project",
        entity_id=project.id,
        project_id=project.id,
        changes=changes,
        reason=reason,
    )
    events.notify(
        session, topic=events.project_topic(project.id), kind="project", data={"fields": sorted(changes)}
    )
    return changes


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
        raise _stale(session, what="区块信息", entity="block", entity_id=block.id, current=block.version)
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


# ---------------------------------------------------------------- parcels (宗地) from GeoJSON


@dataclass(frozen=True, slots=True)
class ParcelImport:
    """What a GeoJSON import did: feature and parcel counts, boundaries set, households linked."""

    features: int
    created: int
    updated: int
    unchanged: int
    boundaries: int
    households_linked: int

    def summary(self) -> str:
        """One line in Chinese for the page, the CLI and the API."""
        return (
            f"共 {self.features:,} 个要素：新增宗地 {self.created:,} 宗，更新 {self.updated:,} 宗，"
            f"未变 {self.unchanged:,} 宗；区块边界 {self.boundaries:,} 个；关联被征收户 {self.households_linked:,} 户"
        )


class GeoJsonInvalid(ValidationFailed):
    """A GeoJSON parcel file with problems; ``details`` lists ``{feature, property, message}``."""

    code = "geojson_invalid"


def _geometry_digest(geometry: str | None) -> str | None:
    """What the audit keeps of a geometry: its SHA-256 (the text can be megabytes)."""
    return None if geometry is None else "sha256:" + hashlib.sha256(geometry.encode()).hexdigest()[:32]


def _read_geojson(content: bytes, filename: str) -> Any:
    """Inspect the upload (type, size, nesting, coordinate count) before parsing it, then parse."""
    name = safe_filename(filename, "parcels.geojson")
    kind = core_uploads.sniff(content)
    if kind == "empty":
        raise GeoJsonInvalid(f"文件“{name}”是空文件", "empty file", code="upload_empty")
    if kind != "json":
        label = core_uploads.KIND_LABELS.get(kind, "未知类型的文件")
        raise GeoJsonInvalid(
            f"文件“{name}”是{label}，不是 GeoJSON 文件", "not a GeoJSON file", code="upload_wrong_type"
        )
    try:
        core_uploads.inspect_json(content, name, upload_policy.limits())
    except core_uploads.UploadRejected as exc:
        raise upload_policy.refusal(exc) from None
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GeoJsonInvalid(
            f"文件“{name}”不是 UTF-8 编码（第{exc.start + 1}个字节无法解码），请另存为 UTF-8 后重试",
            "not UTF-8",
            details=[{"feature": 0, "property": "", "message": "文件不是 UTF-8 编码"}],
        ) from None

    def refuse_constant(value: str) -> Any:
        raise ValueError(f"不允许 {value}")

    try:
        return json.loads(text, parse_constant=refuse_constant)
    except json.JSONDecodeError as exc:
        message = f"文件“{name}”不是有效的 JSON：第{exc.lineno}行第{exc.colno}列有误"
        raise GeoJsonInvalid(
            message, "invalid JSON", details=[{"feature": 0, "property": "", "message": message}]
        ) from None
    except (ValueError, RecursionError):
        message = f"文件“{name}”不是有效的 JSON（含 NaN、Infinity 或嵌套过深）"
        raise GeoJsonInvalid(
            message, "invalid JSON", details=[{"feature": 0, "property": "", "message": message}]
        ) from None


def import_parcels(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    content: bytes,
    filename: str,
    code_property: str | None = None,
    block_property: str | None = None,
    household_property: str | None = None,
    reason: str = "",
) -> ParcelImport:
    """Import the parcels (宗地) of a GeoJSON FeatureCollection, all or nothing.

    Each feature is a parcel whose code comes from ``code_property`` (default ``code`` or
    ``宗地号``); optional properties give its block (``block_code``/``区块编号``), land area
    (``land_area``/``宗地面积``) and the households on it (``household_code``/``户号``, several
    separated by commas), which are then linked to the parcel. A feature with ``kind`` (or
    ``类型``) ``block``/``片区``/``村``/``组`` is the boundary of the block it names. A parcel
    whose code exists is updated. The upload is inspected before it is parsed; every problem is
    reported with its feature number and property, and then nothing is written. Audited.
    """
    _check_reason(reason)
    for label, value in (
        ("宗地号属性名", code_property),
        ("区块属性名", block_property),
        ("户号属性名", household_property),
    ):
        if value is not None:
            problem = text_problem(value, max_len=64)
            if problem:
                raise ValidationFailed(f"{label}{problem}", "invalid property name")
    get_project(session, project_id)
    document = _read_geojson(content, filename)
    parsed = rules.parse_parcels(
        document,
        code_property=code_property or None,
        block_property=block_property or None,
        household_property=household_property or None,
    )
    blocks_by_code = {
        str(c): (int(i), g)
        for c, i, g in session.execute(
            select(Block.code, Block.id, Block.geometry).where(Block.project_id == project_id)
        )
    }
    block_prop = block_property or "block_code"
    household_prop = household_property or "household_code"
    for p in parsed.parcels:
        if p.block_code and p.block_code not in blocks_by_code:
            parsed.add(rules.FeatureError(p.feature, block_prop, f"区块编号“{p.block_code}”在本项目中不存在"))
    for b in parsed.boundaries:
        if b.block_code not in blocks_by_code:
            parsed.add(rules.FeatureError(b.feature, block_prop, f"区块编号“{b.block_code}”在本项目中不存在"))
    from anju.household import service as household_service  # the household domain imports this module

    wanted = [c for p in parsed.parcels for c in p.household_codes]
    household_ids = household_service.household_ids_by_code(session, project_id=project_id, codes=wanted)
    for p in parsed.parcels:
        missing = [c for c in p.household_codes if c not in household_ids]
        if missing:
            shown = "、".join(missing[:5]) + ("等" if len(missing) > 5 else "")
            parsed.add(rules.FeatureError(p.feature, household_prop, f"户号“{shown}”在本项目中不存在"))
    if parsed.total_errors:
        parsed.errors.sort(key=lambda e: e.feature)
        listed = f"（列出前 {len(parsed.errors)} 处）" if parsed.total_errors > len(parsed.errors) else ""
        first = parsed.errors[0].text()
        raise GeoJsonInvalid(
            f"GeoJSON 文件有 {parsed.total_errors:,} 处错误{listed}，未导入任何宗地。{first}",
            f"{parsed.total_errors} problems in the GeoJSON file; nothing imported",
            details=[e.detail() for e in parsed.errors],
        )
    existing = {
        p.code: p
        for p in session.scalars(
            select(Parcel).where(Parcel.project_id == project_id).order_by(Parcel.id).with_for_update()
        )
    }
    entries: list[audit_service.AuditEntry] = []
    created = updated = unchanged = 0
    new_parcels: list[tuple[Parcel, dict[str, Any]]] = []
    parcel_of_code: dict[str, Parcel] = {}
    for p in parsed.parcels:
        block_id = blocks_by_code[p.block_code][0] if p.block_code else None
        values = {"block_id": block_id, "land_area": p.land_area, "geometry": p.geometry}
        parcel = existing.get(p.code)
        if parcel is None:
            parcel = Parcel(project_id=project_id, code=p.code, **values)
            session.add(parcel)
            new_parcels.append((parcel, values))
            created += 1
        else:
            before = {"block_id": parcel.block_id, "land_area": parcel.land_area, "geometry": parcel.geometry}
            diff = field_diff(
                {**before, "geometry": _geometry_digest(parcel.geometry)},
                {**values, "geometry": _geometry_digest(p.geometry)},
            )
            if diff:
                for k, v in values.items():
                    setattr(parcel, k, v)
                entries.append(
                    audit_service.AuditEntry(
                        "update", "parcel", str(parcel.id), diff, reason=reason, project_id=project_id
                    )
                )
                updated += 1
            else:
                unchanged += 1
        parcel_of_code[p.code] = parcel
    session.flush()
    for parcel, values in new_parcels:
        snapshot = {"code": parcel.code, **values, "geometry": _geometry_digest(parcel.geometry)}
        entries.append(
            audit_service.AuditEntry(
                "create",
                "parcel",
                str(parcel.id),
                field_diff({}, snapshot),
                reason=reason,
                project_id=project_id,
            )
        )
    boundaries = 0
    for b in parsed.boundaries:
        block_id, old = blocks_by_code[b.block_code]
        if old == b.geometry:
            continue
        block = session.scalar(select(Block).where(Block.id == block_id).with_for_update())
        assert block is not None  # read above in this transaction
        block.geometry = b.geometry
        block.version = block.version + 1
        entries.append(
            audit_service.AuditEntry(
                "update",
                "block",
                str(block_id),
                {"geometry": [_geometry_digest(old), _geometry_digest(b.geometry)]},
                reason=reason,
                project_id=project_id,
            )
        )
        boundaries += 1
    session.flush()
    audit_service.record_many(session, actor=actor, entries=entries)
    links = {household_ids[c]: parcel_of_code[p.code].id for p in parsed.parcels for c in p.household_codes}
    linked = household_service.link_parcels(
        session, actor=actor, project_id=project_id, parcel_of=links, reason=reason
    )
    if entries or linked:
        events.notify(
            session,
            topic=events.project_topic(project_id),
            kind="parcels",
            data={"created": created, "updated": updated, "linked": linked},
        )
    return ParcelImport(
        features=len(parsed.parcels) + len(parsed.boundaries),
        created=created,
        updated=updated,
        unchanged=unchanged,
        boundaries=boundaries,
        households_linked=linked,
    )


def parcel_count(session: Session, project_id: int) -> int:
    """Number of parcels of a project."""
    return int(
        session.scalar(select(func.count()).select_from(Parcel).where(Parcel.project_id == project_id)) or 0
    )


def parcels_geojson(session: Session, project_id: int) -> dict[str, Any]:
    """The project's parcels as a GeoJSON FeatureCollection (properties: id, code, block, land area)."""
    get_project(session, project_id)
    codes = {b.id: b.code for b in blocks(session, project_id)}
    rows = session.execute(
        select(Parcel.id, Parcel.code, Parcel.block_id, Parcel.land_area, Parcel.geometry)
        .where(Parcel.project_id == project_id)
        .order_by(Parcel.code)
    )
    features = []
    for pid, code, block_id, area, geometry in rows:
        features.append(
            {
                "type": "Feature",
                "id": int(pid),
                "properties": {
                    "id": int(pid),
                    "code": code,
                    "block_id": block_id,
                    "block_code": codes.get(block_id) if block_id is not None else None,
                    "land_area": None if area is None else f"{area:.2f}",
                },
                "geometry": json.loads(geometry) if geometry else None,
            }
        )
    return {"type": "FeatureCollection", "features": features}


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


def block_versions(session: Session, project_id: int) -> dict[int, int]:
    """``block id -> version`` of a project's blocks (edit forms send the version they read)."""
    rows = session.execute(select(Block.id, Block.version).where(Block.project_id == project_id))
    return {int(i): int(v or 1) for i, v in rows}
