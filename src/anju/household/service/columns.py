"""Household service part: a project's live households as numpy columns, for domains that aggregate
a whole project in memory (campaign progress and forecast; see the package docstring).

The same facts as :func:`~anju.household.service.project_files.campaign_facts`, read as integers
computed by the database (:mod:`anju.db.columns`): at 100,000 households the rows of dates and
datetimes as Python objects cost seconds, these arrays tens of milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from anju.db.columns import day_number, equals_most, fetch_int_columns, office_day_number
from anju.household.models import Household
from anju.household.rules import STATUSES
from anju.identity.service import DataScope

__all__ = ["HouseholdColumns", "household_columns"]

STATUS_CODES = tuple(STATUSES)  # the stage order of the campaign


@dataclass(frozen=True, slots=True, eq=False)
class HouseholdColumns:
    """One entry per live household, by ascending id. Dates are ``date.toordinal()`` values, 0 when not
    set; ``status`` indexes :data:`STATUS_CODES` (-1: a status not in the list)."""

    ids: np.ndarray  # int64
    block_ids: np.ndarray  # int64, 0 without a block
    status: np.ndarray  # int64
    sign_on: np.ndarray
    vacate_on: np.ndarray
    demolish_on: np.ndarray
    paid_on: np.ndarray
    created_on: np.ndarray  # the office date (Asia/Shanghai) the file was created
    statuses: tuple[str, ...] = STATUS_CODES

    def __len__(self) -> int:
        return len(self.ids)


def household_columns(
    session: Session, *, project_id: int, scope: DataScope | None = None
) -> HouseholdColumns:
    """The project's live households (within ``scope`` when given) as :class:`HouseholdColumns`: one
    query, values computed by the database, no Python object per value."""
    cond = [equals_most(session, Household.project_id, project_id), Household.voided_at.is_(None)]
    if scope is not None and not scope.whole:
        cond.append(scope.household_clause(Household.id))
    code = case({s: i for i, s in enumerate(STATUS_CODES)}, value=Household.status, else_=-1)
    cols = fetch_int_columns(
        session,
        select(
            Household.id,
            func.coalesce(Household.block_id, 0),
            code,
            func.coalesce(day_number(Household.sign_on), 0),
            func.coalesce(day_number(Household.vacate_on), 0),
            func.coalesce(day_number(Household.demolish_on), 0),
            func.coalesce(day_number(Household.paid_on), 0),
            office_day_number(Household.created_at),
        ).where(*cond),
        8,
    )
    if np.any(cols[0][1:] < cols[0][:-1]):  # no ORDER BY: a scan gives id order, an index may not
        order = np.argsort(cols[0], kind="stable")
        cols = [c[order] for c in cols]
    ids, block_ids, status, sign_on, vacate_on, demolish_on, paid_on, created_on = cols
    return HouseholdColumns(ids, block_ids, status, sign_on, vacate_on, demolish_on, paid_on, created_on)
