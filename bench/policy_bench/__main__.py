"""Run: ``.venv/bin/python -m bench.policy_bench [--households N] [--sample N] [--verify N|all]``.

Measures in one run, on synthetic households and the state-land example policy (12 cash items incl.
date-window tiers, a per-certificate floor and block-level collective rewards):

* numba kernel throughput (households/s) on N households (default 1,000,000), 2 threads, after a
  warm-up call; the kernel's generation + JIT compile time separately;
* numpy bulk throughput; scalar Decimal throughput on a sample; the ratios;
* the number of households whose items differ between kernel, numpy and scalar (must be 0):
  kernel vs numpy on every household, both vs scalar on a random sample (``--verify all``: every one);
* what-if recomputation on a 2,300-household project (median of repeated runs), kernel and numpy.

Results are printed and written to bench/RESULTS.md under "## Policy engine".
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from anju.policy import jit
from anju.policy.bulk import BulkEvaluator, Elements, HouseholdTable, evaluate_bulk
from anju.policy.check import Checked, load_policy_file
from anju.policy.facts import GroupFacts
from anju.policy.resolve import Resolved
from anju.policy.scalar import ScalarEvaluator
from anju.policy.table import _ENUM_WORDS
from anju.policy.whatif import whatif

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "src" / "anju" / "policy" / "examples" / "state_land.yaml"
RESULTS = ROOT / "bench" / "RESULTS.md"
I64 = np.int64


def _elements(counts: Any, cols: dict[str, Any]) -> Elements:
    n = counts.shape[0]
    hh = np.repeat(np.arange(n, dtype=I64), counts)
    start = np.zeros(n, dtype=I64)
    start[1:] = np.cumsum(counts)[:-1]
    bounds = {k: int(np.abs(v).max()) if v.size and v.dtype != bool else 0 for k, v in cols.items()}
    return Elements(hh, start, counts.astype(I64), cols, bounds)


def synthetic(n: int, seed: int = 7) -> HouseholdTable:
    """``n`` synthetic households in 20 片区 × 25 地块, built directly in columnar form."""
    rng = np.random.default_rng(seed)
    words = list(_ENUM_WORDS)
    pian = ["东片区", "西片区"] + [f"片区{i:02d}" for i in range(18)]
    blocks = [f"地块{i:03d}" for i in range(500)]
    paths = [(pian[i // 25], b) for i, b in enumerate(blocks)]
    words += pian + blocks
    vocab = {w: i for i, w in enumerate(words)}
    clock = date(2025, 4, 1).toordinal()
    sign = np.where(rng.random(n) < 0.9, clock + rng.integers(-5, 70, n), 0).astype(I64)
    vac = np.where(
        (sign > 0) & (rng.random(n) < 0.7), date(2025, 5, 20).toordinal() + rng.integers(0, 45, n), 0
    )
    nb = rng.integers(1, 4, n)
    m = int(nb.sum())
    st_codes = np.asarray(
        [vocab[w] for w in ("brick_concrete", "brick_wood", "simple", "steel_concrete")], dtype=I64
    )
    use_codes = np.asarray(
        [vocab[w] for w in ("residential", "residential", "residential", "business")], dtype=I64
    )
    bcols = {
        "legal_area": rng.integers(800, 20000, m).astype(I64),
        "unregistered_area": rng.integers(0, 3000, m).astype(I64),
        "floors": rng.integers(1, 4, m).astype(I64),
        "built_year": rng.integers(1970, 2015, m).astype(I64),
        "structure": st_codes[rng.integers(0, 4, m)],
        "use": use_codes[rng.integers(0, 4, m)],
        "unregistered_determination": np.full(m, vocab["pending"], dtype=I64),
    }
    for k in ("assessed_unit_price", "assessed_value", "decoration", "fixtures"):
        bcols[k] = np.zeros(m, dtype=I64)
        bcols[k + "_known"] = np.zeros(m, dtype=bool)
    nm = rng.integers(1, 6, n)
    k = int(nm.sum())
    grade = rng.integers(1, 5, k)
    disabled = rng.random(k) < 0.05
    mcols = {
        "dibao": rng.random(k) < 0.05,
        "serious_illness": rng.random(k) < 0.03,
        "martyr_family": np.zeros(k, dtype=bool),
        "shidu": rng.random(k) < 0.005,
        "only_child": rng.random(k) < 0.2,
        "youfu": np.zeros(k, dtype=bool),
        "resettlement_counted": np.ones(k, dtype=bool),
        "disabled": disabled,
        "disability_grade": np.where(disabled, grade, 0).astype(I64),
    }
    # the delivery dates of policy_next.yaml, from their own generator (the columns above stay as
    # they were for a given seed): planned across two month-ends, actual before or after it
    erng = np.random.default_rng(seed + 1000)
    planned = date(2026, 11, 20).toordinal() + erng.integers(0, 75, n)
    actual = np.where(erng.random(n) < 0.8, planned + erng.integers(-40, 150, n), 0)
    events = {
        "delivery_planned_on": np.where(vac > 0, planned, 0).astype(I64),
        "delivery_actual_on": np.where(vac > 0, actual, 0).astype(I64),
    }
    # the declared facts of policy_next.yaml (whole numbers, as a census import gives them)
    ac = erng.integers(0, 8, n).tolist()
    agreed = np.where(erng.random(n) < 0.3, erng.integers(1, 37, n), -1).tolist()
    facts_raw: dict[str, list[Any]] = {
        "ac_units": ac,
        "agreed_months": [None if x < 0 else x for x in agreed],
    }
    return HouseholdTable(
        codes=[f"H{i:07d}" for i in range(n)],
        words=words,
        vocab=vocab,
        blocks=blocks,
        block_paths=paths,
        block_idx=rng.integers(0, len(blocks), n).astype(I64),
        kind=np.full(n, vocab["state_land"], dtype=I64),
        sign_on=sign,
        vacate_on=vac.astype(I64),
        flags={},
        has_homestead=np.zeros(n, dtype=bool),
        homestead_area=np.zeros(n, dtype=I64),
        homestead_year=np.zeros(n, dtype=I64),
        buildings=_elements(nb, bcols),
        members=_elements(nm, mcols),
        tenants=_elements(
            np.zeros(n, dtype=I64), {"area": np.zeros(0, dtype=I64), "kind": np.zeros(0, dtype=I64)}
        ),
        events=events,
        facts_raw=facts_raw,
    )


def scalar_run(
    c: Checked, table: HouseholdTable, idx: Any, group: GroupFacts, option: str, resolved: Resolved
) -> tuple[float, list[dict[str, int]]]:
    """Evaluate households ``idx`` one by one; returns seconds spent evaluating and the amounts."""
    hs = [table.household(int(i)) for i in idx]
    as_of = c.policy.meta.effective_on
    t0 = time.perf_counter()
    out = [ScalarEvaluator(c, h, as_of, group, resolved, trace=False).evaluate(option).amounts() for h in hs]
    return time.perf_counter() - t0, out


def machine() -> str:
    """CPU model, cores, Python and numpy versions."""
    model = ""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        m = re.search(r"Model name:\s*(.+)", text)
        model = m.group(1).strip() if m else ""
    except OSError:
        pass
    return (
        f"CPU: {model or platform.processor()} · {os.cpu_count()} cores · Python {platform.python_version()}"
        f" · numpy {np.__version__}"
    )


def best_of(k: int, f: Any) -> tuple[float, float, Any]:
    """Best and median wall time of ``k`` calls of ``f``, and the last result."""
    times = []
    out = None
    for _ in range(k):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), out


def main() -> None:
    """Run the benchmark and write bench/RESULTS.md."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=2_000, help="scalar throughput sample")
    ap.add_argument("--verify", default="50000", help="households cross-checked against scalar, or 'all'")
    ap.add_argument("--option", default="cash")
    ap.add_argument("--threads", type=int, default=2, help="threads of the numba kernel")
    ap.add_argument(
        "--repeat", type=int, default=11, help="timed runs of the kernel (best and median are reported)"
    )
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]

    c = load_policy_file(POLICY)
    print(f"policy: {c.policy.meta.name}, {len(c.items_for(args.option))} items ({args.option})")
    t0 = time.perf_counter()
    table = synthetic(args.households)
    group = table.group_facts()
    print(
        f"synthetic data: {table.n:,} households, {table.buildings.size:,} certificates, "
        f"{table.members.size:,} members ({time.perf_counter() - t0:.1f}s)"
    )

    # numba kernel: generate + compile once (reported separately), warm up, then time the whole
    # evaluate_bulk call (kernel generation, argument arrays, output allocation, kernel, checks).
    if not jit.enabled():
        raise SystemExit("the numba kernel is not available (numba missing or ANJU_POLICY_JIT=0)")
    jit.set_threads(args.threads)
    threads = min(args.threads, jit.numba.config.NUMBA_NUM_THREADS)  # at most; fewer when cores are busy
    t0 = time.perf_counter()
    prepared = jit.prepare(c, table, args.option, None, group)
    if isinstance(prepared, str):
        raise SystemExit(f"kernel not usable: {prepared}")
    jit.compile_kernel(prepared, table.n)
    compile_s = time.perf_counter() - t0
    print(
        f"kernel: generated and JIT-compiled in {compile_s:.1f}s ({len(prepared.source.splitlines())} lines)"
    )
    evaluate_bulk(c, table, args.option, None, group, jit=True)  # warm-up
    kernel_s, kernel_med, kernel = best_of(
        args.repeat, lambda: evaluate_bulk(c, table, args.option, None, group, jit=True)
    )
    kernel_rate = table.n / kernel_s
    print(
        f"numba kernel ({threads} threads): {kernel_s * 1000:.1f} ms (best of {args.repeat}; median "
        f"{kernel_med * 1000:.1f} ms) -> {kernel_rate:,.0f} households/s"
    )
    gen_s, _, _ = best_of(args.repeat, lambda: jit.prepare(c, table, args.option, None, group))
    print(f"of which kernel source and arguments per call: {gen_s * 1000:.1f} ms")

    BulkEvaluator(c, table, None, group).evaluate(args.option)  # warm-up
    bulk_s, _, bulk = best_of(3, lambda: BulkEvaluator(c, table, None, group).evaluate(args.option))
    bulk_rate = table.n / bulk_s
    print(f"numpy bulk (1 thread): {bulk_s * 1000:.0f} ms (best of 3) -> {bulk_rate:,.0f} households/s")

    rng = np.random.default_rng(1)
    resolved = Resolved(c.policy, c.policy.meta.effective_on)
    sample = rng.choice(table.n, size=min(args.sample, table.n), replace=False)
    scalar_s, _ = scalar_run(c, table, sample, group, args.option, resolved)
    scalar_rate = len(sample) / scalar_s
    print(f"scalar: {len(sample):,} households in {scalar_s:.2f}s -> {scalar_rate:,.0f} households/s")
    print(
        f"ratios: kernel/scalar {kernel_rate / scalar_rate:,.0f}x, numpy/scalar {bulk_rate / scalar_rate:,.0f}x, "
        f"kernel/numpy {kernel_rate / bulk_rate:.1f}x"
    )

    # Kernel vs numpy: every household, every item (vectorised).
    same = np.ones(table.n, dtype=bool)
    for i in bulk.item_ids:
        same &= (kernel.fen[i] == bulk.fen[i]) & (kernel.applies[i] == bulk.applies[i])
    differ_numpy = int(table.n - same.sum())
    print(f"kernel vs numpy, all {table.n:,} households: {differ_numpy} differ")

    verify_idx = (
        np.arange(table.n)
        if args.verify == "all"
        else np.sort(rng.choice(table.n, size=min(int(args.verify), table.n), replace=False))
    )
    differ = 0
    differ_bulk = 0
    for chunk in np.array_split(verify_idx, max(1, len(verify_idx) // 5000)):
        _, amounts = scalar_run(c, table, chunk, group, args.option, resolved)
        for i, a in zip(chunk.tolist(), amounts, strict=True):
            if kernel.row(i) != a:
                differ += 1
            if bulk.row(i) != a:
                differ_bulk += 1
    print(
        f"verified {len(verify_idx):,} households against scalar: kernel {differ} differ, numpy {differ_bulk} differ"
    )

    small = synthetic(2_300, seed=11)
    sgroup = small.group_facts()
    settings = ["relocation_rate=15", "house_rate[砖混,A]=12500"]
    base = evaluate_bulk(c, small, args.option, None, sgroup, jit=True)
    whatif(c, small, settings, args.option, None, sgroup, base, jit=True)  # compiles the small table's kernel
    wt = []
    wt_np = []
    for k in range(60):
        s = [f"relocation_rate={15 + k % 5}", "house_rate[砖混,A]=12500"]
        t0 = time.perf_counter()
        whatif(c, small, s, args.option, None, sgroup, base, jit=True)
        wt.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        whatif(c, small, s, args.option, None, sgroup, base, jit=False)
        wt_np.append(time.perf_counter() - t0)
    whatif_ms = statistics.median(wt[10:]) * 1000
    whatif_np_ms = statistics.median(wt_np[10:]) * 1000
    print(
        f"what-if on 2,300 households (re-check + bulk + budget/deltas/distribution): median {whatif_ms:.1f} ms "
        f"with the kernel, {whatif_np_ms:.1f} ms with numpy"
    )

    load_after = os.getloadavg()[0]
    info = machine()
    print(info)
    print(f"load average (1 min) before/after: {load_before:.1f} / {load_after:.1f}")
    if not args.no_write:
        n_items = len(c.items_for(args.option))
        section = f"""## Policy engine

Command: `.venv/bin/python -m bench.policy_bench` (options: `--households`, `--sample`, `--verify N|all`,
`--threads`, `--repeat`). Policy: `src/anju/policy/examples/state_land.yaml`, option `{args.option}`, {n_items} items
(structure/zone table with block overrides, date-window sign tier with a per-certificate floor, vacate tier
counted from the day after the agreements took effect, business loss with floor and cap, whole-block
vacate reward, collective sign-rate reward per whole percentage point).

| measure | result | target |
|---|---|---|
| households (synthetic) | {table.n:,} ({table.buildings.size:,} certificates, {table.members.size:,} members) | 1,000,000 |
| **numba kernel** ({threads} threads), whole `evaluate_bulk` call, best of {args.repeat} after a warm-up | {kernel_s * 1000:,.1f} ms = **{kernel_rate:,.0f} households/s** (median {kernel_med * 1000:,.1f} ms = {table.n / kernel_med:,.0f}/s) | >= 20,000,000/s |
| of which generating the kernel source and arguments (every call) | {gen_s * 1000:.1f} ms | |
| kernel generation + JIT compile (once per policy structure and option, cached in-process) | {compile_s:.1f} s | |
| numpy bulk evaluator (int64 scaled integers, 1 thread), best of 3 | {bulk_s * 1000:,.0f} ms = {bulk_rate:,.0f} households/s | |
| scalar Decimal evaluator (no trace), {len(sample):,}-household sample | {scalar_rate:,.0f} households/s | |
| ratio kernel / scalar | **{kernel_rate / scalar_rate:,.0f}x** | >= 100x |
| ratio numpy / scalar; kernel / numpy | {bulk_rate / scalar_rate:,.0f}x; {kernel_rate / bulk_rate:.1f}x | |
| households whose items differ, kernel vs scalar ({len(verify_idx):,} checked) | **{differ}** | 0 |
| households whose items differ, numpy vs scalar (same {len(verify_idx):,}) | {differ_bulk} | 0 |
| households whose items or applicability differ, kernel vs numpy (all {table.n:,}) | {differ_numpy} | 0 |
| what-if recomputation, 2,300 households, median (kernel; numpy) | **{whatif_ms:.1f} ms**; {whatif_np_ms:.1f} ms | < 20 ms |

Machine: {info}. Load average (1 min) before/after the run: {load_before:.1f} / {load_after:.1f}
(the VM is shared; timings rise with other work). Measured {date.today().isoformat()}.
"""
        write_section(section + NOTES)


NOTES = """
How the kernel works (`src/anju/policy/jit/`): the checked formula trees of one option are turned
into the Python source of one `@njit(parallel=True)` function (households in a `prange` loop,
certificates / members walked through the table's offsets, loops over the same elements fused into
one, repeated expressions computed once, selections and min/max written branch-free), with the same
int64 scales, bounds and rounding as the numpy evaluator. Parameter values, table entries, tier and
band values, clocks and group rates are runtime arrays, so a what-if that changes values reuses the
compiled kernel. Before running, every intermediate value's bound is checked against int64 (as the
numpy evaluator does); a policy that could overflow, a construct the generator does not handle, or
`ANJU_POLICY_JIT=0` uses the numpy evaluator instead. `evaluate_bulk` and `whatif` use a compiled
kernel automatically and have a missing one compiled by another process into the disk cache for tables of
at least 1,000 households (the request itself is answered by numpy), so no request waits for the compiler
(see "Policy engine: the whole evaluation").

Outputs: amounts are written household-major (one row of item amounts per household, one write
stream instead of twelve), applicability is stored only for items whose condition can be false (an item
that always applies returns a read-only broadcast of True), and output buffers come from a pool that
hands a buffer out again only after every array made from it has been released (a repeated evaluation
no longer pays ~20 ms of first-touch page faults for 100 MB of fresh output; a held result never changes).

Status: all targets met. Session 3 (2026-11-23), run above in a quiet moment of the shared VM (another
agent's import benchmark ran on and off during this session; under that load the 2-thread kernel measured
~60 ms, as two threads then share one core): 31.1 ms best and 31.4 ms median of 11 whole `evaluate_bulk`
calls = 32M households/s, exact on all 1,000,000 households against numpy and 50,000 against the scalar
evaluator. Session 2 ended at 70.3 ms (14.2M/s). The VM also ran faster in that moment than earlier in the
day (numpy evaluator 272 ms here, 438-540 ms in earlier runs), so the like-for-like gain is the interleaved
one-thread comparison below (76 -> 57 ms); at the slower speed the whole call measured ~33-37 ms on two
threads in quiet moments (27-30M households/s), still above the target.

Session 3 changes: the kernel alone went from ~76 to ~57 ms on one thread (same table, interleaved
runs): subscripts whose index is known to be in range (the household and element loop variables, a block
index checked once per table against the per-block arrays, vocabulary codes of columns checked once per
array, tier/band/table positions built by the generator) are written unsigned, so numba drops the
negative-index wraparound (three instructions and a reload per subscript in the hot loops); element offsets
that would leave the columns now make the generator refuse the kernel (numpy answers) instead of reading out
of bounds. Rounding divides the magnitude by the literal divisor unsigned (a multiply and a shift) and puts
the sign back, instead of a floor division with sign fix-ups (~5 ms of the certificate loop); a repeated
lookup-failure flag is updated once. Source generation is cached per generated statement list (1.7 instead
of 3 ms per call). Tried and dropped: flat passes over all certificates / members of a chunk of households
with running sums (no mispredicted loop exits, but 6-12% slower: more stores and recomputed household
values), households visited per chunk in order of their element counts (2.6x slower), branches around
rarely applying per-certificate items (no gain), narrower input integer types (no gain on one thread),
disabling LLVM's loop vectorizer or runtime unrolling (no gain; it does remove a pathological 40% slowdown
of one variant, a reminder that LLVM's choices on these loops are fragile).
"""


def write_section(section: str) -> None:
    """Replace (or add) the "## Policy engine" section of bench/RESULTS.md."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n\n"
    pattern = re.compile(r"^## Policy engine\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(section.rstrip("\n") + "\n\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
