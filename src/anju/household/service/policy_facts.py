"""Household service part: the facts a project's policy declares (``facts:`` block, e.g. the count
of air conditioners, a committee-determined reward area), kept per household (see the package
docstring).

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
from anju.household.models import Household, HouseholdFact
from anju.household.service.base import _bump, _changed, _check_reason, _check_version, _load, _lock
from anju.i18n import Bilingual
from anju.identity.service import DataScope
from anju.policy.declared import FactDecl, FactValueError, display, lenient, parse_value, to_text
from anju.policy.facts import LABELS_ZH

__all__ = [
    "FACT_PREFIX",
    "clean_policy_facts",
    "policy_fact_values",
    "policy_facts_of",
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
        HouseholdFact.value.is_not(None)
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


def project_policy_facts(
    session: Session, *, project_id: int, household_ids: Iterable[int] | None = None
) -> dict[int, dict[str, str]]:
    """Declared facts of a project's households: household id -> fact id -> stored text. The caller
    has already chosen the households within its scope (``household_ids``) or reads the project."""
    return _stored(session, household_ids, project_id)


def policy_fact_values(decls: Mapping[str, FactDecl], stored: Mapping[str, str]) -> list[dict[str, Any]]:
    """The rows of the household file's section: every declared fact with its label, unit, whether
    required, the stored text, the value in words and whether it is missing (required and absent)."""
    rows = []
    for fid, d in decls.items():
        raw = stored.get(fid)
        value = lenient(d, raw)
        rows.append(
            {
                "id": fid,
                "field": FACT_PREFIX + fid,
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


def clean_policy_facts(
    decls: Mapping[str, FactDecl], data: Mapping[str, Any]
) -> tuple[dict[str, str | None], list[dict[str, str]]]:
    """Validate the submitted values (keys: fact ids, or ``fact.ID`` as in forms): fact id -> text
    to store (``None`` clears), and the errors, each naming the field in Chinese."""
    values: dict[str, str | None] = {}
    errors: list[dict[str, str]] = []
    for key, raw in data.items():
        fid = key[len(FACT_PREFIX) :] if key.startswith(FACT_PREFIX) else key
        d = decls.get(fid)
        if d is None:
            errors.append(
                {
                    "field": FACT_PREFIX + fid,
                    "label": fid,
                    "message": Bilingual("方案没有声明这一事实", "the policy does not declare this fact"),
                }
            )
            continue
        try:
            values[fid] = to_text(d, parse_value(d, raw))
        except FactValueError as exc:
            # the message carries its English (a page in English shows it; the API keeps the Chinese)
            errors.append(
                {
                    "field": FACT_PREFIX + fid,
                    "label": d.label,
                    "message": Bilingual(exc.message_zh, exc.message_en),
                }
            )
    return values, errors


def write_policy_facts(
    session: Session, h: Household, decls: Mapping[str, FactDecl], values: Mapping[str, str | None]
) -> dict[str, list[Any]]:
    """Store validated values of ``h`` (locked by the caller); returns the audit changes in words
    (``fact.ID -> [before, after]``). Does not audit or touch the household: the caller does."""
    rows = {
        r.fact_id: r
        for r in session.scalars(
            select(HouseholdFact)
            .where(HouseholdFact.household_id == h.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    changes: dict[str, list[Any]] = {}
    now = utcnow()
    for fid, text in values.items():
        row = rows.get(fid)
        before = row.value if row is not None else None
        if before == text:
            continue
        d = decls[fid]
        changes[FACT_PREFIX + fid] = [
            display(d, lenient(d, before)) or before or None,
            display(d, lenient(d, text)) or None,
        ]
        if row is None:
            session.add(HouseholdFact(household_id=h.id, fact_id=fid, value=text, updated_at=now))
        else:
            row.value = text
            row.updated_at = now
            _bump(session, row)
    session.flush()
    return changes


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
