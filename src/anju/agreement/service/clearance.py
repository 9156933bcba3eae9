"""Clearance (腾空与拆除): vacating acceptance (交验空房 / 腾空验收), demolition records (拆除) and
tenant clearance (承租人 / 承租企业清退).

Vacating feeds the policy's vacate-date clock. Accepting it, in one transaction: the record is
written; the household's stage moves to 已腾空 with the date (campaign service: timeline, live
screens); the agreement's after-vacating instalment falls due; and the agreement's *frozen* facts
are evaluated again, under the snapshot's own policy version and as-of date, with the vacating
date set: items that grow (a 腾空奖励 keyed to the vacating date) become one "reward" instalment
due on the vacating date. The snapshot itself is never edited: it stays what was signed.

Voiding a record (a mistake at the desk) undoes each of its effects explicitly, audited: the
reward is cancelled and the after-vacating instalment is scheduled again, both refused when money
was already paid or committed against them; the stage goes back with a timeline entry. A vacating
cannot be voided once the household is demolished (void the demolition first).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju import uploads as upload_policy
from anju.agreement import rules
from anju.agreement.models import Agreement, DemolitionRecord, Instalment, TenantClearance, VacateRecord
from anju.agreement.service import schedule
from anju.agreement.service.signing import get_snapshot, items_of, snapshot_facts, snapshot_group
from anju.audit import service as audit_service
from anju.campaign import service as campaign_service
from anju.compensation import service as compensation_service
from anju.core import text
from anju.core.actor import Actor
from anju.core.dates import today_shanghai, utcnow
from anju.db import events
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.household import service as household_service
from anju.identity.service import DataScope

__all__ = [
    "MAX_PHOTOS",
    "ClearanceFile",
    "DemolitionResult",
    "Photo",
    "VacateResult",
    "checklist_of",
    "clearance_file",
    "demolition_of_household",
    "photo_ids_of",
    "record_demolition",
    "record_vacating",
    "vacate_of_household",
    "void_demolition",
    "void_vacating",
]

MAX_PHOTOS = 20  # photos of one record (photo_ids holds them comma-separated in 500 characters)
MAX_KEYS = 99


@dataclass(frozen=True, slots=True)
class Photo:
    """A photo uploaded with a clearance record (stored as a household attachment of kind photo)."""

    filename: str
    content_type: str
    content: bytes


@dataclass
class VacateResult:
    """What accepting a vacating did: the record, the instalments made due, the reward (if any) and
    the items that grew (item id -> increase in fen)."""

    record: VacateRecord
    agreement: Agreement
    made_due: list[Instalment]
    reward: Instalment | None
    increases: dict[str, int]
    increase_labels: dict[str, str]


@dataclass
class DemolitionResult:
    """A demolition record and the household's new stage."""

    record: DemolitionRecord


# ---------------------------------------------------------------- shared checks


def _fail(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        message, f"invalid {field_name}", details=[{"field": field_name, "message": message}]
    )


def _text(value: str, field_name: str, label: str, max_len: int, *, required: bool, multiline: bool) -> str:
    problem = text.text_problem(value, max_len=max_len, multiline=multiline)
    if problem:
        raise _fail(field_name, f"{label}{problem}")
    value = value.strip()
    if required and not value:
        raise _fail(field_name, f"{label}必填")
    return value


def _checklist(checklist: dict[str, Any], known: dict[str, str]) -> str:
    problem = rules.checklist_problem(checklist, known)
    if problem:
        raise _fail("checklist", problem)
    return json.dumps(rules.full_checklist(checklist, known), ensure_ascii=False)


def _date_conflict(field_name: str, label: str, problem: str, code: str) -> Conflict:
    # A well-formed date that conflicts with the record's timeline: 409, as stage dates are.
    return Conflict(
        f"{label}{problem}",
        f"{field_name} conflicts with the timeline",
        code=code,
        details=[{"field": field_name, "message": problem}],
    )


def checklist_of(raw: str, known: dict[str, str]) -> list[tuple[str, str, bool]]:
    """A stored checklist as (key, label, done) in the checklist's order."""
    data = json.loads(raw) if raw else {}
    return [(k, label, bool(data.get(k, False))) for k, label in known.items()]


def photo_ids_of(raw: str) -> list[int]:
    """The attachment ids stored on a record."""
    return [int(x) for x in raw.split(",") if x.strip().isdigit()]


def _check_photos(
    session: Session,
    *,
    scope: DataScope,
    household_id: int,
    photo_ids: Sequence[int],
    photos: Sequence[Photo],
) -> list[int]:
    """Check named attachments and uploaded photos before anything is written; returns the ids of the
    named ones. A named attachment must be a live image of this household (404 when it is not one
    of its attachments, 409 when it is not an image); an upload must be an image by its content."""
    if len(photo_ids) + len(photos) > MAX_PHOTOS:
        raise _fail("photos", f"照片最多{MAX_PHOTOS}张")
    ids: list[int] = []
    for pid in dict.fromkeys(photo_ids):
        try:
            a, h = household_service.child_record(session, scope=scope, kind="attachment", child_id=pid)
        except NotFound:
            raise NotFound(f"照片（附件编号 {pid}）不存在", "no such attachment") from None
        if h.id != household_id:
            raise NotFound(f"照片（附件编号 {pid}）不是该户的附件", "attachment of another household")
        if not a.content_type.startswith("image/"):
            raise Conflict(
                f"附件“{a.filename}”不是图片，不能作为现场照片",
                "the attachment is not an image",
                code="not_an_image",
                details=[{"field": "photo_ids", "message": f"附件编号 {pid} 不是图片"}],
            )
        ids.append(pid)
    for n, p in enumerate(photos, start=1):
        name = p.filename or f"第{n}张照片"
        try:
            check = upload_policy.inspect_attachment(p.content, name, p.content_type)
        except ValidationFailed as exc:
            raise ValidationFailed(
                f"照片“{name}”：{exc.message_zh}",
                exc.message_en,
                code=exc.code,
                details=[{"field": "photos", "message": f"“{name}”：{exc.message_zh}"}],
            ) from None
        if not check.content_type.startswith("image/"):
            raise _fail("photos", f"“{name}”不是图片（只接受 JPEG、PNG、GIF、WebP 照片）")
    return ids


def _store_photos(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    ids: list[int],
    photos: Sequence[Photo],
) -> str:
    for p in photos:
        a = household_service.add_attachment(
            session,
            actor=actor,
            scope=scope,
            household_id=household_id,
            filename=p.filename or "现场照片.jpg",
            content_type=p.content_type,
            content=p.content,
            kind="photo",
        )
        ids.append(a.id)
    return ",".join(str(i) for i in ids)


def _audit(
    session: Session,
    actor: Actor,
    *,
    action: str,
    entity: str,
    entity_id: int,
    changes: dict[str, Any],
    project_id: int,
    household_id: int,
    reason: str = "",
) -> None:
    audit_service.record(
        session,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        changes=changes,
        reason=reason,
        project_id=project_id,
        household_id=household_id,
    )


def _void_record(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    h: Any,
    rec: VacateRecord | DemolitionRecord,
    entity: str,
    from_stage: str,
    note: str,
    reason: str,
    recorded_at: datetime | None,
    changes: dict[str, Any] | None = None,
) -> None:
    """What voiding a vacating or demolition record does after its own checks and money: the stage
    goes back (timeline note), the record is marked void, audited with the reason, screens told."""
    campaign_service.revert_stage(
        session,
        actor=actor,
        scope=scope,
        household_id=h.id,
        from_stage=from_stage,
        note=note,
        recorded_at=recorded_at,
    )
    rec.voided_at = recorded_at or utcnow()
    rec.void_reason = reason
    session.flush()
    _audit(
        session,
        actor,
        action="void",
        entity=entity,
        entity_id=rec.id,
        project_id=h.project_id,
        household_id=h.id,
        changes={"voided_at": [None, rec.voided_at.isoformat()], **(changes or {})},
        reason=reason,
    )
    events.notify(
        session,
        topic=events.project_topic(h.project_id),
        kind="clearance",
        data={"household_id": h.id, "what": "vacate_void" if from_stage == "vacated" else "demolish_void"},
    )


def _live_vacate(session: Session, household_id: int, *, lock: bool = False) -> VacateRecord | None:
    q = select(VacateRecord).where(
        VacateRecord.household_id == household_id, VacateRecord.voided_at.is_(None)
    )
    if lock:
        q = q.with_for_update().execution_options(populate_existing=True)
    return session.scalars(q.order_by(VacateRecord.id.desc())).first()


def _live_demolition(session: Session, household_id: int) -> DemolitionRecord | None:
    return session.scalars(
        select(DemolitionRecord)
        .where(DemolitionRecord.household_id == household_id, DemolitionRecord.voided_at.is_(None))
        .order_by(DemolitionRecord.id.desc())
    ).first()


def _lock_live_agreement(session: Session, household_id: int) -> Agreement | None:
    """The household's live agreement, its row locked: vacating and its voiding serialise on it
    (lock order: agreement, then the household row that the stage move locks)."""
    return session.scalar(
        select(Agreement)
        .where(Agreement.household_id == household_id, Agreement.status.in_(rules.LIVE_STATUSES))
        .with_for_update()
        .execution_options(populate_existing=True)
    )


# ---------------------------------------------------------------- vacating


def vacate_of_household(session: Session, *, scope: DataScope, household_id: int) -> VacateRecord | None:
    """The household's live (not voided) vacating acceptance, if any."""
    household_service.get_household(session, scope=scope, household_id=household_id)
    return _live_vacate(session, household_id)


def _reward(
    session: Session, agreement: Agreement, vacated_on: date
) -> tuple[dict[str, int], dict[str, str]]:
    """Items of the agreement that grow when its frozen facts get the vacating date: id -> increase
    in fen, and id -> label. Same facts, policy version, as-of date and group facts as the snapshot,
    so only the vacating date differs."""
    snap = get_snapshot(session, agreement)
    facts = replace(snapshot_facts(snap), vacate_on=vacated_on)
    pv = compensation_service.get_version(session, agreement.project_id, snap.policy_version)
    result = compensation_service.evaluate_frozen(
        pv, facts, agreement.option, as_of=snap.as_of, group=snapshot_group(snap)
    )
    signed = {str(i["id"]): int(i["amount_fen"]) for i in items_of(snap)}
    increases = rules.item_increases(signed, result.amounts())
    labels = {i.id: i.label for i in result.items if i.id in increases}
    return increases, labels


def record_vacating(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    vacated_on: date,
    checklist: dict[str, Any],
    keys_handed: int,
    inspector: str,
    note: str = "",
    photo_ids: Sequence[int] = (),
    photos: Sequence[Photo] = (),
    today: date | None = None,
    recorded_at: datetime | None = None,
) -> VacateResult:
    """Accept a household's vacating (交验空房 / 腾空验收); see the module docstring for its effects.

    Needs a live (effective or pending) agreement and the stage 已签约 (409 ``not_signed`` /
    ``already_vacated`` otherwise); ``vacated_on`` not after today nor before the signing (409
    ``vacate_date``). A pending agreement's after-vacating share and reward stay scheduled until
    it takes effect (:func:`~anju.agreement.service.schedule.release_instalments`). Nothing is
    written when anything is refused.
    """
    today = today or today_shanghai()
    inspector = _text(inspector, "inspector", "验收人", 64, required=True, multiline=False)
    note = _text(note, "note", "备注", 1000, required=False, multiline=True)
    checklist_json = _checklist(checklist, rules.VACATE_CHECKLIST)
    if not 0 <= keys_handed <= MAX_KEYS:
        raise _fail("keys_handed", f"交钥匙数应为 0 至 {MAX_KEYS}")
    h = household_service.get_household(session, scope=scope, household_id=household_id)
    agreement = _lock_live_agreement(session, household_id)
    if agreement is None:
        raise Conflict(
            "该户没有有效的协议（已生效或待生效），不能登记腾空验收",
            "no live agreement",
            code="not_signed",
        )
    if _live_vacate(session, household_id) is not None or h.status != "signed":
        stage = household_service.stage_labels().get(h.status, h.status)
        raise Conflict(
            f"该户已登记腾空验收（当前阶段“{stage}”），如需更正请先作废原记录",
            "the household's vacating is recorded already",
            code="already_vacated",
        )
    problem = rules.event_date_problem(
        vacated_on, today=today, after=agreement.sign_on, after_label="签约日期"
    )
    if problem:
        raise _date_conflict("vacated_on", "腾空日期", problem, "vacate_date")
    ids = _check_photos(session, scope=scope, household_id=household_id, photo_ids=photo_ids, photos=photos)
    increases, labels = _reward(session, agreement, vacated_on)

    now = recorded_at or utcnow()
    rec = VacateRecord(
        project_id=h.project_id,
        household_id=household_id,
        agreement_id=agreement.id,
        vacated_on=vacated_on,
        checklist=checklist_json,
        keys_handed=keys_handed,
        inspector=inspector,
        note=note,
        photo_ids=_store_photos(
            session, actor=actor, scope=scope, household_id=household_id, ids=ids, photos=photos
        ),
        recorded_by=actor.user_id,
        recorded_at=now,
        void_reason="",
    )
    session.add(rec)
    session.flush()
    campaign_service.move_stage(
        session,
        actor=actor,
        scope=scope,
        household_id=household_id,
        to_stage="vacated",
        on=vacated_on,
        note=f"腾空验收（验收人：{inspector}）",
        manage=True,
        today=today,
        recorded_at=recorded_at,
    )
    made_due: list[Instalment] = []
    if agreement.status == "effective":
        for i in schedule.instalments(session, agreement.id):
            if i.kind == "after_vacate" and i.status == "scheduled":
                schedule.make_due(session, actor=actor, instalment=i, due_on=vacated_on, reason="腾空验收")
                made_due.append(i)
    reward = None
    total = sum(increases.values())
    if total > 0:
        names = "、".join(labels[k] for k in increases)
        reward = schedule.add_instalment(
            session,
            actor=actor,
            agreement=agreement,
            kind="reward",
            amount_fen=total,
            purpose=f"{agreement.agreement_no} {names}",
            item_ids=list(increases),
            due_on=vacated_on,
            reason=f"腾空验收（{vacated_on.isoformat()}）",
        )
        rec.reward_instalment_id = reward.id
        session.flush()
    _audit(
        session,
        actor,
        action="vacate",
        entity="vacate_record",
        entity_id=rec.id,
        project_id=h.project_id,
        household_id=household_id,
        changes={
            "agreement_id": [None, agreement.id],
            "vacated_on": [None, vacated_on.isoformat()],
            "checklist": [None, json.loads(checklist_json)],
            "keys_handed": [None, keys_handed],
            "inspector": [None, inspector],
            "photo_ids": [None, rec.photo_ids],
            "reward_fen": [None, total],
            "reward_items": [None, increases],
            "instalments_due": [None, [i.id for i in made_due]],
        },
        reason=note,
    )
    events.notify(
        session,
        topic=events.project_topic(h.project_id),
        kind="clearance",
        data={"household_id": household_id, "what": "vacate", "on": vacated_on.isoformat()},
    )
    return VacateResult(rec, agreement, made_due, reward, increases, labels)


def void_vacating(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    reason: str,
    recorded_at: datetime | None = None,
) -> VacateRecord:
    """Void the household's vacating acceptance (a mistake), undoing each effect explicitly.

    The reward instalment is cancelled and the after-vacating instalment scheduled again: both
    refused (409 ``instalment_paid``) when money was paid or committed against them. The stage goes
    back to 已签约 (the vacating date cleared). 409 ``no_vacate_record`` when there is nothing to
    void, ``demolished`` after a demolition was recorded (void that first). Audited with the reason.
    """
    reason = _text(reason, "reason", "作废理由", text.MAX_REASON, required=True, multiline=True)
    h = household_service.get_household(session, scope=scope, household_id=household_id)
    agreement = _lock_live_agreement(session, household_id)
    rec = _live_vacate(session, household_id, lock=True)
    if rec is None:
        raise Conflict(
            "该户没有有效的腾空验收记录可作废", "no vacating record to void", code="no_vacate_record"
        )
    if h.status != "vacated" or _live_demolition(session, household_id) is not None:
        stage = household_service.stage_labels().get(h.status, h.status)
        raise Conflict(
            f"该户当前阶段为“{stage}”，不能作废腾空验收"
            + ("（请先作废拆除登记）" if h.status == "demolished" else ""),
            f"cannot void the vacating of a household in stage {h.status}",
            code="demolished" if h.status == "demolished" else "illegal_transition",
        )
    # Every instalment is checked before any changes, so the refusal names the first one that money
    # stands against, whichever kind it is.
    reward = session.get(Instalment, rec.reward_instalment_id) if rec.reward_instalment_id else None
    after = []
    if agreement is not None and agreement.id == rec.agreement_id:
        after = [
            i
            for i in schedule.instalments(session, agreement.id)
            if i.kind == "after_vacate" and i.status == "due"
        ]
    taken_back = [i for i in [reward, *after] if i is not None and i.status != "cancelled"]
    schedule.lock_instalments(session, [i.id for i in taken_back])
    for i in taken_back:
        schedule.check_untouched(i, "不能作废腾空验收")
    why = f"作废腾空验收：{reason}"
    if reward is not None:
        schedule.cancel_instalment(session, actor=actor, instalment=reward, reason=why)
    for i in after:
        schedule.unschedule_instalment(session, actor=actor, instalment=i, reason=why)
    _void_record(
        session,
        actor=actor,
        scope=scope,
        h=h,
        rec=rec,
        entity="vacate_record",
        from_stage="vacated",
        note=why,
        reason=reason,
        recorded_at=recorded_at,
        changes={
            "reward_instalment_id": [rec.reward_instalment_id, None],
            "instalments_unscheduled": [[i.id for i in after], None],
        },
    )
    return rec


# ---------------------------------------------------------------- demolition


def demolition_of_household(
    session: Session, *, scope: DataScope, household_id: int
) -> DemolitionRecord | None:
    """The household's live (not voided) demolition record, if any."""
    household_service.get_household(session, scope=scope, household_id=household_id)
    return _live_demolition(session, household_id)


def record_demolition(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    demolished_on: date,
    contractor: str,
    note: str = "",
    photo_ids: Sequence[int] = (),
    photos: Sequence[Photo] = (),
    today: date | None = None,
    recorded_at: datetime | None = None,
) -> DemolitionResult:
    """Record the demolition (拆除) of a vacated household: stage 已拆除 with the date; audited.

    409 ``not_vacated`` before a vacating acceptance, ``already_demolished`` when recorded already,
    ``demolition_date`` for a date after today or before the vacating.
    """
    today = today or today_shanghai()
    contractor = _text(contractor, "contractor", "拆除单位", 128, required=True, multiline=False)
    note = _text(note, "note", "备注", 1000, required=False, multiline=True)
    h = household_service.get_household(session, scope=scope, household_id=household_id)
    vacate = _live_vacate(session, household_id, lock=True)
    if vacate is None:
        raise Conflict("该户尚未腾空验收，不能登记拆除", "the household has not vacated", code="not_vacated")
    if h.status != "vacated" or _live_demolition(session, household_id) is not None:
        stage = household_service.stage_labels().get(h.status, h.status)
        raise Conflict(
            f"该户当前阶段为“{stage}”，不能登记拆除", "demolition recorded already", code="already_demolished"
        )
    problem = rules.event_date_problem(
        demolished_on, today=today, after=vacate.vacated_on, after_label="腾空日期"
    )
    if problem:
        raise _date_conflict("demolished_on", "拆除日期", problem, "demolition_date")
    ids = _check_photos(session, scope=scope, household_id=household_id, photo_ids=photo_ids, photos=photos)
    rec = DemolitionRecord(
        project_id=h.project_id,
        household_id=household_id,
        demolished_on=demolished_on,
        contractor=contractor,
        note=note,
        photo_ids=_store_photos(
            session, actor=actor, scope=scope, household_id=household_id, ids=ids, photos=photos
        ),
        recorded_by=actor.user_id,
        recorded_at=recorded_at or utcnow(),
        void_reason="",
    )
    session.add(rec)
    session.flush()
    campaign_service.move_stage(
        session,
        actor=actor,
        scope=scope,
        household_id=household_id,
        to_stage="demolished",
        on=demolished_on,
        note=f"拆除（{contractor}）",
        manage=True,
        today=today,
        recorded_at=recorded_at,
    )
    _audit(
        session,
        actor,
        action="demolish",
        entity="demolition_record",
        entity_id=rec.id,
        project_id=h.project_id,
        household_id=household_id,
        changes={
            "demolished_on": [None, demolished_on.isoformat()],
            "contractor": [None, contractor],
            "photo_ids": [None, rec.photo_ids],
        },
        reason=note,
    )
    events.notify(
        session,
        topic=events.project_topic(h.project_id),
        kind="clearance",
        data={"household_id": household_id, "what": "demolish", "on": demolished_on.isoformat()},
    )
    return DemolitionResult(rec)


def void_demolition(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    reason: str,
    recorded_at: datetime | None = None,
) -> DemolitionRecord:
    """Void the household's demolition record (a mistake): the stage goes back to 已腾空 (the
    demolition date cleared); audited. 409 ``no_demolition_record`` when there is none, or when the
    household moved on (archived)."""
    reason = _text(reason, "reason", "作废理由", text.MAX_REASON, required=True, multiline=True)
    h = household_service.get_household(session, scope=scope, household_id=household_id)
    _live_vacate(session, household_id, lock=True)  # the same lock as recording a demolition
    rec = _live_demolition(session, household_id)
    if rec is None:
        raise Conflict(
            "该户没有有效的拆除登记可作废", "no demolition record to void", code="no_demolition_record"
        )
    if h.status != "demolished":
        stage = household_service.stage_labels().get(h.status, h.status)
        raise Conflict(
            f"该户当前阶段为“{stage}”，不能作废拆除登记", "the household moved on", code="illegal_transition"
        )
    _void_record(
        session,
        actor=actor,
        scope=scope,
        h=h,
        rec=rec,
        entity="demolition_record",
        from_stage="demolished",
        note=f"作废拆除登记：{reason}",
        reason=reason,
        recorded_at=recorded_at,
    )
    return rec


# ---------------------------------------------------------------- one household's clearance


@dataclass
class ClearanceFile:
    """Everything of a household's clearance: its live agreement and schedule, the vacating and
    demolition records (live first, voided ones kept), its tenants with their clearance."""

    household_id: int
    project_id: int
    stage: str
    agreement: Agreement | None
    instalments: list[Instalment]
    vacates: list[VacateRecord]
    demolitions: list[DemolitionRecord]
    tenants: list[tuple[Any, TenantClearance | None]]

    @property
    def vacate(self) -> VacateRecord | None:
        """The live vacating acceptance."""
        return next((r for r in self.vacates if r.voided_at is None), None)

    @property
    def demolition(self) -> DemolitionRecord | None:
        """The live demolition record."""
        return next((r for r in self.demolitions if r.voided_at is None), None)


def clearance_file(session: Session, *, scope: DataScope, household_id: int) -> ClearanceFile:
    """A household's clearance within ``scope`` (404 outside it)."""
    f = household_service.get_household_file(session, scope=scope, household_id=household_id)
    h = f.household
    agreement = session.scalar(
        select(Agreement).where(
            Agreement.household_id == household_id, Agreement.status.in_(rules.LIVE_STATUSES)
        )
    )
    # Live record first, then the voided ones, newest first.
    vacates = sorted(
        session.scalars(select(VacateRecord).where(VacateRecord.household_id == household_id)),
        key=lambda r: (r.voided_at is not None, -r.id),
    )
    demolitions = sorted(
        session.scalars(select(DemolitionRecord).where(DemolitionRecord.household_id == household_id)),
        key=lambda r: (r.voided_at is not None, -r.id),
    )
    cleared: dict[int, TenantClearance] = {}
    for c in session.scalars(
        select(TenantClearance)
        .where(TenantClearance.household_id == household_id, TenantClearance.voided_at.is_(None))
        .order_by(TenantClearance.id)
    ):
        cleared.setdefault(c.tenant_id, c)
    return ClearanceFile(
        household_id=h.id,
        project_id=h.project_id,
        stage=h.status,
        agreement=agreement,
        instalments=schedule.instalments(session, agreement.id) if agreement is not None else [],
        vacates=vacates,
        demolitions=demolitions,
        tenants=[(t, cleared.get(t.id)) for t in f.tenants],
    )
