"""The fused numba kernels: equal to the numpy and scalar evaluators on the example policies and
their hand-checked cases, safe generated code, caching, and the fallbacks."""

from __future__ import annotations

import gc
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from policy_helpers import policy

from anju.core.money import yuan_to_fen
from anju.policy import jit
from anju.policy.bulk import BulkEvaluator, HouseholdTable, evaluate_bulk
from anju.policy.check import load_policy_file
from anju.policy.errors import EvaluationError
from anju.policy.facts import Building, GroupFacts, Household, Member, group_from_dict, household_from_dict
from anju.policy.model import load_yaml
from anju.policy.scalar import evaluate
from anju.policy.whatif import whatif, with_settings

pytestmark = pytest.mark.skipif(not jit.HAVE_NUMBA, reason="numba is not installed")

EXAMPLES = Path(__file__).resolve().parents[3] / "src" / "anju" / "policy" / "examples"


def _cases(name: str) -> tuple[Any, list[Household], list[dict[str, Any]], GroupFacts, date | None]:
    path = EXAMPLES / f"{name}.cases.yaml"
    data, _ = load_yaml(path.read_text(encoding="utf-8"), str(path))
    checked = load_policy_file(EXAMPLES / str(data["policy"]))
    cases = data["cases"]
    hs = [household_from_dict(c["household"]) for c in cases]
    group = group_from_dict(data["group"]) if data.get("group") else GroupFacts.from_households(hs)
    as_of = data.get("as_of")
    as_of = as_of if isinstance(as_of, date) else (date.fromisoformat(str(as_of)) if as_of else None)
    return checked, hs, cases, group, as_of


@pytest.mark.parametrize("name", ["state_land", "homestead", "shantytown"])
def test_kernel_matches_the_hand_checked_cases(name: str) -> None:
    checked, hs, cases, group, as_of = _cases(name)
    unique = list({h.code: h for h in hs}.values())
    index = {h.code: i for i, h in enumerate(unique)}
    table = HouseholdTable.from_households(unique)
    checked_items = 0
    for option in sorted({str(c.get("option", "cash")) for c in cases}):
        prepared = jit.prepare(checked, table, option, as_of, group)
        assert not isinstance(prepared, str), prepared
        kernel = jit.run(prepared, table, option, parallel=False)
        assert kernel is not None
        numpy_result = BulkEvaluator(checked, table, as_of, group).evaluate(option)
        for k in kernel.item_ids:
            assert kernel.fen[k].tolist() == numpy_result.fen[k].tolist(), k
            assert kernel.applies[k].tolist() == numpy_result.applies[k].tolist(), k
        for case, h in zip(cases, hs, strict=True):
            if str(case.get("option", "cash")) != option:
                continue
            row = kernel.row(index[h.code])
            scalar = evaluate(checked, h, option, as_of, group, trace=False)
            assert row == scalar.amounts()
            # subtotals come out of the same pass, beside the items and never in the total
            subs = kernel.subtotal_row(index[h.code])
            assert subs == scalar.subtotal_amounts()
            for item, expected in (case.get("expect") or {}).items():
                want = yuan_to_fen(Decimal(str(expected)))
                have = sum(row.values()) if item == "total" else {**row, **subs}[str(item)]
                assert have == want, (case.get("name"), item)
                checked_items += 1
    assert checked_items > 0


def test_parallel_kernel_through_evaluate_bulk_on_the_state_land_cases() -> None:
    checked, hs, _cases_list, group, as_of = _cases("state_land")
    unique = list({h.code: h for h in hs}.values())
    table = HouseholdTable.from_households(unique)
    prepared = jit.prepare(checked, table, "cash", as_of, group)
    assert not isinstance(prepared, str)
    result = evaluate_bulk(checked, table, "cash", as_of, group, jit=True)
    assert jit.is_compiled(prepared, parallel=True)
    numpy_result = evaluate_bulk(checked, table, "cash", as_of, group, jit=False)
    for k in result.item_ids:
        assert result.fen[k].tolist() == numpy_result.fen[k].tolist(), k
    # A compiled kernel is used automatically, even for a small table.
    res, reason = jit.try_evaluate(checked, table, "cash", as_of, group, auto=True)
    assert reason == "kernel" and res is not None
    # compiled by another process now, or found in the disk cache a previous run left
    assert jit.compile_seconds.get((prepared.source, True), 1.0) > 0


def _tiny() -> list[Household]:
    return [
        Household(
            code="H1",
            block_code="一地块",
            block_chain=("东片区",),
            sign_on=date(2025, 4, 3),
            members=(Member(name="甲", dibao=True),),
            buildings=(
                Building(
                    certificate_no="C1",
                    structure="brick_concrete",
                    use="residential",
                    legal_area=Decimal("80.25"),
                ),
            ),
        ),
        Household(
            code="H2",
            block_code="二地块",
            block_chain=("西片区",),
            members=(Member(name="乙"), Member(name="丙", disability_grade=2)),
            buildings=(
                Building(
                    certificate_no="C2", structure="simple", use="business", legal_area=Decimal("12.50")
                ),
                Building(
                    certificate_no="C3",
                    structure="brick_wood",
                    use="residential",
                    legal_area=Decimal("40.00"),
                ),
            ),
        ),
    ]


def test_generated_source_holds_no_user_text() -> None:
    checked = load_policy_file(EXAMPLES / "state_land.yaml")
    table = HouseholdTable.from_households(_tiny())
    prepared = jit.prepare(checked, table, "cash")
    assert not isinstance(prepared, str)
    src = prepared.source
    assert src.isascii()
    for word in (
        "house_rate",
        "zone",
        "relocation_rate",
        "sign_reward",
        "signing_start",
        "片区",
        "砖混",
        "住宅",
    ):
        assert word not in src
    jit.validate(src, prepared.names)  # what compile_kernel checks before compiling


@pytest.mark.parametrize(
    "bad",
    [
        "def kernel(n):\n    for i in prange(n):\n        x = n.__class__\n",  # attribute access
        "def kernel(n):\n    for i in prange(n):\n        x = 'text'\n",  # a string constant
        "def kernel(n):\n    for i in prange(n):\n        x = open(n)\n",  # a call to something else
        "def kernel(n):\n    for i in prange(n):\n        x = secret\n",  # a name the generator did not create
        "import os\n",
    ],
)
def test_validate_rejects_anything_the_generator_would_not_write(bad: str) -> None:
    with pytest.raises(AssertionError):
        jit.validate(bad, {"x"})


def test_changed_values_reuse_the_kernel() -> None:
    checked = load_policy_file(EXAMPLES / "state_land.yaml")
    table = HouseholdTable.from_households(_tiny())
    base = jit.prepare(checked, table, "cash")
    changed = with_settings(
        checked, ["relocation_rate=16", "house_rate[砖混,A]=12500", "sign_reward_rate[1]=320"]
    )
    new = jit.prepare(changed, table, "cash")
    assert not isinstance(base, str) and not isinstance(new, str)
    assert new.source == base.source  # values are arguments: no new compilation
    assert [a.tolist() for a in new.args] != [a.tolist() for a in base.args]
    group = GroupFacts.from_households(_tiny())
    w_jit = whatif(
        checked, table, ["relocation_rate=16", "house_rate[砖混,A]=12500"], "cash", None, group, jit=True
    )
    w_np = whatif(
        checked, table, ["relocation_rate=16", "house_rate[砖混,A]=12500"], "cash", None, group, jit=False
    )
    assert w_jit.by_item == w_np.by_item and w_jit.by_block == w_np.by_block
    assert w_jit.delta.tolist() == w_np.delta.tolist()


def test_overflow_risk_falls_back_to_exact_numpy() -> None:
    c = policy("""
parameters:
  rate: {unit: 元/㎡, value: "123456789012345.6789"}
items:
  - id: big
    per: certificate
    formula: building.legal_area * rate * rate / 1000000000000000000元/㎡
""")
    hs = [
        Household(
            code="H1",
            block_code="B",
            block_chain=("P",),
            buildings=(
                Building(
                    certificate_no="C1", structure="simple", use="residential", legal_area=Decimal("99999.99")
                ),
            ),
        )
    ]
    table = HouseholdTable.from_households(hs)
    reason = jit.prepare(c, table, "cash")
    assert isinstance(reason, str) and reason.startswith("int64 overflow risk")
    result = evaluate_bulk(c, table, "cash", jit=True)
    assert result.row(0) == evaluate(c, hs[0], "cash").amounts()


def test_disabled_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    checked = load_policy_file(EXAMPLES / "state_land.yaml")
    table = HouseholdTable.from_households(_tiny())
    monkeypatch.setenv("ANJU_POLICY_JIT", "0")
    assert not jit.enabled()
    res, reason = jit.try_evaluate(checked, table, "cash")
    assert res is None and reason == "disabled"
    out = evaluate_bulk(checked, table, "cash", jit=True)
    assert (
        out.row(1)
        == evaluate(checked, _tiny()[1], "cash", group=GroupFacts.from_households(_tiny())).amounts()
    )


def test_automatic_choice_never_compiles_for_a_small_table() -> None:
    c = policy("""
parameters:
  per_person: {unit: 元/人, value: "1234.56"}
items:
  - id: persons
    formula: count(members, where=member.dibao) * per_person + 0.01元
""")
    table = HouseholdTable.from_households(_tiny())
    res, reason = jit.try_evaluate(c, table, "cash", auto=True)
    assert res is None and reason == "small table, kernel not compiled"
    assert evaluate_bulk(c, table, "cash").row(0) == {"persons": 123457}


def test_unknown_option_is_reported_by_the_numpy_evaluator() -> None:
    checked = policy("items:\n  - {id: a, formula: 1元}\n")
    with pytest.raises(EvaluationError):
        evaluate_bulk(checked, HouseholdTable.from_households(_tiny()), "nope", jit=True)


def test_output_pool_hands_a_buffer_out_again_only_after_its_arrays_are_gone() -> None:
    pool = jit.OutputPool()
    shape = (1 << 15, 8)  # 2 MB of int64: large enough to be pooled
    first = pool.take(shape, np.int64)
    first[:] = 7
    column = first[:, 3]  # a view keeps the buffer leased after the array itself is dropped
    address = first.ctypes.data
    del first
    gc.collect()
    second = pool.take(shape, np.int64)
    assert second.ctypes.data != address  # still leased through ``column``
    second[:] = 0
    assert (column == 7).all()  # a result that is still held never changes
    del column
    gc.collect()
    third = pool.take(shape, np.int64)
    assert third.ctypes.data == address  # released, so recycled


def test_small_outputs_are_not_pooled() -> None:
    pool = jit.OutputPool()
    a = pool.take((10, 3), np.int64)
    assert a.base is None  # a plain array, not a lease


_MODES = {
    "_dr_half_up": "ROUND_HALF_UP",
    "_dr_half_down": "ROUND_HALF_DOWN",
    "_dr_half_even": "ROUND_HALF_EVEN",
    "_dr_down": "ROUND_DOWN",
    "_dr_up": "ROUND_UP",
}


@pytest.mark.parametrize("helper", sorted(_MODES))
def test_rounding_helpers_agree_with_decimal_in_the_compiled_kernel(helper: str) -> None:
    import decimal
    import random

    numba = pytest.importorskip("numba")
    from anju.policy.jit import helpers  # the kernels' private integer helpers live in this part

    fn = numba.njit(getattr(helpers, helper))
    rounding = getattr(decimal, _MODES[helper])
    rng = random.Random(helper)
    cases = [(x, d) for d in (1, 2, 3, 10, 100, 10_000) for x in range(-3 * d - 2, 3 * d + 3)]  # every tie
    for _ in range(3000):
        d = rng.choice([7, 100, 1000, 10**6, rng.randint(1, 10**9)])
        cases.append((rng.randint(-(10**15), 10**15), d))
    for x, d in cases:
        expected = int((Decimal(x) / Decimal(d)).quantize(Decimal(1), rounding=rounding))
        assert fn(x, d) == expected, (x, d)


def test_in_range_codes_index_unsigned_and_others_keep_numpy_semantics() -> None:
    checked = load_policy_file(EXAMPLES / "state_land.yaml")
    table = HouseholdTable.from_households(_tiny())
    prepared = jit.prepare(checked, table, "cash")
    assert not isinstance(prepared, str)
    assert "blk = " in prepared.source and "[u(blk)]" in prepared.source
    assert "for j in range(" in prepared.source and "[u(j)]" in prepared.source
    # A structure code outside the vocabulary: its lookup is no longer read unsigned.
    structure = table.buildings.cols["structure"].copy()
    structure[0] = -1
    odd = _with_building_cols(table, structure=structure)
    odd_prepared = jit.prepare(checked, odd, "cash")
    assert not isinstance(odd_prepared, str)
    assert odd_prepared.source != prepared.source


def test_element_offsets_outside_the_columns_fall_back_to_numpy() -> None:
    checked = load_policy_file(EXAMPLES / "state_land.yaml")
    table = HouseholdTable.from_households(_tiny())
    b = table.buildings
    start = b.start.copy()
    start[1] = b.size  # household 2's certificates would be read past the end
    bad = HouseholdTable(
        **{
            **{f: getattr(table, f) for f in table.__dataclass_fields__},
            "buildings": type(b)(b.hh, start, b.count, b.cols, b.bounds),
        }
    )
    reason = jit.prepare(checked, bad, "cash")
    assert reason == "unsupported: element offsets out of range"


def _with_building_cols(table: HouseholdTable, **cols: Any) -> HouseholdTable:
    b = table.buildings
    fields = {f: getattr(table, f) for f in table.__dataclass_fields__}
    fields["buildings"] = type(b)(b.hh, b.start, b.count, {**b.cols, **cols}, b.bounds)
    return HouseholdTable(**fields)


def test_background_compilation_runs_in_another_process_and_is_loaded_when_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request that needs a kernel is answered by numpy; another process compiles the kernel
    into the disk cache and a daemon thread loads it when that process is done."""
    import time

    from anju.policy.jit import diskcache

    monkeypatch.setattr(diskcache, "_DIR", tmp_path)
    c = policy("""
parameters:
  per_person: {unit: 元/人, value: "777.77"}
items:
  - id: persons
    formula: count(members) * per_person + 0.03元
""")
    table = HouseholdTable.from_households(_tiny())
    prepared = jit.prepare(c, table, "cash")
    assert not isinstance(prepared, str)
    jit.compile_in_background(prepared, table.n, parallel=False)
    assert not jit.is_compiled(prepared, parallel=False)
    deadline = time.monotonic() + 120
    while not jit.is_compiled(prepared, parallel=False) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert jit.is_compiled(prepared, parallel=False)
    assert jit.run(prepared, table, "cash", parallel=False).row(1) == {"persons": 155557}  # type: ignore[union-attr]
    files = sorted(p.suffix for p in tmp_path.iterdir() if p.is_file())
    assert files == [".log", ".ok", ".py", ".sig"]  # the lock is gone, the signature is marked stored
    assert any((tmp_path / "__pycache__").glob("*.nbc"))  # numba's machine code, for every worker
