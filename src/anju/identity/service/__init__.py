"""Identity use cases, one part per concern; import the package, not the parts:
``from anju.identity import service as identity_service``.

- ``accounts``: users, password login with throttling, sessions, CSRF, data scopes
  (:class:`DataScope`, :class:`CurrentUser`);
- ``teams``: teams (专班, 大组 → 小组): create, change, members, the tree, look-ups;
- ``user_admin``: password reset and change, role and team changes, the last-administrator guard;
- ``assignments``: 包户到人 (households assigned to a team and a person, with history) and the
  assignment filter that narrows a data scope.

Services never commit; every write is audited in the same transaction.
"""

from anju.identity.service.accounts import *  # noqa: F403
from anju.identity.service.assignments import *  # noqa: F403
from anju.identity.service.teams import *  # noqa: F403
from anju.identity.service.user_admin import *  # noqa: F403
