"""Household search without identity numbers in URLs.

A search text that holds an identity number (or anything shaped like one) never goes into a URL:
the search form posts it, and the address the browser keeps (history, bookmarks, the access log)
carries ``qt``, a token that is the search text encrypted with AES-GCM under a key derived from
``ANJU_SECRET_KEY`` for this purpose only (a fresh nonce each time, so two tokens of one number
differ). Without the key the token tells nothing; the server decrypts it and searches by the
number's blind index as before. The JSON API searches by identity number through
``POST /api/v1/projects/{id}/households/search``; its GET list refuses such a ``q`` with a 422.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from functools import lru_cache
from urllib.parse import urlencode

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, Field

from anju.config import get_settings

# 15 digits in a row: a first-generation number, or most of a second-generation one. Shorter
# runs (house codes, parts of phone numbers) are searched as text and may appear in URLs.
_ID_RUN = re.compile(r"\d{15}")
_AAD = b"anju-search-token"
_MAX_TOKEN = 400

ID_IN_URL_ZH = (
    "按身份证号查询时，身份证号不得出现在网址中：请用 POST /api/v1/projects/{project_id}/households/search "
    "在请求正文中提交查询条件"
)
ID_IN_URL_EN = "identity numbers must not appear in URLs: POST the search to /api/v1/projects/{project_id}/households/search"


def mentions_id_number(q: str) -> bool:
    """Whether a search text holds an identity number, or a run of digits as long as one."""
    return bool(_ID_RUN.search(q.replace(" ", "")))


@lru_cache(maxsize=4)
def _cipher(secret: str) -> AESGCM:
    return AESGCM(hashlib.sha256(f"anju:search-token:{secret}".encode()).digest())


def make_token(q: str) -> str:
    """The URL-safe token that stands for the search text ``q`` (see module docstring)."""
    nonce = os.urandom(12)
    sealed = _cipher(get_settings().secret_key).encrypt(nonce, q.strip().encode(), _AAD)
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def read_token(token: str) -> str | None:
    """The search text of a token, or ``None`` when it is malformed, altered or of another key."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        return _cipher(get_settings().secret_key).decrypt(raw[:12], raw[12:], _AAD).decode()
    except (binascii.Error, ValueError, InvalidTag, UnicodeDecodeError):
        return None


def list_params(*, q: str, block_id: int | str | None, status: str, sort: str, desc: bool) -> dict[str, str]:
    """The household list's query parameters, with ``qt`` in place of a text holding an identity number."""
    params: dict[str, str] = {}
    if q.strip():
        if mentions_id_number(q):
            params["qt"] = make_token(q)
        else:
            params["q"] = q.strip()
    if block_id and str(block_id).strip():
        params["block_id"] = str(block_id).strip()
    if status:
        params["status"] = status
    if sort and sort != "code":
        params["sort"] = sort
    if desc:
        params["desc"] = "true"
    return params


def list_url(
    project_id: int, *, q: str, block_id: int | str | None, status: str, sort: str, desc: bool
) -> str:
    """The household list address for a search (see :func:`list_params`)."""
    query = urlencode(list_params(q=q, block_id=block_id, status=status, sort=sort, desc=desc))
    return f"/projects/{project_id}/households" + ("?" + query if query else "")


class HouseholdSearch(BaseModel):
    """Body of ``POST /api/v1/projects/{project_id}/households/search`` (same fields as the GET list)."""

    q: str = Field("", max_length=200, description="户号、户主或成员姓名、地址的一部分，或完整身份证号")
    block_id: int | None = Field(None, ge=1, le=2**63 - 1)
    status: str = Field("", max_length=32)
    sort: str = Field("code", max_length=32)
    desc: bool = False
    page: int = Field(1, ge=1, le=1_000_000)
    size: int = Field(20, ge=1, le=200)
