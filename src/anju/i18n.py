"""Message catalog: user-facing text lives in ``locale/<lang>.json``, Simplified Chinese first.

Two kinds of message ids share one lookup:

* dotted keys (``nav.projects``) in ``locale/<lang>.json``, for short UI words used in many places;
* page text written in Chinese in the template itself (``{{ _("签约日期") }}``): the Chinese text is its
  own id, so Chinese needs no entry and a missing translation falls back to readable Chinese. The
  translations live per area in ``locale/<lang>/<area>.json`` (one file per domain, so that work on
  different domains never edits the same file).
"""

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
    area_dir = LOCALE_DIR / lang
    if area_dir.is_dir():
        for area in sorted(area_dir.glob("*.json")):
            data.update(json.loads(area.read_text(encoding="utf-8")))
    return data


def t(key: str, lang: str = DEFAULT_LANG, **params: object) -> str:
    """The message ``key`` in ``lang`` (falling back to Chinese, then to the key itself)."""
    text = catalog(lang).get(key) or catalog(DEFAULT_LANG).get(key) or key
    return text.format(**params) if params else text


def N_(text: str) -> str:
    """Mark ``text`` as a message id translated later, where a page shows it (``{{ _(label) }}``).

    Returns it unchanged; the mark lets the catalog tests find every id the code hands to pages.
    """
    return text
