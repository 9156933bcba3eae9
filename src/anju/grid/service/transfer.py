"""Grid service part: import of grids and boundaries (GeoJSON FeatureCollection, or an xlsx/csv
sheet of grids, buildings and building leaders) and export of the grids as GeoJSON.

An import is all or nothing: the upload is inspected before it is parsed, every feature or row is
checked first, and every problem is reported at once (feature number and property, or Excel row
and column, in Chinese); only a file without problems is written, audited as one import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju import uploads as upload_policy
from anju.audit import service as audit_service
from anju.core import uploads as core_uploads
from anju.core.actor import Actor
from anju.core.uploads import safe_filename
from anju.errors import ValidationFailed
from anju.grid import rules
from anju.grid.models import Community, Grid, GridBuilding
from anju.grid.service.grids import (
    GRID_WORKER_ROLE,
    _building_values,
    _count,
    _text,
    add_building,
    boundary_values,
    create_community,
    create_grid,
    grid_cards,
    update_building,
    update_grid,
)
from anju.identity import service as identity_service

#: Sheet headers (Chinese as offices write them, English accepted) -> field.
SHEET_COLUMNS = {
    "社区": "community",
    "community": "community",
    "网格编号": "code",
    "code": "code",
    "网格名称": "name",
    "name": "name",
    "网格员": "worker",
    "worker": "worker",
    "公开电话": "phone",
    "联系电话": "phone",
    "phone": "phone",
    "网格户数": "households",
    "households": "households",
    "边界": "boundary",
    "boundary": "boundary",
    "楼栋": "building",
    "building": "building",
    "楼栋户数": "building_households",
    "building_households": "building_households",
    "楼栋长": "leader",
    "leader": "leader",
    "楼栋长电话": "leader_phone",
    "leader_phone": "leader_phone",
    "党员": "party_member",
    "party_member": "party_member",
}
REQUIRED_COLUMNS = ("community", "code")
MAX_ERRORS = 200


class GridImportInvalid(ValidationFailed):
    """The file has problems; ``details`` lists ``{feature|row, property|column, message}``."""

    code = "grid_import_invalid"


@dataclass
class GridImportResult:
    """What an import did."""

    kind: str  # geojson / sheet
    grids_created: int = 0
    grids_updated: int = 0
    communities_created: int = 0
    buildings_created: int = 0
    buildings_updated: int = 0
    codes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One Chinese sentence for the page and the CLI."""
        return (
            f"导入完成：新建网格 {self.grids_created} 个，更新网格 {self.grids_updated} 个，"
            f"新建社区 {self.communities_created} 个，新建楼栋 {self.buildings_created} 个，"
            f"更新楼栋 {self.buildings_updated} 个"
        )


@dataclass
class _Item:
    """One grid (and optionally one building) as read from a feature or a row."""

    where: dict[str, Any]
    community: str
    code: str
    values: dict[str, Any]
    building: dict[str, Any] | None = None


# --------------------------------------------------------------------------- reading


def _workers(session: Session) -> dict[str, int | None]:
    """username and display name -> user id of the grid workers (None when a name is ambiguous)."""
    out: dict[str, int | None] = {}
    for u in identity_service.list_users(session):
        if u.role != GRID_WORKER_ROLE:
            continue
        out[u.username] = u.id
        out[u.display_name] = None if u.display_name in out and out[u.display_name] != u.id else u.id
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_json(content: bytes, name: str) -> Any:
    try:
        core_uploads.inspect_json(content, name, upload_policy.limits())
    except core_uploads.UploadRejected as exc:
        raise upload_policy.refusal(exc) from None
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise GridImportInvalid(
            f"文件“{name}”不是 UTF-8 编码，请另存为 UTF-8 后重试",
            "not UTF-8",
            details=[{"feature": 0, "property": "", "message": "文件不是 UTF-8 编码"}],
        ) from None

    def refuse_constant(value: str) -> Any:
        raise ValueError(value)

    try:
        return json.loads(text, parse_constant=refuse_constant)
    except json.JSONDecodeError as exc:
        message = f"文件“{name}”不是有效的 JSON：第{exc.lineno}行第{exc.colno}列有误"
    except (ValueError, RecursionError):
        message = f"文件“{name}”不是有效的 JSON（含 NaN、Infinity 或嵌套过深）"
    raise GridImportInvalid(
        message, "invalid JSON", details=[{"feature": 0, "property": "", "message": message}]
    )


def _features(document: Any, workers: dict[str, int | None], errors: list[dict[str, Any]]) -> list[_Item]:
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise GridImportInvalid(
            "GeoJSON 文件应为 FeatureCollection",
            "not a FeatureCollection",
            details=[{"feature": 0, "property": "type", "message": "应为 FeatureCollection"}],
        )
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise GridImportInvalid(
            "GeoJSON 文件中没有要素（features 为空）",
            "no features",
            details=[{"feature": 0, "property": "features", "message": "没有要素"}],
        )
    items: list[_Item] = []
    for n, feature in enumerate(features, start=1):

        def bad(prop: str, message: str, n: int = n) -> None:
            errors.append({"feature": n, "property": prop, "message": f"第 {n} 个要素 {prop}：{message}"})

        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            bad("type", "应为 Feature")
            continue
        props = feature.get("properties")
        props = props if isinstance(props, dict) else {}
        community = _cell(props.get("community"))
        code = _cell(props.get("code")).upper()
        if not community:
            bad("community", "缺少社区")
        if not code:
            bad("code", "缺少网格编号")
        elif not rules.CODE_RE.fullmatch(code):
            bad("code", f"网格编号“{code}”只能由字母、数字、- 和 _ 组成")
        try:
            rules.parse_geometry(feature.get("geometry"))
        except rules.GeometryError as exc:
            bad("geometry", str(exc).lstrip("："))
        values: dict[str, Any] = {"boundary": feature.get("geometry")}
        for prop, key in (("name", "name"), ("phone", "public_phone"), ("households", "households")):
            if prop in props:
                values[key] = _cell(props.get(prop))
        if not _cell(props.get("name")):
            values["name"] = code
        worker = _cell(props.get("worker"))
        if worker:
            _resolve_worker(worker, workers, lambda m, bad=bad: bad("worker", m), values)
        items.append(_Item({"feature": n}, community, code, values))
    return items


def _resolve_worker(name: str, workers: dict[str, int | None], bad: Any, values: dict[str, Any]) -> None:
    if name not in workers:
        bad(f"网格员“{name}”不存在或不是网格员")
    elif workers[name] is None:
        bad(f"网格员姓名“{name}”重名，请填写用户名")
    else:
        values["worker_user_id"] = workers[name]


def _rows(rows: list[list[Any]], workers: dict[str, int | None], errors: list[dict[str, Any]]) -> list[_Item]:
    header_at = next((i for i, r in enumerate(rows[:10]) if any(_cell(c) in SHEET_COLUMNS for c in r)), None)
    if header_at is None:
        raise GridImportInvalid(
            "前 10 行中找不到表头（需要“社区”“网格编号”等列）",
            "no header",
            details=[{"row": 0, "column": "", "message": "找不到表头"}],
        )
    header = [_cell(c) for c in rows[header_at]]
    cols = {SHEET_COLUMNS[h]: i for i, h in enumerate(header) if h in SHEET_COLUMNS}
    labels = {SHEET_COLUMNS[h]: h for h in header if h in SHEET_COLUMNS}
    missing = [c for c in REQUIRED_COLUMNS if c not in cols]
    if missing:
        names = "、".join({"community": "社区", "code": "网格编号"}[m] for m in missing)
        raise GridImportInvalid(
            f"缺少列：{names}",
            "missing columns",
            details=[{"row": header_at + 1, "column": names, "message": "缺少列"}],
        )
    items: list[_Item] = []
    for i, raw in enumerate(rows[header_at + 1 :], start=header_at + 2):
        row = {k: _cell(raw[j]) if j < len(raw) else "" for k, j in cols.items()}
        if not any(row.values()):
            continue

        def bad(key: str, message: str, i: int = i) -> None:
            label = labels.get(key, key)
            errors.append({"row": i, "column": label, "message": f"第 {i} 行“{label}”列：{message}"})

        code = row["code"].upper()
        if not row["community"]:
            bad("community", "缺少社区")
        if not code:
            bad("code", "缺少网格编号")
        elif not rules.CODE_RE.fullmatch(code):
            bad("code", f"网格编号“{code}”只能由字母、数字、- 和 _ 组成")
        values: dict[str, Any] = {}
        if row.get("name"):
            values["name"] = row["name"]
        if row.get("phone"):
            values["public_phone"] = row["phone"]
        if row.get("households"):
            if not row["households"].isdigit():
                bad("households", "应为非负整数")
            values["households"] = row["households"]
        if row.get("boundary"):
            try:
                geometry = json.loads(row["boundary"])
                rules.parse_geometry(geometry)
                values["boundary"] = geometry
            except ValueError as exc:  # GeometryError is a ValueError, so is a JSON error
                bad(
                    "boundary",
                    str(exc).lstrip("：") if isinstance(exc, rules.GeometryError) else "不是合法的 GeoJSON",
                )
        if row.get("worker"):
            _resolve_worker(row["worker"], workers, lambda m, bad=bad: bad("worker", m), values)
        building: dict[str, Any] | None = None
        if row.get("building"):
            building = {"name": row["building"]}
            if row.get("building_households"):
                if not row["building_households"].isdigit():
                    bad("building_households", "应为非负整数")
                building["households"] = row["building_households"]
            for key, target in (("leader", "leader_name"), ("leader_phone", "leader_phone")):
                if row.get(key):
                    building[target] = row[key]
            if "party_member" in row:
                flag = row["party_member"]
                if flag not in (
                    "",
                    "是",
                    "否",
                    "党员",
                    "1",
                    "0",
                    "Y",
                    "N",
                    "y",
                    "n",
                    "TRUE",
                    "FALSE",
                    "true",
                    "false",
                ):
                    bad("party_member", "应填“是”或“否”")
                building["leader_party_member"] = flag in ("是", "党员", "1", "Y", "y", "TRUE", "true")
        elif any(row.get(k) for k in ("leader", "leader_phone", "building_households")):
            bad("building", "填写了楼栋长或楼栋户数，但缺少楼栋名称")
        items.append(_Item({"row": i}, row["community"], code, values, building))
    if not items:
        raise GridImportInvalid(
            "表格中没有数据行",
            "no rows",
            details=[{"row": header_at + 2, "column": "", "message": "没有数据行"}],
        )
    return items


# --------------------------------------------------------------------------- writing


def _where(item: _Item) -> str:
    return f"第 {item.where['feature']} 个要素" if "feature" in item.where else f"第 {item.where['row']} 行"


def import_grids(session: Session, *, actor: Actor, content: bytes, filename: str) -> GridImportResult:
    """Import grids (and buildings with leaders) from a GeoJSON FeatureCollection or a sheet.

    GeoJSON: one feature per grid with properties ``community`` (name or code; created when new),
    ``code``, ``name``, ``worker`` (username or name of a 网格员), ``phone`` (public), optionally
    ``households``. Sheet: columns 社区, 网格编号 (required), 网格名称, 网格员, 公开电话, 网格户数,
    边界 (GeoJSON geometry), 楼栋, 楼栋户数, 楼栋长, 楼栋长电话, 党员 — a row per building, grid
    columns repeated. Grids whose code exists are updated, new ones created; nothing is written when
    any feature or row has a problem (422 listing all of them).
    """
    name = safe_filename(filename, "grids")
    kind = core_uploads.sniff(content)
    if kind == "empty":
        raise GridImportInvalid(f"文件“{name}”是空文件", "empty file", code="upload_empty")
    workers = _workers(session)
    errors: list[dict[str, Any]] = []
    if kind == "json":
        items = _features(_read_json(content, name), workers, errors)
        result = GridImportResult(kind="geojson")
    else:
        sheet = upload_policy.first_sheet(
            content, name, unreadable="请上传 GeoJSON、.xlsx 或 CSV 格式的网格文件"
        )
        items = _rows(sheet, workers, errors)
        result = GridImportResult(kind="sheet")
    existing = {g.code: g for g in session.scalars(select(Grid))}
    seen: dict[str, _Item] = {}
    buildings_seen: set[tuple[str, str]] = set()
    for item in items:
        if not item.code:
            continue
        first = seen.get(item.code)
        if first is None:
            seen[item.code] = item
            if item.code not in existing and "name" not in item.values:
                item.values["name"] = item.code
        elif result.kind == "geojson":
            errors.append(
                {
                    **item.where,
                    "property": "code",
                    "message": f"{_where(item)}：网格编号 {item.code} 与{_where(first)}重复",
                }
            )
        else:
            if first.community != item.community:
                errors.append(
                    {
                        **item.where,
                        "column": "社区",
                        "message": f"{_where(item)}：网格 {item.code} 的社区与{_where(first)}不同",
                    }
                )
            for k, v in item.values.items():  # grid columns repeated on building rows may be left empty
                first.values.setdefault(k, v)
        if item.building is not None:
            key = (item.code, item.building["name"])
            if key in buildings_seen:
                errors.append(
                    {
                        **item.where,
                        "column": "楼栋",
                        "message": f"{_where(item)}：楼栋“{key[1]}”在网格 {key[0]} 中重复",
                    }
                )
            buildings_seen.add(key)
    if errors:
        raise GridImportInvalid(
            f"文件有 {len(errors)} 处问题，未导入任何数据：{errors[0]['message']}",
            "the file has problems; nothing was imported",
            details=errors[:MAX_ERRORS],
        )
    # Field checks the services make (lengths, counts) are run first on every grid/building, so a
    # late refusal cannot leave the import half done (the caller's transaction is rolled back anyway).
    for item in seen.values():
        try:
            _check_values(item)
        except ValidationFailed as exc:
            errors.append(
                {
                    **item.where,
                    "property" if result.kind == "geojson" else "column": _field(exc),
                    "message": f"{_where(item)}：{exc.message_zh}",
                }
            )
    for item in items:
        if item.building is not None:
            try:
                _check_building(item.building)
            except ValidationFailed as exc:
                errors.append(
                    {**item.where, "column": exc.message_en, "message": f"{_where(item)}：{exc.message_zh}"}
                )
    if errors:
        raise GridImportInvalid(
            f"文件有 {len(errors)} 处问题，未导入任何数据：{errors[0]['message']}",
            "the file has problems; nothing was imported",
            details=errors[:MAX_ERRORS],
        )
    communities: dict[str, Community] = {}
    for c in session.scalars(select(Community)):
        communities[c.code] = c
        communities[c.name] = c
    grid_ids: dict[str, int] = {}
    for item in seen.values():
        community = communities.get(item.community) or communities.get(item.community.upper())
        if community is None:
            community = create_community(
                session, actor=actor, values={"code": _next_community_code(session), "name": item.community}
            )
            communities[community.code] = communities[community.name] = community
            result.communities_created += 1
        grid = existing.get(item.code)
        if grid is None:
            grid = create_grid(
                session, actor=actor, community_id=community.id, values={"code": item.code, **item.values}
            )
            result.grids_created += 1
        else:
            changes = update_grid(
                session,
                actor=actor,
                grid_id=grid.id,
                values={"community_id": community.id, **item.values},
                expected_version=None,
            )
            result.grids_updated += 1 if changes else 0
        grid_ids[item.code] = grid.id
        result.codes.append(item.code)
    current = {(b.grid_id, b.name): b for b in session.scalars(select(GridBuilding))}
    for item in items:
        if item.building is None:
            continue
        gid = grid_ids[item.code]
        found = current.get((gid, item.building["name"]))
        if found is None:
            add_building(session, actor=actor, grid_id=gid, values=item.building)
            result.buildings_created += 1
        elif update_building(
            session, actor=actor, building_id=found.id, values=item.building, expected_version=None
        ):
            result.buildings_updated += 1
    audit_service.record(
        session,
        actor=actor,
        action="import",
        entity="grid_import",
        entity_id=name[:64],
        changes={
            "kind": [None, result.kind],
            "grids_created": [None, result.grids_created],
            "grids_updated": [None, result.grids_updated],
            "buildings_created": [None, result.buildings_created],
        },
    )
    return result


def _field(exc: ValidationFailed) -> str:
    details = exc.details if isinstance(exc.details, list) else []
    return str(details[0].get("field", "")) if details else ""


def _check_values(item: _Item) -> None:

    v = item.values
    _text(v, "name", "网格名称", 64)
    _text(v, "public_phone", "公开电话", 32)
    if "households" in v:
        _count(v, "households", "网格户数")
    if v.get("boundary"):
        boundary_values(v["boundary"])


def _check_building(b: dict[str, Any]) -> None:

    _building_values(b, partial=True)


def _next_community_code(session: Session) -> str:
    taken = set(session.scalars(select(Community.code)))
    n = len(taken) + 1
    while f"SQ{n:02d}" in taken:
        n += 1
    return f"SQ{n:02d}"


# --------------------------------------------------------------------------- export


def grids_geojson(
    session: Session, *, community_id: int | None = None, include_leaders: bool = False
) -> dict[str, Any]:
    """The grids as a GeoJSON FeatureCollection with the import's properties (community, code,
    name, worker, phone, households) plus the map's (community_code, colour index, centroid, and
    the building leaders when ``include_leaders``). A grid without boundary has a null geometry."""
    features = []
    communities = sorted({c.community.code for c in grid_cards(session, community_id=community_id)})
    for card in grid_cards(session, community_id=community_id):
        g = card.grid
        props: dict[str, Any] = {
            "id": g.id,
            "community": card.community.name,
            "community_code": card.community.code,
            "colour": communities.index(card.community.code),
            "code": g.code,
            "name": g.name,
            "worker": card.worker_name,
            "phone": g.public_phone,
            "households": g.households,
            "buildings": len(card.buildings),
            "centroid": [float(g.centroid_lng), float(g.centroid_lat)]
            if g.centroid_lng is not None and g.centroid_lat is not None
            else None,
        }
        if include_leaders:
            props["leaders"] = [
                {"building": b.name, "name": b.leader_name, "party_member": b.leader_party_member}
                for b in card.buildings
                if b.leader_name
            ]
        features.append(
            {
                "type": "Feature",
                "id": g.code,
                "properties": props,
                "geometry": json.loads(g.boundary) if g.boundary else None,
            }
        )
    return {"type": "FeatureCollection", "features": features}
