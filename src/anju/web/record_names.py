"""Audit records named by what they are: ``户 LJ00001 段平``, ``协议 DP-QH-0001 · 户 LJ00001 段平``.

The audit log stores an entity kind and an id; the names live in the domains that own the
records. This looks them up for one page (or one export batch) of records at a time, through
those domains' services, so the audit page and the household history never show ``户 #1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from anju import i18n
from anju.agreement import service as agreement_service
from anju.audit import service as audit_service
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.payment import service as payment_service
from anju.project import service as project_service


def _int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def name_records(session: Session, records: Sequence[Any], lang: str = "zh") -> dict[int, str]:
    """``seq -> name`` of each record (an audit record: ``seq``, ``entity``, ``entity_id``,
    ``household_id``, ``project_id``, ``changes``), in ``lang``."""
    household_ids = {r.household_id for r in records if r.household_id is not None}
    household_ids |= {i for r in records if r.entity == "household" and (i := _int(r.entity_id)) is not None}
    households = household_service.household_labels(session, household_ids=sorted(household_ids))
    agreements = agreement_service.agreement_numbers(
        session,
        agreement_ids=[
            i for r in records if r.entity == "agreement" and (i := _int(r.entity_id)) is not None
        ],
    )
    batches = payment_service.batch_numbers(
        session,
        batch_ids=[
            i for r in records if r.entity == "payment_batch" and (i := _int(r.entity_id)) is not None
        ],
    )
    users = identity_service.user_names(session) if any(r.entity == "user" for r in records) else {}
    projects = (
        {p.id: p.name for p in project_service.list_projects(session)}
        if any(r.entity == "project" for r in records)
        else {}
    )
    teams: dict[int, str] = {}
    blocks: dict[int, str] = {}
    for project_id in {r.project_id for r in records if r.project_id is not None}:
        if any(r.entity == "team" and r.project_id == project_id for r in records):
            teams.update(identity_service.team_names(session, project_id))
        if any(r.entity == "block" and r.project_id == project_id for r in records):
            blocks.update(project_service.block_paths(session, project_id))

    out: dict[int, str] = {}
    for r in records:
        rid = _int(r.entity_id)
        household = ""
        hid = r.household_id if r.household_id is not None else (rid if r.entity == "household" else None)
        if hid is not None and hid in households:
            code, head = households[hid]
            household = f"{code} {head}".strip()
        known = ""
        if r.entity == "household":
            known = household
            household = ""
        elif r.entity == "agreement" and rid in agreements:
            known = agreements[rid]
        elif r.entity == "payment_batch" and rid in batches:
            known = i18n.t("第 {batch_no} 批", lang, batch_no=batches[rid])
        elif r.entity == "user" and rid in users:
            known = users[rid]
        elif r.entity == "project" and rid in projects:
            known = projects[rid]
        elif r.entity == "team" and rid in teams:
            known = teams[rid]
        elif r.entity == "block" and rid in blocks:
            known = blocks[rid]
        changes = _changes(r.changes)
        if known:
            name = audit_service.record_name(r.entity, r.entity_id, None, known, lang)
        elif household:
            # A record of a household (a visit, an instalment): the household says which.
            name = audit_service.entity_label(r.entity, lang)
        else:
            name = audit_service.record_name(r.entity, r.entity_id, changes, lang=lang)
        out[r.seq] = (
            i18n.t("{name} · 户 {household}", lang, name=name, household=household) if household else name
        )
    return out


def _changes(text: str) -> Any:
    import json

    try:
        return json.loads(text) if text else None
    except ValueError:
        return None
