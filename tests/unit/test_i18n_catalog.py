"""Every piece of page text goes through the message catalog, and every message id has English.

Page text is written in Chinese as its own message id (``{{ _("签约日期") }}``); Python code that hands
labels to pages writes them as ``t("...")``, ``_("...")`` or ``N_("...")`` (translated where shown).
Two checks, both reading the source, no server:

* no Chinese character in a page template outside a ``_("...")`` call or a Jinja comment, and none in
  the page-facing Python modules outside such a call (typst templates for the legal PDF documents
  are Chinese documents and exempt);
* every message id found that way has an English translation (``locale/en.json`` or
  ``locale/en/<area>.json``).

Files not converted yet are listed in ``PENDING`` below; the list only shrinks (an entry whose file is
clean fails, so that it is removed), and ends empty.
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import re
from pathlib import Path

import pytest

from anju import i18n
from anju.household import forms as household_forms
from anju.web import templating

SRC = Path(i18n.__file__).parent
TEMPLATES = SRC / "templates"
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)
# _("...") / _('...') in templates; t / _ / N_ in Python (first argument, a plain literal)
TEMPLATE_MSG = re.compile(r"""(?<![\w.])_\(\s*(?:"([^"\\]*)"|'([^'\\]*)')""")
PY_CALLS = ("_", "t", "N_", "msg", "Message")

# Not converted yet: Python modules whose Chinese is not page text yet routed through the catalog.
# Shrinks to empty.
PENDING: set[str] = {
    # the API's validation messages and OpenAPI descriptions (JSON clients; a page shows them only
    # inside a composed 422 message, so the parts need ids with parameters first)
    "web/params.py",
}
# Scripts under static/app not converted yet (their Chinese is page text written by the script).
PENDING_SCRIPTS: set[str] = {
    "visits-sw.js",  # the offline visit queue's service worker: no page of its own
}
# Not page text at all: modules under web/ that write the Chinese reference documents in docs/.
DOCUMENTS: dict[str, str] = {
    "web/docs_cli.py": "the CLI reference written to docs/",
    "web/permission_matrix.py": "the permission table written to docs/",
}


def _pending(rel: str) -> bool:
    return rel in DOCUMENTS or any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in PENDING)


def _templates() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


def _page_modules() -> list[Path]:
    """Python modules that produce page text: the page routers, forms and the web helpers."""
    mods = [
        *SRC.glob("*/pages.py"),
        *SRC.glob("*/pages/*.py"),
        *SRC.glob("*/forms.py"),
        *SRC.glob("web/*.py"),
    ]
    return sorted(set(mods))


def _rel(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def template_strays(text: str) -> list[tuple[int, str]]:
    """Lines of a template holding a Chinese character outside ``_("...")`` and Jinja comments."""
    # blank out comments and message ids, keeping line numbers
    text = JINJA_COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    text = TEMPLATE_MSG.sub(lambda m: "_(" + " " * (len(m.group(0)) - 2), text)
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if HAN.search(line)]


def template_msgids(text: str) -> set[str]:
    """The message ids a template passes to ``_``."""
    return {a or b for a, b in TEMPLATE_MSG.findall(JINJA_COMMENT.sub("", text))}


def _python_strings(source: str) -> list[tuple[int, str, bool]]:
    """``(line, value, wrapped)`` of every string constant holding Chinese: ``wrapped`` if it is the
    first argument of ``t``/``_``/``N_`` (also ``i18n.t``). Docstrings are not page text."""
    tree = ast.parse(source)
    wrapped: set[int] = set()
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            if name in PY_CALLS:
                wrapped.add(id(node.args[0]))
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skipped.add(id(first.value))
    lines = source.splitlines()
    out: list[tuple[int, str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and HAN.search(node.value):
            # a comment line "# not page text (why)" just above: a file name, a check, the terminal
            marked = node.lineno >= 2 and lines[node.lineno - 2].strip().startswith("# not page text")
            if id(node) not in skipped and not marked:
                out.append((node.lineno, node.value, id(node) in wrapped))
    return sorted(out)


def python_strays(source: str) -> list[tuple[int, str]]:
    """Chinese string literals of a module that are not message ids."""
    return [(n, v) for n, v, wrapped in _python_strings(source) if not wrapped]


def python_msgids(source: str) -> set[str]:
    """The message ids a module passes to ``t``/``_``/``N_``."""
    return {v for _n, v, wrapped in _python_strings(source) if wrapped}


# --- the checks' own behaviour ------------------------------------------------------------------


def test_template_scan_finds_chinese_outside_calls_and_ignores_comments_and_ids() -> None:
    text = '{# 注释 #}\n<h1>{{ _("一户一档") }}</h1>\n<p title="提示">ok</p>\n{{ x or "无" }}\n'
    assert template_strays(text) == [(3, '<p title="提示">ok</p>'), (4, '{{ x or "无" }}')]
    assert template_msgids(text + "{{ _('共 {n} 户', n=3) }}") == {"一户一档", "共 {n} 户"}


def test_python_scan_tells_message_ids_from_plain_chinese() -> None:
    source = (
        'def f():\n    """文档。"""\n    a = t("签约", lang)\n    b = N_("腾空")\n    return "拆除"\n'
        '    # not page text (a file name)\n    c = f"台账{a}.xlsx"\n'
    )
    assert python_strays(source) == [(5, "拆除")]
    assert python_msgids(source) == {"签约", "腾空"}


# --- the checks ------------------------------------------------------------------------------


def test_no_chinese_outside_the_catalog_in_page_templates() -> None:
    strays = {
        _rel(p): template_strays(p.read_text(encoding="utf-8")) for p in _templates() if not _pending(_rel(p))
    }
    report = [f"{f}:{n}: {line}" for f, lines in strays.items() for n, line in lines]
    assert not report, 'Chinese outside _("..."):\n' + "\n".join(report[:80])


def test_no_chinese_outside_the_catalog_in_page_code() -> None:
    report = [
        f"{_rel(p)}:{n}: {v!r}"
        for p in _page_modules()
        if not _pending(_rel(p))
        for n, v in python_strays(p.read_text(encoding="utf-8"))
    ]
    assert not report, "Chinese outside t/_/N_:\n" + "\n".join(report[:80])


def script_strays(text: str) -> list[tuple[int, str]]:
    """Lines of a script holding Chinese outside ``//`` comments and ``T("...")`` ids."""
    text = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)
    text = templating.SCRIPT_MESSAGE.sub("T(", text)
    lines = [re.sub(r"(^|\s)//.*$", "", line) for line in text.splitlines()]
    return [(n, line.strip()) for n, line in enumerate(lines, 1) if HAN.search(line)]


def test_script_scan_finds_chinese_outside_ids() -> None:
    text = '// 注释\nconst a = T("签约率");\nconst b = "户"; // 户数\n'
    assert script_strays(text) == [(3, 'const b = "户";')]


def test_no_chinese_outside_the_catalog_in_page_scripts() -> None:
    report = [
        f"static/app/{p.name}:{n}: {line}"
        for p in sorted(templating.SCRIPT_DIR.glob("*.js"))
        if p.name not in PENDING_SCRIPTS
        for n, line in script_strays(p.read_text(encoding="utf-8"))
    ]
    assert not report, 'Chinese outside T("..."):\n' + "\n".join(report[:80])
    still = [
        n
        for n in PENDING_SCRIPTS
        if not script_strays((templating.SCRIPT_DIR / n).read_text(encoding="utf-8"))
    ]
    assert not still, f"converted, remove from PENDING_SCRIPTS: {still}"


def test_the_pending_list_only_shrinks() -> None:
    """An entry whose files hold no Chinese outside the catalog any more must leave the list."""
    clean: list[str] = []
    for entry in PENDING:
        if entry.startswith("templates/"):
            files = [p for p in _templates() if _rel(p).startswith(entry)]
            dirty = any(template_strays(p.read_text(encoding="utf-8")) for p in files)
        elif entry.endswith("/"):  # a domain: its label tables and page modules
            english = i18n.catalog("en")
            dirty = any(
                rel.startswith(entry) and not (label in english and _is_english(english[label]))
                for rel, label in label_tables()
            ) or any(
                python_strays(p.read_text(encoding="utf-8"))
                for p in _page_modules()
                if _rel(p).startswith(entry)
            )
        else:
            path = SRC / entry
            dirty = path.exists() and bool(python_strays(path.read_text(encoding="utf-8")))
        if not dirty:
            clean.append(entry)
    assert not clean, f"converted, remove from PENDING: {sorted(clean)}"


def _all_msgids() -> dict[str, set[str]]:
    """``message id -> files using it``, over templates, Python modules and the label tables."""
    found: dict[str, set[str]] = {}
    for p in _templates():
        for m in template_msgids(p.read_text(encoding="utf-8")):
            found.setdefault(m, set()).add(_rel(p))
    for p in sorted(SRC.rglob("*.py")):
        source = p.read_text(encoding="utf-8")
        if not re.search(r"\b(?:t|_|N_)\(", source):
            continue
        for m in python_msgids(source):
            found.setdefault(m, set()).add(_rel(p))
    # label tables the templates show as {{ _(label) }}
    for name, table in templating.env.globals.items():
        if name.isupper() and isinstance(table, dict):
            for label in table.values():
                if isinstance(label, str):
                    found.setdefault(label, set()).add(f"templating:{name}")
    for where, label in label_tables():
        found.setdefault(label, set()).add(where)
    for msgid in templating.script_message_ids():
        found.setdefault(msgid, set()).add("static/app")
    # the household forms' labels and choices
    for fields in household_forms.FORMS.values():
        for f in fields:
            found.setdefault(f.label, set()).add("household/forms.py")
    for _kind, options in household_forms._SPECIAL.values():
        for _code, label in options:
            found.setdefault(label, set()).add("household/forms.py")
    return found


def label_tables() -> list[tuple[str, str]]:
    """``(module path, label)`` of the label tables of the domains' rules and services: module
    constants mapping codes to Chinese words (``STATUSES = {"signed": "已签约"}``), which pages show
    through ``{{ _(label) }}``."""
    out: list[tuple[str, str]] = []
    for info in pkgutil.walk_packages([str(SRC)], "anju."):
        if not re.search(r"\.(rules|labels)$|\.service\b", info.name):
            continue
        module = importlib.import_module(info.name)
        rel = info.name.removeprefix("anju.").replace(".", "/") + ".py"
        for name, table in vars(module).items():
            if not (name.isupper() and isinstance(table, dict) and table):
                continue
            if all(isinstance(k, str) and re.fullmatch(r"[a-z0-9_]+", k) for k in table) and all(
                isinstance(v, str) and HAN.search(v) for v in table.values()
            ):
                out += [(rel, v) for v in table.values()]
    return out


def _is_english(text: str) -> bool:
    """English text: no Chinese, or English words around Chinese the user must type (column names)."""
    return not HAN.search(text) or bool(re.search(r"[A-Za-z]{3}", re.sub(r"\{\w*\}", "", text)))


def test_every_message_id_has_an_english_translation() -> None:
    english = i18n.catalog("en")
    chinese = i18n.catalog("zh")
    missing: dict[str, list[str]] = {}
    for msgid, files in _all_msgids().items():
        if not HAN.search(msgid) and msgid in chinese:
            continue  # a dotted key: checked below
        if not HAN.search(msgid):
            continue  # a dynamic key such as 'role.' ~ r, or plain ASCII
        if msgid not in english or not _is_english(english[msgid]):
            for f in files:
                if not _pending(f if not f.startswith("templating:") else ""):
                    missing.setdefault(f, []).append(msgid)
    report = [f"{f}: {sorted(ids)}" for f, ids in sorted(missing.items())]
    assert not report, "message ids without English:\n" + "\n".join(report)


def test_dotted_keys_have_english_and_chinese() -> None:
    english, chinese = i18n.catalog("en"), i18n.catalog("zh")
    dotted_en = {k for k in english if not HAN.search(k)}
    dotted_zh = {k for k in chinese if not HAN.search(k)}
    assert dotted_zh <= dotted_en, sorted(dotted_zh - dotted_en)
    # the language switch names the other language in its own words
    untranslated = sorted(k for k in dotted_en if HAN.search(english[k]) and k != "lang.other")
    assert not untranslated, untranslated


def test_english_area_files_do_not_redefine_each_others_ids() -> None:
    """One file per area: an id translated in two files would depend on the files' order."""
    seen: dict[str, str] = {}
    clashes: list[str] = []
    for area in sorted((i18n.LOCALE_DIR / "en").glob("*.json")):
        for msgid, text in json.loads(area.read_text(encoding="utf-8")).items():
            if msgid in seen and seen[msgid] != text:
                clashes.append(f"{msgid}: {seen[msgid]!r} vs {text!r} ({area.name})")
            seen.setdefault(msgid, text)
    assert not clashes, clashes


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_message_parameters_are_filled(lang: str) -> None:
    assert i18n.t("共 {n} 户", lang, n=3) in ("共 3 户", "3 households")


def test_translations_use_only_the_parameters_of_their_message_id() -> None:
    """A translation naming a parameter its id lacks would fail when the page is shown."""
    fields = re.compile(r"\{(\w*)(?:[:!][^}]*)?\}")
    wrong = [
        f"{msgid!r}: {text!r}"
        for msgid, text in i18n.catalog("en").items()
        if set(fields.findall(text)) - set(fields.findall(msgid)) and HAN.search(msgid)
    ]
    assert not wrong, wrong


def test_a_refusal_is_shown_in_the_readers_language() -> None:
    from anju import i18n
    from anju.errors import ValidationFailed

    exc = ValidationFailed("请描述诉求内容", "describe the request")
    assert exc.message_zh == "请描述诉求内容" and exc.to_dict()["message"] == "请描述诉求内容"
    assert i18n.in_language(exc.message_zh, "en") == "describe the request"
    assert i18n.in_language(exc.message_zh, "zh") == "请描述诉求内容"
    assert i18n.t(exc.message_zh, "en") == "describe the request"
    assert i18n.in_language("plain", "en") == "plain"
    # without an English twin the Chinese stays
    assert i18n.in_language(ValidationFailed("只有中文").message_zh, "en") == "只有中文"
