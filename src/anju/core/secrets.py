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


@lru_cache(maxsize=8)
def _derive(secret: str, purpose: str) -> bytes:
    return hashlib.sha256(f"anju:{purpose}:{secret}".encode()).digest()


def encrypt(secret: str, plaintext: str) -> str:
    """Encrypt a short text; returns base64 of nonce + ciphertext."""
    nonce = os.urandom(12)
    data = AESGCM(_derive(secret, "pii-enc")).encrypt(nonce, plaintext.encode(), b"anju-pii")
    return base64.b64encode(nonce + data).decode()


def decrypt(secret: str, token: str) -> str:
    """Inverse of :func:`encrypt`."""
    raw = base64.b64decode(token)
    return AESGCM(_derive(secret, "pii-enc")).decrypt(raw[:12], raw[12:], b"anju-pii").decode()


def blind_index(secret: str, value: str) -> str:
    """Keyed digest of a normalised value, for exact-match search of encrypted data."""
    return hmac.new(_derive(secret, "pii-idx"), value.encode(), hashlib.sha256).hexdigest()
