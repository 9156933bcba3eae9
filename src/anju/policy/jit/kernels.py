"""Fused kernels part: validation of the generated source, compilation (cached per source, in the
background for large tables), output buffers and the run; :func:`try_evaluate` is the entry point."""

from __future__ import annotations

import ast
import importlib
import os
import re
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from anju.policy.check import Checked
from anju.policy.errors import EvaluationError
from anju.policy.facts import GroupFacts
from anju.policy.jit.builder import Builder
from anju.policy.jit.helpers import (
    _HELPERS,
    _MINMAX,
    AUTO_MIN_HOUSEHOLDS,
    I64,
    Overflow,
    Unsupported,
    enabled,
    numba,
)
from anju.policy.model import Item
from anju.policy.table import (
    Arr,
    BulkResult,
    HouseholdTable,
)

__all__ = [
    "COMPILE_DELAY",
    "OutputPool",
    "Prepared",
    "compile_in_background",
    "compile_kernel",
    "compile_seconds",
    "is_compiled",
    "prepare",
    "run",
    "set_threads",
    "try_evaluate",
    "validate",
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


_LLVM_TUNED = False


def _tune_llvm() -> None:
    """Keep LLVM from turning the kernels' branch-free selections back into branches.

    x86's cmov converter rewrites a select on a loop-carried chain (our per-household sums) into
    a branch, and CodeGenPrepare turns a select of a loaded value into a branch; on random
    household data both mispredict (measured: ~30% slower; bench/RESULTS.md, "Policy engine"). The options are process-wide LLVM
    settings; they are only set on x86-64 with an LLVM version they are known to exist in
    (an unknown option would make LLVM abort).
    """
    global _LLVM_TUNED
    if _LLVM_TUNED:
        return
    _LLVM_TUNED = True
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


_KERNELS: dict[tuple[str, bool], Any] = {}
_COMPILE_LOCK = threading.RLock()
# Kernel calls are serialised: numba's workqueue threading layer (used when OpenMP/TBB are
# missing) must not be entered from two threads at once. Each call is short.
_RUN_LOCK = threading.Lock()
_BACKGROUND: set[tuple[str, bool]] = set()
#: JIT compile time per kernel (seconds), measured on its first compilation.
compile_seconds: dict[tuple[str, bool], float] = {}


def _dispatcher(source: str, names: set[str], parallel: bool) -> Any:
    key = (source, parallel)
    with _COMPILE_LOCK:
        hit = _KERNELS.get(key)
        if hit is not None:
            return hit
        assert numba is not None
        validate(source, names)
        _tune_llvm()
        helpers = {
            name: numba.njit(inline="always", cache=False, error_model="numpy")(fn)
            for name, fn in [*_HELPERS.values(), *_MINMAX.items()]
        }
        namespace: dict[str, Any] = {"prange": numba.prange if parallel else range, **helpers}
        # The source was generated by Builder and checked by validate(): no user text in it.
        exec(compile(source, "<anju-policy-kernel>", "exec"), namespace)
        fn = numba.njit(parallel=parallel, cache=False, nogil=True, error_model="numpy", boundscheck=False)(
            namespace["kernel"]
        )
        _KERNELS[key] = fn
        return fn


def compile_kernel(p: Prepared, n: int, parallel: bool = True) -> Any:
    """The compiled kernel of ``p`` (compiled now if needed; cached in-process by its source)."""
    fn = _dispatcher(p.source, p.names, parallel)
    if fn.signatures:
        return fn
    with _COMPILE_LOCK:
        if not fn.signatures:
            assert numba is not None
            k = len(p.items) + len(p.subtotals)
            sig = tuple(
                numba.typeof(x)
                for x in (
                    n,
                    *p.args,
                    np.empty((1, k), dtype=I64),
                    np.empty((1, 1), dtype=bool),
                    np.empty(1, dtype=np.uint8),
                )
            )
            t0 = time.perf_counter()
            fn.compile(sig)
            compile_seconds[(p.source, parallel)] = time.perf_counter() - t0
    return fn


#: Seconds a background compilation waits before it starts. Compiling holds the GIL for seconds:
#: started at once, it slowed the very request that asked for it (the numpy answer of a first
#: what-if on the 2,300-household demo took 5.2 s instead of 1.5 s).
COMPILE_DELAY = 1.5


def compile_in_background(p: Prepared, n: int, parallel: bool = True, delay: float = COMPILE_DELAY) -> None:
    """Compile the kernel of ``p`` in a daemon thread (once), starting after ``delay`` seconds so
    that the request that asked for it is answered (by numpy) first."""
    key = (p.source, parallel)
    with _COMPILE_LOCK:
        if key in _BACKGROUND:
            return
        _BACKGROUND.add(key)

    def work() -> None:
        try:
            compile_kernel(p, n, parallel)
        except Exception:  # pragma: no cover - the numpy evaluator keeps serving
            _BACKGROUND.discard(key)

    timer = threading.Timer(delay, work)
    timer.name = "anju-policy-jit"
    timer.daemon = True
    timer.start()


@dataclass(slots=True)
class Prepared:
    """A kernel ready to run on one table: the source, its arguments and the item ids."""

    source: str
    names: set[str]
    args: list[Any]
    items: list[Item]
    app_cols: list[int | None]  # per item: column of ``out_app``, None when it always applies
    n_app: int
    subtotals: list[str] = field(default_factory=list)  # columns of ``out_fen`` after the items'
    subtotal_labels: dict[str, str] = field(default_factory=dict)


def prepare(
    checked: Checked,
    table: HouseholdTable,
    option: str,
    as_of: date | None = None,
    group: GroupFacts | None = None,
) -> Prepared | str:
    """Generate the kernel for ``option``; returns the reason as text when it cannot be used."""
    try:
        b = Builder(checked, table, option, as_of, group)
        source = b.build()
    except Unsupported as exc:
        return f"unsupported: {exc}"
    except Overflow as exc:
        return f"int64 overflow risk: {exc}"
    except EvaluationError as exc:  # the numpy evaluator raises it again with its context
        return f"evaluation error: {exc}"
    labels = {st.id: st.label for st in checked.subtotals_for(option)}
    return Prepared(
        source, b.names, b.args, checked.items_for(option), b.app_cols, b.n_app, list(b.subtotal_ids), labels
    )


def is_compiled(p: Prepared, parallel: bool = True) -> bool:
    """Whether the kernel of ``p`` has already been compiled in this process."""
    k = _KERNELS.get((p.source, parallel))
    return k is not None and bool(k.signatures)


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
    """Run a prepared kernel (compiling it first if needed).

    Returns ``None`` when a table lookup failed in some household: the numpy evaluator then
    raises the error with its message."""
    n = table.n
    k = len(p.items) + len(p.subtotals)
    fn = compile_kernel(p, n, parallel)
    out_fen = _OUTPUTS.take((n, k), I64)
    out_app = _OUTPUTS.take((n, max(1, p.n_app)), np.dtype(bool))
    err = np.zeros(n, dtype=np.uint8)
    with _RUN_LOCK:
        fn(n, *p.args, out_fen, out_app, err)
    if n and err.any():
        return None
    ids = [it.id for it in p.items]
    always = np.broadcast_to(np.True_, (n,))  # read-only, no memory: items that always apply
    fen: dict[str, Arr] = {it.id: out_fen[:, q] for q, it in enumerate(p.items)}
    app: dict[str, Arr] = {
        it.id: always if c is None else out_app[:, c] for it, c in zip(p.items, p.app_cols, strict=True)
    }
    subs = {sid: out_fen[:, len(p.items) + q] for q, sid in enumerate(p.subtotals)}
    labels = {sid: p.subtotal_labels.get(sid, sid) for sid in p.subtotals}
    return BulkResult(option, table.codes, ids, {it.id: it.label for it in p.items}, fen, app, subs, labels)


def try_evaluate(
    checked: Checked,
    table: HouseholdTable,
    option: str,
    as_of: date | None = None,
    group: GroupFacts | None = None,
    parallel: bool = True,
    auto: bool = False,
) -> tuple[BulkResult | None, str]:
    """Evaluate with a kernel when possible: ``(result, "kernel")`` or ``(None, reason)``.

    With ``auto`` a request never waits for a compilation: a kernel not compiled yet is compiled
    in a background thread (for tables of at least :data:`AUTO_MIN_HOUSEHOLDS` households) and
    this call returns ``None`` so that the numpy evaluator answers.
    """
    if not enabled():
        return None, "disabled"
    if table.n == 0:
        return None, "empty table"
    p = prepare(checked, table, option, as_of, group)
    if isinstance(p, str):
        return None, p
    if auto and not is_compiled(p, parallel):
        if table.n >= AUTO_MIN_HOUSEHOLDS:
            compile_in_background(p, table.n, parallel)
            return None, "kernel compiling in the background"
        return None, "small table, kernel not compiled"
    res = run(p, table, option, parallel)
    if res is None:
        return None, "lookup failed in kernel"
    return res, "kernel"


def set_threads(k: int) -> None:
    """Number of threads kernels use (at most the number of cores numba sees)."""
    if numba is not None:
        numba.set_num_threads(max(1, min(k, numba.config.NUMBA_NUM_THREADS)))
