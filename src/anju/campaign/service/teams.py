"""Campaign service part: teams (专班 / 攻坚小组, 大组 → 小组), their members, and 包户到人.

Teams and assignments are identity records (data scopes read them); this part adds what the
campaign needs on top: households checked against the project and the caller's scope, bulk
assignment by block or by selection, the xlsx list (户编号, 专班, 责任人) checked row by row
before anything is written, counts per team and person, and a household's assignment history.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju import uploads as upload_policy
from anju.campaign.models import Visit
from anju.core import text
from anju.core import uploads as core_uploads
from anju.core.actor import Actor
from anju.core.pagination import Page, PageRequest
from anju.errors import NotFound, ValidationFailed
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.identity.service import AssignmentStep, DataScope, TeamNode
from anju.project import service as project_service

__all__ = [
    "MAX_SHEET_ROWS",
    "TEAM_KINDS",
    "AssignResult",
    "AssignmentCandidate",
    "AssignmentImportCheck",
    "AssignmentSheetRow",
    "AssignmentStep",
    "ImportProblem",
    "ResolvedAssignment",
    "TeamNode",
    "TeamsOverview",
    "assignment_candidates",
    "assignment_history",
    "assignment_map",
    "assignment_template",
    "bulk_assign",
    "check_assignment_rows",
    "create_team",
    "dissolve_team",
    "import_assignments",
    "read_assignment_sheet",
    "set_team_members",
    "team_project",
    "team_tree",
    "team_version",
    "teams_overview",
    "update_team",
]

TEAM_KINDS = identity_service.TEAM_KINDS
MAX_SHEET_ROWS = 20_000  # data rows of one assignment list
_MAX_CELL = 64  # characters of a code, team name or person name


# ---------------------------------------------------------------- teams


def create_team(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    name: str,
    kind: str = "squad",
    parent_id: int | None = None,
    leader_id: int | None = None,
    sort: int = 0,
) -> Any:
    """Create a team of the project (see :func:`anju.identity.service.create_team`)."""
    return identity_service.create_team(
        session,
        actor=actor,
        project_id=project_id,
        name=name,
        kind=kind,
        parent_id=parent_id,
        leader_id=leader_id,
        sort=sort,
    )


def update_team(
    session: Session,
    *,
    actor: Actor,
    team_id: int,
    values: dict[str, Any],
    expected_version: int | None = None,
) -> dict[str, list[Any]]:
    """Change a team (see :func:`anju.identity.service.update_team`)."""
    return identity_service.update_team(
        session, actor=actor, team_id=team_id, values=values, expected_version=expected_version
    )


def set_team_members(
    session: Session,
    *,
    actor: Actor,
    team_id: int,
    user_ids: Sequence[int],
    expected_version: int | None = None,
) -> dict[str, list[int]]:
    """Set a team's members (see :func:`anju.identity.service.set_team_members`)."""
    return identity_service.set_team_members(
        session, actor=actor, team_id=team_id, user_ids=user_ids, expected_version=expected_version
    )


def dissolve_team(
    session: Session,
    *,
    actor: Actor,
    team_id: int,
    expected_version: int | None = None,
    reason: str = "",
) -> dict[str, Any]:
    """解散专班: delete a team that never carried a household nor logged a visit; its members
    become teamless (see :func:`anju.identity.service.delete_team`). A team with 小组, households,
    assignment history or visits is a 409 ``team_in_use`` naming how many; audited."""
    visits = int(session.scalar(select(func.count()).select_from(Visit).where(Visit.team_id == team_id)) or 0)
    return identity_service.delete_team(
        session,
        actor=actor,
        team_id=team_id,
        expected_version=expected_version,
        other_uses=[f"走访记录 {visits} 条"] if visits else [],
        reason=reason,
    )


def team_project(session: Session, *, team_id: int) -> int:
    """The project of a team (404 for an unknown team)."""
    return int(identity_service.get_team(session, team_id).project_id)


def team_version(session: Session, *, team_id: int) -> int:
    """A team's current version (what a client sends back with its next change)."""
    return int(identity_service.get_team(session, team_id).version)


def team_tree(session: Session, *, project_id: int) -> list[TeamNode]:
    """The project's teams as a tree (大组 → 小组) with leaders and members."""
    return identity_service.team_tree(session, project_id=project_id)


def assignment_map(session: Session, *, project_id: int) -> dict[int, tuple[int | None, int | None]]:
    """``household id -> (team id, user id)`` of the project's active assignments."""
    return identity_service.assignment_map(session, project_id=project_id)


@dataclass
class TeamsOverview:
    """What the teams page shows: the tree, live-household counts per team (own, and with its
    小组) and per person, the unassigned count, and the users a team can take."""

    tree: list[TeamNode]
    own: dict[int, int]  # team id -> live households assigned to exactly this team
    total: dict[int, int]  # team id -> with its 小组
    per_user: dict[int, int]  # user id -> live households the person carries
    team_only: dict[int, int]  # team id -> households of the team without a responsible person
    unassigned: int
    households: int
    users: list[Any]  # 专班组长 / 专班成员 users (id, username, display_name, role, team_id)
    team_names: dict[int, str]


def teams_overview(session: Session, *, project_id: int) -> TeamsOverview:
    """Teams and their household counts (live households only) for the teams page."""
    project_service.get_project(session, project_id)
    tree = team_tree(session, project_id=project_id)
    live = [f[0] for f in household_service.campaign_facts(session, project_id=project_id)]
    amap = assignment_map(session, project_id=project_id)
    own: dict[int, int] = {}
    per_user: dict[int, int] = {}
    team_only: dict[int, int] = {}
    unassigned = 0
    for hid in live:
        team_id, user_id = amap.get(hid, (None, None))
        if team_id is None:
            unassigned += 1
            continue
        own[team_id] = own.get(team_id, 0) + 1
        if user_id is None:
            team_only[team_id] = team_only.get(team_id, 0) + 1
        else:
            per_user[user_id] = per_user.get(user_id, 0) + 1
    total = {n.id: sum(own.get(i, 0) for i in n.ids()) for root in tree for n in root.walk()}
    names = {n.id: n.name for root in tree for n in root.walk()}
    return TeamsOverview(
        tree,
        own,
        total,
        per_user,
        team_only,
        unassigned,
        len(live),
        identity_service.team_users(session),
        names,
    )


# ---------------------------------------------------------------- choosing households


@dataclass(frozen=True, slots=True)
class AssignmentCandidate:
    """A household of the selection list with its current team and responsible person."""

    id: int
    code: str
    head_name: str
    address: str
    status: str
    block_path: str
    team_id: int | None
    team_name: str
    user_id: int | None
    user_name: str


def assignment_candidates(
    session: Session,
    *,
    scope: DataScope,
    project_id: int,
    block_id: int | None = None,
    team_id: int | None = None,
    unassigned: bool = False,
    q: str = "",
    page: PageRequest | None = None,
) -> Page[AssignmentCandidate]:
    """A page of the project's households to choose from: by block (with its sub-blocks), by team
    (with its 小组), or only the unassigned ones; ``q`` searches code, names and address."""
    filtered = identity_service.narrowed(scope, team_id=team_id, unassigned=unassigned)
    result = household_service.list_households(
        session,
        scope=filtered,
        project_id=project_id,
        q=q,
        block_id=block_id,
        sort="code",
        page=page or PageRequest(size=50),
    )
    current = identity_service.active_assignments(session, [r.id for r in result.items])
    teams = identity_service.team_names(session, project_id)
    people = identity_service.user_names(session) if current else {}
    items = []
    for r in result.items:
        t, u = current.get(r.id, (None, None))
        items.append(
            AssignmentCandidate(
                r.id,
                r.code,
                r.head_name,
                r.address,
                r.status,
                r.block_path,
                t,
                teams.get(t, "") if t is not None else "",
                u,
                people.get(u, "") if u is not None else "",
            )
        )
    return Page(items=items, total=result.total, page=result.page, size=result.size)


@dataclass(frozen=True, slots=True)
class AssignResult:
    """Outcome of a bulk assignment: households named and households whose assignment changed."""

    households: int
    changed: int


def _live_ids(
    session: Session, *, scope: DataScope, project_id: int, household_ids: Sequence[int]
) -> set[int]:
    narrowed = identity_service.narrowed(scope, household_ids=household_ids)
    return {f[0] for f in household_service.campaign_facts(session, project_id=project_id, scope=narrowed)}


def bulk_assign(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    project_id: int,
    team_id: int | None,
    user_id: int | None,
    on: date,
    household_ids: Sequence[int] | None = None,
    block_id: int | None = None,
    reason: str = "",
) -> AssignResult:
    """包户到人 in bulk: the given households and/or every live household of a block and its
    sub-blocks, to a team and (optionally) a person of it; audited, reassignments keep history.

    Every household named must be a live household of the project within the caller's scope
    (else 404 and nothing is written); an empty selection changes nothing. No team and no person
    ends the households' assignments.
    """
    project_service.get_project(session, project_id)
    if household_ids is None and block_id is None:
        msg = "请选择要分配的户，或指定一个区块"
        raise ValidationFailed(
            msg, "give household_ids or block_id", details=[{"field": "household_ids", "message": msg}]
        )
    ids: list[int] = []
    if block_id is not None:
        blocks = project_service.descendant_block_ids(session, block_id, project_id)
        if not blocks:
            msg = "区块不存在或不属于本项目"
            raise NotFound(msg, "block not found", details=[{"field": "block_id", "message": msg}])
        ids = [
            h.id
            for h in household_service.placed_households(
                session, scope=scope, project_id=project_id, block_ids=blocks
            )
        ]
    named = list(dict.fromkeys(household_ids or []))
    if named:
        live = _live_ids(session, scope=scope, project_id=project_id, household_ids=named)
        missing = [h for h in named if h not in live]
        if missing:
            shown = "、".join(str(h) for h in missing[:10]) + ("等" if len(missing) > 10 else "")
            msg = f"{len(missing)} 户不存在、已作废、不属于本项目或不在您的权限范围内（编号 {shown}），未分配任何户"
            raise NotFound(
                msg,
                "households not found",
                details=[{"field": "household_ids", "message": msg, "ids": missing[:100]}],
            )
        ids = list(dict.fromkeys([*ids, *named]))
    changed = identity_service.assign_households(
        session,
        actor=actor,
        household_ids=ids,
        team_id=team_id,
        user_id=user_id,
        on=on,
        project_id=project_id,
        reason=reason,
    )
    return AssignResult(households=len(ids), changed=changed)


def assignment_history(session: Session, *, scope: DataScope, household_id: int) -> list[AssignmentStep]:
    """A household's assignments, newest first: when, by whom, from → to, why (404 outside scope)."""
    household_service.get_household(session, scope=scope, household_id=household_id)
    return identity_service.assignment_steps(session, household_id=household_id)


# ---------------------------------------------------------------- the xlsx list

# Header names (after removing spaces and marks) -> column key.
_HEADERS = {
    "户编号": "code",
    "户号": "code",
    "专班": "team",
    "专班名称": "team",
    "攻坚小组": "team",
    "责任人": "user",
    "包户责任人": "user",
    "包户人": "user",
}
_COLUMN_LABELS = {"code": "户编号", "team": "专班", "user": "责任人"}


@dataclass(frozen=True, slots=True)
class AssignmentSheetRow:
    """One data row of an assignment list, as typed (``row`` is the spreadsheet's row number)."""

    row: int
    code: str
    team: str
    user: str


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """A problem of one cell: row number, column name, what is wrong (Chinese)."""

    row: int
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """The problem as an error detail."""
        return {
            "row": self.row,
            "column": self.column,
            "message": f"第 {self.row} 行“{self.column}”：{self.message}",
            "problem": self.message,
        }


@dataclass(frozen=True, slots=True)
class ResolvedAssignment:
    """A checked row: the household, its new team and person, and what it had before."""

    row: int
    household_id: int
    code: str
    head_name: str
    team_id: int
    team_name: str
    user_id: int | None
    user_name: str
    from_team_name: str
    from_user_name: str

    @property
    def unchanged(self) -> bool:
        """Whether the household is already assigned exactly so."""
        return self.from_team_name == self.team_name and self.from_user_name == self.user_name


@dataclass
class AssignmentImportCheck:
    """The result of checking an assignment list: resolved rows, and every problem found."""

    rows: list[ResolvedAssignment] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the list can be imported."""
        return not self.problems and bool(self.rows)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _header_key(value: Any) -> str | None:
    name = re.split(r"[（(]", unicodedata.normalize("NFKC", _cell(value)))[0]
    return _HEADERS.get(re.sub(r"[\s*＊]", "", name))


def read_assignment_sheet(data: bytes, filename: str) -> list[AssignmentSheetRow]:
    """The rows of an assignment list (first sheet; columns 户编号, 专班, 责任人 in any order,
    under a header row). The upload is inspected before it is parsed. Raises
    :class:`ValidationFailed` when the header or the rows are missing."""
    filename = core_uploads.safe_filename(filename, "assignments.xlsx")
    grid = upload_policy.first_sheet(data, filename, unreadable="无法读取该文件，请上传 .xlsx 格式的包户名单")
    header_at = None
    columns: dict[str, int] = {}
    for i, row in enumerate(grid[:20]):
        keys = {k: j for j, v in enumerate(row) if (k := _header_key(v)) is not None}
        if "code" in keys:
            header_at, columns = i, {k: keys[k] for k in ("code", "team", "user") if k in keys}
            break
    if header_at is None:
        msg = "找不到表头：第一张工作表须有“户编号”列，以及“专班”和/或“责任人”列"
        raise ValidationFailed(
            msg, "header not found", details=[{"row": 1, "column": "户编号", "message": msg}]
        )
    if "team" not in columns and "user" not in columns:
        msg = f"第 {header_at + 1} 行表头缺少“专班”或“责任人”列（至少一列）"
        raise ValidationFailed(
            msg,
            "team or user column missing",
            details=[{"row": header_at + 1, "column": "专班", "message": msg}],
        )
    out: list[AssignmentSheetRow] = []
    for i, row in enumerate(grid[header_at + 1 :], start=header_at + 2):

        def at(key: str, row: list[Any] = row) -> str:
            j = columns.get(key)
            return _cell(row[j]) if j is not None and j < len(row) else ""

        code, team, user = at("code"), at("team"), at("user")
        if not (code or team or user):
            continue
        out.append(AssignmentSheetRow(i, code, team, user))
        if len(out) > MAX_SHEET_ROWS:
            msg = f"包户名单最多 {MAX_SHEET_ROWS} 行，请分批导入"
            raise ValidationFailed(
                msg, "too many rows", details=[{"row": i, "column": "户编号", "message": msg}]
            )
    if not out:
        msg = "名单中没有数据行"
        raise ValidationFailed(
            msg, "no rows", details=[{"row": header_at + 2, "column": "户编号", "message": msg}]
        )
    return out


def check_assignment_rows(
    session: Session, *, scope: DataScope, project_id: int, rows: Sequence[AssignmentSheetRow]
) -> AssignmentImportCheck:
    """Check every row of an assignment list against the project (nothing is written).

    Each problem names its row, column and what is wrong: an unknown, voided or out-of-scope
    household code, a code listed twice, an unknown team, a person unknown, ambiguous by name,
    not a team user, or not in the row's team, a row with neither team nor person.
    """
    project_service.get_project(session, project_id)
    check = AssignmentImportCheck()
    problems = check.problems
    codes = [r.code for r in rows if r.code]
    by_code = household_service.household_ids_by_code(session, project_id=project_id, codes=codes)
    live = _live_ids(session, scope=scope, project_id=project_id, household_ids=list(by_code.values()))
    teams = {t.name: t for t in identity_service.list_teams(session, project_id=project_id)}
    team_names = {t.id: t.name for t in teams.values()}
    people = identity_service.team_users(session)
    by_username = {u.username: u for u in people}
    by_name: dict[str, list[Any]] = {}
    for u in people:
        by_name.setdefault(u.display_name, []).append(u)
    labels = household_service.household_labels(session, household_ids=list(live))
    current = identity_service.active_assignments(session, sorted(live))
    user_names = identity_service.user_names(session)
    first_row: dict[str, int] = {}
    for r in rows:
        before = len(problems)
        household_id = None
        for column, value in (("户编号", r.code), ("专班", r.team), ("责任人", r.user)):
            if found := text.text_problem(value, max_len=_MAX_CELL):
                problems.append(ImportProblem(r.row, column, found))
        if len(problems) > before:
            continue
        if not r.code:
            problems.append(ImportProblem(r.row, "户编号", "不能为空"))
        elif r.code in first_row:
            problems.append(ImportProblem(r.row, "户编号", f"“{r.code}”与第 {first_row[r.code]} 行重复"))
        elif (hid := by_code.get(r.code)) is None or hid not in live:
            problems.append(
                ImportProblem(
                    r.row, "户编号", f"本项目没有户编号为“{r.code}”的户（或已作废、不在您的权限范围内）"
                )
            )
        else:
            household_id = hid
        if r.code and r.code not in first_row:
            first_row[r.code] = r.row
        team = None
        if r.team:
            team = teams.get(r.team)
            if team is None:
                problems.append(ImportProblem(r.row, "专班", f"本项目没有名为“{r.team}”的专班"))
        person = None
        if r.user:
            person = by_username.get(r.user)
            if person is None:
                named = by_name.get(r.user, [])
                if len(named) > 1:
                    problems.append(
                        ImportProblem(
                            r.row, "责任人", f"姓名“{r.user}”对应 {len(named)} 个用户，请填写用户名"
                        )
                    )
                elif named:
                    person = named[0]
                else:
                    problems.append(
                        ImportProblem(r.row, "责任人", f"找不到用户名或姓名为“{r.user}”的专班组长或专班成员")
                    )
        if not r.team and not r.user:
            problems.append(ImportProblem(r.row, "专班", "专班和责任人不能都为空"))
        if person is not None:
            if team is None and not r.team:
                if person.team_id is None or person.team_id not in team_names:
                    problems.append(
                        ImportProblem(
                            r.row, "责任人", f"“{person.display_name}”不属于本项目的任何专班，请填写专班"
                        )
                    )
                else:
                    team = teams[team_names[person.team_id]]
            elif team is not None and person.team_id != team.id and team.leader_id != person.id:
                problems.append(
                    ImportProblem(r.row, "责任人", f"“{person.display_name}”不是“{team.name}”的成员")
                )
        if len(problems) == before and household_id is not None and team is not None:
            old_team, old_user = current.get(household_id, (None, None))
            check.rows.append(
                ResolvedAssignment(
                    row=r.row,
                    household_id=household_id,
                    code=r.code,
                    head_name=labels.get(household_id, ("", ""))[1],
                    team_id=team.id,
                    team_name=team.name,
                    user_id=person.id if person is not None else None,
                    user_name=person.display_name if person is not None else "",
                    from_team_name=team_names.get(old_team, "") if old_team is not None else "",
                    from_user_name=user_names.get(old_user, "") if old_user is not None else "",
                )
            )
    return check


def import_assignments(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    project_id: int,
    rows: Sequence[AssignmentSheetRow],
    on: date,
    reason: str = "",
) -> tuple[AssignmentImportCheck, int]:
    """Import an assignment list, all or nothing: checked again here, and any problem refuses the
    whole list (:class:`ValidationFailed` with every problem in ``details``). Returns the check and
    how many households changed."""
    check = check_assignment_rows(session, scope=scope, project_id=project_id, rows=rows)
    if check.problems:
        n = len(check.problems)
        first = "；".join(p.as_dict()["message"] for p in check.problems[:3])
        raise ValidationFailed(
            f"包户名单有 {n} 处错误，未导入任何一户：{first}" + ("……" if n > 3 else ""),
            f"{n} problems in the assignment list; nothing imported",
            details=[p.as_dict() for p in check.problems],
        )
    groups: dict[tuple[int, int | None], list[int]] = {}
    for r in check.rows:
        groups.setdefault((r.team_id, r.user_id), []).append(r.household_id)
    changed = 0
    for (team_id, user_id), ids in groups.items():
        changed += identity_service.assign_households(
            session,
            actor=actor,
            household_ids=ids,
            team_id=team_id,
            user_id=user_id,
            on=on,
            project_id=project_id,
            reason=reason,
        )
    return check, changed


def assignment_template() -> bytes:
    """An empty assignment list (包户名单) with its header and two example rows."""
    import xlsxwriter

    out = io.BytesIO()
    # Text stays text (no formulas, links or numbers from typed names), as in every workbook Anju writes.
    wb = xlsxwriter.Workbook(
        out,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    ws = wb.add_worksheet("包户名单")
    head = wb.add_format({"bold": True, "bg_color": "#F3E3E1", "border": 1})
    for j, (title, width) in enumerate((("户编号", 16), ("专班", 22), ("责任人", 22))):
        ws.write(0, j, title, head)
        ws.set_column(j, j, width)
    ws.write_row(1, 0, ["LJ0001", "李家村一组", "zuyuan"])
    ws.write_row(2, 0, ["LJ0002", "李家村一组", ""])
    ws.write(0, 4, "说明：责任人填用户名或姓名；只填专班则包户到专班；只填责任人则用其所在专班。")
    wb.close()
    return out.getvalue()
