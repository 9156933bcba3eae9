"""The demo's resettlement flats (安置房): two estates of the rural project with their flat stock,
and a flat selection event (选房大会) half done, all written through the housing services.

The stock is imported as the developer's flat list would be (one audited, all-or-nothing import
per estate), a few flats are frozen or reserved by hand, then a lottery event runs: the seed's
SHA-256 and the roster are published first, the order is drawn from the seed, the event opens
and about half the households choose their flats one after another (each choice checked against
the household's entitlement by the service, as at the desk), two absent households are skipped
to the end (过号), one choice is undone by the commander with a reason and made again, and the
next household is left being served. The stock is sized to the number of swap households so the
grid stays about half free at every demo scale.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from itertools import combinations_with_replacement

from sqlalchemy.orm import Session

from anju.core.actor import Actor
from anju.demo.floor_plans import floor_plan_png
from anju.errors import DomainError
from anju.household import service as household_service
from anju.housing import service as housing_service
from anju.identity import service as identity_service
from anju.policy import swap as swap_engine


@dataclass(frozen=True, slots=True)
class FlatTypeSpec:
    """A flat type of the demo estates: code, gross and inner area (㎡), orientation."""

    code: str
    gross: Decimal
    inner: Decimal
    orientation: str


# 户型 A-E. B stays under 75 ㎡ and A over 60 ㎡: the rural policy's rules for small and large
# entitlements both have flats to choose from.
FLAT_TYPES: dict[str, FlatTypeSpec] = {
    t.code: t
    for t in (
        FlatTypeSpec("A", Decimal("60.12"), Decimal("47.86"), "南"),
        FlatTypeSpec("B", Decimal("74.86"), Decimal("59.81"), "南北"),
        FlatTypeSpec("C", Decimal("89.93"), Decimal("71.62"), "南北"),
        FlatTypeSpec("D", Decimal("119.87"), Decimal("95.48"), "南北"),
        FlatTypeSpec("E", Decimal("139.76"), Decimal("111.20"), "东南"),
    )
}


@dataclass(frozen=True, slots=True)
class EstateSpec:
    """A demo estate: code, name, address, floors per building, the flat types of each building
    (unit 1 flats 01 and 02, unit 2 flats 01 and 02; cycled over the buildings), its share of the
    stock and its planned delivery relative to today (negative: already late)."""

    code: str
    name: str
    address: str
    floors: int
    layouts: tuple[tuple[str, str, str, str], ...]
    share: float
    delivery_in_days: int


ESTATES = (
    EstateSpec(
        "QXYY",
        "安居·清溪雅苑",
        "云澜市青溪区清河路188号（虚构）",
        18,
        (("B", "C", "D", "E"), ("C", "D", "B", "C"), ("A", "B", "D", "E")),
        0.6,
        300,
    ),
    # Planned in the past and not delivered: transition fees with the late multiplier apply.
    EstateSpec(
        "TQJY",
        "安居·塘桥家园",
        "云澜市青溪区塘桥路66号（虚构）",
        11,
        (("A", "C", "B", "D"), ("B", "C", "D", "E")),
        0.4,
        -75,
    ),
)
# The shantytown project's estate: its selection event is still being prepared (筹备中).
SHANTY_ESTATES = (
    EstateSpec(
        "DBXY",
        "安居·东埠新苑",
        "云澜市青溪区埠头街9号（虚构）",
        12,
        (("A", "B", "C", "D"), ("B", "C", "D", "E")),
        1.0,
        540,
    ),
)
UNITS = 2
FLATS_PER_UNIT_FLOOR = 2
STOCK_PER_HOUSEHOLD = 1.8  # flats per swap household (most take two): about half the stock stays free
MIN_STOCK = 48
MARKET_BASE_YUAN = 5800  # 市场单价 per ㎡ on the first floor; higher floors cost more (楼层差价)
MARKET_STEP_YUAN = 40
FROZEN = (
    ("QXYY", 0, 1, "开发商报告渗水，待整改验收后再开放选房"),
    ("QXYY", 1, 1, "开发商报告渗水，待整改验收后再开放选房"),
    ("TQJY", 0, 2, "消防通道改造，暂停选房"),
)
RESERVED = (("TQJY", 1, 1, "保留给行动不便的残疾人家庭（一楼）"),)
UNDO_REASON = "户主现场反映误选楼栋（本意为同户型的另一幢），经现场监督人员核实，同意撤销后重选"
SKIP_AT = (2, 7)  # the third and the eighth household called are absent (过号)
# The late estate is delivered at last, 55 days late; most keys are handed over since (交钥匙).
DELIVERED_ESTATE = "TQJY"
DELIVERED_DAYS_AGO = 20
HANDED_OVER_SHARE = 0.75
UNDO_AT = 4  # the fifth household called has its first choice undone and chooses again


@dataclass
class DemoHousing:
    """What :func:`build_housing` created (for the demo's summary and its tests)."""

    estates: list[int] = field(default_factory=list)
    flats: int = 0
    event_id: int | None = None
    planned_event_id: int | None = None
    households: int = 0
    finished: int = 0
    skipped: int = 0
    selections: int = 0
    handovers: int = 0  # chosen flats whose keys were handed over (交钥匙)


def _rows(spec: EstateSpec, buildings: int) -> list[housing_service.SheetRow]:
    rows = []
    n = 2
    for b in range(1, buildings + 1):
        layout = spec.layouts[(b - 1) % len(spec.layouts)]
        for unit in range(1, UNITS + 1):
            for floor in range(1, spec.floors + 1):
                for k in range(1, FLATS_PER_UNIT_FLOOR + 1):
                    t = FLAT_TYPES[layout[(unit - 1) * FLATS_PER_UNIT_FLOOR + k - 1]]
                    market = MARKET_BASE_YUAN + MARKET_STEP_YUAN * min(floor - 1, spec.floors - 3)
                    rows.append(
                        housing_service.SheetRow(
                            n,
                            {
                                "building": f"{b}幢",
                                "unit": str(unit),
                                "floor": str(floor),
                                "number": f"{floor}{k:02d}",
                                "flat_type": t.code,
                                "gross_area": str(t.gross),
                                "inner_area": str(t.inner),
                                "shared_area": str(t.gross - t.inner),
                                "orientation": t.orientation,
                                "price_tier": "standard",
                                "market_price": str(market),
                            },
                        )
                    )
                    n += 1
    return rows


def _stock(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    households: int,
    today: date,
    estates: tuple[EstateSpec, ...] = ESTATES,
) -> dict[str, int]:
    """Create the estates and import their flat lists; returns estate code -> id."""
    target = max(MIN_STOCK, round(households * STOCK_PER_HOUSEHOLD))
    out: dict[str, int] = {}
    for spec in estates:
        per_building = spec.floors * UNITS * FLATS_PER_UNIT_FLOOR
        buildings = max(1, math.ceil(target * spec.share / per_building))
        estate = housing_service.create_estate(
            session,
            actor=actor,
            project_id=project_id,
            code=spec.code,
            name=spec.name,
            address=spec.address,
            planned_delivery_on=today + timedelta(days=spec.delivery_in_days),
        )
        rows = _rows(spec, buildings)
        housing_service.import_flats(
            session, actor=actor, estate_id=estate.id, rows=rows, file_sha256=_digest(rows)
        )
        _name_types(session, actor=actor, estate_id=estate.id)
        out[spec.code] = estate.id
    return out


# 户型 names and their number of bedrooms (for the drawn plan).
TYPE_NAMES: dict[str, tuple[str, int]] = {
    "A": ("一室一厅", 1),
    "B": ("两室一厅", 2),
    "C": ("两室两厅", 2),
    "D": ("三室两厅", 3),
    "E": ("四室两厅", 4),
}


def _name_types(session: Session, *, actor: Actor, estate_id: int) -> None:
    """Every flat type of the estate gets its name and a drawn plan image (户型图)."""
    plans = {n: floor_plan_png(n) for n in {b for _, b in TYPE_NAMES.values()}}
    for t in housing_service.estate_view(session, estate_id=estate_id).flat_types:
        name, bedrooms = TYPE_NAMES.get(t.code, ("", 2))
        housing_service.update_flat_type(
            session,
            actor=actor,
            flat_type_id=t.id,
            name=name,
            plan=housing_service.PlanUpload(f"户型{t.code}.png", "image/png", plans[bedrooms]),
        )


def _digest(rows: list[housing_service.SheetRow]) -> str:
    """A stand-in for the developer's file hash: the rows' text (no file exists in the demo)."""
    text = "\n".join("\t".join(r.cells.values()) for r in rows)
    return hashlib.sha256(text.encode()).hexdigest()


def _hold_flats(session: Session, *, actor: Actor, estates: dict[str, int]) -> None:
    """Freeze and reserve a few ground-floor flats by hand, with reasons."""
    for status, held in (("frozen", FROZEN), ("reserved", RESERVED)):
        for code, nth_building, floor, reason in held:
            rows = [
                r
                for r in housing_service.flat_rows(session, estate_ids=[estates[code]], status="available")
                if r.flat.floor == floor
            ]
            buildings = sorted({r.building for r in rows})
            building = buildings[min(nth_building, len(buildings) - 1)]
            flat = next(r.flat for r in rows if r.building == building and r.flat.unit == 1)
            housing_service.change_flat_status(
                session, actor=actor, flat_id=flat.id, status=status, reason=reason
            )


class _Pool:
    """The flats still available, by type, best first: middle floors before the lowest and the
    top ones, as families choose them, so the grid fills the way a real event does."""

    def __init__(self, rows: list[housing_service.FlatRow], floors: dict[int, int]) -> None:
        self.by_type: dict[str, list[housing_service.FlatRow]] = {}
        for r in rows:
            self.by_type.setdefault(r.flat_type, []).append(r)
        for rs in self.by_type.values():
            rs.sort(key=lambda r: (_floor_rank(r.flat.floor, floors[r.flat.estate_id]), r.flat.id))

    def take(self, rng: random.Random, flat_type: str) -> housing_service.FlatRow:
        rs = self.by_type[flat_type]
        return rs.pop(rng.randrange(min(6, len(rs))))

    def put_back(self, row: housing_service.FlatRow) -> None:
        self.by_type[row.flat_type].insert(0, row)

    def counts(self) -> dict[str, int]:
        return {t: len(rs) for t, rs in self.by_type.items() if rs}


def _floor_rank(floor: int, top: int) -> int:
    """0 for the favourite floors (a third up), growing towards the ground and the roof."""
    best = max(1, top // 3 + 1)
    return abs(floor - best) + (3 if floor == 1 or floor == top else 0)


def _choice(
    ent: swap_engine.Entitlement, counts: dict[str, int], rng: random.Random
) -> tuple[str, ...] | None:
    """The flat types a household takes: a combination its rules allow, close to its entitled
    area (within the cheaper extra band when it can), one of the best three at random."""
    most = min(ent.max_flats or 3, 3)
    scored: list[tuple[Decimal, tuple[str, ...]]] = []
    for k in range(1, most + 1):
        for combo in combinations_with_replacement(sorted(counts), k):
            if any(combo.count(t) > counts[t] for t in set(combo)):
                continue
            flats = [swap_engine.Flat(f"{t}{i}", FLAT_TYPES[t].gross, t) for i, t in enumerate(combo)]
            if swap_engine.violations(ent, flats, complete=True):
                continue
            total = sum((f.area for f in flats), Decimal(0))
            over = total - ent.entitled_area
            # Families aim at their entitled area; a little over is cheap, far under is a loss.
            score = abs(over) if over <= ent.extra_limit else abs(over) * 3
            scored.append((score + Decimal(k - 1) * 4, combo))
    if not scored:
        return None
    scored.sort()
    return scored[rng.randrange(min(3, len(scored)))][1]


def build_housing(
    session: Session,
    *,
    rng: random.Random,
    project_id: int,
    today: date,
    manager: Actor,
    commander: Actor,
) -> DemoHousing:
    """The rural project's estates, flat stock and its first selection event, half done."""
    result = DemoHousing()
    eligible = housing_service.eligible_households(session, project_id=project_id)
    estates = _stock(session, actor=manager, project_id=project_id, households=len(eligible), today=today)
    result.estates = list(estates.values())
    _hold_flats(session, actor=manager, estates=estates)
    result.flats = sum(s.total for s in housing_service.list_estates(session, project_id=project_id))
    if not eligible:
        return result
    event = housing_service.create_event(
        session,
        actor=manager,
        project_id=project_id,
        name="四村整村征迁第一批安置房选房大会",
        order_kind="lottery",
        estate_ids=result.estates,
        held_on=today,
    )
    result.event_id = event.id
    # The seed is drawn on the spot by the notary; its SHA-256 was published with the roster first.
    seed = f"QX-2024-01-第一批选房-{rng.getrandbits(64):016x}"
    housing_service.publish_commitment(
        session,
        actor=manager,
        event_id=event.id,
        seed_source="公证员现场抽取的随机字符串；其 SHA-256 承诺值与参加户名单已于选房前公示",
        seed_hash=hashlib.sha256(seed.encode()).hexdigest(),
    )
    housing_service.fix_order(session, actor=manager, event_id=event.id, seed=seed)
    housing_service.open_event(session, actor=manager, event_id=event.id)
    order = sorted(housing_service.event_order(session, event_id=event.id).lines, key=lambda x: x.call_order)
    result.households = len(order)
    _run(
        session, rng=rng, event_id=event.id, order=order, manager=manager, commander=commander, result=result
    )
    _hand_over(session, rng=rng, estates=estates, today=today, manager=manager, result=result)
    return result


def _hand_over(
    session: Session,
    *,
    rng: random.Random,
    estates: dict[str, int],
    today: date,
    manager: Actor,
    result: DemoHousing,
) -> None:
    """The late estate is delivered at last (:data:`DELIVERED_DAYS_AGO`), and the keys of most of
    the flats chosen there are handed over since: a household whose flats are all there has
    moved back (its key dates show it); one with a flat in the other estate still waits."""
    estate_id = estates[DELIVERED_ESTATE]
    estate = housing_service.get_estate(session, estate_id=estate_id)
    delivered = today - timedelta(days=DELIVERED_DAYS_AGO)
    if estate.actual_delivery_on is None:
        housing_service.update_estate_delivery(
            session,
            actor=manager,
            estate_id=estate_id,
            expected_version=estate.version,
            changes={"actual_delivery_on": delivered},
            today=today,
        )
    for line in housing_service.event_order(session, event_id=result.event_id or 0).lines:
        for sel, flat in housing_service.household_selections(session, household_id=line.household_id):
            if flat.estate_id != estate_id or rng.random() >= HANDED_OVER_SHARE:
                continue
            on = delivered + timedelta(days=rng.randrange(1, DELIVERED_DAYS_AGO))
            # keys go to a household that has signed: never before its signing day
            signed_on = household_service.get_household(
                session, scope=identity_service.DataScope.everything(), household_id=line.household_id
            ).sign_on
            on = max(on, signed_on or on)
            housing_service.record_handover(
                session, actor=manager, selection_id=sel.id, handed_over_on=on, today=today
            )
            result.handovers += 1


def _run(
    session: Session,
    *,
    rng: random.Random,
    event_id: int,
    order: list[housing_service.OrderLine],
    manager: Actor,
    commander: Actor,
    result: DemoHousing,
) -> None:
    """Serve households in call order until half have finished; the next one stays current."""
    estates = housing_service.event_estates(session, event_id=event_id)
    floors: dict[int, int] = {}
    for e in estates:
        for g in housing_service.estate_view(session, estate_id=e.id).grids:
            floors[e.id] = max(floors.get(e.id, 0), g.building.floors)
    pool = _Pool(housing_service.event_flats(session, event_id=event_id, status="available"), floors)
    target = len(order) // 2
    for called, line in enumerate(order):
        if result.finished >= target:
            break
        if line.status == "absent":  # pragma: no cover - a roster frozen and drawn in one go has none
            continue
        hid = line.household_id
        combo = None
        if called not in SKIP_AT:
            try:
                ent = housing_service.household_entitlement(session, household_id=hid)
            except DomainError:  # pragma: no cover - every demo swap household has facts to compute
                ent = None
            combo = _choice(ent, pool.counts(), rng) if ent is not None else None
        if combo is None:  # absent, or nothing in the stock fits: called again at the end
            housing_service.skip_household(session, actor=manager, event_id=event_id, household_id=hid)
            result.skipped += 1
            continue
        for n, flat_type in enumerate(combo):
            row = pool.take(rng, flat_type)
            sel = housing_service.select_flat(
                session, actor=manager, event_id=event_id, household_id=hid, flat_id=row.flat.id
            )
            if called == UNDO_AT and n == 0 and pool.counts().get(flat_type):
                housing_service.undo_selection(
                    session, actor=commander, selection_id=sel.id, reason=UNDO_REASON
                )
                again = pool.take(rng, flat_type)
                pool.put_back(row)
                housing_service.select_flat(
                    session, actor=manager, event_id=event_id, household_id=hid, flat_id=again.flat.id
                )
            result.selections += 1
        housing_service.finish_household(session, actor=manager, event_id=event_id, household_id=hid)
        result.finished += 1


def build_planned_event(
    session: Session, *, project_id: int, today: date, manager: Actor, result: DemoHousing
) -> None:
    """The shantytown project's estate and its selection event in preparation: a lottery whose seed
    will be a future public draw, announced with the roster (the households taking part) before
    it; the order is drawn on the day."""
    eligible = housing_service.eligible_households(session, project_id=project_id)
    estates = _stock(
        session,
        actor=manager,
        project_id=project_id,
        households=len(eligible),
        today=today,
        estates=SHANTY_ESTATES,
    )
    result.estates += list(estates.values())
    result.flats += sum(s.total for s in housing_service.list_estates(session, project_id=project_id))
    event = housing_service.create_event(
        session,
        actor=manager,
        project_id=project_id,
        name="东埠西河棚改安置房选房",
        order_kind="lottery",
        estate_ids=list(estates.values()),
        held_on=today + timedelta(days=21),
    )
    result.planned_event_id = event.id
    if eligible:
        draw_on = today + timedelta(days=20)
        housing_service.publish_commitment(
            session,
            actor=manager,
            event_id=event.id,
            seed_source=f"{draw_on:%Y年%m月%d日}福利彩票“3D”开奖号码（选房前一日公开开奖）",
        )
