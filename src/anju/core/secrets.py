"""Encryption and blind indexes for personal data, keyed from the settings' secret key.

Identity numbers are stored AES-GCM encrypted; an HMAC digest allows exact search without
decrypting. Rotating ``ANJU_SECRET_KEY`` therefore needs a re-encryption job.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_AAD = b"anju-pii"


@lru_cache(maxsize=8)
def _derive(secret: str, purpose: str) -> bytes:
    return hashlib.sha256(f"anju:{purpose}:{secret}".encode()).digest()


@lru_cache(maxsize=8)
def _aead(secret: str) -> AESGCM:
    # Building the cipher object costs as much as encrypting an identity number; a bulk import
    # encrypts hundreds of thousands with the same key.
    return AESGCM(_derive(secret, "pii-enc"))


@lru_cache(maxsize=8)
def _keyed_hmac(secret: str) -> hmac.HMAC:
    # Keyed once; each digest starts from a copy of this state (half the cost of hmac.new).
    return hmac.new(_derive(secret, "pii-idx"), digestmod=hashlib.sha256)


def encrypt(secret: str, plaintext: str) -> str:
    """Encrypt a short text; returns base64 of nonce + ciphertext."""
    nonce = os.urandom(12)
    data = _aead(secret).encrypt(nonce, plaintext.encode(), _AAD)
    return base64.b64encode(nonce + data).decode()


def decrypt(secret: str, token: str) -> str:
    """Inverse of :func:`encrypt`."""
    raw = base64.b64decode(token)
    return _aead(secret).decrypt(raw[:12], raw[12:], _AAD).decode()


def blind_index(secret: str, value: str) -> str:
    """Keyed digest of a normalised value, for exact-match search of encrypted data."""
    h = _keyed_hmac(secret).copy()
    h.update(value.encode())
    return h.hexdigest()
