"""Personal-data encryption keeps its stored format: old tokens decrypt, digests do not move."""

from __future__ import annotations

import base64
import hashlib
import hmac

from anju.core import secrets

SECRET = "test-secret-key"
ID = "11010519491231002X"
# Made by the implementation before the cipher and HMAC objects were cached.
OLD_TOKEN = "278JEsonhsC5GvQIPRQ9MDuxwQjBf2Re+vziSnE/6QRafGKSCDwiuz6AhZ7Pnw=="
OLD_DIGEST = "2113ae502a82dc6afb802f85d81f9e172e4dd1dddd453d119960a1a548204c4d"


def test_old_token_decrypts() -> None:
    assert secrets.decrypt(SECRET, OLD_TOKEN) == ID


def test_blind_index_is_unchanged_and_repeatable() -> None:
    assert secrets.blind_index(SECRET, ID) == OLD_DIGEST
    assert secrets.blind_index(SECRET, ID) == OLD_DIGEST  # the cached HMAC state is not consumed
    key = hashlib.sha256(f"anju:pii-idx:{SECRET}".encode()).digest()
    assert secrets.blind_index(SECRET, "x") == hmac.new(key, b"x", hashlib.sha256).hexdigest()


def test_token_format_is_nonce_and_ciphertext_in_base64() -> None:
    token = secrets.encrypt(SECRET, ID)
    raw = base64.b64decode(token)
    assert len(raw) == 12 + len(ID.encode()) + 16  # nonce + ciphertext + GCM tag
    assert secrets.decrypt(SECRET, token) == ID
    assert secrets.encrypt(SECRET, ID) != token  # fresh nonce each time


def test_keys_are_per_secret() -> None:
    assert secrets.blind_index("other-secret", ID) != OLD_DIGEST
    token = secrets.encrypt("other-secret", ID)
    assert secrets.decrypt("other-secret", token) == ID


def test_encrypt_many_gives_single_tokens_with_fresh_nonces() -> None:
    texts = [ID, "330102197003040118", ID, ""]
    tokens = secrets.encrypt_many(SECRET, texts)
    assert [secrets.decrypt(SECRET, t) for t in tokens] == texts
    nonces = [base64.b64decode(t)[:12] for t in tokens]
    assert len(set(nonces)) == len(texts)  # never a nonce twice under one key
    assert [len(base64.b64decode(t)) for t in tokens] == [
        len(base64.b64decode(secrets.encrypt(SECRET, x))) for x in texts
    ]
    assert secrets.encrypt_many(SECRET, []) == []
