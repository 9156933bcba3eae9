"""Use cases of the campaign (攻坚指挥), one part per concern; import the package, not the parts:
``from anju.campaign import service as campaign_service``.

- ``teams``: nested teams, members and 包户到人 assignments (bulk, from xlsx, with history);
- ``visits``: 走访 logged (idempotently) and listed;
- ``households``: the campaign tab's stages: transitions and timeline (and who may do what on the tab);
- ``tab``: the campaign tab as the page reads it (timeline, attitude, difficulty, plan, steps);
- ``plans``: editing the tab: difficulty, escalation, 一户一策 plans and their steps;
- ``worklist``: 我的包户, the households a user works on (the team's start page);
- ``alerts``: what a team must act on today;
- ``progress``: rates per project, block, team and day for any date, records, reverse schedule,
  rankings, concern statistics; ``progress_facts``: the household facts they are counted from
  (arrays, cached per data version); ``progress_bigscreen``: the big screen's numbers;
- ``forecast``: when each block and the project reach 100% signing, with a band;
- ``batch``: many visits or stage moves at once (a backfilled history, an import), checked and
  audited as one at a time, written together.

Services never commit; every legally relevant write is audited in the same transaction and
queues a change event (``anju.db.events``) that live pages receive after the commit.
"""

from anju.campaign.service.alerts import *  # noqa: F403
from anju.campaign.service.batch import *  # noqa: F403
from anju.campaign.service.battle_map import *  # noqa: F403
from anju.campaign.service.forecast import *  # noqa: F403
from anju.campaign.service.households import *  # noqa: F403
from anju.campaign.service.plans import *  # noqa: F403
from anju.campaign.service.progress import *  # noqa: F403
from anju.campaign.service.progress_bigscreen import *  # noqa: F403
from anju.campaign.service.progress_facts import *  # noqa: F403
from anju.campaign.service.tab import *  # noqa: F403
from anju.campaign.service.teams import *  # noqa: F403
from anju.campaign.service.visits import *  # noqa: F403
from anju.campaign.service.worklist import *  # noqa: F403
