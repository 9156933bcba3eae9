"""Parameter resolution: the value of every parameter and clock in force on a date, for a
household's chain of blocks (base value, then overrides from the outermost block inwards)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from anju.policy.errors import EvaluationError
from anju.policy.model import Dated, Param, Policy


def value_at(entries: list[Dated], as_of: date) -> tuple[bool, Any]:
    """The entry in force on ``as_of`` (latest ``since`` not after it); ``(False, None)`` if none."""
    best: Dated | None = None
    for e in entries:
        in_force = e.since is None or e.since <= as_of
        if in_force and (best is None or (best.since or date.min) <= (e.since or date.min)):
            best = e
    return (best is not None, best.value if best is not None else None)


class Resolved:
    """Parameter and clock values of one policy as of one date, per block path (cached)."""

    def __init__(self, policy: Policy, as_of: date, names: Iterable[str] | None = None) -> None:
        """``names``: resolve only these parameters (default: every one)."""
        self.policy = policy
        self.as_of = as_of
        self.base: dict[str, Any] = {}
        self.overrides: dict[str, dict[str, Any]] = {}
        self._cache: dict[tuple[str, tuple[str, ...]], Any] = {}
        params = (
            policy.params if names is None else {k: policy.params[k] for k in names if k in policy.params}
        )
        for name, p in params.items():
            ok, v = value_at(p.values, as_of)
            if not ok:
                raise EvaluationError(
                    "param-not-in-force",
                    f"参数“{name}”在 {as_of} 没有生效的取值",
                    f"parameter '{name}' has no value in force on {as_of}",
                )
            self.base[name] = v
            ovs: dict[str, Any] = {}
            for block, entries in p.overrides.items():
                ok, ov = value_at(entries, as_of)
                if ok:
                    ovs[block] = ov
            self.overrides[name] = ovs

    def override_key(self, name: str, path: tuple[str, ...]) -> tuple[str, ...]:
        """The blocks of ``path`` that override parameter/clock ``name`` (outermost first)."""
        if name in self.policy.clocks:
            ov: Any = self.policy.clocks[name].overrides
        else:
            ov = self.overrides[name]
        return tuple(b for b in path if b in ov)

    def param(self, name: str, path: tuple[str, ...]) -> Any:
        """Value of parameter ``name`` for a household in block ``path``."""
        key = (name, self.override_key(name, path))
        if key in self._cache:
            return self._cache[key]
        p: Param = self.policy.params[name]
        value = self.base[name]
        for block in key[1]:
            ov = self.overrides[name][block]
            if p.kind == "table":
                merged: dict[tuple[str, ...], Decimal] = dict(value)
                merged.update(ov)
                value = merged
            else:
                value = ov
        self._cache[key] = value
        return value

    def clock(self, name: str, path: tuple[str, ...]) -> date:
        """Date of clock ``name`` for a household in block ``path`` (innermost override wins)."""
        c = self.policy.clocks[name]
        on = c.on
        for b in path:
            if b in c.overrides:
                on = c.overrides[b]
        return on
