"""Fused kernels part: validation of the generated source, compilation (by another process into
the disk cache, :mod:`.diskcache`; loaded from it in a few ms), output buffers and the run on an
adaptive number of threads (:mod:`.threads`); :func:`try_evaluate` is the entry point."""

from __future__ import annotations

import ast
import re
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np

from anju.policy.check import Checked
from anju.policy.facts import GroupFacts
from anju.policy.jit import diskcache, threads
from anju.policy.jit.helpers import (
    _HELPERS,
    _MINMAX,
    AUTO_MIN_HOUSEHOLDS,
    I64,
    enabled,
    numba,
)
from anju.policy.jit.prepared import Prepared, clear_prepared, fingerprint, prepare
from anju.policy.table import (
    Arr,
    BulkResult,
    HouseholdTable,
)

__all__ = [
    "OutputPool",
    "Prepared",
    "clear_prepared",
    "compile_in_background",
    "compile_kernel",
    "compile_seconds",
    "is_compiled",
    "prepare",
    "run",
    "set_cache_dir",
    "set_threads",
    "try_evaluate",
    "validate",
    "warm",
    "warm_in_background",
]


# ----------------------------------------------------------------------------- validation and compilation

_ALLOWED_NODES = (
    ast.Module,
    ast.FunctionDef,
    ast.arguments,
    ast.arg,
    ast.For,
    ast.If,
    ast.Assign,
    ast.AugAssign,
    ast.Pass,
    ast.Name,
    ast.Load,
    ast.Store,
    ast.Constant,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.Subscript,
    ast.Tuple,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.FloorDiv,
    ast.USub,
    ast.Not,
    ast.And,
    ast.Or,
    ast.BitAnd,
    ast.BitOr,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
)
_FIXED_NAMES = {
    "kernel",
    "n",
    "i",
    "j",
    "blk",
    "out_fen",
    "out_app",
    "out_sum",
    "err",
    "prange",
    "range",
    "abs",
    *_MINMAX,
    *(h for h, _ in _HELPERS.values()),
}
_NAME_RE = re.compile(r"^[a-z][a-z_0-9]*\Z")


def validate(source: str, names: set[str]) -> None:
    """Check generated source: allowed syntax only, names this module created, integer/bool constants."""
    tree = ast.parse(source)
    allowed = _FIXED_NAMES | names
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise AssertionError(f"generated code contains {type(node).__name__}")
        if isinstance(node, ast.Name) and (node.id not in allowed or not _NAME_RE.match(node.id)):
            raise AssertionError(f"generated code uses unknown name {node.id!r}")
        if isinstance(node, ast.arg) and node.arg not in allowed:
            raise AssertionError(f"generated code has unknown argument {node.arg!r}")
        if isinstance(node, ast.Constant) and type(node.value) not in (int, bool):
            raise AssertionError("generated code contains a non-integer constant")
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in _FIXED_NAMES
        ):
            raise AssertionError("generated code calls something unexpected")


_RUN_LOCK = threading.Lock()
# Kernel calls are serialised: numba's workqueue threading layer (used when OpenMP/TBB are
# missing) must not be entered from two threads at once, and the thread count is set right
# before each call. Each call is short.

_LOCK = threading.RLock()
#: (disk key, signature hash) -> the dispatcher with that signature loaded.
_KERNELS: dict[tuple[str, str], Any] = {}
#: JIT compile time per kernel (seconds): the compiling process's wall time, as waited for by
#: :func:`compile_kernel` (a kernel found in the disk cache has none).
compile_seconds: dict[tuple[str, bool], float] = {}
_MAX_THREADS: int | None = None  # set_threads(); None: every core numba sees


_SIGNATURES: dict[tuple[Any, ...], tuple[str, list[list[Any]], str]] = {}


def _signature(p: Prepared, parallel: bool) -> tuple[str, list[list[Any]], str]:
    """(disk key, signature spec, its hash) of the kernel of ``p`` (remembered per source and
    argument layout: numba's typeof of ~50 arguments took ~0.5 ms of every what-if; and kept on
    ``p``, with which a what-if of values only shares it: 0.004 instead of 0.09 ms at load 10)."""
    mine = p.signatures.get(parallel)
    if mine is not None:
        return mine  # type: ignore[no-any-return]
    memo = (p.source, parallel, len(p.items), *map(fingerprint, p.args))
    hit = _SIGNATURES.get(memo)
    if hit is not None:
        p.signatures[parallel] = hit
        return hit
    k = len(p.items)
    spec = diskcache.sig_spec(
        (
            np.int64(1),
            *p.args,
            np.empty((1, k), dtype=I64),
            np.empty((1, 1), dtype=bool),
            np.empty((1, 1), dtype=I64),
            np.empty(1, dtype=np.uint8),
        )
    )
    out = (diskcache.kernel_key(p.source, parallel), spec, diskcache.spec_hash(spec))
    if len(_SIGNATURES) > 256:
        _SIGNATURES.clear()
    _SIGNATURES[memo] = out
    p.signatures[parallel] = out
    return out


def _loaded(key: str, spec: list[list[Any]], sh: str) -> Any | None:
    """The kernel in memory, else from the disk cache (a few ms; never a compilation)."""
    fn = _KERNELS.get((key, sh))
    if fn is not None:
        return fn
    with _LOCK:
        fn = _KERNELS.get((key, sh))
        if fn is None:
            try:
                fn = diskcache.load(key, spec)
            except Exception:  # pragma: no cover - a damaged cache: compile again elsewhere
                fn = None
            if fn is not None:
                _KERNELS[(key, sh)] = fn
        return fn


def _compile_here(p: Prepared, parallel: bool, spec: list[list[Any]]) -> Any:
    """Last resort when no compiling process could run (e.g. a read-only data directory):
    compile in this process, without the LLVM options (they would stay set for the process)."""
    assert numba is not None
    helpers = {
        name: numba.njit(inline="always", cache=False, error_model="numpy")(fn)
        for name, fn in [*_HELPERS.values(), *_MINMAX.items()]
    }
    namespace: dict[str, Any] = {"prange": numba.prange if parallel else range, **helpers}
    # The source was generated by Builder and checked by validate(): no user text in it.
    exec(compile(p.source, "<anju-policy-kernel>", "exec"), namespace)
    fn = numba.njit(parallel=parallel, cache=False, nogil=True, error_model="numpy", boundscheck=False)(
        namespace["kernel"]
    )
    fn.compile(diskcache._sig_types(spec))
    return fn


def compile_kernel(p: Prepared, n: int, parallel: bool = True) -> Any:
    """The compiled kernel of ``p``: from memory or the disk cache, else compiled now by another
    process (this call waits; the engine options stay in that process)."""
    key, spec, sh = _signature(p, parallel)
    fn = _loaded(key, spec, sh)
    if fn is not None:
        return fn
    validate(p.source, p.names)
    t0 = time.perf_counter()
    stored = False
    try:
        stored = diskcache.compile_now(key, p.source, parallel, spec)
    except OSError:  # no writable cache directory
        stored = False
    fn = _loaded(key, spec, sh) if stored else None
    if fn is None:
        fn = _compile_here(p, parallel, spec)
        with _LOCK:
            _KERNELS[(key, sh)] = fn
    compile_seconds[(p.source, parallel)] = time.perf_counter() - t0
    return fn


def compile_in_background(p: Prepared, n: int, parallel: bool = True) -> None:
    """Have another process compile the kernel of ``p`` into the disk cache (once); when it is
    done, a daemon thread loads it, so that a later call finds it in memory. Compiling never
    runs in this process: requests meanwhile are answered by numpy and are not slowed."""
    key, spec, sh = _signature(p, parallel)
    if (key, sh) in _KERNELS or diskcache.pending(key, sh) or diskcache.failed(key, spec):
        return  # every request meanwhile returns here: no re-validation (~1-20 ms of parsing)
    validate(p.source, p.names)

    def done() -> None:
        _loaded(key, spec, sh)

    try:
        diskcache.compile_async(key, p.source, parallel, spec, done)
    except OSError:  # pragma: no cover - no writable cache directory: numpy keeps answering
        return


set_cache_dir = diskcache.set_cache_dir


def warm(limit: int = 32, pause: float = 0.01) -> int:
    """Load the ``limit`` most recently used kernels of the disk cache into this process (a few
    ms each, with a pause between them for other threads); returns how many were loaded. Run at
    start-up (:func:`warm_in_background`): the first request after a restart then finds its
    kernel loaded, and numba's own first-use set-up (~0.4 s) is done."""
    if not enabled():
        return 0
    count = 0
    for key, spec in diskcache.markers()[:limit]:
        if _loaded(key, spec, diskcache.spec_hash(spec)) is not None:
            count += 1
        time.sleep(pause)
    if count and numba is not None:
        # What a first call would otherwise pay: numba's thread pool, and numpy.ma, which numba's
        # typeof imports for the first non-contiguous argument (~0.2 s).
        numba.get_num_threads()
        numba.typeof(np.broadcast_to(np.True_, (2,)))
    return count


def warm_in_background(limit: int = 32) -> threading.Thread:
    """:func:`warm` in a daemon thread."""
    t = threading.Thread(target=warm, args=(limit,), name="anju-policy-jit-warm", daemon=True)
    t.start()
    return t


def is_compiled(p: Prepared, parallel: bool = True) -> bool:
    """Whether the kernel of ``p`` is loaded in this process (compiled here or read from the disk cache)."""
    key, _, sh = _signature(p, parallel)
    return (key, sh) in _KERNELS


class _Lease:
    """Owner of the arrays made from one pooled buffer; the buffer returns to the pool when it dies.

    numpy makes an array from ``__array_interface__`` with this object as its base, and every
    view of that array keeps it alive, so the lease dies only when the last result array has gone.
    """

    __slots__ = ("__array_interface__", "__weakref__", "buffer")

    def __init__(self, buffer: Arr) -> None:
        self.buffer = buffer
        self.__array_interface__ = buffer.__array_interface__


class OutputPool:
    """Recycles the kernels' output buffers between calls.

    A what-if or benchmark evaluates the same project again and again; a fresh 100 MB output per
    call of a 1,000,000-household project costs about 20 ms of first-touch page faults alone
    (bench/RESULTS.md, "Policy engine": the whole call is 31 ms with the pool). A
    buffer is handed out again only after every array made from it (the :class:`BulkResult`'s
    columns and any view of them) has been released, so a result never changes under its holder.
    The kernel writes every output element of every household, so nothing of a previous call
    remains visible. Small buffers are not pooled.
    """

    MIN_BYTES = 1 << 20
    KEEP = 2  # free buffers kept per shape

    def __init__(self) -> None:
        self._free: dict[tuple[tuple[int, ...], str], list[Arr]] = {}
        self._lock = threading.Lock()

    def take(self, shape: tuple[int, ...], dtype: Any) -> Arr:
        """An uninitialised array of ``shape`` and ``dtype`` (recycled when one is free)."""
        dt = np.dtype(dtype)
        if int(np.prod(shape)) * dt.itemsize < self.MIN_BYTES:
            return np.empty(shape, dtype=dt)
        key = (tuple(shape), dt.str)
        with self._lock:
            free = self._free.get(key)
            buffer = free.pop() if free else None
        if buffer is None:
            buffer = np.empty(shape, dtype=dt)
        lease = _Lease(buffer)
        weakref.finalize(lease, self._give_back, key, buffer)
        out: Arr = np.asarray(lease)
        return out

    def _give_back(self, key: tuple[tuple[int, ...], str], buffer: Arr) -> None:
        with self._lock:
            free = self._free.setdefault(key, [])
            if len(free) < self.KEEP:
                free.append(buffer)

    def clear(self) -> None:
        """Drop every free buffer."""
        with self._lock:
            self._free.clear()


_OUTPUTS = OutputPool()


def run(p: Prepared, table: HouseholdTable, option: str, parallel: bool = True) -> BulkResult | None:
    """Run a prepared kernel (compiling it first if needed) on as many threads as pay off now
    (:func:`anju.policy.jit.threads.choose`).

    Returns ``None`` when a table lookup failed in some household: the numpy evaluator then
    raises the error with its message."""
    n = table.n
    k = len(p.items) + len(p.subtotals)
    fn = compile_kernel(p, n, parallel)
    out_fen = _OUTPUTS.take((n, k), I64)
    out_app = _OUTPUTS.take((n, max(1, p.n_app)), np.dtype(bool))
    out_sum = _OUTPUTS.take((1 + len(p.sum_names) + len(p.subtotals), n), I64)
    err = np.zeros(n, dtype=np.uint8)
    with _RUN_LOCK:
        if parallel and numba is not None:
            cap = min(_MAX_THREADS or numba.config.NUMBA_NUM_THREADS, numba.config.NUMBA_NUM_THREADS)
            numba.set_num_threads(threads.choose(n, cap))
        fn(n, *p.args, out_fen, out_app, out_sum, err)
    if n and err.any():
        return None
    ids = [it.id for it in p.items]
    always = np.broadcast_to(np.True_, (n,))  # read-only, no memory: items that always apply
    fen: dict[str, Arr] = {it.id: out_fen[:, q] for q, it in enumerate(p.items)}
    app: dict[str, Arr] = {
        it.id: always if c is None else out_app[:, c] for it, c in zip(p.items, p.app_cols, strict=True)
    }
    sums = {name: out_sum[g + 1] for g, name in enumerate(p.sum_names)}
    # the policy's subtotals come in the rows after the named sums (same pass as the items)
    subs = {sid: out_sum[1 + len(p.sum_names) + q] for q, sid in enumerate(p.subtotals)}
    labels = {it.id: it.label for it in p.items}
    return BulkResult(
        option,
        table.codes,
        ids,
        labels,
        fen,
        app,
        sums=sums,
        total_fen=out_sum[0],
        subtotals=subs,
        subtotal_labels=dict(p.subtotal_labels),
    )


def try_evaluate(
    checked: Checked,
    table: HouseholdTable,
    option: str,
    as_of: date | None = None,
    group: GroupFacts | None = None,
    parallel: bool = True,
    auto: bool = False,
    sums: Mapping[str, Sequence[str]] | None = None,
) -> tuple[BulkResult | None, str]:
    """Evaluate with a kernel when possible: ``(result, "kernel")`` or ``(None, reason)``.

    With ``auto`` a request never waits for a compilation: a kernel neither loaded nor in the
    disk cache is compiled by another process (for tables of at least
    :data:`AUTO_MIN_HOUSEHOLDS` households) and this call returns ``None`` so that the numpy
    evaluator answers. ``sums``: named groups of item ids summed in the same pass (see
    :func:`prepare`).
    """
    if not enabled():
        return None, "disabled"
    if table.n == 0:
        return None, "empty table"
    p = prepare(checked, table, option, as_of, group, sums)
    if isinstance(p, str):
        return None, p
    if auto:
        key, spec, sh = _signature(p, parallel)
        if _loaded(key, spec, sh) is None:
            if table.n >= AUTO_MIN_HOUSEHOLDS:
                compile_in_background(p, table.n, parallel)
                return None, "kernel compiling in another process"
            return None, "small table, kernel not compiled"
    res = run(p, table, option, parallel)
    if res is None:
        return None, "lookup failed in kernel"
    return res, "kernel"


def set_threads(k: int | None) -> None:
    """At most ``k`` threads per kernel call (``None``: every core numba sees); each call still
    uses fewer when the table is small or other work keeps cores busy (:mod:`.threads`)."""
    global _MAX_THREADS
    _MAX_THREADS = None if k is None else max(1, k)
