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
    """The message ``key`` in ``lang`` (falling back to Chinese, then to the key itself).

    A :class:`Message` brings its own id and parameters (which may be messages too).
    """
    if isinstance(key, Bilingual):  # a service's refusal carries its own English
        return key.en if lang == "en" and key.en else str(key)
    if isinstance(key, Message) and not params:
        message: Message = key
        key, params = message.msgid, dict(message.params)
    if params:  # a parameter that is itself a message (a label) is shown in the same language
        params = {
            k: t(v, lang) if isinstance(v, str) and v in catalog(lang) else v for k, v in params.items()
        }
    text = catalog(lang).get(key) or catalog(DEFAULT_LANG).get(key) or key
    return text.format(**params) if params else text


class Message(str):
    """Chinese text that remembers its message id and parameters.

    It is the Chinese text everywhere (logs, the API, comparisons); a page shows it with
    ``{{ _(message) }}``, which translates the id and fills in the parameters in the reader's language.
    """

    msgid: str
    params: dict[str, object]

    def __new__(cls, msgid: str, **params: object) -> Message:
        text = msgid.format(**params) if params else msgid
        obj = super().__new__(cls, text)
        obj.msgid = msgid
        obj.params = params
        return obj


def msg(msgid: str, **params: object) -> Message:
    """A page message with parameters: ``msg("第 {row} 行：户号必填", row=3)``."""
    return Message(msgid, **params)


def N_(text: str) -> str:
    """Mark ``text`` as a message id translated later, where a page shows it (``{{ _(label) }}``).

    Returns it unchanged; the mark lets the catalog tests find every id the code hands to pages.
    """
    return text


class Bilingual(str):
    """Chinese text that carries its English twin: the message of a service's refusal
    (:class:`anju.errors.DomainError` writes both). It is the Chinese text everywhere; ``{{ _(text) }}``
    and a page's ``error`` shown in English give the English."""

    en: str

    def __new__(cls, zh: str, en: str = "") -> Bilingual:
        obj = super().__new__(cls, zh)
        obj.en = en
        return obj


def in_language(value: object, lang: str) -> object:
    """``value`` as a page in ``lang`` shows it: a :class:`Bilingual` becomes its English for
    English readers; anything else is returned as is."""
    if isinstance(value, Bilingual) and lang == "en" and value.en:
        return value.en
    return value
