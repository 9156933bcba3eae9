"""``anju project create|edit|add-block|edit-block|import-parcels|show`` against a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from anju.cli import app
from anju.config import get_settings
from anju.db import migrate

runner = CliRunner()
RING = [[120.1, 30.1], [120.102, 30.1], [120.102, 30.102], [120.1, 30.1]]


def rows(sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(get_settings().effective_database_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_an_office_sets_up_a_campaign_from_the_command_line(settings_env: Path, tmp_path: Path) -> None:
    settings_env.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(get_settings().effective_database_url)
    r = runner.invoke(
        app,
        [
            "project", "create", "--code", "HX-2026", "--name", "河西片区征收项目", "--kind", "集体土地征收",
            "--legal-basis", "《土地管理法》第四十七条", "--signing-start", "2026-03-01", "--signing-end", "2026-04-30",
            "--deadline", "2026-05-31", "--target-rate", "98", "--alert-days", "5", "--reason", "征收决定已公告",
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "已建立项目 HX-2026" in r.output

    # Bad input: Chinese message naming the field, exit 2, nothing written.
    r = runner.invoke(
        app,
        [
            "project",
            "create",
            "--code",
            "HX 2",
            "--name",
            "x",
            "--kind",
            "state_land",
            "--target-rate",
            "120",
        ],
    )
    assert r.exit_code == 2
    assert (
        "项目编号：只能由字母、数字、- 和 _ 组成" in r.output
        and "目标签约率（%）：应在1至100%之间" in r.output
    )
    r = runner.invoke(app, ["project", "edit", "HX-2026", "--deadline", "2026-04-01"])
    assert r.exit_code == 2
    assert "签约截止日：2026-04-01 不能早于签约期结束日（2026-04-30）" in r.output
    r = runner.invoke(app, ["project", "edit", "NOPE", "--name", "x"])
    assert r.exit_code == 2 and "项目“NOPE”不存在" in r.output

    r = runner.invoke(app, ["project", "edit", "HX-2026", "--deadline", "2026-06-30", "--reason", "延期"])
    assert r.exit_code == 0, r.output
    assert "签约截止日：2026-05-31 → 2026-06-30" in r.output and "第 2 版" in r.output

    for args in (
        ["--block-code", "HJ", "--name", "河家村", "--level", "村"],
        ["--block-code", "HJ-01", "--name", "一组", "--level", "group", "--parent", "HJ"],
        ["--block-code", "HJ-02", "--name", "二组", "--level", "group", "--parent", "HJ", "--sort", "2"],
    ):
        r = runner.invoke(app, ["project", "add-block", "HX-2026", *args])
        assert r.exit_code == 0, r.output
    r = runner.invoke(
        app, ["project", "add-block", "HX-2026", "--block-code", "X", "--name", "x", "--level", "镇"]
    )
    assert r.exit_code == 2 and "区块层级：应为 片区 / 村 / 组 / 区块 之一" in r.output
    r = runner.invoke(app, ["project", "edit-block", "HX-2026", "HJ", "--parent", "HJ-01"])
    assert r.exit_code == 2 and "不能把区块移到它自己或它的下级区块之下" in r.output
    r = runner.invoke(app, ["project", "edit-block", "HX-2026", "HJ-02", "--name", "第二组"])
    assert r.exit_code == 0 and "已保存：name" in r.output

    geo = tmp_path / "宗地.geojson"
    features = [
        {"type": "Feature", "properties": {"ZDH": "ZD-01", "QK": "HJ-01", "land_area": 88.8}, "geometry": {"type": "Polygon", "coordinates": [RING]}},
        {"type": "Feature", "properties": {"ZDH": "ZD-02", "QK": "HJ-09"}, "geometry": {"type": "Polygon", "coordinates": [RING]}},
    ]  # fmt: skip
    geo.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    args = [
        "project",
        "import-parcels",
        "HX-2026",
        str(geo),
        "--code-property",
        "ZDH",
        "--block-property",
        "QK",
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 2
    assert "第2个要素（属性“QK”）：区块编号“HJ-09”在本项目中不存在" in r.output
    assert rows("SELECT COUNT(*) FROM parcel") == [(0,)]
    features[1]["properties"]["QK"] = "HJ-02"
    geo.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "新增宗地 2 宗" in r.output
    geo.write_text(json.dumps({"type": "FeatureCollection", "features": features[:1]}), encoding="utf-8")
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "未变 1 宗，删除 1 宗（新文件中已没有）" in r.output.replace("\n", "")  # Rich wraps long lines
    assert rows("SELECT code FROM parcel") == [("ZD-01",)]
    geo.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    assert runner.invoke(app, args).exit_code == 0

    r = runner.invoke(app, ["project", "show", "HX-2026"])
    assert r.exit_code == 0, r.output
    for text_ in (
        "河西片区征收项目",
        "第 2 版",
        "《土地管理法》第四十七条",
        "2026-06-30",
        "河家村",
        "第二组",
        "宗地：2 宗",
    ):
        assert text_ in r.output

    audited = rows("SELECT entity, action, actor_name FROM audit_record ORDER BY seq")
    assert [(e, a) for e, a, _ in audited] == [
        ("project", "create"),
        ("project", "update"),
        ("block", "create"),
        ("block", "create"),
        ("block", "create"),
        ("block", "update"),
        ("parcel", "create"),
        ("parcel", "create"),
        ("parcel", "delete"),  # the file without ZD-02
        ("parcel", "create"),  # and the whole file again
    ]
    assert {n for _, _, n in audited} == {"cli"}


COLUMNS = (
    "code, name, kind, status, district, description, decision_no, legal_basis, signing_start_on, "
    "signing_end_on, deadline_on, launched_on, target_sign_rate, target_households, alert_no_visit_days"
)


def test_every_project_option_reaches_its_field(settings_env: Path) -> None:
    """``create`` and ``edit`` map each option to the service's field (``--signing-start`` is
    ``signing_start_on`` ...); an unknown ``--user`` is refused before anything is written."""
    settings_env.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(get_settings().effective_database_url)
    options = [
        "--status", "signing", "--district", "河西区", "--description", "旧城改造", "--decision-no", "河政〔2026〕1号",
        "--legal-basis", "条例", "--signing-start", "2026-03-01", "--signing-end", "2026-04-30",
        "--deadline", "2026-05-31", "--launched", "2026-02-20", "--target-rate", "95",
        "--target-households", "40", "--alert-days", "5",
    ]  # fmt: skip
    base = ["project", "create", "--code", "OPT-1", "--name", "选项项目", "--kind", "shantytown"]
    r = runner.invoke(app, [*base, *options, "--user", "nobody"])
    assert r.exit_code == 2 and "用户“nobody”不存在" in r.output
    assert rows("SELECT COUNT(*) FROM project") == [(0,)]
    r = runner.invoke(app, [*base, *options])
    assert r.exit_code == 0, r.output
    assert rows(f"SELECT {COLUMNS} FROM project") == [
        ("OPT-1", "选项项目", "shantytown", "signing", "河西区", "旧城改造", "河政〔2026〕1号", "条例",
         "2026-03-01", "2026-04-30", "2026-05-31", "2026-02-20", 95, 40, 5),
    ]  # fmt: skip
    edits = [
        "--code", "OPT-2", "--name", "改名项目", "--kind", "state_land", "--status", "clearing",
        "--district", "河东区", "--description", "续建", "--decision-no", "河政〔2026〕2号", "--legal-basis", "新条例",
        "--signing-start", "2026-03-02", "--signing-end", "2026-05-01", "--deadline", "2026-06-01",
        "--launched", "2026-02-21", "--target-rate", "90", "--target-households", "30", "--alert-days", "6",
    ]  # fmt: skip
    r = runner.invoke(app, ["project", "edit", "OPT-1", *edits])
    assert r.exit_code == 0, r.output
    assert rows(f"SELECT {COLUMNS} FROM project") == [
        ("OPT-2", "改名项目", "state_land", "clearing", "河东区", "续建", "河政〔2026〕2号", "新条例",
         "2026-03-02", "2026-05-01", "2026-06-01", "2026-02-21", 90, 30, 6),
    ]  # fmt: skip
    r = runner.invoke(app, ["project", "edit", "OPT-2", "--name", "x", "--user", "nobody"])
    assert r.exit_code == 2 and "用户“nobody”不存在" in r.output
    assert rows("SELECT name FROM project") == [("改名项目",)]
