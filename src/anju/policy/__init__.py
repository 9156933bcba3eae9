"""The compensation policy engine: pure, exact, explainable and fast. No database, no web.

Public API (what the web and the other domains call):

* :func:`load_policy` / :func:`load_policy_file` -> :class:`Checked` (raises :class:`PolicyError`)
* :func:`evaluate` (one household, one option, with trace) -> :class:`Result`
* :func:`compare_options` / :func:`settle_swap` (cash vs swap, swap settlement against flats)
* :func:`entitlement` / :func:`check_selection` (what a swap household may select; broken rules)
* :class:`HouseholdTable` + :func:`evaluate_bulk` (a whole project) -> :class:`BulkResult`
* :func:`transition_fees` (monthly transition fees until delivery, late multiplier)
* :func:`whatif` (changed parameters -> budget by item and block, deltas, distribution)
* :func:`content_hash`, :func:`diff`, :class:`PolicyStore` (versions)
"""

from anju.policy.bulk import BulkResult, HouseholdTable, evaluate_bulk
from anju.policy.check import Checked, load_policy, load_policy_file
from anju.policy.errors import EvaluationError, Location, PolicyError, Problem
from anju.policy.facts import (
    BlockGroup,
    Building,
    Determination,
    GroupFacts,
    Homestead,
    Household,
    Member,
    ProjectKind,
    Structure,
    Tenant,
    TenantKind,
    Use,
)
from anju.policy.scalar import ItemResult, Result, evaluate
from anju.policy.swap import (
    Entitlement,
    Flat,
    OptionComparison,
    SwapSettlement,
    Violation,
    check_selection,
    compare_options,
    entitlement,
    settle_swap,
)
from anju.policy.transition import TransitionFees, TransitionMonth, transition_fees
from anju.policy.versioning import Change, PolicyStore, content_hash, diff
from anju.policy.whatif import Distribution, WhatIf, whatif

__all__ = [
    "BlockGroup",
    "Building",
    "BulkResult",
    "Change",
    "Checked",
    "Determination",
    "Distribution",
    "Entitlement",
    "EvaluationError",
    "Flat",
    "GroupFacts",
    "Homestead",
    "Household",
    "HouseholdTable",
    "ItemResult",
    "Location",
    "Member",
    "OptionComparison",
    "PolicyError",
    "PolicyStore",
    "Problem",
    "ProjectKind",
    "Result",
    "Structure",
    "SwapSettlement",
    "Tenant",
    "TenantKind",
    "TransitionFees",
    "TransitionMonth",
    "Use",
    "Violation",
    "WhatIf",
    "check_selection",
    "compare_options",
    "content_hash",
    "diff",
    "entitlement",
    "evaluate",
    "evaluate_bulk",
    "load_policy",
    "load_policy_file",
    "settle_swap",
    "transition_fees",
    "whatif",
]
