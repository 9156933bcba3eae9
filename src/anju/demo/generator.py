"""Fictional demo data: a subdistrict (青溪街道 of the fictional 云澜市) with a whole-village
collective-land project and a shantytown project, one user per role, teams and assignments.

Households, members, buildings, valuations, tenants and homesteads are built as census rows in
memory and written through :func:`anju.household.census.import_rows`, the same validated,
audited bulk path a census file takes. Every name and number is invented; a fixed seed makes the
data reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from anju.core.actor import Actor
from anju.core.dates import today_shanghai
from anju.core.ids import make_id_number
from anju.demo import campaign as demo_campaign
from anju.demo import grids as demo_grids
from anju.demo import housing as demo_housing
from anju.demo.policies import publish_demo_policies
from anju.household import census
from anju.identity import service as identity_service
from anju.project import service as project_service

SEED = 20240611
REGION = "339921"  # fictional region code of 云澜市青溪区 (not a real prefecture)
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_MALE = "伟强军勇杰涛明超刚平辉鹏华飞斌宇浩凯健俊帆帅旭宁龙林波海鑫磊峰建国志文兵春雷东晨洋"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞秀玲桂英红梅琳燕萍雪慧颖倩婷洁佳琪欣悦岚兰凤云莉薇月琴素珍"
VILLAGES = (("LJ", "李家村"), ("TQ", "塘桥村"), ("SX", "上溪村"), ("HY", "杭垟村"))
GROUP_NAMES = ("一组", "二组", "三组", "四组", "五组")
AREAS = (("DP", "东埠片区"), ("XH", "西河片区"))
FIRM = "云澜正衡房地产土地估价有限公司"
STREETS = ("清河路", "埠头街", "西河巷", "老粮站弄", "仓前街", "河埠巷")
DEMO_PASSWORD_SUFFIX = "@Anju2024"
# The date the story's numbers were written for; build_demo moves every date by (today - this).
STORY_TODAY = date(2024, 6, 1)

ROLES: tuple[tuple[str, str, str], ...] = (
    ("zhihui", "commander", "周指挥"),
    ("jingban", "case_officer", "陈经办"),
    ("zuzhang", "team_leader", "王组长"),
    ("zuyuan", "team_member", "李组员"),
    ("zuyuan2", "team_member", "赵组员"),
    ("caiwu", "finance", "孙会计"),
    ("shenji", "auditor", "吴审计"),
    ("wangge", "grid_worker", "郑网格"),
    ("shequ", "community", "何社区"),
    ("shequ2", "community", "钱复核"),  # time bank: hours need a second, different reviewer
    ("bumen", "department", "冯部门"),
    ("admin", "admin", "系统管理员"),
)


def demo_password(username: str) -> str:
    """The printed demo password of a demo user (passes the password rules)."""
    return username.capitalize() + DEMO_PASSWORD_SUFFIX


@dataclass
class Login:
    """A printed demo login."""

    username: str
    password: str
    role: str
    display_name: str


@dataclass
class DemoResult:
    """What :func:`build_demo` created."""

    projects: list[tuple[str, str, int]] = field(default_factory=list)  # (code, name, households)
    logins: list[Login] = field(default_factory=list)
    households: int = 0
    members: int = 0
    buildings: int = 0
    housing: demo_housing.DemoHousing | None = None
    requests: Any = None  # demo.requests.RequestsBuilt (imported lazily with that part)


class _Names:
    """Fictional names and unique identity numbers from a seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used_ids: set[str] = set()

    def given(self, male: bool) -> str:
        chars = GIVEN_MALE if male else GIVEN_FEMALE
        n = 1 if self.rng.random() < 0.35 else 2
        return "".join(self.rng.choice(chars) for _ in range(n))

    def person(self, surname: str, male: bool) -> str:
        return surname + self.given(male)

    def id_number(self, born: date, male: bool) -> str:
        while True:
            serial = self.rng.randrange(0, 500) * 2 + (1 if male else 0)
            value = make_id_number(REGION, born, serial)
            if value not in self.used_ids:
                self.used_ids.add(value)
                return value

    def birth(self, age: int, today: date) -> date:
        return today - timedelta(days=age * 365 + self.rng.randrange(0, 365))


NameSource = _Names
"""Public name for callers that generate several batches without repeating identity numbers."""


def _phone(rng: random.Random) -> str:
    return "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))


def _pick(rng: random.Random, weighted: Sequence[tuple[str, float]]) -> str:
    x = rng.random() * sum(w for _, w in weighted)
    for value, w in weighted:
        x -= w
        if x <= 0:
            return value
    return weighted[-1][0]


def _area(rng: random.Random, lo: float, hi: float) -> Decimal:
    # Drawn as whole hundredths so no float ever becomes an area.
    return Decimal(rng.randrange(int(lo * 100), int(hi * 100) + 1)).scaleb(-2)


def census_rows(
    rng: random.Random,
    count: int,
    *,
    prefix: str,
    blocks: Sequence[str],
    kind: str = "collective_land",
    address_of: Callable[[int, str], str] | None = None,
    signing_start: date | None = None,
    today: date | None = None,
    names: Any = None,
) -> dict[str, list[dict[str, Any]]]:
    """Census rows (keyed by field name, like a filled template) for ``count`` fictional households.

    ``blocks`` are block codes assigned round-robin in runs; ``kind`` picks rural homesteads and
    buildings (collective_land) or small urban flats and shops (shantytown).
    """
    today = today or date(2024, 6, 1)
    namer: _Names = names or _Names(rng)
    rural = kind == "collective_land"
    out: dict[str, list[dict[str, Any]]] = {
        "households": [],
        "members": [],
        "buildings": [],
        "tenants": [],
        "homesteads": [],
        "valuations": [],
    }
    per_block = max(1, -(-count // max(1, len(blocks))))
    for i in range(count):
        code = f"{prefix}{i + 1:05d}"
        block = blocks[min(i // per_block, len(blocks) - 1)] if blocks else ""
        surname = rng.choice(SURNAMES)
        head_male = rng.random() < 0.82
        head_age = rng.randrange(32, 86)
        head = namer.person(surname, head_male)
        phone = _phone(rng)
        address = address_of(i, block) if address_of else f"{block}{i + 1}号"
        # members -----------------------------------------------------------
        dibao = rng.random() < 0.03
        shidu = head_age > 55 and rng.random() < 0.004
        martyr = rng.random() < 0.003
        youfu = rng.random() < 0.006
        people: list[tuple[str, str, int, bool]] = [(head, "户主", head_age, head_male)]
        if rng.random() < 0.8:
            spouse_age = max(22, head_age + rng.randrange(-5, 4))
            people.append(
                (namer.person(rng.choice(SURNAMES), not head_male), "配偶", spouse_age, not head_male)
            )
        if not shidu:
            n_children = _pick(rng, (("0", 0.12), ("1", 0.45), ("2", 0.33), ("3", 0.10)))
            for _ in range(int(n_children)):
                age = head_age - rng.randrange(22, 36)
                if age < 0:
                    continue
                male = rng.random() < 0.52
                people.append((namer.person(surname, male), "子女", age, male))
            if head_age > 58 and rng.random() < 0.35:
                male = rng.random() < 0.5
                people.append((namer.person(surname, male), "孙子女", rng.randrange(0, 16), male))
        if head_age < 50 and rng.random() < 0.18:
            people.append((namer.person(surname, True), "父母", head_age + rng.randrange(22, 32), True))
        only_child = sum(1 for p in people if p[1] == "子女") == 1
        for name, relation, age, male in people:
            counted: bool | None = True
            reason = "户籍在册且实际居住"
            r = rng.random()
            if r < 0.04:
                counted, reason = False, "户籍已迁出"
            elif r < 0.06:
                counted, reason = False, "已享受福利分房"
            elif r < 0.08:
                counted, reason = None, "待村民代表会议认定"
            elif relation == "子女" and 18 <= age <= 23 and r < 0.2:
                reason = "在校大学生，户籍原迁出可计入"
            grade = None
            if rng.random() < 0.02:
                grade = rng.choice((1, 2, 3, 4))
            out["members"].append(
                {
                    "household_code": code,
                    "name": name,
                    "relation": relation,
                    "id_number": namer.id_number(namer.birth(age, today), male),
                    "phone": phone if relation == "户主" else (_phone(rng) if 18 <= age <= 70 else ""),
                    "dibao": "是" if dibao else "否",
                    "disability_grade": f"{grade}级" if grade else "",
                    "serious_illness": "是" if rng.random() < 0.015 else "否",
                    "martyr_family": "是" if martyr else "否",
                    "shidu": "是" if shidu and relation in ("户主", "配偶") else "否",
                    "only_child": "是" if only_child and relation == "子女" else "否",
                    "youfu": "是" if youfu and relation == "户主" else "否",
                    "resettlement_counted": "待定" if counted is None else ("是" if counted else "否"),
                    "resettlement_reason": reason,
                }
            )
        # buildings ------------------------------------------------------------
        n_buildings = int(_pick(rng, (("1", 0.6), ("2", 0.32), ("3", 0.08)))) if rural else 1
        any_valued = False
        for order in range(1, n_buildings + 1):
            if rural:
                structure = _pick(rng, (("砖混", 0.58), ("砖木", 0.25), ("简易", 0.1), ("钢混", 0.07)))
                use = _pick(rng, (("住宅", 0.88), ("非住宅", 0.1), ("营业", 0.02)))
                legal = _area(rng, 40, 300) if structure != "简易" else _area(rng, 30, 80)
                year = rng.randrange(1975, 2016)
                cert = f"集建({year})字第{rng.randrange(1, 99999):05d}号" if structure != "简易" else ""
                floors = 1 if structure == "简易" else rng.choice((1, 2, 2, 3, 3))
                unit = {"砖混": 1850, "砖木": 1450, "简易": 600, "钢混": 2200}[structure]
            else:
                structure = _pick(rng, (("砖木", 0.45), ("砖混", 0.5), ("简易", 0.05)))
                use = _pick(rng, (("住宅", 0.85), ("营业", 0.15)))
                legal = _area(rng, 18, 120)
                year = rng.randrange(1958, 1995)
                cert = f"云房权证青字第{rng.randrange(1, 999999):06d}号"
                floors = rng.choice((1, 2, 2, 3))
                unit = {"砖混": 8200, "砖木": 7400, "简易": 5200}[structure] + (2500 if use == "营业" else 0)
            extra = Decimal("0.00")
            determination = ""
            if rng.random() < 0.3:
                extra = _area(rng, 5, 60)
                determination = _pick(rng, (("临建", 0.35), ("违建", 0.25), ("待认定", 0.3), ("合法", 0.1)))
            out["buildings"].append(
                {
                    "household_code": code,
                    "building_order": order,
                    "certificate_no": cert,
                    "structure": structure,
                    "use": use,
                    "floors": floors,
                    "built_year": year,
                    "legal_area": legal,
                    "unregistered_area": extra,
                    "unregistered_determination": determination,
                    "location": "" if order == 1 else f"附房{order - 1}",
                }
            )
            if rng.random() < 0.85:
                any_valued = True
                price = Decimal(unit + rng.randrange(-150, 151))
                out["valuations"].append(
                    {
                        "household_code": code,
                        "building_order": order,
                        "firm": FIRM,
                        "report_no": f"ZH{today.year}-{prefix}{i + 1:05d}-{order}",
                        "valued_on": today - timedelta(days=rng.randrange(10, 60)),
                        "assessed_unit_price": price,
                        "assessed_value": (price * legal).quantize(Decimal("1")),
                        "decoration": Decimal(rng.randrange(0, 60) * 1000),
                        "fixtures": Decimal(rng.randrange(0, 25) * 500),
                    }
                )
        if rural:
            year = rng.randrange(1984, 2012)
            out["homesteads"].append(
                {
                    "household_code": code,
                    "area": _area(rng, 90, 280),
                    "approved_year": year,
                    "certificate_no": f"集用({year})第{rng.randrange(1, 99999):05d}号",
                }
            )
        if rng.random() < (0.03 if rural else 0.08):
            enterprise = not rural and rng.random() < 0.6
            tenant_male = rng.random() < 0.5
            tenant_born = namer.birth(rng.randrange(25, 60), today)
            out["tenants"].append(
                {
                    "household_code": code,
                    "name": (
                        rng.choice(SURNAMES)
                        + rng.choice(("记", "氏", "家"))
                        + rng.choice(("小吃店", "五金店", "理发店", "便利店"))
                    )
                    if enterprise
                    else namer.person(rng.choice(SURNAMES), tenant_male),
                    "kind": "企业" if enterprise else "个人",
                    "credential": (
                        "92339921MA" + "".join(rng.choice("0123456789ABCDEFGH") for _ in range(8))
                        if enterprise
                        else make_id_number(REGION, tenant_born, rng.randrange(0, 999))
                    ),
                    "contact_phone": _phone(rng),
                    "business": "零售" if enterprise else "居住",
                    "area": _area(rng, 12, 60),
                    "monthly_rent": Decimal(rng.randrange(4, 30) * 100),
                    "lease_start_on": date(today.year - rng.randrange(1, 5), rng.randrange(1, 13), 1),
                    "lease_end_on": date(today.year + 1, rng.randrange(1, 13), 1),
                }
            )
        # status ---------------------------------------------------------------
        status = "surveyed"
        sign_on: date | None = None
        if any_valued:
            r = rng.random()
            status = "valued"
            if signing_start is not None and r < 0.22:
                status = "signed"
                sign_on = signing_start + timedelta(
                    days=rng.randrange(0, max(1, (today - signing_start).days))
                )
        out["households"].append(
            {
                "code": code,
                "head_name": head,
                "address": address,
                "block": block,
                "contact_phone": phone,
                "status": status,
                "sign_on": sign_on,
                "vacate_on": None,
                "remark": "低保户" if dibao else "",
            }
        )
    return out


# ---------------------------------------------------------------- the whole demo


def _fill_policy_facts(session: Session, actor: Actor, project_id: int, codes: Sequence[str]) -> None:
    """The facts the project's policy declares (air conditioners, water meters, the reward area a
    committee determined for some households), as the survey team recorded them. A random source of
    its own: the rest of the demo stays as it was."""
    from anju.compensation import service as compensation_service

    decls = compensation_service.declared_facts(session, project_id)
    if not decls:
        return
    rng = random.Random(20240510)
    values: dict[str, dict[str, str | None]] = {}
    for code in codes:
        row: dict[str, str | None] = {}
        if "ac_units" in decls:
            row["ac_units"] = str(rng.choice((0, 1, 1, 2, 2, 2, 3, 3, 4)))
        if "water_meters" in decls:
            row["water_meters"] = str(rng.choice((1, 1, 1, 2)))
        if "reward_area" in decls and rng.random() < 0.18:
            row["reward_area"] = str(Decimal(rng.randint(500, 2800)).scaleb(-2))
        values[code] = row
    census.write_fact_values(
        session,
        actor=actor,
        project_id=project_id,
        decls=decls,
        values=values,
        reason="入户调查：方案要求的事实",
    )


def _village_address(village: str) -> Callable[[int, str], str]:
    def address(i: int, block: str) -> str:
        return f"青溪街道{village}{GROUP_NAMES[int(block[-2:]) - 1]}{i + 1}号"

    return address


def _make_users(
    session: Session, actor: Actor, team_ids: dict[str, int]
) -> tuple[list[Login], dict[str, int]]:
    logins = []
    ids: dict[str, int] = {}
    for username, role, display in ROLES:
        password = demo_password(username)
        team_id = team_ids.get(username)
        user = identity_service.create_user(
            session,
            actor=actor,
            username=username,
            display_name=display,
            password=password,
            role=role,
            team_id=team_id,
        )
        logins.append(Login(username, password, role, display))
        ids[username] = user.id
    return logins, ids


def demo_logins() -> list[Login]:
    """The demo logins (for printing when the demo already exists)."""
    return [Login(u, demo_password(u), r, d) for u, r, d in ROLES]


def is_populated(session: Session) -> bool:
    """Whether the database already holds a project or a user."""
    return bool(project_service.list_projects(session)) or bool(identity_service.list_users(session))


def build_demo(
    session: Session,
    *,
    scale: float = 1.0,
    seed: int = SEED,
    progress: census.Progress | None = None,
    today: date | None = None,
) -> DemoResult:
    """Create the demo subdistrict in the caller's transaction (the caller commits).

    ``scale`` shrinks the household counts (tests use a small scale); at 1.0 the rural project
    has about 2,300 households in four villages and the shantytown project about 160.
    The story is dated relative to ``today`` (default: the office date), so that on first start the
    campaign is live: the rural signing period began three weeks ago, the shantytown's two months ago.
    """
    rng = random.Random(seed)
    namer = _Names(rng)
    actor = Actor.system("demo")
    result = DemoResult()
    today = today or today_shanghai()
    shift = today - STORY_TODAY  # every date of the story moves by this much

    def on(d: date) -> date:
        return d + shift

    # rural whole-village project ------------------------------------------------
    rural = project_service.create_project(
        session,
        actor=actor,
        code="QX-2024-01",
        name="青溪街道四村整村征迁项目",
        kind="collective_land",
        district="云澜市青溪区青溪街道",
        description="李家村、塘桥村、上溪村、杭垟村四村整村集体土地征收（虚构示例数据）",
        signing_start_on=on(date(2024, 5, 10)),
        signing_end_on=on(date(2024, 6, 30)),
        status="signing",
        legal_basis="《中华人民共和国土地管理法》第四十七条；云澜市人民政府征收土地预公告（虚构）",
        launched_on=on(date(2024, 5, 10)),
        deadline_on=on(date(2024, 6, 30)),
        target_sign_rate=100,
        alert_no_visit_days=5,
    )
    village_sizes = [round(n * scale) for n in (612, 548, 583, 557)]
    block_codes: list[list[str]] = []
    rural_blocks: dict[str, tuple[int, demo_campaign.Rect]] = {}
    placed: dict[str, tuple[str, str]] = {}  # household code -> (block code, head's name)
    for v, (vcode, vname) in enumerate(VILLAGES):
        vrect = demo_campaign.village_rect(v, len(VILLAGES))
        village = project_service.add_block(
            session,
            actor=actor,
            project_id=rural.id,
            code=vcode,
            name=vname,
            level="village",
            sort=v,
            geometry=demo_campaign.polygon(vrect),
        )
        rural_blocks[vcode] = (village.id, vrect)
        groups = []
        n_groups = 3 + v % 3
        for g in range(n_groups):
            gcode = f"{vcode}-{g + 1:02d}"
            grect = demo_campaign.group_rect(vrect, g, n_groups)
            group = project_service.add_block(
                session,
                actor=actor,
                project_id=rural.id,
                code=gcode,
                name=GROUP_NAMES[g],
                level="group",
                parent_id=village.id,
                sort=g,
                geometry=demo_campaign.polygon(grect),
            )
            rural_blocks[gcode] = (group.id, grect)
            groups.append(gcode)
        block_codes.append(groups)
    rural_total = 0
    codes: dict[str, int] = {}  # household code -> id, from the import
    for (vcode, vname), groups, size in zip(VILLAGES, block_codes, village_sizes, strict=True):
        if size <= 0:
            continue
        rows = census_rows(
            rng,
            size,
            prefix=f"{vcode}",
            blocks=groups,
            kind="collective_land",
            address_of=_village_address(vname),
            signing_start=None,  # signing comes from the campaign's history (anju.demo.campaign)
            today=today,
            names=namer,
        )
        placed.update({h["code"]: (h["block"], h["head_name"]) for h in rows["households"]})
        summary = census.import_rows(
            session,
            actor=actor,
            project_id=rural.id,
            rows=rows,
            label=f"示例数据：{vname}",
            progress=progress,
        )
        rural_total += summary.households
        codes.update(summary.household_ids)
        result.members += summary.members
        result.buildings += summary.buildings
    result.projects.append((rural.code, rural.name, rural_total))
    rural_codes = sorted(codes)

    # urban shantytown project ------------------------------------------------------
    shanty = project_service.create_project(
        session,
        actor=actor,
        code="QX-2024-02",
        name="东埠西河棚户区改造项目",
        kind="shantytown",
        district="云澜市青溪区青溪街道",
        description="东埠片区、西河片区棚户区改造（虚构示例数据）",
        signing_start_on=on(date(2024, 4, 1)),
        signing_end_on=on(date(2024, 6, 15)),
        status="signing",
        legal_basis="《国有土地上房屋征收与补偿条例》；青溪区人民政府房屋征收决定（虚构）",
        decision_no="青政征〔2024〕3号（虚构）",
        launched_on=on(date(2024, 5, 6)),
        deadline_on=on(date(2024, 6, 15)),
        target_sign_rate=100,
        alert_no_visit_days=3,
    )
    shanty_blocks: dict[str, tuple[int, demo_campaign.Rect]] = {}
    shanty_total = 0
    for a, ((acode, aname), size) in enumerate(zip(AREAS, [round(n * scale) for n in (88, 75)], strict=True)):
        arect = demo_campaign.area_rect(a, len(AREAS))
        area = project_service.add_block(
            session,
            actor=actor,
            project_id=shanty.id,
            code=acode,
            name=aname,
            level="area",
            sort=a,
            geometry=demo_campaign.polygon(arect),
        )
        shanty_blocks[acode] = (area.id, arect)
        if size <= 0:
            continue
        rows = census_rows(
            rng,
            size,
            prefix=f"{acode}",
            blocks=[acode],
            kind="shantytown",
            address_of=lambda i, b: f"青溪街道{rng.choice(STREETS)}{i + 1}号",
            signing_start=None,
            today=today,
            names=namer,
        )
        placed.update({h["code"]: (h["block"], h["head_name"]) for h in rows["households"]})
        summary = census.import_rows(
            session,
            actor=actor,
            project_id=shanty.id,
            rows=rows,
            label=f"示例数据：{aname}",
            progress=progress,
        )
        shanty_total += summary.households
        codes.update(summary.household_ids)
        result.members += summary.members
        result.buildings += summary.buildings
    result.projects.append((shanty.code, shanty.name, shanty_total))
    result.households = rural_total + shanty_total

    # the policies first: the campaign's signings are computed with them
    publish_demo_policies(
        session, actor=actor, projects={rural.code: rural.id, shanty.code: shanty.id}, shift_days=shift.days
    )
    _fill_policy_facts(session, actor, rural.id, rural_codes)
    # teams, users, assignments (包户到人), parcels, the campaign's history ----------------------
    result.logins = demo_campaign.build_campaign(
        session,
        actor=actor,
        rng=rng,
        today=today,
        projects=(
            demo_campaign.DemoSite(
                rural.id, rural.signing_start_on or today, rural.launched_on or today, rural_blocks
            ),
            demo_campaign.DemoSite(
                shanty.id, shanty.signing_start_on or today, shanty.launched_on or today, shanty_blocks
            ),
        ),
        codes=codes,
        placed=placed,
        make_users=lambda team_ids: _make_users(session, actor, team_ids),
        progress=progress,
    )
    # resettlement flats and the first selection event (the rural project's swap households)
    if progress:
        progress("安置房与选房", 0, 0)

    def actor_of(username: str) -> Actor:
        user = identity_service.get_user_by_username(session, username)
        return Actor(user_id=user.id, username=user.username, display_name=user.display_name, role=user.role)

    result.housing = demo_housing.build_housing(
        session,
        rng=random.Random(seed + 1),  # its own stream: the campaign's data stays as it was
        project_id=rural.id,
        today=today,
        manager=actor_of("jingban"),
        commander=actor_of("zhihui"),
    )
    demo_housing.build_planned_event(
        session, project_id=shanty.id, today=today, manager=actor_of("jingban"), result=result.housing
    )
    # grid governance (#14): communities, 82 grids, workers, buildings and leaders, mediation
    demo_grids.build_grids(
        session,
        actor=actor,
        today=today,
        password_of=demo_password,
        household_ids=sorted(codes.values())[:10],
    )
    # volunteer time bank and moral bank (issue #14 item 6, wt-timebank)
    from anju.demo import time_bank as demo_time_bank

    if progress:
        progress("时间银行", 0, 1)
    demo_time_bank.build_time_bank(
        session, actor=actor, rng=random.Random(seed + 14), today=today, scale=scale
    )
    # a year of residents' requests through the five orders (issue #14 items 2-3)
    from anju.demo import requests as demo_requests

    if progress:
        progress("居民诉求", 0, 1)
    result.requests = demo_requests.build_requests(
        session, actor=actor, rng=random.Random(seed + 15), today=today, scale=scale
    )
    session.flush()
    return result
