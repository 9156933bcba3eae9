"""Household ledger (台账) of a project as xlsx: households, members and buildings sheets.

Written with XlsxWriter in constant-memory mode (rows streamed to disk), so a project of
100,000 households exports without holding the workbook in memory. The caller's data scope
limits the rows; identity numbers are masked unless the caller may and asks to reveal them.

Other domains add columns to the households sheet through ``extra`` (the signing columns: the
route and the command pass ``agreement_service.ledger_columns``); this module imports none of
them. With extra columns the sheet ends with a 合计 row summing its numeric columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.config import get_settings
from anju.core import secrets
from anju.core.dates import to_shanghai, utcnow
from anju.core.money import fen_to_yuan
from anju.household import rules
from anju.household.models import Building, Household, Member, Valuation
from anju.identity.service import DataScope
from anju.policy.declared import FactDecl, display, lenient, of_level
from anju.project import service as project_service

# XlsxWriter's defaults turn text starting with "=" into a formula, "http://..." into a link and
# "1e5" into a number: a resident's name like =HYPERLINK("http://...","点击") would become a live
# formula in the office's Excel. Every workbook Anju writes uses these options.
TEXT_AS_TEXT: dict[str, bool] = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}

_ZERO = Decimal("0.00")
_GROUPS = ("dibao", "disability_grade", "serious_illness", "martyr_family", "shidu", "only_child", "youfu")

HOUSEHOLD_COLUMNS: tuple[tuple[str, float], ...] = (
    ("户号", 12),
    ("户主", 10),
    ("房屋坐落", 32),
    ("所属区块", 22),
    ("状态", 8),
    ("家庭人口", 9),
    ("安置人口", 9),
    *((f"{label}(人)", 9) for label in rules.SPECIAL_GROUPS.values()),
    ("合法面积(㎡)", 13),
    *((f"未登记面积-{label}(㎡)", 15) for label in rules.DETERMINATIONS.values()),
    ("评估金额(元)", 16),
    ("联系电话", 14),
    ("签约日期", 11),
    ("腾空日期", 11),
)
MEMBER_COLUMNS: tuple[tuple[str, float], ...] = (
    ("户号", 12),
    ("姓名", 10),
    ("与户主关系", 10),
    ("性别", 6),
    ("出生日期", 11),
    ("身份证号", 21),
    ("联系电话", 14),
    *((label, 8) for label in rules.SPECIAL_GROUPS.values()),
    ("计入安置人口", 12),
    ("安置人口认定理由", 26),
)
BUILDING_COLUMNS: tuple[tuple[str, float], ...] = (
    ("户号", 12),
    ("序号", 6),
    ("产权证号", 22),
    ("结构", 8),
    ("用途", 8),
    ("层数", 6),
    ("建成年份", 9),
    ("合法面积(㎡)", 13),
    ("未登记面积(㎡)", 14),
    ("未登记面积认定", 14),
    ("评估单价(元/㎡)", 15),
    ("评估金额(元)", 16),
    ("装修补偿(元)", 14),
    ("附属物(元)", 12),
    ("位置", 16),
)


class ExtraColumns(Protocol):
    """Columns another domain adds after the households sheet's own, and their values.

    ``columns``: ``(label, width, kind, total)`` with kind ``text`` | ``money`` (fen, written as
    yuan) | ``int``, and total ``""`` | ``sum`` | ``count`` (non-empty cells, "N 份") for the 合计 row.
    ``values``: household id -> one value per column (``None`` or a missing household: blank).
    """

    @property
    def columns(self) -> Sequence[tuple[str, float, str, str]]: ...

    @property
    def values(self) -> Mapping[int, Sequence[str | int | Decimal | None]]: ...


@dataclass
class _Totals:
    members: int = 0
    counted: int = 0
    groups: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_GROUPS, 0))
    legal: Decimal = _ZERO
    unregistered: dict[str, Decimal] = field(
        default_factory=lambda: dict.fromkeys(rules.DETERMINATIONS, _ZERO)
    )
    value_fen: int = 0


def export_ledger(
    session: Session,
    *,
    scope: DataScope,
    project_id: int,
    target: Path | BinaryIO,
    reveal: bool = False,
    tmpdir: Path | None = None,
    extra: ExtraColumns | None = None,
    policy_facts: Mapping[str, FactDecl] | None = None,
) -> int:
    """Write the ledger of ``project_id`` (households in ``scope``) to ``target``; returns the household count.

    ``reveal`` writes full identity numbers; the caller must have checked the ``pii.read``
    permission (the web route and the CLI do). ``tmpdir`` is where XlsxWriter keeps its row files
    while it writes (they hold personal data; the web layer passes a folder swept after a crash).
    Text is written as text: a name such as ``=HYPERLINK(...)`` never becomes a formula.
    ``extra``: columns of other domains appended to the households sheet, then a 合计 row.
    ``policy_facts``: the facts the project's policy declares, as columns before ``extra``'s.
    """
    import xlsxwriter

    element_facts = _ElementFacts(session, project_id, policy_facts or {})
    if policy_facts and of_level(policy_facts, "household"):
        extra = _fact_columns(session, project_id, of_level(policy_facts, "household"), extra)
    project = project_service.get_project(session, project_id)
    paths = project_service.block_paths(session, project_id)
    cond = (
        Household.project_id == project_id,
        Household.voided_at.is_(None),
        scope.household_clause(Household.id),
    )
    households = session.execute(
        select(
            Household.id,
            Household.code,
            Household.head_name,
            Household.address,
            Household.block_id,
            Household.status,
            Household.contact_phone,
            Household.sign_on,
            Household.vacate_on,
        )
        .where(*cond)
        .order_by(Household.code)
    ).all()
    codes = {h.id: h.code for h in households}
    totals: dict[int, _Totals] = {h.id: _Totals() for h in households}

    options: dict[str, Any] = {"constant_memory": True, **TEXT_AS_TEXT}
    if tmpdir is not None:
        options["tmpdir"] = str(tmpdir)
    wb = xlsxwriter.Workbook(target, options)
    title_fmt = wb.add_format({"bold": True, "font_size": 14, "valign": "vcenter"})
    head_fmt = wb.add_format(
        {
            "bold": True,
            "bg_color": "#F2DCDB",
            "border": 1,
            "align": "center",
            "valign": "vcenter",
            "text_wrap": True,
        }
    )
    area_fmt = wb.add_format({"num_format": "#,##0.00"})
    money_fmt = wb.add_format({"num_format": "#,##0.00"})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    total_fmt = wb.add_format({"bold": True, "top": 2})
    total_area_fmt = wb.add_format({"bold": True, "top": 2, "num_format": "#,##0.00"})
    exported = to_shanghai(utcnow()).strftime("%Y-%m-%d %H:%M")
    extra_columns = tuple(extra.columns) if extra is not None else ()
    household_columns = HOUSEHOLD_COLUMNS + tuple((label, width) for label, width, _k, _t in extra_columns)
    sheet_h = wb.add_worksheet("台账")
    sheet_m = wb.add_worksheet("家庭成员")
    sheet_b = wb.add_worksheet("房屋")

    def start(ws: Any, title: str, columns: tuple[tuple[str, float], ...]) -> None:
        for j, (_label, width) in enumerate(columns):
            ws.set_column(j, j, width)
        ws.set_row(0, 24)
        ws.merge_range(0, 0, 0, min(len(columns) - 1, 8), title, title_fmt)
        ws.set_row(1, 30)
        for j, (label, _w) in enumerate(columns):
            ws.write_string(1, j, label, head_fmt)
        ws.freeze_panes(2, 1)

    def finish(ws: Any, last_row: int, columns: tuple[tuple[str, float], ...]) -> None:
        ws.autofilter(1, 0, max(1, last_row), len(columns) - 1)

    caption = f"{project.name}（{project.code}）"
    building_columns = BUILDING_COLUMNS + element_facts.columns("building")
    member_columns = MEMBER_COLUMNS + element_facts.columns("member")
    start(sheet_b, f"{caption} 房屋台账  导出时间：{exported}", building_columns)
    start(sheet_m, f"{caption} 家庭成员台账  导出时间：{exported}", member_columns)
    start(
        sheet_h,
        f"{caption} 被征收户台账（共 {len(households):,} 户）  导出时间：{exported}",
        household_columns,
    )

    scoped = select(Household.id).where(*cond)

    # buildings with their current valuation -------------------------------------------------
    valuations: dict[int, tuple[int, int, int, int]] = {}
    for bid, unit, value, deco, fixtures in session.execute(
        select(
            Valuation.building_id,
            Valuation.assessed_unit_price_fen,
            Valuation.assessed_value_fen,
            Valuation.decoration_fen,
            Valuation.fixtures_fen,
        )
        .join(Building, Building.id == Valuation.building_id)
        .where(Building.household_id.in_(scoped), Valuation.voided_at.is_(None), Building.voided_at.is_(None))
        .order_by(Valuation.id)
    ):
        valuations[int(bid)] = (int(unit), int(value), int(deco), int(fixtures))  # newest wins
    r = 2
    ws = sheet_b
    for b in session.execute(
        select(
            Building.id,
            Building.household_id,
            Building.sort,
            Building.certificate_no,
            Building.structure,
            Building.use,
            Building.floors,
            Building.built_year,
            Building.legal_area,
            Building.unregistered_area,
            Building.unregistered_determination,
            Building.location,
        )
        .join(Household, Household.id == Building.household_id)
        .where(*cond, Building.voided_at.is_(None))
        .order_by(Household.code, Building.sort, Building.id)
    ):
        t = totals[b.household_id]
        t.legal += b.legal_area
        det = b.unregistered_determination if b.unregistered_determination in t.unregistered else "pending"
        t.unregistered[det] += b.unregistered_area
        ws.write_string(r, 0, codes[b.household_id])
        ws.write_number(r, 1, b.sort + 1)
        ws.write_string(r, 2, b.certificate_no)
        ws.write_string(r, 3, rules.STRUCTURES.get(b.structure, b.structure))
        ws.write_string(r, 4, rules.USES.get(b.use, b.use))
        if b.floors is not None:
            ws.write_number(r, 5, b.floors)
        if b.built_year is not None:
            ws.write_number(r, 6, b.built_year)
        ws.write_number(r, 7, b.legal_area, area_fmt)
        ws.write_number(r, 8, b.unregistered_area, area_fmt)
        ws.write_string(
            r, 9, rules.DETERMINATIONS.get(b.unregistered_determination, "") if b.unregistered_area else ""
        )
        v = valuations.get(b.id)
        if v is not None:
            t.value_fen += v[1]
            ws.write_number(r, 10, fen_to_yuan(v[0]), money_fmt)
            ws.write_number(r, 11, fen_to_yuan(v[1]), money_fmt)
            ws.write_number(r, 12, fen_to_yuan(v[2]), money_fmt)
            ws.write_number(r, 13, fen_to_yuan(v[3]), money_fmt)
        if b.location:
            ws.write_string(r, 14, b.location)
        element_facts.write(ws, r, len(BUILDING_COLUMNS), "building", b.id, area_fmt)
        r += 1
    finish(ws, r - 1, building_columns)

    # members ---------------------------------------------------------------------------
    secret = get_settings().secret_key if reveal else ""
    r = 2
    ws = sheet_m
    yes, no = "是", "否"
    for m in session.execute(
        select(
            Member.id,
            Member.household_id,
            Member.name,
            Member.relation,
            Member.gender,
            Member.birth_on,
            Member.id_number_masked,
            Member.id_number_cipher,
            Member.phone,
            Member.dibao,
            Member.disability_grade,
            Member.serious_illness,
            Member.martyr_family,
            Member.shidu,
            Member.only_child,
            Member.youfu,
            Member.resettlement_counted,
            Member.resettlement_reason,
        )
        .join(Household, Household.id == Member.household_id)
        .where(*cond, Member.voided_at.is_(None))
        .order_by(Household.code, Member.sort, Member.id)
    ):
        t = totals[m.household_id]
        t.members += 1
        if m.resettlement_counted:
            t.counted += 1
        ws.write_string(r, 0, codes[m.household_id])
        ws.write_string(r, 1, m.name)
        ws.write_string(r, 2, m.relation)
        ws.write_string(r, 3, m.gender)
        if m.birth_on is not None:
            ws.write_datetime(r, 4, m.birth_on, date_fmt)
        if reveal and m.id_number_cipher:
            ws.write_string(r, 5, secrets.decrypt(secret, m.id_number_cipher))
        else:
            ws.write_string(r, 5, m.id_number_masked)
        if m.phone:
            ws.write_string(r, 6, m.phone)
        for j, name in enumerate(_GROUPS):
            value = getattr(m, name)
            if name == "disability_grade":
                if value is not None:
                    t.groups[name] += 1
                    ws.write_string(r, 7 + j, f"{value}级")
            elif value:
                t.groups[name] += 1
                ws.write_string(r, 7 + j, yes)
        counted = m.resettlement_counted
        ws.write_string(r, 7 + len(_GROUPS), "待定" if counted is None else (yes if counted else no))
        if m.resettlement_reason:
            ws.write_string(r, 8 + len(_GROUPS), m.resettlement_reason)
        element_facts.write(ws, r, len(MEMBER_COLUMNS), "member", m.id, area_fmt)
        r += 1
    finish(ws, r - 1, member_columns)

    # households ------------------------------------------------------------------------
    r = 2
    ws = sheet_h
    first_extra = len(HOUSEHOLD_COLUMNS)
    extra_values = extra.values if extra is not None else {}
    extra_sums = [0] * len(extra_columns)
    for h in households:
        t = totals[h.id]
        ws.write_string(r, 0, h.code)
        ws.write_string(r, 1, h.head_name)
        ws.write_string(r, 2, h.address)
        ws.write_string(r, 3, paths.get(h.block_id, "") if h.block_id else "")
        ws.write_string(r, 4, rules.STATUSES.get(h.status, h.status))
        ws.write_number(r, 5, t.members)
        ws.write_number(r, 6, t.counted)
        c = 7
        for name in _GROUPS:
            ws.write_number(r, c, t.groups[name])
            c += 1
        ws.write_number(r, c, t.legal, area_fmt)
        c += 1
        for det in rules.DETERMINATIONS:
            ws.write_number(r, c, t.unregistered[det], area_fmt)
            c += 1
        ws.write_number(r, c, fen_to_yuan(t.value_fen), money_fmt)
        c += 1
        if h.contact_phone:
            ws.write_string(r, c, h.contact_phone)
        c += 1
        _write_date(ws, r, c, h.sign_on, date_fmt)
        _write_date(ws, r, c + 1, h.vacate_on, date_fmt)
        for j, cell in enumerate(extra_values.get(h.id, ())):
            if j >= len(extra_columns) or cell is None or cell == "":
                continue
            _label, _w, kind, total = extra_columns[j]
            if kind == "money" and isinstance(cell, int):
                ws.write_number(r, first_extra + j, fen_to_yuan(cell), money_fmt)
            elif kind == "int" and isinstance(cell, int):
                ws.write_number(r, first_extra + j, cell)
            elif kind == "decimal" and isinstance(cell, Decimal):
                ws.write_number(r, first_extra + j, cell, area_fmt)
            else:
                ws.write_string(r, first_extra + j, str(cell))
            if total == "sum" and isinstance(cell, int):
                extra_sums[j] += cell
            elif total == "count":
                extra_sums[j] += 1
        r += 1
    finish(ws, r - 1, household_columns)
    if extra is not None:
        _total_row(ws, r, households, totals, extra_columns, extra_sums, total_fmt, total_area_fmt)
    wb.close()
    return len(households)


class _ElementFacts:
    """Building- and member-level declared facts as extra columns of the 房屋 / 家庭成员 sheets
    (headed like the census template's columns, values as numbers where they are numbers)."""

    def __init__(self, session: Session, project_id: int, decls: Mapping[str, FactDecl]) -> None:
        self.decls = {level: of_level(decls, level) for level in ("building", "member")}
        self.stored: dict[str, dict[int, dict[str, str]]] = {"building": {}, "member": {}}
        if any(self.decls.values()):
            from anju.household.service.policy_facts import project_element_policy_facts

            self.stored = project_element_policy_facts(session, project_id=project_id)

    def columns(self, level: str) -> tuple[tuple[str, float], ...]:
        from anju.household.census.policy_facts import fact_header

        return tuple(
            (fact_header(d), max(10.0, len(fact_header(d)) * 2.2)) for d in self.decls[level].values()
        )

    def write(self, ws: Any, r: int, first: int, level: str, element_id: int, num_fmt: Any) -> None:
        stored = self.stored[level].get(element_id, {})
        for j, (fid, d) in enumerate(self.decls[level].items()):
            v = lenient(d, stored.get(fid))
            if v is None:
                continue
            if isinstance(v, Decimal):
                ws.write_number(r, first + j, v, num_fmt if d.places else None)
            else:
                ws.write_string(r, first + j, display(d, v))


@dataclass
class _Columns:
    columns: Sequence[tuple[str, float, str, str]]
    values: Mapping[int, Sequence[str | int | Decimal | None]]


def _fact_columns(
    session: Session, project_id: int, decls: Mapping[str, FactDecl], extra: ExtraColumns | None
) -> ExtraColumns:
    """The declared facts as ledger columns (counts and yuan amounts summed in the 合计 row),
    followed by ``extra``'s."""
    from anju.household.census.policy_facts import fact_header
    from anju.household.service.policy_facts import project_policy_facts

    stored = project_policy_facts(session, project_id=project_id)
    cols: list[tuple[str, float, str, str]] = []
    for d in decls.values():
        if d.type == "count":
            kind, total = "int", "sum"
        elif d.type == "money" and d.unit_text == "元":
            kind, total = "money", "sum"
        elif d.numeric:
            kind, total = "decimal", ""
        else:
            kind, total = "text", ""
        cols.append((fact_header(d), max(10.0, len(fact_header(d)) * 2.2), kind, total))

    def cell(d: FactDecl, raw: str | None) -> str | int | Decimal | None:
        v = lenient(d, raw)
        if v is None:
            return None
        if isinstance(v, Decimal) and d.type == "count":
            return int(v)
        if isinstance(v, Decimal) and d.type == "money" and d.unit_text == "元":
            return int(v * 100)
        if isinstance(v, Decimal):
            return v
        return display(d, v)

    other = extra.values if extra is not None else {}
    ids = set(stored) | set(other)
    values = {
        hid: (*(cell(d, stored.get(hid, {}).get(fid)) for fid, d in decls.items()), *other.get(hid, ()))
        for hid in ids
    }
    return _Columns((*cols, *(extra.columns if extra is not None else ())), values)


def _total_row(
    ws: Any,
    r: int,
    households: Sequence[Any],
    totals: dict[int, _Totals],
    extra_columns: tuple[tuple[str, float, str, str], ...],
    extra_sums: list[int],
    fmt: Any,
    area_fmt: Any,
) -> None:
    """The 合计 row under the households: counts, people, areas and money summed."""
    ts = [totals[h.id] for h in households]
    ws.write_string(r, 0, "合计", fmt)
    ws.write_string(r, 1, f"{len(households):,} 户", fmt)
    for c in range(2, 5):
        ws.write_blank(r, c, None, fmt)
    ws.write_number(r, 5, sum(t.members for t in ts), fmt)
    ws.write_number(r, 6, sum(t.counted for t in ts), fmt)
    c = 7
    for name in _GROUPS:
        ws.write_number(r, c, sum(t.groups[name] for t in ts), fmt)
        c += 1
    ws.write_number(r, c, sum((t.legal for t in ts), _ZERO), area_fmt)
    c += 1
    for det in rules.DETERMINATIONS:
        ws.write_number(r, c, sum((t.unregistered[det] for t in ts), _ZERO), area_fmt)
        c += 1
    ws.write_number(r, c, fen_to_yuan(sum(t.value_fen for t in ts)), area_fmt)
    for blank in range(c + 1, len(HOUSEHOLD_COLUMNS)):
        ws.write_blank(r, blank, None, fmt)
    for j, (_label, _w, kind, total) in enumerate(extra_columns):
        c = len(HOUSEHOLD_COLUMNS) + j
        if total == "sum":
            amount = fen_to_yuan(extra_sums[j]) if kind == "money" else extra_sums[j]
            ws.write_number(r, c, amount, area_fmt if kind == "money" else fmt)
        elif total == "count":
            ws.write_string(r, c, f"{extra_sums[j]:,} 份", fmt)
        else:
            ws.write_blank(r, c, None, fmt)


def _write_date(ws: Any, r: int, c: int, value: date | None, fmt: Any) -> None:
    if value is not None:
        ws.write_datetime(r, c, value, fmt)


def ledger_filename(project_code: str) -> str:
    """Download name of a ledger: ``台账_<project>_<YYYYMMDD-HHMM>.xlsx``."""
    return f"台账_{project_code}_{to_shanghai(utcnow()):%Y%m%d-%H%M}.xlsx"
