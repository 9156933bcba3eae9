"""The declared permission matrix file, its rendering as docs/permissions.md and ``anju docs permissions``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from anju.cli import app
from anju.identity.rules import Permission, Role
from anju.web import permission_matrix as pm
from anju.web.permission_matrix import Case, Outcome

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / pm.DEFAULT_TABLE
DOC = ROOT / pm.DEFAULT_DOC
runner = CliRunner()


def test_docs_permissions_md_is_what_the_table_renders() -> None:
    assert DOC.read_text(encoding="utf-8") == pm.render_markdown(pm.load(TABLE)), (
        "docs/permissions.md is stale: run `anju docs permissions` and commit the result"
    )


def test_rendering_shows_roles_in_chinese_and_each_outcome_class() -> None:
    text = pm.render_markdown(pm.load(TABLE))
    header = "| 方法 | 路径 | 所需权限 | 范围 | 未登录 | 指挥长 | 征迁办经办人 | 专班组长 | 专班成员 | 财务 | 审计/纪检 | 网格员 | 部门 | 社区受理员 | 系统管理员 |"
    assert text.count(header) == 2  # pages and API
    row = next(
        line for line in text.splitlines() if line.startswith("| GET | `/households/{household_id}` |")
    )
    assert row == (
        "| GET | `/households/{household_id}` | 查看户的信息（`household.read`） | 单户 | 登录 "
        "| ✓ | ✓ | 本组 | 本人 | ✓ | ✓ | ✗ | ✗ | ✗ | ✗ |"
    )
    row = next(
        line for line in text.splitlines() if line.startswith("| POST | `/members/{member_id}/reveal`")
    )
    assert row == (
        "| POST | `/members/{member_id}/reveal`<br>每次查看记入审计 | 查看完整身份证号（`pii.read`） | 单户 | 登录 "
        "| ✗ | ✓ | ✗ | ✗ | ✓ | ✓ | ✗ | ✗ | ✗ | ✗ |"
    )
    assert "| GET | `/healthz` | 公开 | — | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ |" in text
    assert "| 管理用户（`user.manage`，写） | ✗ | ✗ | ✗ | ✗ | ✗ | ✗ | ✗ | ✗ | ✗ | ✓ |" in text
    assert "| `other` | 同项目其他专班的户 | 可访问 | 404 | 404 | 404 |" in text


def test_expected_outcomes_follow_the_declared_tables() -> None:
    m = pm.load(TABLE)
    page = "GET /households/{household_id}"
    assert m.expected(page, None) is Outcome.LOGIN
    assert m.expected("GET /healthz", None) is Outcome.ALLOW
    assert m.expected("GET /api/v1/auth/me", Role.GRID_WORKER) is Outcome.ALLOW
    assert m.expected(page, Role.GRID_WORKER, Case.OWN) is Outcome.DENY
    assert [m.expected(page, Role.TEAM_MEMBER, c) for c in Case] == [
        Outcome.ALLOW,
        Outcome.NOT_FOUND,
        Outcome.NOT_FOUND,
        Outcome.NOT_FOUND,
    ]
    assert [m.expected(page, Role.TEAM_LEADER, c) for c in Case] == [
        Outcome.ALLOW,
        Outcome.ALLOW,
        Outcome.NOT_FOUND,
        Outcome.NOT_FOUND,
    ]
    assert {m.expected(page, Role.AUDITOR, c) for c in Case} == {Outcome.ALLOW}
    # a project route is allowed in every case: what it lists is filtered, not refused
    assert (
        m.expected("GET /projects/{project_id}/households", Role.TEAM_MEMBER, Case.OTHER_PROJECT)
        is Outcome.ALLOW
    )
    # a refusal by permission comes before the scope: 403, never a 404 that would tell existence
    assert m.expected("POST /members/{member_id}/reveal", Role.TEAM_MEMBER, Case.OTHER) is Outcome.DENY


SMALL = """
permissions:
  project.read: {label: 查看项目}
roles:
  admin: {scope: none, permissions: [project.read]}
reach: {all: [own], team: [own], assigned: [own], none: []}
routes:
  GET /projects: {access: project.read}
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SMALL.replace("GET /projects:", "FETCH /projects:"), "路由“FETCH /projects”格式不对"),
        (
            SMALL.replace("{access: project.read}", "{access: project.raed}"),
            "routes.GET /projects.access：未知取值“project.raed”",
        ),
        (
            SMALL.replace("{access: project.read}", "{access: login, scopes: household}"),
            "routes.GET /projects：未知字段 scopes",
        ),
        (SMALL.replace("scope: none", "scope: everything"), "roles.admin.scope：未知取值“everything”"),
        (SMALL.replace("admin:", "root:"), "roles：未知取值“root”"),
        (SMALL.replace(", none: []", ""), "reach 缺少数据范围：none"),
        (SMALL.replace("routes:", "paths:"), "权限矩阵文件缺少“routes”一节"),
        (SMALL + "  bad: [", "权限矩阵文件不是合法的 YAML"),
        (SMALL + "  GET /projects: {access: login}\n", "“GET /projects”重复声明（第 9 行）"),
        ("- a list", "权限矩阵文件 应为映射"),
    ],
)
def test_a_malformed_table_is_refused_naming_the_entry(text: str, message: str) -> None:
    with pytest.raises(pm.MatrixError) as err:
        pm.parse(text)
    assert message in str(err.value)


def test_the_small_table_parses() -> None:
    m = pm.parse(SMALL)
    assert m.roles[Role.ADMIN].permissions == frozenset({Permission.PROJECT_READ})
    assert list(m.routes) == ["GET /projects"] and m.routes["GET /projects"].scope is pm.Scope.NONE


def test_cli_writes_checks_and_reports_a_stale_doc(tmp_path: Path) -> None:
    out = tmp_path / "permissions.md"
    r = runner.invoke(app, ["docs", "permissions", "--table", str(TABLE), "--output", str(out), "--check"])
    assert r.exit_code == 1 and "不一致" in r.output and not out.exists()
    r = runner.invoke(app, ["docs", "permissions", "--table", str(TABLE), "--output", str(out)])
    assert r.exit_code == 0 and "已生成" in r.output
    assert out.read_text(encoding="utf-8") == DOC.read_text(encoding="utf-8")
    r = runner.invoke(app, ["docs", "permissions", "--table", str(TABLE), "--output", str(out), "--check"])
    assert r.exit_code == 0 and "是最新的" in r.output
    out.write_text(out.read_text(encoding="utf-8").replace("本组", "全部", 1), encoding="utf-8")
    r = runner.invoke(app, ["docs", "permissions", "--table", str(TABLE), "--output", str(out), "--check"])
    assert r.exit_code == 1


def test_cli_refuses_a_missing_or_malformed_table(tmp_path: Path) -> None:
    r = runner.invoke(app, ["docs", "permissions", "--table", str(tmp_path / "none.yaml")])
    assert r.exit_code == 2 and "找不到权限矩阵文件" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL.replace("project.read}", "project.raed}"), encoding="utf-8")
    r = runner.invoke(app, ["docs", "permissions", "--table", str(bad), "--output", str(tmp_path / "x.md")])
    assert r.exit_code == 2 and "未知取值“project.raed”" in r.output and not (tmp_path / "x.md").exists()


def test_cli_missing_prints_the_yaml_for_undeclared_routes_and_stale_entries(tmp_path: Path) -> None:
    r = runner.invoke(app, ["docs", "permissions", "--table", str(TABLE), "--missing"])
    assert r.exit_code == 0, r.output
    assert "每条路由都已" in r.output
    lines = TABLE.read_text(encoding="utf-8").splitlines()
    edited = [
        line
        for line in lines
        if not line.startswith(
            ("  POST /members/{member_id}/reveal:", "  GET /projects/{project_id}/households:")
        )
    ]
    edited = [
        line.replace("{access: audit.read}", "{access: audit.verify}")
        if line.startswith("  GET /audit:")
        else line
        for line in edited
    ]
    edited.append("  GET /no/such/route: {access: login}")
    table = tmp_path / "matrix.yaml"
    table.write_text("\n".join(edited) + "\n", encoding="utf-8")
    r = runner.invoke(app, ["docs", "permissions", "--table", str(table), "--missing"])
    assert r.exit_code == 1
    out = r.output.splitlines()
    assert "  GET /projects/{project_id}/households: {access: household.read, scope: project}" in out
    assert "  POST /members/{member_id}/reveal: {access: pii.read, scope: household, reads: true}" in out
    assert "  GET /audit: access audit.verify -> audit.read" in out
    assert "  GET /no/such/route" in out
    # pasting the printed lines back gives a table the app agrees with (apart from the edits undone)
    added = [line for line in out if line.startswith("  ") and line.endswith("}")]
    fixed = [line for line in edited if not line.startswith("  GET /no/such/route")]
    fixed = [
        line.replace("{access: audit.verify}", "{access: audit.read}")
        if line.startswith("  GET /audit:")
        else line
        for line in fixed
    ]
    table.write_text("\n".join(fixed + added) + "\n", encoding="utf-8")
    r = runner.invoke(app, ["docs", "permissions", "--table", str(table), "--missing"])
    assert r.exit_code == 0, r.output
