"""Encryption and blind indexes for personal data, keyed from the settings' secret key.

Identity numbers are stored AES-GCM encrypted; an HMAC digest allows exact search without
decrypting. Rotating ``ANJU_SECRET_KEY`` therefore needs a re-encryption job.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence
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


def encrypt_many(secret: str, plaintexts: Sequence[str]) -> list[str]:
    """:func:`encrypt` of each text (same token format, a fresh random nonce each).

    The nonces come from one ``os.urandom`` call: on a virtual machine the system call costs
    more than the encryption, and a census import encrypts hundreds of thousands of numbers.
    """
    nonces = os.urandom(12 * len(plaintexts))
    seal = _aead(secret).encrypt
    b64 = base64.b64encode
    return [
        b64((nonce := nonces[i : i + 12]) + seal(nonce, text.encode(), _AAD)).decode()
        for i, text in zip(range(0, len(nonces), 12), plaintexts, strict=True)
    ]


def decrypt(secret: str, token: str) -> str:
    """Inverse of :func:`encrypt`."""
    raw = base64.b64decode(token)
    return _aead(secret).decrypt(raw[:12], raw[12:], _AAD).decode()


def blind_index(secret: str, value: str) -> str:
    """Keyed digest of a normalised value, for exact-match search of encrypted data."""
    h = _keyed_hmac(secret).copy()
    h.update(value.encode())
    return h.hexdigest()
