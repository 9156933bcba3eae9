"""Optimistic concurrency on rows with a ``version`` (:class:`anju.db.base.VersionMixin`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from anju.errors import Conflict


def bump_version(session: Session, obj: Any) -> None:
    """Raise ``obj``'s version by one, guarded by the version this transaction read.

    An UPDATE ... WHERE version = <read>: even a write path that forgot to lock the row cannot
    overwrite a concurrent change unnoticed (409 ``stale_version``). The new version is set on
    ``obj`` as committed state, so it is not written again at the next flush.
    """
    model = type(obj)
    old = int(obj.version)
    result: Any = session.execute(
        update(model)
        .where(model.id == obj.id, model.version == old)
        .values(version=old + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(
            "该记录已被他人修改，请刷新页面后重试", "changed by someone else meanwhile", code="stale_version"
        )
    set_committed_value(obj, "version", old + 1)
