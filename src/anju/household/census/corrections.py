"""Census import part: corrections (更正导入) of households already in the project.

A corrected census workbook (the same template) is read and every cell checked as in an import;
then each household of the 户 sheet is matched by 户号 with the project's live household, its
members (成员) by name and its buildings (房屋) by 产权证号 or 房屋序号, and the differences are
listed per household: field, before, after. A blank cell changes nothing (a correction file need
only carry the cells that change, plus the required ones); a member or building the household does
not have yet is added. 状态, 签约日期 and 腾空日期 belong to the campaign's workflow and are not
corrected here; the 承租人, 宅基地 and 评估 sheets are not read in this mode (the plan says so).

:func:`apply_corrections` writes all of the plan or nothing, through the household service (so each
change is audited like an edit on the household's page, with the file named as the reason), after
locking the households and checking that none changed since the preview (``seen`` versions): a
household changed meanwhile refuses the whole file with a 409 naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.config import get_settings
from anju.core import secrets
from anju.core.actor import Actor
from anju.core.masking import mask_id_number
from anju.db.session import begin_write
from anju.errors import Conflict, NotFound
from anju.household import rules
from anju.household.census.context import load_context
from anju.household.census.policy_facts import check_fact_cells, read_fact_cells
from anju.household.census.reading import read_census
from anju.household.census.results import CellError, CensusInvalid, RawCensus, column_letter
from anju.household.census.spec import SHEET_BY_KEY, _no_progress
from anju.household.census.validation import validate
from anju.household.models import Building, Household, Member
from anju.identity.service import DataScope
from anju.policy.declared import FactDecl, display, lenient
from anju.project import service as project_service

__all__ = [
    "CorrectionPlan",
    "CorrectionSummary",
    "FieldChange",
    "HouseholdCorrection",
    "RecordChange",
    "apply_corrections",
    "correct_census",
    "plan_corrections",
]

HOUSEHOLD_FIELDS = ("head_name", "address", "block", "contact_phone", "remark")
NOT_CORRECTED = ("status", "sign_on", "vacate_on")
MEMBER_FIELDS = (
    "relation",
    "id_number",
    "phone",
    "dibao",
    "disability_grade",
    "serious_illness",
    "martyr_family",
    "shidu",
    "only_child",
    "youfu",
    "resettlement_counted",
    "resettlement_reason",
)
BUILDING_FIELDS = (
    "certificate_no",
    "structure",
    "use",
    "floors",
    "built_year",
    "legal_area",
    "unregistered_area",
    "unregistered_determination",
    "location",
)
NOT_READ_SHEETS = ("tenants", "homesteads", "valuations")
_CHOICES = {
    "structure": rules.STRUCTURES,
    "use": rules.USES,
    "unregistered_determination": rules.DETERMINATIONS,
}


@dataclass(frozen=True)
class FieldChange:
    """One changed field: its Chinese label and the values before and after, as shown to people."""

    field: str
    label: str
    before: str
    after: str


@dataclass
class RecordChange:
    """A record of the household's file that changes (``record_id``) or is added (``None``)."""

    entity: str  # household | member | building
    record_id: int | None
    title: str  # 户 / 成员 张三 / 房屋 第1处（证号）
    changes: list[FieldChange]
    data: dict[str, Any]  # the clean values to write

    @property
    def action(self) -> str:
        """``update`` or ``add``."""
        return "add" if self.record_id is None else "update"


@dataclass
class HouseholdCorrection:
    """What changes in one household's file."""

    code: str
    household_id: int
    version: int
    head_name: str
    row: int
    records: list[RecordChange] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "code": self.code,
            "household_id": self.household_id,
            "version": self.version,
            "head_name": self.head_name,
            "row": self.row,
            "records": [
                {
                    "entity": r.entity,
                    "record_id": r.record_id,
                    "action": r.action,
                    "title": r.title,
                    "changes": [c.__dict__ for c in r.changes],
                }
                for r in self.records
            ],
        }


@dataclass
class CorrectionPlan:
    """The preview of a correction file: the households that change, those that do not, notes."""

    filename: str
    sha256: str
    households: list[HouseholdCorrection]
    unchanged: list[str]
    notes: list[str]
    # The facts the project's policy declares, as the plan read them (their changes are applied with them).
    policy_facts: Mapping[str, FactDecl] = field(default_factory=dict)

    def versions(self) -> dict[int, int]:
        """household id -> the version the preview was computed on (to be handed back on apply)."""
        return {h.household_id: h.version for h in self.households}

    @property
    def change_count(self) -> int:
        """Fields changed plus records added."""
        return sum(max(1, len(r.changes)) for h in self.households for r in h.records)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "filename": self.filename,
            "sha256": self.sha256,
            "households": [h.as_dict() for h in self.households],
            "unchanged": self.unchanged,
            "notes": self.notes,
            "versions": {str(k): v for k, v in self.versions().items()},
        }


@dataclass
class CorrectionSummary:
    """What :func:`apply_corrections` wrote."""

    households: int
    fields: int
    added: int
    audit_seq: int

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dict(self.__dict__)


def _shown(name: str, value: Any) -> str:
    if value is None or value == "":
        return "待定" if name == "resettlement_counted" else "（空）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if name in _CHOICES:
        return _CHOICES[name].get(str(value), str(value))
    if name == "disability_grade":
        return f"{value}级"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def _labels(key: str) -> dict[str, str]:
    return {c.field.name: c.header for c in SHEET_BY_KEY[key].columns}


class _Given:
    """Which cells of the file are filled (a blank cell changes nothing)."""

    def __init__(self, raw: RawCensus) -> None:
        self.rows: dict[str, dict[int, dict[str, Any]]] = {}
        for key, sheet in raw.sheets.items():
            names = [c.field.name for c in SHEET_BY_KEY[key].columns]
            self.rows[key] = {n: dict(zip(names, values, strict=False)) for n, values in sheet.rows}

    def __call__(self, key: str, row: int, name: str) -> bool:
        value = self.rows.get(key, {}).get(row, {}).get(name)
        return value is not None and not (isinstance(value, str) and not value.strip())


def _error(raw: RawCensus, key: str, row: int | None, name: str, message: str) -> CellError:
    sheet = raw.sheets.get(key)
    spec = SHEET_BY_KEY[key]
    header = next((c.header for c in spec.columns if c.field.name == name), "")
    letter = column_letter(sheet.columns[name]) if sheet is not None and name in sheet.columns else ""
    return CellError(spec.title, row, header, letter, message)


def plan_corrections(
    session: Session,
    *,
    scope: DataScope,
    project_id: int,
    source: Path | bytes | BinaryIO,
    filename: str = "",
    policy_facts: Mapping[str, FactDecl] | None = None,
) -> CorrectionPlan:
    """Read and check a corrected census file and list, per household, what would change.

    ``policy_facts``: the facts the project's policy declares; their filled cells of the 户 sheet
    are corrected too (a blank cell changes nothing).

    Raises :class:`CensusInvalid` (every bad cell with sheet, row and column) when the file has
    errors or names a household the project does not have; writes nothing.
    """
    if policy_facts and not isinstance(source, bytes):
        source = source.read_bytes() if isinstance(source, Path) else source.read()
    raw = read_census(source, filename, _no_progress)
    ctx = load_context(session, project_id)
    registered = dict(ctx.existing_digests)
    # checked as for an import, but the households are expected to exist already
    ctx.existing_codes, ctx.existing_digests = set(), {}
    check = validate(raw, ctx)
    errors = check.errors
    clean = check.clean
    given = _Given(raw)
    secret = get_settings().secret_key
    paths = project_service.block_paths(session, project_id)

    codes = [h["code"] for h in clean.households]
    live = (
        {
            h.code: h
            for h in session.scalars(
                select(Household).where(
                    Household.project_id == project_id,
                    Household.code.in_(codes),
                    Household.voided_at.is_(None),
                )
            )
        }
        if codes
        else {}
    )
    in_scope = (
        {
            hid
            for hid in session.scalars(
                select(Household.id).where(
                    Household.id.in_([h.id for h in live.values()]), scope.household_clause(Household.id)
                )
            )
        }
        if live and not scope.whole
        else {h.id for h in live.values()}
    )
    ids = [h.id for h in live.values()]
    members: dict[int, list[Member]] = {}
    buildings: dict[int, list[Building]] = {}
    if ids:
        for m in session.scalars(
            select(Member)
            .where(Member.household_id.in_(ids), Member.voided_at.is_(None))
            .order_by(Member.sort)
        ):
            members.setdefault(m.household_id, []).append(m)
        for b in session.scalars(
            select(Building)
            .where(Building.household_id.in_(ids), Building.voided_at.is_(None))
            .order_by(Building.sort)
        ):
            buildings.setdefault(b.household_id, []).append(b)

    plans: dict[str, HouseholdCorrection] = {}
    for row in clean.households:
        code, r = row["code"], row["_row"]
        h = live.get(code)
        if h is None or h.id not in in_scope:
            errors.append(
                _error(
                    raw,
                    "households",
                    r,
                    "code",
                    f"户号“{code}”不在本项目中（或不在您的权限范围内）；更正导入只修改已有的户",
                )
            )
            continue
        for name in NOT_CORRECTED:
            if given("households", r, name) and row.get(name) != getattr(h, name):
                errors.append(
                    _error(
                        raw,
                        "households",
                        r,
                        name,
                        "更正导入不修改状态、签约日期和腾空日期（由征迁流程登记），请清空或改回原值",
                    )
                )
        plan = HouseholdCorrection(code, h.id, int(h.version), h.head_name, r)
        labels = _labels("households")
        changes, data = [], {}
        for name in HOUSEHOLD_FIELDS:
            if not given("households", r, name):
                continue
            if name == "block":
                new_id = row.get("block_id")
                if new_id != h.block_id:
                    before = paths.get(h.block_id, "") if h.block_id else ""
                    changes.append(
                        FieldChange(
                            "block",
                            labels["block"],
                            before or "（空）",
                            paths.get(new_id, "") if new_id else "（空）",
                        )
                    )
                    data["block_id"] = new_id
                continue
            if row.get(name) != getattr(h, name):
                changes.append(
                    FieldChange(
                        name, labels[name], _shown(name, getattr(h, name)), _shown(name, row.get(name))
                    )
                )
                data[name] = row.get(name)
        if changes:
            plan.records.append(RecordChange("household", h.id, "户", changes, data))
        plans[code] = plan

    labels = _labels("members")
    for row in clean.members:
        found = plans.get(row["household_code"])
        if found is None:
            continue
        plan = found
        r = row["_row"]
        number = row.get("id_number")
        digest = secrets.blind_index(secret, number) if number else ""
        other = registered.get(digest) if digest else None
        if other is not None and other != plan.code:
            errors.append(_error(raw, "members", r, "id_number", f"该身份证号已登记在本项目户“{other}”"))
            continue
        same = [m for m in members.get(plan.household_id, []) if m.name == row["name"]]
        if len(same) > 1:
            errors.append(
                _error(
                    raw,
                    "members",
                    r,
                    "name",
                    f"户“{plan.code}”有 {len(same)} 位成员叫“{row['name']}”，请在户档案中逐一修改",
                )
            )
            continue
        if not same:
            holder = next(
                (m for m in members.get(plan.household_id, []) if digest and m.id_number_digest == digest),
                None,
            )
            if holder is not None:
                errors.append(
                    _error(
                        raw,
                        "members",
                        r,
                        "id_number",
                        f"该身份证号已登记为本户成员“{holder.name}”；更正姓名请在户档中修改",
                    )
                )
                continue
            values = {n: row.get(n) for n in ("name", *MEMBER_FIELDS) if n in row}
            shown = [
                FieldChange(n, labels[n], "", mask_id_number(v) if n == "id_number" else _shown(n, v))
                for n, v in values.items()
                if n in labels and v not in (None, "", False)
            ]
            plan.records.append(RecordChange("member", None, f"新增成员 {row['name']}", shown, values))
            continue
        m = same[0]
        changes, data = [], {}
        for name in MEMBER_FIELDS:
            if not given("members", r, name):
                continue
            new = row.get(name)
            if name == "id_number":
                if digest != m.id_number_digest:
                    changes.append(
                        FieldChange(
                            name, labels[name], m.id_number_masked or "（空）", mask_id_number(str(new))
                        )
                    )
                    data[name] = new
                continue
            if new != getattr(m, name):
                changes.append(
                    FieldChange(name, labels[name], _shown(name, getattr(m, name)), _shown(name, new))
                )
                data[name] = new
        if changes:
            plan.records.append(RecordChange("member", m.id, f"成员 {m.name}", changes, data))

    labels = _labels("buildings")
    for row in clean.buildings:
        found = plans.get(row["household_code"])
        if found is None:
            continue
        plan = found
        r = row["_row"]
        own = buildings.get(plan.household_id, [])
        cert = row.get("certificate_no") or ""
        match = next((x for x in own if cert and x.certificate_no == cert), None)
        if match is None and given("buildings", r, "building_order"):
            match = next((x for x in own if x.sort == row["building_order"] - 1), None)
        if match is None:
            values = {n: row.get(n) for n in BUILDING_FIELDS if n in row}
            shown = [
                FieldChange(n, labels[n], "", _shown(n, v)) for n, v in values.items() if v not in (None, "")
            ]
            title = f"新增房屋 {cert}".rstrip()
            plan.records.append(RecordChange("building", None, title, shown, values))
            continue
        b = match
        changes, data = [], {}
        for name in BUILDING_FIELDS:
            if not given("buildings", r, name):
                continue
            new, old = row.get(name), getattr(b, name)
            if new != old:
                changes.append(FieldChange(name, labels[name], _shown(name, old), _shown(name, new)))
                data[name] = new
        if changes:
            title = f"房屋 第{b.sort + 1}处" + (f"（{b.certificate_no}）" if b.certificate_no else "")
            plan.records.append(RecordChange("building", b.id, title, changes, data))

    if policy_facts and not raw.errors:
        assert isinstance(source, bytes)
        _plan_fact_changes(session, project_id, raw.filename or filename, source, policy_facts, plans, errors)
    if errors:
        errors.sort(key=lambda e: (e.sheet != "户", e.sheet, e.row or 0, e.letter))
        raise CensusInvalid(errors)
    notes = []
    for key in NOT_READ_SHEETS:
        sheet = raw.sheets.get(key)
        if sheet is not None and sheet.rows:
            notes.append(
                f"“{sheet.title}”表的 {len(sheet.rows)} 行未处理：更正导入只处理“户”“成员”“房屋”三张表"
            )
    changed = [p for p in plans.values() if p.records]
    unchanged = [p.code for p in plans.values() if not p.records]
    return CorrectionPlan(raw.filename, raw.sha256, changed, unchanged, notes, dict(policy_facts or {}))


def _plan_fact_changes(
    session: Session,
    project_id: int,
    filename: str,
    data: bytes,
    decls: Mapping[str, FactDecl],
    plans: Mapping[str, HouseholdCorrection],
    errors: list[CellError],
) -> None:
    """The declared facts whose filled cells differ from the household's, as one record change each."""
    from anju.household.service.policy_facts import project_policy_facts

    values, fact_errors = check_fact_cells(read_fact_cells(data, filename, decls), decls, correction=True)
    errors.extend(fact_errors)
    ids = [plans[c].household_id for c in values if c in plans]
    stored = project_policy_facts(session, project_id=project_id, household_ids=ids) if ids else {}
    for code, got in values.items():
        plan = plans.get(code)
        if plan is None:
            continue
        before = stored.get(plan.household_id, {})
        changes, data_out = [], {}
        for fid, text in got.items():
            if before.get(fid) == text:
                continue
            d = decls[fid]
            changes.append(
                FieldChange(
                    "fact." + fid,
                    d.label,
                    display(d, lenient(d, before.get(fid))) or "（空）",
                    display(d, lenient(d, text)),
                )
            )
            data_out[fid] = text
        if changes:
            plan.records.append(
                RecordChange("household_fact", plan.household_id, "方案事实", changes, data_out)
            )


def apply_corrections(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    project_id: int,
    plan: CorrectionPlan,
    seen: Mapping[int, int],
) -> CorrectionSummary:
    """Write every change of ``plan`` (all or nothing: the caller's transaction) after checking
    that each household still has the version of the preview (``seen``: household id -> version).

    Raises :class:`Conflict` naming the households changed since the preview; nothing is written.
    """
    from anju.household import service as household_service
    from anju.household.service import base

    begin_write(session)
    stale = []
    codes = {h.household_id: h.code for h in plan.households}
    # every household of the preview and of the plan, locked in primary-key order
    for household_id in sorted(set(codes) | set(seen)):
        try:
            current = base._lock(session, scope, household_id)
        except NotFound:
            stale.append(f"{codes.get(household_id, household_id)}（已作废或不在您的权限范围内）")
            continue
        if household_id not in seen or int(current.version) != int(seen[household_id]):
            stale.append(current.code)
    if stale:
        more = f" 等 {len(stale)} 户" if len(stale) > 10 else ""
        raise Conflict(
            "预览之后这些户已被修改："
            + "、".join(stale[:10])
            + more
            + "。未写入任何数据，请重新上传预览后再确认",
            "households changed since the preview; nothing was written",
            code="census_changed",
        )
    reason = f"更正导入：{plan.filename}"[:200]
    fields = added = 0
    for h in plan.households:
        for rec in h.records:
            if rec.entity == "household":
                household_service.update_household(
                    session,
                    actor=actor,
                    scope=scope,
                    household_id=h.household_id,
                    data=rec.data,
                    reason=reason,
                )
            elif rec.entity == "member" and rec.record_id is None:
                household_service.add_member(
                    session,
                    actor=actor,
                    scope=scope,
                    household_id=h.household_id,
                    data=rec.data,
                    reason=reason,
                )
            elif rec.entity == "member" and rec.record_id is not None:
                household_service.update_member(
                    session, actor=actor, scope=scope, member_id=rec.record_id, data=rec.data, reason=reason
                )
            elif rec.entity == "building" and rec.record_id is None:
                household_service.add_building(
                    session,
                    actor=actor,
                    scope=scope,
                    household_id=h.household_id,
                    data=rec.data,
                    reason=reason,
                )
            elif rec.entity == "household_fact":
                household_service.set_policy_facts(
                    session,
                    actor=actor,
                    scope=scope,
                    household_id=h.household_id,
                    decls=plan.policy_facts,
                    data=rec.data,
                    reason=reason,
                )
            elif rec.record_id is not None:
                household_service.update_building(
                    session, actor=actor, scope=scope, building_id=rec.record_id, data=rec.data, reason=reason
                )
            if rec.record_id is None:
                added += 1
            else:
                fields += len(rec.changes)
    seq = audit_service.record(
        session,
        actor=actor,
        action="census_correction",
        entity="project",
        entity_id=project_id,
        project_id=project_id,
        changes={
            "file": [None, plan.filename],
            "sha256": [None, plan.sha256],
            "households": [None, [h.code for h in plan.households]],
        },
        reason=reason,
    )
    return CorrectionSummary(len(plan.households), fields, added, seq)


def correct_census(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    project_id: int,
    source: Path | bytes | BinaryIO,
    filename: str = "",
    seen: Mapping[int, int] | None = None,
    dry_run: bool = False,
    policy_facts: Mapping[str, FactDecl] | None = None,
) -> tuple[CorrectionPlan, CorrectionSummary | None]:
    """Plan a correction file and, unless ``dry_run``, apply it in this transaction.

    ``seen`` are the versions of the preview the user confirmed; without them (the command line,
    which plans and applies at once) the versions just read are taken.
    """
    plan = plan_corrections(
        session,
        scope=scope,
        project_id=project_id,
        source=source,
        filename=filename,
        policy_facts=policy_facts,
    )
    if dry_run:
        return plan, None
    summary = apply_corrections(
        session,
        actor=actor,
        scope=scope,
        project_id=project_id,
        plan=plan,
        seen=plan.versions() if seen is None else seen,
    )
    return plan, summary
