"""Pure audit rules: field-level diffs, canonical JSON, the chain MAC and the anchor lines."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
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


class Mac:
    """HMAC-SHA256 under one key, with the padded key blocks hashed once.

    ``hexdigest(msg)`` equals ``hmac.digest(key, msg, "sha256").hex()`` (RFC 2104), at about half
    its cost for audit-sized messages (measured 1.4 against 2.8 µs for 460 bytes): the one-shot C
    path sets the key up again for every message, and a census import MACs hundreds of thousands.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:  # RFC 2104: a key longer than the block is hashed first
            key = hashlib.sha256(key).digest()
        block = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def hexdigest(self, msg: bytes) -> str:
        """HMAC-SHA256 of ``msg`` as 64 lower-case hex digits."""
        inner = self._inner.copy()
        inner.update(msg)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


def chain_text(
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
    key_id: str = "",
) -> str:
    """The text a record's hash covers: every column and the previous hash, joined by U+001F.

    A keyed record (``key_id`` not empty) also covers its key id, as a 13th part; a legacy record's
    text is the 12 parts it was hashed with before the chain was keyed.
    """
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
    if key_id:
        parts.append(key_id)
    return "\x1f".join(parts)


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
    key_id: str = "",
    key: bytes | Mac | None = None,
) -> str:
    """A record's hash: HMAC-SHA256 of :func:`chain_text` under ``key`` (the key ``key_id`` names).

    ``key_id`` empty means a legacy record: plain SHA-256 and no key (anyone can compute it, which
    is why verification accepts such records only as an anchored prefix of the chain).
    """
    text = chain_text(
        seq=seq,
        at=at,
        actor_id=actor_id,
        actor_name=actor_name,
        action=action,
        entity=entity,
        entity_id=entity_id,
        project_id=project_id,
        household_id=household_id,
        changes=changes,
        reason=reason,
        prev_hash=prev_hash,
        key_id=key_id,
    ).encode("utf-8")
    if not key_id:
        if key is not None:
            raise ValueError("a legacy (unkeyed) record takes no key")
        return hashlib.sha256(text).hexdigest()
    if key is None:
        raise ValueError(f"key id {key_id!r} needs its key")
    mac = key if isinstance(key, Mac) else Mac(key)
    return mac.hexdigest(text)


# ------------------------------------------------------------------ anchors
HEAD_KIND = "anju-audit-head"
REKEY_KIND = "anju-audit-rekey"
_ANCHOR_LINE = re.compile(
    r"(?P<kind>anju-audit-head|anju-audit-rekey) v1 seq=(?P<seq>[0-9]{1,19}) hash=(?P<hash>[0-9a-f]{64}) "
    r"at=(?P<at>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z) "
    r"key=(?P<key>[A-Za-z0-9_.-]{1,16}) mac=(?P<mac>[0-9a-f]{64})"
)


@dataclass(frozen=True, slots=True)
class Anchor:
    """A signed statement about the chain, kept outside the database.

    ``anju-audit-head``: record ``seq`` had hash ``hash`` at ``at``. ``anju-audit-rekey``: every record
    up to ``seq`` (whose head hash was ``hash``) was re-MACed at ``at``, so head anchors written
    before it pin hashes that no longer exist (they still pin that the chain reaches their ``seq``).
    """

    kind: str
    seq: int
    hash: str
    at: str  # UTC, ISO 8601 with microseconds and a Z, exactly as signed
    key_id: str
    mac: str

    @property
    def at_datetime(self) -> datetime:
        """``at`` as an aware UTC datetime."""
        return datetime.strptime(self.at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)

    def signed_text(self) -> bytes:
        """What the MAC covers (begins with a letter: never the text of a record, which begins with a digit)."""
        return f"{self.kind} v1\x1f{self.seq}\x1f{self.hash}\x1f{self.at}\x1f{self.key_id}".encode()

    def line(self) -> str:
        """The printable one-line form, as written to anchor files and daily reports."""
        return f"{self.kind} v1 seq={self.seq} hash={self.hash} at={self.at} key={self.key_id} mac={self.mac}"


def anchor_stamp(at: datetime) -> str:
    """``at`` (aware) in the anchors' UTC form, with microseconds so that order is unambiguous."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sign_anchor(*, kind: str, seq: int, hash: str, at: datetime, key_id: str, key: bytes | Mac) -> Anchor:
    """A new anchor signed with ``key`` (the key ``key_id`` names)."""
    if kind not in (HEAD_KIND, REKEY_KIND):
        raise ValueError(f"unknown anchor kind {kind!r}")
    unsigned = Anchor(kind=kind, seq=seq, hash=hash, at=anchor_stamp(at), key_id=key_id, mac="")
    mac = key if isinstance(key, Mac) else Mac(key)
    return Anchor(kind, seq, hash, unsigned.at, key_id, mac.hexdigest(unsigned.signed_text()))


def parse_anchor(line: str) -> Anchor | None:
    """The anchor of one line, or None when the line is not one (the MAC is not checked here)."""
    m = _ANCHOR_LINE.fullmatch(line.strip())
    if m is None:
        return None
    return Anchor(m["kind"], int(m["seq"]), m["hash"], m["at"], m["key"], m["mac"])


def anchor_mac_ok(anchor: Anchor, key: bytes | Mac) -> bool:
    """Whether ``anchor`` was signed with ``key``."""
    mac = key if isinstance(key, Mac) else Mac(key)
    return hmac_equal(mac.hexdigest(anchor.signed_text()), anchor.mac)


def hmac_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(a.encode(), b.encode())
