"""Pure audit rules: field-level diffs, canonical JSON and the chain hash."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

GENESIS_HASH = "0" * 64


def to_jsonable(value: Any) -> Any:
    """Turn a field value into a stable JSON value (Decimal and dates as text)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return str(value)


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 kept readable."""
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def field_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` for every field whose value changed (compared as JSON values)."""
    out: dict[str, list[Any]] = {}
    for key in sorted(set(before) | set(after)):
        b, a = to_jsonable(before.get(key)), to_jsonable(after.get(key))
        if b != a:
            out[key] = [b, a]
    return out


def chain_hash(
    *,
    seq: int,
    at: datetime,
    actor_id: int | None,
    actor_name: str,
    action: str,
    entity: str,
    entity_id: str,
    project_id: int | None,
    household_id: int | None,
    changes: str,
    reason: str,
    prev_hash: str,
) -> str:
    """SHA-256 over every column of a record and the previous record's hash."""
    stamp = at.replace(tzinfo=None, microsecond=0).isoformat()
    parts = [
        str(seq),
        stamp,
        "" if actor_id is None else str(actor_id),
        actor_name,
        action,
        entity,
        entity_id,
        "" if project_id is None else str(project_id),
        "" if household_id is None else str(household_id),
        changes,
        reason,
        prev_hash,
    ]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
