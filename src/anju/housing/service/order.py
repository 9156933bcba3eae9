"""Housing service part: selection events (选房大会) and their order (选房顺序).

The order is by sign order number (签约顺序号) or by a lottery whose seed is committed before
the draw (:mod:`anju.housing.rules` has the formula). Who takes part: the project's households
with a live (pending or effective) swap agreement (产权调换). For a lottery the roster is frozen
when the commitment is published, so nobody can add or drop a household once the seed is known;
a household whose swap agreement ended afterwards keeps its place, marked absent (未参加).

Anyone can check a fixed order: :func:`verify_event_order` recomputes it from the stored seed and
roster (and the sign order numbers from the agreements) and names the first difference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.core.masking import mask_name
from anju.db import events
from anju.db.session import begin_write
from anju.db.versions import bump_version
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.household import service as household_service
from anju.housing import rules
from anju.housing.models import Estate, SelectionEvent, SelectionEventEstate, SelectionOrderEntry
from anju.housing.service.stock import FlatRow, flat_rows, status_by_estate
from anju.identity import service as identity_service
from anju.project import service as project_service

__all__ = [
    "Eligible",
    "EventSummary",
    "OrderCheck",
    "OrderLine",
    "OrderView",
    "create_event",
    "eligible_households",
    "event_estates",
    "event_flats",
    "event_order",
    "event_summary",
    "fix_order",
    "get_event",
    "list_events",
    "publish_commitment",
    "verify_event_order",
]

EVERYTHING = identity_service.DataScope.everything()
# Agreement statuses that hold a household's place (mirrors the signing domain's live statuses:
# a conditional agreement not yet decided, or an effective one).
LIVE_AGREEMENT = frozenset({"pending", "effective"})
MAX_ESTATES = 50


def get_event(session: Session, *, event_id: int) -> SelectionEvent:
    """A selection event by id; raises :class:`NotFound`."""
    event = session.get(SelectionEvent, event_id)
    if event is None:
        raise NotFound("选房活动不存在", "selection event not found")
    return event


def _lock_event(session: Session, event_id: int) -> SelectionEvent:
    begin_write(session)
    event = session.scalars(
        select(SelectionEvent)
        .where(SelectionEvent.id == event_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if event is None:
        raise NotFound("选房活动不存在", "selection event not found")
    return event


def _check_version(session: Session, event: SelectionEvent, expected: int | None) -> None:
    if expected is not None and event.version != expected:
        raise identity_service.stale_version(
            session, what="选房活动", current=event.version, entity="selection_event", entity_id=event.id
        )


def event_estates(session: Session, *, event_id: int) -> list[Estate]:
    """The estates a selection event offers (by code)."""
    return list(
        session.scalars(
            select(Estate)
            .join(SelectionEventEstate, SelectionEventEstate.estate_id == Estate.id)
            .where(SelectionEventEstate.event_id == event_id)
            .order_by(Estate.code)
        )
    )


@dataclass(frozen=True, slots=True)
class EventSummary:
    """An event with its estates, the number of households in its order (or roster) and flat counts."""

    event: SelectionEvent
    estates: list[Estate]
    households: int
    counts: dict[str, int]

    @property
    def status_label(self) -> str:
        """The event's status in Chinese."""
        return rules.EVENT_STATUSES.get(self.event.status, self.event.status)

    @property
    def kind_label(self) -> str:
        """How the order is made, in Chinese."""
        return rules.ORDER_KINDS.get(self.event.order_kind, self.event.order_kind)


def _summaries(session: Session, events_: list[SelectionEvent]) -> list[EventSummary]:
    out = []
    for e in events_:
        estates = event_estates(session, event_id=e.id)
        by_estate = status_by_estate(session, estate_ids=[x.id for x in estates])
        counts = rules.counts_by_status([])
        for c in by_estate.values():
            for k, n in c.items():
                counts[k] = counts.get(k, 0) + n
        n = len(_entries(session, e.id)) if e.order_fixed_at else len(_roster(e))
        out.append(EventSummary(e, estates, n, counts))
    return out


def list_events(session: Session, *, project_id: int | None = None) -> list[EventSummary]:
    """Selection events, newest first (one project's, or every project's)."""
    q = select(SelectionEvent).order_by(SelectionEvent.id.desc())
    if project_id is not None:
        project_service.get_project(session, project_id)
        q = q.where(SelectionEvent.project_id == project_id)
    return _summaries(session, list(session.scalars(q)))


def event_summary(session: Session, *, event_id: int) -> EventSummary:
    """One event with its estates and counts (404 for no such event)."""
    return _summaries(session, [get_event(session, event_id=event_id)])[0]


def create_event(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    name: str,
    order_kind: str,
    estate_ids: list[int],
    held_on: date | None = None,
) -> SelectionEvent:
    """Plan a selection event over estates of the project (an estate of another project or none
    at all is a 404); the order is fixed later (:func:`fix_order`)."""
    project_service.get_project(session, project_id)
    name = (name or "").strip()
    if not name or len(name) > 128:
        raise ValidationFailed(
            "请填写活动名称（最多 128 字）",
            "name",
            details=[{"field": "name", "message": "活动名称不能为空"}],
        )
    if order_kind not in rules.ORDER_KINDS:
        raise ValidationFailed(
            "选房顺序方式应为 sign_order（按签约顺序号）或 lottery（公开摇号）",
            "order_kind",
            details=[{"field": "order_kind", "message": "选房顺序方式不正确"}],
        )
    wanted = sorted(set(estate_ids))
    if not wanted or len(wanted) > MAX_ESTATES:
        raise ValidationFailed(
            f"请选择 1 至 {MAX_ESTATES} 个安置小区",
            "estate_ids",
            details=[{"field": "estate_ids", "message": "未选择安置小区"}],
        )
    found = set(
        session.scalars(select(Estate.id).where(Estate.id.in_(wanted), Estate.project_id == project_id))
    )
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(
            f"安置小区 {'、'.join(map(str, missing))} 不存在或不属于该项目",
            "estate not found in the project",
            details=[
                {"field": "estate_ids", "message": f"小区编号 {i} 不存在或不属于该项目"} for i in missing
            ],
        )
    event = SelectionEvent(
        project_id=project_id,
        name=name,
        held_on=held_on,
        order_kind=order_kind,
        seed_source="",
        roster="",
        roster_hash="",
        status="planned",
        created_by=actor.user_id,
        created_at=utcnow(),
    )
    session.add(event)
    session.flush()
    session.add_all([SelectionEventEstate(event_id=event.id, estate_id=i) for i in wanted])
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="selection_event",
        entity_id=event.id,
        changes={
            "name": [None, name],
            "order_kind": [None, order_kind],
            "estate_ids": [None, wanted],
            "held_on": [None, held_on.isoformat() if held_on else None],
        },
        project_id=project_id,
    )
    return event


# --------------------------------------------------------------------------- who takes part


@dataclass(frozen=True, slots=True)
class Eligible:
    """A household that takes part: its id, code and the sign order number of its swap agreement."""

    household_id: int
    code: str
    sign_no: int


def eligible_households(session: Session, *, project_id: int) -> list[Eligible]:
    """The project's households with a live swap agreement (产权调换), in sign order."""
    agreements = [
        a
        for a in agreement_service.list_agreements(session, scope=EVERYTHING, project_id=project_id)
        if a.option == "swap" and a.status in LIVE_AGREEMENT
    ]
    labels = household_service.household_labels(session, household_ids=[a.household_id for a in agreements])
    return [Eligible(a.household_id, labels[a.household_id][0], a.sign_no) for a in agreements]


def _roster(event: SelectionEvent) -> list[Eligible]:
    if not event.roster:
        return []
    return [
        Eligible(int(r["household_id"]), str(r["code"]), int(r["sign_no"])) for r in json.loads(event.roster)
    ]


def _roster_json(roster: list[Eligible]) -> str:
    return json.dumps(
        [{"household_id": r.household_id, "code": r.code, "sign_no": r.sign_no} for r in roster],
        ensure_ascii=False,
    )


def _eligible_or_refuse(session: Session, project_id: int) -> list[Eligible]:
    roster = eligible_households(session, project_id=project_id)
    if not roster:
        raise Conflict(
            "该项目还没有选择产权调换且协议有效的户，无法确定选房顺序",
            "no household with a live swap agreement",
            code="no_households",
        )
    return roster


def publish_commitment(
    session: Session,
    *,
    actor: Actor,
    event_id: int,
    seed_source: str,
    seed_hash: str | None = None,
    expected_version: int | None = None,
) -> SelectionEvent:
    """Publish a lottery's commitment before the draw: where the seed will come from
    (``seed_source``, e.g. "2026-12-20 福彩3D开奖号") and, for a seed kept secret until the draw,
    its SHA-256 (``seed_hash``). Freezes the roster (the households taking part) and its hash.
    Once published it never changes (a second publication is a 409 ``already_committed``)."""
    event = _lock_event(session, event_id)
    _check_version(session, event, expected_version)
    if event.order_kind != "lottery":
        raise Conflict("按签约顺序号选房的活动不需要公布摇号种子", "not a lottery", code="not_lottery")
    if event.seed_published_at is not None:
        raise Conflict(
            f"摇号承诺已于 {event.seed_published_at:%Y-%m-%d %H:%M} UTC 公布，不能更改",
            "the commitment is already published",
            code="already_committed",
        )
    source = (seed_source or "").strip()
    if not source or len(source) > 500:
        raise ValidationFailed(
            "请说明种子的来源（最多 500 字）",
            "seed_source",
            details=[{"field": "seed_source", "message": "种子来源不能为空"}],
        )
    commitment = rules.clean_commitment(seed_hash) if seed_hash else None
    roster = _eligible_or_refuse(session, event.project_id)
    bump_version(session, event)
    event.seed_source, event.seed_committed_hash, event.seed_published_at = source, commitment, utcnow()
    event.roster, event.roster_hash = _roster_json(roster), rules.roster_hash(r.code for r in roster)
    audit_service.record(
        session,
        actor=actor,
        action="publish_commitment",
        entity="selection_event",
        entity_id=event.id,
        changes={
            "seed_source": [None, source],
            "seed_committed_hash": [None, commitment],
            "roster_hash": [None, event.roster_hash],
            "roster": [None, [r.code for r in roster]],
        },
        project_id=event.project_id,
    )
    return event


def fix_order(
    session: Session,
    *,
    actor: Actor,
    event_id: int,
    seed: str | None = None,
    expected_version: int | None = None,
) -> list[SelectionOrderEntry]:
    """Fix the event's order, once. Sign order: the households with a live swap agreement now, by
    sign order number. Lottery: the roster published with the commitment, ordered by the seed,
    which must match the published commitment (409 ``seed_mismatch``). Audited with the whole order."""
    event = _lock_event(session, event_id)
    _check_version(session, event, expected_version)
    if event.order_fixed_at is not None:
        raise Conflict(
            f"选房顺序已于 {event.order_fixed_at:%Y-%m-%d %H:%M} UTC 确定，不能重新确定",
            "the order is already fixed",
            code="order_fixed",
        )
    if event.status != "planned":
        raise Conflict(
            "选房活动已开始或已结束，不能确定顺序", "the event is not planned", code="illegal_transition"
        )
    absent: set[int] = set()
    if event.order_kind == "lottery":
        if event.seed_published_at is None:
            raise Conflict(
                "请先公布种子来源（及其承诺值）再摇号", "publish the commitment first", code="not_committed"
            )
        if not seed or not seed.strip():
            raise Conflict("公开摇号须填写种子", "a lottery needs its seed", code="seed_required")
        clean = rules.clean_seed(seed)
        rules.check_seed(clean, event.seed_committed_hash)
        roster = _roster(event)
        by_code = {r.code: r for r in roster}
        placed = rules.lottery_order(clean, [r.code for r in roster])
        live = {e.household_id for e in eligible_households(session, project_id=event.project_id)}
        absent = {r.household_id for r in roster if r.household_id not in live}
        event.seed = clean
    else:
        if seed and seed.strip():
            raise Conflict(
                "按签约顺序号选房的活动不使用种子", "sign order takes no seed", code="seed_not_used"
            )
        roster = _eligible_or_refuse(session, event.project_id)
        by_code = {r.code: r for r in roster}
        placed = rules.sign_order([(r.code, r.sign_no) for r in roster])
        event.roster, event.roster_hash = _roster_json(roster), rules.roster_hash(r.code for r in roster)
    bump_version(session, event)
    event.order_fixed_at = utcnow()
    entries = [
        SelectionOrderEntry(
            event_id=event.id,
            position=p.position,
            call_order=p.position,
            household_id=by_code[p.code].household_id,
            sign_no=by_code[p.code].sign_no,
            draw_key=p.draw_key,
            status="absent" if by_code[p.code].household_id in absent else "waiting",
        )
        for p in placed
    ]
    try:
        with session.begin_nested():
            session.add_all(entries)
            session.flush()
    except IntegrityError:
        raise Conflict(
            "选房顺序已被他人确定，请刷新页面", "order fixed meanwhile", code="order_fixed"
        ) from None
    audit_service.record(
        session,
        actor=actor,
        action="fix_order",
        entity="selection_event",
        entity_id=event.id,
        changes={
            "order_kind": [event.order_kind, event.order_kind],
            "seed": [None, event.seed],
            "seed_committed_hash": [event.seed_committed_hash, event.seed_committed_hash],
            "roster_hash": [None, event.roster_hash],
            "order": [None, [p.code for p in placed]],
            "absent": [None, sorted(r.code for r in roster if r.household_id in absent)],
        },
        project_id=event.project_id,
    )
    for topic in (events.project_topic(event.project_id), events.selection_event_topic(event.id)):
        events.notify(
            session, topic=topic, kind="selection", data={"event_id": event.id, "order_fixed": True}
        )
    return entries


# --------------------------------------------------------------------------- reading and checking


def _entries(session: Session, event_id: int) -> list[SelectionOrderEntry]:
    return list(
        session.scalars(
            select(SelectionOrderEntry)
            .where(SelectionOrderEntry.event_id == event_id)
            .order_by(SelectionOrderEntry.position)
        )
    )


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One household in the order as published: the head's name is masked (a public list)."""

    position: int
    call_order: int
    household_id: int
    code: str
    head_name_masked: str
    sign_no: int | None
    draw_key: str
    status: str

    @property
    def status_label(self) -> str:
        """The entry's status in Chinese."""
        return rules.ENTRY_STATUSES.get(self.status, self.status)


@dataclass(slots=True)
class OrderView:
    """An event's order with everything needed to check it: kind, seed, commitment, roster hash,
    the formula, and the lines (the roster in sign order before the order is fixed)."""

    event: SelectionEvent
    fixed: bool
    lines: list[OrderLine] = field(default_factory=list)

    @property
    def formula_zh(self) -> str:
        """How the order is computed, in Chinese."""
        return rules.FORMULA_ZH if self.event.order_kind == "lottery" else rules.SIGN_ORDER_ZH


def event_order(session: Session, *, event_id: int) -> OrderView:
    """The event's order (or, before it is fixed, the published roster in sign order)."""
    event = get_event(session, event_id=event_id)
    roster = _roster(event)
    code_of = {r.household_id: r.code for r in roster}
    if event.order_fixed_at is not None:
        entries = _entries(session, event_id)
        labels = household_service.household_labels(session, household_ids=[e.household_id for e in entries])
        lines = [
            OrderLine(
                e.position,
                e.call_order,
                e.household_id,
                code_of.get(e.household_id, labels.get(e.household_id, ("", ""))[0]),
                mask_name(labels.get(e.household_id, ("", ""))[1]),
                e.sign_no,
                e.draw_key,
                e.status,
            )
            for e in entries
        ]
        return OrderView(event, True, lines)
    labels = household_service.household_labels(session, household_ids=[r.household_id for r in roster])
    lines = [
        OrderLine(
            0,
            0,
            r.household_id,
            r.code,
            mask_name(labels.get(r.household_id, ("", ""))[1]),
            r.sign_no,
            "",
            "waiting",
        )
        for r in roster
    ]
    return OrderView(event, False, lines)


@dataclass(slots=True)
class OrderCheck:
    """The result of recomputing a fixed order: ``ok``, and every problem found (Chinese)."""

    ok: bool
    problems: list[str]
    expected: list[rules.Placed]
    recorded: list[rules.Placed]


def verify_event_order(session: Session, *, event_id: int) -> OrderCheck:
    """Recompute the event's order from its stored seed and roster and compare it with the order
    recorded: the seed against its commitment, the roster against its hash, for sign order each
    household's sign order number against its agreement, then position by position."""
    event = get_event(session, event_id=event_id)
    if event.order_fixed_at is None:
        return OrderCheck(False, ["选房顺序尚未确定"], [], [])
    problems: list[str] = []
    roster = _roster(event)
    if rules.roster_hash(r.code for r in roster) != event.roster_hash:
        problems.append(f"参加户名单与公布的名单指纹（{event.roster_hash}）不符")
    if event.order_kind == "lottery":
        seed = event.seed or ""
        try:
            rules.check_seed(seed, event.seed_committed_hash)
        except Conflict as exc:
            problems.append(exc.message_zh)
        expected = rules.lottery_order(seed, [r.code for r in roster])
    else:
        signed = {
            (a.household_id, a.sign_no)
            for a in agreement_service.list_agreements(session, scope=EVERYTHING, project_id=event.project_id)
        }
        problems += [
            f"户 {r.code} 没有签约顺序号为 {r.sign_no} 的协议"
            for r in roster
            if (r.household_id, r.sign_no) not in signed
        ]
        expected = rules.sign_order([(r.code, r.sign_no) for r in roster])
    code_of = {r.household_id: r.code for r in roster}
    recorded = []
    for e in _entries(session, event_id):
        code = code_of.get(e.household_id)
        if code is None:
            problems.append(f"第 {e.position} 位的户（编号 {e.household_id}）不在公布的参加户名单中")
            code = f"#{e.household_id}"
        recorded.append(rules.Placed(e.position, code, e.draw_key, e.sign_no))
    difference = rules.first_difference(expected, recorded)
    if difference:
        problems.append(difference)
    return OrderCheck(not problems, problems, expected, recorded)


def event_flats(session: Session, *, event_id: int, status: str | None = None) -> list[FlatRow]:
    """The flats the event offers (its estates' flats), optionally of one status."""
    get_event(session, event_id=event_id)
    return flat_rows(
        session, estate_ids=[e.id for e in event_estates(session, event_id=event_id)], status=status
    )
