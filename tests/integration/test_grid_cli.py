"""``anju grid import | export | list | at`` against a real SQLite file: a GeoJSON import, the
export that imports again, the point lookup, and a refusal that names every feature and writes
nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from anju.cli import app
from anju.db import migrate

runner = CliRunner()


def square(x0: float, y0: float, d: float = 0.01) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[x0, y0], [x0 + d, y0], [x0 + d, y0 + d], [x0, y0 + d], [x0, y0]]],
    }


def test_grid_commands(settings_env: Path, tmp_path: Path) -> None:
    from anju.config import get_settings

    settings_env.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(get_settings().effective_database_url)
    bad = tmp_path / "bad.geojson"
    bad.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {"code": "G1"}, "geometry": square(120.1, 30.2)},
                    {"type": "Feature", "properties": {"community": "东埠社区"}, "geometry": None},
                ],
            }
        ),
        encoding="utf-8",
    )
    refused = runner.invoke(app, ["grid", "import", str(bad)])
    assert refused.exit_code == 2
    assert "第 1 个要素 community：缺少社区" in refused.output
    assert "第 2 个要素 code：缺少网格编号" in refused.output
    assert "第 2 个要素 geometry：边界应为 GeoJSON geometry 对象" in refused.output
    assert runner.invoke(app, ["grid", "list"]).output == ""
    good = tmp_path / "good.geojson"
    good.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {
                            "community": "东埠社区",
                            "code": "G1",
                            "name": "一网格",
                            "phone": "0570-1",
                        },
                        "geometry": square(120.1, 30.2),
                    }
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    done = runner.invoke(app, ["grid", "import", str(good)])
    assert done.exit_code == 0, done.output
    assert (
        done.output.strip()
        == "导入完成：新建网格 1 个，更新网格 0 个，新建社区 1 个，新建楼栋 0 个，更新楼栋 0 个"
    )
    assert runner.invoke(app, ["grid", "list"]).output == "G1\t一网格\t东埠社区\t—\t0\t0\n"
    assert runner.invoke(app, ["grid", "at", "120.105", "30.205"]).output == "G1\t一网格\n"
    outside = runner.invoke(app, ["grid", "at", "121", "31"])
    assert (outside.exit_code, outside.output) == (1, "该位置不在任何网格内\n")
    out = tmp_path / "out.geojson"
    assert runner.invoke(app, ["grid", "export", str(out)]).output == f"已导出 1 个网格到 {out}\n"
    again = runner.invoke(app, ["grid", "import", str(out)])
    assert (
        again.output.strip()
        == "导入完成：新建网格 0 个，更新网格 0 个，新建社区 0 个，新建楼栋 0 个，更新楼栋 0 个"
    )
