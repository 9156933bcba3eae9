"""Grid service part: communities, grids (boundary, worker, public card) and their buildings
with building leaders. Every write checks the version read (409 on a stale one) and is audited."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.db.versions import bump_version
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.grid import rules
from anju.grid.models import Community, Grid, GridBuilding
from anju.identity import service as identity_service

GRID_WORKER_ROLE = "grid_worker"


# --------------------------------------------------------------------------- value checks


def _text(values: Mapping[str, Any], field: str, label: str, limit: int, *, required: bool = False) -> str:
    raw = values.get(field, "")
    text = "" if raw is None else str(raw).strip()
    if required and not text:
        raise ValidationFailed(
            f"请填写{label}", field, details=[{"field": field, "message": f"{label}不能为空"}]
        )
    if len(text) > limit or any(ord(ch) < 32 for ch in text):
        raise ValidationFailed(
            f"{label}最多 {limit} 字，且不能含控制字符",
            field,
            details=[{"field": field, "message": f"{label}最多 {limit} 字"}],
        )
    return text


def _code(values: Mapping[str, Any], label: str) -> str:
    code = _text(values, "code", label, 32, required=True).upper()
    if not rules.CODE_RE.fullmatch(code):
        raise ValidationFailed(
            f"{label}只能由字母、数字、- 和 _ 组成（最多 32 位）",
            "code",
            details=[{"field": "code", "message": f"{label}格式不正确"}],
        )
    return code


def _count(values: Mapping[str, Any], field: str, label: str) -> int:
    raw = values.get(field, 0)
    try:
        n = int(str(raw).strip() or "0")
    except ValueError:
        n = -1
    if isinstance(raw, bool) or not 0 <= n <= rules.MAX_HOUSEHOLDS:
        raise ValidationFailed(
            f"{label}应为 0 至 {rules.MAX_HOUSEHOLDS} 的整数",
            field,
            details=[{"field": field, "message": f"{label}不正确"}],
        )
    return n


def _flag(raw: Any) -> bool:
    return raw is True or str(raw).strip().lower() in ("1", "true", "on", "yes", "是", "党员")


def _stale(session: Session, what: str, current: int, entity: str, entity_id: int) -> Conflict:
    return identity_service.stale_version(
        session, what=what, current=current, entity=entity, entity_id=entity_id
    )


def _check_version(session: Session, obj: Any, expected: int | None, what: str, entity: str) -> None:
    if expected is not None and expected != obj.version:
        raise _stale(session, what, obj.version, entity, obj.id)


def _diff(obj: Any, new: Mapping[str, Any]) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    for key, value in new.items():
        old = getattr(obj, key)
        if old != value:
            changes[key] = [_plain(old), _plain(value)]
            setattr(obj, key, value)
    return changes


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


# --------------------------------------------------------------------------- communities


def list_communities(session: Session) -> list[Community]:
    """All communities by sort order then code."""
    return list(session.scalars(select(Community).order_by(Community.sort, Community.code)))


def get_community(session: Session, community_id: int) -> Community:
    """A community by id (404 when missing)."""
    c = session.get(Community, community_id)
    if c is None:
        raise NotFound("社区不存在", "community not found")
    return c


def community_by_name_or_code(session: Session, key: str) -> Community | None:
    """A community by its code or its name (imports name communities either way)."""
    key = key.strip()
    return session.scalar(select(Community).where((Community.code == key.upper()) | (Community.name == key)))


_COMMUNITY_FIELDS = {"name": ("社区名称", 64), "phone": ("社区电话", 32), "address": ("社区地址", 200)}


def _community_values(values: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, (label, limit) in _COMMUNITY_FIELDS.items():
        if partial and field not in values:
            continue
        out[field] = _text(values, field, label, limit, required=field == "name")
    if not partial or "sort" in values:
        out["sort"] = _count(values, "sort", "排序")
    return out


def create_community(session: Session, *, actor: Actor, values: Mapping[str, Any]) -> Community:
    """Create a community (code unique; audited)."""
    code = _code(values, "社区编号")
    data = _community_values(values, partial=False)
    if session.scalar(select(Community.id).where(Community.code == code)) is not None:
        raise Conflict(f"社区编号 {code} 已存在", "duplicate community code", code="duplicate_code")
    c = Community(code=code, created_at=utcnow(), **data)
    session.add(c)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="community",
        entity_id=c.id,
        changes={k: [None, _plain(v)] for k, v in {"code": code, **data}.items()},
    )
    return c


def update_community(
    session: Session,
    *,
    actor: Actor,
    community_id: int,
    values: Mapping[str, Any],
    expected_version: int | None,
) -> dict[str, list[Any]]:
    """Change a community's name, phone, address or sort (409 on a stale version; audited)."""
    c = get_community(session, community_id)
    _check_version(session, c, expected_version, "社区", "community")
    changes = _diff(c, _community_values(values, partial=True))
    if changes:
        bump_version(session, c)
        audit_service.record(
            session, actor=actor, action="update", entity="community", entity_id=c.id, changes=changes
        )
    return changes


# --------------------------------------------------------------------------- grids


@dataclass(frozen=True, slots=True)
class GridCard:
    """A grid with what its card shows: community, worker, buildings and household counts."""

    grid: Grid
    community: Community
    worker_name: str
    buildings: list[GridBuilding]

    @property
    def building_households(self) -> int:
        """Households counted building by building."""
        return sum(b.households for b in self.buildings)

    @property
    def party_leaders(self) -> int:
        """Building leaders who are party members."""
        return sum(1 for b in self.buildings if b.leader_name and b.leader_party_member)


def get_grid(session: Session, grid_id: int) -> Grid:
    """A grid by id (404 when missing)."""
    g = session.get(Grid, grid_id)
    if g is None:
        raise NotFound("网格不存在", "grid not found")
    return g


def get_grid_by_code(session: Session, code: str) -> Grid:
    """A grid by its code (404 when missing)."""
    g = session.scalar(select(Grid).where(Grid.code == code.strip().upper()))
    if g is None:
        raise NotFound(f"网格 {code} 不存在", "grid not found")
    return g


def list_grids(session: Session, *, community_id: int | None = None) -> list[Grid]:
    """Grids (of one community), by code."""
    q = select(Grid).order_by(Grid.code)
    if community_id is not None:
        q = q.where(Grid.community_id == community_id)
    return list(session.scalars(q))


def grid_cards(
    session: Session, *, community_id: int | None = None, grid_ids: list[int] | None = None
) -> list[GridCard]:
    """Grids with their community, worker name and buildings (three queries, any number of grids)."""
    grids = list_grids(session, community_id=community_id)
    if grid_ids is not None:
        wanted = set(grid_ids)
        grids = [g for g in grids if g.id in wanted]
    communities = {c.id: c for c in list_communities(session)}
    names = identity_service.user_names(session)
    buildings: dict[int, list[GridBuilding]] = {}
    if grids:
        for b in session.scalars(
            select(GridBuilding)
            .where(GridBuilding.grid_id.in_([g.id for g in grids]))
            .order_by(GridBuilding.grid_id, GridBuilding.name)
        ):
            buildings.setdefault(b.grid_id, []).append(b)
    return [
        GridCard(
            grid=g,
            community=communities[g.community_id],
            worker_name=names.get(g.worker_user_id, "") if g.worker_user_id else "",
            buildings=buildings.get(g.id, []),
        )
        for g in grids
    ]


def grid_card(session: Session, grid_id: int) -> GridCard:
    """One grid's card."""
    get_grid(session, grid_id)
    return grid_cards(session, grid_ids=[grid_id])[0]


def boundary_values(geometry: Any) -> dict[str, Any]:
    """Stored columns of a boundary (GeoJSON geometry dict, or None/{} for no boundary)."""
    if not geometry:
        return {
            k: None for k in ("centroid_lng", "centroid_lat", "min_lng", "min_lat", "max_lng", "max_lat")
        } | {"boundary": ""}
    try:
        shape = rules.parse_geometry(geometry)
    except rules.GeometryError as exc:
        raise ValidationFailed(
            f"边界：{exc}", "boundary", details=[{"field": "boundary", "message": str(exc)}]
        ) from exc
    min_lng, min_lat, max_lng, max_lat = shape.bbox
    cx, cy = rules.representative_point(shape)
    return {
        "boundary": json.dumps(rules.to_geojson(shape), separators=(",", ":")),
        "centroid_lng": cx,
        "centroid_lat": cy,
        "min_lng": min_lng.quantize(rules.QUANT, rounding="ROUND_FLOOR"),
        "min_lat": min_lat.quantize(rules.QUANT, rounding="ROUND_FLOOR"),
        "max_lng": max_lng.quantize(rules.QUANT, rounding="ROUND_CEILING"),
        "max_lat": max_lat.quantize(rules.QUANT, rounding="ROUND_CEILING"),
    }


def _worker(session: Session, user_id: Any) -> int | None:
    if user_id in (None, "", 0):
        return None
    try:
        uid = int(user_id)
    except (TypeError, ValueError):
        uid = 0
    try:
        role = identity_service.get_user(session, uid).role if uid > 0 else ""
    except NotFound:
        role = ""
    if role != GRID_WORKER_ROLE:
        raise ValidationFailed(
            "网格员应为角色为“网格员”的用户",
            "worker_user_id",
            details=[{"field": "worker_user_id", "message": "该用户不存在或不是网格员"}],
        )
    return uid


def _grid_values(session: Session, values: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not partial or "name" in values:
        out["name"] = _text(values, "name", "网格名称", 64, required=True)
    if not partial or "public_phone" in values:
        out["public_phone"] = _text(values, "public_phone", "公开电话", 32)
    if not partial or "public_note" in values:
        out["public_note"] = _text(values, "public_note", "公开说明", 500)
    if not partial or "households" in values:
        out["households"] = _count(values, "households", "户数")
    if not partial or "worker_user_id" in values:
        out["worker_user_id"] = _worker(session, values.get("worker_user_id"))
    if "community_id" in values:
        out["community_id"] = get_community(session, int(values["community_id"])).id
    if not partial or "boundary" in values:
        out.update(boundary_values(values.get("boundary")))
    return out


def create_grid(session: Session, *, actor: Actor, community_id: int, values: Mapping[str, Any]) -> Grid:
    """Create a grid of a community (code unique; boundary a GeoJSON Polygon/MultiPolygon; worker a
    grid worker); audited."""
    get_community(session, community_id)
    code = _code(values, "网格编号")
    data = _grid_values(session, values, partial=False)
    data.pop("community_id", None)
    if session.scalar(select(Grid.id).where(Grid.code == code)) is not None:
        raise Conflict(f"网格编号 {code} 已存在", "duplicate grid code", code="duplicate_code")
    g = Grid(community_id=community_id, code=code, created_at=utcnow(), **data)
    session.add(g)
    session.flush()
    shown = {k: v for k, v in data.items() if k != "boundary"} | {"boundary": bool(data["boundary"])}
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="grid",
        entity_id=g.id,
        changes={
            k: [None, _plain(v)] for k, v in {"code": code, "community_id": community_id, **shown}.items()
        },
    )
    return g


def update_grid(
    session: Session, *, actor: Actor, grid_id: int, values: Mapping[str, Any], expected_version: int | None
) -> dict[str, list[Any]]:
    """Change a grid: name, community, boundary, worker, public card, households (409 when stale;
    audited; a boundary change is audited as changed, not its coordinates)."""
    g = get_grid(session, grid_id)
    _check_version(session, g, expected_version, "网格", "grid")
    data = _grid_values(session, values, partial=True)
    boundary_changed = "boundary" in data and data["boundary"] != g.boundary
    changes = _diff(g, data)
    for k in ("boundary", "centroid_lng", "centroid_lat", "min_lng", "min_lat", "max_lng", "max_lat"):
        changes.pop(k, None)
    if boundary_changed:
        changes["boundary"] = ["changed", "changed"]
    if changes:
        bump_version(session, g)
        audit_service.record(
            session, actor=actor, action="update", entity="grid", entity_id=g.id, changes=changes
        )
    return changes


def assign_worker(
    session: Session, *, actor: Actor, grid_id: int, user_id: int | None, expected_version: int | None
) -> dict[str, list[Any]]:
    """Make a grid worker (a user with the role 网格员) the grid's worker, or none (audited)."""
    return update_grid(
        session,
        actor=actor,
        grid_id=grid_id,
        values={"worker_user_id": user_id},
        expected_version=expected_version,
    )


def grid_workers(session: Session) -> list[tuple[int, str]]:
    """(user id, display name) of every active grid worker."""
    return [
        (u.id, u.display_name)
        for u in identity_service.list_users(session)
        if u.role == GRID_WORKER_ROLE and u.is_active
    ]


def households_by_grid(session: Session) -> dict[int, int]:
    """grid id -> households counted over its buildings."""
    return {
        int(gid): int(n or 0)
        for gid, n in session.execute(
            select(GridBuilding.grid_id, func.sum(GridBuilding.households)).group_by(GridBuilding.grid_id)
        )
    }


# --------------------------------------------------------------------------- buildings


def get_building(session: Session, building_id: int) -> GridBuilding:
    """A grid building by id (404 when missing)."""
    b = session.get(GridBuilding, building_id)
    if b is None:
        raise NotFound("楼栋不存在", "building not found")
    return b


def _building_values(values: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, label, limit in (
        ("name", "楼栋名称", 64),
        ("address", "楼栋地址", 200),
        ("leader_name", "楼栋长姓名", 64),
        ("leader_phone", "楼栋长电话", 32),
    ):
        if not partial or field in values:
            out[field] = _text(values, field, label, limit, required=field == "name")
    if not partial or "households" in values:
        out["households"] = _count(values, "households", "户数")
    if not partial or "leader_party_member" in values:
        out["leader_party_member"] = _flag(values.get("leader_party_member", False))
    return out


def add_building(session: Session, *, actor: Actor, grid_id: int, values: Mapping[str, Any]) -> GridBuilding:
    """Add a building to a grid with its leader (name unique in the grid; audited)."""
    get_grid(session, grid_id)
    data = _building_values(values, partial=False)
    taken = session.scalar(
        select(GridBuilding.id).where(GridBuilding.grid_id == grid_id, GridBuilding.name == data["name"])
    )
    if taken is not None:
        raise Conflict(f"该网格已有楼栋“{data['name']}”", "duplicate building", code="duplicate_building")
    b = GridBuilding(grid_id=grid_id, **data)
    session.add(b)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="grid_building",
        entity_id=b.id,
        changes={k: [None, _plain(v)] for k, v in {"grid_id": grid_id, **data}.items()},
    )
    return b


def update_building(
    session: Session,
    *,
    actor: Actor,
    building_id: int,
    values: Mapping[str, Any],
    expected_version: int | None,
) -> dict[str, list[Any]]:
    """Change a building or its leader (409 when stale; audited)."""
    b = get_building(session, building_id)
    _check_version(session, b, expected_version, "楼栋", "grid_building")
    data = _building_values(values, partial=True)
    if "name" in data and data["name"] != b.name:
        taken = session.scalar(
            select(GridBuilding.id).where(
                GridBuilding.grid_id == b.grid_id, GridBuilding.name == data["name"]
            )
        )
        if taken is not None:
            raise Conflict(f"该网格已有楼栋“{data['name']}”", "duplicate building", code="duplicate_building")
    changes = _diff(b, data)
    if changes:
        bump_version(session, b)
        audit_service.record(
            session, actor=actor, action="update", entity="grid_building", entity_id=b.id, changes=changes
        )
    return changes


def remove_building(
    session: Session, *, actor: Actor, building_id: int, expected_version: int | None
) -> None:
    """Remove a building from its grid (409 when stale; audited with what it held)."""
    b = get_building(session, building_id)
    _check_version(session, b, expected_version, "楼栋", "grid_building")
    bump_version(session, b)
    audit_service.record(
        session,
        actor=actor,
        action="delete",
        entity="grid_building",
        entity_id=b.id,
        changes={
            k: [_plain(getattr(b, k)), None]
            for k in ("grid_id", "name", "leader_name", "leader_party_member")
        },
    )
    session.delete(b)
    session.flush()
