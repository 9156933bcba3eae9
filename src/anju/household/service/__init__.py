"""Household file (一户一档) use cases, one part per concern; import the package, not the parts:
``from anju.household import service as household_service``.

- ``files``: browse and search the list, read one household's whole file, its history, counts;
- ``records``: register, change and void a household and its members (identity numbers
  encrypted, revealed with audit);
- ``buildings``: buildings, valuations, tenants and the homestead of a household;
- ``stages``: the status, which is the campaign stage, its dates and the day paid in full;
- ``attachments``: photos, scans and documents, content-addressed with their checksum;
- ``project_files``: a whole project's households at once, for other domains (policy budgets,
  maps, campaign progress); ``columns``: the same as numpy arrays, for whole-project aggregation;
- ``parcels``: households linked to parcels (宗地);
- ``policy_facts``: the facts the project's policy declares (air conditioners, reward area ...),
  validated by the declarations the caller hands over;
- ``base``: loading, locking, versions and auditing, shared by the parts.

Every read takes the caller's :class:`~anju.identity.service.DataScope`; a household outside the
scope is reported as not found, so its existence is not revealed. Services never commit; every
write is audited in the same transaction.
"""

from anju.household.service.attachments import *  # noqa: F403
from anju.household.service.base import *  # noqa: F403
from anju.household.service.base import _bump  # noqa: F401  (tests race two writers through it)
from anju.household.service.buildings import *  # noqa: F403
from anju.household.service.columns import *  # noqa: F403
from anju.household.service.files import *  # noqa: F403
from anju.household.service.parcels import *  # noqa: F403
from anju.household.service.policy_facts import *  # noqa: F403
from anju.household.service.project_files import *  # noqa: F403
from anju.household.service.records import *  # noqa: F403
from anju.household.service.stages import *  # noqa: F403
