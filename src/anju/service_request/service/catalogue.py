"""The request catalogue: departments (部门), request categories (诉求分类, Open311 services) and
their time limits, and who acts for which department.

A subdistrict starts from :data:`DEFAULT_CATALOGUE` (the matters residents actually bring: parking,
market stalls, street lamps, drains, lifts in old estates, neighbour disputes ...) and adjusts it.
Loading is idempotent: existing rows keyed by ``code`` are updated, nothing is deleted, so a
catalogue can be re-applied after edits without losing requests that point at it. Audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.service_request import rules
from anju.service_request.models import Department, DepartmentMember, ServiceCategory, ServiceTimeLimit
from anju.service_request.service._common import fail

#: (step, priority) -> (amount, calendar) used by every default category unless it says otherwise.
STANDARD_LIMITS: dict[tuple[str, str], tuple[int, str]] = {
    ("accept", "urgent"): (2, "working_hours"),
    ("accept", "routine"): (1, "working_days"),
    ("take", "urgent"): (2, "working_hours"),
    ("take", "routine"): (1, "working_days"),
    ("handle", "urgent"): (1, "working_days"),
    ("handle", "routine"): (5, "working_days"),
    ("verify", "urgent"): (3, "calendar_days"),
    ("verify", "routine"): (3, "calendar_days"),
}


@dataclass(frozen=True, slots=True)
class DepartmentSpec:
    """A department of the catalogue."""

    code: str
    name: str
    phone: str = ""


@dataclass(frozen=True, slots=True)
class CategorySpec:
    """A category of the catalogue; ``limits`` override :data:`STANDARD_LIMITS` per (step, priority)."""

    code: str
    name: str
    group: str
    kind: str
    department: str
    keywords: str = ""
    description: str = ""
    limits: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Departments and categories to load together."""

    departments: tuple[DepartmentSpec, ...]
    categories: tuple[CategorySpec, ...]


DEFAULT_CATALOGUE = Catalogue(
    departments=(
        DepartmentSpec("CG", "城管执法中队", "0571-86010001"),
        DepartmentSpec("ZJ", "住建办", "0571-86010002"),
        DepartmentSpec("SJ", "市场监管所", "0571-86010003"),
        DepartmentSpec("WY", "物业管理办", "0571-86010004"),
        DepartmentSpec("MZ", "民政办", "0571-86010005"),
        DepartmentSpec("SF", "司法所", "0571-86010006"),
        DepartmentSpec("SW", "市政水务站", "0571-86010007"),
        DepartmentSpec("JT", "交警中队", "0571-86010008"),
    ),
    categories=(
        CategorySpec("parking", "乱停车与停车难", "市容秩序", "event", "JT", "停车 车位 占用 消防通道"),
        CategorySpec("stall", "占道经营与流动摊贩", "市容秩序", "event", "CG", "摊贩 菜场 占道 夜市"),
        CategorySpec(
            "lamp",
            "路灯不亮",
            "市政设施",
            "component",
            "SW",
            "路灯 灯 黑",
            limits={("handle", "routine"): (3, "working_days")},
        ),
        CategorySpec(
            "drain",
            "下水道堵塞与污水外溢",
            "市政设施",
            "component",
            "SW",
            "下水道 窨井 污水 积水",
            limits={("handle", "routine"): (2, "working_days")},
        ),
        CategorySpec(
            "elevator",
            "老旧小区加装电梯",
            "住房与物业",
            "event",
            "ZJ",
            "电梯 加装 老旧小区",
            limits={("handle", "routine"): (20, "working_days"), ("handle", "urgent"): (5, "working_days")},
        ),
        CategorySpec("property", "物业服务与维修", "住房与物业", "event", "WY", "物业 维修 漏水 门禁"),
        CategorySpec("sanitation", "环境卫生与垃圾清运", "环境", "event", "WY", "垃圾 清运 卫生 异味"),
        CategorySpec("noise", "噪声扰民", "环境", "event", "CG", "噪音 噪声 装修 广场舞"),
        CategorySpec(
            "dispute",
            "邻里纠纷",
            "矛盾调解",
            "event",
            "SF",
            "纠纷 邻居 矛盾 调解",
            limits={("handle", "routine"): (10, "working_days")},
        ),
        CategorySpec("elderly", "助老帮扶", "民生服务", "event", "MZ", "老人 独居 助餐 帮扶"),
        CategorySpec(
            "market", "农贸市场秩序与食品安全", "市场监管", "event", "SJ", "市场 食品 价格 缺斤短两"
        ),
        CategorySpec("greenery", "绿化养护", "市政设施", "component", "WY", "树 绿化 修剪 枯枝"),
    ),
)


@dataclass(slots=True)
class LoadResult:
    """What :func:`load_catalogue` did."""

    departments_added: int = 0
    departments_updated: int = 0
    categories_added: int = 0
    categories_updated: int = 0
    limits_set: int = 0


def _check_spec(cat: CategorySpec, departments: set[str]) -> None:
    if cat.kind not in rules.KINDS:
        raise fail("kind", f"诉求分类“{cat.name}”的类型“{cat.kind}”不对，应为 部件 或 事件")
    if cat.department not in departments:
        raise fail("department", f"诉求分类“{cat.name}”的承办部门代码“{cat.department}”不在部门清单中")
    for (step, priority), (amount, calendar) in cat.limits.items():
        if step not in rules.STEPS or priority not in rules.PRIORITIES or calendar not in rules.CALENDARS:
            raise fail("limits", f"诉求分类“{cat.name}”的时限设置（{step}/{priority}/{calendar}）不对")
        if amount < 0:
            raise fail("limits", f"诉求分类“{cat.name}”的时限不能为负数")


def load_catalogue(db: Session, *, actor: Actor, catalogue: Catalogue = DEFAULT_CATALOGUE) -> LoadResult:
    """Create or update the catalogue's departments, categories and time limits (keyed by code;
    nothing is deleted). Audited as one ``request_catalogue.load`` entry."""
    codes = {d.code for d in catalogue.departments} | set(db.scalars(select(Department.code)).all())
    for cat in catalogue.categories:
        _check_spec(cat, codes)
    now = utcnow()
    out = LoadResult()
    deps: dict[str, Department] = {d.code: d for d in db.scalars(select(Department)).all()}
    for spec in catalogue.departments:
        dep = deps.get(spec.code)
        if dep is None:
            dep = Department(code=spec.code, name=spec.name, phone=spec.phone, created_at=now)
            db.add(dep)
            deps[spec.code] = dep
            out.departments_added += 1
        elif (dep.name, dep.phone) != (spec.name, spec.phone):
            dep.name, dep.phone = spec.name, spec.phone
            out.departments_updated += 1
    db.flush()
    cats: dict[str, ServiceCategory] = {c.code: c for c in db.scalars(select(ServiceCategory)).all()}
    for sort, cspec in enumerate(catalogue.categories):
        values = {
            "name": cspec.name,
            "group": cspec.group,
            "kind": cspec.kind,
            "keywords": cspec.keywords,
            "description": cspec.description,
            "department_id": deps[cspec.department].id,
            "sort": sort,
        }
        row = cats.get(cspec.code)
        if row is None:
            row = ServiceCategory(code=cspec.code, **values)
            db.add(row)
            cats[cspec.code] = row
            out.categories_added += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            out.categories_updated += 1
    db.flush()
    existing = {(t.category_id, t.step, t.priority): t for t in db.scalars(select(ServiceTimeLimit)).all()}
    for cspec in catalogue.categories:
        cat_id = cats[cspec.code].id
        for key, (amount, calendar) in {**STANDARD_LIMITS, **cspec.limits}.items():
            step, priority = key
            limit = existing.get((cat_id, step, priority))
            if limit is None:
                db.add(
                    ServiceTimeLimit(
                        category_id=cat_id, step=step, priority=priority, amount=amount, calendar=calendar
                    )
                )
                out.limits_set += 1
            elif (limit.amount, limit.calendar) != (amount, calendar):
                limit.amount, limit.calendar = amount, calendar
                out.limits_set += 1
    db.flush()
    audit_service.record(
        db,
        actor=actor,
        action="request_catalogue.load",
        entity="service_category",
        entity_id="catalogue",
        changes={
            "departments_added": [None, out.departments_added],
            "departments_updated": [None, out.departments_updated],
            "categories_added": [None, out.categories_added],
            "categories_updated": [None, out.categories_updated],
            "limits_set": [None, out.limits_set],
        },
    )
    return out


def add_member(db: Session, *, actor: Actor, department_code: str, user_id: int) -> DepartmentMember:
    """Let a user act for a department (take, send back, publish its requests). Idempotent; audited."""
    dep = db.scalar(select(Department).where(Department.code == department_code))
    if dep is None:
        raise fail("department", f"部门代码“{department_code}”不存在")
    row = db.scalar(
        select(DepartmentMember).where(
            DepartmentMember.department_id == dep.id, DepartmentMember.user_id == user_id
        )
    )
    if row is not None:
        return row
    row = DepartmentMember(department_id=dep.id, user_id=user_id)
    db.add(row)
    db.flush()
    audit_service.record(
        db,
        actor=actor,
        action="department.add_member",
        entity="department",
        entity_id=dep.id,
        changes={"user_id": [None, user_id]},
    )
    return row


def active_categories(db: Session) -> list[ServiceCategory]:
    """Categories a resident may choose, in catalogue order."""
    return list(
        db.scalars(
            select(ServiceCategory)
            .where(ServiceCategory.active.is_(True))
            .order_by(ServiceCategory.sort, ServiceCategory.id)
        ).all()
    )


def departments(db: Session) -> list[Department]:
    """Active departments by code."""
    return list(
        db.scalars(select(Department).where(Department.active.is_(True)).order_by(Department.code)).all()
    )
