"""The compiling process yields to everything else (#12: "compiling never delays another request"):
the lowest CPU priority Linux has, bounded memory, started without importing the engine first, a
process that dies without a word marked failed; a compile somebody waits for is not idle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from policy_helpers import policy

from anju.policy import jit
from anju.policy.bulk import HouseholdTable
from anju.policy.facts import Building, Household, Member
from anju.policy.jit import compiler, diskcache

pytestmark = pytest.mark.skipif(not jit.HAVE_NUMBA, reason="numba is not installed")

LINUX = sys.platform.startswith("linux")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty kernel cache directory for this test."""
    monkeypatch.setattr(diskcache, "_DIR", tmp_path)
    return tmp_path


def _table(k: int = 1) -> HouseholdTable:
    return HouseholdTable.from_households(
        [
            Household(
                f"H{i}",
                "一地块",
                ("东片区",),
                sign_on=date(2025, 4, 2),
                members=(Member(name=f"m{i}"),),
                buildings=(Building(f"C{i}", legal_area=Decimal("50.5")),),
            )
            for i in range(k)
        ]
    )


def _prepared(tag: str) -> Any:
    n = sum(map(ord, tag)) + int(time.time() * 1000) % 100000
    c = policy(f"""
parameters:
  per_person: {{unit: 元/人, value: "777.77"}}
items:
  - id: persons
    formula: count(members) * per_person + {n}元
""")
    p = jit.prepare(c, _table(), "cash")
    assert not isinstance(p, str)
    return p


_PROBE = """
import json, os, resource, sys
sys.path[:0] = [sys.argv[1]]
from compiler import lower_priority
applied = lower_priority(sys.argv[2] == "idle")
print(json.dumps({"applied": applied, "policy": os.sched_getscheduler(0), "nice": os.nice(0),
                  "as": resource.getrlimit(resource.RLIMIT_AS)[0],
                  "oom": open("/proc/self/oom_score_adj").read().strip(),
                  "engine": [m for m in sys.modules if m.startswith(("anju", "numpy", "numba"))]}))
"""


@pytest.mark.skipif(not LINUX, reason="SCHED_IDLE, rlimits and oom_score_adj are Linux's")
def test_lower_priority_is_the_idle_class_with_bounded_memory() -> None:
    folder = str(Path(compiler.__file__).parent)
    out = json.loads(
        subprocess.run(
            [sys.executable, "-P", "-c", _PROBE, folder, "idle"], capture_output=True, text=True, check=True
        ).stdout
    )
    assert out["policy"] == os.SCHED_IDLE and out["nice"] == 19
    assert out["as"] == compiler.MEMORY_MB * 1024 * 1024 and out["oom"] == "1000"
    assert out["applied"][0] == "SCHED_IDLE"
    assert out["engine"] == []  # nothing of the engine (nor numpy) loaded before the priority dropped
    waited = json.loads(
        subprocess.run(
            [sys.executable, "-P", "-c", _PROBE, folder, "wait"], capture_output=True, text=True, check=True
        ).stdout
    )
    assert waited["policy"] == os.SCHED_OTHER and waited["nice"] == 10  # someone waits: no starving


def test_the_compiler_is_started_as_a_script_at_the_idle_priority(cache: Path) -> None:
    argv = diskcache._compiler_argv(cache, "k", "s", idle=True)
    assert argv[-7:] == [sys.executable, "-P", str(Path(compiler.__file__)), str(cache), "k", "s", "idle"]
    assert diskcache._compiler_argv(cache, "k", "s", idle=False)[-1] == "wait"
    assert "-m" not in argv  # ``-m`` would import anju.policy (numba, numpy) before the priority dropped


@pytest.mark.skipif(not LINUX, reason="SCHED_IDLE is Linux's")
def test_a_background_compile_runs_idle_and_a_waited_one_does_not(cache: Path) -> None:
    p = _prepared("idle")
    key, spec, sh = jit.kernels._signature(p, True)
    done: list[int] = []
    diskcache.compile_async(key, p.source, True, spec, lambda: done.append(1))
    deadline = time.monotonic() + 300  # idle: slow only when the machine is busy
    while not done and time.monotonic() < deadline:
        time.sleep(0.05)
    assert done and (cache / f"_anju_kernel_{key}-{sh}.ok").exists()
    log = (cache / f"_anju_kernel_{key}-{sh}.log").read_text()
    assert log.startswith("compiling at SCHED_IDLE, nice 19")
    q = _prepared("wait")
    key, spec, sh = jit.kernels._signature(q, True)
    assert diskcache.compile_now(key, q.source, True, spec)
    assert (cache / f"_anju_kernel_{key}-{sh}.log").read_text().startswith("compiling at nice 10")


def test_a_compiling_process_that_dies_without_a_word_is_marked_failed(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = _prepared("dies")
    key, spec, sh = jit.kernels._signature(p, True)
    monkeypatch.setattr(
        diskcache, "_compiler_argv", lambda *a: [sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"]
    )
    assert not diskcache.compile_now(key, p.source, True, spec)
    assert diskcache.failed(key, spec)  # not started again for every request: numpy answers
    assert "ended with -9" in (cache / f"_anju_kernel_{key}-{sh}.failed").read_text()
    assert not list(cache.glob("*.lock"))


def test_the_lock_of_a_long_compile_stays_fresh(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An idle compile may take long on a busy machine: its lock is touched while it runs, so
    another worker never takes it over as left behind by a killed process."""
    lock = cache / "_anju_kernel_k-s.lock"
    lock.write_text("1")
    old = time.time() - 100
    os.utime(lock, (old, old))
    (cache / "_anju_kernel_k-s.sig").write_text("[]")
    monkeypatch.setattr(diskcache, "LOCK_STALE", 0.5)  # touched every 0.05 s
    seen: list[float] = []

    def slow_tune() -> None:
        time.sleep(0.3)
        seen.append(lock.stat().st_mtime)

    with pytest.raises(FileNotFoundError):  # no kernel module: the compile fails after the pause
        diskcache.run_compile(cache, "k", "s", slow_tune)
    assert seen and seen[0] > old + 50
    assert not lock.exists() and (cache / "_anju_kernel_k-s.failed").exists()


def test_requests_while_a_kernel_compiles_do_not_check_its_source_again(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = _prepared("pending")
    key, _, sh = jit.kernels._signature(p, True)
    calls: list[int] = []
    real = jit.kernels.validate
    monkeypatch.setattr(jit.kernels, "validate", lambda *a: calls.append(1) or real(*a))
    jit.kernels.compile_in_background(p, 1)
    for _ in range(5):
        jit.kernels.compile_in_background(p, 1)  # each a request answered by numpy meanwhile
    assert calls == [1] or (cache / f"_anju_kernel_{key}-{sh}.ok").exists()
    deadline = time.monotonic() + 300
    while diskcache.pending(key, sh) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert jit.is_compiled(p)
