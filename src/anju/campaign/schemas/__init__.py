"""Pydantic shapes of the campaign API, one part per concern (keep to your part); import the
package, not the parts: ``from anju.campaign import schemas as s``.

- ``teams``: teams and 包户到人 assignments;
- ``visits``: 走访;
- ``households``: the household campaign tab (stages, summary, plans, steps) and alerts;
- ``progress``: progress, records, rankings, forecast;
- ``battle_map``: the battle map (战果图);
- ``big_screen``: the big screen (作战大屏).

Each part also names its fields in Chinese for validation messages (``PARAM_LABELS``).
"""

from anju.campaign.schemas.battle_map import *  # noqa: F403
from anju.campaign.schemas.big_screen import *  # noqa: F403
from anju.campaign.schemas.households import *  # noqa: F403
from anju.campaign.schemas.progress import *  # noqa: F403
from anju.campaign.schemas.teams import *  # noqa: F403
from anju.campaign.schemas.visits import *  # noqa: F403
