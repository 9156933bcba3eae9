"""Project use cases, one part per concern; import the package, not the parts:
``from anju.project import service as project_service``.

- ``projects``: projects, their headers and the household-data version caches key on;
- ``blocks``: the block tree, its edits and its cached reads (paths, descendants);
- ``parcels``: parcels (宗地), the GeoJSON import and the shapes maps draw.

Services never commit; every write is audited in the same transaction.
"""

from anju.project.service.blocks import *  # noqa: F403
from anju.project.service.parcels import *  # noqa: F403
from anju.project.service.projects import *  # noqa: F403
