"""Field diffs, canonical JSON and the chain hash of the audit log."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from anju.audit.keys import AuditKeyError, build_keyring, derive_dev_key, parse_keys
from anju.audit.rules import (
    GENESIS_HASH,
    HEAD_KIND,
    REKEY_KIND,
    Mac,
    anchor_mac_ok,
    canonical_json,
    chain_hash,
    chain_text,
    field_diff,
    parse_anchor,
    sign_anchor,
    to_jsonable,
)
from anju.config import Settings


class Colour(Enum):
    RED = "red"


def test_field_diff() -> None:
    before = {
        "phone": "13800000000",
        "area": Decimal("88.50"),
        "on": date(2025, 1, 1),
        "same": 1,
        "gone": "x",
    }
    after = {"phone": "13912340000", "area": Decimal("88.50"), "on": date(2025, 1, 2), "same": 1, "new": True}
    assert field_diff(before, after) == {
        "gone": ["x", None],
        "new": [None, True],
        "on": ["2025-01-01", "2025-01-02"],
        "phone": ["13800000000", "13912340000"],
    }
    assert list(field_diff(before, after)) == ["gone", "new", "on", "phone"]  # sorted: stable records


def test_field_diff_of_equal_snapshots_is_empty() -> None:
    snap = {"a": Decimal("1.20"), "b": None, "c": [1, 2], "d": Colour.RED}
    assert field_diff(snap, dict(snap)) == {}
    assert field_diff({}, {}) == {}


def test_none_and_empty_text_differ() -> None:
    assert field_diff({"remark": None}, {"remark": ""}) == {"remark": [None, ""]}


def test_to_jsonable() -> None:
    assert to_jsonable(Decimal("1.50")) == "1.50"
    assert to_jsonable(datetime(2025, 1, 2, 3, 4, 5)) == "2025-01-02T03:04:05"
    assert to_jsonable(Colour.RED) == "red"
    assert to_jsonable((1, Decimal("2"))) == [1, "2"]
    assert to_jsonable({1: {"x": date(2025, 5, 1)}}) == {"1": {"x": "2025-05-01"}}
    assert to_jsonable(b"x") == "b'x'"


def test_canonical_json() -> None:
    assert (
        canonical_json({"b": 1, "a": "张", "c": [Decimal("1.0"), None]})
        == '{"a":"张","b":1,"c":["1.0",null]}'
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=6), json_values, max_size=6))
def test_canonical_json_ignores_key_order_and_round_trips(value: dict[str, Any]) -> None:
    reordered = dict(reversed(list(value.items())))
    assert canonical_json(reordered) == canonical_json(value)
    assert json.loads(canonical_json(value)) == value


AT = datetime(2025, 6, 1, 8, 30, 0)
RECORD: dict[str, Any] = {
    "seq": 7,
    "at": AT,
    "actor_id": 3,
    "actor_name": "case_officer",
    "action": "update",
    "entity": "member",
    "entity_id": "12",
    "project_id": 1,
    "household_id": 4,
    "changes": '{"phone":["13800000000","13912340000"]}',
    "reason": "户主更换手机",
    "prev_hash": "ab" * 32,
}


def test_chain_hash_is_sha256_over_the_columns() -> None:
    parts = [
        "7",
        "2025-06-01T08:30:00",
        "3",
        "case_officer",
        "update",
        "member",
        "12",
        "1",
        "4",
        RECORD["changes"],
        "户主更换手机",
        "ab" * 32,
    ]
    assert chain_hash(**RECORD) == hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    none_ids = {**RECORD, "actor_id": None, "project_id": None, "household_id": None}
    parts[2] = parts[7] = parts[8] = ""
    assert chain_hash(**none_ids) == hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    assert len(GENESIS_HASH) == 64 and set(GENESIS_HASH) == {"0"}


def test_chain_hash_ignores_what_the_database_does_not_keep() -> None:
    # Stored timestamps lose microseconds and, on some backends, the time zone.
    same = {**RECORD, "at": AT.replace(microsecond=123456, tzinfo=UTC)}
    assert chain_hash(**same) == chain_hash(**RECORD)


_changed_values: dict[str, st.SearchStrategy[Any]] = {
    "seq": st.integers(min_value=1, max_value=10**9),
    "at": st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
        lambda d: d.replace(microsecond=0)
    ),
    "actor_id": st.none() | st.integers(min_value=0, max_value=10**6),
    "actor_name": st.text(max_size=12),
    "action": st.text(max_size=12),
    "entity": st.text(max_size=12),
    "entity_id": st.text(max_size=12),
    "project_id": st.none() | st.integers(min_value=0, max_value=10**6),
    "household_id": st.none() | st.integers(min_value=0, max_value=10**6),
    "changes": st.text(max_size=40),
    "reason": st.text(max_size=40),
    "prev_hash": st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
}


@given(st.data())
def test_changing_any_field_changes_the_hash(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(_changed_values)))
    value = data.draw(_changed_values[name].filter(lambda v: v != RECORD[name]))
    assert chain_hash(**{**RECORD, name: value}) != chain_hash(**RECORD)


# ------------------------------------------------------------------ keyed chain, anchors, keys

KEY = bytes(range(32))


def test_keyed_chain_hash_is_hmac_sha256_over_the_columns_and_the_key_id() -> None:
    parts = [
        "7",
        "2025-06-01T08:30:00",
        "3",
        "case_officer",
        "update",
        "member",
        "12",
        "1",
        "4",
        RECORD["changes"],
        "户主更换手机",
        "ab" * 32,
        "k1",
    ]
    text = "\x1f".join(parts).encode("utf-8")
    assert chain_text(**RECORD, key_id="k1") == "\x1f".join(parts)
    assert chain_hash(**RECORD, key_id="k1", key=KEY) == hmac.new(KEY, text, hashlib.sha256).hexdigest()
    assert chain_hash(**RECORD, key_id="k1", key=Mac(KEY)) == hmac.digest(KEY, text, "sha256").hex()
    # the legacy text (no key id) is the one records were hashed with before the chain was keyed
    assert chain_text(**RECORD) == "\x1f".join(parts[:-1])


def test_key_id_and_key_both_change_the_mac() -> None:
    base = chain_hash(**RECORD, key_id="k1", key=KEY)
    assert chain_hash(**RECORD, key_id="k2", key=KEY) != base
    assert chain_hash(**RECORD, key_id="k1", key=bytes(32)) != base
    assert chain_hash(**RECORD) not in (base, chain_hash(**RECORD, key_id="k2", key=KEY))


def test_keyed_record_needs_its_key_and_a_legacy_record_takes_none() -> None:
    with pytest.raises(ValueError, match="needs its key"):
        chain_hash(**RECORD, key_id="k1")
    with pytest.raises(ValueError, match="takes no key"):
        chain_hash(**RECORD, key=KEY)


@given(st.binary(min_size=0, max_size=150), st.binary(max_size=600))
def test_mac_is_rfc2104_hmac_sha256(key: bytes, msg: bytes) -> None:
    assert Mac(key).hexdigest(msg) == hmac.digest(key, msg, "sha256").hex()


ANCHOR_AT = datetime(2026, 12, 5, 1, 15, 0, 123456, tzinfo=UTC)


def test_anchor_line_round_trip_and_signed_text() -> None:
    a = sign_anchor(kind=HEAD_KIND, seq=42, hash="ab" * 32, at=ANCHOR_AT, key_id="k2", key=KEY)
    assert a.at == "2026-12-05T01:15:00.123456Z"
    signed = b"anju-audit-head v1\x1f42\x1f" + b"ab" * 32 + b"\x1f2026-12-05T01:15:00.123456Z\x1fk2"
    assert a.signed_text() == signed
    assert a.mac == hmac.new(KEY, signed, hashlib.sha256).hexdigest()
    assert (
        a.line()
        == f"anju-audit-head v1 seq=42 hash={'ab' * 32} at=2026-12-05T01:15:00.123456Z key=k2 mac={a.mac}"
    )
    assert parse_anchor(a.line()) == a
    assert parse_anchor("  " + a.line() + "\n") == a
    assert a.at_datetime == ANCHOR_AT
    assert anchor_mac_ok(a, KEY) and anchor_mac_ok(a, Mac(KEY))
    assert not anchor_mac_ok(a, bytes(32))
    # an anchor's text begins with a letter, a record's with its seq: one can never pass for the other
    assert a.signed_text()[:1].isalpha() and chain_text(**RECORD, key_id="k2")[:1].isdigit()


@pytest.mark.parametrize("field", ["kind", "seq", "hash", "at", "key_id"])
def test_any_changed_anchor_field_breaks_its_mac(field: str) -> None:
    a = sign_anchor(kind=HEAD_KIND, seq=42, hash="ab" * 32, at=ANCHOR_AT, key_id="k2", key=KEY)
    changed = {
        "kind": REKEY_KIND,
        "seq": 43,
        "hash": "cd" * 32,
        "at": "2026-12-05T01:15:00.123457Z",
        "key_id": "k3",
    }
    assert not anchor_mac_ok(dataclasses.replace(a, **{field: changed[field]}), KEY)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "anju-audit-head v2 seq=1 hash={h} at=2026-12-05T01:15:00.123456Z key=k2 mac={h}",
        "anju-audit-head v1 seq=1 hash={H} at=2026-12-05T01:15:00.123456Z key=k2 mac={h}",
        "anju-audit-head v1 seq=1 hash={h} at=2026-12-05T01:15:00Z key=k2 mac={h}",
        "anju-audit-head v1 seq=-1 hash={h} at=2026-12-05T01:15:00.123456Z key=k2 mac={h}",
        "anju-audit-head v1 seq=1 hash={h} at=2026-12-05T01:15:00.123456Z key=k2 mac={h} extra",
        "anju-audit-head v1 seq=1 hash={h} at=2026-12-05T01:15:00.123456Z key= mac={h}",
        "anju-audit-tail v1 seq=1 hash={h} at=2026-12-05T01:15:00.123456Z key=k2 mac={h}",
    ],
)
def test_malformed_anchor_lines_are_not_anchors(line: str) -> None:
    assert parse_anchor(line.format(h="ab" * 32, H="AB" * 32)) is None


def test_parse_keys_hex_base64_and_order() -> None:
    b64 = base64.b64encode(bytes(range(40))).decode()
    url = base64.urlsafe_b64encode(bytes([251] * 33)).decode().rstrip("=")
    ring = parse_keys(f" k2:{'0f' * 32} , k1:{b64},old-1.x:{url}")
    assert ring.current_id == "k2" and ring.current == bytes([15] * 32)
    assert dict(ring.keys) == {"k2": bytes([15] * 32), "k1": bytes(range(40)), "old-1.x": bytes([251] * 33)}
    assert ring.mac("k1") is not None and ring.mac("k9") is None and not ring.derived


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "holds no key"),
        (" , ", "holds no key"),
        ("k1", "entry 1: expected 'id:secret'"),
        ("k1:", "entry 1: expected 'id:secret'"),
        (f"k1:{'ab' * 31}", "key 'k1' has 31 bytes, at least 32 are required"),
        (f"k1:{'ab' * 32},k1:{'cd' * 32}", "key id 'k1' appears twice"),
        (f"k 1:{'ab' * 32}", "key id 'k 1' must be 1-16"),
        (f"{'k' * 17}:{'ab' * 32}", "must be 1-16"),
        ("k1:not*base64!", "key 'k1' is not hex and not base64"),
    ],
)
def test_parse_keys_refuses_bad_settings(spec: str, message: str) -> None:
    with pytest.raises(AuditKeyError) as err:
        parse_keys(spec)
    assert message in str(err.value)


def test_development_key_is_derived_from_the_secret_key() -> None:
    ring = build_keyring("", "secret-one")
    assert (ring.current_id, ring.derived) == ("dev", True)
    assert ring.current == derive_dev_key("secret-one") != derive_dev_key("secret-two")
    assert len(ring.current) == 32 and ring.current != hashlib.sha256(b"secret-one").digest()
    assert build_keyring(f"k1:{'ab' * 32}", "secret-one").current_id == "k1"


def test_settings_require_a_sound_audit_key_in_production() -> None:
    base: dict[str, Any] = {"_env_file": None, "secret_key": "s" * 40, "audit_keys": ""}
    with pytest.raises(ValidationError, match="ANJU_AUDIT_KEYS must be set in production"):
        Settings(**{**base, "env": "production"})
    with pytest.raises(ValidationError, match="has 16 bytes, at least 32"):
        Settings(**{**base, "env": "development", "audit_keys": f"k1:{'ab' * 16}"})
    assert Settings(**{**base, "env": "production", "audit_keys": f"k1:{'ab' * 32}"}).audit_keys
    assert Settings(**{**base, "env": "test"}).audit_keys == ""
