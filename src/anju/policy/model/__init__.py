"""The policy document: its YAML (read by :mod:`anju.policy.yaml_source`, numbers as exact
``Decimal``) into typed definitions.

Every value keeps the place it was written (file, line, column) so that later checks can
report problems precisely.

Parts (import the package: ``from anju.policy.model import Policy, read_policy``):

- ``definitions``: the typed definitions (:class:`Policy`, :class:`Param`, :class:`Clock`,
  :class:`Tier`, :class:`Item`, :class:`Formula` ...);
- ``base``: the reader's state, problems and plain values (numbers, dates, units, formulas);
- ``params``: parameters, their dated values, tables and bands;
- ``clocks``: clocks and tiers;
- ``items``: items and subtotals;
- ``policy``: the whole document, its ``policy`` header and swap settlement, the assembled reader and
  :func:`read_policy`, :func:`read_policy_file`.
"""

from __future__ import annotations

from anju.policy.model.definitions import (
    MAX_NUMBER,
    MAX_PLACES,
    Clock,
    Dated,
    Derived,
    Formula,
    Item,
    Meta,
    Param,
    Policy,
    Subtotal,
    SwapRules,
    Tier,
    TierWindow,
)
from anju.policy.model.policy import _Reader as _Reader
from anju.policy.model.policy import read_policy, read_policy_file
from anju.policy.yaml_source import Src as Src
from anju.policy.yaml_source import _Loader as _Loader
from anju.policy.yaml_source import load_yaml as load_yaml

__all__ = [
    "MAX_NUMBER",
    "MAX_PLACES",
    "Clock",
    "Dated",
    "Derived",
    "Formula",
    "Item",
    "Meta",
    "Param",
    "Policy",
    "Subtotal",
    "SwapRules",
    "Tier",
    "TierWindow",
    "read_policy",
    "read_policy_file",
]
