"""Scalar evaluator part: trace notes (what the sheet in words is built from), the assembled
:class:`ScalarEvaluator` and :func:`evaluate`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from anju.policy.check import Checked
from anju.policy.expr import Call, Node
from anju.policy.facts import GroupFacts, Household
from anju.policy.scalar.calls import ScalarEvaluatorCalls
from anju.policy.scalar.names import ScalarEvaluatorNames
from anju.policy.scalar.results import Result, Step, fmt
from anju.policy.wording import is_rate, percent


class ScalarEvaluator(ScalarEvaluatorNames, ScalarEvaluatorCalls):
    """Evaluates one household. Create one per (checked policy, household, as_of, group facts)."""

    def note(self, n: Node, value: Any, note: str = "") -> None:
        if self.steps is not None and self.formula is not None:
            self.steps.append(
                Step(self.prefix + self.formula.text[n.start : n.end], self.shown(n, value), note)
            )

    def shown(self, n: Node, value: Any) -> str:
        """A node's value for the trace: a rate as a percentage (``0.085`` -> ``8.5%``), else with its unit."""
        if isinstance(value, Decimal) and self.formula is not None and is_rate(self.c, n, self.formula.text):
            return percent(value)
        return fmt(value, n.ty)

    def call_note(self, n: Call, args: list[Any], out: Any, note: str = "") -> None:
        """The value of a function call with the values of its arguments: ``points_above(90%, 85%) = 5``."""
        if self.steps is None or self.formula is None:
            return
        shown = ", ".join(self.shown(a, v) for a, v in zip(n.args, args, strict=False))
        self.note(n, out, f"{n.func}({shown}) = {self.shown(n, out)}{note}")

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)


def evaluate(
    checked: Checked,
    household: Household,
    option: str,
    as_of: date | None = None,
    group: GroupFacts | None = None,
    trace: bool = True,
) -> Result:
    """Evaluate one household under one option: items, total and trace.

    ``as_of`` picks the dated parameter values in force (default: the policy's effective date).
    ``group`` gives the block facts needed by sign/vacate rates.
    """
    when = as_of or checked.policy.meta.effective_on
    return ScalarEvaluator(checked, household, when, group, trace=trace).evaluate(option)
