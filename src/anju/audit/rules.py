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


def _json_default(value: Any) -> Any:
    # Only reached for values that passed _plain(): Decimal, date and datetime.
    if value.__class__ is Decimal:
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


_SCALARS = frozenset({str, int, bool, type(None)})
_LEAVES = frozenset({Decimal, date, datetime})
_ENCODE = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
).encode


def _plain(value: Any) -> bool:
    """Whether ``json.dumps`` with :func:`_json_default` writes ``value`` exactly as
    ``to_jsonable`` + ``json.dumps`` would: only text keys, and no float, Enum, set or subclass
    (``to_jsonable`` writes floats and unknown types as text, and sorts keys after ``str()``)."""
    cls = value.__class__
    if cls in _SCALARS or cls in _LEAVES:
        return True
    if cls is dict:
        for k, v in value.items():
            if k.__class__ is not str:
                return False
            c = v.__class__
            if c in _SCALARS or c in _LEAVES:
                continue
            if not _plain(v):
                return False
        return True
    if cls is list or cls is tuple:
        for v in value:
            c = v.__class__
            if c in _SCALARS or c in _LEAVES:
                continue
            if not _plain(v):
                return False
        return True
    return False


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 kept readable.

    The text is what ``json.dumps(to_jsonable(value), sort_keys=True, ...)`` gives; the audit
    chain hashes it, so it must never change for the same input. Plain values (text keys;
    str, int, bool, None, Decimal, date, datetime in dicts, lists and tuples) go straight to the
    C encoder; anything else takes the ``to_jsonable`` walk.
    """
    if _plain(value):
        return _ENCODE(value)
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
