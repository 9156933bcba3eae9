"""The selection order's rules: the lottery formula (reproducible, recomputable by hand with
hashlib, changed by one more household, bound to its committed seed), sign order, the check
that names the first difference, and the state tables of flats, events and order entries."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anju.errors import Conflict, ValidationFailed
from anju.housing import rules

SEED = "2026-12-20 福彩3D 第2026345期 开奖号 5 8 1"
CODES = [f"H{i:04d}" for i in range(1, 41)]


def test_the_lottery_order_is_the_published_formula_computed_by_hand() -> None:
    order = rules.lottery_order(SEED, CODES)
    # the formula as a third party would write it, with nothing but hashlib
    by_hand = sorted(CODES, key=lambda c: (hashlib.sha256(f"{SEED}|{c}".encode()).hexdigest(), c))
    assert [p.code for p in order] == by_hand
    assert [p.position for p in order] == list(range(1, 41))
    first = order[0]
    assert first.draw_key == hashlib.sha256(f"{SEED}|{first.code}".encode()).hexdigest()
    assert len(first.draw_key) == 64 and first.draw_key == first.draw_key.lower()
    assert [p.draw_key for p in order] == sorted(p.draw_key for p in order)


def test_the_lottery_order_is_reproducible_and_independent_of_the_list_order() -> None:
    once = rules.lottery_order(SEED, CODES)
    assert rules.lottery_order(SEED, CODES) == once
    assert rules.lottery_order(SEED, list(reversed(CODES))) == once
    assert rules.lottery_order(SEED + " ", CODES) != once  # the seed is used exactly as given
    assert rules.lottery_order("another seed", CODES) != once


def test_adding_one_household_changes_the_order() -> None:
    before = rules.lottery_order(SEED, CODES)
    after = rules.lottery_order(SEED, [*CODES, "H0041"])
    assert len(after) == 41 and "H0041" in [p.code for p in after]
    assert [p.code for p in after] != [p.code for p in before]
    # the newcomer takes one place: everyone behind it moves down by one
    newcomer = next(p.position for p in after if p.code == "H0041")
    assert [p.code for p in after if p.code != "H0041"] == [p.code for p in before]
    assert all(
        p.position == q.position + (p.position > newcomer)
        for p, q in zip([p for p in after if p.code != "H0041"], before, strict=True)
    )
    # and the first difference is named
    assert rules.first_difference(after, before) is not None


@given(
    st.text(min_size=1, max_size=40),
    st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=30, unique=True),
)
def test_any_seed_and_roster_give_a_permutation_sorted_by_key(seed: str, codes: list[str]) -> None:
    order = rules.lottery_order(seed, codes)
    assert sorted(p.code for p in order) == sorted(codes)
    keys = [(p.draw_key, p.code) for p in order]
    assert keys == sorted(keys)
    assert rules.first_difference(order, rules.lottery_order(seed, list(reversed(codes)))) is None


def test_duplicate_or_empty_codes_are_refused() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        rules.lottery_order(SEED, ["H0001", "H0002", "H0001"])
    with pytest.raises(ValueError, match="empty"):
        rules.lottery_order(SEED, ["H0001", ""])
    with pytest.raises(ValueError, match="listed twice"):
        rules.sign_order([("H0001", 1), ("H0001", 2)])


def test_the_seed_must_match_its_commitment() -> None:
    commitment = rules.seed_commitment(SEED)
    assert commitment == hashlib.sha256(SEED.encode("utf-8")).hexdigest()
    rules.check_seed(SEED, commitment)  # matches: no error
    rules.check_seed("anything", None)  # nothing committed (a public future value): no hash to match
    with pytest.raises(Conflict) as exc:
        rules.check_seed(SEED + "1", commitment)
    assert exc.value.code == "seed_mismatch"
    assert f"公布的承诺值为 {commitment}" in exc.value.message_zh
    assert rules.seed_commitment(SEED + "1") in exc.value.message_zh


def test_seed_and_commitment_are_cleaned_or_refused() -> None:
    assert rules.clean_seed("  581  ") == "581"
    for bad in ("", "   ", "a\x00b", "x" * 501):
        with pytest.raises(ValidationFailed) as exc:
            rules.clean_seed(bad)
        assert exc.value.details[0]["field"] == "seed"
    upper = rules.seed_commitment(SEED).upper()
    assert rules.clean_commitment(f" {upper} ") == rules.seed_commitment(SEED)
    for bad in ("", "abc", "g" * 64, rules.seed_commitment(SEED) + "0"):
        with pytest.raises(ValidationFailed) as exc:
            rules.clean_commitment(bad)
        assert exc.value.details[0]["field"] == "seed_hash"


def test_the_roster_hash_ignores_the_list_order_but_not_its_content() -> None:
    h = rules.roster_hash(CODES)
    assert h == hashlib.sha256("\n".join(sorted(CODES)).encode()).hexdigest()
    assert rules.roster_hash(reversed(CODES)) == h
    assert rules.roster_hash([*CODES, "H0041"]) != h
    assert rules.roster_hash(CODES[1:]) != h


def test_sign_order_sorts_by_sign_number() -> None:
    order = rules.sign_order([("H0003", 7), ("H0001", 2), ("H0002", 5)])
    assert [(p.position, p.code, p.sign_no, p.draw_key) for p in order] == [
        (1, "H0001", 2, ""),
        (2, "H0002", 5, ""),
        (3, "H0003", 7, ""),
    ]


def test_first_difference_names_the_first_position_that_differs() -> None:
    expected = rules.lottery_order(SEED, CODES[:5])
    assert rules.first_difference(expected, list(expected)) is None
    swapped = list(expected)
    swapped[1], swapped[2] = (
        rules.Placed(2, expected[2].code, expected[2].draw_key),
        rules.Placed(3, expected[1].code, expected[1].draw_key),
    )
    assert rules.first_difference(expected, swapped) == (
        f"第 2 位应为 {expected[1].code}，记录为 {expected[2].code}（第 2 位）"
    )
    wrong_key = [*expected[:4], rules.Placed(5, expected[4].code, "0" * 64)]
    assert rules.first_difference(expected, wrong_key) == (
        f"第 5 位 {expected[4].code} 的摇号值应为 {expected[4].draw_key}，记录为 {'0' * 64}"
    )
    assert rules.first_difference(expected, expected[:4]) == (
        f"第 5 位应为 {expected[4].code}，记录中没有（应有 5 户，记录 4 户）"
    )
    extra = [*expected, rules.Placed(6, "H9999", "f" * 64)]
    assert rules.first_difference(expected, extra) == "记录的第 6 位 H9999 不应出现（应有 5 户，记录 6 户）"


def test_flat_transitions_by_hand_and_by_the_services() -> None:
    manual = {(a, b) for a in rules.FLAT_STATUSES for b in rules.FLAT_STATUSES if _allowed(a, b, manual=True)}
    assert manual == {
        ("available", "frozen"),
        ("frozen", "available"),
        ("available", "reserved"),
        ("reserved", "available"),
    }
    by_service = {
        (a, b) for a in rules.FLAT_STATUSES for b in rules.FLAT_STATUSES if _allowed(a, b, manual=False)
    }
    assert by_service == manual | {
        ("available", "selected"),
        ("selected", "available"),
        ("selected", "delivered"),
    }
    with pytest.raises(Conflict) as exc:
        rules.check_flat_transition("selected", "frozen", manual=True)
    assert exc.value.code == "illegal_transition"
    assert exc.value.message_zh == "房源状态为“已选”，不能手动改为“冻结”"


def _allowed(a: str, b: str, *, manual: bool) -> bool:
    try:
        rules.check_flat_transition(a, b, manual=manual)
    except Conflict:
        return False
    return True


def test_event_and_entry_transitions() -> None:
    rules.check_event_transition("planned", "open")
    rules.check_event_transition("open", "closed")
    for a, b in (("planned", "closed"), ("closed", "open"), ("open", "planned")):
        with pytest.raises(Conflict):
            rules.check_event_transition(a, b)
    rules.check_entry_transition("waiting", "current")
    rules.check_entry_transition("current", "skipped")
    rules.check_entry_transition("skipped", "current")
    for a, b in (("done", "current"), ("absent", "waiting"), ("waiting", "done")):
        with pytest.raises(Conflict):
            rules.check_entry_transition(a, b)


def test_codes_are_normalised_so_every_database_compares_them_alike() -> None:
    assert rules.clean_code(" ａ-１ 0１ ") == "A-101"
    assert rules.flat_code("3幢", 1, "502") == "3-1-502"
    assert rules.flat_code("12号楼", 2, "1801") == "12-2-1801"
    assert rules.flat_code("B座", 1, "a01") == "B-1-A01"
    assert rules.flat_code("幢", 1, "101") == "幢-1-101"  # nothing left after the suffix: kept whole
