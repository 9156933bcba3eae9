"""The kernels in a real server: totals and named sums in the items' pass, the adaptive thread
count, and compiled kernels kept on disk, compiled by another process and loaded by a new one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from policy_helpers import policy

from anju.policy import jit
from anju.policy.bulk import BulkEvaluator, HouseholdTable, evaluate_bulk
from anju.policy.check import load_policy_file
from anju.policy.facts import Building, GroupFacts, Household, Member
from anju.policy.jit import diskcache, threads

pytestmark = pytest.mark.skipif(not jit.HAVE_NUMBA, reason="numba is not installed")

EXAMPLES = Path(__file__).resolve().parents[3] / "src" / "anju" / "policy" / "examples"


def _households() -> list[Household]:
    from datetime import date
    from decimal import Decimal

    out = []
    for k in range(12):
        out.append(
            Household(
                code=f"H{k}",
                block_code=("一地块", "二地块", "三地块", "四地块")[k % 4],
                block_chain=(("东片区", "西片区")[k % 4 // 2],),
                sign_on=date(2025, 4, 1 + k) if k % 4 else None,
                members=tuple(Member(name=f"m{k}{j}", dibao=(k + j) % 5 == 0) for j in range(1 + k % 3)),
                buildings=tuple(
                    Building(
                        certificate_no=f"C{k}-{j}",
                        structure=("brick_concrete", "simple", "brick_wood")[(k + j) % 3],
                        use=("residential", "business")[(k * j) % 2],
                        legal_area=Decimal(40 + 7 * k + j) + Decimal("0.37"),
                    )
                    for j in range(1 + k % 2)
                ),
            )
        )
    return out


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty kernel cache directory for this test."""
    monkeypatch.setattr(diskcache, "_DIR", tmp_path)
    return tmp_path


def _fresh_policy(tag: str) -> Any:
    """A policy whose kernel nobody has compiled before (its source carries ``tag``)."""
    n = sum(map(ord, tag)) + int(time.time() * 1000) % 100000
    return policy(f"""
parameters:
  per_person: {{unit: 元/人, value: "777.77"}}
items:
  - id: persons
    formula: count(members) * per_person + {n}元
""")


# ----------------------------------------------------------------------------- totals and sums


def test_kernel_writes_totals_and_named_sums_in_the_items_pass() -> None:
    checked = load_policy_file(EXAMPLES / "state_land.yaml")
    hs = _households()
    table = HouseholdTable.from_households(hs)
    group = GroupFacts.from_households(hs)
    sums = {
        "house": ["house_value", "relocation_cash", "transition_cash"],
        "rewards": ["cash_bonus", "sign_reward", "vacate_reward", "collective_sign"],
        "other_option": ["relocation_swap", "transition_swap"],  # not offered under cash: 0
    }
    res, reason = jit.try_evaluate(checked, table, "cash", None, group, parallel=False, sums=sums)
    assert reason == "kernel" and res is not None
    numpy_result = BulkEvaluator(checked, table, None, group).evaluate("cash")
    assert res.total_fen is not None  # produced by the kernel, not summed afterwards
    assert res.total.tolist() == numpy_result.total.tolist()
    assert res.total.tolist() == [sum(res.row(i).values()) for i in range(len(hs))]
    for name, ids in sums.items():
        assert res.sums[name].tolist() == numpy_result.sum_of(ids).tolist(), name
    assert not res.sums["other_option"].any()
    assert res.sums["house"].sum() > 0 and res.sums["rewards"].sum() > 0
    # the numpy evaluator gives the same sums through evaluate_bulk
    via_numpy = evaluate_bulk(checked, table, "cash", None, group, jit=False, sums=sums)
    assert {k: v.tolist() for k, v in via_numpy.sums.items()} == {k: v.tolist() for k, v in res.sums.items()}


def test_the_total_of_sums_whose_bounds_could_leave_int64_falls_back_to_numpy() -> None:
    c = policy("""
parameters:
  rate: {unit: 元/㎡, value: "130000000000"}
items:
  - {id: a, per: certificate, formula: building.legal_area * rate}
  - {id: b, per: certificate, formula: building.legal_area * rate}
  - {id: c, per: certificate, formula: building.legal_area * rate}
""")
    hs = [
        Household(
            code="H1",
            block_code="B",
            block_chain=("P",),
            buildings=tuple(
                Building(certificate_no=f"C{j}", structure="simple", use="residential", legal_area=99999)
                for j in range(3)
            ),
        )
    ]
    table = HouseholdTable.from_households(hs)
    reason = jit.prepare(c, table, "cash")
    assert isinstance(reason, str) and reason.startswith("int64 overflow risk")


# ----------------------------------------------------------------------------- threads


def test_small_tables_run_on_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: 0.0)
    assert threads.choose(threads.PARALLEL_MIN_HOUSEHOLDS - 1, 2, cores=2) == 1
    assert threads.choose(threads.PARALLEL_MIN_HOUSEHOLDS, 2, cores=2) == 2
    assert threads.choose(10**6, 1, cores=2) == 1  # capped


@pytest.mark.parametrize(("busy", "expected"), [(0.0, 2), (0.3, 2), (0.7, 1), (1.0, 1), (3.5, 1)])
def test_large_tables_use_only_the_cores_other_work_leaves_free(
    monkeypatch: pytest.MonkeyPatch, busy: float, expected: int
) -> None:
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: busy)
    assert threads.choose(10**6, 2, cores=2) == expected


def test_the_probe_reads_the_machine() -> None:
    if not Path("/proc/stat").exists():
        pytest.skip("no /proc")
    first = threads.busy_elsewhere()
    time.sleep(threads.PROBE_INTERVAL * 1.5)
    second = threads.busy_elsewhere()
    cores = os.cpu_count() or 1
    assert first >= 0.0 and 0.0 <= second <= cores + 1


def test_the_kernel_runs_with_the_chosen_thread_count(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = jit.numba.set_num_threads

    def record(k: int) -> None:
        seen.append(k)
        real(k)

    monkeypatch.setattr(jit.numba, "set_num_threads", record)
    monkeypatch.setattr(threads, "choose", lambda n, cap, cores=None: 1)
    checked = load_policy_file(EXAMPLES / "state_land.yaml")
    table = HouseholdTable.from_households(_households())
    res = evaluate_bulk(checked, table, "cash", jit=True)
    assert res.total_fen is not None and seen == [1]


# ----------------------------------------------------------------------------- disk cache


def test_sig_spec_rebuilds_numbas_own_types() -> None:
    xs = (
        np.int64(3),
        5,
        np.zeros(3, np.int64),
        np.zeros((2, 3), bool),
        np.zeros(4, np.uint8),
        np.broadcast_to(np.True_, (5,)),
        np.zeros((3, 4))[:, 1],
        np.asfortranarray(np.zeros((3, 4), np.int64)),
    )
    spec = diskcache.sig_spec(xs)
    assert json.loads(json.dumps(spec)) == spec  # plain data
    assert diskcache._sig_types(spec) == tuple(jit.numba.typeof(x) for x in xs)


def test_keys_depend_on_the_source_and_the_variant() -> None:
    a = diskcache.kernel_key("def kernel(n):\n    pass\n", True)
    assert a == diskcache.kernel_key("def kernel(n):\n    pass\n", True)
    assert a != diskcache.kernel_key("def kernel(n):\n    pass\n", False)
    assert a != diskcache.kernel_key("def kernel(n):\n    pass  \n", True)


def test_a_new_process_loads_the_kernel_from_disk_without_compiling(cache: Path) -> None:
    c = _fresh_policy("restart")
    table = HouseholdTable.from_households(_households())
    p = jit.prepare(c, table, "cash")
    assert not isinstance(p, str)
    jit.compile_kernel(p, table.n, parallel=False)  # compiled by another process, into ``cache``
    assert jit.is_compiled(p, parallel=False)
    module = next(cache.glob("_anju_kernel_*.py"))
    stamp = module.stat().st_mtime_ns
    key, spec, _ = jit.kernels._signature(p, False)
    code = f"""
import json, sys
from anju.policy.jit import diskcache, kernels
fn = diskcache.load({key!r}, json.loads(sys.argv[1]), diskcache.Path(sys.argv[2]))
print(json.dumps({{"loaded": fn is not None, "hits": sum(fn.stats.cache_hits.values()),
                  "misses": sum(fn.stats.cache_misses.values())}}))
"""
    r = subprocess.run(
        [sys.executable, "-c", code, json.dumps(spec), str(cache)], capture_output=True, text=True, check=True
    )
    assert json.loads(r.stdout) == {"loaded": True, "hits": 1, "misses": 0}
    assert module.stat().st_mtime_ns == stamp  # never rewritten (numba's index is keyed by it)


def test_the_engine_options_stay_in_the_compiling_process(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anju.policy.jit import compiler

    calls: list[int] = []
    monkeypatch.setattr(compiler, "tune_llvm", lambda: calls.append(1))
    c = _fresh_policy("options")
    table = HouseholdTable.from_households(_households())
    res = evaluate_bulk(c, table, "cash", jit=True)
    assert res.total_fen is not None  # the kernel answered
    assert calls == []  # compiled elsewhere: this process never set an LLVM option
    assert any(cache.glob("*.ok"))


def test_a_request_never_waits_for_a_compilation(cache: Path) -> None:
    c = _fresh_policy("background")
    # 1,200 households: the automatic choice has the kernel compiled (elsewhere)
    table = HouseholdTable.from_households(_renumbered(_households() * 100))
    res, reason = jit.try_evaluate(c, table, "cash", auto=True)
    assert res is None and reason == "kernel compiling in another process"
    assert evaluate_bulk(c, table, "cash").total.sum() > 0  # numpy answers meanwhile
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        res, reason = jit.try_evaluate(c, table, "cash", auto=True)
        if res is not None:
            break
        time.sleep(0.1)
    assert reason == "kernel"


def _renumbered(hs: list[Household]) -> list[Household]:
    import dataclasses

    return [dataclasses.replace(h, code=f"H{i:05d}") for i, h in enumerate(hs)]


def test_a_compile_another_worker_runs_is_not_started_twice(cache: Path) -> None:
    lock = cache / "x.lock"
    assert diskcache._take_lock(lock)
    assert not diskcache._take_lock(lock)  # held by a live compiling process
    old = time.time() - diskcache.LOCK_STALE - 1
    os.utime(lock, (old, old))
    assert diskcache._take_lock(lock)  # left behind by a killed one: taken over


def test_a_failed_compile_is_not_retried_and_numpy_answers(cache: Path) -> None:
    c = _fresh_policy("failed")
    table = HouseholdTable.from_households(_renumbered(_households() * 100))
    p = jit.prepare(c, table, "cash")
    assert not isinstance(p, str)
    key, _, sh = jit.kernels._signature(p, True)
    (cache / f"_anju_kernel_{key}-{sh}.failed").write_text("")
    res, reason = jit.try_evaluate(c, table, "cash", auto=True)
    assert res is None and reason == "kernel compiling in another process"
    assert not list(cache.glob("*.lock")) and not list(cache.glob("*.py"))  # nothing started
    assert evaluate_bulk(c, table, "cash").total.sum() > 0


def test_warm_loads_the_most_recent_kernels(cache: Path) -> None:
    c = _fresh_policy("warm")
    table = HouseholdTable.from_households(_households())
    p = jit.prepare(c, table, "cash")
    assert not isinstance(p, str)
    key, spec, _ = jit.kernels._signature(p, True)
    assert diskcache.compile_now(key, p.source, True, spec)
    assert not jit.is_compiled(p)
    assert diskcache.markers() == [(key, spec)]
    assert jit.warm() == 1
    assert jit.is_compiled(p)


def test_the_app_points_the_kernels_at_its_data_dir_and_warms_them(tmp_path: Path) -> None:
    from anju.main import _warm_policy_kernels

    c = _fresh_policy("app")
    table = HouseholdTable.from_households(_households())
    p = jit.prepare(c, table, "cash")
    assert not isinstance(p, str)
    key, spec, _ = jit.kernels._signature(p, True)
    folder = tmp_path / "kernels"
    assert diskcache.compile_now(key, p.source, True, spec, folder)
    try:
        _warm_policy_kernels(folder)  # what the app's start-up runs in a background thread
        assert diskcache.cache_dir() == folder
        assert jit.is_compiled(p)
    finally:
        diskcache.set_cache_dir(None)
