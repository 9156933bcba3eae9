"""Project service part: parcels (宗地), one by one or imported from GeoJSON, and the shapes the
maps draw (parcels and block boundaries) (see the package docstring).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju import uploads as upload_policy
from anju.audit import service as audit_service
from anju.audit.service import field_diff
from anju.core import uploads as core_uploads
from anju.core.actor import Actor
from anju.core.text import text_problem
from anju.core.uploads import safe_filename
from anju.db import events
from anju.errors import ValidationFailed
from anju.project import rules
from anju.project.models import Block, Parcel
from anju.project.service.blocks import blocks
from anju.project.service.projects import _check_reason, get_project

__all__ = [
    "GeoJsonInvalid",
    "ParcelImport",
    "ParcelShape",
    "add_parcel",
    "block_shapes",
    "import_parcels",
    "parcel_count",
    "parcel_shapes",
    "parcels_geojson",
]


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
    """What a GeoJSON import did: feature and parcel counts (``removed``: parcels no longer in the
    file), boundaries set, and households put on a parcel that had none (``households_linked``),
    moved to another parcel (``households_relinked``) or taken off theirs (``households_unlinked``)."""

    features: int
    created: int
    updated: int
    unchanged: int
    boundaries: int
    households_linked: int
    removed: int = 0
    households_relinked: int = 0
    households_unlinked: int = 0

    def summary(self) -> str:
        """One line in Chinese for the page, the CLI and the API."""
        return (
            f"共 {self.features:,} 个要素：新增宗地 {self.created:,} 宗，更新 {self.updated:,} 宗，"
            f"未变 {self.unchanged:,} 宗，删除 {self.removed:,} 宗（新文件中已没有）；"
            f"区块边界 {self.boundaries:,} 个；被征收户新关联 {self.households_linked:,} 户，"
            f"改关联 {self.households_relinked:,} 户，解除关联 {self.households_unlinked:,} 户"
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
    ``类型``) ``block``/``片区``/``村``/``组`` is the boundary of the block it names. The upload is
    inspected before it is parsed; every problem is reported with its feature number and property,
    and then nothing is written. Audited.

    A file with parcels replaces the project's set of parcels: a parcel whose code exists is
    updated in place (its households stay on it), a parcel of the project that the file no longer
    has is deleted and its households are unlinked, and a feature that names households is the
    whole list of its parcel's households (one it no longer names is unlinked, unless another
    feature names it: then it moves). A feature that names no households leaves its parcel's
    households as they are; a file of block boundaries only changes no parcel.
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
    # The file replaces the set (see the docstring): parcels it no longer has go, with their links.
    kept = set(parcel_of_code)
    gone = [parcel for code, parcel in existing.items() if code not in kept] if parsed.parcels else []
    gone_ids = {parcel.id for parcel in gone}
    named = {household_ids[c]: parcel_of_code[p.code].id for p in parsed.parcels for c in p.household_codes}
    listing = {parcel_of_code[p.code].id for p in parsed.parcels if p.household_codes}
    links: dict[int, int | None] = dict(named)
    for household_id, parcel_id in household_service.parcel_links(session, project_id=project_id).items():
        if household_id not in named and (parcel_id in gone_ids or parcel_id in listing):
            links[household_id] = None
    for parcel in gone:
        snapshot = {
            "code": parcel.code,
            "block_id": parcel.block_id,
            "land_area": parcel.land_area,
            "geometry": _geometry_digest(parcel.geometry),
        }
        entries.append(
            audit_service.AuditEntry(
                "delete",
                "parcel",
                str(parcel.id),
                field_diff(snapshot, {}),
                reason=reason or "新宗地文件中已没有该宗地",
                project_id=project_id,
            )
        )
    audit_service.record_many(session, actor=actor, entries=entries)
    changed = household_service.link_parcels(
        session, actor=actor, project_id=project_id, parcel_of=links, reason=reason
    )
    if gone:
        session.flush()  # the households let go of the parcels before the parcels are deleted
        for parcel in gone:
            session.delete(parcel)
        session.flush()
    if entries or changed.changed:
        events.notify(
            session,
            topic=events.project_topic(project_id),
            kind="parcels",
            data={
                "created": created,
                "updated": updated,
                "removed": len(gone),
                "linked": changed.linked,
                "relinked": changed.relinked,
                "unlinked": changed.unlinked,
            },
        )
    return ParcelImport(
        features=len(parsed.parcels) + len(parsed.boundaries),
        created=created,
        updated=updated,
        unchanged=unchanged,
        boundaries=boundaries,
        households_linked=changed.linked,
        removed=len(gone),
        households_relinked=changed.relinked,
        households_unlinked=changed.unlinked,
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
