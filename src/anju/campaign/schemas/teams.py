"""Pydantic shapes of the campaign API: teams (专班) and 包户到人 assignments."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from anju.web.params import MAX_ID, PARAM_LABELS, NotNull, TextRule

__all__ = [
    "AssignmentCreate",
    "AssignmentImportRead",
    "AssignmentImportRowRead",
    "AssignmentProblemRead",
    "AssignmentResultRead",
    "AssignmentStepRead",
    "TeamCreate",
    "TeamDissolve",
    "TeamDissolved",
    "TeamMemberRead",
    "TeamMembersPut",
    "TeamMembersRead",
    "TeamRead",
    "TeamSaved",
    "TeamUpdate",
    "TeamsRead",
]


# --- teams and assignments ----------------------------------------------------------------
for _name, _label in {
    "team_id": "专班编号",
    "parent_id": "上级大组",
    "leader_id": "组长",
    "user_ids": "专班成员",
    "household_ids": "户编号列表",
    "kind": "专班类型",
    "sort": "排序",
    "dry_run": "仅校验",
    "unassigned": "仅未分配",
}.items():
    PARAM_LABELS.setdefault(_name, _label)

_TeamId = Annotated[int, Field(ge=1, le=MAX_ID)]
_TeamName = Annotated[str, TextRule("专班名称", 64, required=True)]
_TeamKind = Literal["group", "squad"]
_TeamSort = Annotated[int, Field(ge=0, le=1_000_000)]
_AssignReason = Annotated[str, TextRule("理由", 500, multiline=True)]


class TeamCreate(BaseModel):
    """A new team: ``kind`` group (大组) or squad (小组, optionally under a 大组 ``parent_id``);
    ``leader_id`` a 专班组长 user, who joins the team."""

    model_config = ConfigDict(extra="forbid")

    name: _TeamName
    kind: _TeamKind = "squad"
    parent_id: _TeamId | None = None
    leader_id: _TeamId | None = None
    sort: _TeamSort = 0


class TeamUpdate(BaseModel):
    """Change a team: only the fields sent change (``parent_id``/``leader_id`` null clears them);
    ``version`` as read (a stale one is a 409)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[_TeamName | None, NotNull("专班名称")] = None
    kind: Annotated[_TeamKind | None, NotNull("专班类型")] = None
    parent_id: _TeamId | None = None
    leader_id: _TeamId | None = None
    sort: Annotated[_TeamSort | None, NotNull("排序")] = None
    version: Annotated[
        int, Field(ge=1, le=2**31 - 1, description="The team's version as read; a stale one is a 409.")
    ]

    def values(self) -> dict[str, Any]:
        """The fields sent, without ``version``."""
        return {k: getattr(self, k) for k in self.model_fields_set if k != "version"}


class TeamMembersPut(BaseModel):
    """The team's members after the change (专班组长 / 专班成员 users; others leave the team)."""

    model_config = ConfigDict(extra="forbid")

    user_ids: Annotated[list[_TeamId], Field(max_length=1000)]
    version: Annotated[int | None, Field(ge=1, le=2**31 - 1, description="The team's version as read.")] = (
        None
    )


class TeamMemberRead(BaseModel):
    """A member of a team."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: str
    is_active: bool
    households: int = 0


class TeamRead(BaseModel):
    """A team with its members, household counts and (for a 大组) its 小组."""

    id: int
    name: str
    kind: str
    kind_label: str
    parent_id: int | None
    leader_id: int | None
    leader_name: str
    sort: int
    version: int
    households: int  # live households assigned to this team itself
    households_total: int  # with its 小组
    members: list[TeamMemberRead]
    children: list[TeamRead] = []


class TeamsRead(BaseModel):
    """A project's team tree and its assignment counts."""

    teams: list[TeamRead]
    households: int
    unassigned: int


class TeamSaved(BaseModel):
    """A team written: its id, its version, and the audited diff (updates)."""

    id: int
    version: int
    changes: dict[str, list[Any]] = {}


class TeamDissolve(BaseModel):
    """解散专班: the team's ``version`` as read (optional; a stale one is a 409) and a reason."""

    model_config = ConfigDict(extra="forbid")

    version: Annotated[int | None, Field(ge=1, le=2**31 - 1, description="The team's version as read.")] = (
        None
    )
    reason: _AssignReason = ""


class TeamDissolved(BaseModel):
    """A dissolved (deleted) team: its id and name, and the members who are now in no team."""

    id: int
    name: str
    members: list[int]


class TeamMembersRead(BaseModel):
    """Who joined and who left the team, and the households whose assignment changed with them
    (a person's households follow them into the team; those of a person who left stay with the
    team without a responsible person; reason 人员调整)."""

    added: list[int]
    removed: list[int]
    households: list[int] = Field(description="随人员调整改派的户（编号）")
    version: int


class AssignmentCreate(BaseModel):
    """包户到人 in bulk: ``household_ids`` and/or ``block_id`` (every live household of the block and
    its sub-blocks), to ``team_id`` and/or ``user_id`` (a person of the team; alone: the person's
    team). Neither team nor person ends the households' assignments. ``reason`` is kept in the history."""

    model_config = ConfigDict(extra="forbid")

    household_ids: Annotated[list[_TeamId] | None, Field(max_length=5000)] = None
    block_id: _TeamId | None = None
    team_id: _TeamId | None = None
    user_id: _TeamId | None = None
    reason: _AssignReason = ""


class AssignmentResultRead(BaseModel):
    """Households named, and those whose assignment changed (the others already were so)."""

    households: int
    changed: int


class AssignmentImportRowRead(BaseModel):
    """A checked row of an assignment list: the household, its new and its previous assignment."""

    model_config = ConfigDict(from_attributes=True)

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


class AssignmentProblemRead(BaseModel):
    """A problem of an assignment list: row number, column, and the Chinese message."""

    row: int
    column: str
    message: str


class AssignmentImportRead(BaseModel):
    """The check (``dry_run``) or the import of an assignment list."""

    dry_run: bool
    ok: bool
    rows: list[AssignmentImportRowRead]
    problems: list[AssignmentProblemRead]
    changed: int


class AssignmentStepRead(BaseModel):
    """One step of a household's assignment history (newest first)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    assigned_on: date
    ended_on: date | None
    active: bool
    team_id: int | None
    team_name: str
    user_id: int | None
    user_name: str
    from_team_id: int | None
    from_team_name: str
    from_user_id: int | None
    from_user_name: str
    assigned_by: int | None
    assigned_by_name: str
    reason: str
