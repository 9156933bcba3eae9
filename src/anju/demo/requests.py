"""Demo part: the request catalogue and a year of residents' requests in every state (fictional).

Every request goes through :mod:`anju.service_request.service` with the clock set to its own day
(submit, accept, take, publish, verify, reopen, send back, postpone, reject, merge), so the history,
the deadlines, the overdue flags and the indicators are what the product would have written. The
last days' requests are still open, in each of the five orders; the clock job runs at the end
(overdue marks, escalation, closing unanswered verifications).
"""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from anju.core.actor import Actor
from anju.core.dates import SHANGHAI
from anju.errors import DomainError
from anju.grid import service as grid_service
from anju.identity import service as identity_service
from anju.service_request import service as request_service

#: What residents write, per category code: (description, address detail, the department's result).
TEXTS: dict[str, list[tuple[str, str, str]]] = {
    "parking": [
        (
            "小区消防通道长期被私家车占用，救护车进不来",
            "消防通道",
            "已联系车主挪车，通道口施划禁停标线并安装提示牌",
        ),
        (
            "晚上小区门口双排停车，早上出不去",
            "小区北门",
            "夜间增派巡查，对违停车辆贴单，协调周边单位错时停车位 40 个",
        ),
        ("非机动车乱停堵住盲道", "公交站旁人行道", "清理乱停车辆，设置非机动车停放区"),
    ],
    "stall": [
        (
            "菜场外流动摊贩占道，早高峰通行困难",
            "菜场东侧路口",
            "劝导摊贩进入临时疏导点经营，早高峰安排专人值守",
        ),
        ("夜宵摊油烟大、营业到凌晨", "沿街商铺", "约谈经营户，加装油烟净化器，规定营业结束时间"),
    ],
    "lamp": [
        ("路灯不亮已经一周，晚上很黑", "小区主干道", "更换损坏灯具 3 盏，已恢复照明"),
        ("楼道声控灯坏了，老人上下楼不安全", "单元楼道", "物业更换声控灯，全楼排查一遍"),
        ("河边步道路灯忽明忽暗", "沿河步道", "检修线路接头，更换镇流器"),
    ],
    "drain": [
        ("下水道堵塞，雨天污水漫到楼道口", "单元门口", "疏通主管道 60 米，清淤并更换破损井盖"),
        ("窨井盖松动，车辆经过响声很大", "小区入口", "更换防沉降井盖"),
        ("化粪池满溢，异味严重", "小区西侧", "抽排清掏并消杀，纳入季度清掏计划"),
    ],
    "elevator": [
        (
            "我们单元老人多，想加装电梯，不知道怎么申请",
            "老旧小区",
            "上门讲解加装电梯政策，协助征求意见，已有 11 户签字同意",
        ),
        ("加装电梯施工噪音大，周末也在施工", "在建电梯井", "约谈施工单位，周末及午休时间停止高噪音作业"),
    ],
    "property": [
        ("楼顶漏水，家里墙面发霉", "顶楼", "使用维修资金翻修屋面防水 120 平方米"),
        ("单元门禁坏了一个月没人修", "单元门", "物业更换门禁控制器并张贴报修电话"),
    ],
    "sanitation": [
        ("垃圾桶满溢没人清运，夏天很臭", "垃圾投放点", "清运频次由每日一次调整为两次，增设分类桶"),
        ("楼道堆放杂物，存在消防隐患", "楼道", "会同楼栋长清理楼道杂物 2 车"),
    ],
    "noise": [
        ("广场舞音响太大，晚上九点后还在跳", "小区广场", "与舞蹈队协商音量和结束时间，配备定向音箱"),
        ("楼上装修每天早上七点开始电钻", "住宅楼", "告知装修时间规定，施工方已调整作业时间"),
    ],
    "dispute": [
        ("楼上漏水到我家，协商不成", "住宅楼", "组织双方调解，达成维修和赔偿协议"),
        ("邻居在公共区域搭建棚子", "楼前空地", "调解后当事人自行拆除"),
        ("邻居养狗不拴绳，吓到孩子", "小区花园", "上门劝导并签订文明养犬承诺书"),
    ],
    "elderly": [
        ("独居老人行动不便，希望有人帮忙买菜", "住宅楼", "纳入结对帮扶，志愿者每周两次上门"),
        ("老人想申请助餐服务", "邻里中心", "办理助餐卡，每日送餐到户"),
    ],
    "market": [
        ("菜场有摊位缺斤短两", "农贸市场", "现场检查计量器具，查处 2 户并公示公平秤"),
        ("熟食摊没有健康证", "农贸市场", "责令停业整改，已补办健康证"),
    ],
    "greenery": [
        ("小区大树枝干快碰到电线，台风天很危险", "住宅楼旁", "修剪树枝并清运"),
        ("绿化带被占用种菜", "小区绿地", "劝导恢复绿化，补种灌木"),
    ],
}
WEIGHTS = {
    "parking": 16,
    "stall": 9,
    "lamp": 11,
    "drain": 10,
    "elevator": 5,
    "property": 10,
    "sanitation": 11,
    "noise": 8,
    "dispute": 7,
    "elderly": 6,
    "market": 4,
    "greenery": 3,
}
REJECT_REASONS = [
    "属于法院已受理的民事纠纷，请通过司法途径解决",
    "所述地点不在本街道辖区，已告知向相邻街道反映",
    "内容为商业广告，不予受理",
]
SEND_BACK_REASONS = ["不属于本部门职责，请改派物业管理办", "该路段由市政公司管养，请改派"]
REOPEN_REASONS = ["处理后又坏了", "问题没有根本解决，仍然存在", "只清理了一半"]


def _calendar_2026() -> list[tuple[date, str, str]]:
    """The 2026 public holidays and make-up working days as the State Council published them for
    that year (entered here as an office would; another year is entered with ``anju requests calendar``)."""
    d = date
    days = [
        *request_service.work_calendar.holiday_range(d(2026, 1, 1), d(2026, 1, 3), "元旦"),
        (d(2026, 1, 4), "workday", "元旦调休"),
        *request_service.work_calendar.holiday_range(d(2026, 2, 15), d(2026, 2, 23), "春节"),
        (d(2026, 2, 14), "workday", "春节调休"),
        (d(2026, 2, 28), "workday", "春节调休"),
        *request_service.work_calendar.holiday_range(d(2026, 4, 4), d(2026, 4, 6), "清明节"),
        *request_service.work_calendar.holiday_range(d(2026, 5, 1), d(2026, 5, 5), "劳动节"),
        (d(2026, 5, 9), "workday", "劳动节调休"),
        *request_service.work_calendar.holiday_range(d(2026, 6, 19), d(2026, 6, 21), "端午节"),
        *request_service.work_calendar.holiday_range(d(2026, 9, 25), d(2026, 9, 27), "中秋节"),
        (d(2026, 9, 20), "workday", "国庆节调休"),
        *request_service.work_calendar.holiday_range(d(2026, 10, 1), d(2026, 10, 7), "国庆节"),
        (d(2026, 10, 10), "workday", "国庆节调休"),
    ]
    return sorted(days)


@dataclass(slots=True)
class RequestsBuilt:
    """What :func:`build_requests` made (by status) and how many went through each detour."""

    by_status: dict[str, int] = field(default_factory=dict)
    detours: dict[str, int] = field(default_factory=dict)


def demo_photo(seed: int) -> bytes:
    """A small PNG (160x120, stripes in a colour from ``seed``): a stand-in for a phone photo."""
    width, height = 160, 120
    r, g, b = (seed * 67) % 200 + 30, (seed * 131) % 200 + 30, (seed * 197) % 200 + 30
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            shade = 40 if ((x + y) // 16) % 2 else 0
            rows += bytes((min(255, r + shade), min(255, g + shade), min(255, b + shade)))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 6))
        + chunk(b"IEND", b"")
    )


def _at(day: date, hour: float) -> datetime:
    """``hour`` o'clock (Beijing) of ``day`` as UTC."""
    h = int(hour)
    return datetime.combine(day, time(h, int((hour - h) * 60)), SHANGHAI).astimezone(UTC)


def _point(rng: random.Random, grid: Any) -> tuple[Decimal | None, Decimal | None]:
    """A point near the grid's centroid (inside its bounding box's middle third)."""
    if grid.centroid_lng is None or grid.min_lng is None or grid.max_lng is None:
        return None, None
    assert grid.centroid_lat is not None and grid.min_lat is not None and grid.max_lat is not None
    dx = (grid.max_lng - grid.min_lng) / 6
    dy = (grid.max_lat - grid.min_lat) / 6
    q = Decimal("0.000001")
    lng = grid.centroid_lng + dx * Decimal(rng.uniform(-1, 1)).quantize(Decimal("0.001"))
    lat = grid.centroid_lat + dy * Decimal(rng.uniform(-1, 1)).quantize(Decimal("0.001"))
    return lng.quantize(q), lat.quantize(q)


def _users(session: Session) -> tuple[Actor, Actor, Actor]:
    def actor(username: str) -> Actor:
        u = identity_service.get_user_by_username(session, username)
        return Actor(user_id=u.id, username=u.username, display_name=u.display_name, role=u.role)

    return actor("shequ"), actor("bumen"), actor("wangge")


def build_requests(
    session: Session, *, actor: Actor, rng: random.Random, today: date, scale: float = 1.0
) -> RequestsBuilt:
    """Load the default catalogue, make ``bumen`` act for every department, and file a year of
    requests (about 600 at scale 1) that end in every state of the five orders."""
    built = RequestsBuilt()
    request_service.load_catalogue(session, actor=actor)
    request_service.work_calendar.set_days(session, actor=actor, days=_calendar_2026(), year=2026)
    community, department, worker = _users(session)
    for dep in request_service.departments(session):
        request_service.add_member(
            session, actor=actor, department_code=dep.code, user_id=department.user_id or 0
        )
    cats = {c.code: c for c in request_service.active_categories(session)}
    codes = [c for c in WEIGHTS if c in cats]
    weights = [WEIGHTS[c] for c in codes]
    grids = grid_service.list_grids(session)
    total = max(40, int(600 * scale))
    start = today - timedelta(days=364)
    # More requests lately (the service became known): day offsets weighted towards today.
    days = sorted(int(364 * (1 - rng.random() ** 1.4)) for _ in range(total))
    open_recent: dict[tuple[str, int], int] = {}

    def bump(name: str) -> None:
        built.detours[name] = built.detours.get(name, 0) + 1

    for n, offset in enumerate(days):
        day = start + timedelta(days=offset)
        age = (today - day).days
        code = rng.choices(codes, weights)[0]
        cat = cats[code]
        text, place, result = rng.choice(TEXTS[code])
        grid = rng.choice(grids)
        lng, lat = _point(rng, grid)
        by_worker = rng.random() < 0.3
        t = _at(day, rng.uniform(7.5, 21.5))
        try:
            done = request_service.submit(
                session,
                actor=worker if by_worker else None,
                category_id=cat.id,
                description=text,
                location=request_service.Location(
                    lng=lng, lat=lat, address=f"{grid.name}{place}", grid_id=grid.id if by_worker else None
                ),
                reporter_name=rng.choice("王李张刘陈杨黄赵吴周")
                + rng.choice(["先生", "女士", "阿姨", "大爷"]),
                reporter_phone=f"13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
                photos=[request_service.Photo(demo_photo(n), f"现场{n}.png", "image/png")]
                if rng.random() < 0.35
                else [],
                now=t,
            )
        except DomainError:
            continue
        req = done.request
        secret = done.secret
        key = (code, grid.id)
        # the newest requests stay where the clock leaves them: each of the five orders is shown
        if age <= 1 and rng.random() < 0.6:
            open_recent[key] = req.id
            continue
        t += timedelta(hours=rng.uniform(0.5, 20))
        if rng.random() < 0.04:
            request_service.reject(
                session,
                actor=community,
                request_id=req.id,
                version=req.version,
                reason=rng.choice(REJECT_REASONS),
                now=t,
            )
            continue
        priority = "urgent" if rng.random() < 0.15 else "routine"
        request_service.accept(
            session, actor=community, request_id=req.id, version=req.version, priority=priority, now=t
        )
        if age <= 3 and rng.random() < 0.5:
            open_recent[key] = req.id
            continue
        t += timedelta(hours=rng.uniform(0.3, 6))
        if rng.random() < 0.05:
            request_service.send_back(
                session,
                actor=department,
                request_id=req.id,
                version=req.version,
                reason=rng.choice(SEND_BACK_REASONS),
                now=t,
            )
            t += timedelta(hours=rng.uniform(1, 5))
            request_service.accept(
                session, actor=community, request_id=req.id, version=req.version, priority=priority, now=t
            )
            bump("sent_back")
            t += timedelta(hours=rng.uniform(0.3, 4))
        request_service.take(session, actor=department, request_id=req.id, version=req.version, now=t)
        handling = rng.uniform(2, 140) if code != "elevator" else rng.uniform(72, 600)
        if rng.random() < 0.06 and req.due_at is not None:
            request_service.request_postpone(
                session,
                actor=department,
                request_id=req.id,
                version=req.version,
                new_due_at=req.due_at + timedelta(days=5),
                reason="需协调产权单位和施工队，申请延期 5 天",
                now=t + timedelta(hours=1),
            )
            approve = rng.random() < 0.8
            request_service.decide_postpone(
                session,
                actor=community,
                request_id=req.id,
                version=req.version,
                approve=approve,
                reason="" if approve else "情况不复杂，请按原期限办结",
                now=t + timedelta(hours=3),
            )
            bump("postponed")
        if age * 24 < handling + 24:
            open_recent[key] = req.id
            continue
        t += timedelta(hours=handling)
        photos = (
            [request_service.Photo(demo_photo(n + 7), f"办结{n}.png", "image/png")]
            if rng.random() < 0.8
            else []
        )
        request_service.publish(
            session,
            actor=department,
            request_id=req.id,
            version=req.version,
            result=result,
            photos=photos,
            now=t,
        )
        open_recent.pop(key, None)
        if rng.random() < 0.08:
            t += timedelta(hours=rng.uniform(4, 40))
            request_service.reopen(
                session,
                actor=None,
                request_id=req.id,
                version=req.version,
                reason=rng.choice(REOPEN_REASONS),
                rating=rng.choice([1, 2]),
                secret=secret,
                now=t,
            )
            t += timedelta(hours=rng.uniform(8, 72))
            request_service.publish(
                session,
                actor=department,
                request_id=req.id,
                version=req.version,
                result=result + "；返工后复查合格",
                photos=[],
                now=t,
            )
            bump("reopened")
        if (today - t.astimezone(SHANGHAI).date()).days <= 2 or rng.random() < 0.07:
            continue  # awaiting the resident's verification (or closed by the clock below)
        t += timedelta(hours=rng.uniform(2, 60))
        rating = rng.choices([5, 4, 3, 2, 1], [55, 26, 11, 5, 3])[0]
        if rng.random() < 0.35:
            request_service.verify(
                session,
                actor=worker,
                request_id=req.id,
                version=req.version,
                rating=rating,
                resolution="solved" if rating >= 3 else "partly",
                comment="网格员入户回访，居民口头评价",
                now=t,
            )
        else:
            request_service.verify(
                session,
                actor=None,
                request_id=req.id,
                version=req.version,
                rating=rating,
                resolution="solved" if rating >= 3 else "partly",
                comment="" if rating >= 4 else "处理慢了点",
                secret=secret,
                now=t,
            )
    # duplicates the desk merged into a request still open (合并重复): same matter, same grid
    merged = 0
    for into_id in list(open_recent.values()):
        if merged >= 6:
            break
        into = session.get(request_service.ServiceRequest, into_id)
        if into is None or into.status not in ("submitted", "dispatched", "in_progress"):
            continue
        t = into.submitted_at + timedelta(hours=rng.uniform(1, 6))
        dup = request_service.submit(
            session,
            actor=None,
            category_id=into.category_id,
            description=into.description + "（又有居民反映）",
            location=request_service.Location(lng=into.lng, lat=into.lat, address=into.address),
            now=t,
        )
        request_service.merge(
            session,
            actor=community,
            request_id=dup.request.id,
            version=dup.request.version,
            into_id=into_id,
            reason="与同一地点的在办诉求重复，合并办理",
            now=t + timedelta(hours=1),
        )
        merged += 1
        bump("merged")
    request_service.escalate(session, now=_at(today, 9))
    for status, count in request_service.status_counts(session).items():
        built.by_status[status] = count
    return built
