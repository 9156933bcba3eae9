"""Household facts: the inputs of the compensation engine.

These are plain frozen dataclasses. Each maps field by field onto a database row of the
household domain, so the foundation can build them without any policy knowledge:

* :class:`Household` <- household row (+ its block chain)
* :class:`Member` <- member rows
* :class:`Building` <- building / certificate rows with their valuation
* :class:`Homestead` <- the homestead row (collective land only)
* :class:`Tenant` <- tenant rows
* :class:`ChosenFlat` <- the resettlement flats the household has selected (housing domain)
* :class:`GroupFacts` <- per-block counts and dates used by group aggregates (sign rate ...)

Areas are ``Decimal`` with at most 2 places, money is integer fen, dates are ``date``.

Parts (import the package: ``from anju.policy.facts import Household, household_from_dict``):

- ``household``: the category enums and their aliases, the household and its members, buildings,
  homestead, tenants and chosen flats;
- ``group``: blocks and :class:`GroupFacts` (counts, weights by basis, event dates, measures, rates);
- ``from_dict``: households and group facts from plain mappings (JSON, CSV rows, YAML cases);
- ``to_dict``: their JSON-able forms, exact (the inverse; agreements freeze facts in this form).
"""

from __future__ import annotations

from anju.policy.facts.from_dict import _area_in as _area_in
from anju.policy.facts.from_dict import _bool as _bool
from anju.policy.facts.from_dict import _date as _date
from anju.policy.facts.from_dict import _fen as _fen
from anju.policy.facts.from_dict import _opt_int as _opt_int
from anju.policy.facts.from_dict import (
    building_from_dict,
    flat_from_dict,
    group_from_dict,
    household_from_dict,
    households_sequence,
    member_from_dict,
    tenant_from_dict,
)
from anju.policy.facts.group import (
    BASES,
    BASIS_ALIASES,
    BASIS_LABELS_ZH,
    BlockGroup,
    GroupFacts,
    MeasureValue,
    build_blocks,
    household_weight,
)
from anju.policy.facts.household import (
    ALIASES,
    FUTURE,
    HIGH_RISE,
    HIGH_RISE_FLOORS,
    LABELS_ZH,
    LOW_RISE,
    READY,
    READY_WORDS,
    RISE_WORDS,
    Building,
    ChosenFlat,
    Determination,
    Homestead,
    Household,
    Member,
    ProjectKind,
    Structure,
    Tenant,
    TenantKind,
    Use,
    canonical,
    default_rise,
    flat_ready,
)
from anju.policy.facts.to_dict import EVENT_DATES, group_to_dict, household_to_dict

__all__ = [
    "ALIASES",
    "BASES",
    "BASIS_ALIASES",
    "BASIS_LABELS_ZH",
    "EVENT_DATES",
    "FUTURE",
    "HIGH_RISE",
    "HIGH_RISE_FLOORS",
    "LABELS_ZH",
    "LOW_RISE",
    "READY",
    "READY_WORDS",
    "RISE_WORDS",
    "BlockGroup",
    "Building",
    "ChosenFlat",
    "Determination",
    "GroupFacts",
    "Homestead",
    "Household",
    "MeasureValue",
    "Member",
    "ProjectKind",
    "Structure",
    "Tenant",
    "TenantKind",
    "Use",
    "build_blocks",
    "building_from_dict",
    "canonical",
    "default_rise",
    "flat_from_dict",
    "flat_ready",
    "group_from_dict",
    "group_to_dict",
    "household_from_dict",
    "household_to_dict",
    "household_weight",
    "households_sequence",
    "member_from_dict",
    "tenant_from_dict",
]
