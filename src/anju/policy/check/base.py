"""The checker's state and how it reports problems (the base of the checker's parts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from anju.policy.check.types import Ty, _Abort
from anju.policy.errors import Problem
from anju.policy.expr import Call, Compare, Name, Node
from anju.policy.model import Formula, Policy, Subtotal


class _CheckerBase:
    """The checker's state and its problems; the parts below add the checks by concern."""

    def __init__(self, policy: Policy) -> None:
        self.p = policy
        self.problems: list[Problem] = []
        self.param_scale: dict[str, int] = {}
        self.tier_scale: dict[str, int] = {}
        self.derived_ty: dict[str, Ty] = {}
        self.derived_state: dict[str, str] = {}
        self.derived_deps: dict[str, set[str]] = {}
        self.items = {it.id: it for it in policy.items}
        self.deps: set[str] = set()  # items referenced by the formula being checked
        self.formula: Formula | None = None
        self.names: dict[str, str] = {}
        self.extra_names: dict[str, Ty] = {}  # names a section adds for its own formulas (entitlement)
        self.subtotals: dict[str, Subtotal] = {s.id: s for s in policy.subtotals}
        self.subtotal_leaves: dict[str, tuple[str, ...]] = {}
        self.subtotal_order: list[str] = []

    # -- problems

    def err(self, node: Node | None, code: str, zh: str, en: str) -> None:
        assert self.formula is not None
        loc = self.formula.location(node.start if node is not None else 0)
        self.problems.append(Problem(code, zh, en, loc))

    def fail(self, node: Node, code: str, zh: str, en: str) -> Ty:
        self.err(node, code, zh, en)
        raise _Abort

    if TYPE_CHECKING:
        # Implemented by the other parts of the class (see the final class's bases).

        def check_formula(self, f: Formula | None, element: str | None) -> Ty | None: ...

        def expr(self, n: Node, el: str | None) -> Ty: ...

        def num(self, n: Node, el: str | None, what: str) -> Ty: ...

        def boolean(self, n: Node, el: str | None) -> None: ...

        def join(self, n: Node, tys: list[Ty]) -> Ty: ...

        def name(self, n: Name, el: str | None) -> Ty: ...

        def derived_type(self, n: Node, name: str) -> Ty: ...

        def call(self, n: Call, el: str | None) -> Ty: ...

        def _option_labels(self, n: Compare) -> None: ...
