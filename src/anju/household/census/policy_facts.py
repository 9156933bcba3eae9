"""Census import part: the facts the project's policy declares (``facts:`` block) as extra columns of
the 户 sheet, and building- / member-level ones (``level: building`` / ``member``) as extra columns
of the 房屋 and 成员 sheets, one value per row (see the package docstring).

The template gets one column per declared fact, headed by its label and unit (``空调数量(台)``,
required ones red with ``*``, a dropdown for yes/no and categories). An import reads those columns
in a pass of its own over the 户 sheet (the file was inspected and checked already), checks every
cell against the declaration, and reports each bad cell, and each household lacking a required
fact, with the sheet, row and column: all or nothing with the rest of the file. A correction
(``--update``) changes the facts whose cells are filled and leaves blank ones as they are.

The declarations are handed over by the caller (from the compensation service): the household
domain does not read policies.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.household import rules
from anju.household.census.results import CellError, column_letter
from anju.household.census.spec import SHEET_BY_KEY, Column, _norm_header
from anju.household.models import Household
from anju.policy.declared import FactDecl, FactValueError, of_level, parse_value, to_text
from anju.policy.facts import LABELS_ZH

__all__ = [
    "FactCells",
    "check_element_fact_cells",
    "check_fact_cells",
    "fact_columns",
    "fact_header",
    "read_fact_cells",
    "write_element_fact_values",
    "write_fact_values",
]

# The sheet of each level's facts.
LEVEL_SHEET = {"household": "households", "building": "buildings", "member": "members"}

_SHEET = SHEET_BY_KEY["households"]
_KEY = _SHEET.columns[0].header  # 户号


def fact_header(d: FactDecl) -> str:
    """The column header of a declared fact: its label and unit (``空调数量(台)``)."""
    return f"{d.label}({d.unit_text})" if d.unit_text else d.label


def _note(d: FactDecl) -> str:
    parts = [f"方案要求的事实（{d.type_zh}）"]
    if d.type == "number":
        parts.append(f"最多 {d.places} 位小数")
    elif d.type == "money":
        parts.append("金额，最多两位小数")
    elif d.type == "date":
        parts.append("YYYY-MM-DD")
    if d.minimum is not None and d.maximum is not None:
        parts.append(f"{d.minimum}～{d.maximum}")
    if d.ref:
        parts.append(f"依据：{d.ref}")
    if d.help:
        parts.append(d.help)
    if d.required:
        parts.append("必填：缺少时该户无法计算补偿")
    return "；".join(parts)


def fact_columns(decls: Mapping[str, FactDecl], level: str = "household") -> tuple[Column, ...]:
    """Template columns of the declared facts of ``level`` (appended to the 户, 房屋 or 成员 sheet)."""
    out = []
    for d in of_level(decls, level).values():
        choices: tuple[str, ...] = ()
        if d.type == "yesno":
            choices = ("是", "否")
        elif d.type == "category":
            choices = tuple(LABELS_ZH.get(c, c) for c in d.choices)

        def parse(value: Any, d: FactDecl = d) -> str | None:
            return to_text(d, parse_value(d, value))

        out.append(
            Column(
                rules.Field("fact." + d.id, fact_header(d), parse, required=d.required),
                max(12.0, len(fact_header(d)) * 2.2),
                choices,
                text=d.type == "category",
                note=_note(d),
            )
        )
    return tuple(out)


@dataclass
class FactCells:
    """The declared-fact columns of a 户 sheet as read: header row, column per fact, and per data
    row its Excel row number, 户号 and raw cells."""

    header_row: int = 0
    columns: dict[str, int] = field(default_factory=dict)  # fact id -> 0-based column
    rows: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)


def _grid(data: bytes, filename: str, title: str) -> list[Sequence[Any]]:
    if filename.lower().endswith(".csv"):
        if title != _SHEET.title:
            return []  # a CSV file is the 户 sheet alone
        from anju.household.census.reading import _decode_csv

        return list(csv.reader(io.StringIO(_decode_csv(data))))
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    if title not in wb.sheet_names:
        return []
    return list(wb.get_sheet_by_name(title).to_python())


def read_fact_cells(
    data: bytes, filename: str, decls: Mapping[str, FactDecl], level: str = "household"
) -> FactCells:
    """The declared-fact columns of ``level`` of an (already inspected and read) census file: the
    户 sheet's, or the 房屋 / 成员 sheet's for building- / member-level facts."""
    decls = of_level(decls, level)
    grid = _grid(data, filename, SHEET_BY_KEY[LEVEL_SHEET[level]].title)
    key = _norm_header(_KEY)
    out = FactCells()
    header_index = next(
        (i for i, row in enumerate(grid[:10]) if any(_norm_header(v) == key for v in row)), None
    )
    if header_index is None:
        return out  # the census check reports the missing header
    headers = {}
    for d in decls.values():
        headers[_norm_header(fact_header(d))] = d.id
        headers.setdefault(_norm_header(d.label), d.id)
    key_col = None
    for j, v in enumerate(grid[header_index]):
        h = _norm_header(v)
        if h == key and key_col is None:
            key_col = j
        elif h in headers and headers[h] not in out.columns:
            out.columns[headers[h]] = j
    out.header_row = header_index + 1
    assert key_col is not None
    for i in range(header_index + 1, len(grid)):
        row = grid[i]
        code = rules._text(row[key_col]) if key_col < len(row) else ""
        if not code:
            continue
        cells = {fid: (row[j] if j < len(row) else None) for fid, j in out.columns.items()}
        out.rows.append((i + 1, code, cells))
    return out


def check_fact_cells(
    cells: FactCells, decls: Mapping[str, FactDecl], *, correction: bool = False
) -> tuple[dict[str, dict[str, str | None]], list[CellError]]:
    """Typed text of every filled cell (户号 -> fact id -> text) and the errors, each with sheet,
    row and column. An import needs every required fact of every household (a blank cell, or a
    column the file does not have, is an error per row and column); a correction takes only the
    filled cells (blank: no change). Household-level facts only (see :func:`check_element_fact_cells`)."""
    decls = of_level(decls, "household")
    values: dict[str, dict[str, str | None]] = {}
    errors: list[CellError] = []
    title = _SHEET.title
    for d in decls.values():
        if d.required and d.id not in cells.columns and not correction:
            errors.append(
                CellError(
                    title,
                    cells.header_row or None,
                    fact_header(d),
                    "",
                    f"缺少方案要求的事实列“{fact_header(d)}”",
                )
            )
    for row, code, raw in cells.rows:
        got: dict[str, str | None] = {}
        for d in decls.values():
            col = cells.columns.get(d.id)
            letter = column_letter(col) if col is not None else ""
            value = raw.get(d.id)
            try:
                parsed = parse_value(d, value)
            except FactValueError as exc:
                errors.append(CellError(title, row, fact_header(d), letter, exc.message_zh))
                continue
            if parsed is None:
                if d.required and not correction:
                    errors.append(
                        CellError(title, row, fact_header(d), letter, f"缺少方案要求的事实：{d.label}")
                    )
                continue
            got[d.id] = to_text(d, parsed)
        if got:
            values[code] = got
    return values, errors


def check_element_fact_cells(
    cells: FactCells, decls: Mapping[str, FactDecl], level: str, *, sheet_present: bool = True
) -> tuple[dict[int, dict[str, str | None]], list[CellError]]:
    """Typed text of every filled building- or member-level fact cell (Excel row -> fact id -> text)
    and the errors with sheet, row and column: a bad value, a required fact blank on a row, or a
    required column the sheet does not have (when the sheet has rows)."""
    decls = of_level(decls, level)
    title = SHEET_BY_KEY[LEVEL_SHEET[level]].title
    values: dict[int, dict[str, str | None]] = {}
    errors: list[CellError] = []
    for d in decls.values():
        if d.required and d.id not in cells.columns and cells.rows and sheet_present:
            errors.append(
                CellError(
                    title,
                    cells.header_row or None,
                    fact_header(d),
                    "",
                    f"缺少方案要求的事实列“{fact_header(d)}”",
                )
            )
    for row, _code, raw in cells.rows:
        got: dict[str, str | None] = {}
        for d in decls.values():
            col = cells.columns.get(d.id)
            letter = column_letter(col) if col is not None else ""
            try:
                parsed = parse_value(d, raw.get(d.id))
            except FactValueError as exc:
                errors.append(CellError(title, row, fact_header(d), letter, exc.message_zh))
                continue
            if parsed is None:
                if d.required and col is not None:
                    errors.append(
                        CellError(title, row, fact_header(d), letter, f"缺少方案要求的事实：{d.label}")
                    )
                continue
            got[d.id] = to_text(d, parsed)
        if got:
            values[row] = got
    return values, errors


def write_element_fact_values(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    decls: Mapping[str, FactDecl],
    level: str,
    values: Mapping[int, Mapping[str, str | None]],
    rows: Sequence[Mapping[str, Any]],
    reason: str,
) -> int:
    """Store imported building- or member-level facts (by Excel row) on the buildings / members the
    import just wrote: ``rows`` are the clean rows of that sheet (``_row``, ``household_code``,
    ``sort``). One audit record per household that changed; returns how many changed."""
    from anju.household.models import Building, Member
    from anju.household.service.policy_facts import element_fact_key

    if not values:
        return 0
    where = {int(r["_row"]): (str(r["household_code"]), int(r["sort"])) for r in rows if "_row" in r}
    model: Any = Building if level == "building" else Member
    ids: dict[tuple[str, int], tuple[int, int]] = {}
    for eid, hid, code, sort in session.execute(
        select(model.id, model.household_id, Household.code, model.sort)
        .join(Household, Household.id == model.household_id)
        .where(Household.project_id == project_id, Household.voided_at.is_(None), model.voided_at.is_(None))
    ):
        ids[(str(code), int(sort))] = (int(hid), int(eid))
    per_household: dict[int, dict[str, str | None]] = {}
    for row, facts in values.items():
        found = ids.get(where.get(row, ("", -1)))
        if found is None:
            continue
        hid, eid = found
        for fid, text in facts.items():
            per_household.setdefault(hid, {})[element_fact_key(level, eid, fid)] = text
    changed = 0
    for hid in sorted(per_household):
        h = session.scalars(select(Household).where(Household.id == hid).with_for_update()).one()
        changed += _write_audited(session, actor, h, decls, per_household[hid], reason)
    return changed


def write_fact_values(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    decls: Mapping[str, FactDecl],
    values: Mapping[str, Mapping[str, str | None]],
    reason: str,
) -> int:
    """Store imported declared facts of the project's households (by 户号), one audit record per
    household that changed; returns the number of households changed. The caller owns the
    transaction (the import's), and has checked the codes."""
    if not values:
        return 0
    codes = sorted(values)
    households: dict[str, Household] = {}
    for i in range(0, len(codes), 900):  # bounded IN lists
        for h in session.scalars(
            select(Household)
            .where(
                Household.project_id == project_id,
                Household.code.in_(codes[i : i + 900]),
                Household.voided_at.is_(None),
            )
            .order_by(Household.id)
            .with_for_update()
        ):
            households[h.code] = h
    changed = 0
    for code in codes:
        found = households.get(code)
        if found is None:
            continue
        changed += _write_audited(session, actor, found, decls, values[code], reason)
    return changed


def _write_audited(
    session: Session,
    actor: Actor,
    h: Household,
    decls: Mapping[str, FactDecl],
    values: Mapping[str, str | None],
    reason: str,
) -> int:
    """Write one household's imported facts (locked by the caller) with one audit record when
    anything changed; 1 when it did, else 0."""
    from anju.household.service.base import _touch
    from anju.household.service.policy_facts import write_policy_facts

    changes = write_policy_facts(session, h, decls, values)
    if not changes:
        return 0
    _touch(session, h)
    audit_service.record(
        session,
        actor=actor,
        action="import",
        entity="household_fact",
        entity_id=h.id,
        project_id=h.project_id,
        household_id=h.id,
        changes=changes,
        reason=reason,
    )
    return 1
