"""Project service part: projects (create, change, look up), their headers for page frames and
the household-data version that caches key on (see the package docstring).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.audit.service import field_diff
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.core.text import MAX_REASON, text_problem
from anju.db import events
from anju.errors import Conflict, DomainError, NotFound, ValidationFailed
from anju.identity import service as identity_service
from anju.project import rules
from anju.project.models import Project

__all__ = [
    "ProjectHeader",
    "bump_households_version",
    "create_project",
    "get_project",
    "get_project_by_code",
    "households_version",
    "households_written",
    "list_projects",
    "project_header",
    "project_values",
    "update_project",
]


def list_projects(session: Session) -> list[Project]:
    """All projects, newest first."""
    return list(session.scalars(select(Project).order_by(Project.id.desc())))


def get_project(session: Session, project_id: int) -> Project:
    """A project by id; raises :class:`NotFound`."""
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound("项目不存在", "project not found")
    return project


@dataclass(frozen=True, slots=True)
class ProjectHeader:
    """What a page frame shows of a project (read with plain columns, no ORM object)."""

    id: int
    code: str
    name: str
    kind: str
    status: str


def project_header(session: Session, project_id: int) -> ProjectHeader:
    """A project's header by id, reading its household-data version in the same statement
    (see :func:`households_version`); raises :class:`NotFound`. For hot read-only pages."""
    row = session.execute(
        select(
            Project.id, Project.code, Project.name, Project.kind, Project.status, Project.households_version
        ).where(Project.id == project_id)
    ).first()
    if row is None:
        raise NotFound("项目不存在", "project not found")
    session.info.setdefault(("households_version", project_id), int(row[5] or 0))
    return ProjectHeader(int(row[0]), row[1], row[2], row[3], row[4])


def get_project_by_code(session: Session, code: str) -> Project:
    """A project by its code; raises :class:`NotFound`."""
    project = session.scalar(select(Project).where(Project.code == code))
    if project is None:
        raise NotFound(f"项目“{code}”不存在", f"project {code} not found")
    return project


def _invalid(what: str, errors: Sequence[rules.FieldError]) -> DomainError:
    """The error for a form's problems: the Chinese message lists them, ``details`` one per field.

    A 422, except when every problem is dates out of order: well-formed dates that conflict with
    each other (or with the stored ones) are a 409 ``date_order``, as a date that conflicts with
    the calendar is elsewhere; a schema can state a date's form, not its order.
    """
    message = f"{what}有误：" + "；".join(e.text() for e in errors)
    details = [e.detail() for e in errors]
    if all(e.kind == "date_order" for e in errors):
        return Conflict(message, f"{what}: dates out of order", code="date_order", details=details)
    return ValidationFailed(message, f"invalid {what}", details=details)


def _check_reason(reason: str) -> None:
    problem = text_problem(reason, max_len=MAX_REASON, multiline=True)
    if problem:
        raise ValidationFailed(
            f"理由{problem}", "invalid reason", details=[{"field": "reason", "message": f"理由{problem}"}]
        )


def _code_taken(session: Session, code: str, *, but: int | None = None) -> None:
    found = session.scalar(select(Project.id).where(Project.code == code))
    if found is not None and found != but:
        raise Conflict(
            f"项目编号“{code}”已存在",
            f"project {code} exists",
            code="duplicate_project",
            details=[{"field": "code", "message": f"项目编号：“{code}”已被其他项目使用"}],
        )


def project_values(project: Project) -> dict[str, Any]:
    """The project's editable fields as they are now (forms start from these)."""
    return {f: getattr(project, f) for f in rules.PROJECT_EDITABLE}


def create_project(
    session: Session,
    *,
    actor: Actor,
    code: str,
    name: str,
    kind: str,
    reason: str = "",
    **fields: Any,
) -> Project:
    """Create a project; audited with every field set.

    ``fields`` are the other fields of :data:`anju.project.rules.PROJECT_FIELDS` (status, district,
    description, decision_no, legal_basis, signing_start_on, signing_end_on, launched_on,
    deadline_on, target_sign_rate 1-100, target_households, alert_no_visit_days 1-90), as values
    or as the text a form sends; every problem is reported at once, naming its field.
    """
    _check_reason(reason)
    unknown = sorted(set(fields) - set(rules.PROJECT_EDITABLE))
    if unknown:
        raise ValidationFailed(
            "不认识的字段：" + "、".join(unknown),
            "unknown fields",
            details=[{"field": f, "message": f"不认识的字段“{f}”"} for f in unknown],
        )
    values, errors = rules.check_project({"code": code, "name": name, "kind": kind, **fields})
    if errors:
        raise _invalid("项目信息", errors)
    _code_taken(session, values["code"])
    project = Project(**values, version=1, households_version=0, created_at=utcnow())
    session.add(project)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="project",
        entity_id=project.id,
        project_id=project.id,
        changes=field_diff({}, values),
        reason=reason,
    )
    return project


def _lock_project(session: Session, project_id: int) -> Project:
    project = session.scalar(
        select(Project)
        .where(Project.id == project_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if project is None:
        raise NotFound("项目不存在", "project not found")
    return project


def update_project(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    data: Mapping[str, Any],
    expected_version: int | None,
    reason: str = "",
) -> dict[str, list[Any]]:
    """Change a project's fields and targets (only the keys in ``data``); returns the audited diff.

    ``expected_version`` is the version the editor read: when someone changed the project since,
    the answer is a 409 ``stale_version`` naming who and when, and nothing is written. The
    dates of the result must stay in order (signing start ≤ end ≤ deadline).
    """
    _check_reason(reason)
    project = _lock_project(session, project_id)
    if expected_version is not None and project.version != expected_version:
        raise identity_service.stale_version(
            session, what="项目信息", entity="project", entity_id=project.id, current=project.version
        )
    unknown = sorted(set(data) - set(rules.PROJECT_EDITABLE))
    if unknown:
        raise ValidationFailed(
            "不认识的字段：" + "、".join(unknown),
            "unknown fields",
            details=[{"field": f, "message": f"不认识的字段“{f}”"} for f in unknown],
        )
    values, errors = rules.check_project(data, current=project_values(project))
    if errors:
        raise _invalid("项目信息", errors)
    if "code" in values and values["code"] != project.code:
        _code_taken(session, values["code"], but=project.id)
    before = {k: getattr(project, k) for k in values}
    changes = field_diff(before, values)
    if not changes:
        return {}
    for k in changes:
        setattr(project, k, values[k])
    project.version = project.version + 1
    audit_service.record(
        session,
        actor=actor,
        action="update",
        entity="project",
        entity_id=project.id,
        project_id=project.id,
        changes=changes,
        reason=reason,
    )
    events.notify(
        session, topic=events.project_topic(project.id), kind="project", data={"fields": sorted(changes)}
    )
    return changes


def bump_households_version(session: Session, project_id: int) -> None:
    """Note that a household file of the project changed (invalidates list caches in every worker)."""
    session.execute(
        update(Project)
        .where(Project.id == project_id)
        .values(households_version=Project.households_version + 1)
    )
    session.info.pop(("households_version", project_id), None)
    _mark_written(session, project_id)


_WRITTEN = "anju.households_written"


def _mark_written(session: Session, project_id: int) -> None:
    tx = session.get_transaction()
    mark = session.info.get(_WRITTEN)
    if mark is None or mark[0] is not tx:
        mark = (tx, set[int]())
        session.info[_WRITTEN] = mark
    mark[1].add(project_id)


def households_written(session: Session, project_id: int) -> bool:
    """Whether this session's open transaction changed the project's household data (bumped its
    version): what it reads is then its own uncommitted view, which no cache may share."""
    mark = session.info.get(_WRITTEN)
    return (
        mark is not None
        and mark[0] is not None
        and mark[0] is session.get_transaction()
        and (project_id in mark[1])
    )


def households_version(session: Session, project_id: int, *, fresh: bool = False) -> int:
    """The project's household-data version (see :func:`bump_households_version`).

    Read once per session (one request): a list page asks for it several times. ``fresh`` reads
    it again (a job that spans two transactions compares the version it checked against).
    """
    key = ("households_version", project_id)
    if fresh:
        session.info.pop(key, None)
    if key not in session.info:
        session.info[key] = int(
            session.scalar(select(Project.households_version).where(Project.id == project_id)) or 0
        )
    version: int = session.info[key]
    return version
