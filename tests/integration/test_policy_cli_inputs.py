"""``anju policy calc|explain|whatif`` on the files users have (census template, ledger export), every
bad input answered with file, sheet, row and column and exit code 2 (never a traceback), and a
``anju --help`` that loads none of the heavy stacks."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from anju.cli import app
from anju.demo.generator import census_rows
from anju.household import census, ledger
from anju.identity.service import DataScope
from anju.policy import workbooks
from anju.project import service as project_service
from tests.factories import ACTOR

POLICY = Path(__file__).resolve().parents[2] / "src" / "anju" / "policy" / "examples" / "state_land.yaml"
runner = CliRunner()
CLI = "from anju.cli import app; app(prog_name='anju')"


def _rows(count: int = 6) -> dict[str, list[dict[str, Any]]]:
    return census_rows(random.Random(5), count, prefix="C", blocks=["DP"], kind="state_land")


def _census_file(tmp_path: Path, rows: dict[str, list[dict[str, Any]]] | None = None) -> Path:
    path = tmp_path / "入户调查表.xlsx"
    census.write_workbook(path, rows if rows is not None else _rows())
    return path


def _totals(path: Path, sheet: str = "cash") -> dict[str, float]:
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()
    return {r[0]: r[-1] for r in grid[1:]}


def _invoke(*args: str) -> Any:
    result = runner.invoke(app, ["policy", *args])
    # a traceback would show up as an exception that is not the command's own exit
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def test_calc_reads_the_census_template_and_the_ledger_export_alike(db: Session, tmp_path: Path) -> None:
    rows = _rows()
    census_path = _census_file(tmp_path, rows)
    out_census = tmp_path / "from-census.xlsx"
    r = _invoke("calc", str(POLICY), str(census_path), "-o", str(out_census), "--option", "cash")
    assert r.exit_code == 0, r.output
    from_census = _totals(out_census)
    assert sorted(from_census) == sorted(h["code"] for h in rows["households"])
    assert all(v > 0 for v in from_census.values())

    # the same households through the database and out again as the ledger
    p = project_service.create_project(db, actor=ACTOR, code="PC1", name="测算项目", kind="state_land")
    project_service.add_block(db, actor=ACTOR, project_id=p.id, code="DP", name="DP", level="area")
    census.import_rows(db, actor=ACTOR, project_id=p.id, rows=rows, label="policy cli test")
    buf = io.BytesIO()
    ledger.export_ledger(db, scope=DataScope.everything(), project_id=p.id, target=buf)
    ledger_path = tmp_path / "台账.xlsx"
    ledger_path.write_bytes(buf.getvalue())
    assert workbooks.layout_of(ledger_path) == "ledger" and workbooks.layout_of(census_path) == "census"
    out_ledger = tmp_path / "from-ledger.xlsx"
    r = _invoke("calc", str(POLICY), str(ledger_path), "-o", str(out_ledger), "--option", "cash")
    assert r.exit_code == 0, r.output
    assert _totals(out_ledger) == from_census

    code = rows["households"][0]["code"]
    for path in (census_path, ledger_path):
        r = _invoke(
            "explain", str(POLICY), "--households", str(path), "--household", code, "--option", "cash"
        )
        assert r.exit_code == 0, r.output
        assert f"{from_census[code]:,.2f} 元" in r.output
        r = _invoke("whatif", str(POLICY), str(path), "--set", "relocation_rate=20")
        assert r.exit_code == 0, r.output
        assert "受影响户数 households affected: 6/6" in r.output


def test_the_census_and_ledger_headers_are_those_the_household_domain_writes() -> None:
    for spec in census.SHEETS:
        if spec.key not in workbooks.CENSUS:
            continue
        table = workbooks.CENSUS[spec.key]
        assert table.sheet == spec.title
        assert set(table.columns) <= {c.header for c in spec.columns}, spec.key
    sheets = {"households": ledger.HOUSEHOLD_COLUMNS, "members": ledger.MEMBER_COLUMNS}
    sheets["buildings"] = ledger.BUILDING_COLUMNS
    for key, columns in sheets.items():
        assert set(workbooks.LEDGER[key].columns) <= {label for label, _w in columns}, key


def _bad_cell_file(tmp_path: Path) -> Path:
    rows = _rows(3)
    rows["buildings"][1]["legal_area"] = "九十"  # type: ignore[assignment]
    return _census_file(tmp_path, rows)


def _wrong_sheet_file(tmp_path: Path) -> Path:
    import xlsxwriter

    path = tmp_path / "别的表.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("Sheet1").write_row(0, 0, ["编号", "面积"])
    wb.close()
    return path


@pytest.mark.parametrize("command", ["calc", "explain", "whatif"])
def test_bad_inputs_name_file_sheet_row_and_column_with_exit_2(tmp_path: Path, command: str) -> None:
    def run(households: Path) -> Any:
        if command == "calc":
            return _invoke("calc", str(POLICY), str(households), "-o", str(tmp_path / "o.xlsx"))
        if command == "explain":
            return _invoke("explain", str(POLICY), "--households", str(households), "--household", "C00001")
        return _invoke("whatif", str(POLICY), str(households), "--set", "relocation_rate=20")

    missing = run(tmp_path / "没有这个文件.xlsx")
    assert missing.exit_code == 2
    assert "文件 没有这个文件.xlsx：文件不存在" in missing.output

    wrong = run(_wrong_sheet_file(tmp_path))
    assert wrong.exit_code == 2
    assert "文件 别的表.xlsx：找不到户数据工作表" in wrong.output and "现有：Sheet1" in wrong.output

    bad = run(_bad_cell_file(tmp_path))
    assert bad.exit_code == 2
    flat = bad.output.replace("\n", "")
    assert "文件 入户调查表.xlsx，工作表“房屋”，第 3 行，“合法面积(㎡)”列（H 列）：“九十”应为面积" in flat
    assert not (tmp_path / "o.xlsx").exists()


def test_bad_dates_options_and_policy_files_exit_2(tmp_path: Path) -> None:
    census_path = _census_file(tmp_path)
    r = _invoke(
        "calc", str(POLICY), str(census_path), "-o", str(tmp_path / "o.xlsx"), "--as-of", "2025-13-01"
    )
    assert r.exit_code == 2 and "--as-of “2025-13-01” 应为日期" in r.output
    r = _invoke(
        "explain", str(POLICY), "--households", str(census_path), "--household", "C00001", "--option", "x"
    )
    assert r.exit_code == 2 and "--option “x” 不是本方案的补偿方式" in r.output
    r = _invoke("explain", str(POLICY), "--households", str(census_path), "--household", "NOPE")
    assert r.exit_code == 2 and "找不到户号 NOPE" in r.output
    r = _invoke("whatif", str(tmp_path / "无.yaml"), str(census_path), "--set", "a=1")
    assert r.exit_code == 2 and "方案文件" in r.output and "文件不存在" in r.output
    r = _invoke("calc", str(POLICY), str(census_path), "-o", str(census_path), "--kind", "火星")
    assert r.exit_code == 2 and "--kind “火星”" in r.output


def test_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    bad = _bad_cell_file(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", CLI, "policy", "calc", str(POLICY), str(bad), "-o", str(tmp_path / "o.xlsx")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "第 3 行" in proc.stdout + proc.stderr


def test_help_loads_neither_the_database_nor_the_web_nor_numpy() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from anju.cli import app\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "heavy = sorted(m for m in ('sqlalchemy', 'numpy', 'fastapi', 'numba', 'pydantic') if m in sys.modules)\n"
        "print(json.dumps([r.exit_code, heavy, 'policy' in r.output]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", "import json\n" + code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [0, [], True]
