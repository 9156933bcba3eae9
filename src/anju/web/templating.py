"""Jinja2 environment shared by every page router."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.responses import Response

from anju import i18n
from anju.core.dates import to_shanghai
from anju.core.money import format_yuan, to_chinese_capital
from anju.household import rules as household_rules
from anju.identity.rules import Permission
from anju.project import rules as project_rules
from anju.web import nav

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
SCRIPT_DIR = Path(__file__).resolve().parent.parent / "static" / "app"
# Page text written by our scripts: T("签约率") in static/app/*.js.
SCRIPT_MESSAGE = re.compile(r"""\bT\(\s*"([^"\\]+)"|\bT\(\s*'([^'\\]+)'""")
templates = Jinja2Templates(directory=str(TEMPLATE_DIR))


def _dt(value: datetime | str | None) -> str:
    if isinstance(value, str):  # a signed instant kept as its exact text (audit anchors)
        value = datetime.fromisoformat(value) if value else None
    return to_shanghai(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _d(value: date | None) -> str:
    return value.isoformat() if value else ""


def _area(value: Decimal | None) -> str:
    return f"{value:,.2f}" if value is not None else ""


_ENGLISH_TAIL = re.compile(r"\s+(?:/\s*)?[A-Za-z][A-Za-z ,.:;'()/-]*(?:\s[\d.]+\s*㎡)?$")


def _zh(value: str) -> str:
    """The Chinese part of an engine message written as '中文 English' or '中文 / English'."""
    return _ENGLISH_TAIL.sub("", value).strip()


def _yesno(value: bool | None) -> str:
    """A message id: the page shows it as ``{{ _(value|yesno) }}``."""
    return i18n.N_("待定") if value is None else (i18n.N_("是") if value else i18n.N_("否"))


env = templates.env
# Templates ship with the package like the code; checking their files' mtime on every render
# cost a tenth of a list request.
env.auto_reload = False
env.filters.update(
    zh=_zh, dt=_dt, d=_d, yuan=format_yuan, capital=to_chinese_capital, area=_area, yesno=_yesno
)
env.globals.update(
    P=Permission,
    STRUCTURES=household_rules.STRUCTURES,
    USES=household_rules.USES,
    DETERMINATIONS=household_rules.DETERMINATIONS,
    STATUSES=household_rules.STATUSES,
    RELATIONS=household_rules.RELATIONS,
    TENANT_KINDS=household_rules.TENANT_KINDS,
    PROJECT_KINDS=project_rules.PROJECT_KINDS,
    PROJECT_STATUSES=project_rules.PROJECT_STATUSES,
    BLOCK_LEVELS=project_rules.BLOCK_LEVELS,
    # the values a yes/no form field submits (data, not page text: never translated)
    YES=household_rules.YES,
    NO=household_rules.NO,
)


@lru_cache
def script_message_ids() -> tuple[str, ...]:
    """The message ids the scripts under static/app use (``T("…")``)."""
    ids: set[str] = set()
    for path in sorted(SCRIPT_DIR.glob("*.js")):
        ids.update(a or b for a, b in SCRIPT_MESSAGE.findall(path.read_text(encoding="utf-8")))
    return tuple(sorted(ids))


def script_messages(lang: str) -> dict[str, str]:
    """Translations of the scripts' message ids (none in Chinese: the ids are the Chinese)."""
    if lang == i18n.DEFAULT_LANG:
        return {}
    return {msgid: i18n.t(msgid, lang) for msgid in script_message_ids()}


def lang_of(request: Request) -> str:
    """Language from the ``lang`` cookie; Chinese by default."""
    lang = request.cookies.get("lang", i18n.DEFAULT_LANG)
    return lang if lang in i18n.LANGS else i18n.DEFAULT_LANG


def _context(request: Request, context: dict[str, Any] | None) -> dict[str, Any]:
    lang = lang_of(request)
    user = getattr(request.state, "user", None)
    ctx: dict[str, Any] = {
        "user": user,
        "csrf_token": user.csrf_token if user else "",
        "lang": lang,
        "_": lambda key, **kw: i18n.t(key, lang, **kw),
        "script_messages": script_messages(lang),
        # The side navigation: only the pages this user's role may open.
        "nav_links": lambda project=None: (
            nav.links(request.app, user, project.id if project else None) if user else []
        ),
    }
    # a service's refusal handed to the page (``error``, ``message`` ...) in the reader's language
    ctx.update({k: i18n.in_language(v, lang) for k, v in (context or {}).items()})
    return ctx


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    """Render a page with the user, CSRF token and translator in its context."""
    return templates.TemplateResponse(request, name, _context(request, context), status_code=status_code)


def render_fragment(request: Request, name: str, context: dict[str, Any] | None = None) -> Markup:
    """Render a template to HTML that another page includes (or an htmx swap returns) as is."""
    return Markup(env.get_template(name).render(_context(request, context)))
