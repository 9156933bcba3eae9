"""The demo's campaign: teams (大组 → 小组) with their people, parcels drawn on a fictional map,
and three weeks of campaign history written through the campaign services (visits, stages,
hard cases with plans, issued dispatch reports), so every campaign page is populated on first start.
"""

from __future__ import annotations

import json
import math
import random
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from anju.campaign import service as campaign_service
from anju.core.actor import Actor
from anju.demo.agreements import DemoSigning
from anju.demo.campaign_plan import DemoHousehold, Pace, plan_campaign
from anju.identity import service as identity_service
from anju.project import service as project_service
from anju.reporting import service as reporting_service

EVERYTHING = identity_service.DataScope.everything()
RECORDED = ("signed", "vacated", "demolished")  # stages set by their records, not by a move by hand

# (lon0, lat0, lon1, lat1) of the fictional town on the map; villages west to east, areas south.
TOWN = (120.080, 30.240, 120.140, 30.262)
SHANTY = (120.100, 30.226, 120.128, 30.238)


Rect = tuple[float, float, float, float]


def polygon(rect: Rect) -> str:
    """A GeoJSON Polygon geometry (text) of a lon/lat rectangle."""
    x0, y0, x1, y1 = (round(v, 6) for v in rect)
    return json.dumps(
        {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}
    )


def split(rect: Rect, parts: int, index: int, *, horizontal: bool, gap: float = 0.0006) -> Rect:
    """Part ``index`` of ``parts`` equal slices of ``rect`` (side by side or stacked), with a gap."""
    x0, y0, x1, y1 = rect
    if horizontal:
        w = (x1 - x0) / parts
        return (x0 + index * w + gap / 2, y0, x0 + (index + 1) * w - gap / 2, y1)
    h = (y1 - y0) / parts
    return (x0, y1 - (index + 1) * h + gap / 2, x1, y1 - index * h - gap / 2)


def lots(rect: Rect, n: int) -> list[Rect]:
    """``n`` house lots in a grid filling ``rect`` (rows of small rectangles with lanes between)."""
    if n <= 0:
        return []
    x0, y0, x1, y1 = rect
    cols = max(1, math.ceil(math.sqrt(n * (x1 - x0) / max(1e-9, y1 - y0))))
    rows = math.ceil(n / cols)
    w, h = (x1 - x0) / cols, (y1 - y0) / rows
    out = []
    for i in range(n):
        r, c = divmod(i, cols)
        out.append(
            (
                x0 + c * w + w * 0.08,
                y1 - (r + 1) * h + h * 0.1,
                x0 + (c + 1) * w - w * 0.08,
                y1 - r * h - h * 0.1,
            )
        )
    return out


def village_rect(index: int, count: int) -> Rect:
    """The rectangle of the ``index``-th village of the rural project."""
    return split(TOWN, count, index, horizontal=True, gap=0.002)


def group_rect(village: Rect, index: int, count: int) -> Rect:
    """The rectangle of a village's ``index``-th group (stacked north to south)."""
    return split(village, count, index, horizontal=False, gap=0.0008)


def area_rect(index: int, count: int) -> Rect:
    """The rectangle of the shantytown project's ``index``-th area."""
    return split(SHANTY, count, index, horizontal=True, gap=0.002)


@dataclass
class DemoProject:
    """A demo project as the campaign needs it."""

    id: int
    signing_start: date
    launched_on: date
    households: list[tuple[int, str, str]]  # (id, code, block code)
    block_rects: dict[str, Rect]
    block_ids: dict[str, int]
    paces: dict[str, Pace]
    complete_groups: tuple[str, ...] = ()
    hard_cases: int = 6
    teams: dict[str, int] = field(default_factory=dict)  # household group prefix -> team id


def draw_parcels(session: Session, *, actor: Actor, project: DemoProject) -> int:
    """One parcel (宗地) per household, laid out in its block's rectangle and linked to the household,
    imported as one GeoJSON file (the office's own path for a surveyed parcel map: one write, one
    audit append, instead of a parcel at a time)."""
    by_block: dict[str, list[tuple[int, str]]] = {}
    for hid, code, block in project.households:
        by_block.setdefault(block, []).append((hid, code))
    features = []
    for block, members in sorted(by_block.items()):
        rect = project.block_rects.get(block)
        if rect is None:
            continue
        for (_hid, code), lot in zip(members, lots(rect, len(members)), strict=True):
            features.append(
                {
                    "type": "Feature",
                    "properties": {"code": f"ZD-{code}", "block_code": block, "household_code": code},
                    "geometry": json.loads(polygon(lot)),
                }
            )
    if not features:
        return 0
    content = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    done = project_service.import_parcels(
        session,
        actor=actor,
        project_id=project.id,
        content=content.encode(),
        filename="demo-parcels.geojson",
        reason="示例数据：宗地图",
    )
    return done.households_linked


def _actor_of(session: Session, user_id: int) -> Actor:
    user = identity_service.get_user(session, user_id)
    return Actor(user_id=user.id, username=user.username, display_name=user.display_name, role=user.role)


def field_staff(
    session: Session, *, actor: Actor, team_id: int, names: Sequence[str], prefix: str
) -> list[int]:
    """Team members of a demo team who do not log in to the demo (their passwords are random)."""
    ids = []
    for i, name in enumerate(names):
        user = identity_service.create_user(
            session,
            actor=actor,
            username=f"{prefix}{i + 1}",
            display_name=name,
            password=secrets.token_urlsafe(12) + "Aa1!",
            role="team_leader" if i == 0 else "team_member",  # the first one leads the team
            team_id=team_id,
        )
        ids.append(user.id)
    return ids


def run_campaign(
    session: Session,
    *,
    rng: random.Random,
    project: DemoProject,
    today: date,
    surnames: dict[int, str],
    visitors: dict[int, list[int]],
    manager: Actor,
    signing: DemoSigning,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[int, int]:
    """Write the planned history of ``project`` through the services; returns (visits, stage moves).

    ``visitors`` maps a team id to the users who log its visits (the first is the leader).
    """
    assignments = identity_service.active_assignments(session, [h[0] for h in project.households])
    plan = plan_campaign(
        rng,
        [DemoHousehold(hid, code, code[:2], "valued") for hid, code, _ in project.households],
        launched_on=project.launched_on,
        signing_start=project.signing_start,
        today=today,
        paces=project.paces,
        surnames=surnames,
        hard_case_count=project.hard_cases,
        complete_groups=project.complete_groups,
    )
    actors: dict[int, Actor] = {}
    signing.blocks.update({hid: block for hid, _, block in project.households})

    def visitor(hid: int) -> Actor:
        team_id, user_id = assignments.get(hid, (None, None))
        pool = visitors.get(team_id or 0) or []
        uid = user_id or (pool[hid % len(pool)] if pool else None)
        if uid is None:
            return manager
        if uid not in actors:
            actors[uid] = _actor_of(session, uid)
        return actors[uid]

    now = datetime.now(UTC)
    # Batched (campaign_service.move_stages / record_visits: the same checks and audit entries as one
    # at a time, written together): the moves by hand (to 协商中) all come before a household's
    # signing, so they go first in one batch, then the signing, vacating and demolition records in
    # time order (sign order numbers follow the signing moments), then the visits, which no stage
    # depends on, in one batch per recorder.
    stages = sorted(plan.stages, key=lambda s: s.at)
    by_hand = [s for s in stages if s.to_stage not in RECORDED]
    recorded = [s for s in stages if s.to_stage in RECORDED]
    first_record: dict[int, datetime] = {}
    for s in recorded:
        first_record.setdefault(s.household_id, s.at)
    if any(s.at > first_record.get(s.household_id, s.at) for s in by_hand):  # pragma: no cover
        raise ValueError("a stage move by hand after the household's signing: the batches need reordering")
    total = len(by_hand) + len(recorded) + len(plan.visits)
    if progress:
        progress("攻坚记录（走访与阶段）", 0, total)
    campaign_service.move_stages(
        session,
        actor=manager,
        scope=EVERYTHING,
        moves=[
            campaign_service.StageMove(s.household_id, s.to_stage, s.on, recorded_at=s.at) for s in by_hand
        ],
        manage=True,
        today=today,
    )
    for done, s in enumerate(recorded):
        if progress and done % 50 == 0:
            progress("攻坚记录（走访与阶段）", len(by_hand) + done, total)
        # Signing, vacating and demolition are recorded by their records (agreement, acceptance,
        # demolition), which move the stage themselves.
        if s.to_stage == "signed":
            signing.sign(project.id, s.household_id, s.on, s.at)
        elif s.to_stage == "vacated":
            signing.vacate(project.id, s.household_id, s.on, s.at)
        else:
            signing.demolish(s.household_id, s.on, s.at)
    by_recorder: dict[int | None, tuple[Actor, list[campaign_service.VisitInput]]] = {}
    for v in sorted(plan.visits, key=lambda v: v.at):
        who = visitor(v.household_id)
        data = campaign_service.VisitCreate(
            visited_at=v.at.isoformat(),
            duration_min=v.duration_min,
            place=v.place,
            staff=who.display_name,
            persuaders=[
                campaign_service.PersuaderIn(name=n, relation=r, note=note) for n, r, note in v.persuaders
            ],
            concern_tags=v.concerns,
            concern_text=v.concern_text,
            attitude=v.attitude,
            outcome=v.outcome,
            next_step=v.next_step,
            next_due_on=v.next_due_on,
        )
        by_recorder.setdefault(who.user_id, (who, []))[1].append(
            campaign_service.VisitInput(v.household_id, data, v.key)
        )
    for who, inputs in by_recorder.values():
        campaign_service.record_visits(
            session, actor=who, scope=EVERYTHING, project_id=project.id, visits=inputs, now=now
        )
    if progress:
        progress("攻坚记录（走访与阶段）", total, total)
    visits, moves = len(plan.visits), len(by_hand) + len(recorded)
    signing.decide_conditions(project.id)
    signing.collective_rewards(project.id)
    signing.changes(project.id)
    signing.clear_tenants(project.id)
    signing.payments(project.id, plan.paid, code=project_service.get_project(session, project.id).code)
    for n, case in enumerate(plan.hard_cases):
        campaign_service.update_campaign(
            session,
            actor=manager,
            scope=EVERYTHING,
            household_id=case.household_id,
            data={
                "difficulty": case.level,
                "difficulty_reason": case.reason,
                "escalated_to": manager.user_id if case.level >= 2 else None,
            },
            expected_version=None,
        )
        if n % 5 == 4:
            continue  # a hard case still without a plan: the alert the team must act on
        owner = visitor(case.household_id)
        campaign_service.save_plan(
            session,
            actor=owner,
            scope=EVERYTHING,
            household_id=case.household_id,
            data={
                "summary": f"{case.reason}。由包案领导牵头，专班分工逐项化解，必要时请亲友协助。",
                "owner_id": owner.user_id,
            },
            expected_version=0,
        )
        for text, due, status in case.steps:
            campaign_service.add_step(
                session,
                actor=owner,
                scope=EVERYTHING,
                household_id=case.household_id,
                data={"text": text, "due_on": due, "status": status, "owner_id": owner.user_id},
            )
    return visits, moves


def issue_reports(session: Session, *, project_id: int, today: date, commander: Actor) -> int:
    """Issue the dispatch reports of the last three days (frozen, archived); today's stays a draft."""
    now = datetime.now(UTC)
    for back in (3, 2, 1):
        day = today - timedelta(days=back)
        report = reporting_service.save_commentary(
            session,
            actor=commander,
            project_id=project_id,
            report_on=day,
            commentary=COMMENTARY,
            version=0,
            now=now,
        )
        reporting_service.issue(
            session, actor=commander, project_id=project_id, report_on=day, version=report.version, now=now
        )
    return 3


COMMENTARY = (
    "一、各专班要坚持“白+黑”“5+2”工作法，晚上和周末集中入户，签约一户、巩固一户。\n"
    "二、难点户一律落实包案领导，一户一策，明确责任人和时间节点，每日报告进展。\n"
    "三、各村签约进度每日通报，进度落后的专班组长在调度会上作表态发言。"
)


@dataclass
class DemoSite:
    """A demo project as the generator made it: dates and its blocks (id and rectangle by code)."""

    id: int
    signing_start: date
    launched_on: date
    blocks: dict[str, tuple[int, Rect]]


RURAL_PACES = {
    "LJ": Pace(median_days=8, spread=0.5, early_share=0.0, vacate_share=0.7, demolish_share=0.3),
    "TQ": Pace(median_days=16, spread=0.4, early_share=0.0, vacate_share=0.4, demolish_share=0.1),
    "SX": Pace(median_days=26, spread=0.4, early_share=0.0, vacate_share=0.3, demolish_share=0.0),
    "HY": Pace(median_days=34, spread=0.45, early_share=0.0, vacate_share=0.2, demolish_share=0.0),
}
SHANTY_PACES = {
    "DP": Pace(median_days=12, spread=0.6, early_share=0.5, vacate_share=0.6, demolish_share=0.4),
    "XH": Pace(median_days=14, spread=0.6, early_share=0.45, vacate_share=0.5, demolish_share=0.3),
}
# Field staff of the teams without a demo login, by household code prefix: (username prefix, names;
# the first one leads the team).
FIELD_STAFF = {
    "LJ": ("lj", ("钱组长", "孙建华")),
    "SX": ("sx", ("吴组长", "郑志远")),
    "HY": ("hy", ("褚组长", "卫国强")),
    "DP": ("dp", ("沈组长", "韩春生")),
    "XH": ("xh", ("朱组长", "秦海峰")),
}


def build_campaign(
    session: Session,
    *,
    actor: Actor,
    rng: random.Random,
    today: date,
    projects: tuple[DemoSite, DemoSite],
    codes: dict[str, int],
    placed: dict[str, tuple[str, str]],
    make_users: Callable[[dict[str, int]], tuple[list[Any], dict[str, int]]],
    progress: Callable[[str, int, int], None] | None = None,
) -> list[Any]:
    """Teams, people, assignments, parcels and the campaign's history of both demo projects.

    Returns the printed demo logins (``make_users`` creates them, given the team of each team user).
    """
    rural, shanty = projects

    def team(
        site: DemoSite, name: str, *, parent: int | None = None, kind: str = "squad", sort: int = 0
    ) -> int:
        return identity_service.create_team(
            session, actor=actor, project_id=site.id, name=name, kind=kind, parent_id=parent, sort=sort
        ).id

    g1 = team(rural, "第一攻坚大组", kind="group", sort=1)
    g2 = team(rural, "第二攻坚大组", kind="group", sort=2)
    sg = team(shanty, "棚改攻坚大组", kind="group", sort=1)
    teams = {
        "LJ": team(rural, "李家村攻坚专班", parent=g1, sort=1),
        "TQ": team(rural, "塘桥村攻坚专班", parent=g1, sort=2),
        "SX": team(rural, "上溪村攻坚专班", parent=g2, sort=1),
        "HY": team(rural, "杭垟村攻坚专班", parent=g2, sort=2),
        "DP": team(shanty, "东埠片区专班", parent=sg, sort=1),
        "XH": team(shanty, "西河片区专班", parent=sg, sort=2),
    }
    # The demo logins work in 塘桥村, a village still in the thick of it (李家村 has finished).
    mine = "TQ"
    logins, users = make_users({"zuzhang": teams[mine], "zuyuan": teams[mine], "zuyuan2": teams[mine]})
    identity_service.update_team(
        session, actor=actor, team_id=teams[mine], values={"leader_id": users["zuzhang"]}
    )
    visitors = {teams[mine]: [users["zuzhang"], users["zuyuan"], users["zuyuan2"]]}
    for prefix, (user_prefix, staff_names) in FIELD_STAFF.items():
        tid = teams[prefix]
        ids = field_staff(session, actor=actor, team_id=tid, names=staff_names, prefix=user_prefix)
        identity_service.update_team(session, actor=actor, team_id=tid, values={"leader_id": ids[0]})
        visitors[tid] = ids

    # 包户到人: each village or area to its team; the team's people each carry a share
    by_group: dict[str, list[int]] = {}
    for code, hid in sorted(codes.items()):
        by_group.setdefault(code[:2], []).append(hid)
    for prefix, hids in by_group.items():
        tid = teams[prefix]
        identity_service.assign_households(
            session, actor=actor, household_ids=hids, team_id=tid, user_id=None, on=today
        )
        if prefix == mine:
            half = len(hids) // 2
            share = min(30, half)  # each demo team member carries about 30 households
            personal = [(hids[:share], users["zuyuan"]), (hids[half : half + share], users["zuyuan2"])]
        else:
            people = visitors[tid][1:]
            personal = [(hids[i :: len(people)], uid) for i, uid in enumerate(people)]
        for chunk, uid in personal:
            identity_service.assign_households(
                session, actor=actor, household_ids=chunk, team_id=tid, user_id=uid, on=today
            )

    manager = _actor_of(session, users["jingban"])
    commander = _actor_of(session, users["zhihui"])
    signing = DemoSigning(
        session,
        rng=rng,
        manager=manager,
        finance=_actor_of(session, users["caiwu"]),
        commander=commander,
        today=today,
        swap_share={rural.id: 0.45, shanty.id: 0.2},
    )
    for site in (rural, shanty):
        code = project_service.get_project(session, site.id).code
        if site is shanty:
            # Old-town renewal: agreements take effect once 80% of the area signs in time.
            signing.terms(
                site.id, prefix=code, condition_rate_bp=8000, deadline=site.signing_start + timedelta(days=90)
            )
        else:
            signing.terms(site.id, prefix=code)
    surnames = {codes[c]: head[0] for c, (_, head) in placed.items() if c in codes}
    for site, paces, complete, hard in (
        (rural, RURAL_PACES, ("LJ",), 8),
        (shanty, SHANTY_PACES, (), 5),
    ):
        households = [
            (codes[c], c, block) for c, (block, _) in sorted(placed.items()) if c in codes and c[:2] in paces
        ]
        project = DemoProject(
            id=site.id,
            signing_start=site.signing_start,
            launched_on=site.launched_on,
            households=households,
            block_rects={code: rect for code, (_, rect) in site.blocks.items()},
            block_ids={code: bid for code, (bid, _) in site.blocks.items()},
            paces=paces,
            complete_groups=complete,
            hard_cases=hard,
        )
        draw_parcels(session, actor=actor, project=project)
        run_campaign(
            session,
            rng=rng,
            project=project,
            today=today,
            surnames=surnames,
            visitors=visitors,
            manager=manager,
            signing=signing,
        )
        issue_reports(session, project_id=site.id, today=today, commander=commander)
    return logins
