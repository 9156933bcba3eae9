"""Identity numbers never reach a log line: redaction of every log record as it is created.

Installed once per process (:func:`install`) by the app factory and the CLI, it wraps the
logging module's record factory, so it covers every logger and handler: Anju's own, uvicorn's
access log (whose query strings could hold a search) and error log, and exception text
(a traceback can quote a value). A run of 18 characters (17 digits and a digit or X) or of 15
digits not inside a longer number is replaced by :data:`MARK`. See docs/security.md.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

#: What an identity number is replaced with.
MARK = "[id-redacted]"

_ID = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9])")
_installed = False


def redact(text: str) -> str:
    """``text`` with every identity-number-shaped run replaced by :data:`MARK`."""
    return _ID.sub(MARK, text) if text else text


def _redact_arg(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int) and not isinstance(value, bool) and _ID.search(str(value)):
        return MARK
    return value


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Remove identity numbers from a record's message, arguments, exception and stack text."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: logging reports it when the record is emitted
        message = str(record.msg)
    if _ID.search(message):
        if (
            isinstance(record.args, tuple)
            and record.args
            and isinstance(record.msg, str)
            and not _ID.search(record.msg)
        ):
            # Keep the arguments' shape: uvicorn's access formatter unpacks them.
            record.args = tuple(_redact_arg(a) for a in record.args)
            try:
                leaked = bool(_ID.search(record.getMessage()))  # an argument whose str() holds it
            except (TypeError, ValueError):  # "%d" given the mark in place of a number
                leaked = True
            if leaked:
                record.msg, record.args = redact(message), ()
        else:
            record.msg, record.args = redact(message), ()
    if record.exc_info and record.exc_info[0] is not None:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_text = redact(text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def install() -> None:
    """Make every log record of this process pass through :func:`redact_record` (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed = True
