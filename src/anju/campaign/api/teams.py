"""JSON routes of the campaign: teams (专班, 大组 → 小组), members, 包户到人 and its history."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from anju.campaign import schemas as s
from anju.campaign import service as campaign_service
from anju.core.dates import today_shanghai
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import READ_ERRORS, WRITE_ERRORS, IdPath, error_responses

router = APIRouter(tags=["campaign"], responses=error_responses(*READ_ERRORS))
MANAGE = requires(Permission.CAMPAIGN_MANAGE)
READ = requires(Permission.CAMPAIGN_READ)


def team_reads(overview: campaign_service.TeamsOverview) -> list[s.TeamRead]:
    """The team tree of an overview as API shapes (with household counts)."""

    def one(n: campaign_service.TeamNode) -> s.TeamRead:
        return s.TeamRead(
            id=n.id,
            name=n.name,
            kind=n.kind,
            kind_label=campaign_service.TEAM_KINDS.get(n.kind, n.kind),
            parent_id=n.parent_id,
            leader_id=n.leader_id,
            leader_name=n.leader_name,
            sort=n.sort,
            version=n.version,
            households=overview.own.get(n.id, 0),
            households_total=overview.total.get(n.id, 0),
            members=[
                s.TeamMemberRead(
                    id=m.id,
                    username=m.username,
                    display_name=m.display_name,
                    role=m.role,
                    is_active=m.is_active,
                    households=overview.per_user.get(m.id, 0),
                )
                for m in n.members
            ],
            children=[one(c) for c in n.children],
        )

    return [one(n) for n in overview.tree]


@router.get("/projects/{project_id}/teams", response_model=s.TeamsRead)
def list_teams(
    project_id: IdPath, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> s.TeamsRead:
    """The project's teams as a tree (大组 → 小组) with leaders, members and household counts."""
    overview = campaign_service.teams_overview(db, project_id=project_id)
    return s.TeamsRead(
        teams=team_reads(overview), households=overview.households, unassigned=overview.unassigned
    )


@router.post(
    "/projects/{project_id}/teams",
    response_model=s.TeamSaved,
    status_code=201,
    responses=error_responses(409),
)
def create_team(
    project_id: IdPath,
    body: s.TeamCreate,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> s.TeamSaved:
    """Create a team (a 大组, or a 小组 optionally under a 大组); a name the project has is a 409."""
    team = campaign_service.create_team(
        db,
        actor=user.actor(client_ip(request)),
        project_id=project_id,
        name=body.name,
        kind=body.kind,
        parent_id=body.parent_id,
        leader_id=body.leader_id,
        sort=body.sort,
    )
    return s.TeamSaved(id=team.id, version=team.version)


@router.patch("/teams/{team_id}", response_model=s.TeamSaved, responses=error_responses(409))
def update_team(
    team_id: IdPath,
    body: s.TeamUpdate,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> s.TeamSaved:
    """Change a team's name, kind, parent, leader or sort; a stale ``version`` is a 409 ``stale_version``."""
    changes = campaign_service.update_team(
        db,
        actor=user.actor(client_ip(request)),
        team_id=team_id,
        values=body.values(),
        expected_version=body.version,
    )
    return s.TeamSaved(
        id=team_id, version=campaign_service.team_version(db, team_id=team_id), changes=changes
    )


@router.post("/teams/{team_id}/dissolve", response_model=s.TeamDissolved, responses=error_responses(409))
def dissolve_team(
    team_id: IdPath,
    body: s.TeamDissolve,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> s.TeamDissolved:
    """解散专班: delete a team that never carried a household nor logged a visit; its members are
    then in no team (audited). A team with 小组, households it carries, assignment history or
    visits is a 409 ``team_in_use`` naming how many (its history is kept: reassign its households
    to another team instead); a stale ``version`` is a 409 ``stale_version``."""
    result = campaign_service.dissolve_team(
        db,
        actor=user.actor(client_ip(request)),
        team_id=team_id,
        expected_version=body.version,
        reason=body.reason,
    )
    return s.TeamDissolved(id=result["id"], name=result["name"], members=result["members"])


@router.put("/teams/{team_id}/members", response_model=s.TeamMembersRead, responses=error_responses(409))
def put_members(
    team_id: IdPath,
    body: s.TeamMembersPut,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> s.TeamMembersRead:
    """Set the team's members (a user is in one team: one from another team moves; audited).

    The households a person carries (包户到人) follow them into this team; those of a person who
    leaves stay with this team without a responsible person. ``households`` lists the households
    whose assignment changed (new assignment rows with history, reason 人员调整)."""
    result = campaign_service.set_team_members(
        db,
        actor=user.actor(client_ip(request)),
        team_id=team_id,
        user_ids=body.user_ids,
        expected_version=body.version,
    )
    return s.TeamMembersRead(
        added=result["added"],
        removed=result["removed"],
        households=result["households"],
        version=campaign_service.team_version(db, team_id=team_id),
    )


@router.post(
    "/projects/{project_id}/assignments",
    response_model=s.AssignmentResultRead,
    responses=error_responses(409),
)
def assign(
    project_id: IdPath,
    body: s.AssignmentCreate,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> s.AssignmentResultRead:
    """包户到人 in bulk: ``household_ids`` and/or a whole block; a reassignment ends the old
    assignment and keeps it. A household that is not a live household of the project in the
    caller's scope, or an unknown team or person, is a 404; a person outside the team a 409."""
    result = campaign_service.bulk_assign(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        project_id=project_id,
        team_id=body.team_id,
        user_id=body.user_id,
        on=today_shanghai(),
        household_ids=body.household_ids if body.block_id is not None else body.household_ids or [],
        block_id=body.block_id,
        reason=body.reason,
    )
    return s.AssignmentResultRead(households=result.households, changed=result.changed)


@router.post(
    "/projects/{project_id}/assignments/import",
    response_model=s.AssignmentImportRead,
    responses=error_responses(*WRITE_ERRORS, 413),
)
async def import_assignments(
    project_id: IdPath,
    request: Request,
    dry_run: bool = True,
    file: UploadFile = File(..., description="包户名单 .xlsx：列 户编号、专班、责任人（用户名或姓名）"),
    reason: str = Form("", max_length=500),
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> s.AssignmentImportRead:
    """Check (``dry_run=true``, the default: every problem listed, nothing written) or import an
    assignment list, all or nothing (any problem: 422 with every row's problem in ``details``)."""
    content = await file.read()
    filename = file.filename or "assignments.xlsx"
    actor = user.actor(client_ip(request))

    def work() -> s.AssignmentImportRead:
        rows = campaign_service.read_assignment_sheet(content, filename)
        if dry_run:
            check = campaign_service.check_assignment_rows(
                db, scope=user.scope, project_id=project_id, rows=rows
            )
            changed = 0
        else:
            check, changed = campaign_service.import_assignments(
                db,
                actor=actor,
                scope=user.scope,
                project_id=project_id,
                rows=rows,
                on=today_shanghai(),
                reason=reason,
            )
        return s.AssignmentImportRead(
            dry_run=dry_run,
            ok=check.ok,
            rows=[s.AssignmentImportRowRead.model_validate(r) for r in check.rows],
            problems=[
                s.AssignmentProblemRead(row=p.row, column=p.column, message=p.message) for p in check.problems
            ],
            changed=changed,
        )

    return await run_in_threadpool(work)


@router.get("/households/{household_id}/assignments", response_model=list[s.AssignmentStepRead])
def assignment_history(
    household_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> list[s.AssignmentStepRead]:
    """The household's assignments, newest first: when, by whom, from → to, and why."""
    return [
        s.AssignmentStepRead.model_validate(step)
        for step in campaign_service.assignment_history(db, scope=user.scope, household_id=household_id)
    ]
