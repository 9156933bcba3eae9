"""Message catalog: user-facing text lives in ``locale/<lang>.json``, Simplified Chinese first."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LANG = "zh"
LANGS = ("zh", "en")


@lru_cache
def catalog(lang: str) -> dict[str, str]:
    """All messages of one language."""
    path = LOCALE_DIR / f"{lang}.json"
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


def t(key: str, lang: str = DEFAULT_LANG, **params: object) -> str:
    """The message ``key`` in ``lang`` (falling back to Chinese, then to the key itself)."""
    text = catalog(lang).get(key) or catalog(DEFAULT_LANG).get(key) or key
    return text.format(**params) if params else text
