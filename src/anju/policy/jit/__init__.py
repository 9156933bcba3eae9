"""Fused bulk kernels: a checked policy compiled, per option, into one numba loop over households.

The numpy evaluator (:mod:`anju.policy.bulk`) makes about a hundred whole-array passes over a
project. This module instead writes the Python source of ONE function per (policy structure,
option) -- households in a ``prange`` loop, certificates / members / tenants walked through the
table's start/count offsets, every item computed in scaled int64 with the same scales, the same
bounds and the same rounding as the numpy evaluator -- and compiles it with numba.

Safety of the generated code: it is built only from names this module creates (``a3``, ``t17``,
...) and integer literals taken from the checked syntax trees; user text (parameter names,
categories, flags, block codes) never reaches the source. Every generated module is parsed again
and checked against a short allow-list of node types, names and constants before it is compiled.

What does not change the source: parameter values, table entries, tier and band values, clock
dates, group rates and category codes are passed as runtime arrays. A what-if that changes values
therefore reuses the compiled kernel; the kernel cache is keyed by the generated source, which is a
function of the formula trees, their scales, the rounding modes and the option only. A what-if draft
that changes values only (anju.policy.whatif) does not even generate the source again: it takes its
policy's prepared kernel and re-makes the arrays of the changed values (``prepared``).

Fallback to the numpy evaluator (``None`` from :func:`try_evaluate`): numba missing or disabled
(``ANJU_POLICY_JIT=0``), a construct the generator does not handle, any intermediate value whose
bound (computed up front exactly like the numpy evaluator's, from data and parameter bounds) could
leave the int64 range, or a lookup the kernel reports as failing (the numpy evaluator then raises
the proper error).

Parts (import the package: ``from anju.policy import jit``):

- ``helpers``: numba (optional), :func:`enabled`, the refusals and the kernels' integer helpers;
- ``builder``: the code generator (:class:`Builder`), a package of parts by construct;
- ``passes``: value numbering, flag pruning and loop fusion of the generated statements;
- ``prepared``: a kernel's source and arguments for one table (:func:`prepare`), kept per data version,
  and a values-only draft's arguments re-made (:func:`anju.policy.jit.prepared.revalue`);
- ``kernels``: validation, compilation, output buffers, :func:`run` and :func:`try_evaluate`;
- ``diskcache``: kernels as module files under ``<data dir>/kernels`` with numba's disk cache, compiled
  by another process (``compiler``: the only place the LLVM options are set), loaded by every worker;
- ``threads``: how many threads a call uses (one for small tables or when the other cores are busy).

Totals and named sums of items (e.g. subtotals) are written by the kernel in the items' pass
(:attr:`anju.policy.table.BulkResult.total`, ``sums``).

The kernels read the household table of :mod:`anju.policy.table`; they do not import the numpy
evaluator (:mod:`anju.policy.bulk`), which calls :func:`try_evaluate` first.
"""

from anju.policy.jit.builder import *  # noqa: F403
from anju.policy.jit.helpers import *  # noqa: F403
from anju.policy.jit.kernels import *  # noqa: F403
from anju.policy.jit.passes import *  # noqa: F403
