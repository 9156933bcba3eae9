"""Census import part: the check of every row and cell against the file itself and the project, one
sheet at a time, never touching the database (see the package docstring).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from anju.config import get_settings
from anju.core import secrets
from anju.household import rules
from anju.household.census.context import ProjectContext, _resolve_block
from anju.household.census.results import (
    CellError,
    CensusCheck,
    CensusPreview,
    CleanCensus,
    ErrorList,
    RawCensus,
    RawSheet,
    column_letter,
)
from anju.household.census.spec import (
    _SHEET_ORDER,
    PREVIEW_ROWS,
    SHEET_BY_KEY,
    SHEETS,
    Progress,
    _f,
    _no_progress,
)
from anju.household.column_cleaning import ColumnCleaner, Judge, judge_for

__all__ = [
    "validate",
]


class _Errors:
    """Collects :class:`CellError` for one sheet, resolving field names to header and letter."""

    def __init__(self, out: list[CellError], sheet: RawSheet) -> None:
        self.out = out
        self.sheet = sheet
        spec = SHEET_BY_KEY[sheet.key]
        self.labels = {c.field.name: c.header for c in spec.columns}

    def add(self, row: int, name: str, message: str) -> None:
        j = self.sheet.columns.get(name)
        self.out.append(
            CellError(
                self.sheet.title,
                row,
                self.labels.get(name, name),
                column_letter(j) if j is not None else "",
                message,
            )
        )

    def fields(self, row: int, errs: list[rules.FieldError]) -> None:
        for e in errs:
            self.add(row, e.field, e.message)


def _text_id_number(f: rules.Field) -> Judge:
    """The judge of the 身份证号 column: a numeric cell is refused whatever it holds."""
    judge = judge_for(f)

    def text_only(value: Any) -> tuple[bool, Any]:
        if isinstance(value, float):
            # 18 digits do not survive a numeric cell: the last digits are already lost
            return False, "身份证号须以文本格式填写（数字格式会丢失末位）"
        return judge(value)

    return text_only


_SIGNED_OR_LATER = frozenset({"signed", "vacated", "demolished", "archived"})


class _Check:
    """The validation of :func:`validate`, one sheet at a time, 户 first and 房屋 before 评估
    (child sheets refer to the 户 sheet, valuations to the 房屋 sheet), so that an import can check
    a sheet while the next one is still being read."""

    def __init__(
        self, ctx: ProjectContext, errors: list[CellError], *, progress: Progress, total: int, secret: str
    ) -> None:
        self.ctx = ctx
        self.errors = errors
        self.clean = CleanCensus()
        self.progress = progress
        self.total = total  # 0 while the file is still being read: progress waits for the count
        self.done = 0
        self.step = max(1000, total // 100)
        self.secret = secret
        self.known: set[str] = set()
        self.building_keys: dict[tuple[str, int], int] = {}  # (code, order) -> row
        self.cert_keys: dict[tuple[str, str], int] = {}  # (code, certificate) -> order

    def tick(self) -> None:
        self.done += 1
        if self.total and (self.done % self.step == 0 or self.done == self.total):
            self.progress("校验", self.done, self.total)

    def count(self, total: int) -> None:
        """The file is read: report progress against its ``total`` rows from now on."""
        self.total = total
        self.step = max(1000, total // 100)
        self.progress("校验", self.done, total)

    def sheet(self, key: str, sheet: RawSheet | None) -> None:
        """Check one sheet (``None`` when the file has no such sheet)."""
        getattr(self, key)(sheet)

    def child_key(self, errs: _Errors, row_no: int, out: dict[str, Any]) -> str | None:
        code = out.get("household_code")
        if code is None:
            return None
        if code not in self.known:
            errs.add(row_no, "household_code", f"户号“{code}”在“户”表中不存在")
            return None
        return str(code)

    def child_rows(
        self, sheet: RawSheet, key: str
    ) -> Iterator[tuple[_Errors, int, dict[str, Any], bool, str | None]]:
        """Each row of a sheet that belongs to households, its cells cleaned and errors noted:
        ``(errors, row number, values, whether a cell was bad, 户号 if it names a known household)``."""
        errs = _Errors(self.errors, sheet)
        cleaned = ColumnCleaner(SHEET_BY_KEY[key].fields).clean([values for _, values in sheet.rows])
        for (row_no, _values), (out, field_errors) in zip(sheet.rows, cleaned, strict=True):
            self.tick()
            if field_errors:
                errs.fields(row_no, field_errors)
            yield errs, row_no, out, bool(field_errors), self.child_key(errs, row_no, out)

    # households --------------------------------------------------------------
    def households(self, sheet: RawSheet | None) -> None:
        """户 sheet: cells, duplicate and existing 户号, blocks, 签约日期 by status."""
        if sheet is None:
            return
        errs = _Errors(self.errors, sheet)
        cleaned = ColumnCleaner(SHEET_BY_KEY["households"].fields).clean([values for _, values in sheet.rows])
        first_row: dict[str, int] = {}
        blocks: dict[str, tuple[int | None, str]] = {}  # a few blocks serve thousands of rows
        for (row_no, _values), (out, field_errors) in zip(sheet.rows, cleaned, strict=True):
            self.tick()
            if field_errors:
                errs.fields(row_no, field_errors)
            code = out.get("code")
            if code:
                if code in first_row:
                    errs.add(row_no, "code", f"户号“{code}”与第{first_row[code]}行重复")
                    code = None
                elif code in self.ctx.existing_codes:
                    errs.add(row_no, "code", f"户号“{code}”在本项目中已存在")
                    first_row[code] = row_no
                    code = None
                else:
                    first_row[code] = row_no
            block_text = out.get("block", "") or ""
            resolved = blocks.get(block_text)
            if resolved is None:
                resolved = blocks[block_text] = _resolve_block(self.ctx, block_text)
            block_id, problem = resolved
            if problem:
                errs.add(row_no, "block", problem)
            status = out.get("status", "surveyed")
            if status in _SIGNED_OR_LATER and "sign_on" in out and out["sign_on"] is None:
                errs.add(row_no, "sign_on", f"状态为“{rules.STATUSES[status]}”时须填写签约日期")
            if code and not field_errors:
                out["block_id"] = block_id
                out["_row"] = row_no
                self.clean.households.append(out)
        self.known = set(first_row)

    # members -----------------------------------------------------------------
    def members(self, sheet: RawSheet | None) -> None:
        """成员 sheet: cells, identity numbers unique in the file and the project, one 户主 per household."""
        if sheet is None:
            return
        errs = _Errors(self.errors, sheet)
        spec = SHEET_BY_KEY["members"]
        cleaner = ColumnCleaner(spec.fields, {"id_number": _text_id_number(_f(spec.fields, "id_number"))})
        cleaned = cleaner.clean([values for _, values in sheet.rows])
        seen_ids: dict[str, int] = {}
        heads: dict[str, int] = {}
        sort: dict[str, int] = {}
        check_db = bool(self.ctx.existing_digests)
        for (row_no, _values), (out, field_errors) in zip(sheet.rows, cleaned, strict=True):
            self.tick()
            if field_errors:
                errs.fields(row_no, field_errors)
            code = self.child_key(errs, row_no, out)
            id_number = out.get("id_number")
            bad = bool(field_errors) or code is None
            if id_number:
                if id_number in seen_ids:
                    errs.add(row_no, "id_number", f"身份证号与本表第{seen_ids[id_number]}行重复")
                    bad = True
                else:
                    seen_ids[id_number] = row_no
                    if check_db:
                        digest = secrets.blind_index(self.secret, id_number)
                        other = self.ctx.existing_digests.get(digest)
                        if other is not None:
                            errs.add(row_no, "id_number", f"该身份证号已登记在本项目户“{other}”")
                            bad = True
            if code is not None and out.get("relation") == "户主":
                if code in heads:
                    errs.add(row_no, "relation", f"户“{code}”已有户主（第{heads[code]}行）")
                    bad = True
                else:
                    heads[code] = row_no
            if not bad and code is not None:
                n = sort.get(code, 0)
                sort[code] = n + 1
                out["sort"] = n
                out["_row"] = row_no  # a correction (更正导入) names the row of each change
                self.clean.members.append(out)

    # buildings ---------------------------------------------------------------
    def buildings(self, sheet: RawSheet | None) -> None:
        """房屋 sheet: cells, 房屋序号 and 产权证号 unique per household."""
        if sheet is None:
            return
        next_order: dict[str, int] = {}
        for errs, row_no, out, field_errors, code in self.child_rows(sheet, "buildings"):
            bad = bool(field_errors) or code is None
            legal = out.get("legal_area")
            extra = out.get("unregistered_area")
            if legal is not None and extra is not None and legal == 0 and extra == 0:
                errs.add(row_no, "legal_area", "合法面积与未登记面积不能同时为0")
                bad = True
            if code is None:
                continue
            order = out.get("building_order")
            if order is None:
                order = next_order.get(code, 0) + 1
                while (code, order) in self.building_keys:
                    order += 1
            if (code, order) in self.building_keys:
                errs.add(
                    row_no, "building_order", f"房屋序号{order}与第{self.building_keys[(code, order)]}行重复"
                )
                continue
            self.building_keys[(code, order)] = row_no
            next_order[code] = max(next_order.get(code, 0), order)
            cert = out.get("certificate_no") or ""
            if cert:
                if (code, cert) in self.cert_keys:
                    errs.add(row_no, "certificate_no", f"产权证号“{cert}”在本户中重复")
                    bad = True
                self.cert_keys[(code, cert)] = order
            if not bad:
                out["building_order"] = order
                out["sort"] = order - 1
                out["_row"] = row_no
                self.clean.buildings.append(out)

    # tenants -----------------------------------------------------------------
    def tenants(self, sheet: RawSheet | None) -> None:
        """承租人 sheet: cells and lease dates."""
        if sheet is None:
            return
        for errs, row_no, out, field_errors, code in self.child_rows(sheet, "tenants"):
            start, end = out.get("lease_start_on"), out.get("lease_end_on")
            if start and end and end < start:
                errs.add(row_no, "lease_end_on", "租期止不能早于租期起")
                continue
            if not field_errors and code is not None:
                self.clean.tenants.append(out)

    # homesteads --------------------------------------------------------------
    def homesteads(self, sheet: RawSheet | None) -> None:
        """宅基地 sheet: at most one per household."""
        if sheet is None:
            return
        seen: dict[str, int] = {}
        for errs, row_no, out, field_errors, code in self.child_rows(sheet, "homesteads"):
            if code is not None and code in seen:
                errs.add(row_no, "household_code", f"户“{code}”的宅基地已在第{seen[code]}行填写")
                continue
            if code is not None:
                seen[code] = row_no
            if not field_errors and code is not None:
                self.clean.homesteads.append(out)

    # valuations --------------------------------------------------------------
    def valuations(self, sheet: RawSheet | None) -> None:
        """评估 sheet: each names one building of the 房屋 sheet, at most once."""
        if sheet is None:
            return
        valued: dict[tuple[str, int], int] = {}
        for errs, row_no, out, field_errors, code in self.child_rows(sheet, "valuations"):
            if code is None:
                continue
            order = out.get("building_order")
            cert = out.get("certificate_no") or ""
            target: int
            if order is not None:
                if (code, order) in self.building_keys:
                    target = order
                    if cert and self.cert_keys.get((code, cert)) != order:
                        errs.add(row_no, "certificate_no", f"产权证号“{cert}”与房屋序号{order}不是同一处房屋")
                        continue
                else:
                    errs.add(row_no, "building_order", f"在“房屋”表中找不到户“{code}”的第{order}处房屋")
                    continue
            elif cert:
                found = self.cert_keys.get((code, cert))
                if found is None:
                    errs.add(
                        row_no, "certificate_no", f"在“房屋”表中找不到户“{code}”产权证号为“{cert}”的房屋"
                    )
                    continue
                target = found
            else:
                errs.add(row_no, "building_order", "须填写房屋序号或产权证号")
                continue
            if (code, target) in valued:
                errs.add(row_no, "building_order", f"该房屋的评估结果已在第{valued[(code, target)]}行填写")
                continue
            valued[(code, target)] = row_no
            if not field_errors:
                out["building_order"] = target
                self.clean.valuations.append(out)

    def finish(self, raw: RawCensus) -> CensusCheck:
        """The reading errors and the cell errors in reading order (sheet, row, column), and the preview."""
        self.errors[:0] = raw.errors
        self.errors.sort(key=lambda e: (_SHEET_ORDER.get(e.sheet, 99), e.row or 0, e.letter))
        self.progress("校验", self.total, self.total)
        return CensusCheck(errors=self.errors, clean=self.clean, preview=_preview(raw, self.clean))


def validate(
    raw: RawCensus,
    ctx: ProjectContext,
    *,
    progress: Progress | None = None,
    secret_key: str | None = None,
) -> CensusCheck:
    """Check every row and cell of ``raw`` against the project; never touches the database.

    Reports each problem (types, required cells, identity numbers, duplicates in the file and in
    the project, unknown 户号 in child sheets, unknown blocks, absurd areas) with its position.
    """
    progress = progress or _no_progress
    total = raw.row_count()
    progress("校验", 0, total)
    check = _Check(
        ctx, ErrorList(), progress=progress, total=total, secret=secret_key or get_settings().secret_key
    )
    for spec in SHEETS:
        check.sheet(spec.key, raw.sheets.get(spec.key))
    return check.finish(raw)


def _preview(raw: RawCensus, clean: CleanCensus) -> CensusPreview:
    counts = {s.title: len(raw.sheets[s.key].rows) if s.key in raw.sheets else 0 for s in SHEETS}
    zero = Decimal("0.00")
    totals = {
        "户数": str(len(clean.households)),
        "人数": str(len(clean.members)),
        "计入安置人口": str(sum(1 for m in clean.members if m.get("resettlement_counted"))),
        "合法面积(㎡)": f"{sum((b['legal_area'] for b in clean.buildings), zero):,.2f}",
        "未登记面积(㎡)": f"{sum((b['unregistered_area'] for b in clean.buildings), zero):,.2f}",
        "宅基地面积(㎡)": f"{sum((h['area'] for h in clean.homesteads), zero):,.2f}",
        "评估金额(元)": f"{sum((v['assessed_value'] for v in clean.valuations), zero):,.2f}",
    }
    first: list[dict[str, str]] = []
    sheet = raw.sheets.get("households")
    if sheet is not None:
        for row_no, values in sheet.rows[:PREVIEW_ROWS]:
            item = {"行号": str(row_no)}
            for c, v in zip(SHEET_BY_KEY["households"].columns, values, strict=True):
                item[c.header] = "" if v is None else rules._text(v)
            first.append(item)
    return CensusPreview(counts=counts, totals=totals, first_rows=first)
