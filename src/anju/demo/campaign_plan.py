"""The demo campaign's history, planned as plain data (no database): who is visited when, by whom,
with which persuaders and concerns, and when each household reaches each stage.

The shape follows the stories of DOMAIN.md: a village that signs 100% in about 19 days with the
last signature late at night, villages that follow more slowly, and a shantytown area whose last
hard cases are talked round by relatives and old comrades over many evening visits.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

OFFICE_TZ = ZoneInfo("Asia/Shanghai")

PERSUADER_POOL = (
    ("relative", "堂兄"),
    ("relative", "表姐"),
    ("relative", "舅舅"),
    ("relative", "女婿"),
    ("friend", "老朋友"),
    ("comrade", "老战友"),
    ("elder", "村里老党员"),
    ("colleague", "原单位同事"),
    ("classmate", "中学同学"),
    ("neighbour", "老邻居"),
    ("cadre", "村民小组长"),
)
CONCERN_WEIGHTS = (
    ("standard", 30),
    ("flat", 22),
    ("area", 18),
    ("valuation", 12),
    ("transition", 9),
    ("family", 8),
    ("legacy", 5),
    ("other", 3),
)
PLACES = ("户主家中", "村委会", "项目指挥部", "户主亲戚家", "田头", "社区办公室")
OUTCOMES = {
    "support": ("同意按方案签约，约定签约时间", "已核对补偿明细，无异议", "家属意见统一，准备签约"),
    "wait": ("对补偿明细有疑问，已逐项解释", "需与子女商量后答复", "关注安置房位置，已带看样板房"),
    "resist": (
        "对面积认定有异议，坚持按实测面积",
        "要求提高补偿标准，已讲清政策口径",
        "家庭内部意见不一，未表态",
    ),
}
NEXT_STEPS = (
    "携带测算单再次上门解释",
    "请评估公司现场答疑",
    "邀请亲属一同做工作",
    "带看安置房样板间",
    "核实历史遗留问题材料",
    "组长约谈户主",
)
PLAN_STEPS = (
    "摸清家庭成员意见分歧，逐一谈心",
    "请评估机构复核评估报告并当面解释",
    "邀请亲友、战友协助做思想工作",
    "协调解决历史遗留问题（宅基地确权材料）",
    "包案领导约谈，明确政策底线",
)


@dataclass
class DemoHousehold:
    """What the planner needs to know of one household of the demo."""

    id: int
    code: str
    group: str  # the village or area prefix of the code (LJ, TQ ... DP, XH)
    status: str  # after the census: surveyed | valued


@dataclass
class PlannedVisit:
    household_id: int
    at: datetime  # UTC
    duration_min: int
    place: str
    attitude: str
    concerns: list[str]
    concern_text: str
    persuaders: list[tuple[str, str, str]]  # (name, relation key, note)
    outcome: str
    next_step: str
    next_due_on: date | None
    key: str


@dataclass
class PlannedStage:
    household_id: int
    to_stage: str
    on: date
    at: datetime  # UTC


@dataclass
class HardCase:
    household_id: int
    level: int
    reason: str
    steps: list[tuple[str, date, str]]  # (text, due, status)


@dataclass
class CampaignPlan:
    visits: list[PlannedVisit] = field(default_factory=list)
    stages: list[PlannedStage] = field(default_factory=list)
    hard_cases: list[HardCase] = field(default_factory=list)
    paid: list[tuple[int, date]] = field(default_factory=list)


@dataclass(frozen=True)
class Pace:
    """How fast a village or area signs: a log-normal time to sign (days from launch)."""

    median_days: float
    spread: float
    early_share: float  # share that signed before the launch (between signing_start and launch)
    vacate_share: float  # share of signed households that have vacated (after a few days)
    demolish_share: float  # share of vacated households already demolished


def _utc(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=OFFICE_TZ).astimezone(UTC)


def _visit_hour(rng: random.Random) -> tuple[int, int]:
    # Field teams work evenings: about 40% of visits after 18:00.
    if rng.random() < 0.4:
        return rng.randint(18, 21), rng.choice((0, 10, 20, 30, 40, 50))
    return rng.randint(8, 17), rng.choice((0, 15, 30, 45))


def _concerns(rng: random.Random) -> list[str]:
    tags, weights = zip(*CONCERN_WEIGHTS, strict=True)
    n = 1 if rng.random() < 0.6 else 2
    return sorted(set(rng.choices(tags, weights=weights, k=n)))


def plan_campaign(
    rng: random.Random,
    households: list[DemoHousehold],
    *,
    launched_on: date,
    signing_start: date,
    today: date,
    paces: dict[str, Pace],
    surnames: dict[int, str],
    hard_case_count: int,
    complete_groups: tuple[str, ...] = (),
) -> CampaignPlan:
    """Plan a campaign from ``launched_on`` to ``today`` (inclusive) over ``households``.

    A share of each group (``Pace.early_share``) signed between ``signing_start`` and the launch (the
    early signers, before the campaign's push); every other household draws a time to sign from its group's pace. A group named in
    ``complete_groups`` has signed 100%, its last household late at night. ``hard_case_count``
    of the slowest households become 难点户 with plans and many visits with persuaders.
    """
    plan = CampaignPlan()
    elapsed = (today - launched_on).days
    draws: dict[int, float] = {}
    early: dict[int, date] = {}
    before = (launched_on - signing_start).days
    for h in households:
        pace = paces[h.group]
        if before > 0 and rng.random() < pace.early_share:
            draws[h.id] = -1.0  # signed before this campaign's launch
            early[h.id] = signing_start + timedelta(days=rng.randrange(before))
            continue
        draws[h.id] = rng.lognormvariate(math.log(pace.median_days), pace.spread)
    for g in complete_groups:
        members = [h for h in households if h.group == g and draws[h.id] >= 0]
        if not members:
            continue
        horizon = max(1, min(elapsed - 2, 19))
        slowest = max(members, key=lambda h: draws[h.id])
        for h in members:
            draws[h.id] = min(draws[h.id], horizon - 0.5) if h is not slowest else float(horizon - 1)
    # hard cases: the slowest of those not yet signed
    pending = sorted((h for h in households if draws[h.id] > elapsed), key=lambda h: -draws[h.id])
    hard = {h.id: 1 + (i % 3 == 0) + (i % 5 == 0) for i, h in enumerate(pending[:hard_case_count])}

    slowest_of: dict[str, float] = {}
    for h in households:
        slowest_of[h.group] = max(slowest_of.get(h.group, -1.0), draws[h.id])
    for h in households:
        pace = paces[h.group]
        draw = draws[h.id]
        sign_on: date | None
        if draw < 0:
            sign_on = early[h.id]
        elif draw < elapsed + 1:  # day 0 is the launch, day ``elapsed`` today
            sign_on = launched_on + timedelta(days=int(draw))
        else:
            sign_on = None
        # stages: the first visit starts negotiations
        start = signing_start if draw < 0 else launched_on
        first_visit = start + timedelta(days=rng.randint(0, min(4, max(0, elapsed))))
        if sign_on is not None and first_visit > sign_on:
            first_visit = sign_on
        # A household that signs within a week of the first talk goes straight from 已评估 to 已签约.
        if sign_on is None or sign_on > first_visit + timedelta(days=7):
            plan.stages.append(PlannedStage(h.id, "negotiating", first_visit, _utc(first_visit, 10, 0)))
        if sign_on is not None:
            is_last = h.group in complete_groups and draw == slowest_of[h.group]
            if is_last:  # the village's last signature, after midnight (DOMAIN.md: 0:44)
                sign_on += timedelta(days=1)
                at = _utc(sign_on, 0, 44)
            else:
                at = _utc(sign_on, *_visit_hour(rng))
                if sign_on == today:  # signed today: earlier than now, whatever the hour drawn
                    at = min(at, datetime.now(UTC) - timedelta(minutes=rng.randint(20, 300)))
            plan.stages.append(PlannedStage(h.id, "signed", sign_on, at))
        if sign_on is not None and rng.random() < pace.vacate_share:
            vacate_on = sign_on + timedelta(days=rng.randint(3, 12))
            if vacate_on <= today:
                plan.stages.append(PlannedStage(h.id, "vacated", vacate_on, _utc(vacate_on, 15, 0)))
                plan.paid.append((h.id, min(today, vacate_on + timedelta(days=rng.randint(1, 5)))))
                if rng.random() < pace.demolish_share:
                    dem_on = vacate_on + timedelta(days=rng.randint(2, 10))
                    if dem_on <= today:
                        plan.stages.append(PlannedStage(h.id, "demolished", dem_on, _utc(dem_on, 9, 30)))
        # visits: from the first visit until signing (or today), every few days; hard cases more often
        level = hard.get(h.id, 0)
        end = sign_on if sign_on is not None else today
        day: date | None = first_visit
        attitude = "wait" if rng.random() < 0.6 else ("resist" if level or rng.random() < 0.3 else "support")
        visits_here: list[date] = []
        while day is not None and day <= end:
            visits_here.append(day)
            gap = rng.randint(1, 3) if level else rng.randint(4, 9)
            day += timedelta(days=gap)
        if sign_on is not None and not level and len(visits_here) > 1:
            visits_here = visits_here[:1]  # an easy household: one talk, then the signing visit
        if sign_on is not None and (not visits_here or visits_here[-1] != sign_on):
            visits_here.append(sign_on)
        surname = surnames.get(h.id, "张")
        for n, vday in enumerate(visits_here):
            last = n == len(visits_here) - 1
            if sign_on is not None and last:
                attitude = "support"
            elif level:
                attitude = "resist" if n < len(visits_here) // 2 else rng.choice(("resist", "wait", "wait"))
            else:
                attitude = rng.choice(("wait", "wait", "support", attitude))
            persuaders: list[tuple[str, str, str]] = []
            if level and rng.random() < 0.55:
                for rel, note in rng.sample(PERSUADER_POOL, k=rng.randint(1, 3)):
                    name = (
                        surname if rel == "relative" else rng.choice("王李陈刘杨黄周吴徐孙")
                    ) + rng.choice(("建华", "国庆", "秀兰", "志刚", "海峰", "春梅", "德明", "桂芳"))
                    persuaders.append((name, rel, note))
            hour, minute = _visit_hour(rng)
            when = _utc(vday, hour, minute)
            if vday == today and when > datetime.now(UTC):
                when = min(when, datetime.now(UTC) - timedelta(minutes=30))
            concerns = _concerns(rng) if not (sign_on is not None and last) else []
            next_due = None if (sign_on is not None and last) else vday + timedelta(days=rng.randint(2, 6))
            plan.visits.append(
                PlannedVisit(
                    household_id=h.id,
                    at=when,
                    duration_min=rng.choice((20, 30, 40, 45, 60, 90, 120)) + (60 if level else 0),
                    place=rng.choice(PLACES),
                    attitude=attitude,
                    concerns=concerns,
                    concern_text=""
                    if not concerns
                    else "户主反映："
                    + rng.choice(
                        (
                            "希望按实测面积认定",
                            "担心安置房楼层和朝向",
                            "过渡期租房困难",
                            "兄弟之间对分配有分歧",
                        )
                    ),
                    persuaders=persuaders,
                    outcome=rng.choice(OUTCOMES[attitude]) if not (sign_on and last) else "完成签约",
                    next_step="" if next_due is None else rng.choice(NEXT_STEPS),
                    next_due_on=next_due,
                    key=f"demo-{h.id}-{n}",
                )
            )
        if level:
            steps = []
            for k, text in enumerate(rng.sample(PLAN_STEPS, k=3)):
                due = launched_on + timedelta(days=5 + 5 * k)
                status = "done" if due < today - timedelta(days=3) else ("doing" if k == 1 else "todo")
                steps.append((text, due, status))
            plan.hard_cases.append(
                HardCase(
                    h.id,
                    level,
                    rng.choice(
                        ("坚持按实测面积补偿", "家庭内部矛盾突出", "要求大面积安置房", "历史遗留问题未解决")
                    ),
                    steps,
                )
            )
    plan.visits.sort(key=lambda v: v.at)
    plan.stages.sort(key=lambda s: (s.on, s.at))
    return plan
