"""Household service part: the household's status, which is the campaign stage (阶段), with the
stage dates and the day compensation was paid (see the package docstring).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from anju.core.actor import Actor
from anju.errors import Conflict, ValidationFailed
from anju.household import rules
from anju.household.models import (
    Household,
)
from anju.household.service.base import _apply, _changed, _check_version, _lock
from anju.identity.service import DataScope

__all__ = [
    "STAGES",
    "STAGE_DATE_FIELDS",
    "change_status",
    "next_stages",
    "record_paid",
    "revert_stage",
    "set_stage",
    "stage_labels",
]


def stage_labels() -> dict[str, str]:
    """``stage code -> 中文`` of the household stages (its status), in campaign order."""
    return dict(rules.STATUSES)


def change_status(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    status: str,
    reason: str = "",
    expected_version: int | None = None,
) -> None:
    """Move a household along :data:`rules.STATUS_TRANSITIONS`; audited (409 on a stale version)."""
    h = _lock(session, scope, household_id)
    _check_version(session, h, expected_version, what="该户信息", h=h)
    rules.check_transition(h.status, status)
    changes = _apply(h, {"status": status})
    _changed(
        session,
        actor,
        h,
        action="status",
        entity="household",
        entity_id=h.id,
        changes=changes,
        reason=reason,
    )


# The campaign stage (阶段) is the status; anju.campaign moves it through set_stage and keeps its timeline.


STAGES = rules.STATUSES
# The household's date of each stage that has one (signing, vacating, demolition).
STAGE_DATE_FIELDS = {"signed": "sign_on", "vacated": "vacate_on", "demolished": "demolish_on"}


def next_stages(stage: str) -> frozenset[str]:
    """The stages a household in ``stage`` may move to (:data:`rules.STATUS_TRANSITIONS`)."""
    return rules.STATUS_TRANSITIONS.get(stage, frozenset())


def set_stage(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    stage: str,
    on: date | None,
    reason: str = "",
) -> Household:
    """Move a household to ``stage`` like :func:`change_status` and record the stage's date
    (``sign_on`` / ``vacate_on`` / ``demolish_on`` for signed / vacated / demolished, required); audited."""
    h = _lock(session, scope, household_id)
    rules.check_transition(h.status, stage)
    values: dict[str, Any] = {"status": stage}
    date_field = STAGE_DATE_FIELDS.get(stage)
    if date_field is not None:
        if on is None:
            raise ValidationFailed(
                f"{STAGES[stage]}须填写日期",
                "the stage's date is required",
                details=[{"field": "on", "message": "必填"}],
            )
        values[date_field] = on
    changes = _apply(h, values)
    _changed(
        session, actor, h, action="status", entity="household", entity_id=h.id, changes=changes, reason=reason
    )
    return h


def revert_stage(
    session: Session, *, actor: Actor, scope: DataScope, household_id: int, stage: str, reason: str
) -> Household:
    """Take a household back from ``stage`` to the stage before it (:data:`rules.STAGE_REVERSALS`)
    because the record that set ``stage`` was voided or the agreement ended, clearing that stage's
    date (``sign_on`` / ``vacate_on`` / ``demolish_on``); audited with the reason. 409 unless the
    household is in ``stage``."""
    h = _lock(session, scope, household_id)
    back = rules.STAGE_REVERSALS.get(stage)
    if back is None or h.status != stage:
        raise Conflict(
            f"该户当前阶段为“{STAGES.get(h.status, h.status)}”，不能撤回“{STAGES.get(stage, stage)}”",
            f"cannot revert {stage} from {h.status}",
            code="illegal_transition",
        )
    values: dict[str, Any] = {"status": back}
    date_field = STAGE_DATE_FIELDS.get(stage)
    if date_field is not None:
        values[date_field] = None
    changes = _apply(h, values)
    _changed(
        session, actor, h, action="status", entity="household", entity_id=h.id, changes=changes, reason=reason
    )
    return h


def record_paid(
    session: Session, *, actor: Actor, household_id: int, paid_on: date, reason: str = ""
) -> Household:
    """Record the day a signed household's compensation was paid in full (``paid_on``); audited.

    Progress counts payment rates from this date. The payments of the signing issue will call it
    when an agreement's last scheduled payment is made; until then it is the demo's and the CLI's.
    """
    h = _lock(session, DataScope.everything(), household_id)
    if h.sign_on is None:
        raise Conflict("未签约的户不能登记付清补偿款", "the household has not signed", code="not_signed")
    if paid_on < h.sign_on:
        raise ValidationFailed(
            "付清日期不能早于签约日期",
            "paid_on before sign_on",
            details=[{"field": "paid_on", "message": "不能早于签约日期"}],
        )
    changes = _apply(h, {"paid_on": paid_on})
    _changed(
        session, actor, h, action="update", entity="household", entity_id=h.id, changes=changes, reason=reason
    )
    return h
