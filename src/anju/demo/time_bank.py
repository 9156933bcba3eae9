"""Demo part: volunteers and a year of the time bank and the moral bank (fictional people).

Every write goes through ``anju.time_bank.service`` (check-in/out, two reviews, redemptions, gifts,
donations, moral-bank awards with their 公示), so the demo ledger is what the product would have
written. Reviews alternate between the two community reviewers (``shequ`` and ``shequ2``).
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from anju.core.actor import Actor
from anju.core.dates import SHANGHAI
from anju.errors import DomainError
from anju.identity import service as identity_service
from anju.time_bank import service as tb

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = [
    "秀兰",
    "建国",
    "桂英",
    "志强",
    "丽娟",
    "国华",
    "海燕",
    "文杰",
    "春梅",
    "德明",
    "玉珍",
    "小军",
    "晓燕",
    "永刚",
]
ACTIVITIES = [
    ("疫情防控", "核酸检测点秩序维护", "社区服务中心广场"),
    ("帮困助残", "独居老人上门探访", "幸福里小区"),
    ("环境整治", "楼道杂物清理", "东埠新村"),
    ("敬老爱老", "老年食堂助餐", "邻里中心"),
    ("文明劝导", "路口文明交通劝导", "青溪路口"),
    ("平安巡逻", "夜间平安巡逻", "沿河步道"),
    ("文化教育", "四点半课堂", "社区书屋"),
    ("环境整治", "垃圾分类桶边督导", "各小区投放点"),
]
ITEMS = [
    ("minutes", "service", "上门理发", 60),
    ("minutes", "service", "助浴服务", 120),
    ("minutes", "service", "家电维修", 90),
    ("minutes", "service", "陪同就医", 120),
    ("minutes", "goods", "爱心米面油套餐", 300),
    ("points", "goods", "洗衣液一瓶", 30),
    ("points", "goods", "社区影院电影票", 50),
    ("points", "service", "家政保洁两小时", 80),
]
MORAL_RULES = [
    ("JYYW", "见义勇为", 50),
    ("XJLL", "孝老爱亲", 20),
    ("LJFL", "垃圾分类示范户", 5),
    ("LRWL", "邻里互助", 10),
    ("SJBM", "拾金不昧", 15),
]
FALLBACK_COMMUNITIES = [("DB", "东埠社区"), ("XF", "幸福里社区"), ("QX", "青溪社区")]


@dataclass
class TimeBankDemo:
    """What the demo part created."""

    volunteers: int = 0
    activities: int = 0
    credited: int = 0
    waiting: int = 0
    redemptions: int = 0
    awards: int = 0


def _communities(session: Session) -> list[int]:
    """The demo's communities; when the grid demo has not created any, three of our own.

    Plain SQL because the grid domain offers no service on this branch yet.
    """
    ids = list(tb.community_names(session))
    if ids:
        return ids
    now = datetime.now(UTC).replace(tzinfo=None)
    for n, (code, name) in enumerate(FALLBACK_COMMUNITIES):
        session.execute(
            text(
                "INSERT INTO community (code, name, phone, address, sort, created_at, version)"
                " VALUES (:code, :name, '', '', :sort, :at, 1)"
            ),
            {"code": code, "name": name, "sort": n, "at": now},
        )
    return list(tb.community_names(session))


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


def build_time_bank(
    session: Session, *, actor: Actor, rng: random.Random, today: date, scale: float = 1.0
) -> TimeBankDemo:
    """Volunteers and a year of activities, check-ins, approved hours, redemptions, gifts, donations
    and moral-bank points, with some hours waiting for review and awards in 公示 today."""
    out = TimeBankDemo()
    users = {u.username: u for u in identity_service.list_users(session)}
    reviewers = [
        Actor(user_id=users[n].id, username=n, display_name=users[n].display_name, role=users[n].role)
        for n in ("shequ", "shequ2")
        if n in users
    ]
    if len(reviewers) < 2:
        return out
    communities = _communities(session)
    n_vol = max(12, round(60 * scale))
    vols = []
    for i in range(n_vol):
        family = f"JT{i // 2:03d}" if i < n_vol // 3 else ""  # the first third in pairs of close kin
        v = tb.create_volunteer(
            session,
            actor=actor,
            community_id=communities[i % len(communities)],
            name=rng.choice(SURNAMES) + rng.choice(GIVEN),
            phone=f"1390000{i:04d}",
            family_code=family,
            verified=rng.random() < 0.85 or bool(family),
        )
        vols.append(v)
    out.volunteers = len(vols)
    for unit, kind, name, price in ITEMS:
        tb.create_item(session, actor=actor, unit=unit, kind=kind, name=name, price=price)
    items = tb.catalogue(session)
    n_act = max(12, round(48 * scale))
    start = today - timedelta(days=360)
    for k in range(n_act):
        category, title, place = ACTIVITIES[k % len(ACTIVITIES)]
        day = start + timedelta(days=round(k * 355 / n_act))
        hours = rng.choice([2, 2, 3, 4])
        a = tb.create_activity(
            session,
            actor=actor,
            community_id=communities[k % len(communities)],
            category=category,
            title=title,
            place=place,
            starts_at=_at(day, 9),
            ends_at=_at(day, 9 + hours),
            capacity=10,
            minutes_offered=hours * 60,
            team_name="青年志愿突击队" if k % 12 == 5 else "",
        )
        out.activities += 1
        recent = k >= n_act - 2  # the last two: hours still waiting for review
        for v in rng.sample(vols, 8):
            s = tb.sign_up(
                session, actor=actor, activity_id=a.id, volunteer_id=v.id, at=_at(day - timedelta(days=3), 10)
            )
            tb.check_in(session, actor=actor, signup_id=s.id, at=_at(day, 8, rng.randint(45, 59)))
            claim = tb.check_out(
                session, actor=actor, signup_id=s.id, at=_at(day, 9 + hours, rng.randint(0, 20))
            )
            first, second = reviewers if rng.random() < 0.5 else reviewers[::-1]
            if recent and rng.random() < 0.7:
                if rng.random() < 0.5:
                    tb.review(session, actor=first, claim_id=claim.id, approve=True)
                out.waiting += 1
                continue
            tb.review(session, actor=first, claim_id=claim.id, approve=True)
            tb.review(
                session, actor=second, claim_id=claim.id, approve=True, at=_at(day + timedelta(days=2), 15)
            )
            out.credited += 1
        # now and then a volunteer redeems what they saved (refusals below the minimum are normal)
        for v in rng.sample(vols, 3):
            item = rng.choice([i for i in items if i.unit == "minutes"])
            try:
                tb.redeem(
                    session,
                    actor=actor,
                    volunteer_id=v.id,
                    item_id=item.id,
                    at=_at(day + timedelta(days=5), 10),
                )
                out.redemptions += 1
            except DomainError:
                pass
    # gifts between verified close kin, donations to the pool
    for i in range(0, n_vol // 3 - 1, 2):
        with contextlib.suppress(DomainError):
            tb.gift(
                session, actor=actor, from_volunteer_id=vols[i].id, to_volunteer_id=vols[i + 1].id, minutes=60
            )
    for v in vols[-5:]:
        acc = tb.volunteer_account(session, v, "minutes")
        if acc.balance >= 60:
            tb.donate(session, actor=actor, account_id=acc.id, minutes=60)
    team = tb.account(session, owner_kind="team", owner_ref="青年志愿突击队", unit="minutes")
    if team.balance > 0:
        tb.donate(session, actor=actor, account_id=team.id, minutes=team.balance)
    # the moral bank: counted awards over the year, three in 公示 today, one with an objection
    rules_ = [tb.create_rule(session, actor=actor, code=c, name=n, points=p) for c, n, p in MORAL_RULES]
    deeds = {
        "见义勇为": "协助消防疏散群众",
        "孝老爱亲": "照顾瘫痪婆婆十余年",
        "垃圾分类示范户": "连续三月分类准确",
        "邻里互助": "为邻居代购药品",
        "拾金不昧": "拾到钱包归还失主",
    }
    for _m in range(30):
        r = rng.choice(rules_)
        day = start + timedelta(days=rng.randint(0, 330))
        tb.propose_award(
            session,
            actor=actor,
            volunteer_id=rng.choice(vols).id,
            rule_id=r.id,
            deed=deeds[r.name],
            today=day,
        )
        out.awards += 1
    tb.settle(session, actor=reviewers[0], today=today)
    pending = []
    for r in rules_[:3]:
        pending.append(
            tb.propose_award(
                session,
                actor=actor,
                volunteer_id=rng.choice(vols).id,
                rule_id=r.id,
                deed=deeds[r.name],
                today=today - timedelta(days=2),
            )
        )
        out.awards += 1
    tb.object_to(session, actor=actor, award_id=pending[-1].id, objection="群众反映事迹需进一步核实")
    for v in vols[:4]:
        points = [i for i in items if i.unit == "points"]
        with contextlib.suppress(DomainError):
            tb.redeem(session, actor=actor, volunteer_id=v.id, item_id=points[0].id)
    session.flush()
    return out
