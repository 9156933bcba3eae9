"""Household service part: the facts a project's policy declares (``facts:`` block, e.g. the count
of air conditioners, a committee-determined reward area), kept per household, or per building
(certificate) or member for a ``level: building`` / ``level: member`` fact (see the package
docstring).

Field names: ``fact.ID`` for a household-level fact, ``building.<building id>.fact.ID`` and
``member.<member id>.fact.ID`` for one of a building or a member (forms, JSON errors and the
``values`` of the API alike).

The household domain does not read policies: callers hand over the declarations
(:class:`anju.policy.declared.FactDecl`, from the compensation service) and this part validates,
stores (as text, typed by the declaration), versions and audits the values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.errors import ValidationFailed
from anju.household.models import Building, Household, HouseholdFact, Member
from anju.household.service.base import _bump, _changed, _check_reason, _check_version, _load, _lock
from anju.i18n import Bilingual
from anju.identity.service import DataScope
from anju.policy.declared import (
    FactDecl,
    FactValueError,
    building_place,
    display,
    lenient,
    member_place,
    parse_value,
    to_text,
)
from anju.policy.facts import LABELS_ZH

__all__ = [
    "FACT_PREFIX",
    "clean_policy_facts",
    "element_fact_key",
    "element_policy_fact_values",
    "element_policy_facts_of",
    "policy_fact_values",
    "policy_facts_of",
    "project_element_policy_facts",
    "project_policy_facts",
    "set_policy_facts",
    "write_policy_facts",
]

# Field names of declared facts in forms, JSON errors and audit changes: ``fact.ac_units``.
FACT_PREFIX = "fact."


def policy_facts_of(session: Session, *, scope: DataScope, household_id: int) -> dict[str, str]:
    """The stored declared facts of one household (fact id -> stored text; cleared ones left out)."""
    _load(session, scope, household_id)
    return _stored(session, [household_id]).get(household_id, {})


def _stored(
    session: Session, household_ids: Iterable[int] | None, project_id: int | None = None
) -> dict[int, dict[str, str]]:
    stmt = select(HouseholdFact.household_id, HouseholdFact.fact_id, HouseholdFact.value).where(
        HouseholdFact.value.is_not(None), HouseholdFact.subject == "h"
    )
    if household_ids is not None:
        ids = list(household_ids)
        if not ids:
            return {}
        stmt = stmt.where(HouseholdFact.household_id.in_(ids))
    if project_id is not None:
        stmt = stmt.join(Household, Household.id == HouseholdFact.household_id).where(
            Household.project_id == project_id
        )
    out: dict[int, dict[str, str]] = {}
    for hid, fid, value in session.execute(stmt.order_by(HouseholdFact.household_id, HouseholdFact.fact_id)):
        out.setdefault(int(hid), {})[str(fid)] = str(value)
    return out


def element_fact_key(level: str, element_id: int, fid: str) -> str:
    """The field name of a building- or member-level fact: ``building.12.fact.frontage``."""
    return f"{level}.{element_id}.{FACT_PREFIX}{fid}"


def _split_key(key: str) -> tuple[str, int | None, str] | None:
    """(level, element id, fact id) of a field name; ``None`` when it is not one."""
    if key.startswith(FACT_PREFIX):
        return "household", None, key[len(FACT_PREFIX) :]
    parts = key.split(".")
    if len(parts) == 1:
        return "household", None, key
    if len(parts) == 4 and parts[0] in ("building", "member") and parts[2] == "fact" and parts[1].isdigit():
        return parts[0], int(parts[1]), parts[3]
    return None


def _stored_elements(
    session: Session, household_ids: Iterable[int] | None, project_id: int | None = None
) -> dict[str, dict[int, dict[str, str]]]:
    stmt = select(
        HouseholdFact.building_id, HouseholdFact.member_id, HouseholdFact.fact_id, HouseholdFact.value
    ).where(HouseholdFact.value.is_not(None), HouseholdFact.subject != "h")
    if household_ids is not None:
        ids = list(household_ids)
        if not ids:
            return {"building": {}, "member": {}}
        stmt = stmt.where(HouseholdFact.household_id.in_(ids))
    if project_id is not None:
        stmt = stmt.join(Household, Household.id == HouseholdFact.household_id).where(
            Household.project_id == project_id
        )
    out: dict[str, dict[int, dict[str, str]]] = {"building": {}, "member": {}}
    for bid, mid, fid, value in session.execute(stmt.order_by(HouseholdFact.id)):
        if bid is not None:
            out["building"].setdefault(int(bid), {})[str(fid)] = str(value)
        elif mid is not None:
            out["member"].setdefault(int(mid), {})[str(fid)] = str(value)
    return out


def element_policy_facts_of(
    session: Session, *, scope: DataScope, household_id: int
) -> dict[str, dict[int, dict[str, str]]]:
    """The stored building- and member-level facts of one household:
    ``{"building": {building id: {fact id: text}}, "member": {member id: {...}}}``."""
    _load(session, scope, household_id)
    return _stored_elements(session, [household_id])


def project_element_policy_facts(
    session: Session, *, project_id: int, household_ids: Iterable[int] | None = None
) -> dict[str, dict[int, dict[str, str]]]:
    """Building- and member-level declared facts of a project's households, by building / member id
    (as :func:`element_policy_facts_of`); the caller has chosen the households within its scope."""
    return _stored_elements(session, household_ids, project_id)


def project_policy_facts(
    session: Session, *, project_id: int, household_ids: Iterable[int] | None = None
) -> dict[int, dict[str, str]]:
    """Declared facts of a project's households: household id -> fact id -> stored text. The caller
    has already chosen the households within its scope (``household_ids``) or reads the project."""
    return _stored(session, household_ids, project_id)


def policy_fact_values(
    decls: Mapping[str, FactDecl], stored: Mapping[str, str], *, level: str = "household", prefix: str = ""
) -> list[dict[str, Any]]:
    """The rows of the household file's section: every declared fact of ``level`` with its label,
    unit, whether required, the stored text, the value in words and whether it is missing (required
    and absent). ``prefix`` is the field-name prefix of a building's or member's facts."""
    rows = []
    for fid, d in decls.items():
        if d.level != level:
            continue
        raw = stored.get(fid)
        value = lenient(d, raw)
        rows.append(
            {
                "id": fid,
                "field": (prefix or FACT_PREFIX) + fid,
                "label": d.label,
                "type": d.type,
                "type_zh": d.type_zh,
                "unit": d.unit_text,
                "required": d.required,
                "ref": d.ref,
                "help": d.help,
                "choices": list(d.choices),
                "options": [(c, LABELS_ZH.get(c, c)) for c in d.choices],
                "places": d.places,
                "text": raw or "",
                "shown": display(d, value),
                "missing": d.required and value is None,
                "invalid": raw is not None and value is None,
            }
        )
    return rows


def element_policy_fact_values(
    decls: Mapping[str, FactDecl],
    stored: Mapping[str, Mapping[int, Mapping[str, str]]],
    buildings: Iterable[tuple[int, str]],
    members: Iterable[tuple[int, str]],
) -> list[dict[str, Any]]:
    """The building- and member-level parts of the household file's section: one group per
    building (``(id, certificate number)``) and per member (``(id, name)``), each with its place in
    words (``证 X1`` / ``成员 张某``) and the rows of :func:`policy_fact_values`. Empty when the
    policy declares no fact of that level."""
    groups: list[dict[str, Any]] = []
    for level, elements, place in (
        ("building", buildings, building_place),
        ("member", members, member_place),
    ):
        if not any(d.level == level for d in decls.values()):
            continue
        for k, (eid, name) in enumerate(elements):
            prefix = f"{level}.{eid}.{FACT_PREFIX}"
            rows = policy_fact_values(decls, stored.get(level, {}).get(eid, {}), level=level, prefix=prefix)
            groups.append({"level": level, "id": eid, "place": place(name, k)[0], "rows": rows})
    return groups


def clean_policy_facts(
    decls: Mapping[str, FactDecl], data: Mapping[str, Any]
) -> tuple[dict[str, str | None], list[dict[str, str]]]:
    """Validate the submitted values (keys: fact ids, ``fact.ID`` as in forms, or
    ``building.<id>.fact.ID`` / ``member.<id>.fact.ID``): key -> text to store (``None`` clears;
    household-level facts keyed by their id), and the errors, each naming the field in Chinese."""
    values: dict[str, str | None] = {}
    errors: list[dict[str, str]] = []
    for key, raw in data.items():
        split = _split_key(key)
        if split is None:
            errors.append(
                {
                    "field": key,
                    "label": key,
                    "message": "字段应写成 fact.编号、building.房屋编号.fact.编号 或 member.成员编号.fact.编号",
                }
            )
            continue
        level, eid, fid = split
        field = FACT_PREFIX + fid if eid is None else key
        d = decls.get(fid)
        if d is None:
            errors.append(
                {
                    "field": field,
                    "label": fid,
                    "message": Bilingual("方案没有声明这一事实", "the policy does not declare this fact"),
                }
            )
            continue
        if d.level != level:
            errors.append({"field": field, "label": d.label, "message": _wrong_level(d)})
            continue
        try:
            values[fid if eid is None else key] = to_text(d, parse_value(d, raw))
        except FactValueError as exc:
            # the message carries its English (a page in English shows it; the API keeps the Chinese)
            errors.append(
                {"field": field, "label": d.label, "message": Bilingual(exc.message_zh, exc.message_en)}
            )
    return values, errors


def _wrong_level(d: FactDecl) -> str:
    if d.level == "building":
        return "这是每证（每处房屋）的事实，应写成 building.房屋编号.fact." + d.id
    if d.level == "member":
        return "这是每位家庭成员的事实，应写成 member.成员编号.fact." + d.id
    return "这是每户的事实，应写成 fact." + d.id


def write_policy_facts(
    session: Session, h: Household, decls: Mapping[str, FactDecl], values: Mapping[str, str | None]
) -> dict[str, list[Any]]:
    """Store validated values of ``h`` (locked by the caller; keys as :func:`clean_policy_facts`
    gives them); returns the audit changes in words (``fact.ID -> [before, after]``, and for a
    building's or member's fact ``证 X1 临街位置 -> [...]``). A building or member that is not the
    household's (or is voided) refuses every value. Does not audit or touch the household."""
    places = _places(session, h, values)
    rows = {
        (r.fact_id, r.subject): r
        for r in session.scalars(
            select(HouseholdFact)
            .where(HouseholdFact.household_id == h.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    changes: dict[str, list[Any]] = {}
    now = utcnow()
    for key, text in values.items():
        split = _split_key(key)
        assert split is not None  # cleaned
        level, eid, fid = split
        subject = "h" if eid is None else f"{level[0]}:{eid}"
        row = rows.get((fid, subject))
        before = row.value if row is not None else None
        if before == text:
            continue
        d = decls[fid]
        name = FACT_PREFIX + fid if eid is None else f"{places[key]} {d.label}"
        changes[name] = [
            display(d, lenient(d, before)) or before or None,
            display(d, lenient(d, text)) or None,
        ]
        if row is None:
            session.add(
                HouseholdFact(
                    household_id=h.id,
                    fact_id=fid,
                    subject=subject,
                    building_id=eid if level == "building" else None,
                    member_id=eid if level == "member" else None,
                    value=text,
                    updated_at=now,
                )
            )
        else:
            row.value = text
            row.updated_at = now
            _bump(session, row)
    session.flush()
    return changes


def _places(session: Session, h: Household, values: Mapping[str, Any]) -> dict[str, str]:
    """Each building- or member-level key's place in words (``证 X1`` / ``成员 张某``); refuses keys
    naming a building or member that is not a live one of ``h``."""
    wanted = {k: s for k in values if (s := _split_key(k)) is not None and s[1] is not None}
    if not wanted:
        return {}
    buildings = session.scalars(
        select(Building)
        .where(Building.household_id == h.id, Building.voided_at.is_(None))
        .order_by(Building.sort, Building.id)
    ).all()
    members = session.scalars(
        select(Member)
        .where(Member.household_id == h.id, Member.voided_at.is_(None))
        .order_by(Member.sort, Member.id)
    ).all()
    # as the engine names them (compensation.project_facts: a building without a number is #id)
    named = {
        ("building", b.id): building_place(b.certificate_no or f"#{b.id}", k)[0]
        for k, b in enumerate(buildings)
    }
    named |= {("member", m.id): member_place(m.name, k)[0] for k, m in enumerate(members)}
    out: dict[str, str] = {}
    errors: list[dict[str, str]] = []
    for key, (level, eid, fid) in wanted.items():
        place = named.get((level, int(eid or 0)))
        if place is None:
            what = "房屋" if level == "building" else "家庭成员"
            errors.append({"field": key, "label": fid, "message": f"该户没有编号为 {eid} 的{what}"})
        else:
            out[key] = place
    if errors:
        raise ValidationFailed(
            "方案事实有误：" + "；".join(f"{e['field']}：{e['message']}" for e in errors),
            "invalid policy facts",
            details=errors,
        )
    return out


def set_policy_facts(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    decls: Mapping[str, FactDecl],
    data: Mapping[str, Any],
    reason: str = "",
    expected_version: int | None = None,
) -> dict[str, list[Any]]:
    """Set a household's declared facts (all or nothing: any bad value refuses every one, each error
    naming its field); audited with the values in words; 409 when ``expected_version`` (the
    household's) is stale. A blank value clears the fact. Returns the audited changes."""
    _check_reason(reason)
    values, errors = clean_policy_facts(decls, data)
    if errors:
        raise ValidationFailed(
            "方案事实有误：" + "；".join(f"{e['label']}：{e['message']}" for e in errors),
            "invalid policy facts: "
            + "; ".join(str(getattr(e["message"], "en", "") or e["message"]) for e in errors),
            details=errors,
        )
    h = _lock(session, scope, household_id)
    _check_version(session, h, expected_version, what="该户信息", h=h)
    changes = write_policy_facts(session, h, decls, values)
    if changes:
        _changed(
            session,
            actor,
            h,
            action="update",
            entity="household_fact",
            entity_id=h.id,
            changes=changes,
            reason=reason,
        )
    return changes
