"""What a request feels while a kernel compiles (``python -m bench.policy_bench.whole --parts compile``).

A thread of this (server-like) process serves a real what-if request (2,300 households, the
state_land example, a draft asked before: ~0.3 ms of work on a quiet machine) every 10 ms and
records each one's lateness: its response time (from when it was due) minus the median response
time of phase (a). In one run, back to back:

(a) nothing compiling (the VM's own noise);
(b) another process compiles a kernel nobody compiled before, as a request triggers it (at the
    idle priority, ``compiler.lower_priority``), until this process has loaded it (the load itself,
    in a daemon thread of this process, is part of the phase); the main thread asks for the new
    kernel every 20 ms meanwhile, as requests would;
(c) the same kernel compiled by the previous way: a process at nice 10, the normal class;
(d) control: a plain busy process (``while True: pass``) at normal priority, as long as (b): shows
    that the ticker feels a competing process at all.

``--pin`` runs the whole part on one core (the compiler and the busy process inherit it), so that
every competitor shares the ticker's core: the sharpest form of the test.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from anju.policy import jit
from anju.policy.bulk import evaluate_bulk
from anju.policy.check import load_policy, load_policy_file
from anju.policy.jit import diskcache
from anju.policy.whatif import whatif
from bench.policy_bench.__main__ import POLICY as STATE_LAND
from bench.policy_bench.__main__ import synthetic

PERIOD = 0.010

_FRESH_POLICY = """
policy: {{name: 编译测试{tag}, effective_on: 2025-04-01, rounding: {{mode: half_up, unit: fen}}}}
parameters:
  per_person: {{unit: 元/人, value: "{value}"}}
items:
  - id: persons
    per: certificate
    formula: building.legal_area * {tag}元/㎡ + count(members) * per_person
"""


class Requests:
    """A thread serving ``work`` every :data:`PERIOD` seconds; records ``(due time, response time)``
    of each, the response time counted from when it was due. A request that ends past the next one's
    due time is followed at once, and the slots it overran are not queued: a stall counts once, with
    its full length, instead of as a backlog that a loaded machine never works off."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self.work = work
        self.log: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, name="bench-requests", daemon=True)

    def _run(self) -> None:
        due = time.perf_counter()
        while not self._stop.is_set():
            now = time.perf_counter()
            if now < due:
                time.sleep(due - now)
            self.work()
            end = time.perf_counter()
            self.log.append((due, end - due))
            due = max(due + PERIOD, end)

    def __enter__(self) -> Requests:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()

    def between(self, t0: float, t1: float) -> list[float]:
        """Response times of the requests that arrived in ``[t0, t1)``."""
        return [r for a, r in list(self.log) if t0 <= a < t1]


def _stats(resp: list[float], base: float) -> dict[str, float]:
    late = np.maximum(np.asarray(resp) - base, 0.0) * 1000
    return {
        "n": len(resp),
        "p50": float(np.percentile(late, 50)),
        "p99": float(np.percentile(late, 99)),
        "max": float(late.max()),
        "over50": int((late > 50).sum()),
    }


def _compile_until_loaded(c: Any, t: Any, idle: bool, limit: float) -> float:
    """Trigger the compile of ``c``'s kernel as a request would and wait until this process has
    it loaded; the seconds that took. ``idle=False``: the previous way (nice 10, normal class)."""
    t0 = time.perf_counter()
    if idle:
        res, _ = jit.try_evaluate(c, t, "cash", auto=True)  # starts the compiler, returns at once
        while res is None and time.perf_counter() - t0 < limit:
            time.sleep(0.02)
            res, _ = jit.try_evaluate(c, t, "cash", auto=True)
        assert res is not None, "the kernel was not compiled in time"
    else:
        p = jit.prepare(c, t, "cash")
        assert not isinstance(p, str)
        key, spec, _ = jit.kernels._signature(p, True)
        th = threading.Thread(target=diskcache.compile_now, args=(key, p.source, True, spec))
        th.start()
        while th.is_alive():  # this thread polls as requests would; compile_now waits in its own
            time.sleep(0.02)
        assert jit.try_evaluate(c, t, "cash", auto=True)[0] is not None
    return time.perf_counter() - t0


def compile_stall(out: dict[str, Any], pin: bool = False, limit: float = 600.0) -> None:
    """The four phases of the module docstring; results into ``out`` (``stall_*``)."""
    saved_affinity = os.sched_getaffinity(0) if pin and hasattr(os, "sched_getaffinity") else None
    if saved_affinity is not None:
        os.sched_setaffinity(0, {min(saved_affinity)})
    try:
        _phases(out, limit)
    finally:
        if saved_affinity is not None:
            os.sched_setaffinity(0, saved_affinity)
    out["stall_pinned"] = saved_affinity is not None


def _phases(out: dict[str, Any], limit: float) -> None:
    c = load_policy_file(STATE_LAND)
    small = synthetic(2_300, seed=11)
    group = small.group_facts()
    base = evaluate_bulk(c, small, "cash", None, group, jit=True)
    drafts = [[f"relocation_rate={15 + i % 5}", "house_rate[砖混,A]=12500"] for i in range(5)]
    for s in drafts:
        whatif(c, small, s, "cash", None, group, base, jit=True)
    turn = iter(range(10**9))

    def request() -> None:
        whatif(c, small, drafts[next(turn) % 5], "cash", None, group, base, jit=True)

    tag = int(time.time() * 1000) % 100000  # kernel sources nobody has compiled before
    table = synthetic(5_000, seed=2)
    fresh = [
        load_policy(_FRESH_POLICY.format(tag=tag + k, value=f"12.3{k}"), f"fresh{k}.yaml") for k in (0, 1)
    ]
    for c2 in fresh:
        evaluate_bulk(c2, table, "cash", jit=False)
    out["stall_load_before"] = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as d, Requests(request) as req:
        diskcache.set_cache_dir(Path(d))
        try:
            time.sleep(0.5)
            marks = [time.perf_counter()]
            time.sleep(5.0)  # (a) nothing compiling
            marks.append(time.perf_counter())
            out["stall_compile_idle_s"] = _compile_until_loaded(fresh[0], table, True, limit)  # (b)
            marks.append(time.perf_counter())
            out["stall_compile_nice10_s"] = _compile_until_loaded(fresh[1], table, False, limit)  # (c)
            marks.append(time.perf_counter())
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # (d)
            try:
                time.sleep(max(5.0, out["stall_compile_idle_s"]))
            finally:
                busy.kill()
                busy.wait()
            marks.append(time.perf_counter())
        finally:
            diskcache.set_cache_dir(None)
    out["stall_load_after"] = os.getloadavg()[0]
    phases = [req.between(marks[k], marks[k + 1]) for k in range(4)]
    base_resp = statistics.median(phases[0])
    out["stall_work_ms"] = base_resp * 1000
    for name, resp in zip(("idle", "compiling", "nice10", "busy"), phases, strict=True):
        out[f"stall_{name}"] = _stats(resp, base_resp)
    print({k: v for k, v in out.items() if k.startswith("stall")})


def rows(o: dict[str, Any]) -> str:
    """The RESULTS.md rows of a run (empty when the part did not run)."""
    if "stall_idle" not in o:
        return ""
    where = "all on one core (`--pin`)" if o.get("stall_pinned") else "both cores"
    label = {
        "idle": "(a) nothing compiling",
        "compiling": f"(b) **another process compiles a new kernel at the idle priority** ({o['stall_compile_idle_s']:.1f} s until loaded here)",
        "nice10": f"(c) the same at nice 10, normal class (before) ({o['stall_compile_nice10_s']:.1f} s)",
        "busy": "(d) control: a plain busy process at normal priority",
    }
    out = []
    for k, text in label.items():
        s = o[f"stall_{k}"]
        out.append(
            f"| what-if requests every 10 ms in this process ({where}, load {o['stall_load_before']:.1f}-{o['stall_load_after']:.1f}): {text}: "
            f"lateness p50 / p99 / max; requests > 50 ms late | {s['p50']:.1f} / {s['p99']:.1f} / {s['max']:.1f} ms; "
            f"**{s['over50']}** of {s['n']:,} | {'0' if k == 'compiling' else ''} |"
        )
    return "\n".join(out) + "\n"
