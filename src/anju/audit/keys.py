"""Audit keys: the secrets that MAC the audit chain and sign its anchors.

Keys come from ``ANJU_AUDIT_KEYS`` (never from the database), e.g.
``k2:<64 hex digits>,k1:<base64>``: the first key writes, the others only verify older records.
Without the setting (development and test only) one key, ``dev``, is derived from the secret key.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from anju.audit.rules import Mac

#: Shortest accepted key (bytes, after decoding): the MAC's own strength.
MIN_KEY_BYTES = 32
#: Key id of records written before the chain was keyed: plain SHA-256, no key.
LEGACY_KEY_ID = ""
#: Key id of the key derived from the secret key when no audit key is configured (not in production).
DEV_KEY_ID = "dev"

_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,16}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


class AuditKeyError(ValueError):
    """``ANJU_AUDIT_KEYS`` cannot be used (raised while the settings are read)."""


@dataclass(frozen=True)
class Keyring:
    """The configured audit keys: ``current_id`` writes; every key in ``keys`` verifies."""

    current_id: str
    keys: Mapping[str, bytes]
    derived: bool = False  # the development key derived from the secret key

    @property
    def current(self) -> bytes:
        """The key that MACs new records and anchors."""
        return self.keys[self.current_id]

    def mac(self, key_id: str) -> Mac | None:
        """The MAC of ``key_id``, or None when that key is not configured."""
        key = self.keys.get(key_id)
        return None if key is None else _mac(key)


@lru_cache(maxsize=16)
def _mac(key: bytes) -> Mac:
    return Mac(key)


def decode_secret(text: str) -> bytes:
    """A key's bytes: hex when the text is an even number of hex digits, else base64 (or base64url)."""
    text = text.strip()
    if _HEX.fullmatch(text):
        return bytes.fromhex(text)
    try:
        return base64.b64decode(
            text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True
        )
    except (binascii.Error, ValueError) as exc:
        raise AuditKeyError("not hex and not base64") from exc


def parse_keys(spec: str) -> Keyring:
    """Parse ``id:secret,id:secret`` (first = current). Raises :class:`AuditKeyError` naming the entry."""
    keys: dict[str, bytes] = {}
    order: list[str] = []
    for n, item in enumerate(spec.split(","), start=1):
        item = item.strip()
        if not item:
            continue
        key_id, sep, secret = item.partition(":")
        key_id = key_id.strip()
        if not sep or not secret.strip():
            raise AuditKeyError(f"ANJU_AUDIT_KEYS entry {n}: expected 'id:secret'")
        if not _KEY_ID.fullmatch(key_id):
            raise AuditKeyError(
                f"ANJU_AUDIT_KEYS entry {n}: key id {key_id!r} must be 1-16 letters, digits, '_', '-' or '.'"
            )
        if key_id in keys:
            raise AuditKeyError(f"ANJU_AUDIT_KEYS: key id {key_id!r} appears twice")
        try:
            raw = decode_secret(secret)
        except AuditKeyError as exc:
            raise AuditKeyError(f"ANJU_AUDIT_KEYS: key {key_id!r} is {exc}") from exc
        if len(raw) < MIN_KEY_BYTES:
            raise AuditKeyError(
                f"ANJU_AUDIT_KEYS: key {key_id!r} has {len(raw)} bytes, at least {MIN_KEY_BYTES} are required"
            )
        keys[key_id] = raw
        order.append(key_id)
    if not order:
        raise AuditKeyError("ANJU_AUDIT_KEYS holds no key")
    return Keyring(current_id=order[0], keys=keys)


def derive_dev_key(secret_key: str) -> bytes:
    """The development audit key: HKDF-SHA256 of the secret key (not for production)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"anju-audit-chain").derive(
        secret_key.encode()
    )


@lru_cache(maxsize=8)
def build_keyring(spec: str, secret_key: str) -> Keyring:
    """The keyring of a settings pair (cached: the web layer asks for it on every audited write)."""
    if spec.strip():
        return parse_keys(spec)
    return Keyring(current_id=DEV_KEY_ID, keys={DEV_KEY_ID: derive_dev_key(secret_key)}, derived=True)


def keyring() -> Keyring:
    """The keyring of the process-wide settings."""
    from anju.config import get_settings

    settings = get_settings()
    return build_keyring(settings.audit_keys, settings.secret_key)
