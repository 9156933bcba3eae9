"""Policy drafts (方案草稿): the next version of a project's policy, edited in a form or as YAML.

A draft starts from the latest published version (or the newest draft). Every save is a new
immutable draft numbered per project, made either from the form (only the values change, the
text is rewritten in place by :mod:`anju.policy.edit`) or from a whole YAML text. A draft is
published through :func:`anju.compensation.service.publish`, like an uploaded file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.compensation import service as compensation_service
from anju.compensation.models import PolicyDraft, PolicyVersion
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.policy import edit
from anju.policy.versioning import Change, diff
from anju.project import service as project_service

MAX_NOTE = 200


class StaleDraft(Conflict):
    """A save based on a draft that is no longer the newest one (someone saved in between)."""

    code = "stale_draft"


@dataclass(slots=True)
class FormCheck:
    """The checker's verdict on a form's values: messages per field, the rest, and the new text."""

    messages: dict[str, list[str]] = field(default_factory=dict)  # field key -> Chinese messages
    other: list[str] = field(default_factory=list)  # problems not on a form value (formulas ...)
    source: str | None = None  # the rewritten text (None when a value could not be written)
    changed: list[str] = field(default_factory=list)  # keys whose value differs from the draft

    @property
    def ok(self) -> bool:
        """Whether the values can be saved."""
        return self.source is not None and not self.messages and not self.other


def drafts(session: Session, project_id: int) -> list[PolicyDraft]:
    """A project's drafts, newest first."""
    return list(
        session.scalars(
            select(PolicyDraft)
            .where(PolicyDraft.project_id == project_id)
            .order_by(PolicyDraft.number.desc())
        )
    )


def get_draft(session: Session, *, project_id: int, number: int | None = None) -> PolicyDraft:
    """Draft ``number`` of a project (the newest when ``None``); raises :class:`NotFound`."""
    stmt = select(PolicyDraft).where(PolicyDraft.project_id == project_id)
    stmt = stmt.where(PolicyDraft.number == number) if number else stmt.order_by(PolicyDraft.number.desc())
    d = session.scalars(stmt.limit(1)).first()
    if d is None:
        raise NotFound(
            f"没有第 {number} 稿" if number else "本项目还没有方案草稿", f"draft {number} not found"
        )
    return d


def _newest_number(session: Session, project_id: int) -> int:
    return int(
        session.scalar(select(func.max(PolicyDraft.number)).where(PolicyDraft.project_id == project_id)) or 0
    )


def _latest_published(session: Session, project_id: int) -> PolicyVersion | None:
    try:
        return compensation_service.get_version(session, project_id)
    except NotFound:
        return None


def _add(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    source: str,
    parent: PolicyDraft | None,
    note: str,
    how: str,
) -> PolicyDraft:
    if len(note) > MAX_NOTE:
        raise ValidationFailed(
            f"修改说明最多 {MAX_NOTE} 个字",
            "note too long",
            details=[{"field": "note", "message": "最多200个字"}],
        )
    pv = _latest_published(session, project_id)
    d = PolicyDraft(
        project_id=project_id,
        number=_newest_number(session, project_id) + 1,
        based_on=pv.version if pv is not None else None,
        parent_id=parent.id if parent is not None else None,
        source=source,
        file_name=parent.file_name
        if parent is not None
        else (pv.file_name if pv is not None else "policy.yaml"),
        note=note.strip(),
        created_by=actor.username,
        created_at=utcnow(),
    )
    session.add(d)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="policy_draft",
        entity_id=d.id,
        project_id=project_id,
        changes={
            "number": [None, d.number],
            "parent": [None, parent.number if parent is not None else None],
            "based_on": [None, d.based_on],
            "how": [None, how],
            "note": [None, d.note],
            "content_hash": [None, compensation_service.content_hash(source)],
        },
    )
    return d


def start_draft(session: Session, *, actor: Actor, project_id: int) -> PolicyDraft:
    """A first draft copied from the latest published version (audited). Raises :class:`NotFound`
    when nothing is published yet (upload a YAML file instead)."""
    project_service.get_project(session, project_id)
    pv = compensation_service.get_version(session, project_id)
    return _add(
        session,
        actor=actor,
        project_id=project_id,
        source=pv.source,
        parent=None,
        note=f"以第 {pv.version} 版为底稿",
        how="copy",
    )


def _parent(session: Session, project_id: int, parent_number: int) -> PolicyDraft:
    parent = get_draft(session, project_id=project_id, number=parent_number)
    newest = get_draft(session, project_id=project_id)
    if newest.number != parent.number:
        raise StaleDraft(
            f"第 {parent.number} 稿已不是最新：{newest.created_by} 已另存为第 {newest.number} 稿，请在最新稿上修改",
            f"draft {parent.number} is stale: {newest.created_by} saved draft {newest.number}",
        )
    return parent


def form_fields(source: str) -> list[edit.Field]:
    """The values of a draft a form edits (parameters, clocks, tiers)."""
    return edit.fields(source)


def check_form(source: str, values: dict[str, str]) -> FormCheck:
    """Write the form's values into ``source`` and run the checker; nothing is stored.

    ``values`` maps field keys to what was typed; unchanged values are ignored.
    """
    out = FormCheck()
    current = {f.key: f for f in edit.fields(source)}
    for key, raw in values.items():
        f = current.get(key)
        if f is None:
            out.other.append("表单中有方案里没有的取值，方案可能已被修改，请刷新页面")
            continue
        try:
            edit.literal(f, raw)
        except edit.FieldProblem as exc:
            out.messages.setdefault(key, []).append(exc.message)
            continue
        if not edit.same_value(f, raw):
            out.changed.append(key)
    if out.other:
        return out
    # the values that can be written are checked together even when others cannot be written
    text = edit.apply(source, {k: values[k] for k in out.changed})
    out.source = None if out.messages else text
    attached, rest = edit.problems_by_field(text, edit.check_text(text), set(out.changed))
    for k, msgs in attached.items():
        out.messages.setdefault(k, []).extend(msgs)
    out.other.extend(
        f"第 {p.location.line} 行第 {p.location.column} 列：{p.message_zh}"
        if p.location.line
        else p.message_zh
        for p in rest
    )
    return out


def save_form(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    parent_number: int,
    values: dict[str, str],
    note: str = "",
) -> PolicyDraft:
    """Save the form's values as a new draft (audited); refuses values the checker rejects
    (:class:`ValidationFailed` with one detail per field), no change at all, and a stale parent (409)."""
    parent = _parent(session, project_id, parent_number)
    verdict = check_form(parent.source, values)
    if not verdict.ok or verdict.source is None:
        details = [{"field": k, "message": "；".join(m)} for k, m in verdict.messages.items()]
        details += [{"field": "source", "message": m} for m in verdict.other]
        raise ValidationFailed(
            f"有 {len(details)} 处取值不能保存", f"{len(details)} value(s) refused", details=details
        )
    if not verdict.changed:
        raise ValidationFailed("没有修改任何取值", "nothing changed", code="nothing_changed")
    labels = {f.key: f for f in edit.fields(parent.source)}
    summary = "、".join(
        f"{labels[k].label}{'（' + labels[k].detail + '）' if labels[k].detail else ''}"
        for k in verdict.changed[:5]
    )
    more = f"等 {len(verdict.changed)} 处" if len(verdict.changed) > 5 else ""
    return _add(
        session,
        actor=actor,
        project_id=project_id,
        source=verdict.source,
        parent=parent,
        note=note.strip() or f"修改{summary}{more}"[:MAX_NOTE],
        how="form",
    )


def save_yaml(
    session: Session, *, actor: Actor, project_id: int, parent_number: int | None, source: str, note: str = ""
) -> PolicyDraft:
    """Save a whole YAML text as a new draft (audited); the checker must accept it
    (:class:`anju.compensation.service.PolicyInvalid` lists every problem with line and column)."""
    project_service.get_project(session, project_id)
    parent = _parent(session, project_id, parent_number) if parent_number else None
    if parent is None and _newest_number(session, project_id):
        raise StaleDraft("已有草稿，请在最新稿上修改", "drafts exist: save on the newest one")
    compensation_service.check_source(source, "policy.yaml")
    if parent is not None and parent.source == source:
        raise ValidationFailed("内容与上一稿相同", "nothing changed", code="nothing_changed")
    return _add(
        session, actor=actor, project_id=project_id, source=source, parent=parent, note=note, how="yaml"
    )


def draft_diff(
    session: Session, *, project_id: int, number: int
) -> tuple[PolicyVersion | None, list[Change]]:
    """What draft ``number`` changes against the latest published version (everything is new when
    nothing is published)."""
    d = get_draft(session, project_id=project_id, number=number)
    pv = _latest_published(session, project_id)
    new = compensation_service.check_source(d.source, d.file_name or "policy.yaml")
    if pv is None:
        return None, []
    old = compensation_service.checked_version(pv)
    return pv, diff(old.policy, new.policy)


def publish_draft(session: Session, *, actor: Actor, project_id: int, number: int) -> PolicyVersion:
    """Publish draft ``number`` as the project's next version (checked and audited by
    :func:`anju.compensation.service.publish`). Only the newest draft can be published."""
    d = _parent(session, project_id, number)
    return compensation_service.publish(
        session, actor=actor, project_id=project_id, source=d.source, file_name=d.file_name or "policy.yaml"
    )
