"""Log redaction: identity numbers never reach a log line, whatever logs them and however."""

from __future__ import annotations

import logging

import pytest

from anju.core import redaction
from anju.core.redaction import MARK
from tests.factories import id_number

NUMBER = id_number(7)  # a valid 18-character number


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    redaction.install()
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"q={NUMBER}&page=2", f"q={MARK}&page=2"),
        ("11010519491231002X and 11010519491231002x", f"{MARK} and {MARK}"),
        ("old 110105491231002 number", f"old {MARK} number"),  # 15 digits
        ("1234567890123456789", "1234567890123456789"),  # 19 digits: not an identity number
        ("12345678901234", "12345678901234"),  # 14 digits
        ("phone 13800000000", "phone 13800000000"),
        ("", ""),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redaction.redact(text) == expected


def test_messages_arguments_and_exceptions_are_redacted(records: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("anju.test")
    log.warning("searched %s", NUMBER)
    log.warning(f"inline {NUMBER}")
    log.warning("as int %d", int(NUMBER[:17] + "1"))
    try:
        raise ValueError(f"bad value {NUMBER}")
    except ValueError:
        log.exception("failed for %s", NUMBER)
    text = records.text
    assert NUMBER not in text and NUMBER[:17] not in text
    assert [r.getMessage() for r in records.records] == [
        f"searched {MARK}",
        f"inline {MARK}",
        f"as int {MARK}",
        f"failed for {MARK}",
    ]
    assert (
        records.records[-1].exc_text is not None
        and f"ValueError: bad value {MARK}" in records.records[-1].exc_text
    )


def test_uvicorns_access_log_keeps_its_arguments_and_loses_the_number(
    records: pytest.LogCaptureFixture,
) -> None:
    from uvicorn.logging import AccessFormatter

    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/projects/1/households?q={NUMBER}", "1.1", 200
    )
    record = records.records[-1]
    assert isinstance(record.args, tuple) and len(record.args) == 5
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False).format(
        record
    )
    assert line == f'127.0.0.1:5000 - "GET /projects/1/households?q={MARK} HTTP/1.1" 200 OK'


def test_install_is_idempotent() -> None:
    redaction.install()
    factory = logging.getLogRecordFactory()
    redaction.install()
    assert logging.getLogRecordFactory() is factory
