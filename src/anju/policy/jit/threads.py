"""Fused kernels part: how many threads a kernel call uses.

Two OpenMP threads are slower than one whenever the other core is busy: a parallel loop ends at
a barrier, and a thread that the scheduler has put behind another process makes the whole call
wait for its time slice (what-if on 2,300 households: 6.6 ms on two threads with the other core
busy, 2.0 ms on one; bench/RESULTS.md, "Policy engine"). So a call uses one thread below
:data:`PARALLEL_MIN_HOUSEHOLDS` households (where threads cannot pay for their start-up and
barrier), and above it only as many threads as there are cores that other work leaves free,
as a cheap probe says:

- the CPU time the whole machine spent busy (``/proc/stat``: user, nice, system, irq, softirq,
  steal) minus this process's own CPU time, over the last interval of at least
  :data:`PROBE_INTERVAL` seconds (at most one read per interval: a few microseconds per call);
- without a recent sample, the number of runnable tasks now (``procs_running``) minus this thread.

The number is passed to ``numba.set_num_threads`` right before each call, under the kernels' run
lock: numba keeps it per calling thread, and the lock keeps request threads from interleaving.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = [
    "PARALLEL_MIN_HOUSEHOLDS",
    "PROBE_INTERVAL",
    "busy_elsewhere",
    "choose",
]

#: Below this many households a kernel runs on one thread (bench: "threads by size").
PARALLEL_MIN_HOUSEHOLDS = 20_000

#: Seconds over which the other processes' CPU use is measured.
PROBE_INTERVAL = 0.1

_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system irq softirq steal (not idle, iowait)
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _read_stat() -> tuple[float, int] | None:
    """(busy CPU seconds of the machine, runnable tasks now), or None when /proc is missing."""
    try:
        with open("/proc/stat", "rb") as f:
            text = f.read()
    except OSError:
        return None
    lines = text.split(b"\n")
    fields = lines[0].split()[1:]
    busy = sum(int(fields[k]) for k in _BUSY_FIELDS if k < len(fields)) / _TICK
    running = 1
    for line in lines:
        if line.startswith(b"procs_running"):
            running = int(line.split()[1])
            break
    return busy, running


class _Probe:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.at = 0.0  # monotonic time of the last sample
        self.busy = 0.0
        self.own = 0.0
        self.value = 0.0  # cores busy elsewhere, last estimate

    def sample(self) -> float:
        now = time.monotonic()
        with self.lock:
            if now - self.at < PROBE_INTERVAL:
                return self.value
            stat = _read_stat()
            if stat is None:
                return 0.0
            busy, running = stat
            t = os.times()
            own = t.user + t.system
            if self.at and now - self.at < 10 * PROBE_INTERVAL:
                dt = now - self.at
                self.value = max(0.0, (busy - self.busy) - (own - self.own)) / dt
            else:  # no recent sample: what runs right now, less the caller
                self.value = float(max(0, running - 1))
            self.at, self.busy, self.own = now, busy, own
            return self.value


_PROBE = _Probe()


def busy_elsewhere() -> float:
    """Cores kept busy by other processes (a recent average, or the runnable tasks right now)."""
    return _PROBE.sample()


def choose(n: int, cap: int, cores: int | None = None) -> int:
    """Threads for a call over ``n`` households: at most ``cap``; one below the size threshold or
    when no second core is free."""
    if cap <= 1 or n < PARALLEL_MIN_HOUSEHOLDS:
        return 1
    cores = cores or os.cpu_count() or 1
    free = cores - busy_elsewhere()
    return max(1, min(cap, int(free + 0.5)))
