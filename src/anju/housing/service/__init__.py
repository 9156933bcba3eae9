"""Use cases of resettlement flats (安置房), one part per concern; import the package, not the parts:
``from anju.housing import service as housing_service``.

- ``stock``: estates and the flat stock: create, import the developer's list (all or nothing),
  export, list, grids per building, change a flat's status by hand;
- ``order``: selection events, the lottery commitment, fixing the order (sign order or lottery)
  and recomputing it to check it;
- ``calculator``: one household's cash and swap totals, entitlement and what each available
  flat would cost or refund (read only);
- ``selection``: running the event: open it, select flats (checked against the entitlement),
  finish or skip (过号) a household, undo a selection (the household is called again), close the
  event, the operator console;
- ``confirmation``: the selection confirmation (选房确认单) of a finished household, as PDF;
- ``screen``: the selection big screen's snapshot (选房大屏);
- ``settlement``: settling a household's chosen flats (多退少补) into its agreement's money;
- ``flat_types``: a flat type's name and plan image (户型图);
- ``buildings``: a building's 楼型 (多层/高层; by default from its floors count);
- ``delivery``: estates' delivery dates and the monthly transition fees fed into the schedule;
- ``flat_facts``: the flats households have chosen, as the policy engine's facts;
- ``handover``: the key handover of each chosen flat as shown, and a household's key dates.

Services never commit; every write is audited in the same transaction.
"""

from anju.housing.service.buildings import *  # noqa: F403
from anju.housing.service.calculator import *  # noqa: F403
from anju.housing.service.confirmation import *  # noqa: F403
from anju.housing.service.delivery import *  # noqa: F403
from anju.housing.service.flat_facts import *  # noqa: F403
from anju.housing.service.flat_types import *  # noqa: F403
from anju.housing.service.handover import *  # noqa: F403
from anju.housing.service.order import *  # noqa: F403
from anju.housing.service.screen import *  # noqa: F403
from anju.housing.service.selection import *  # noqa: F403
from anju.housing.service.settlement import *  # noqa: F403
from anju.housing.service.stock import *  # noqa: F403
