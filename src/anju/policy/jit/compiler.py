"""Fused kernels part: the compiling process (``python -m anju.policy.jit.compiler DIR KEY SIG``).

Started by :mod:`anju.policy.jit.diskcache` so that compiling (seconds of CPU holding the GIL)
never runs in a worker that serves requests. It runs at a lower priority, sets the LLVM options the
kernels are tuned for (process-wide LLVM settings: they exist only in this process), compiles the
kernel module of ``KEY`` for the signature ``SIG`` with numba's disk cache on, and marks it stored.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["main", "tune_llvm"]


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
    """Compile one kernel signature into the disk cache; 0 on success."""
    if len(argv) != 3:
        print("usage: python -m anju.policy.jit.compiler DIR KEY SIG", file=sys.stderr)
        return 2
    with contextlib.suppress(OSError):
        os.nice(10)  # the workers' requests come first
    from anju.policy.jit.diskcache import run_compile

    run_compile(Path(argv[0]), argv[1], argv[2], tune_llvm)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
