"""Bulk identity forms of census members are those of the one-member path."""

from __future__ import annotations

from datetime import date

from anju.config import get_settings
from anju.core import secrets
from anju.core.ids import make_id_number
from anju.household import service


def test_member_identities_match_member_identity_column_by_column() -> None:
    numbers = [
        make_id_number("330102", date(1970, 3, 4), 11),
        make_id_number("110105", date(2001, 12, 31), 998),
        "11010519491231002X",
    ]
    bulk = service.member_identities(numbers)
    secret = get_settings().secret_key
    for i, number in enumerate(numbers):
        one = service.member_identity(number)
        for key in ("id_number_digest", "id_number_masked", "birth_on", "gender"):
            assert bulk[key][i] == one[key]
        # a fresh nonce each time: the ciphers differ but both decrypt to the number
        assert secrets.decrypt(secret, bulk["id_number_cipher"][i]) == number
    assert len(set(bulk["id_number_cipher"])) == len(numbers)
