"""Fused kernels part: the compiling process (``python -P .../compiler.py DIR KEY SIG``).

Started by :mod:`anju.policy.jit.diskcache` so that compiling (seconds of CPU holding the GIL)
never runs in a worker that serves requests. It first drops to the lowest CPU priority Linux has
(:func:`lower_priority`), then imports the engine, sets the LLVM options the kernels are tuned for
(process-wide LLVM settings: they exist only in this process), compiles the kernel module of
``KEY`` for the signature ``SIG`` with numba's disk cache on, and marks it stored.

It is started as a script, not with ``-m``: ``-m anju.policy.jit.compiler`` would import the
``anju.policy`` package (numpy, numba, the whole engine: seconds of CPU) before the first line of
this file ran, all of it at the workers' priority. As a script only the standard library is loaded
before :func:`lower_priority`.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["MEMORY_MB", "lower_priority", "main", "tune_llvm"]

#: Address space the compiling process may use (MiB; ``ANJU_POLICY_JIT_COMPILER_MB`` overrides, 0: no
#: limit). A kernel compile peaks at a few hundred MiB (numba and LLVM); the limit keeps a runaway
#: compile (a pathological policy, an LLVM bug) from taking the memory the workers need: it fails
#: with a MemoryError (marked failed, numpy keeps answering) instead of pushing the machine into swap
#: or the OOM killer. Most of the limit is address space numba and LLVM reserve but never touch.
MEMORY_MB = 4096


def lower_priority(idle: bool = True) -> list[str]:
    """Make this process the one that yields: to every request of every worker, to any other work.

    - CPU: ``SCHED_IDLE`` (Linux): the process runs only when a core has nothing else to run at any
      normal priority, so a request never waits for it, however long the compile (niceness only
      weights the shares: at nice 10 a compile still took ~10% of a core from a busy worker, and
      its wake-ups could preempt one); where unavailable, nice 19. Threads started later (numba's
      pool) inherit it.
    - Memory: the address space is limited to :data:`MEMORY_MB`, and the kernel's OOM killer is told
      to pick this process first (``oom_score_adj`` 1000), never a worker.
    - IO: the idle IO class is set by the parent (``ionice -c3``, when installed): the compile reads
      and writes only a few small files, so nothing is done here when it is missing.

    ``idle=False`` (someone waits for this compile: :func:`diskcache.compile_now`, the command line,
    the tests; on a busy machine an idle-class process may get almost no CPU): nice 10 instead.

    Returns what was applied (written to the compile log).
    """
    applied: list[str] = []
    if idle:
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            applied.append("SCHED_IDLE")
        except (AttributeError, OSError):  # not Linux, or refused: the lowest niceness instead
            pass
    with contextlib.suppress(OSError):
        target = 19 if idle else 10
        os.nice(max(0, target - os.nice(0)))
        applied.append(f"nice {os.nice(0)}")
    mb = int(os.environ.get("ANJU_POLICY_JIT_COMPILER_MB", MEMORY_MB))
    if mb > 0:
        with contextlib.suppress(ImportError, OSError, ValueError):
            import resource

            _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            want = mb * 1024 * 1024
            if hard != resource.RLIM_INFINITY:
                want = min(want, hard)
            resource.setrlimit(resource.RLIMIT_AS, (want, hard))
            applied.append(f"address space {want >> 20} MiB")
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")
        applied.append("oom_score_adj 1000")
    return applied


def tune_llvm() -> None:
    """Keep LLVM from turning the kernels' branch-free selections back into branches.

    x86's cmov converter rewrites a select on a loop-carried chain (our per-household sums) into
    a branch, and CodeGenPrepare turns a select of a loaded value into a branch; on random
    household data both mispredict (measured: ~30% slower; bench/RESULTS.md, "Policy engine"). The
    options are process-wide LLVM settings, set only in this compiling process; they are only set
    on x86-64 with an LLVM version they are known to exist in (an unknown option would make LLVM
    abort). ``ANJU_POLICY_JIT_LLVM_TUNE=0`` leaves LLVM's defaults.
    """
    if os.environ.get("ANJU_POLICY_JIT_LLVM_TUNE", "1") == "0":
        return
    try:
        import platform

        ll: Any = importlib.import_module("llvmlite.binding")
        if platform.machine().lower() not in ("x86_64", "amd64") or not 14 <= ll.llvm_version_info[0] <= 22:
            return
        ll.set_option("anju", "-x86-cmov-converter=false")
        ll.set_option("anju", "-disable-cgp-select2branch")
    except Exception:  # pragma: no cover - tuning is optional
        return


def main(argv: list[str]) -> int:
    """Compile one kernel signature into the disk cache; 0 on success. ``idle`` (the default): in
    the background, nobody waiting; ``wait``: a caller waits for it (see :func:`lower_priority`)."""
    if len(argv) not in (3, 4) or argv[3:] not in ([], ["idle"], ["wait"]):
        print("usage: python -P .../anju/policy/jit/compiler.py DIR KEY SIG [idle|wait]", file=sys.stderr)
        return 2
    applied = lower_priority(idle=argv[3:] != ["wait"])
    print("compiling at", ", ".join(applied) or "normal priority", flush=True)
    from anju.policy.jit.diskcache import run_compile  # the engine: imported at the low priority

    run_compile(Path(argv[0]), argv[1], argv[2], tune_llvm)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
