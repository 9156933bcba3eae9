"""YAML test cases for a policy, written so a case officer can read them.

A cases file looks like::

    policy: state_land.yaml        # relative to the cases file
    as_of: 2025-03-01              # optional; default: the policy's effective date
    group: {blocks: ..., parents: ...}   # optional block facts for sign rates
    measures: {整片腾空率: {东片区: [{effective_on: 2025-05-01, value: 92.5}]}}   # office-set measures
    cases:
      - name: 张某户，砖混住宅 100㎡，第10日签约
        option: cash
        household: {code: H001, block_code: 一组, block_chain: [东片区], sign_on: 2025-03-10,
                    members: [...], buildings: [...], facts: {ac_units: 3}}
        flats:                      # optional (swap): the flats the household selected; formulas see
          - {code: 3-1-502, area: "89.50", building: 3幢, floor: 5, type: A, price: 6500}
        expect:                     # yuan; only the items (and subtotals) listed are compared
          house_value: 1200000.00
          house_subtotal: 1300000.00
          total: 1350000.00
        missing: [ac_units]         # optional: the required facts the household lacks (not computed)
        settlement:                 # optional (swap with flats): the swap settlement, yuan
          credit: 1350000.00
          flats_cost: 581750.00
          balance: -768250.00       # > 0 the household pays, < 0 it is refunded
        entitlement:                # optional (swap): only the keys listed are compared
          entitled_area: "170.00"
          max_area: "200.00"
          max_flats: 3              # null: no limit
          applies: [big_flat]       # ids of the selection rules that apply
        selections:                 # optional: trial selections and the rules they break
          - flats: [{code: 1-101, area: "45.00", type: A}]
            refused: [big_flat]     # [] = allowed
            complete: true          # false: a selection still in progress
        transition:                 # optional: monthly transition fees (the policy's transition block)
          planned_delivery: 2027-09-01
          actual_delivery: 2028-01-20   # optional: not delivered yet without it
          as_of: 2028-06-01
          expect: {normal_months: 26, late_months: 6, monthly: "333.30", total: "12665.40", final: true}

The file is read strictly (:func:`read_cases_file`): an unknown key anywhere, a value of the wrong
type, a bad date, a negative area, an expected item, fact, option, rule or measure the policy does
not have are problems with file, line and column, all reported together before any case runs.
Every case is evaluated by the scalar evaluator and, as a cross-check, by the bulk evaluator.

Parts (import the package: ``from anju.policy.cases import run_cases, read_cases_file``):

- ``values``: the reader of plain values (text, areas, money, whole numbers, dates, yes/no, categories);
- ``shape``: the keys of every part of a file and the typed cases (:class:`Case`, :class:`CasesFile`);
- ``against``: the names only the policy can tell right or wrong;
- ``run``: running the cases and comparing what they expect.
"""

from __future__ import annotations

from anju.policy.cases.against import check_against_policy
from anju.policy.cases.run import (
    CaseOutcome,
    CasesReport,
    NoCasesError,
    case_household,
    case_transition_fees,
    cases_file_for,
    read_cases_file,
    run_cases,
)
from anju.policy.cases.shape import Case, CasesFile, TransitionCase, TrialSelection

__all__ = [
    "Case",
    "CaseOutcome",
    "CasesFile",
    "CasesReport",
    "NoCasesError",
    "TransitionCase",
    "TrialSelection",
    "case_household",
    "case_transition_fees",
    "cases_file_for",
    "check_against_policy",
    "read_cases_file",
    "run_cases",
]
